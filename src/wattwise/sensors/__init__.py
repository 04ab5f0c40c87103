"""Energy sensors: one module per source, all read-only, plus the estimation model."""

from __future__ import annotations

from wattwise.sensors._base import Domain, DomainKind, Reading, Sensor, SensorProbe
from wattwise.sensors._registry import (
    SENSOR_NAMES,
    DetectedSensors,
    detect_sensors,
    fallback_for,
    probe_sensors,
    sensor_class,
)

__all__ = [
    "SENSOR_NAMES",
    "DetectedSensors",
    "Domain",
    "DomainKind",
    "Reading",
    "Sensor",
    "SensorProbe",
    "detect_sensors",
    "fallback_for",
    "probe_sensors",
    "sensor_class",
]
