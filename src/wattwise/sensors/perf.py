"""CPU package and DRAM energy from the perf_event RAPL PMU (``power``), read-only.

The kernel's RAPL perf driver (``arch/x86/events/rapl.c``, Intel and AMD) publishes::

    <sysfs>/bus/event_source/devices/power/type                  perf_event_attr.type
    <sysfs>/bus/event_source/devices/power/cpumask               one CPU per package (or die)
    <sysfs>/bus/event_source/devices/power/events/energy-pkg     "event=0x02"
    <sysfs>/bus/event_source/devices/power/events/energy-pkg.scale   J per count (2^-32)
    <sysfs>/bus/event_source/devices/power/events/energy-pkg.unit    "Joules"

Events: ``energy-cores`` (0x01, PP0), ``energy-pkg`` (0x02), ``energy-ram`` (0x03),
``energy-gpu`` (0x04, PP1) and ``energy-psys`` (0x05, platform). They count system-wide
only, so each is opened with ``perf_event_open(2)`` for ``pid = -1`` on one CPU per
package: the CPUs listed in the PMU's ``cpumask`` (else the first online CPU of each
``physical_package_id``). The kernel folds the 32-bit MSR into a 64-bit count before it
can wrap, so the counts read here are 64-bit and do not wrap in practice.

Counting follows the RAPL sensor: ``energy-pkg`` (cpu) + ``energy-ram`` (ram) by default;
``energy-cores``/``energy-gpu`` are inside the package and never counted;
``energy-psys`` (other) covers package + DRAM and more, and is counted alone with
``prefer_psys=True`` (or when it is the only event). Like powercap, multi-socket kernels
give psys a reading on one package only (the others read 0), so summing is safe.

Permissions (``Documentation/admin-guide/perf-security.rst``): CPU-wide events need
``/proc/sys/kernel/perf_event_paranoid`` ≤ 0, or ``CAP_PERFMON`` (``CAP_SYS_ADMIN``).

The system call sits behind :class:`PerfOpener`, so tests use a fake with the same
interface (:class:`wattwise.testing.sysfs.FakePerfOpener`).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from wattwise.exceptions import SensorError, SensorPermissionError
from wattwise.sensors._base import Domain, Reading, Sensor
from wattwise.sensors.rapl import read_text
from wattwise.units import Component

__all__ = ["PERF_EVENT_OPEN_NR", "PerfOpener", "PerfSensor", "SyscallOpener", "parse_cpulist"]

PERF_EVENT_OPEN_NR: Final = {
    "x86_64": 298,
    "amd64": 298,
    "i386": 336,
    "i686": 336,
    "aarch64": 241,
    "arm64": 241,
    "riscv64": 241,
    "ppc64": 319,
    "ppc64le": 319,
    "s390x": 331,
}
"""``__NR_perf_event_open`` by ``uname -m``."""

_PERF_FLAG_FD_CLOEXEC = 8
_CAP_SYS_ADMIN = 21
_CAP_PERFMON = 38
_DEFAULT_SCALE = 2.0**-32  # the RAPL PMU's fixed unit when no .scale file is published
_COUNTED: Final[dict[str, tuple[Component, str]]] = {
    "energy-pkg": ("cpu", "CPU package"),
    "energy-ram": ("ram", "DRAM of package"),
    "energy-psys": ("other", "Platform psys (SoC, DRAM and more) of package"),
}
_NESTED = ("energy-cores", "energy-gpu")
_PARANOID_FIX = (
    "sudo sysctl kernel.perf_event_paranoid=0  (until reboot; to keep it, put "
    "'kernel.perf_event_paranoid = 0' in /etc/sysctl.d/99-perf.conf), or run with "
    "CAP_PERFMON"
)


class PerfOpener(Protocol):
    """Opens, reads and closes counting perf events (``perf_event_open(2)``)."""

    def open(self, type: int, config: int, cpu: int) -> int:
        """Open event ``config`` of PMU ``type`` on ``cpu`` for all processes; the fd."""

    def read(self, fd: int) -> int:
        """The event's 64-bit count now."""

    def close(self, fd: int) -> None:
        """Close the event."""


class _PerfEventAttr(ctypes.Structure):
    """``struct perf_event_attr`` up to ``config1`` (PERF_ATTR_SIZE_VER0, 64 bytes)."""

    _fields_ = [
        ("type", ctypes.c_uint32),
        ("size", ctypes.c_uint32),
        ("config", ctypes.c_uint64),
        ("sample_period", ctypes.c_uint64),
        ("sample_type", ctypes.c_uint64),
        ("read_format", ctypes.c_uint64),
        ("flags", ctypes.c_uint64),
        ("wakeup_events", ctypes.c_uint32),
        ("bp_type", ctypes.c_uint32),
        ("config1", ctypes.c_uint64),
    ]


class SyscallOpener:
    """The real :class:`PerfOpener`: ``perf_event_open(2)`` through ``ctypes``.

    libc is loaded on first use, not at import.
    """

    def __init__(self) -> None:
        self._syscall: Callable[..., int] | None = None

    def open(self, type: int, config: int, cpu: int) -> int:
        """Open a counting event (enabled, all processes, on ``cpu``); raises ``OSError``."""
        machine = os.uname().machine
        nr = PERF_EVENT_OPEN_NR.get(machine)
        if nr is None:
            raise OSError(errno.ENOSYS, f"perf_event_open: no syscall number for {machine}")
        if self._syscall is None:
            fn = ctypes.CDLL(None, use_errno=True).syscall
            fn.restype = ctypes.c_long
            self._syscall = fn
        attr = _PerfEventAttr(type=type, size=ctypes.sizeof(_PerfEventAttr), config=config)
        fd = self._syscall(
            ctypes.c_long(nr),
            ctypes.byref(attr),
            ctypes.c_int(-1),
            ctypes.c_int(cpu),
            ctypes.c_int(-1),
            ctypes.c_ulong(_PERF_FLAG_FD_CLOEXEC),
        )
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"perf_event_open: {os.strerror(err)}")
        return int(fd)

    def read(self, fd: int) -> int:
        """The event's count (8 bytes, native byte order)."""
        data = os.read(fd, 8)
        if len(data) != 8:
            raise OSError(errno.EIO, f"short read ({len(data)} bytes) from perf event")
        return int.from_bytes(data, sys.byteorder)

    def close(self, fd: int) -> None:
        """Close the event's fd."""
        os.close(fd)


def parse_cpulist(text: str) -> list[int]:
    """Parse a kernel CPU list such as ``"0,36"`` or ``"0-3,8"``."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


@dataclass
class _Event:
    domain: Domain
    fd: int
    scale_j: float
    last: int
    total: int = 0


def _optional(path: Path) -> str | None:
    try:
        return read_text(path).strip()
    except (OSError, UnicodeDecodeError):
        return None


def _event_config(spec: str) -> int | None:
    """``event=0x02`` → 2; None for specs with other terms (not used by the power PMU)."""
    terms = dict(t.partition("=")[::2] for t in spec.strip().split(",") if t)
    if set(terms) != {"event"}:
        return None
    return int(terms["event"], 0)


def _capable(proc_root: Path) -> bool:
    """Whether ``<proc>/self/status`` shows CAP_PERFMON or CAP_SYS_ADMIN in effect."""
    status = _optional(proc_root / "self" / "status") or ""
    m = re.search(r"^CapEff:\s*([0-9a-fA-F]+)", status, re.MULTILINE)
    if m is None:
        return False
    caps = int(m.group(1), 16)
    return bool(caps >> _CAP_PERFMON & 1 or caps >> _CAP_SYS_ADMIN & 1)


def _package_cpus(sysfs_root: Path, pmu: Path) -> list[tuple[int, str]]:
    """(cpu, package label) to open events on: the PMU's cpumask, else the topology."""
    cpu_dir = sysfs_root / "devices" / "system" / "cpu"

    def topo(cpu: int, what: str) -> str | None:
        return _optional(cpu_dir / f"cpu{cpu}" / "topology" / what)

    mask = _optional(pmu / "cpumask")
    cpus = parse_cpulist(mask) if mask else []
    if not cpus:
        try:
            all_cpus = sorted(
                int(p.name[3:]) for p in cpu_dir.iterdir() if re.fullmatch(r"cpu\d+", p.name)
            )
        except OSError:
            all_cpus = []
        seen: set[str] = set()
        for cpu in all_cpus:
            if _optional(cpu_dir / f"cpu{cpu}" / "online") == "0":
                continue
            pkg = topo(cpu, "physical_package_id")
            if pkg is not None and pkg not in seen:
                seen.add(pkg)
                cpus.append(cpu)
        cpus = cpus or [0]
    labels = [topo(cpu, "physical_package_id") or str(i) for i, cpu in enumerate(cpus)]
    out = []
    for i, cpu in enumerate(cpus):
        label = labels[i]
        if labels.count(label) > 1:  # one CPU per die: name the die as well
            label = f"{label}-die-{topo(cpu, 'die_id') or i}"
        out.append((cpu, label))
    return out


class PerfSensor(Sensor):
    """CPU package and DRAM energy (J) from the perf ``power`` PMU, counted system-wide.

    Args:
        sysfs_root: where sysfs is mounted (``/sys``; a fixture tree in tests).
        proc_root: where procfs is mounted (for ``perf_event_paranoid`` and capabilities).
        opener: opens and reads the events; :class:`SyscallOpener` by default.
        prefer_psys: count ``energy-psys`` alone instead of ``energy-pkg`` + ``energy-ram``.
    """

    name = "perf"

    def __init__(
        self,
        *,
        sysfs_root: str | Path = "/sys",
        proc_root: str | Path = "/proc",
        opener: PerfOpener | None = None,
        prefer_psys: bool = False,
    ) -> None:
        self._opener: PerfOpener = opener or SyscallOpener()
        self._lock = threading.Lock()
        self._events: list[_Event] = []
        self._closed = False
        self._notes: list[str] = []
        self.paranoid: int | None = None
        """``perf_event_paranoid`` as read at open (None when unknown)."""
        self.cpus: list[int] = []
        """The CPUs the events are opened on, one per package (or die)."""
        self._open(Path(sysfs_root), Path(proc_root), prefer_psys)

    def _open(self, sysfs_root: Path, proc_root: Path, prefer_psys: bool) -> None:
        pmu = sysfs_root / "bus" / "event_source" / "devices" / "power"
        if not (pmu / "type").is_file():
            raise SensorError(
                f"no perf power PMU under {pmu.parent} (needs a RAPL-capable x86 CPU; "
                "virtual machines usually hide it)"
            )
        try:
            pmu_type = int(read_text(pmu / "type").strip())
        except (OSError, ValueError) as exc:
            raise SensorError(f"cannot read {pmu / 'type'}: {exc}") from exc
        present = [e for e in (*_COUNTED, *_NESTED) if (pmu / "events" / e).is_file()]
        for e in _NESTED:
            if e in present:
                self._notes.append(f"{e} is inside energy-pkg: not counted again")
        base: list[str] = [e for e in ("energy-pkg", "energy-ram") if e in present]
        if "energy-psys" in present and (prefer_psys or not base):
            chosen: list[str] = ["energy-psys"]
            if base:
                self._notes.append("prefer_psys: energy-pkg/energy-ram are inside psys")
        else:
            chosen = base
            if "energy-psys" in present:
                self._notes.append(
                    "energy-psys (contains pkg + ram) not counted; prefer_psys=True counts it"
                )
        specs: list[tuple[str, int, float]] = []
        for event in chosen:
            config = _event_config(_optional(pmu / "events" / event) or "")
            unit = _optional(pmu / "events" / f"{event}.unit")
            if config is None or (unit is not None and unit != "Joules"):
                self._notes.append(f"{event}: unsupported encoding or unit, skipped")
                continue
            scale_text = _optional(pmu / "events" / f"{event}.scale")
            try:
                scale = float(scale_text) if scale_text else _DEFAULT_SCALE
            except ValueError:
                scale = _DEFAULT_SCALE
            specs.append((event, config, scale))
        if not specs:
            raise SensorError(f"perf power PMU at {pmu} has no energy-pkg/-ram/-psys event")

        paranoid_text = _optional(proc_root / "sys" / "kernel" / "perf_event_paranoid")
        paranoid = None
        if paranoid_text and paranoid_text.lstrip("-").isdigit():
            paranoid = int(paranoid_text)
        self.paranoid = paranoid
        if paranoid is not None and paranoid > 0 and not _capable(proc_root):
            raise SensorPermissionError(
                f"perf_event_paranoid is {paranoid}: system-wide perf events need ≤ 0 "
                "or CAP_PERFMON",
                _PARANOID_FIX,
            )
        cpus = _package_cpus(sysfs_root, pmu)
        self.cpus = [cpu for cpu, _ in cpus]
        for event, config, scale in specs:
            component, what = _COUNTED[event]
            for cpu, pkg in cpus:
                dom = Domain(
                    f"perf:{event}-{pkg}",
                    component,
                    f"{what} {pkg.replace('-', ' ')} (perf RAPL)",
                    "measured",
                    "counter",
                    {"event": event, "config": config, "cpu": cpu, "scale_j": scale},
                )
                try:
                    fd = self._opener.open(pmu_type, config, cpu)
                except PermissionError as exc:
                    self.close()
                    raise SensorPermissionError(
                        f"perf_event_open({event}, cpu {cpu}) refused: {exc.strerror or exc} "
                        f"(perf_event_paranoid={paranoid}; in a container the seccomp "
                        "profile may block perf_event_open)",
                        _PARANOID_FIX,
                    ) from exc
                except OSError as exc:
                    self.close()
                    raise SensorError(f"perf_event_open({event}, cpu {cpu}) failed: {exc}") from exc
                ev = _Event(dom, fd, scale, 0)
                self._events.append(ev)
                try:
                    ev.last = self._opener.read(fd)
                except OSError as exc:
                    self.close()
                    raise SensorError(
                        f"cannot read perf event {event} on cpu {cpu}: {exc}"
                    ) from exc

    def domains(self) -> Sequence[Domain]:
        return [e.domain for e in self._events]

    def read(self) -> list[Reading]:
        """Cumulative energy (J) of each event since the sensor was opened."""
        with self._lock:
            if self._closed:
                raise SensorError("perf: sensor is closed")
            out = []
            for e in self._events:
                try:
                    now = self._opener.read(e.fd)
                except OSError as exc:
                    raise SensorError(f"perf: cannot read {e.domain.key}: {exc}") from exc
                # an open event is never reset, so a fall is a 64-bit wrap (after 2^32 J)
                e.total += (now - e.last) if now >= e.last else (2**64 - e.last + now)
                e.last = now
                out.append(Reading(e.domain.key, energy_j=e.total * e.scale_j))
            return out

    def close(self) -> None:
        """Close every event fd. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for e in self._events:
                with contextlib.suppress(OSError):  # already gone: nothing left to release
                    self._opener.close(e.fd)

    def describe(self) -> str:
        """One line: the events and CPUs read, the paranoid level, and what was left out."""
        events = sorted({str(e.domain.model["event"]) for e in self._events})
        cpus = ",".join(map(str, self.cpus))
        return "; ".join(
            [
                f"{', '.join(events)} on CPU {cpus}; perf_event_paranoid={self.paranoid}",
                *self._notes,
            ]
        )
