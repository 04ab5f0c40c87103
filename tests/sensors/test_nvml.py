"""NvmlSensor against the scriptable fake pynvml, plus checks against the real pynvml."""

from __future__ import annotations

import inspect
import sys
from types import SimpleNamespace
from unittest import mock

import pynvml
import pytest

from wattwise.exceptions import SensorError, SensorPermissionError
from wattwise.integrate import DomainAccumulator
from wattwise.sensors import SensorProbe, fallback_for, probe_sensors, sensor_class
from wattwise.sensors.nvml import NvmlSensor
from wattwise.testing import fake_nvml
from wattwise.testing.fake_nvml import (
    NVML_ERROR_DRIVER_NOT_LOADED,
    NVML_ERROR_GPU_IS_LOST,
    NVML_ERROR_LIBRARY_NOT_FOUND,
    NVML_ERROR_NO_PERMISSION,
    NVML_ERROR_UNKNOWN,
    FakeGpu,
    FakeNvml,
    ProcessInfo,
    ProcessSample,
)

LOCAL = {100, 101, 200, 201}
"""Pids that 'exist' in this PID namespace for these tests."""


def local(pid: int) -> bool:
    return pid in LOCAL


def open_sensor(fake: FakeNvml, env: dict[str, str] | None = None) -> NvmlSensor:
    return NvmlSensor(nvml=fake.module(), environ=env or {}, pid_exists=local)


def keys(sensor: NvmlSensor) -> list[str]:
    return [d.key for d in sensor.domains()]


def values(sensor: NvmlSensor) -> dict[str, float | None]:
    return {r.domain: (r.energy_j if r.energy_j is not None else r.power_w) for r in sensor.read()}


# -- domains and readings ---------------------------------------------------------------


def test_energy_counter_gpus_read_joules_since_open() -> None:
    fake = FakeNvml(
        [
            FakeGpu(energy_mj=5_000_000, power_mw=300_000),
            FakeGpu(energy_mj=9_000_000, power_mw=100_000),
        ]
    )
    with open_sensor(fake) as sensor:
        doms = {d.key: d for d in sensor.domains()}
        assert list(doms) == ["nvml:gpu0", "nvml:gpu1"]
        assert {(d.component, d.method, d.kind) for d in doms.values()} == {
            ("gpu", "measured", "counter")
        }
        assert doms["nvml:gpu1"].model["uuid"] == fake.gpus[1].uuid
        assert doms["nvml:gpu1"].model["name"] == "NVIDIA A100-SXM4-80GB"
        assert doms["nvml:gpu1"].model["tdp_w"] == 400.0
        assert doms["nvml:gpu0"].model["source"] == "nvmlDeviceGetTotalEnergyConsumption"
        assert values(sensor) == {"nvml:gpu0": 0.0, "nvml:gpu1": 0.0}
        fake.advance(2.0)
        assert values(sensor) == {"nvml:gpu0": 600.0, "nvml:gpu1": 200.0}
        fake.advance(1.0)
        assert values(sensor) == {"nvml:gpu0": 900.0, "nvml:gpu1": 300.0}


def test_power_only_gpu_is_a_power_domain_the_integrator_integrates() -> None:
    fake = FakeNvml([FakeGpu(name="Tesla P100-PCIE-16GB", energy_mj=None, power_mw=150_000)])
    with open_sensor(fake) as sensor:
        (dom,) = sensor.domains()
        assert (dom.key, dom.kind) == ("nvml:gpu0", "power")
        assert dom.model["source"] == "nvmlDeviceGetPowerUsage"
        acc = DomainAccumulator(dom)
        (first,) = sensor.read()
        assert first.power_w == 150.0 and first.energy_j is None
        acc.add(0.0, first)
        fake.gpus[0].power_mw = 250_000
        acc.add(2.0, sensor.read()[0])
        assert acc.total.value_j == pytest.approx((150 + 250) / 2 * 2)
        assert "no energy counter" in sensor.describe()


def test_mixed_counter_and_power_gpus() -> None:
    fake = FakeNvml([FakeGpu(energy_mj=0), FakeGpu(energy_mj=None, power_mw=90_000)])
    with open_sensor(fake) as sensor:
        assert [(d.key, d.kind) for d in sensor.domains()] == [
            ("nvml:gpu0", "counter"),
            ("nvml:gpu1", "power"),
        ]
        fake.advance(1.0)
        assert values(sensor) == {"nvml:gpu0": 250.0, "nvml:gpu1": 90.0}
        text = sensor.describe()
        assert "GPU 0 NVIDIA A100-SXM4-80GB: energy counter" in text
        assert "GPU 1 NVIDIA A100-SXM4-80GB: no energy counter" in text


def test_gpu_with_no_reading_is_left_out_with_a_note() -> None:
    fake = FakeNvml([FakeGpu(energy_mj=None, power_mw=None), FakeGpu()])
    with open_sensor(fake) as sensor:
        assert keys(sensor) == ["nvml:gpu1"]
        assert "GPU 0" in sensor.describe() and "not measured" in sensor.describe()
    none = FakeNvml([FakeGpu(energy_mj=None, power_mw=None)])
    with pytest.raises(SensorError, match="neither an energy counter nor a power"):
        open_sensor(none)
    assert none.refcount == 0  # the failed open released NVML


def test_counter_fall_is_a_driver_reload_counted_from_zero() -> None:
    fake = FakeNvml([FakeGpu(energy_mj=1_000_000)])
    with open_sensor(fake) as sensor:
        fake.gpus[0].energy_mj = 1_500_000
        assert values(sensor)["nvml:gpu0"] == 500.0
        fake.gpus[0].energy_mj = 20_000  # reloaded driver: counter restarted
        assert values(sensor)["nvml:gpu0"] == 520.0


def test_no_gpu_is_unavailable() -> None:
    probe = NvmlSensor.probe(nvml=FakeNvml([]).module(), environ={})
    assert not probe.available and "sees no GPU" in probe.detail


# -- CUDA_VISIBLE_DEVICES ---------------------------------------------------------------


def four() -> FakeNvml:
    return FakeNvml(
        [
            FakeGpu(uuid=f"GPU-{c}{c}{c}{c}aaaa-0000-4000-8000-00000000000{i}")
            for i, c in enumerate("abcd")
        ]
    )


def test_visible_by_index_keeps_cuda_order_and_nvml_keys() -> None:
    env = {"CUDA_VISIBLE_DEVICES": "2,0", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    with open_sensor(four(), env) as sensor:
        doms = sensor.domains()
        assert [d.key for d in doms] == ["nvml:gpu2", "nvml:gpu0"]
        assert doms[0].label == "NVIDIA A100-SXM4-80GB (GPU 2, cuda:0)"
        assert doms[1].model["cuda_devices"] == [1]
        assert doms[0].model["nvml_index"] == 2
        assert "CUDA_DEVICE_ORDER" not in sensor.describe()


def test_visible_by_index_without_pci_bus_order_says_cuda_may_differ() -> None:
    with open_sensor(four(), {"CUDA_VISIBLE_DEVICES": "1,3"}) as sensor:
        assert keys(sensor) == ["nvml:gpu1", "nvml:gpu3"]
        assert "cuda_devices" not in sensor.domains()[0].model
        assert "CUDA_DEVICE_ORDER=PCI_BUS_ID" in sensor.describe()
    probe = NvmlSensor.probe(nvml=four().module(), environ={})
    assert probe.available and "CUDA_DEVICE_ORDER is unset" in probe.detail


def test_visible_by_uuid_prefix() -> None:
    env = {"CUDA_VISIBLE_DEVICES": "GPU-cccc,gpu-aaaaaaaa-0000-4000-8000-000000000000"}
    with open_sensor(four(), env) as sensor:
        assert keys(sensor) == ["nvml:gpu2", "nvml:gpu0"]
        assert sensor.domains()[0].model["cuda_devices"] == [0]  # UUIDs: ordinals certain
        assert "CUDA_DEVICE_ORDER" not in sensor.describe()


def test_ambiguous_uuid_prefix_ends_the_list() -> None:
    with open_sensor(four(), {"CUDA_VISIBLE_DEVICES": "3,GPU-,1"}) as sensor:
        assert keys(sensor) == ["nvml:gpu3"]
        assert "'GPU-' names no GPU" in sensor.describe()


def test_empty_visible_devices_means_no_gpu() -> None:
    fake = four()
    with pytest.raises(SensorError, match="hides every GPU"):
        open_sensor(fake, {"CUDA_VISIBLE_DEVICES": ""})
    assert fake.refcount == 0 and fake.calls_to("nvmlShutdown") == 1
    probe = NvmlSensor.probe(nvml=four().module(), environ={"CUDA_VISIBLE_DEVICES": " "})
    assert not probe.available and "hides every GPU" in probe.detail


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0,2,-1,1", ["nvml:gpu0", "nvml:gpu2"]),
        ("1,7,0", ["nvml:gpu1"]),
        ("0,NoDevFiles", ["nvml:gpu0"]),
        ("3,3,2", ["nvml:gpu3", "nvml:gpu2"]),
    ],
)
def test_invalid_entry_stops_the_list_like_cuda(value: str, expected: list[str]) -> None:
    with open_sensor(four(), {"CUDA_VISIBLE_DEVICES": value}) as sensor:
        assert keys(sensor) == expected


def test_invalid_first_entry_hides_everything() -> None:
    with pytest.raises(SensorError, match="hides every GPU"):
        open_sensor(four(), {"CUDA_VISIBLE_DEVICES": "-1"})


def test_mig_device_is_measured_through_its_parent() -> None:
    fake = FakeNvml([FakeGpu(), FakeGpu(mig_uuids=["MIG-11111111-aaaa", "MIG-22222222-bbbb"])])
    with open_sensor(fake, {"CUDA_VISIBLE_DEVICES": "MIG-22222222"}) as sensor:
        (dom,) = sensor.domains()
        assert dom.key == "nvml:gpu1"
        assert dom.model["mig"] == ["MIG-22222222-bbbb"]
        assert "energy of the whole GPU" in dom.label
        fake.advance(1.0)
        assert values(sensor) == {"nvml:gpu1": 250.0}


def test_two_mig_devices_of_one_gpu_make_one_domain() -> None:
    fake = FakeNvml([FakeGpu(mig_uuids=["MIG-aaaa", "MIG-bbbb"])])
    with open_sensor(fake, {"CUDA_VISIBLE_DEVICES": "MIG-aaaa,MIG-bbbb"}) as sensor:
        assert keys(sensor) == ["nvml:gpu0"]
        assert sensor.domains()[0].model["mig"] == ["MIG-aaaa", "MIG-bbbb"]


def test_old_style_mig_id_names_its_parent() -> None:
    fake = four()
    uuid = fake.gpus[1].uuid
    with open_sensor(fake, {"CUDA_VISIBLE_DEVICES": f"MIG-{uuid}/1/0"}) as sensor:
        assert keys(sensor) == ["nvml:gpu1"]
        assert sensor.domains()[0].model["mig"] == [f"MIG-{uuid}/1/0"]


def test_unknown_mig_id_ends_the_list() -> None:
    with open_sensor(four(), {"CUDA_VISIBLE_DEVICES": "0,MIG-nope"}) as sensor:
        assert keys(sensor) == ["nvml:gpu0"]


# -- errors ---------------------------------------------------------------------------


def test_gpu_lost_mid_run_raises_sensor_error_with_nvml_error_chained() -> None:
    fake = FakeNvml([FakeGpu()])
    with open_sensor(fake) as sensor:
        sensor.read()
        fake.fail(NVML_ERROR_GPU_IS_LOST, function="nvmlDeviceGetTotalEnergyConsumption", at_call=2)
        sensor.read()  # the first call after fail() still works
        with pytest.raises(SensorError, match=r"fell off the bus") as info:
            sensor.read()
        assert not isinstance(info.value, SensorPermissionError)
        assert isinstance(info.value.__cause__, fake_nvml.NVMLError)
        assert info.value.__cause__.value == NVML_ERROR_GPU_IS_LOST
        with pytest.raises(SensorError):  # times=None: lost for good
            sensor.read()


def test_permission_error_mid_run_is_a_sensor_permission_error() -> None:
    fake = FakeNvml([FakeGpu(energy_mj=None)])
    with open_sensor(fake) as sensor:
        fake.fail(NVML_ERROR_NO_PERMISSION, function="nvmlDeviceGetPowerUsage", times=1)
        with pytest.raises(SensorPermissionError) as info:
            sensor.read()
        assert isinstance(info.value, PermissionError)
        assert type(info.value.__cause__).__name__ == "NVMLError_NoPermission"
        assert values(sensor) == {"nvml:gpu0": 250.0}  # times=1: the next read works


def test_gpu_that_cannot_be_opened_is_left_out() -> None:
    fake = FakeNvml([FakeGpu(), FakeGpu(), FakeGpu()])
    fake.fail(NVML_ERROR_NO_PERMISSION, function="nvmlDeviceGetHandleByIndex", at_call=2, times=1)
    with open_sensor(fake, {"CUDA_VISIBLE_DEVICES": "GPU-00000002,1,0"}) as sensor:
        assert keys(sensor) == ["nvml:gpu2", "nvml:gpu0"]
        assert "GPU 1 cannot be opened (Insufficient Permissions)" in sensor.describe()


def test_no_openable_gpu_raises_the_translated_error() -> None:
    fake = FakeNvml([FakeGpu()])
    fake.fail(NVML_ERROR_NO_PERMISSION, function="nvmlDeviceGetHandleByIndex")
    with pytest.raises(SensorPermissionError, match="opening the visible GPUs"):
        open_sensor(fake)
    assert fake.refcount == 0


def test_unknown_error_at_open_is_raised_and_nvml_released() -> None:
    fake = FakeNvml([FakeGpu()])
    fake.fail(NVML_ERROR_UNKNOWN, function="nvmlDeviceGetName")
    with pytest.raises(SensorError, match="nvml: reading GPU 0's name") as info:
        open_sensor(fake)
    assert isinstance(info.value.__cause__, fake_nvml.NVMLError)
    assert fake.refcount == 0


@pytest.mark.parametrize(
    ("code", "detail", "fix"),
    [
        (NVML_ERROR_LIBRARY_NOT_FOUND, "libnvidia-ml.so.1", "install the NVIDIA driver"),
        (NVML_ERROR_DRIVER_NOT_LOADED, "driver is not loaded", "install the NVIDIA driver"),
        (NVML_ERROR_NO_PERMISSION, "refused this user", "/dev/nvidia"),
    ],
)
def test_init_failure_is_reported_by_probe_with_the_fix(code: int, detail: str, fix: str) -> None:
    probe = NvmlSensor.probe(nvml=FakeNvml([FakeGpu()], init_error=code).module(), environ={})
    assert not probe.available
    assert detail in probe.detail
    assert probe.fix is not None and fix in probe.fix


def test_init_permission_error_is_a_sensor_permission_error() -> None:
    fake = FakeNvml([FakeGpu()], init_error=NVML_ERROR_NO_PERMISSION)
    with pytest.raises(SensorPermissionError):
        open_sensor(fake)


def test_missing_pynvml_says_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml → ImportError
    probe = NvmlSensor.probe(environ={})
    assert not probe.available
    assert probe.fix == "pip install nvidia-ml-py"
    with pytest.raises(SensorError, match="pip install nvidia-ml-py"):
        NvmlSensor(environ={})


def test_probe_with_the_real_pynvml_never_raises() -> None:
    probe = NvmlSensor.probe(environ={})
    assert isinstance(probe, SensorProbe) and probe.sensor == "nvml"
    if probe.available:  # a machine with an NVIDIA driver
        assert probe.domains and "NVIDIA driver" in probe.detail
    else:
        assert probe.detail and probe.fix and "NVIDIA driver" in probe.fix
    (via_registry,) = probe_sensors(names=["nvml"], environ={})
    assert via_registry.available == probe.available
    assert sensor_class("nvml") is NvmlSensor


# -- process share ---------------------------------------------------------------------


def test_share_from_sm_utilisation_samples_since_last_call() -> None:
    gpu = FakeGpu(
        samples=[
            ProcessSample(100, 1_000, smUtil=60),
            ProcessSample(200, 1_000, 20),
            ProcessSample(101, 1_500, smUtil=0, memUtil=5),
        ]
    )
    fake = FakeNvml([gpu, FakeGpu(samples=[ProcessSample(200, 1_000, 50)])])
    with open_sensor(fake) as sensor:
        assert sensor.process_share([100, 101]) == {"nvml:gpu0": 0.75, "nvml:gpu1": 0.0}
        assert sensor.share_methods() == {
            "nvml:gpu0": "sm-utilisation",
            "nvml:gpu1": "sm-utilisation",
        }
        gpu.samples.append(ProcessSample(200, 2_000, smUtil=30))
        gpu.samples.append(ProcessSample(100, 2_000, smUtil=10))
        # only the samples newer than 1 500 µs count now
        assert sensor.process_share({100})["nvml:gpu0"] == pytest.approx(0.25)


def test_no_new_samples_falls_back_to_running_processes() -> None:
    gpu = FakeGpu(processes=[ProcessInfo(100, 4 << 30)])  # no samples: NOT_FOUND
    with open_sensor(FakeNvml([gpu])) as sensor:
        assert sensor.process_share([100]) == {"nvml:gpu0": 1.0}
        assert sensor.share_methods() == {"nvml:gpu0": "sole-process"}


def test_unsupported_utilisation_falls_back_to_memory_share() -> None:
    gpu = FakeGpu(
        process_utilization=False,
        processes=[ProcessInfo(100, 3 << 30), ProcessInfo(101, 1 << 30), ProcessInfo(200, 4 << 30)],
    )
    fake = FakeNvml([gpu])
    with open_sensor(fake) as sensor:
        assert sensor.process_share([100, 101]) == {"nvml:gpu0": 0.5}
        assert sensor.share_methods() == {"nvml:gpu0": "memory-share"}
        sensor.process_share([100])
        # NOT_SUPPORTED is remembered: utilisation is not asked again
        assert fake.calls_to("nvmlDeviceGetProcessUtilization") == 1


@pytest.mark.parametrize(
    ("processes", "expected"),
    [
        ([], {}),  # nobody holds a context: unknown
        ([ProcessInfo(200, 1 << 30)], {"nvml:gpu0": 0.0}),  # someone else's local process
        ([ProcessInfo(99_999, 1 << 30)], {}),  # host pid from another namespace: unknown
        ([ProcessInfo(100, None), ProcessInfo(200, 1 << 30)], {}),  # memory unknown
        ([ProcessInfo(100, None)], {"nvml:gpu0": 1.0}),  # ours alone, memory not needed
    ],
)
def test_fallback_cases(processes: list[ProcessInfo], expected: dict[str, float]) -> None:
    gpu = FakeGpu(process_utilization=False, processes=processes)
    with open_sensor(FakeNvml([gpu])) as sensor:
        assert sensor.process_share([100]) == expected


def test_samples_from_another_pid_namespace_fall_back() -> None:
    gpu = FakeGpu(
        samples=[ProcessSample(4_242_424, 10, smUtil=80)],
        processes=[ProcessInfo(4_242_424, 1 << 30)],
    )
    with open_sensor(FakeNvml([gpu])) as sensor:
        assert sensor.process_share([100]) == {}


def test_mig_parent_share_uses_the_process_fallback() -> None:
    gpu = FakeGpu(
        mig_uuids=["MIG-aaaa"],
        samples=[ProcessSample(100, 10, 50)],
        processes=[ProcessInfo(100, 1 << 30), ProcessInfo(200, 3 << 30)],
    )
    with open_sensor(FakeNvml([gpu]), {"CUDA_VISIBLE_DEVICES": "MIG-aaaa"}) as sensor:
        assert sensor.process_share([100]) == {"nvml:gpu0": 0.25}


def test_share_errors_leave_the_gpu_out_and_empty_pids_give_nothing() -> None:
    fake = FakeNvml([FakeGpu(process_utilization=False)])
    with open_sensor(fake) as sensor:
        assert sensor.process_share([]) == {}
        fake.fail(NVML_ERROR_UNKNOWN, function="nvmlDeviceGetComputeRunningProcesses")
        assert sensor.process_share([100]) == {}


# -- utilisation, fallback, lifecycle ------------------------------------------------


def test_utilization_is_a_fraction_per_domain() -> None:
    fake = FakeNvml([FakeGpu(utilization=87), FakeGpu(utilization=None)])
    with open_sensor(fake) as sensor:
        assert sensor.utilization() == {"nvml:gpu0": 0.87}


def test_registry_fallback_estimates_a_failed_gpu_from_our_utilisation() -> None:
    fake = FakeNvml(
        [FakeGpu(name="NVIDIA H100 80GB HBM3", utilization=50, default_limit_mw=700_000)]
    )
    with open_sensor(fake) as sensor:
        estimate = fallback_for(sensor, list(sensor.domains()))
        assert estimate is not None
        (dom,) = estimate.domains()
        assert dom.component == "gpu" and dom.method == "estimated"
        assert dom.model["tdp_w"] == 700.0


def test_close_is_idempotent_and_shuts_nvml_down_once() -> None:
    fake = FakeNvml([FakeGpu()])
    sensor = open_sensor(fake)
    assert fake.calls_to("nvmlInit") == 1 and fake.refcount == 1
    sensor.close()
    sensor.close()
    with sensor:
        pass
    assert fake.calls_to("nvmlShutdown") == 1 and fake.refcount == 0
    with pytest.raises(SensorError, match="after close"):
        sensor.read()
    with pytest.raises(SensorError, match="after close"):
        sensor.utilization()
    assert sensor.process_share([100]) == {}


def test_probe_closes_what_it_opened() -> None:
    fake = FakeNvml([FakeGpu(), FakeGpu(energy_mj=None)])
    probe = NvmlSensor.probe(nvml=fake.module(), environ={"CUDA_DEVICE_ORDER": "PCI_BUS_ID"})
    assert probe.available and [d.kind for d in probe.domains] == ["counter", "power"]
    assert "NVIDIA driver 550.54.15" in probe.detail
    assert "GPU 1 NVIDIA A100-SXM4-80GB: no energy counter" in probe.detail
    assert fake.refcount == 0


def test_sensor_uses_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    with NvmlSensor(nvml=four().module(), pid_exists=local) as sensor:
        assert keys(sensor) == ["nvml:gpu1"]


# -- the fake matches the real pynvml ---------------------------------------------------


def test_fake_functions_have_the_real_names_and_parameters() -> None:
    fake = FakeNvml([FakeGpu()]).module()
    functions = [n for n in dir(fake) if n.startswith("nvml")]
    assert len(functions) >= 20
    for name in functions:
        real = getattr(pynvml, name)
        assert [p.name for p in inspect.signature(getattr(fake, name)).parameters.values()] == [
            p.name for p in inspect.signature(real).parameters.values()
        ], name


def test_fake_constants_and_error_classes_match_the_real_ones() -> None:
    fake = FakeNvml().module()
    real_codes = {n: getattr(pynvml, n) for n in dir(pynvml) if n.startswith("NVML_ERROR_")}
    assert {n: getattr(fake, n) for n in real_codes} == real_codes
    assert fake.NVML_SUCCESS == pynvml.NVML_SUCCESS
    real_classes = sorted(n for n in dir(pynvml) if n.startswith("NVMLError_"))
    assert sorted(n for n in dir(fake) if n.startswith("NVMLError_")) == real_classes
    for name in real_classes:
        real_err = getattr(pynvml, name)()
        fake_err = fake.NVMLError(real_err.value)
        assert type(fake_err).__name__ == name and isinstance(fake_err, fake.NVMLError)
        if real_err.value in (1, 2, 3, 4, 6, 9, 12, 13, 15, 18, 999):
            assert str(fake_err) == str(real_err)  # the messages users see in notes
    sample_fields = [f[0] for f in pynvml.c_nvmlProcessUtilizationSample_t._fields_]
    assert set(sample_fields) <= set(vars(fake_nvml.ProcessSample(1, 2, 3)))
    assert {"pid", "usedGpuMemory"} <= set(vars(fake_nvml.ProcessInfo(1, 2)))


def test_every_call_the_sensor_makes_exists_in_the_real_pynvml() -> None:
    gpus = [
        FakeGpu(samples=[ProcessSample(100, 5, 10)], processes=[ProcessInfo(100, 1)]),
        FakeGpu(energy_mj=None, process_utilization=False, mig_uuids=["MIG-x"]),
    ]
    fake = FakeNvml(gpus)
    with open_sensor(fake, {"CUDA_VISIBLE_DEVICES": "0,MIG-x"}) as sensor:
        sensor.read()
        sensor.process_share([100])
        sensor.utilization()
    assert set(fake.calls) <= {n for n in dir(pynvml) if n.startswith("nvml")}


def test_sensor_against_an_autospec_of_the_real_pynvml() -> None:
    """create_autospec fails any call whose arguments do not fit the real signature."""
    nv = mock.create_autospec(pynvml)
    nv.NVMLError = pynvml.NVMLError
    nv.NVMLLibraryMismatchError = pynvml.NVMLLibraryMismatchError
    for name in dir(pynvml):
        if name.startswith("NVML_"):
            setattr(nv, name, getattr(pynvml, name))
    nv.nvmlSystemGetDriverVersion.return_value = "550.54.15"
    nv.nvmlDeviceGetCount.return_value = 1
    nv.nvmlDeviceGetHandleByIndex.return_value = object()
    nv.nvmlDeviceGetName.return_value = "NVIDIA H100 80GB HBM3"
    nv.nvmlDeviceGetUUID.return_value = "GPU-12345678-0000-4000-8000-000000000000"
    nv.nvmlDeviceGetTotalEnergyConsumption.side_effect = [1_000_000, 1_000_000, 1_700_000]
    nv.nvmlDeviceGetPowerManagementDefaultLimit.return_value = 700_000
    nv.nvmlDeviceGetProcessUtilization.side_effect = pynvml.NVMLError(
        pynvml.NVML_ERROR_NOT_SUPPORTED
    )
    nv.nvmlDeviceGetComputeRunningProcesses.return_value = [
        SimpleNamespace(pid=100, usedGpuMemory=1 << 30),
        SimpleNamespace(pid=200, usedGpuMemory=3 << 30),
    ]
    nv.nvmlDeviceGetUtilizationRates.return_value = SimpleNamespace(gpu=40, memory=10)
    env = {"CUDA_VISIBLE_DEVICES": "GPU-1234"}
    with NvmlSensor(nvml=nv, environ=env, pid_exists=local) as sensor:
        assert [r.energy_j for r in sensor.read()] == [0.0]
        assert sensor.domains()[0].model["tdp_w"] == 700.0
        assert [r.energy_j for r in sensor.read()] == [700.0]
        assert sensor.process_share([100]) == {"nvml:gpu0": 0.25}
        assert sensor.utilization() == {"nvml:gpu0": 0.4}
    nv.nvmlInit.assert_called_once_with()
    nv.nvmlShutdown.assert_called_once_with()
    assert nv.nvmlDeviceGetProcessUtilization.call_args.args[1] == 0
