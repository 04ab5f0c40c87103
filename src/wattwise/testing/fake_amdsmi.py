"""A scriptable stand-in for the ``amdsmi`` Python package (AMD SMI), for tests without a GPU.

amdsmi is not installed here, so this fake follows the published API, checked against
ROCm/amdsmi ``py-interface/amdsmi_interface.py`` (commit 4bc305a6, ROCm 6.4/7.x era),
``amdsmi_exception.py`` and ``docs/reference/amdsmi-py-api.md``:

* ``amdsmi_init(flag=AmdSmiInitFlags.INIT_AMD_GPUS)``, ``amdsmi_shut_down()``,
  ``amdsmi_get_processor_handles()``;
* ``amdsmi_get_energy_count(processor_handle)`` → ``{"energy_accumulator", "counter_resolution",
  "timestamp"}``; before ROCm 6.4 the count was under ``"power"`` (``energy_api="power"``).
  Energy in µJ = count × ``counter_resolution`` (e.g. 15.3 µJ per count);
* ``amdsmi_get_power_info(processor_handle, sensor_ind=0)`` → socket power in W, ``"N/A"``
  where unsupported (``socket_power`` on ROCm 7, ``current_socket_power`` on MI300+,
  ``average_socket_power`` on MI200 and older);
* ``amdsmi_get_gpu_process_list(processor_handle)`` → dicts with ``pid``, ``mem`` (bytes),
  ``engine_usage`` ``{"gfx", "enc"}`` (ns, cumulative), ``memory_usage``, ``cu_occupancy``;
* errors: ``AmdSmiLibraryException(err_code)`` with ``get_error_code()`` and the
  ``AMDSMI_STATUS_*`` codes of ``amdsmi_wrapper``.

Example::

    fake = FakeAmdSmi([FakeAmdGpu(energy_count=1_000), FakeAmdGpu(energy_count=None)])
    sensor = AmdSmiSensor(amdsmi=fake.module(), environ={})
    fake.advance(2.0)
    fake.fail(AMDSMI_STATUS_NO_PERM, function="amdsmi_get_energy_count")
"""

from __future__ import annotations

import enum
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "AmdSmiException",
    "AmdSmiInitFlags",
    "AmdSmiLibraryException",
    "AmdSmiParameterException",
    "AmdSmiRetryException",
    "AmdSmiTimeoutException",
    "FakeAmdGpu",
    "FakeAmdSmi",
    "process",
]

# amdsmi_status_t (amd_smi.h); the Python package exposes them as amdsmi_wrapper.AMDSMI_STATUS_*.
AMDSMI_STATUS_SUCCESS = 0
AMDSMI_STATUS_INVAL = 1
AMDSMI_STATUS_NOT_SUPPORTED = 2
AMDSMI_STATUS_NOT_YET_IMPLEMENTED = 3
AMDSMI_STATUS_FAIL_LOAD_MODULE = 4
AMDSMI_STATUS_FAIL_LOAD_SYMBOL = 5
AMDSMI_STATUS_DRM_ERROR = 6
AMDSMI_STATUS_API_FAILED = 7
AMDSMI_STATUS_TIMEOUT = 8
AMDSMI_STATUS_RETRY = 9
AMDSMI_STATUS_NO_PERM = 10
AMDSMI_STATUS_INTERRUPT = 11
AMDSMI_STATUS_IO = 12
AMDSMI_STATUS_ADDRESS_FAULT = 13
AMDSMI_STATUS_FILE_ERROR = 14
AMDSMI_STATUS_OUT_OF_RESOURCES = 15
AMDSMI_STATUS_INTERNAL_EXCEPTION = 16
AMDSMI_STATUS_INPUT_OUT_OF_BOUNDS = 17
AMDSMI_STATUS_INIT_ERROR = 18
AMDSMI_STATUS_REFCOUNT_OVERFLOW = 19
AMDSMI_STATUS_BUSY = 30
AMDSMI_STATUS_NOT_FOUND = 31
AMDSMI_STATUS_NOT_INIT = 32
AMDSMI_STATUS_NO_SLOT = 33
AMDSMI_STATUS_DRIVER_NOT_LOADED = 34
AMDSMI_STATUS_NO_DATA = 40
AMDSMI_STATUS_INSUFFICIENT_SIZE = 41
AMDSMI_STATUS_UNEXPECTED_SIZE = 42
AMDSMI_STATUS_UNKNOWN_ERROR = 0xFFFFFFFF

_STATUS = {k: v for k, v in globals().items() if k.startswith("AMDSMI_STATUS_")}

NA = "N/A"
"""What amdsmi puts in a field the device does not support."""


class AmdSmiException(Exception):
    """Base of amdsmi's errors."""


class AmdSmiLibraryException(AmdSmiException):
    """A status code other than success from the C library."""

    def __init__(self, err_code: int) -> None:
        err_code = abs(err_code)
        super().__init__(err_code)
        self.err_code = err_code
        name = next((k for k, v in _STATUS.items() if v == err_code), "AMDSMI_STATUS_UNKNOWN_ERROR")
        self.err_info = name

    def __str__(self) -> str:
        return f"Error code:\n\t{self.err_code} | {self.err_info}"

    def get_error_info(self) -> str:
        return self.err_info

    def get_error_code(self) -> int:
        return self.err_code


class AmdSmiRetryException(AmdSmiLibraryException):
    def __init__(self) -> None:
        super().__init__(AMDSMI_STATUS_RETRY)


class AmdSmiTimeoutException(AmdSmiLibraryException):
    def __init__(self) -> None:
        super().__init__(AMDSMI_STATUS_TIMEOUT)


class AmdSmiParameterException(AmdSmiException):
    """A Python argument of the wrong type."""

    def __init__(self, receivedValue: object, expectedType: object, msg: str | None = None):
        super().__init__(msg)
        self.err_code = None
        self.err_msg = msg or f"Invalid parameter: {type(receivedValue)}, expected {expectedType}"

    def __str__(self) -> str:
        return self.err_msg


class AmdSmiInitFlags(enum.IntEnum):
    """``amdsmi_init`` flags (``AMDSMI_INIT_*``)."""

    INIT_ALL_PROCESSORS = 0xFFFFFFFF
    INIT_AMD_CPUS = 1 << 0
    INIT_AMD_GPUS = 1 << 1
    INIT_NON_AMD_CPUS = 1 << 2
    INIT_NON_AMD_GPUS = 1 << 3
    INIT_AMD_APUS = (1 << 0) | (1 << 1)


@dataclass
class FakeAmdGpu:
    """One scripted AMD GPU. ``None`` for a reading means ``AMDSMI_STATUS_NOT_SUPPORTED``.

    Attributes:
        market_name: ``amdsmi_get_gpu_asic_info()["market_name"]``.
        uuid: ``amdsmi_get_gpu_device_uuid``; generated from the index when empty.
        hip_uuid: ``amdsmi_get_gpu_enumeration_info()["hip_uuid"]`` (``GPU-<16 hex>``).
        energy_count: the accumulator (counts; × ``counter_resolution`` µJ).
        counter_resolution: µJ per count.
        energy_api: ``"accumulator"`` (ROCm ≥ 6.4 key ``energy_accumulator``) or ``"power"``.
        power_w: socket power (W), or ``"N/A"``.
        power_field: which power-info field carries ``power_w``; the others say ``"N/A"``.
        gfx_activity: ``amdsmi_get_gpu_activity()["gfx_activity"]`` (%).
        processes: what ``amdsmi_get_gpu_process_list`` returns.
    """

    market_name: str = "AMD Instinct MI300X"
    uuid: str = ""
    hip_uuid: str = ""
    energy_count: int | None = 0
    counter_resolution: float = 15.3
    energy_api: Literal["accumulator", "power"] = "accumulator"
    power_w: int | str | None = 300
    power_field: str = "current_socket_power"
    gfx_activity: int | str | None = 0
    processes: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class _Handle:
    """An opaque processor handle (amdsmi gives an ``amdsmi_processor_handle`` pointer)."""

    index: int


@dataclass
class _Failure:
    code: int
    function: str | None
    at_call: int
    times: int | None


def process(pid: int, *, gfx_ns: int = 0, mem: int = 0, name: str = "python") -> dict[str, Any]:
    """One ``amdsmi_get_gpu_process_list`` entry (ROCm 6.x+ shape)."""
    return {
        "name": name,
        "pid": pid,
        "mem": mem,
        "engine_usage": {"gfx": gfx_ns, "enc": 0},
        "memory_usage": {"gtt_mem": 0, "cpu_mem": 0, "vram_mem": mem},
        "cu_occupancy": NA,
    }


class FakeAmdSmi:
    """The state behind a fake ``amdsmi`` module; :meth:`module` gives the module itself.

    Args:
        gpus: the GPUs, in amdsmi's processor-handle order.
        init_error: an ``AMDSMI_STATUS_*`` code ``amdsmi_init`` raises.
    """

    def __init__(self, gpus: Sequence[FakeAmdGpu] = (), *, init_error: int | None = None) -> None:
        self.gpus = list(gpus)
        for i, gpu in enumerate(self.gpus):
            if not gpu.uuid:
                gpu.uuid = f"{i:08x}-0000-1000-8000-{i:012x}"
            if not gpu.hip_uuid:
                gpu.hip_uuid = f"GPU-{i:016x}"
        self.init_error = init_error
        self.calls: list[str] = []
        self.initialised = 0
        self.init_flags: list[int] = []
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
        """Make the Nth call from now raise ``AmdSmiLibraryException(code)``.

        Counts calls of ``function`` (of every function when ``None``); the ``at_call``-th
        (default: the next) fails, and the ``times - 1`` after it (``None``: all after it).
        """
        done = self._counts.get(function, 0)
        self._failures.append(_Failure(code, function, done + (at_call or 1), times))

    def advance(self, seconds: float) -> None:
        """Let every GPU draw ``power_w`` for ``seconds``: accumulators rise."""
        for gpu in self.gpus:
            if gpu.energy_count is not None and isinstance(gpu.power_w, int):
                gpu.energy_count += round(gpu.power_w * seconds * 1e6 / gpu.counter_resolution)

    def calls_to(self, function: str) -> int:
        """How many times ``function`` was called."""
        return self.calls.count(function)

    def module(self) -> types.ModuleType:
        """A module object with amdsmi's functions, enums and exceptions."""
        mod = types.ModuleType("amdsmi", "fake amdsmi (wattwise.testing.fake_amdsmi)")
        wrapper = types.ModuleType("amdsmi.amdsmi_wrapper")
        for name, value in _STATUS.items():
            setattr(wrapper, name, value)
        extra: dict[str, Any] = {
            "amdsmi_wrapper": wrapper,
            "AmdSmiException": AmdSmiException,
            "AmdSmiLibraryException": AmdSmiLibraryException,
            "AmdSmiRetryException": AmdSmiRetryException,
            "AmdSmiTimeoutException": AmdSmiTimeoutException,
            "AmdSmiParameterException": AmdSmiParameterException,
            "AmdSmiInitFlags": AmdSmiInitFlags,
            "fake": self,
        }
        mod.__dict__.update(extra)
        for name in dir(self):
            if name.startswith("amdsmi_"):
                setattr(mod, name, getattr(self, name))
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
                raise AmdSmiLibraryException(failure.code)
        if needs_init and self.initialised <= 0:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_INIT)

    def _gpu(self, processor_handle: object) -> FakeAmdGpu:
        if not isinstance(processor_handle, _Handle):
            raise AmdSmiParameterException(processor_handle, _Handle)
        return self.gpus[processor_handle.index]

    # -- the amdsmi API (same names and parameters) -------------------------------------
    def amdsmi_init(self, flag: AmdSmiInitFlags = AmdSmiInitFlags.INIT_AMD_GPUS) -> None:
        self._enter("amdsmi_init", needs_init=False)
        if not isinstance(flag, AmdSmiInitFlags):
            raise AmdSmiParameterException(flag, AmdSmiInitFlags)
        if self.init_error is not None:
            raise AmdSmiLibraryException(self.init_error)
        self.init_flags.append(int(flag))
        self.initialised += 1

    def amdsmi_shut_down(self) -> None:
        self._enter("amdsmi_shut_down")
        self.initialised -= 1

    def amdsmi_get_processor_handles(self) -> list[_Handle]:
        self._enter("amdsmi_get_processor_handles")
        return [_Handle(i) for i in range(len(self.gpus))]

    def amdsmi_get_gpu_asic_info(self, processor_handle: object) -> dict[str, Any]:
        self._enter("amdsmi_get_gpu_asic_info")
        gpu = self._gpu(processor_handle)
        return {
            "market_name": gpu.market_name,
            "vendor_id": "0x1002",
            "vendor_name": "AMD",
            "device_id": "0x74a1",
            "target_graphics_version": "gfx942",
        }

    def amdsmi_get_gpu_device_uuid(self, processor_handle: object) -> str:
        self._enter("amdsmi_get_gpu_device_uuid")
        return self._gpu(processor_handle).uuid

    def amdsmi_get_gpu_device_bdf(self, processor_handle: object) -> str:
        self._enter("amdsmi_get_gpu_device_bdf")
        assert isinstance(processor_handle, _Handle)
        self._gpu(processor_handle)
        return f"0000:{0x10 + processor_handle.index:02x}:00.0"

    def amdsmi_get_gpu_enumeration_info(self, processor_handle: object) -> dict[str, Any]:
        self._enter("amdsmi_get_gpu_enumeration_info")
        assert isinstance(processor_handle, _Handle)
        gpu = self._gpu(processor_handle)
        i = processor_handle.index
        return {
            "drm_render": 128 + i,
            "drm_card": i,
            "hsa_id": i + 1,
            "hip_id": i,
            "hip_uuid": gpu.hip_uuid,
        }

    def amdsmi_get_energy_count(self, processor_handle: object) -> dict[str, Any]:
        """The accumulator: count × ``counter_resolution`` = µJ since the driver loaded."""
        self._enter("amdsmi_get_energy_count")
        gpu = self._gpu(processor_handle)
        if gpu.energy_count is None:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
        key = "energy_accumulator" if gpu.energy_api == "accumulator" else "power"
        return {key: gpu.energy_count, "counter_resolution": gpu.counter_resolution, "timestamp": 0}

    def amdsmi_get_power_info(
        self, processor_handle: object, sensor_ind: int = 0
    ) -> dict[str, Any]:
        """Socket power (W) in ``power_field``; the other fields ``"N/A"``."""
        self._enter("amdsmi_get_power_info")
        gpu = self._gpu(processor_handle)
        if gpu.power_w is None:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
        info: dict[str, Any] = {
            "socket_power": NA,
            "current_socket_power": NA,
            "average_socket_power": NA,
            "gfx_voltage": NA,
            "soc_voltage": NA,
            "mem_voltage": NA,
            "power_limit": 750,
        }
        info[gpu.power_field] = gpu.power_w
        return info

    def amdsmi_get_gpu_activity(self, processor_handle: object) -> dict[str, Any]:
        self._enter("amdsmi_get_gpu_activity")
        gpu = self._gpu(processor_handle)
        if gpu.gfx_activity is None:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
        return {"gfx_activity": gpu.gfx_activity, "umc_activity": NA, "mm_activity": NA}

    def amdsmi_get_gpu_process_list(self, processor_handle: object) -> list[Any]:
        self._enter("amdsmi_get_gpu_process_list")
        return list(self._gpu(processor_handle).processes)

    def amdsmi_get_gpu_driver_info(self, processor_handle: object) -> dict[str, str]:
        self._enter("amdsmi_get_gpu_driver_info")
        self._gpu(processor_handle)
        return {"driver_name": "amdgpu", "driver_version": "6.10.5", "driver_date": "N/A"}
