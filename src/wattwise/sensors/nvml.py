"""NVIDIA GPU energy from NVML (``pynvml``, package nvidia-ml-py); read-only.

Per visible GPU, the best source NVML offers:

* ``nvmlDeviceGetTotalEnergyConsumption`` (Volta and newer): the board's energy in mJ since
  the driver loaded, a 64-bit counter → a ``counter`` domain (J since the sensor opened). A
  fall of the counter means the driver reloaded; it is counted as a restart from zero.
* otherwise ``nvmlDeviceGetPowerUsage`` (mW; instantaneous up to GA100, a 1 s average on
  later boards) → a ``power`` domain (W) that the integrator integrates between samples.
* a GPU with neither is left out, with a note.

Domain keys are ``nvml:gpu<N>`` with N the **NVML index**: PCI bus order, the number
``nvidia-smi`` shows, the same whatever ``CUDA_VISIBLE_DEVICES`` says, so ranks of one job
on one node never share a key. The CUDA ordinal (``cuda:K``), the UUID and the name are in
the domain's label and ``model``. The CUDA ordinal is given only when it is certain:
NVML enumerates in PCI bus order, which CUDA follows only with ``CUDA_DEVICE_ORDER=PCI_BUS_ID``
(or one GPU, or UUID entries in ``CUDA_VISIBLE_DEVICES``); otherwise the probe says so.

``CUDA_VISIBLE_DEVICES`` is honoured with CUDA's rules (see :mod:`._visible`): indices,
``GPU-<uuid>`` prefixes, MIG devices (``MIG-<uuid>`` or ``MIG-GPU-<uuid>/<gi>/<ci>``),
empty = no GPU, the first invalid entry ends the list. NVML has no energy or power reading
per MIG instance, so a MIG device is measured through its parent GPU: the whole GPU's
energy, other tenants included, which the label says.

Attribution (:meth:`NvmlSensor.process_share`), per GPU:

1. ``nvmlDeviceGetProcessUtilization``: share = Σ smUtil of our pids / Σ smUtil of all
   processes, over the samples NVML took since the previous call (its ``timeStamp`` is kept
   per GPU; the first call also sees what NVML had buffered). Idle power is split in the
   same proportion as busy time.
2. When that is unsupported (MIG mode, some boards) or there were no samples:
   ``nvmlDeviceGetComputeRunningProcesses``: 1.0 when our processes are the only ones with
   a context on the GPU; with other processes, a **memory-share fallback**: our
   ``usedGpuMemory`` / everyone's; 0.0 when only other (local) processes are there.
3. No entry when it cannot be known: nobody holds a context, memory use is unavailable
   (``None``, e.g. Windows WDDM), or NVML's pids are not ours to see: NVML reports host PIDs,
   so inside a container with its own PID namespace none of them exists here.

:meth:`NvmlSensor.share_methods` tells which method gave each GPU's last share.

``nvmlInit`` is reference-counted by NVML, so this sensor's ``nvmlInit``/``nvmlShutdown``
pair does not disturb PyTorch or other NVML users in the process.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from wattwise.exceptions import SensorError, SensorPermissionError
from wattwise.sensors._base import Domain, Reading, Sensor
from wattwise.sensors._visible import (
    Selection,
    busy_share,
    context_share,
    match_prefix,
    parse_index,
    select,
    split_visible,
)
from wattwise.sensors.rapl import counter_delta

__all__ = ["NvmlSensor"]

logger = logging.getLogger("wattwise")

FIX_DRIVER = "install the NVIDIA driver (`nvidia-smi` must work), or run where a GPU is attached"
FIX_PIP = "pip install nvidia-ml-py"

# pynvml's return codes (nvml.h); read from the module when it has them.
_CODES = {
    "NVML_SUCCESS": 0,
    "NVML_ERROR_NOT_SUPPORTED": 3,
    "NVML_ERROR_NO_PERMISSION": 4,
    "NVML_ERROR_NOT_FOUND": 6,
    "NVML_ERROR_DRIVER_NOT_LOADED": 9,
    "NVML_ERROR_LIBRARY_NOT_FOUND": 12,
    "NVML_ERROR_FUNCTION_NOT_FOUND": 13,
    "NVML_ERROR_GPU_IS_LOST": 15,
    "NVML_ERROR_LIB_RM_VERSION_MISMATCH": 18,
}


def _code(nvml: ModuleType, name: str) -> int:
    value = getattr(nvml, name, _CODES[name])
    return int(value)


def _error_code(exc: BaseException) -> int | None:
    value = getattr(exc, "value", None)
    return value if isinstance(value, int) else None


def _translate(nvml: ModuleType, exc: BaseException, what: str) -> SensorError:
    """The wattwise error for an ``NVMLError`` raised while doing ``what``."""
    code = _error_code(exc)
    msg = f"nvml: {what}: {exc}"
    if code == _code(nvml, "NVML_ERROR_NO_PERMISSION"):
        return SensorPermissionError(f"{msg} (this user may not query the GPU)")
    if code == _code(nvml, "NVML_ERROR_GPU_IS_LOST"):
        return SensorError(f"{msg} (the GPU fell off the bus; it needs a reset or a reboot)")
    if code in (
        _code(nvml, "NVML_ERROR_DRIVER_NOT_LOADED"),
        _code(nvml, "NVML_ERROR_LIBRARY_NOT_FOUND"),
    ):
        return SensorError(f"{msg} (no NVIDIA driver)", FIX_DRIVER)
    return SensorError(msg)


def _init_error(nvml: ModuleType, exc: BaseException) -> SensorError:
    """Why ``nvmlInit`` failed, as the probe shows it."""
    code = _error_code(exc)
    if code == _code(nvml, "NVML_ERROR_LIBRARY_NOT_FOUND"):
        return SensorError(
            f"NVML library (libnvidia-ml.so.1) not found ({exc}): no NVIDIA driver here", FIX_DRIVER
        )
    if code == _code(nvml, "NVML_ERROR_DRIVER_NOT_LOADED"):
        return SensorError(f"the NVIDIA driver is not loaded ({exc})", FIX_DRIVER)
    if code == _code(nvml, "NVML_ERROR_LIB_RM_VERSION_MISMATCH"):
        return SensorError(
            f"NVML and kernel driver versions differ ({exc})",
            "reboot (or reload the nvidia kernel module) after a driver update",
        )
    if code == _code(nvml, "NVML_ERROR_NO_PERMISSION"):
        return SensorPermissionError(
            f"NVML refused this user ({exc})", "give this user read/write access to /dev/nvidia*"
        )
    return SensorError(f"nvmlInit failed: {exc}")


def _import_pynvml() -> ModuleType:
    try:
        return importlib.import_module("pynvml")
    except ImportError as exc:
        raise SensorError("the pynvml module is not installed", FIX_PIP) from exc


def _default_pid_exists(pid: int) -> bool:
    import psutil  # lazy: importing wattwise must stay light

    return bool(psutil.pid_exists(pid))


@dataclass(frozen=True)
class _Target:
    """One visible device: an NVML index and, for a MIG device, its UUID."""

    index: int
    mig: str | None = None


@dataclass
class _Gpu:
    domain: Domain
    handle: Any
    index: int
    counter: bool
    last_mj: int = 0
    total_mj: int = 0
    util_stamp_us: int = 0
    util_supported: bool = True


class NvmlSensor(Sensor):
    """NVIDIA GPUs through NVML: energy counters (J) where the GPU has one, else power (W).

    Args:
        nvml: the ``pynvml`` module, or a fake with its API (imported when ``None``).
        environ: where ``CUDA_VISIBLE_DEVICES``/``CUDA_DEVICE_ORDER`` are read
            (``os.environ`` when ``None``).
        pid_exists: whether a pid exists in this PID namespace (``psutil.pid_exists``);
            used to tell "other processes" from "pids of another namespace".

    Raises:
        SensorError: NVML cannot be loaded or initialised, or no visible GPU can be read.
    """

    name = "nvml"
    permission_fix = "give this user access to /dev/nvidia*"

    def __init__(
        self,
        *,
        nvml: ModuleType | None = None,
        environ: Mapping[str, str] | None = None,
        pid_exists: Callable[[int], bool] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._closed = True
        self._nvml = nvml if nvml is not None else _import_pynvml()
        self._pid_exists = pid_exists or _default_pid_exists
        self._gpus: list[_Gpu] = []
        self._notes: list[str] = []
        self._driver = "unknown"
        self._share_methods: dict[str, str] = {}
        self._ordinals_certain = False
        try:
            self._nvml.nvmlInit()
        except self._nvml.NVMLError as exc:
            raise _init_error(self._nvml, exc) from exc
        self._closed = False
        try:
            self._open(os.environ if environ is None else environ)
        except BaseException:
            self.close()
            raise

    # -- opening ------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` with an ``NVMLError`` translated."""
        try:
            return fn(*args)
        except self._nvml.NVMLError as exc:
            raise _translate(self._nvml, exc, what) from exc

    def _open(self, env: Mapping[str, str]) -> None:
        nvml = self._nvml
        try:
            self._driver = str(nvml.nvmlSystemGetDriverVersion())
        except nvml.NVMLError:
            self._driver = "unknown"
        count = int(self._call("counting GPUs", nvml.nvmlDeviceGetCount))
        if count == 0:
            raise SensorError(f"NVML (driver {self._driver}) sees no GPU")
        handles: list[Any] = []
        failures: dict[int, BaseException] = {}
        for i in range(count):
            try:
                handles.append(nvml.nvmlDeviceGetHandleByIndex(i))
            except nvml.NVMLError as exc:  # e.g. NO_PERMISSION on a GPU of another job
                handles.append(None)
                failures[i] = exc
        targets = self._visible(env, handles)
        by_index: dict[int, list[_Target]] = {}
        for t in targets:
            by_index.setdefault(t.index, []).append(t)
        for index, mine in by_index.items():
            if index in failures:
                self._notes.append(
                    f"GPU {index} cannot be opened ({failures[index]}): not measured"
                )
                continue
            gpu = self._open_gpu(index, handles[index], mine, targets)
            if gpu is not None:
                self._gpus.append(gpu)
        if not self._gpus:
            first = next((failures[t.index] for t in targets if t.index in failures), None)
            if first is not None:
                raise _translate(nvml, first, "opening the visible GPUs") from first
            raise SensorError(
                "no visible GPU has an energy counter or a power reading: " + "; ".join(self._notes)
            )

    def _visible(self, env: Mapping[str, str], handles: Sequence[Any]) -> list[_Target]:
        """The visible devices, in CUDA order, from ``CUDA_VISIBLE_DEVICES``."""
        count = len(handles)
        raw = env.get("CUDA_VISIBLE_DEVICES")
        if raw is None:
            targets = [_Target(i) for i in range(count)]
            by_index = True
        else:
            entries = split_visible(raw)
            sel: Selection[_Target] = select(entries, self._resolver(handles))
            targets = list(sel.items)
            by_index = any(parse_index(e, count) is not None for e in entries)
            if sel.stopped_at is not None:
                self._notes.append(
                    f"CUDA_VISIBLE_DEVICES entry {sel.stopped_at!r} names no GPU here: it and "
                    "the entries after it are ignored, as CUDA ignores them"
                )
            if sel.repeats:
                self._notes.append(
                    f"CUDA_VISIBLE_DEVICES repeats {', '.join(sel.repeats)}: counted once"
                )
            if not targets:
                raise SensorError(f"CUDA_VISIBLE_DEVICES={raw!r} hides every GPU")
        order = env.get("CUDA_DEVICE_ORDER", "")
        self._ordinals_certain = count == 1 or order == "PCI_BUS_ID" or not by_index
        if not self._ordinals_certain:
            self._notes.append(
                f"CUDA_DEVICE_ORDER is {order or 'unset'} and there are {count} GPUs: NVML "
                "numbers GPUs in PCI bus order, CUDA by default fastest first, so cuda:N and "
                "CUDA_VISIBLE_DEVICES indices may name other GPUs than nvml:gpuN; set "
                "CUDA_DEVICE_ORDER=PCI_BUS_ID to make them agree"
            )
        return targets

    def _resolver(self, handles: Sequence[Any]) -> Callable[[str], _Target | None]:
        """Maps one ``CUDA_VISIBLE_DEVICES`` entry to a device (``None``: invalid)."""
        count = len(handles)
        uuids: list[list[str]] = []
        migs: dict[str, int] = {}

        def resolve(entry: str) -> _Target | None:
            index = parse_index(entry, count)
            if index is not None:
                return _Target(index)
            upper = entry.upper()
            if not upper.startswith(("GPU-", "MIG-")):
                return None
            if not uuids:
                uuids.extend(
                    []
                    if h is None
                    else [
                        str(self._call(f"reading GPU {i}'s UUID", self._nvml.nvmlDeviceGetUUID, h))
                    ]
                    for i, h in enumerate(handles)
                )
            if upper.startswith("GPU-"):
                hit = match_prefix(entry, uuids)
                return None if hit is None else _Target(hit)
            if upper.startswith("MIG-GPU-"):  # before driver R470: MIG-GPU-<uuid>/<gi>/<ci>
                parent, sep, _ = entry[len("MIG-") :].partition("/")
                hit = match_prefix(parent, uuids)
                return None if hit is None or not sep else _Target(hit, entry)
            if not migs:
                migs.update(self._mig_devices(handles))
            names = list(migs)
            hit = match_prefix(entry, [[n] for n in names])
            return None if hit is None else _Target(migs[names[hit]], names[hit])

        return resolve

    def _mig_devices(self, handles: Sequence[Any]) -> dict[str, int]:
        """MIG device UUID → parent NVML index, for every GPU in MIG mode."""
        nvml = self._nvml
        found: dict[str, int] = {}
        for i, handle in enumerate(handles):
            if handle is None:
                continue
            try:
                if int(nvml.nvmlDeviceGetMigMode(handle)[0]) != 1:
                    continue
                slots = int(nvml.nvmlDeviceGetMaxMigDeviceCount(handle))
            except nvml.NVMLError:
                continue
            for slot in range(slots):
                try:
                    mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot)
                    found[str(nvml.nvmlDeviceGetUUID(mig))] = i
                except nvml.NVMLError:
                    continue  # empty slot
        return found

    def _open_gpu(
        self, index: int, handle: Any, mine: list[_Target], targets: list[_Target]
    ) -> _Gpu | None:
        nvml = self._nvml
        name = str(self._call(f"reading GPU {index}'s name", nvml.nvmlDeviceGetName, handle))
        uuid = str(self._call(f"reading GPU {index}'s UUID", nvml.nvmlDeviceGetUUID, handle))
        not_supported = _code(nvml, "NVML_ERROR_NOT_SUPPORTED")
        counter = True
        first_mj = 0
        try:
            first_mj = int(nvml.nvmlDeviceGetTotalEnergyConsumption(handle))
        except nvml.NVMLError as exc:
            if _error_code(exc) != not_supported:
                raise _translate(nvml, exc, f"reading GPU {index}'s energy counter") from exc
            counter = False
            try:
                nvml.nvmlDeviceGetPowerUsage(handle)
            except nvml.NVMLError as exc2:
                if _error_code(exc2) != not_supported:
                    raise _translate(nvml, exc2, f"reading GPU {index}'s power") from exc2
                self._notes.append(
                    f"GPU {index} ({name}) has neither an energy counter nor a "
                    "power reading: not measured"
                )
                return None
        try:
            tdp_w: float | None = int(nvml.nvmlDeviceGetPowerManagementDefaultLimit(handle)) / 1e3
        except nvml.NVMLError:
            tdp_w = None
        migs = tuple(t.mig for t in mine if t.mig is not None)
        whole = any(t.mig is None for t in mine)
        model: dict[str, Any] = {
            "name": name,
            "uuid": uuid,
            "nvml_index": index,
            "source": (
                "nvmlDeviceGetTotalEnergyConsumption" if counter else "nvmlDeviceGetPowerUsage"
            ),
        }
        if tdp_w is not None:
            model["tdp_w"] = tdp_w
        where = []
        if self._ordinals_certain:
            ordinals = [k for k, t in enumerate(targets) if t.index == index]
            model["cuda_devices"] = ordinals
            where = [f"cuda:{k}" for k in ordinals]
        label = f"{name} (GPU {index}{', ' + ', '.join(where) if where else ''})"
        if migs and not whole:
            model["mig"] = list(migs)
            label += f"; MIG {', '.join(migs)}: energy of the whole GPU, other MIG tenants included"
        domain = Domain(
            f"nvml:gpu{index}", "gpu", label, "measured", "counter" if counter else "power", model
        )
        return _Gpu(domain, handle, index, counter, last_mj=first_mj)

    # -- the sensor contract ------------------------------------------------------------
    def domains(self) -> Sequence[Domain]:
        return [g.domain for g in self._gpus]

    def read(self) -> list[Reading]:
        """Counter GPUs: energy since open (J); power GPUs: power now (W)."""
        nvml = self._nvml
        with self._lock:
            if self._closed:
                raise SensorError("nvml: read after close()")
            out = []
            for g in self._gpus:
                try:
                    if g.counter:
                        now = int(nvml.nvmlDeviceGetTotalEnergyConsumption(g.handle))
                        g.total_mj += counter_delta(g.last_mj, now, None)
                        g.last_mj = now
                        out.append(Reading(g.domain.key, energy_j=g.total_mj / 1e3))
                    else:
                        mw = int(nvml.nvmlDeviceGetPowerUsage(g.handle))
                        out.append(Reading(g.domain.key, power_w=mw / 1e3))
                except nvml.NVMLError as exc:
                    raise _translate(nvml, exc, f"reading GPU {g.index}") from exc
            return out

    def process_share(self, pids: Collection[int]) -> dict[str, float]:
        """Share (0..1) of each GPU's energy due to ``pids``; see the module docstring."""
        wanted = {int(p) for p in pids}
        out: dict[str, float] = {}
        if not wanted:
            return out
        with self._lock:
            if self._closed:
                return out
            for g in self._gpus:
                share = self._share_from_samples(g, wanted)
                method = "sm-utilisation"
                if share is None:
                    share, method = self._share_from_processes(g, wanted)
                if share is None:
                    self._share_methods.pop(g.domain.key, None)
                    continue
                out[g.domain.key] = min(max(share, 0.0), 1.0)
                self._share_methods[g.domain.key] = method
        return out

    def share_methods(self) -> dict[str, str]:
        """How the last share of each GPU was found: ``sm-utilisation``, ``sole-process``,
        ``memory-share`` (fallback) or ``other-processes``."""
        with self._lock:
            return dict(self._share_methods)

    def _share_from_samples(self, g: _Gpu, pids: set[int]) -> float | None:
        """SM-utilisation share over the samples since the last call; ``None``: fall back."""
        if not g.util_supported:
            return None
        nvml = self._nvml
        try:
            samples = nvml.nvmlDeviceGetProcessUtilization(g.handle, g.util_stamp_us)
        except nvml.NVMLError as exc:
            # NOT_FOUND: no process was busy since the stamp (pynvml may also raise code 0).
            if _error_code(exc) == _code(nvml, "NVML_ERROR_NOT_SUPPORTED"):
                g.util_supported = False
            return None
        if not samples:
            return None
        g.util_stamp_us = max(g.util_stamp_us, *(int(s.timeStamp) for s in samples))
        busy: dict[int, float] = {}
        for s in samples:
            busy[int(s.pid)] = busy.get(int(s.pid), 0.0) + float(s.smUtil)
        return busy_share(busy, pids, self._pid_exists)

    def _share_from_processes(self, g: _Gpu, pids: set[int]) -> tuple[float | None, str]:
        """Who holds a context on the GPU; memory split when several do."""
        nvml = self._nvml
        errors: tuple[type[BaseException], ...] = (nvml.NVMLError,)
        mismatch = getattr(nvml, "NVMLLibraryMismatchError", None)
        if isinstance(mismatch, type) and issubclass(mismatch, BaseException):
            errors += (mismatch,)
        try:
            procs = list(nvml.nvmlDeviceGetComputeRunningProcesses(g.handle))
        except errors:
            return None, ""
        memory: dict[int, int | None] = {}
        for p in procs:
            used = p.usedGpuMemory
            pid = int(p.pid)
            if used is None or memory.get(pid, 0) is None:
                memory[pid] = None
            else:
                memory[pid] = (memory.get(pid) or 0) + int(used)
        return context_share(memory, pids, self._pid_exists)

    def utilization(self) -> dict[str, float]:
        """GPU busy fraction (0..1, ``nvmlDeviceGetUtilizationRates().gpu``) per domain key.

        For the estimate that replaces a GPU whose readings failed; GPUs that cannot tell
        (MIG mode, lost GPU) are left out.
        """
        nvml = self._nvml
        out: dict[str, float] = {}
        with self._lock:
            if self._closed:
                raise SensorError("nvml: utilization() after close()")
            for g in self._gpus:
                try:
                    rates = nvml.nvmlDeviceGetUtilizationRates(g.handle)
                except nvml.NVMLError:
                    continue
                out[g.domain.key] = min(max(int(rates.gpu) / 100.0, 0.0), 1.0)
        return out

    def describe(self) -> str:
        """One line: driver, each GPU and its source, and the notes."""
        parts = [f"NVIDIA driver {self._driver}"]
        for g in self._gpus:
            how = (
                "energy counter" if g.counter else "no energy counter: power sampled and integrated"
            )
            parts.append(f"GPU {g.index} {g.domain.model['name']}: {how}")
        return "; ".join(parts + self._notes)

    def close(self) -> None:
        """Release NVML (``nvmlShutdown``, once). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._nvml.nvmlShutdown()
        except self._nvml.NVMLError as exc:
            logger.debug("nvmlShutdown failed: %s", exc)
