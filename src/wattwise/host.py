"""What the host offers the tracked process: CPU model and topology, cgroup limits,
CPU busy time and memory. Read-only; every root is a parameter so tests use fixture trees.

Units: seconds of CPU time, bytes, counts. Nothing is read at import time.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CgroupLimits", "CpuInfo", "HostCpu", "read_cgroup_limits", "read_cpu_info"]

_USER_HZ = 100  # /proc/stat ticks; sysconf(SC_CLK_TCK) on every Linux we know of


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


@dataclass(frozen=True)
class CpuInfo:
    """The CPU as the OS shows it.

    Attributes:
        model: the marketing name (``model name`` in /proc/cpuinfo).
        logical_cpus: logical CPUs the OS shows.
        sockets: physical packages (``physical id`` values), at least 1.
        virtualised: the ``hypervisor`` flag is set (a VM: the host topology is unknown).
    """

    model: str
    logical_cpus: int
    sockets: int
    virtualised: bool


def read_cpu_info(proc_root: str | Path = "/proc") -> CpuInfo:
    """Parse ``<proc_root>/cpuinfo``; falls back to :mod:`platform` off Linux."""
    text = _read(Path(proc_root) / "cpuinfo")
    if not text:
        return CpuInfo(platform.processor() or "unknown", os.cpu_count() or 1, 1, False)
    model = ""
    logical = 0
    sockets: set[str] = set()
    virtualised = False
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        value = value.strip()
        if key == "processor":
            logical += 1
        elif key == "model name" and not model:
            model = value
        elif key == "physical id":
            sockets.add(value)
        elif key == "flags" and " hypervisor" in f" {value} ":
            virtualised = True
    return CpuInfo(
        model or "unknown", logical or (os.cpu_count() or 1), max(len(sockets), 1), virtualised
    )


@dataclass(frozen=True)
class CgroupLimits:
    """Container limits that apply to this process (cgroup v1 or v2).

    Attributes:
        cpu_quota: CPUs' worth of time allowed (``cpu.max`` quota / period), or None.
        memory_bytes: memory limit, or None when unlimited.
        usage_path: file with the cgroup's CPU usage, used when a quota is set.
        usage_unit_s: seconds per unit in that file (1e-6 for v2 usage_usec, 1e-9 for v1).
    """

    cpu_quota: float | None
    memory_bytes: int | None
    usage_path: Path | None = None
    usage_unit_s: float = 1e-6


def _cgroup_dirs(proc_root: Path, cgroup_root: Path, controller: str) -> list[Path]:
    """Candidate directories for a controller: the process's own cgroup, then the root."""
    rel = None
    text = _read(proc_root / "self" / "cgroup") or ""
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        controllers = parts[1].split(",")
        if controller in controllers or (controller == "" and parts[0] == "0"):
            rel = parts[2].lstrip("/")
    base = cgroup_root / controller if controller else cgroup_root
    out = []
    if rel:
        out.append(base / rel)
    out.append(base)
    return out


def read_cgroup_limits(
    proc_root: str | Path = "/proc", cgroup_root: str | Path = "/sys/fs/cgroup"
) -> CgroupLimits:
    """CPU quota and memory limit of this process's cgroup; None where unlimited."""
    proc = Path(proc_root)
    root = Path(cgroup_root)
    # cgroup v2: one unified hierarchy
    for d in _cgroup_dirs(proc, root, ""):
        cpu_max = _read(d / "cpu.max")
        mem_max = _read(d / "memory.max")
        if cpu_max is None and mem_max is None:
            continue
        quota = None
        parts = (cpu_max or "").split()
        if len(parts) == 2 and parts[0] != "max" and float(parts[1]) > 0:
            quota = float(parts[0]) / float(parts[1])
        mem = None
        if mem_max and mem_max.strip() != "max":
            mem = int(mem_max.strip())
        return CgroupLimits(quota, mem, d / "cpu.stat", 1e-6)
    # cgroup v1: one hierarchy per controller
    quota = None
    usage_path = None
    for d in _cgroup_dirs(proc, root, "cpu"):
        q = _read(d / "cpu.cfs_quota_us")
        p = _read(d / "cpu.cfs_period_us")
        if q is not None and p is not None:
            if int(q) > 0 and int(p) > 0:
                quota = int(q) / int(p)
            break
    for d in _cgroup_dirs(proc, root, "cpuacct"):
        if (d / "cpuacct.usage").exists():
            usage_path = d / "cpuacct.usage"
            break
    mem = None
    for d in _cgroup_dirs(proc, root, "memory"):
        m = _read(d / "memory.limit_in_bytes")
        if m is not None:
            value = int(m)
            if value < 1 << 60:  # v1 says "unlimited" with a huge page-aligned number
                mem = value
            break
    return CgroupLimits(quota, mem, usage_path, 1e-9)


class HostCpu:
    """Busy CPU time of the machine and of the CPUs this process may use.

    ``scope`` is the set of CPUs the process can run on (affinity), further capped by a
    cgroup CPU quota. Busy time excludes idle and iowait.
    """

    def __init__(
        self,
        *,
        proc_root: str | Path = "/proc",
        cgroup_root: str | Path = "/sys/fs/cgroup",
        affinity: set[int] | None = None,
    ) -> None:
        self._proc = Path(proc_root)
        self.limits = read_cgroup_limits(proc_root, cgroup_root)
        if affinity is None:
            try:
                affinity = set(os.sched_getaffinity(0))
            except (AttributeError, OSError):
                affinity = set(range(os.cpu_count() or 1))
        self.affinity = affinity
        cpus = float(len(affinity))
        if self.limits.cpu_quota is not None:
            cpus = min(cpus, self.limits.cpu_quota)
        self.scope_cpus = max(cpus, 0.01)

    def _stat(self) -> dict[str, tuple[float, float]]:
        """cpu line name -> (busy_s, total_s) from /proc/stat."""
        text = _read(self._proc / "stat")
        out: dict[str, tuple[float, float]] = {}
        if not text:
            return out
        for line in text.splitlines():
            if not line.startswith("cpu"):
                break
            name, *fields = line.split()
            values = [int(v) for v in fields[:8]]  # guest time is already in user
            idle = values[3] + (values[4] if len(values) > 4 else 0)
            total = sum(values)
            out[name] = ((total - idle) / _USER_HZ, total / _USER_HZ)
        return out

    def machine_busy_s(self) -> float:
        """Busy CPU-seconds of the whole machine since boot."""
        return self._stat().get("cpu", (0.0, 0.0))[0]

    def scope_busy_s(self) -> tuple[float, float]:
        """(busy CPU-seconds, total CPU-seconds) of the CPUs this process may use.

        With a cgroup quota the busy time is the cgroup's own usage and total is not
        meaningful (returned as 0).
        """
        if self.limits.cpu_quota is not None and self.limits.usage_path is not None:
            text = _read(self.limits.usage_path)
            if text:
                if self.limits.usage_path.name == "cpu.stat":
                    for line in text.splitlines():
                        if line.startswith("usage_usec"):
                            return int(line.split()[1]) * 1e-6, 0.0
                else:
                    return int(text.strip()) * self.limits.usage_unit_s, 0.0
        stat = self._stat()
        busy = total = 0.0
        per_cpu = [stat.get(f"cpu{i}") for i in self.affinity]
        if all(p is not None for p in per_cpu) and per_cpu:
            for p in per_cpu:
                assert p is not None
                busy += p[0]
                total += p[1]
        else:
            busy, total = stat.get("cpu", (0.0, 0.0))
        return busy, total
