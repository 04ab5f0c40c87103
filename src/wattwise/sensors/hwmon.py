"""CPU energy and power from Linux hwmon devices (sysfs, read-only).

hwmon ABI (kernel ``Documentation/hwmon/sysfs-interface.rst``): each
``<sysfs>/class/hwmon/hwmonN/`` has a ``name`` (the driver), ``energyX_input``
(cumulative energy, µJ), ``powerX_input`` (instantaneous power, µW), ``powerX_average``
(average power, µW) and optional ``*_label`` files.

Drivers this is for:

* ``amd_energy`` (AMD Zen, mainline 5.8–5.12, now out of tree as ``amd/amd_energy``) and
  its fork ``zenergy``: ``energyX_input`` labelled ``EcoreNNN`` (one per core) and
  ``EsocketN`` (one per socket). The socket counter contains its cores, so only sockets
  are counted; when a device has only core channels they are summed. The driver
  accumulates the 32-bit RAPL MSRs into 64-bit counters in a kernel thread, so they do
  not wrap in practice; a fall is taken as a driver reload (counter restarted at 0).
  Since CVE-2020-12912 the energy files are readable by owner and group only.
* ``zenpower`` (AMD Zen, out of tree): no energy, ``power1_input`` (core rail, SVI2) and
  ``power2_input`` (SoC rail); each power channel becomes a ``power`` domain.
* any other non-skipped device with energy channels (counters) or, when it has no energy
  channels, power channels (e.g. ARM boards). Channels whose label mentions ``gpu`` are
  skipped.

Skipped devices (:data:`SKIPPED_DRIVERS`): GPU drivers (``amdgpu``, ``radeon``,
``nouveau``, ``i915``, ``xe``), whose energy the GPU sensors read, and whole-system meters
(ACPI ``power_meter``, IBM ``ibmaem``), which include the GPUs: booked as CPU they would
count the GPUs twice. Every domain is booked to ``cpu``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from wattwise.exceptions import SensorError, SensorPermissionError
from wattwise.sensors._base import Domain, Reading, Sensor
from wattwise.sensors.rapl import ReadText, counter_delta, read_text
from wattwise.units import uj_to_j

__all__ = ["SKIPPED_DRIVERS", "HwmonSensor"]

SKIPPED_DRIVERS: Final = frozenset(
    {"amdgpu", "radeon", "nouveau", "i915", "xe", "power_meter", "ibmaem"}
)
"""hwmon drivers never read here: GPUs (the GPU sensors read them) and whole-system meters."""

_HWMON_RE = re.compile(r"^hwmon\d+$")
_CHANNEL_RE = re.compile(r"^(energy|power)(\d+)_(input|average)$")
_SOCKET_RE = re.compile(r"^esocket(\d+)$", re.IGNORECASE)
_CORE_RE = re.compile(r"^ecore(\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class _Channel:
    kind: Literal["energy", "power"]
    index: int
    file: Path
    label: str | None


@dataclass
class _Source:
    """One domain: its files (several when core channels are summed) and counter state."""

    domain: Domain
    files: list[Path]
    last_uj: list[int] = field(default_factory=list)
    total_uj: int = 0


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _channels(dev: Path, read: ReadText) -> list[_Channel]:
    found: dict[tuple[str, int], _Channel] = {}
    try:
        names = sorted(p.name for p in dev.iterdir())
    except OSError:
        return []
    for fname in names:
        m = _CHANNEL_RE.match(fname)
        if m is None:
            continue
        kind: Literal["energy", "power"] = "energy" if m.group(1) == "energy" else "power"
        index = int(m.group(2))
        if (kind, index) in found and m.group(3) == "average":
            continue  # powerX_input wins over powerX_average
        try:
            label: str | None = read(dev / f"{kind}{index}_label").strip() or None
        except (OSError, UnicodeDecodeError):
            label = None
        found[(kind, index)] = _Channel(kind, index, dev / fname, label)
    return sorted(found.values(), key=lambda c: (c.kind, c.index))


def _domains_for(dev_key: str, driver: str, chans: Sequence[_Channel]) -> list[_Source]:
    """The domains of one device (see the module docstring for the rules)."""
    chans = [c for c in chans if not (c.label and "gpu" in c.label.lower())]
    energy = [c for c in chans if c.kind == "energy"]
    model: dict[str, Any] = {"driver": driver}
    if energy:
        sockets = [c for c in energy if c.label and _SOCKET_RE.match(c.label)]
        cores = [c for c in energy if c.label and _CORE_RE.match(c.label)]
        rest = [c for c in energy if c not in sockets and c not in cores]
        out = []
        for c in sockets:
            n = _SOCKET_RE.match(c.label or "")
            sock = n.group(1) if n else str(c.index)
            out.append(
                _Source(
                    Domain(
                        f"hwmon:{dev_key}-socket{sock}",
                        "cpu",
                        f"CPU socket {sock} ({driver})",
                        "measured",
                        "counter",
                        {**model, "channel": c.file.name},
                    ),
                    [c.file],
                )
            )
        if cores and not sockets:
            out.append(
                _Source(
                    Domain(
                        f"hwmon:{dev_key}-cores",
                        "cpu",
                        f"CPU cores, sum of {len(cores)} ({driver})",
                        "measured",
                        "counter",
                        {**model, "channels": [c.file.name for c in cores]},
                    ),
                    [c.file for c in cores],
                )
            )
        for c in rest:
            name = _slug(c.label) if c.label else f"energy{c.index}"
            out.append(
                _Source(
                    Domain(
                        f"hwmon:{dev_key}-{name}",
                        "cpu",
                        f"{c.label or name} ({driver})",
                        "measured",
                        "counter",
                        {**model, "channel": c.file.name},
                    ),
                    [c.file],
                )
            )
        return out
    out = []
    for c in chans:
        name = _slug(c.label) if c.label else f"power{c.index}"
        out.append(
            _Source(
                Domain(
                    f"hwmon:{dev_key}-{name}",
                    "cpu",
                    f"{c.label or name} power ({driver})",
                    "measured",
                    "power",
                    {**model, "channel": c.file.name},
                ),
                [c.file],
            )
        )
    return out


def _permission_fix(dev: Path) -> str:
    return (
        f"sudo chmod a+r {dev}/energy*_input  (until reboot or driver reload; "
        "or run as root). This re-opens the RAPL power side channel (CVE-2020-12912) to "
        "local users: do it only where that is acceptable"
    )


def _read_int(read: ReadText, path: Path) -> int:
    return int(read(path).strip())


def _open(sysfs_root: Path, read: ReadText) -> tuple[list[_Source], list[str]]:
    base = sysfs_root / "class" / "hwmon"
    nothing = (
        f"no CPU energy or power sensor under {base} (amd_energy/zenergy/zenpower not "
        "loaded, or a virtual machine)"
    )
    if not base.is_dir():
        raise SensorError(nothing)
    devices: list[tuple[str, Path]] = []
    seen: set[str] = set()
    notes: list[str] = []
    for entry in sorted(base.iterdir(), key=lambda p: (len(p.name), p.name)):
        if not _HWMON_RE.match(entry.name):
            continue
        real = os.path.realpath(entry)
        if real in seen:
            continue
        seen.add(real)
        driver = ""
        for name_file in (entry / "name", entry / "device" / "name"):
            try:
                driver = read(name_file).strip()
                break
            except (OSError, UnicodeDecodeError):
                continue
        if driver in SKIPPED_DRIVERS:
            notes.append(f"{entry.name} ({driver}) skipped: GPU or whole-system meter")
            continue
        devices.append((driver or entry.name, entry))
    counts: dict[str, int] = {}
    for driver, _ in devices:
        counts[driver] = counts.get(driver, 0) + 1
    ordinal: dict[str, int] = {}
    sources: list[_Source] = []
    for driver, dev in devices:
        k = ordinal.get(driver, 0)
        ordinal[driver] = k + 1
        dev_key = driver if counts[driver] == 1 else f"{driver}.{k}"
        safe_key = re.sub(r"[^A-Za-z0-9_.]+", "-", dev_key).strip("-") or dev.name
        for src in _domains_for(safe_key, driver, _channels(dev, read)):
            if src.domain.kind == "counter":
                try:
                    src.last_uj = [_read_int(read, f) for f in src.files]
                except PermissionError as exc:
                    raise SensorPermissionError(
                        f"{src.files[0]} is readable only by root (CVE-2020-12912)",
                        _permission_fix(dev),
                    ) from exc
                except (OSError, ValueError) as exc:
                    notes.append(f"{src.domain.key} unreadable, skipped: {exc}")
                    continue
            else:
                try:
                    _read_int(read, src.files[0])
                except (OSError, ValueError) as exc:
                    notes.append(f"{src.domain.key} unreadable, skipped: {exc}")
                    continue
            sources.append(src)
    if not sources:
        raise SensorError("; ".join([nothing, *notes]))
    return sources, notes


class HwmonSensor(Sensor):
    """CPU energy counters (J) or power (W) from hwmon devices such as ``amd_energy``.

    Args:
        sysfs_root: where sysfs is mounted (``/sys``; a fixture tree in tests).
        reader: reads one sysfs file as text (tests inject permission errors here).
    """

    name = "hwmon"

    def __init__(self, *, sysfs_root: str | Path = "/sys", reader: ReadText | None = None):
        self._read = reader or read_text
        self._sources, self._notes = _open(Path(sysfs_root), self._read)

    def domains(self) -> Sequence[Domain]:
        return [s.domain for s in self._sources]

    def _value(self, path: Path) -> int:
        try:
            return _read_int(self._read, path)
        except PermissionError as exc:
            raise SensorPermissionError(f"hwmon: cannot read {path}: {exc}") from exc
        except (OSError, ValueError) as exc:
            raise SensorError(f"hwmon: cannot read {path}: {exc}") from exc

    def read(self) -> list[Reading]:
        """Counters: cumulative energy (J) since opened. Power channels: power now (W)."""
        out = []
        for s in self._sources:
            if s.domain.kind == "power":
                out.append(Reading(s.domain.key, power_w=self._value(s.files[0]) / 1e6))
                continue
            for i, path in enumerate(s.files):
                now = self._value(path)
                s.total_uj += counter_delta(s.last_uj[i], now, None)
                s.last_uj[i] = now
            out.append(Reading(s.domain.key, energy_j=uj_to_j(s.total_uj)))
        return out

    def describe(self) -> str:
        """One line: the domains read and what was left out."""
        read = ", ".join(f"{s.domain.key} ({s.domain.kind})" for s in self._sources)
        return "; ".join([f"reading {read}", *self._notes])
