"""A scriptable stand-in for the ``pynvml`` module (package nvidia-ml-py), for tests without a GPU.

The functions have the real names and parameters (checked against nvidia-ml-py 13.x by
``tests/sensors/test_nvml.py``), the ``NVML_*`` constants have the real values, and errors
are raised the way pynvml raises them: ``NVMLError(code)`` returns the per-code subclass
(``NVMLError_NotSupported``, ``NVMLError_NoPermission``, ...). Values keep NVML's units:
energy in mJ, power in mW, utilisation in percent, timestamps in µs.

Example::

    fake = FakeNvml([FakeGpu(energy_mj=1_000), FakeGpu(energy_mj=None)])  # 2nd: no counter
    sensor = NvmlSensor(nvml=fake.module(), environ={})
    fake.advance(2.0)                        # every GPU draws its power_mw for 2 s
    fake.fail(NVML_ERROR_GPU_IS_LOST, function="nvmlDeviceGetTotalEnergyConsumption")
"""

from __future__ import annotations

import string
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

__all__ = [
    "FakeGpu",
    "FakeNvml",
    "NVMLError",
    "NVMLLibraryMismatchError",
    "ProcessInfo",
    "ProcessSample",
    "Utilization",
]

# Return codes, as in nvml.h / pynvml.
NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_ALREADY_INITIALIZED = 5
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_INSUFFICIENT_SIZE = 7
NVML_ERROR_INSUFFICIENT_POWER = 8
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_TIMEOUT = 10
NVML_ERROR_IRQ_ISSUE = 11
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_CORRUPTED_INFOROM = 14
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_RESET_REQUIRED = 16
NVML_ERROR_OPERATING_SYSTEM = 17
NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18
NVML_ERROR_IN_USE = 19
NVML_ERROR_MEMORY = 20
NVML_ERROR_NO_DATA = 21
NVML_ERROR_VGPU_ECC_NOT_SUPPORTED = 22
NVML_ERROR_INSUFFICIENT_RESOURCES = 23
NVML_ERROR_FREQ_NOT_SUPPORTED = 24
NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25
NVML_ERROR_DEPRECATED = 26
NVML_ERROR_NOT_READY = 27
NVML_ERROR_GPU_NOT_FOUND = 28
NVML_ERROR_INVALID_STATE = 29
NVML_ERROR_RESET_TYPE_NOT_SUPPORTED = 30
NVML_ERROR_UNKNOWN = 999

NVML_DEVICE_MIG_DISABLE = 0
NVML_DEVICE_MIG_ENABLE = 1

_ERROR_CODES = {k: v for k, v in globals().items() if k.startswith("NVML_ERROR_")}
_CONSTANTS = {k: v for k, v in globals().items() if k.startswith("NVML_")}

_MESSAGES = {  # what str(NVMLError) says in pynvml
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
    NVML_ERROR_NOT_FOUND: "Not Found",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_FUNCTION_NOT_FOUND: "Function Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
    NVML_ERROR_LIB_RM_VERSION_MISMATCH: "RM has detected an NVML/RM version mismatch.",
    NVML_ERROR_UNKNOWN: "Unknown Error",
}


class NVMLError(Exception):
    """pynvml's error: ``NVMLError(code)`` builds the subclass registered for ``code``."""

    _valClassMapping: ClassVar[dict[int, type[NVMLError]]] = {}
    value: int

    def __new__(cls, value: int) -> NVMLError:
        if cls is NVMLError:
            cls = NVMLError._valClassMapping.get(value, cls)
        obj = Exception.__new__(cls)
        obj.value = value
        return obj

    def __init__(self, value: int) -> None:
        super().__init__(value)

    def __str__(self) -> str:
        if self.value in _MESSAGES:
            return _MESSAGES[self.value]
        name = next((k for k, v in _ERROR_CODES.items() if v == self.value), None)
        if name is None:
            return f"NVML Error with code {self.value}"
        return string.capwords(name[len("NVML_ERROR_") :].replace("_", " "))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NVMLError) and self.value == other.value

    __hash__ = Exception.__hash__


def _error_class_name(constant: str) -> str:
    """``NVML_ERROR_NOT_SUPPORTED`` → ``NVMLError_NotSupported``, pynvml's naming rule."""
    words = string.capwords(constant[len("NVML_ERROR_") :], "_").replace("_", "")
    return f"NVMLError_{words}"


def _make_error_class(code: int, name: str) -> type[NVMLError]:
    def new(cls: type[NVMLError], *args: object) -> NVMLError:
        return NVMLError.__new__(cls, code)

    def init(self: NVMLError, *args: object) -> None:
        Exception.__init__(self, code)

    return type(name, (NVMLError,), {"__new__": new, "__init__": init, "__module__": __name__})


ERROR_CLASSES: dict[str, type[NVMLError]] = {}
"""Every per-code subclass by name, e.g. ``ERROR_CLASSES["NVMLError_NotSupported"]``."""
for _constant, _code in _ERROR_CODES.items():
    _cls = _make_error_class(_code, _error_class_name(_constant))
    ERROR_CLASSES[_cls.__name__] = _cls
    NVMLError._valClassMapping[_code] = _cls
globals().update(ERROR_CLASSES)


class NVMLLibraryMismatchError(Exception):
    """Raised by pynvml's unversioned wrappers when libnvidia-ml lacks the function."""


@dataclass
class ProcessSample:
    """One ``nvmlProcessUtilizationSample_t``: utilisation in %, ``timeStamp`` in µs."""

    pid: int
    timeStamp: int
    smUtil: int
    memUtil: int = 0
    encUtil: int = 0
    decUtil: int = 0


@dataclass
class ProcessInfo:
    """One ``nvmlProcessInfo_t``: ``usedGpuMemory`` in bytes, ``None`` when unavailable."""

    pid: int
    usedGpuMemory: int | None
    gpuInstanceId: int = 0xFFFFFFFF
    computeInstanceId: int = 0xFFFFFFFF


@dataclass
class Utilization:
    """``nvmlUtilization_t``: busy percentages over the last sample period."""

    gpu: int
    memory: int


@dataclass
class FakeGpu:
    """One scripted GPU. ``None`` for a reading means NVML answers ``NOT_SUPPORTED``.

    Attributes:
        name: what ``nvmlDeviceGetName`` returns.
        uuid: ``GPU-...``; generated from the index when empty.
        energy_mj: ``nvmlDeviceGetTotalEnergyConsumption`` (mJ since driver load; Volta+).
        power_mw: ``nvmlDeviceGetPowerUsage`` (mW).
        default_limit_mw: ``nvmlDeviceGetPowerManagementDefaultLimit`` (mW, about the TDP).
        utilization: ``nvmlDeviceGetUtilizationRates().gpu`` (%).
        samples: what ``nvmlDeviceGetProcessUtilization`` draws from (newer than its stamp).
        process_utilization: ``False``: that call answers ``NOT_SUPPORTED``.
        processes: ``nvmlDeviceGetComputeRunningProcesses``.
        mig_uuids: MIG devices (``MIG-...``); non-empty puts the GPU in MIG mode.
    """

    name: str = "NVIDIA A100-SXM4-80GB"
    uuid: str = ""
    energy_mj: int | None = 0
    power_mw: int | None = 250_000
    default_limit_mw: int | None = 400_000
    utilization: int | None = 0
    samples: list[ProcessSample] = field(default_factory=list)
    process_utilization: bool = True
    processes: list[ProcessInfo] = field(default_factory=list)
    mig_uuids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Handle:
    """An opaque device handle (pynvml gives a ``c_nvmlDevice_t`` pointer)."""

    index: int
    mig: int | None = None


@dataclass
class _Failure:
    code: int
    function: str | None
    at_call: int
    times: int | None


class FakeNvml:
    """The state behind a fake ``pynvml`` module; :meth:`module` gives the module itself.

    Args:
        gpus: the GPUs, in NVML (PCI bus) order.
        driver_version: what ``nvmlSystemGetDriverVersion`` returns.
        init_error: an ``NVML_ERROR_*`` code ``nvmlInit`` raises (e.g. library not found).
    """

    def __init__(
        self,
        gpus: Sequence[FakeGpu] = (),
        *,
        driver_version: str = "550.54.15",
        init_error: int | None = None,
    ) -> None:
        self.gpus = list(gpus)
        for i, gpu in enumerate(self.gpus):
            if not gpu.uuid:
                gpu.uuid = f"GPU-{i:08x}-0000-4000-8000-{i:012x}"
        self.driver_version = driver_version
        self.init_error = init_error
        self.calls: list[str] = []
        self.refcount = 0
        self._failures: list[_Failure] = []
        self._counts: dict[str | None, int] = {}

    # -- scripting ----------------------------------------------------------------------
    def fail(
        self,
        code: int,
        *,
        function: str | None = None,
        at_call: int | None = None,
        times: int | None = None,
    ) -> None:
        """Make the Nth call from now raise ``NVMLError(code)``, as a driver error would.

        Counts calls of ``function`` (of every function when ``None``). The ``at_call``-th
        one from now (default 1: the next) fails, and so do the ``times - 1`` after it
        (``times=None``, the default: every call from then on, like a lost GPU).
        """
        done = self._counts.get(function, 0)
        self._failures.append(_Failure(code, function, done + (at_call or 1), times))

    def advance(self, seconds: float) -> None:
        """Let every GPU draw its ``power_mw`` for ``seconds``: energy counters rise."""
        for gpu in self.gpus:
            if gpu.energy_mj is not None and gpu.power_mw is not None:
                gpu.energy_mj += round(gpu.power_mw * seconds)

    def calls_to(self, function: str) -> int:
        """How many times ``function`` was called."""
        return self.calls.count(function)

    def module(self) -> types.ModuleType:
        """A module object with pynvml's functions, constants and error classes."""
        mod = types.ModuleType("pynvml", "fake pynvml (wattwise.testing.fake_nvml)")
        for name, value in _CONSTANTS.items():
            setattr(mod, name, value)
        mod.__dict__["NVMLError"] = NVMLError
        for name, cls in ERROR_CLASSES.items():
            setattr(mod, name, cls)
        mod.__dict__["NVMLLibraryMismatchError"] = NVMLLibraryMismatchError
        for name in dir(self):
            if name.startswith("nvml"):
                setattr(mod, name, getattr(self, name))
        mod.__dict__["fake"] = self
        return mod

    # -- plumbing -----------------------------------------------------------------------
    def _enter(self, function: str, *, needs_init: bool = True) -> None:
        self.calls.append(function)
        for key in (function, None):
            self._counts[key] = self._counts.get(key, 0) + 1
        for failure in self._failures:
            if failure.function not in (None, function):
                continue
            n = self._counts[failure.function]
            last = None if failure.times is None else failure.at_call + failure.times - 1
            if n >= failure.at_call and (last is None or n <= last):
                raise NVMLError(failure.code)
        if needs_init and self.refcount <= 0:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)

    def _gpu(self, handle: object) -> FakeGpu:
        if not isinstance(handle, _Handle) or not 0 <= handle.index < len(self.gpus):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return self.gpus[handle.index]

    def _whole(self, handle: object) -> FakeGpu:
        """The GPU of a full-device handle; MIG handles answer NOT_SUPPORTED."""
        gpu = self._gpu(handle)
        assert isinstance(handle, _Handle)
        if handle.mig is not None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return gpu

    # -- the pynvml API (same names and parameters) -------------------------------------
    def nvmlInit(self) -> None:
        """Load the library and take a reference (NVML counts nvmlInit calls)."""
        self._enter("nvmlInit", needs_init=False)
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.refcount += 1

    def nvmlInitWithFlags(self, flags: int) -> None:
        """Like :meth:`nvmlInit`."""
        self._enter("nvmlInitWithFlags", needs_init=False)
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.refcount += 1

    def nvmlShutdown(self) -> None:
        """Drop a reference; ``UNINITIALIZED`` when there is none."""
        self._enter("nvmlShutdown")
        self.refcount -= 1

    def nvmlSystemGetDriverVersion(self) -> str:
        self._enter("nvmlSystemGetDriverVersion")
        return self.driver_version

    def nvmlDeviceGetCount(self) -> int:
        self._enter("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> _Handle:
        self._enter("nvmlDeviceGetHandleByIndex")
        if not 0 <= index < len(self.gpus):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return _Handle(index)

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> _Handle:
        self._enter("nvmlDeviceGetHandleByUUID")
        for i, gpu in enumerate(self.gpus):
            if gpu.uuid == uuid:
                return _Handle(i)
        raise NVMLError(NVML_ERROR_NOT_FOUND)

    def nvmlDeviceGetIndex(self, handle: object) -> int:
        self._enter("nvmlDeviceGetIndex")
        self._gpu(handle)
        assert isinstance(handle, _Handle)
        return handle.index if handle.mig is None else handle.mig

    def nvmlDeviceGetName(self, handle: object) -> str:
        self._enter("nvmlDeviceGetName")
        gpu = self._gpu(handle)
        assert isinstance(handle, _Handle)
        return gpu.name if handle.mig is None else f"{gpu.name} MIG 1g.10gb"

    def nvmlDeviceGetUUID(self, handle: object) -> str:
        self._enter("nvmlDeviceGetUUID")
        gpu = self._gpu(handle)
        assert isinstance(handle, _Handle)
        return gpu.uuid if handle.mig is None else gpu.mig_uuids[handle.mig]

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: object) -> int:
        """Energy since the driver loaded (mJ)."""
        self._enter("nvmlDeviceGetTotalEnergyConsumption")
        gpu = self._whole(handle)
        if gpu.energy_mj is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return gpu.energy_mj

    def nvmlDeviceGetPowerUsage(self, handle: object) -> int:
        """Board power (mW)."""
        self._enter("nvmlDeviceGetPowerUsage")
        gpu = self._whole(handle)
        if gpu.power_mw is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return gpu.power_mw

    def nvmlDeviceGetPowerManagementDefaultLimit(self, handle: object) -> int:
        """Default power limit (mW)."""
        self._enter("nvmlDeviceGetPowerManagementDefaultLimit")
        gpu = self._whole(handle)
        if gpu.default_limit_mw is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return gpu.default_limit_mw

    def nvmlDeviceGetUtilizationRates(self, handle: object) -> Utilization:
        self._enter("nvmlDeviceGetUtilizationRates")
        gpu = self._whole(handle)
        if gpu.utilization is None or gpu.mig_uuids:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return Utilization(gpu.utilization, 0)

    def nvmlDeviceGetProcessUtilization(
        self, handle: object, timeStamp: int
    ) -> list[ProcessSample]:
        """Samples newer than ``timeStamp`` (µs); ``NOT_FOUND`` when there are none."""
        self._enter("nvmlDeviceGetProcessUtilization")
        gpu = self._whole(handle)
        if not gpu.process_utilization or gpu.mig_uuids:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        fresh = [s for s in gpu.samples if s.timeStamp > timeStamp]
        if not fresh:
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return fresh

    def nvmlDeviceGetComputeRunningProcesses(self, handle: object) -> list[ProcessInfo]:
        self._enter("nvmlDeviceGetComputeRunningProcesses")
        return list(self._whole(handle).processes)

    def nvmlDeviceGetMigMode(self, device: object) -> list[int]:
        """``[current, pending]``: 1 when MIG is enabled."""
        self._enter("nvmlDeviceGetMigMode")
        gpu = self._whole(device)
        mode = NVML_DEVICE_MIG_ENABLE if gpu.mig_uuids else NVML_DEVICE_MIG_DISABLE
        return [mode, mode]

    def nvmlDeviceGetMaxMigDeviceCount(self, device: object) -> int:
        self._enter("nvmlDeviceGetMaxMigDeviceCount")
        return 7 if self._whole(device).mig_uuids else 0

    def nvmlDeviceGetMigDeviceHandleByIndex(self, device: object, index: int) -> _Handle:
        self._enter("nvmlDeviceGetMigDeviceHandleByIndex")
        gpu = self._whole(device)
        assert isinstance(device, _Handle)
        if not 0 <= index < len(gpu.mig_uuids):
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return _Handle(device.index, index)

    def nvmlDeviceGetDeviceHandleFromMigDeviceHandle(self, migDevice: object) -> _Handle:
        self._enter("nvmlDeviceGetDeviceHandleFromMigDeviceHandle")
        self._gpu(migDevice)
        assert isinstance(migDevice, _Handle)
        return _Handle(migDevice.index)

    def nvmlDeviceIsMigDeviceHandle(self, device: object) -> int:
        self._enter("nvmlDeviceIsMigDeviceHandle")
        self._gpu(device)
        assert isinstance(device, _Handle)
        return int(device.mig is not None)
