"""AMD GPU energy from AMD SMI (the ``amdsmi`` Python package shipped with ROCm); read-only.

Checked against ROCm/amdsmi ``py-interface/amdsmi_interface.py`` (ROCm 6.4/7.x era) and its
Python API reference; amdsmi itself is not installed where this was written, so the tests
run against :mod:`wattwise.testing.fake_amdsmi`.

Per visible GPU, the best source AMD SMI offers:

* ``amdsmi_get_energy_count(handle)``: an energy accumulator since the driver loaded, under
  ``energy_accumulator`` (ROCm ≥ 6.4; ``power`` before, deprecated), with
  ``counter_resolution`` in µJ per count (e.g. 15.3): energy = count × resolution → a
  ``counter`` domain (J since the sensor opened). The accumulator is a 64-bit value (the
  SMU's ``energy_accumulator`` in gpu_metrics), so it does not wrap in practice (2^64 ×
  15.3 µJ ≈ 2.8e14 J); a fall is taken as a reset (driver reload, GPU reset) and counted
  from zero. Not available in virtual-machine guests.
* otherwise ``amdsmi_get_power_info(handle)`` → a ``power`` domain (W): ``socket_power``
  (ROCm 7), else ``current_socket_power`` (MI300 and newer), else ``average_socket_power``
  (MI200, Navi and older); fields a device lacks read ``"N/A"``.
* a GPU with neither is left out, with a note.

Known hardware caveats: on MI250/MI250X each
package shows as two GPUs and the power of both dies is reported on the first (the
second reads 0 W); on some MI100 boards the accumulator stops updating until a reboot
(ROCm/amdsmi#38). wattwise reports what AMD SMI says.

Domain keys are ``amdsmi:gpu<N>`` with N the position in ``amdsmi_get_processor_handles()``
(the numbering of ``amd-smi``). Visibility: ``ROCR_VISIBLE_DEVICES`` (indices or
``GPU-<uuid>``) filters first, then ``HIP_VISIBLE_DEVICES`` (or ``CUDA_VISIBLE_DEVICES``)
picks by index among what is left; the HIP ordinals go in the label and ``model``. This
assumes amdsmi lists GPUs in the order ROCr enumerates them (both follow the KFD topology).

Attribution (:meth:`AmdSmiSensor.process_share`) uses ``amdsmi_get_gpu_process_list``
(ROCm 6.x shape: dicts with ``pid``, ``mem`` and cumulative ``engine_usage.gfx`` in ns):
our share of the GFX-engine nanoseconds since the previous call; when no process was
busy, 1.0 if only our processes hold the GPU, else a memory-share fallback (``mem``). The
first call only sets the baseline. Older amdsmi versions return opaque process handles:
then, as on any error, the GPU gets no entry (the sampler books it whole to the run).
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
    busy_share,
    context_share,
    match_prefix,
    parse_index,
    select,
    split_visible,
)
from wattwise.sensors.rapl import counter_delta

__all__ = ["POWER_FIELDS", "AmdSmiSensor"]

logger = logging.getLogger("wattwise")

FIX_ROCM = "install ROCm and load the amdgpu driver (`amd-smi list` must work)"
FIX_PIP = (
    "pip install amdsmi at your ROCm version, or install the one ROCm ships: "
    "pip install /opt/rocm/share/amd_smi"
)

POWER_FIELDS = ("socket_power", "current_socket_power", "average_socket_power")
"""``amdsmi_get_power_info`` fields holding socket power (W), most preferred first."""

# amdsmi_status_t (amd_smi.h), as amdsmi_wrapper.AMDSMI_STATUS_* in the Python package.
_STATUS = {
    "AMDSMI_STATUS_NOT_SUPPORTED": 2,
    "AMDSMI_STATUS_NOT_YET_IMPLEMENTED": 3,
    "AMDSMI_STATUS_NO_PERM": 10,
    "AMDSMI_STATUS_INIT_ERROR": 18,
    "AMDSMI_STATUS_NOT_INIT": 32,
    "AMDSMI_STATUS_DRIVER_NOT_LOADED": 34,
}
_UNAVAILABLE_MARKERS = (0xFFFF, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF)


def _status(amdsmi: ModuleType, name: str) -> int:
    wrapper = getattr(amdsmi, "amdsmi_wrapper", None)
    return int(getattr(wrapper, name, _STATUS[name]))


def _error_code(exc: BaseException) -> int | None:
    getter = getattr(exc, "get_error_code", None)
    code = getter() if callable(getter) else getattr(exc, "err_code", None)
    return code if isinstance(code, int) else None


def _not_supported(amdsmi: ModuleType, exc: BaseException) -> bool:
    return _error_code(exc) in (
        _status(amdsmi, "AMDSMI_STATUS_NOT_SUPPORTED"),
        _status(amdsmi, "AMDSMI_STATUS_NOT_YET_IMPLEMENTED"),
    )


def _translate(amdsmi: ModuleType, exc: BaseException, what: str) -> SensorError:
    """The wattwise error for an ``AmdSmiException`` raised while doing ``what``."""
    code = _error_code(exc)
    msg = f"amdsmi: {what}: {exc}".replace("\n", " ").replace("\t", "")
    if code == _status(amdsmi, "AMDSMI_STATUS_NO_PERM"):
        return SensorPermissionError(f"{msg} (this user may not query the GPU)")
    if code == _status(amdsmi, "AMDSMI_STATUS_DRIVER_NOT_LOADED"):
        return SensorError(f"{msg} (the amdgpu driver is not loaded)", FIX_ROCM)
    return SensorError(msg)


def _import_amdsmi() -> ModuleType:
    try:
        return importlib.import_module("amdsmi")
    except ImportError as exc:
        raise SensorError("the amdsmi module is not installed", FIX_PIP) from exc
    except (OSError, KeyError, AttributeError) as exc:  # found, but libamd_smi.so is not
        raise SensorError(
            f"the amdsmi module cannot load libamd_smi.so ({exc!r})", FIX_ROCM
        ) from exc


def _default_pid_exists(pid: int) -> bool:
    import psutil  # lazy: importing wattwise must stay light

    return bool(psutil.pid_exists(pid))


def _number(value: object) -> float | None:
    """A reading as a float; ``None`` for ``"N/A"`` and the all-ones "unavailable" markers."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value < 0 or value in _UNAVAILABLE_MARKERS:
        return None
    return float(value)


def _energy_fields(info: Mapping[str, Any]) -> tuple[int, float] | None:
    """(count, µJ per count) from ``amdsmi_get_energy_count``, either key version."""
    count = info.get("energy_accumulator", info.get("power"))
    resolution = _number(info.get("counter_resolution"))
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        return None
    if resolution is None or resolution <= 0:
        return None
    return count, resolution


def _power(info: Mapping[str, Any], prefer: str | None = None) -> tuple[float, str] | None:
    """(W, field) from ``amdsmi_get_power_info``: ``prefer`` first, then :data:`POWER_FIELDS`."""
    order = ((prefer,) if prefer else ()) + tuple(f for f in POWER_FIELDS if f != prefer)
    for name in order:
        value = _number(info.get(name))
        if value is not None:
            return value, name
    return None


@dataclass
class _Gpu:
    domain: Domain
    handle: Any
    index: int
    counter: bool
    resolution_uj: float = 1.0
    last_count: int = 0
    total_count: int = 0
    power_field: str | None = None
    gfx_ns: dict[int, int] | None = None


class AmdSmiSensor(Sensor):
    """AMD GPUs through AMD SMI: energy accumulators (J) where readable, else power (W).

    Args:
        amdsmi: the ``amdsmi`` module, or a fake with its API (imported when ``None``).
        environ: where ``ROCR_VISIBLE_DEVICES``, ``HIP_VISIBLE_DEVICES`` and
            ``CUDA_VISIBLE_DEVICES`` are read (``os.environ`` when ``None``).
        pid_exists: whether a pid exists in this PID namespace (``psutil.pid_exists``).

    Raises:
        SensorError: AMD SMI cannot be loaded or initialised, or no visible GPU is readable.
    """

    name = "amdsmi"
    permission_fix = "add this user to the video and render groups"

    def __init__(
        self,
        *,
        amdsmi: ModuleType | None = None,
        environ: Mapping[str, str] | None = None,
        pid_exists: Callable[[int], bool] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._closed = True
        self._smi = amdsmi if amdsmi is not None else _import_amdsmi()
        self._pid_exists = pid_exists or _default_pid_exists
        self._gpus: list[_Gpu] = []
        self._notes: list[str] = []
        self._share_methods: dict[str, str] = {}
        self._driver = "unknown"
        smi = self._smi
        flags = getattr(smi.AmdSmiInitFlags, "INIT_AMD_GPUS", None)
        if flags is None:  # amdsmi before ROCm 6.0 named it AMD_GPUS
            flags = smi.AmdSmiInitFlags.AMD_GPUS
        try:
            smi.amdsmi_init(flags)
        except smi.AmdSmiException as exc:
            raise self._init_error(exc) from exc
        self._closed = False
        try:
            self._open(os.environ if environ is None else environ)
        except BaseException:
            self.close()
            raise

    def _init_error(self, exc: BaseException) -> SensorError:
        code = _error_code(exc)
        text = str(exc).replace("\n", " ").replace("\t", "")
        if code == _status(self._smi, "AMDSMI_STATUS_NO_PERM"):
            return SensorPermissionError(
                f"AMD SMI refused this user ({text})",
                "add this user to the video and render groups",
            )
        if code in (
            _status(self._smi, "AMDSMI_STATUS_DRIVER_NOT_LOADED"),
            _status(self._smi, "AMDSMI_STATUS_INIT_ERROR"),
        ):
            return SensorError(f"AMD SMI could not start: no amdgpu driver? ({text})", FIX_ROCM)
        return SensorError(f"amdsmi_init failed: {text}", FIX_ROCM)

    # -- opening ------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` with an ``AmdSmiException`` translated."""
        try:
            return fn(*args)
        except self._smi.AmdSmiException as exc:
            raise _translate(self._smi, exc, what) from exc

    def _open(self, env: Mapping[str, str]) -> None:
        smi = self._smi
        handles = list(self._call("listing GPUs", smi.amdsmi_get_processor_handles))
        if not handles:
            raise SensorError("AMD SMI sees no GPU", FIX_ROCM)
        try:
            info = smi.amdsmi_get_gpu_driver_info(handles[0])
            self._driver = f"{info.get('driver_name', 'amdgpu')} {info.get('driver_version', '?')}"
        except smi.AmdSmiException:
            self._driver = "amdgpu (version unknown)"
        visible = self._visible(env, handles)
        for ordinal, index in enumerate(visible):
            gpu = self._open_gpu(index, handles[index], ordinal)
            if gpu is not None:
                self._gpus.append(gpu)
        if not self._gpus:
            raise SensorError(
                "no visible AMD GPU has an energy counter or a power reading: "
                + "; ".join(self._notes)
            )

    def _ids(self, handle: Any) -> list[str]:
        """The identifiers a ``GPU-...`` entry may match: HIP UUID, then AMD SMI's UUID."""
        smi = self._smi
        ids: list[str] = []
        enum_info = getattr(smi, "amdsmi_get_gpu_enumeration_info", None)
        if enum_info is not None:
            try:
                hip_uuid = enum_info(handle).get("hip_uuid")
                if isinstance(hip_uuid, str) and hip_uuid:
                    ids.append(hip_uuid)
            except smi.AmdSmiException:
                pass
        try:
            uuid = str(smi.amdsmi_get_gpu_device_uuid(handle))
            ids.append(uuid if uuid.upper().startswith("GPU-") else f"GPU-{uuid}")
        except smi.AmdSmiException:
            pass
        return ids

    def _visible(self, env: Mapping[str, str], handles: Sequence[Any]) -> list[int]:
        """Visible amdsmi indices in HIP order: ROCR first, then HIP (or CUDA) indices."""
        ids: list[list[str]] = []

        def resolver(base: list[int]) -> Callable[[str], int | None]:
            def resolve(entry: str) -> int | None:
                index = parse_index(entry, len(base))
                if index is not None:
                    return base[index]
                if not entry.upper().startswith("GPU-"):
                    return None
                if not ids:
                    ids.extend(self._ids(h) for h in handles)
                hit = match_prefix(entry, [ids[i] for i in base])
                return None if hit is None else base[hit]

            return resolve

        current = list(range(len(handles)))
        for name in ("ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES"):
            raw = env.get(name)
            if raw is None:
                continue
            if name == "CUDA_VISIBLE_DEVICES" and "HIP_VISIBLE_DEVICES" in env:
                continue  # HIP_VISIBLE_DEVICES wins; CUDA_VISIBLE_DEVICES is its alias
            sel = select(split_visible(raw), resolver(current))
            if sel.stopped_at is not None:
                self._notes.append(
                    f"{name} entry {sel.stopped_at!r} names no GPU here: it and "
                    "the entries after it are ignored"
                )
            if sel.repeats:
                self._notes.append(f"{name} repeats {', '.join(sel.repeats)}: counted once")
            current = list(sel.items)
            if not current:
                raise SensorError(f"{name}={raw!r} hides every GPU")
        return current

    def _open_gpu(self, index: int, handle: Any, ordinal: int) -> _Gpu | None:
        smi = self._smi
        try:
            name = str(smi.amdsmi_get_gpu_asic_info(handle).get("market_name") or "AMD GPU")
        except smi.AmdSmiException:
            name = "AMD GPU"
        try:
            uuid: str | None = str(smi.amdsmi_get_gpu_device_uuid(handle))
        except smi.AmdSmiException:
            uuid = None
        counter = False
        fields: tuple[int, float] | None = None
        try:
            fields = _energy_fields(smi.amdsmi_get_energy_count(handle))
            counter = fields is not None
        except smi.AmdSmiException as exc:
            if not _not_supported(smi, exc):
                raise _translate(smi, exc, f"reading GPU {index}'s energy counter") from exc
        power: tuple[float, str] | None = None
        if not counter:
            try:
                power = _power(smi.amdsmi_get_power_info(handle))
            except smi.AmdSmiException as exc:
                if not _not_supported(smi, exc):
                    raise _translate(smi, exc, f"reading GPU {index}'s power") from exc
            if power is None:
                self._notes.append(
                    f"GPU {index} ({name}) has neither an energy counter nor a "
                    "power reading: not measured"
                )
                return None
        model: dict[str, Any] = {
            "name": name,
            "amdsmi_index": index,
            "source": "amdsmi_get_energy_count"
            if counter
            else f"amdsmi_get_power_info[{power[1] if power else ''}]",
        }
        if uuid:
            model["uuid"] = uuid
        if fields is not None:
            model["counter_resolution_uj"] = fields[1]
        model["hip_device"] = ordinal
        domain = Domain(
            f"amdsmi:gpu{index}",
            "gpu",
            f"{name} (GPU {index}, hip:{ordinal})",
            "measured",
            "counter" if counter else "power",
            model,
        )
        if fields is not None:
            return _Gpu(domain, handle, index, True, resolution_uj=fields[1], last_count=fields[0])
        return _Gpu(domain, handle, index, False, power_field=power[1] if power else None)

    # -- the sensor contract ------------------------------------------------------------
    def domains(self) -> Sequence[Domain]:
        return [g.domain for g in self._gpus]

    def read(self) -> list[Reading]:
        """Counter GPUs: energy since open (J); power GPUs: socket power now (W)."""
        smi = self._smi
        with self._lock:
            if self._closed:
                raise SensorError("amdsmi: read after close()")
            out = []
            for g in self._gpus:
                try:
                    if g.counter:
                        fields = _energy_fields(smi.amdsmi_get_energy_count(g.handle))
                        if fields is None:
                            raise SensorError(f"amdsmi: GPU {g.index}'s energy counter reads N/A")
                        g.total_count += counter_delta(g.last_count, fields[0], None)
                        g.last_count = fields[0]
                        out.append(
                            Reading(g.domain.key, energy_j=g.total_count * g.resolution_uj / 1e6)
                        )
                    else:
                        power = _power(smi.amdsmi_get_power_info(g.handle), g.power_field)
                        if power is None:
                            raise SensorError(f"amdsmi: GPU {g.index}'s power reads N/A")
                        out.append(Reading(g.domain.key, power_w=power[0]))
                except smi.AmdSmiException as exc:
                    raise _translate(smi, exc, f"reading GPU {g.index}") from exc
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
                share, method = self._share(g, wanted)
                if share is None:
                    self._share_methods.pop(g.domain.key, None)
                    continue
                out[g.domain.key] = min(max(share, 0.0), 1.0)
                self._share_methods[g.domain.key] = method
        return out

    def _share(self, g: _Gpu, pids: set[int]) -> tuple[float | None, str]:
        smi = self._smi
        try:
            procs = list(smi.amdsmi_get_gpu_process_list(g.handle))
        except smi.AmdSmiException:
            return None, ""
        gfx: dict[int, int] = {}
        memory: dict[int, int | None] = {}
        for p in procs:
            if not isinstance(p, Mapping) or not isinstance(p.get("pid"), int):
                return None, ""  # amdsmi before ROCm 6.x: opaque process handles
            pid = int(p["pid"])
            usage = p.get("engine_usage")
            ns = _number(usage.get("gfx")) if isinstance(usage, Mapping) else None
            gfx[pid] = gfx.get(pid, 0) + (int(ns) if ns is not None else 0)
            mem = _number(p.get("mem"))
            memory[pid] = None if mem is None else int(mem)
        previous, g.gfx_ns = g.gfx_ns, gfx
        if previous is not None:
            busy = {pid: float(max(ns - previous.get(pid, 0), 0)) for pid, ns in gfx.items()}
            share = busy_share(busy, pids, self._pid_exists)
            if share is not None:
                return share, "gfx-engine-time"
        return context_share(memory, pids, self._pid_exists)

    def share_methods(self) -> dict[str, str]:
        """How the last share of each GPU was found: ``gfx-engine-time``,
        ``sole-process``, ``memory-share`` (fallback) or ``other-processes``."""
        with self._lock:
            return dict(self._share_methods)

    def utilization(self) -> dict[str, float]:
        """GFX engine busy fraction (0..1, ``amdsmi_get_gpu_activity``) per domain key."""
        smi = self._smi
        out: dict[str, float] = {}
        with self._lock:
            if self._closed:
                raise SensorError("amdsmi: utilization() after close()")
            for g in self._gpus:
                try:
                    activity = _number(smi.amdsmi_get_gpu_activity(g.handle).get("gfx_activity"))
                except smi.AmdSmiException:
                    continue
                if activity is not None:
                    out[g.domain.key] = min(max(activity / 100.0, 0.0), 1.0)
        return out

    def describe(self) -> str:
        """One line: driver, each GPU and its source, and the notes."""
        parts = [f"driver {self._driver}"]
        for g in self._gpus:
            how = (
                "energy counter"
                if g.counter
                else f"no energy counter: power ({g.power_field}) sampled and integrated"
            )
            parts.append(f"GPU {g.index} {g.domain.model['name']}: {how}")
        return "; ".join(parts + self._notes)

    def close(self) -> None:
        """Release AMD SMI (``amdsmi_shut_down``, once). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._smi.amdsmi_shut_down()
        except self._smi.AmdSmiException as exc:
            logger.debug("amdsmi_shut_down failed: %s", exc)
