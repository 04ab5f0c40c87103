"""Which sensors exist, in which order they are tried, and how they are combined.

Per component the first available measured source wins: CPU from ``rapl``, else ``perf``,
else ``hwmon``; RAM from the DRAM domain of whichever of those was chosen; GPUs from
``nvml`` and ``amdsmi``. A platform (``psys``) domain already contains CPU and RAM, so it
covers both. Whatever is left is estimated by ``estimate``, labelled as such.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wattwise.exceptions import SensorError
from wattwise.hardware import find_gpu
from wattwise.sensors._base import Domain, Sensor, SensorProbe
from wattwise.sensors.estimate import EstimateSensor, GpuToEstimate
from wattwise.units import Component

__all__ = [
    "SENSOR_NAMES",
    "DetectedSensors",
    "detect_sensors",
    "fallback_for",
    "probe_sensors",
    "sensor_class",
]

logger = logging.getLogger("wattwise")

_CLASSES = {
    "rapl": "wattwise.sensors.rapl:RaplSensor",
    "perf": "wattwise.sensors.perf:PerfSensor",
    "hwmon": "wattwise.sensors.hwmon:HwmonSensor",
    "nvml": "wattwise.sensors.nvml:NvmlSensor",
    "amdsmi": "wattwise.sensors.amdsmi:AmdSmiSensor",
    "estimate": "wattwise.sensors.estimate:EstimateSensor",
}
SENSOR_NAMES = tuple(_CLASSES)
_CPU_SOURCES = ("rapl", "perf", "hwmon")
_GPU_SOURCES = ("nvml", "amdsmi")


def sensor_class(name: str) -> type[Sensor]:
    """The sensor class registered under ``name`` (imported on demand)."""
    module, _, attr = _CLASSES[name].partition(":")
    cls: type[Sensor] = getattr(importlib.import_module(module), attr)
    return cls


def _params(
    name: str, sysfs_root: str, proc_root: str, environ: Mapping[str, str]
) -> dict[str, Any]:
    if name in ("rapl", "hwmon"):
        return {"sysfs_root": sysfs_root}
    if name == "perf":
        return {"sysfs_root": sysfs_root, "proc_root": proc_root}
    if name in _GPU_SOURCES:
        return {"environ": environ}
    return {"proc_root": proc_root}


def probe_sensors(
    *,
    sysfs_root: str = "/sys",
    proc_root: str = "/proc",
    environ: Mapping[str, str] | None = None,
    names: Sequence[str] = SENSOR_NAMES,
) -> list[SensorProbe]:
    """Probe each sensor on this machine; never raises."""
    env = os.environ if environ is None else environ
    out = []
    for name in names:
        try:
            cls = sensor_class(name)
            out.append(cls.probe(**_params(name, sysfs_root, proc_root, env)))
        except Exception as exc:  # a broken sensor module must not break the probe
            out.append(SensorProbe(name, False, detail=f"probe failed: {exc}"))
    return out


@dataclass(frozen=True)
class DetectedSensors:
    """The sensors a run will read, and why each other one is not used."""

    sensors: tuple[Sensor, ...]
    notes: tuple[str, ...]


def detect_sensors(
    *,
    sysfs_root: str = "/sys",
    proc_root: str = "/proc",
    environ: Mapping[str, str] | None = None,
    only: Sequence[str] | None = None,
    strict: bool = False,
) -> DetectedSensors:
    """Open the best source per component; estimate the rest unless ``strict``."""
    env = os.environ if environ is None else environ
    wanted = tuple(only) if only else SENSOR_NAMES
    unknown = [n for n in wanted if n not in _CLASSES]
    if unknown:
        from wattwise.exceptions import ConfigError

        raise ConfigError(
            f"unknown sensor(s) {', '.join(unknown)}; choose from {', '.join(SENSOR_NAMES)}"
        )
    sensors: list[Sensor] = []
    notes: list[str] = []
    covered: set[Component] = set()
    for name in wanted:
        if name == "estimate":
            continue
        if name in _CPU_SOURCES and "cpu" in covered:
            continue
        try:
            sensor = sensor_class(name)(**_params(name, sysfs_root, proc_root, env))
        except SensorError as exc:
            notes.append(f"{name}: {exc}")
            continue
        except Exception as exc:  # an unexpected failure only costs that sensor
            notes.append(f"{name}: unexpected error {exc!r}")
            continue
        comps = {d.component for d in sensor.domains()}
        if name in _CPU_SOURCES and "other" in comps:
            comps |= {"cpu", "ram"}  # psys: the whole platform, CPU and DRAM included
        if not comps:
            sensor.close()
            notes.append(f"{name}: no domains")
            continue
        sensors.append(sensor)
        covered |= comps
    missing: list[Component] = [c for c in ("cpu", "ram") if c not in covered]
    if missing and "estimate" in wanted:
        if strict:
            for opened in sensors:  # nothing is returned, so nothing may stay open
                opened.close()
            raise SensorError(
                f"no sensor measures {', '.join(missing)} here and strict mode forbids the "
                f"estimate ({'; '.join(notes) or 'nothing found'}); run `wattwise sensors`"
            )
        sensors.append(EstimateSensor(components=missing, proc_root=proc_root))
        notes.append(f"estimate: {', '.join(missing)} estimated (no sensor measures them here)")
    return DetectedSensors(tuple(sensors), tuple(notes))


def fallback_for(
    sensor: Sensor, failed: Sequence[Domain], *, proc_root: str = "/proc"
) -> Sensor | None:
    """The estimate that replaces ``sensor``'s ``failed`` domains for the rest of a run."""
    comps = {d.component for d in failed}
    if "other" in comps and getattr(sensor, "name", "") in _CPU_SOURCES:
        comps |= {"cpu", "ram"}  # a failed psys: the platform's CPU and RAM go unread
    gpus = []
    for i, d in enumerate(x for x in failed if x.component == "gpu"):
        name = str(d.model.get("name", d.label))
        spec = find_gpu(name)
        tdp = float(d.model.get("tdp_w") or (spec.tdp_w if spec else 300.0))
        util_reader = getattr(sensor, "utilization", None)

        def util(key: str = d.key, reader: Any = util_reader) -> float:
            if reader is None:
                raise SensorError("utilisation unavailable")
            return float(reader().get(key, 1.0))

        gpus.append(GpuToEstimate(i, name, tdp, util))
    cpu_ram: list[Component] = [c for c in ("cpu", "ram") if c in comps]
    if not cpu_ram and not gpus:
        return None
    # a failed GPU sensor may still report utilisation: the estimate keeps it open
    return EstimateSensor(
        components=cpu_ram, gpus=gpus, proc_root=proc_root, adopted=(sensor,) if gpus else ()
    )
