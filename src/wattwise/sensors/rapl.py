"""CPU package and DRAM energy from the Linux powercap RAPL counters (sysfs, read-only).

Where the counters live (kernel ``Documentation/ABI/testing/sysfs-class-powercap`` and
``Documentation/power/powercap/powercap.rst``)::

    <sysfs>/class/powercap/intel-rapl              control type (MSR interface)
    <sysfs>/class/powercap/intel-rapl:0            zone, name "package-0"
    <sysfs>/class/powercap/intel-rapl:0:0          subzone, name "core"   (inside package)
    <sysfs>/class/powercap/intel-rapl:0:1          subzone, name "uncore" (inside package)
    <sysfs>/class/powercap/intel-rapl:0:2          subzone, name "dram"   (NOT inside package)
    <sysfs>/class/powercap/intel-rapl:1            zone, name "psys"     (platform)

Each zone has ``name``, ``energy_uj`` (cumulative µJ) and ``max_energy_range_uj`` (the
largest value ``energy_uj`` reaches before it wraps to 0). Zones appear both as
``class/powercap/<zone>`` links and nested under their control type, so they are
deduplicated by real path and by zone id. AMD CPUs (Zen, kernel ≥ 5.8/5.11) use the same
``intel-rapl`` names; ``intel-rapl-mmio`` (client CPUs, MCHBAR) re-exposes the package
counter and ``intel-rapl-tpmi`` (Granite Rapids and later) exposes package/DRAM through
TPMI.

What is counted, so that nothing is counted twice:

* ``package-N`` → ``cpu``. Its ``core`` (PP0) and ``uncore`` (PP1, integrated graphics)
  subzones are contained in it, so they are never counted.
* ``dram`` → ``ram``. Although it is a subzone of the package on many Intel machines, the
  package counter does *not* include DRAM energy (Intel SDM vol. 3B §15.10; powercap/powercap
  issue #3; fixes in ml-energy/zeus#92, kepler#156, carbontracker#93), so it is counted
  beside the package.
* ``psys`` → ``other``: the platform domain covers the SoC, DRAM and more (it is a
  top-level zone beside the packages; powercap/powercap#4, phoronix-test-suite#812), so
  it contains package + dram. By default (``prefer_psys=False``) wattwise counts
  packages + DRAM, which books CPU and RAM separately, and ignores psys. With
  ``prefer_psys=True`` it counts psys *alone* (when present). psys is also used when it
  is the only domain.
* Each class (package, dram, psys) is taken from the first control type that has it, in
  the order ``intel-rapl``, ``intel-rapl-tpmi``, ``intel-rapl-mmio``; the MMIO package
  zone is the same counter as the MSR one.

``energy_uj`` has been readable only by root since the PLATYPUS fix (CVE-2020-8694, kernel
5.10 and stable backports): opening then raises
:class:`~wattwise.exceptions.SensorPermissionError`, and :meth:`RaplSensor.probe` says
how to allow it.

The 32-bit hardware counters wrap (at ``max_energy_range_uj``, about 262 kJ with the
common 61 µJ unit: ~15 min at 300 W), so the sampler must read at least that often; one
wrap between reads is corrected.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wattwise.exceptions import SensorError, SensorPermissionError
from wattwise.sensors._base import Domain, Reading, Sensor
from wattwise.units import Component, uj_to_j

__all__ = ["CONTROL_TYPES", "RaplSensor", "ReadText", "counter_delta", "read_text"]

CONTROL_TYPES = ("intel-rapl", "intel-rapl-tpmi", "intel-rapl-mmio")
"""Powercap control types holding RAPL zones, most preferred first."""

_ZONE_RE = re.compile(r"^(intel-rapl(?:-mmio|-tpmi)?):(\d+(?::\d+)*)$")
_PACKAGE_RE = re.compile(r"^package-(\d+(?:-die-\d+)?)$")

ReadText = Callable[[Path], str]
"""Reads one sysfs file as text; injectable so tests can fake permission errors."""


def read_text(path: Path) -> str:
    """Read a small sysfs/procfs file (the default reader)."""
    with open(path, encoding="ascii") as f:
        return f.read()


def counter_delta(prev: int, new: int, max_range: int | None) -> int:
    """Rise of a cumulative counter from ``prev`` to ``new``, in the counter's own unit.

    A fall means the counter wrapped after reaching ``max_range``, so the rise is
    ``max_range - prev + new``. With no known range (or a fall from above it) the fall is
    taken as a restart from zero, e.g. a reloaded driver, and the rise is ``new``.
    """
    if new >= prev:
        return new - prev
    if max_range and max_range >= prev:
        return max_range - prev + new
    return new


@dataclass(frozen=True)
class _Zone:
    control_type: str
    ids: tuple[int, ...]
    path: Path
    name: str

    @property
    def zone_id(self) -> str:
        return f"{self.control_type}:{':'.join(map(str, self.ids))}"

    @property
    def kind(self) -> str | None:
        n = self.name.strip().lower()
        if n.startswith("package"):
            return "package"
        if n.startswith("dram"):
            return "dram"
        if n.startswith("psys"):
            return "psys"
        if n in ("core", "uncore"):
            return n
        return None


@dataclass
class _Counter:
    domain: Domain
    file: Path
    max_range_uj: int | None
    last_uj: int
    zone: str
    total_uj: int = 0


def _discover(base: Path, read: ReadText) -> list[_Zone]:
    """Every RAPL zone under ``base`` (``<sysfs>/class/powercap``), each once."""
    seen_real: set[str] = set()
    seen_ids: set[tuple[str, tuple[int, ...]]] = set()
    zones: list[_Zone] = []

    def visit(directory: Path, top: bool) -> None:
        try:
            entries = sorted(directory.iterdir(), key=lambda p: p.name)
        except OSError:
            return
        for entry in entries:
            m = _ZONE_RE.match(entry.name)
            if m is None:
                if top and entry.name in CONTROL_TYPES and entry.is_dir():
                    visit(entry, top=False)
                continue
            if not entry.is_dir():
                continue
            real = os.path.realpath(entry)
            ident = (m.group(1), tuple(int(x) for x in m.group(2).split(":")))
            if real in seen_real or ident in seen_ids:
                continue
            seen_real.add(real)
            seen_ids.add(ident)
            try:
                name = read(entry / "name").strip()
            except (OSError, UnicodeDecodeError):
                name = ""
            zones.append(_Zone(ident[0], ident[1], entry, name))
            visit(entry, top=False)

    visit(base, top=True)
    return zones


def _select(zones: Sequence[_Zone], prefer_psys: bool) -> tuple[list[_Zone], list[str]]:
    """The zones to count (see the module docstring) and notes on what was left out."""
    notes: list[str] = []
    chosen: dict[str, list[_Zone]] = {}
    for kind in ("package", "dram", "psys"):
        for ctype in CONTROL_TYPES:
            found = [z for z in zones if z.kind == kind and z.control_type == ctype]
            if found:
                chosen[kind] = found
                others = sorted({z.control_type for z in zones if z.kind == kind} - {ctype})
                if others:
                    notes.append(f"{kind} also under {', '.join(others)}: same energy, not counted")
                break
    nested = [z.name for z in zones if z.kind in ("core", "uncore")]
    if nested:
        notes.append(f"{'/'.join(sorted(set(nested)))} inside the package: not counted again")
    packages_dram = chosen.get("package", []) + chosen.get("dram", [])
    psys = chosen.get("psys", [])
    if psys and (prefer_psys or not packages_dram):
        if packages_dram:
            notes.append("prefer_psys: package and dram are inside psys, not counted")
        return psys, notes
    if psys:
        notes.append(
            "psys (whole platform, contains package + dram) not counted; "
            "prefer_psys=True counts it instead"
        )
    return packages_dram, notes


def _domain(zone: _Zone, parent: _Zone | None) -> Domain:
    model: dict[str, Any] = {"zone": zone.zone_id, "name": zone.name}
    if zone.kind == "package":
        m = _PACKAGE_RE.match(zone.name)
        suffix = m.group(1) if m else str(zone.ids[0])
        words = suffix.replace("-", " ")
        return Domain(
            f"rapl:package-{suffix}",
            "cpu",
            f"CPU package {words} (RAPL)",
            "measured",
            "counter",
            model,
        )
    if zone.kind == "dram":
        m = _PACKAGE_RE.match(parent.name) if parent is not None else None
        if m is not None:
            suffix = m.group(1)
        elif zone.name.startswith("dram-"):
            suffix = zone.name[len("dram-") :]
        else:
            suffix = str(zone.ids[0])
        words = suffix.replace("-", " ")
        return Domain(
            f"rapl:dram-{suffix}",
            "ram",
            f"DRAM of package {words} (RAPL)",
            "measured",
            "counter",
            model,
        )
    comp: Component = "other"
    return Domain(
        f"rapl:{zone.name}",
        comp,
        "Platform (RAPL psys: SoC, DRAM and more)",
        "measured",
        "counter",
        model,
    )


def _permission_fix(base: Path, zones: Sequence[_Zone]) -> str:
    types = sorted({z.control_type for z in zones}) or ["intel-rapl"]
    globs = " ".join(f"{base}/{t}:*/energy_uj" for t in types)
    return (
        f"sudo chmod a+r {globs}  (until reboot; to keep it, put "
        f"'z {base}/intel-rapl:*/energy_uj 0444 - - -' in /etc/tmpfiles.d/rapl.conf, "
        "or run as root). This re-opens the PLATYPUS power side channel "
        "(CVE-2020-8694) to local users: do it only where that is acceptable"
    )


def _open(sysfs_root: Path, read: ReadText, prefer_psys: bool) -> tuple[list[_Counter], list[str]]:
    base = sysfs_root / "class" / "powercap"
    no_zones = f"no powercap RAPL zones under {base} (virtual machines usually hide RAPL)"
    no_zones_fix = "on bare metal, load the driver: sudo modprobe intel_rapl_msr"
    if not base.is_dir():
        raise SensorError(no_zones, no_zones_fix)
    zones = _discover(base, read)
    if not zones:
        raise SensorError(no_zones, no_zones_fix)
    selected, notes = _select(zones, prefer_psys)
    if not selected:
        names = ", ".join(sorted({z.name or z.zone_id for z in zones}))
        raise SensorError(f"no package, dram or psys zone among the RAPL zones ({names})")
    by_id = {(z.control_type, z.ids): z for z in zones}
    counters: list[_Counter] = []
    keys: set[str] = set()
    for zone in selected:
        parent = by_id.get((zone.control_type, zone.ids[:-1])) if len(zone.ids) > 1 else None
        dom = _domain(zone, parent)
        if dom.key in keys:  # two zones with one name: keep both, keys stay unique
            dom = Domain(
                f"{dom.key}@{zone.zone_id}",
                dom.component,
                dom.label,
                dom.method,
                dom.kind,
                dom.model,
            )
        try:
            first = int(read(zone.path / "energy_uj").strip())
        except PermissionError as exc:
            raise SensorPermissionError(
                f"{zone.path / 'energy_uj'} is readable only by root (Linux ≥ 5.10, CVE-2020-8694)",
                _permission_fix(base, selected),
            ) from exc
        except (OSError, ValueError) as exc:
            notes.append(f"{zone.zone_id} ({zone.name}) unreadable, skipped: {exc}")
            continue
        try:
            max_range: int | None = int(read(zone.path / "max_energy_range_uj").strip())
        except (OSError, ValueError):
            max_range = None
        keys.add(dom.key)
        counters.append(_Counter(dom, zone.path / "energy_uj", max_range, first, zone.zone_id))
    if not counters:
        raise SensorError("no RAPL zone could be read: " + "; ".join(notes))
    return counters, notes


class RaplSensor(Sensor):
    """CPU package, DRAM (or platform psys) energy from powercap RAPL; counters in J.

    Args:
        sysfs_root: where sysfs is mounted (``/sys``; a fixture tree in tests).
        prefer_psys: count the platform ``psys`` domain alone instead of packages + DRAM.
        reader: reads one sysfs file as text (tests inject permission errors here).
    """

    name = "rapl"

    def __init__(
        self,
        *,
        sysfs_root: str | Path = "/sys",
        prefer_psys: bool = False,
        reader: ReadText | None = None,
    ) -> None:
        self._read = reader or read_text
        self._counters, self._notes = _open(Path(sysfs_root), self._read, prefer_psys)

    def domains(self) -> Sequence[Domain]:
        return [c.domain for c in self._counters]

    def read(self) -> list[Reading]:
        """Cumulative energy (J) of each counted zone since the sensor was opened."""
        out = []
        for c in self._counters:
            try:
                now = int(self._read(c.file).strip())
            except PermissionError as exc:
                raise SensorPermissionError(f"rapl: cannot read {c.file}: {exc}") from exc
            except (OSError, ValueError) as exc:
                raise SensorError(f"rapl: cannot read {c.file}: {exc}") from exc
            c.total_uj += counter_delta(c.last_uj, now, c.max_range_uj)
            c.last_uj = now
            out.append(Reading(c.domain.key, energy_j=uj_to_j(c.total_uj)))
        return out

    def describe(self) -> str:
        """One line: the zones counted and what was left out."""
        counted = ", ".join(f"{c.domain.key} ({c.zone})" for c in self._counters)
        return "; ".join([f"counting {counted}", *self._notes])
