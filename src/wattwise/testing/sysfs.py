"""Fixture sysfs/procfs trees for the Linux energy sensors, and a fake perf opener.

The trees copy the kernel's layout closely (real directories under ``devices/``, links
under ``class/``), so the sensors under test walk them exactly as they walk ``/sys``::

    root = tmp_path / "sys"
    zones = make_rapl_tree(root, packages=2, dram=True)
    sensor = RaplSensor(sysfs_root=root)
    set_energy(zones["package-0"], 5_000_000)      # +5 J on package 0
    sensor.read()

Energies are in µJ (as the kernel writes them), powers in µW.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEFAULT_MAX_RANGE_UJ",
    "PERF_RAPL_SCALE",
    "FakePerfOpener",
    "make_cpu_topology",
    "make_hwmon_device",
    "make_perf_pmu",
    "make_proc_tree",
    "make_rapl_tree",
    "set_energy",
    "write_file",
]

DEFAULT_MAX_RANGE_UJ = 262_143_328_850
"""A real ``max_energy_range_uj`` (32-bit counter × 61.035 µJ units)."""

PERF_RAPL_SCALE = "2.3283064365386962890625e-10"
"""The scale the kernel's RAPL PMU publishes: J per count (2^-32)."""


def write_file(path: Path, value: object, mode: int | None = None) -> Path:
    """Write ``value`` and a newline to ``path`` (parents created), then ``chmod`` it.

    An existing file keeps its mode unless ``mode`` is given, even when that mode does
    not let its owner write (like ``energy_uj``'s 0400) and the tests run unprivileged.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not path.is_symlink():
        keep = path.stat().st_mode & 0o777
        path.chmod(0o600)
        mode = keep if mode is None else mode
    path.write_text(f"{value}\n", encoding="ascii")
    if mode is not None:
        path.chmod(mode)
    return path


def set_energy(zone: Path, energy_uj: int) -> None:
    """Set a powercap zone's ``energy_uj`` counter (µJ), keeping the file's mode."""
    write_file(zone / "energy_uj", energy_uj)


def _link(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(target, link.parent))


def make_rapl_tree(
    root: Path,
    *,
    packages: int = 2,
    core: bool = True,
    uncore: bool = False,
    dram: bool = True,
    psys: bool = False,
    max_range_uj: int | None = DEFAULT_MAX_RANGE_UJ,
    energies: Mapping[str, int] | None = None,
    control_type: str = "intel-rapl",
    energy_mode: int | None = 0o400,
    class_links: bool = True,
) -> dict[str, Path]:
    """Build ``<root>/devices/virtual/powercap/<control_type>/...`` and its ``class`` links.

    Zones per package ``N`` (zone ``<ct>:N``): ``package-N`` with subzones ``core-N``,
    ``uncore-N``, ``dram-N`` as asked, numbered in that order; ``psys`` is the next
    top-level zone. ``energies`` maps those keys to a starting ``energy_uj`` (default 0).
    ``energy_mode`` is the mode of ``energy_uj`` (0o400 as on kernels since 5.10).
    Returns key → zone directory (the real one, under ``devices``).
    """
    energies = energies or {}
    ctype_dir = root / "devices" / "virtual" / "powercap" / control_type
    write_file(ctype_dir / "enabled", 1)
    zones: dict[str, Path] = {}

    def zone(path: Path, key: str, name: str) -> None:
        write_file(path / "name", name)
        write_file(path / "enabled", 1)
        write_file(path / "energy_uj", energies.get(key, 0), energy_mode)
        if max_range_uj is not None:
            write_file(path / "max_energy_range_uj", max_range_uj)
        zones[key] = path

    for n in range(packages):
        pkg = ctype_dir / f"{control_type}:{n}"
        zone(pkg, f"package-{n}", f"package-{n}")
        sub = 0
        for wanted, name in ((core, "core"), (uncore, "uncore"), (dram, "dram")):
            if wanted:
                zone(pkg / f"{control_type}:{n}:{sub}", f"{name}-{n}", name)
                sub += 1
    if psys:
        zone(ctype_dir / f"{control_type}:{packages}", "psys", "psys")

    if class_links:
        cls = root / "class" / "powercap"
        _link(cls / control_type, ctype_dir)
        for path in zones.values():
            _link(cls / path.name, path)
    return zones


def make_hwmon_device(
    root: Path,
    name: str,
    *,
    energy: Mapping[str, int] | Sequence[int] = (),
    power: Mapping[str, int] | Sequence[int] = (),
    power_attr: str = "input",
    energy_mode: int | None = 0o440,
    index: int | None = None,
) -> Path:
    """Build one ``<root>/class/hwmon/hwmonN`` device (a link to ``devices/...``).

    ``energy``/``power`` give channel values in µJ/µW: a mapping of label → value (a
    ``*_label`` file is written) or a plain sequence (no labels). Channels are numbered
    from 1 in order. ``power_attr`` is ``input`` or ``average``. Returns the device dir.
    """
    cls = root / "class" / "hwmon"
    if index is None:
        index = len(list(cls.iterdir())) if cls.is_dir() else 0
    dev = root / "devices" / "platform" / f"{name}.{index}" / "hwmon" / f"hwmon{index}"
    write_file(dev / "name", name)
    for kind, values, attr, mode in (
        ("energy", energy, "input", energy_mode),
        ("power", power, power_attr, None),
    ):
        items: Iterable[tuple[str | None, int]] = (
            values.items() if isinstance(values, Mapping) else ((None, v) for v in values)
        )
        for i, (label, value) in enumerate(items, start=1):
            write_file(dev / f"{kind}{i}_{attr}", value, mode)
            if label is not None:
                write_file(dev / f"{kind}{i}_label", label)
    _link(cls / f"hwmon{index}", dev)
    return dev


def make_cpu_topology(root: Path, packages: Sequence[int], *, offline: Iterable[int] = ()) -> None:
    """Build ``<root>/devices/system/cpu/cpuN/topology/physical_package_id``.

    ``packages[n]`` is CPU ``n``'s package; CPUs in ``offline`` get ``online`` = 0.
    """
    off = set(offline)
    for cpu, pkg in enumerate(packages):
        d = root / "devices" / "system" / "cpu" / f"cpu{cpu}"
        write_file(d / "topology" / "physical_package_id", pkg)
        write_file(d / "topology" / "die_id", 0)
        if cpu:
            write_file(d / "online", 0 if cpu in off else 1)


def make_perf_pmu(
    root: Path,
    *,
    events: Mapping[str, int] | Sequence[str] = ("energy-pkg", "energy-ram"),
    pmu_type: int = 33,
    cpumask: str | None = "0",
    scale: str = PERF_RAPL_SCALE,
    unit: str = "Joules",
) -> Path:
    """Build ``<root>/bus/event_source/devices/power`` (a link to ``devices/power``).

    ``events`` maps event name → config (``event=0x..``); a sequence uses the kernel's
    codes (cores 1, pkg 2, ram 3, gpu 4, psys 5). Returns the PMU directory.
    """
    codes = {"energy-cores": 1, "energy-pkg": 2, "energy-ram": 3, "energy-gpu": 4, "energy-psys": 5}
    mapping = events if isinstance(events, Mapping) else {e: codes[e] for e in events}
    pmu = root / "devices" / "power"
    write_file(pmu / "type", pmu_type)
    write_file(pmu / "format" / "event", "config:0-7")
    if cpumask is not None:
        write_file(pmu / "cpumask", cpumask)
    for event, config in mapping.items():
        write_file(pmu / "events" / event, f"event={config:#04x}")
        write_file(pmu / "events" / f"{event}.scale", scale)
        write_file(pmu / "events" / f"{event}.unit", unit)
    _link(root / "bus" / "event_source" / "devices" / "power", pmu)
    return pmu


def make_proc_tree(proc_root: Path, *, paranoid: int | None = 2, cap_eff: int = 0) -> Path:
    """Build ``<proc>/sys/kernel/perf_event_paranoid`` and ``<proc>/self/status``.

    ``cap_eff`` is the effective capability mask (``1 << 38`` is CAP_PERFMON).
    """
    if paranoid is not None:
        write_file(proc_root / "sys" / "kernel" / "perf_event_paranoid", paranoid)
    write_file(
        proc_root / "self" / "status",
        f"Name:\tpython\nUid:\t1000\t1000\t1000\t1000\nCapEff:\t{cap_eff:016x}",
    )
    return proc_root


@dataclass
class FakePerfOpener:
    """A stand-in for ``perf_event_open(2)`` with the sensor's opener interface.

    ``counts[(config, cpu)]`` is the raw counter value a read returns; tests advance it.
    ``fail_open`` maps ``(config, cpu)`` to an ``OSError`` to raise on open.
    """

    counts: dict[tuple[int, int], int] = field(default_factory=dict)
    fail_open: dict[tuple[int, int], OSError] = field(default_factory=dict)
    opened: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    closed: list[int] = field(default_factory=list)
    _next_fd: int = 100

    def open(self, type: int, config: int, cpu: int) -> int:
        """Pretend to open a counting event; returns a fake fd."""
        if (config, cpu) in self.fail_open:
            raise self.fail_open[(config, cpu)]
        fd = self._next_fd
        self._next_fd += 1
        self.opened[fd] = (type, config, cpu)
        self.counts.setdefault((config, cpu), 0)
        return fd

    def read(self, fd: int) -> int:
        """The current raw count of the event behind ``fd``."""
        if fd not in self.opened or fd in self.closed:
            raise OSError(9, "Bad file descriptor")
        _, config, cpu = self.opened[fd]
        return self.counts[(config, cpu)]

    def close(self, fd: int) -> None:
        """Forget ``fd``."""
        self.closed.append(fd)
