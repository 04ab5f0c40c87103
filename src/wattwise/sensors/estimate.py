"""The estimation model, for whatever no sensor can read (a VM without RAPL, say).

Every domain it makes is labelled ``estimated`` and carries its model and constants.
It integrates its own power model over each interval between reads, so its domains are
counters with a low/high range (``energy_low_j``/``energy_high_j``).

CPU: ``P(u) = P_max × (a + (1 − a) × u)`` where ``u`` is the busy fraction of the CPUs
this process may use (affinity, capped by a cgroup CPU quota), ``a`` the idle fraction and
``P_max`` the full-load power of those CPUs:

* CPU model found in the packaged TDP catalogue, on bare metal: ``P_max = TDP × sockets ×
  usable / logical`` (the TDP share of the usable logical CPUs);
* otherwise (unknown model, or a VM whose host topology is hidden):
  ``P_max = W_per_cpu × usable``.

RAM: ``P = W_per_GB × GB`` of the memory the process may use (installed RAM, capped by a
cgroup memory limit); DRAM power barely depends on load, so no utilisation term.

GPU (fallback when a GPU's sensor fails): ``P(u) = TDP × (a + (1 − a) × u)``.

The constants and their sources are in docs/methodology.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from wattwise.hardware import find_cpu
from wattwise.host import HostCpu, read_cpu_info
from wattwise.sensors._base import Domain, Reading, Sensor, SensorProbe
from wattwise.units import Component

__all__ = [
    "CPU_IDLE_FRACTION",
    "CPU_TDP_FACTOR",
    "CPU_W_PER_LOGICAL",
    "GPU_IDLE_FRACTION",
    "RAM_W_PER_GB",
    "EstimateSensor",
    "GpuToEstimate",
    "PowerModel",
]

# (low, central, high). Sources and reasoning: docs/methodology.md, "Estimation model".
CPU_TDP_FACTOR = (0.7, 1.0, 1.2)
"""Full-load power as a multiple of TDP: sustained all-core load sits near TDP (Intel PL1),
light vector code below it, turbo (PL2) above it."""
CPU_IDLE_FRACTION = (0.10, 0.25, 0.40)
"""Idle power as a fraction of full-load power (SPECpower_ssj2008 servers: ~10-40%)."""
CPU_W_PER_LOGICAL = (2.0, 4.0, 8.0)
"""W per logical CPU at full load when the TDP share cannot be computed (TDP / threads
of current server and desktop parts: ~2-8 W)."""
RAM_W_PER_GB = (0.2, 0.375, 0.6)
"""DRAM W per GiB of installed memory: 3 W per 8 GiB DDR4 module (0.375, as CodeCarbon
uses), 0.2-0.6 across DDR3/DDR4/DDR5 modules and load."""
GPU_IDLE_FRACTION = (0.05, 0.15, 0.30)
"""GPU idle power as a fraction of TDP (e.g. A100/H100 idle 50-90 W)."""

_GIB = 1024**3


@dataclass(frozen=True)
class PowerModel:
    """A linear power model: ``P(u) = max_w × (idle + (1 − idle) × u)`` per bound."""

    max_w: tuple[float, float, float]
    idle_fraction: tuple[float, float, float]

    def power_w(self, utilisation: float) -> tuple[float, float, float]:
        """(low, central, high) power at ``utilisation`` in 0..1."""
        u = min(max(utilisation, 0.0), 1.0)
        low, mid, high = (
            m * (a + (1 - a) * u) for m, a in zip(self.max_w, self.idle_fraction, strict=True)
        )
        return low, mid, high


@dataclass(frozen=True)
class GpuToEstimate:
    """A GPU whose sensor failed: its index, name, TDP and a utilisation reader (0..1)."""

    index: int
    name: str
    tdp_w: float
    utilisation: Callable[[], float]


class _Domain:
    """Running state of one estimated domain."""

    def __init__(self, domain: Domain, model: PowerModel, util: Callable[[float], float]):
        self.domain = domain
        self.model = model
        self.util = util
        self.energy = [0.0, 0.0, 0.0]
        self.power = model.power_w(0.0)


class EstimateSensor(Sensor):
    """CPU, RAM (and failed GPUs) from utilisation and catalogue constants."""

    name = "estimate"

    def __init__(
        self,
        *,
        components: Collection[Component] = ("cpu", "ram"),
        proc_root: str | Path = "/proc",
        cgroup_root: str | Path = "/sys/fs/cgroup",
        cpu_model: str | None = None,
        cpu_tdp_w: float | None = None,
        memory_bytes: int | None = None,
        gpus: Sequence[GpuToEstimate] = (),
        adopted: Sequence[Sensor] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self.adopted = tuple(adopted)  # closed with this sensor (a failed GPU sensor)
        self._host = HostCpu(proc_root=proc_root, cgroup_root=cgroup_root)
        self._domains: list[_Domain] = []
        if "cpu" in components:
            self._domains.append(self._cpu_domain(proc_root, cpu_model, cpu_tdp_w))
        if "ram" in components:
            self._domains.append(self._ram_domain(memory_bytes))
        for gpu in gpus:
            self._domains.append(self._gpu_domain(gpu))
        self._last_t = clock()
        self._last_busy = self._host.scope_busy_s()[0]

    # -- model construction ------------------------------------------------------------
    def _cpu_domain(self, proc_root: str | Path, model: str | None, tdp: float | None) -> _Domain:
        info = read_cpu_info(proc_root)
        model = model or info.model
        usable = self._host.scope_cpus
        spec = find_cpu(model) if tdp is None else None
        constants: dict[str, Any] = {
            "formula": "P_max * (idle + (1 - idle) * u)",
            "cpu_model": model,
            "usable_cpus": round(usable, 3),
            "logical_cpus": info.logical_cpus,
            "idle_fraction": CPU_IDLE_FRACTION,
        }
        if tdp is not None or (spec is not None and not info.virtualised):
            tdp_w = tdp if tdp is not None else spec.tdp_w  # type: ignore[union-attr]
            share = info.sockets * usable / info.logical_cpus
            max_w = tuple(f * tdp_w * share for f in CPU_TDP_FACTOR)
            constants.update(
                model="cpu-tdp-share",
                tdp_w=tdp_w,
                tdp_source="user" if tdp is not None else f"catalogue: {spec.name}",  # type: ignore[union-attr]
                sockets=info.sockets,
                tdp_factor=CPU_TDP_FACTOR,
            )
        else:
            max_w = tuple(w * usable for w in CPU_W_PER_LOGICAL)
            why = (
                "virtual machine: host topology hidden"
                if info.virtualised
                else "CPU model not in the TDP catalogue"
            )
            constants.update(model="cpu-per-logical", w_per_cpu=CPU_W_PER_LOGICAL, reason=why)
        pm = PowerModel((max_w[0], max_w[1], max_w[2]), CPU_IDLE_FRACTION)
        constants["p_max_w"] = tuple(round(m, 2) for m in pm.max_w)
        dom = Domain(
            "estimate:cpu",
            "cpu",
            f"CPU ({model}, {usable:g} usable CPUs)",
            "estimated",
            "counter",
            constants,
        )
        return _Domain(dom, pm, self._cpu_utilisation)

    def _ram_domain(self, memory_bytes: int | None) -> _Domain:
        total = memory_bytes if memory_bytes is not None else psutil.virtual_memory().total
        limit = self._host.limits.memory_bytes
        gb = min(total, limit) / _GIB if limit else total / _GIB
        pm = PowerModel(tuple(w * gb for w in RAM_W_PER_GB), (1.0, 1.0, 1.0))  # type: ignore[arg-type]
        dom = Domain(
            "estimate:ram",
            "ram",
            f"RAM ({gb:.1f} GiB)",
            "estimated",
            "counter",
            {
                "model": "ram-per-gb",
                "formula": "W_per_GB * GB",
                "gb": round(gb, 3),
                "w_per_gb": RAM_W_PER_GB,
                "capped_by_cgroup": bool(limit and limit < total),
            },
        )
        return _Domain(dom, pm, lambda _dt: 0.0)

    def _gpu_domain(self, gpu: GpuToEstimate) -> _Domain:
        pm = PowerModel((gpu.tdp_w, gpu.tdp_w, gpu.tdp_w), GPU_IDLE_FRACTION)
        dom = Domain(
            f"estimate:gpu{gpu.index}",
            "gpu",
            f"GPU {gpu.index} ({gpu.name})",
            "estimated",
            "counter",
            {
                "model": "gpu-tdp-utilisation",
                "formula": "TDP * (idle + (1 - idle) * u)",
                "tdp_w": gpu.tdp_w,
                "idle_fraction": GPU_IDLE_FRACTION,
            },
        )
        return _Domain(dom, pm, lambda _dt: gpu.utilisation())

    # -- reading -----------------------------------------------------------------------
    def _cpu_utilisation(self, dt: float) -> float:
        busy = self._host.scope_busy_s()[0]
        used = busy - self._last_busy
        self._last_busy = busy
        if dt <= 0:
            return 0.0
        return used / (dt * self._host.scope_cpus)

    def domains(self) -> Sequence[Domain]:
        return [d.domain for d in self._domains]

    def read(self) -> list[Reading]:
        now = self._clock()
        dt = now - self._last_t
        self._last_t = now
        out = []
        for d in self._domains:
            if dt > 0:
                try:
                    u = d.util(dt)
                except Exception:  # a utilisation reader failing must not stop the run
                    u = 1.0  # conservative: assume full load
                d.power = d.model.power_w(u)
                for i in range(3):
                    d.energy[i] += d.power[i] * dt
            out.append(
                Reading(
                    d.domain.key,
                    energy_j=d.energy[1],
                    power_w=d.power[1],
                    power_low_w=d.power[0],
                    power_high_w=d.power[2],
                    energy_low_j=d.energy[0],
                    energy_high_j=d.energy[2],
                )
            )
        return out

    def close(self) -> None:
        """Close the sensors this estimate adopted. Idempotent."""
        adopted, self.adopted = self.adopted, ()
        for sensor in adopted:
            sensor.close()

    @classmethod
    def probe(cls, **params: Any) -> SensorProbe:
        try:
            sensor = cls(**params)
        except Exception as exc:  # probe never raises
            return SensorProbe(cls.name, False, detail=f"estimation model failed: {exc}")
        parts = []
        for d in sensor._domains:
            p = d.model.power_w(0.0), d.model.power_w(1.0)
            parts.append(
                f"{d.domain.label}: {p[0][1]:.1f}-{p[1][1]:.1f} W idle-full "
                f"({d.domain.model.get('model')})"
            )
        return SensorProbe(cls.name, True, tuple(sensor.domains()), "; ".join(parts))
