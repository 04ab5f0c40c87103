"""Test helpers shipped with wattwise: fake and synthetic sensors, sysfs fixture trees,
fake vendor modules, record builders and the shared run-store suite."""
