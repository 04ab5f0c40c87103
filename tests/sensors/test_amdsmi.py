"""AmdSmiSensor against the scriptable fake amdsmi (amdsmi itself is not installed here).

The fake follows ROCm/amdsmi py-interface/amdsmi_interface.py at commit 4bc305a6 (ROCm
6.4/7.x) and the Python API reference; see wattwise.testing.fake_amdsmi.
"""

from __future__ import annotations

import inspect
import sys

import pytest

from wattwise.exceptions import SensorError, SensorPermissionError
from wattwise.integrate import DomainAccumulator
from wattwise.sensors import SensorProbe, probe_sensors, sensor_class
from wattwise.sensors.amdsmi import AmdSmiSensor
from wattwise.testing import fake_amdsmi
from wattwise.testing.fake_amdsmi import (
    AMDSMI_STATUS_DRIVER_NOT_LOADED,
    AMDSMI_STATUS_IO,
    AMDSMI_STATUS_NO_PERM,
    AMDSMI_STATUS_NOT_SUPPORTED,
    NA,
    FakeAmdGpu,
    FakeAmdSmi,
    process,
)

LOCAL = {100, 101, 200}


def local(pid: int) -> bool:
    return pid in LOCAL


def open_sensor(fake: FakeAmdSmi, env: dict[str, str] | None = None) -> AmdSmiSensor:
    return AmdSmiSensor(amdsmi=fake.module(), environ=env or {}, pid_exists=local)


def keys(sensor: AmdSmiSensor) -> list[str]:
    return [d.key for d in sensor.domains()]


def values(sensor: AmdSmiSensor) -> dict[str, float | None]:
    return {r.domain: (r.energy_j if r.energy_j is not None else r.power_w) for r in sensor.read()}


# -- domains and readings ---------------------------------------------------------------


@pytest.mark.parametrize("api", ["accumulator", "power"])
def test_energy_accumulator_in_joules_with_either_key(api: str) -> None:
    gpu = FakeAmdGpu(energy_count=10_000_000, counter_resolution=15.625, energy_api=api)  # type: ignore[arg-type]
    fake = FakeAmdSmi([gpu])
    with open_sensor(fake) as sensor:
        (dom,) = sensor.domains()
        assert (dom.key, dom.component, dom.method, dom.kind) == (
            "amdsmi:gpu0",
            "gpu",
            "measured",
            "counter",
        )
        assert dom.model["counter_resolution_uj"] == 15.625
        assert dom.model["name"] == "AMD Instinct MI300X"
        assert dom.label == "AMD Instinct MI300X (GPU 0, hip:0)"
        assert values(sensor) == {"amdsmi:gpu0": 0.0}
        gpu.energy_count = 10_000_000 + 64_000_000  # 64e6 × 15.625 µJ = 1000 J
        assert values(sensor) == {"amdsmi:gpu0": pytest.approx(1000.0)}
    assert fake.init_flags == [int(fake_amdsmi.AmdSmiInitFlags.INIT_AMD_GPUS)]


def test_advance_gives_power_times_time() -> None:
    fake = FakeAmdSmi([FakeAmdGpu(power_w=500)])
    with open_sensor(fake) as sensor:
        fake.advance(4.0)
        assert values(sensor)["amdsmi:gpu0"] == pytest.approx(2000.0, rel=1e-6)


def test_counter_reset_is_counted_from_zero() -> None:
    gpu = FakeAmdGpu(energy_count=1_000_000, counter_resolution=1.0)
    with open_sensor(FakeAmdSmi([gpu])) as sensor:
        gpu.energy_count = 3_000_000
        assert values(sensor)["amdsmi:gpu0"] == pytest.approx(2.0)
        gpu.energy_count = 500_000  # GPU reset: accumulator restarted
        assert values(sensor)["amdsmi:gpu0"] == pytest.approx(2.5)


@pytest.mark.parametrize(
    ("field", "others"),
    [
        ("socket_power", {}),
        ("current_socket_power", {}),
        ("average_socket_power", {"current_socket_power": 0xFFFF}),
    ],
)
def test_power_only_gpu_reads_the_first_available_power_field(
    field: str, others: dict[str, int]
) -> None:
    fake = FakeAmdSmi([FakeAmdGpu(energy_count=None, power_w=210, power_field=field)])
    original = fake.amdsmi_get_power_info

    def with_markers(processor_handle: object, sensor_ind: int = 0) -> dict[str, object]:
        return {**original(processor_handle, sensor_ind), **others}

    fake.amdsmi_get_power_info = with_markers  # type: ignore[method-assign]
    with open_sensor(fake) as sensor:
        (dom,) = sensor.domains()
        assert dom.kind == "power"
        assert dom.model["source"] == f"amdsmi_get_power_info[{field}]"
        assert values(sensor) == {"amdsmi:gpu0": 210.0}
        assert field in sensor.describe()


def test_power_domain_is_integrated_by_the_integrator() -> None:
    gpu = FakeAmdGpu(energy_count=None, power_w=100, power_field="average_socket_power")
    with open_sensor(FakeAmdSmi([gpu])) as sensor:
        acc = DomainAccumulator(sensor.domains()[0])
        acc.add(0.0, sensor.read()[0])
        gpu.power_w = 300
        acc.add(1.0, sensor.read()[0])
        assert acc.total.value_j == pytest.approx(200.0)


def test_energy_counter_reading_na_falls_back_to_power() -> None:
    fake = FakeAmdSmi([FakeAmdGpu()])
    fake.amdsmi_get_energy_count = lambda processor_handle: {  # type: ignore[method-assign]
        "energy_accumulator": NA,
        "counter_resolution": 15.3,
        "timestamp": 0,
    }
    with open_sensor(fake) as sensor:
        assert sensor.domains()[0].kind == "power"


def test_mixed_and_unreadable_gpus() -> None:
    fake = FakeAmdSmi(
        [
            FakeAmdGpu(),
            FakeAmdGpu(energy_count=None, power_w=NA),
            FakeAmdGpu(
                market_name="AMD Radeon RX 7900 XTX",
                energy_count=None,
                power_w=250,
                power_field="average_socket_power",
            ),
        ]
    )
    with open_sensor(fake) as sensor:
        assert [(d.key, d.kind) for d in sensor.domains()] == [
            ("amdsmi:gpu0", "counter"),
            ("amdsmi:gpu2", "power"),
        ]
        text = sensor.describe()
        assert text.startswith("driver amdgpu 6.10.5; GPU 0 AMD Instinct MI300X: energy counter")
        assert "GPU 1 (AMD Instinct MI300X) has neither" in text
        assert "GPU 2 AMD Radeon RX 7900 XTX: no energy counter" in text
    with pytest.raises(SensorError, match="no visible AMD GPU"):
        open_sensor(FakeAmdSmi([FakeAmdGpu(energy_count=None, power_w=None)]))


# -- visibility -----------------------------------------------------------------------


def four() -> FakeAmdSmi:
    return FakeAmdSmi([FakeAmdGpu() for _ in range(4)])


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HIP_VISIBLE_DEVICES": "2,0"}, ["amdsmi:gpu2", "amdsmi:gpu0"]),
        ({"CUDA_VISIBLE_DEVICES": "3"}, ["amdsmi:gpu3"]),
        ({"HIP_VISIBLE_DEVICES": "1", "CUDA_VISIBLE_DEVICES": "3"}, ["amdsmi:gpu1"]),
        ({"ROCR_VISIBLE_DEVICES": "1,2,3"}, ["amdsmi:gpu1", "amdsmi:gpu2", "amdsmi:gpu3"]),
        (
            {"ROCR_VISIBLE_DEVICES": "1,2,3", "HIP_VISIBLE_DEVICES": "0,2"},
            ["amdsmi:gpu1", "amdsmi:gpu3"],
        ),
        ({"ROCR_VISIBLE_DEVICES": "GPU-0000000000000002"}, ["amdsmi:gpu2"]),
        ({"HIP_VISIBLE_DEVICES": "0,-1,1"}, ["amdsmi:gpu0"]),
        ({"ROCR_VISIBLE_DEVICES": "3,2", "HIP_VISIBLE_DEVICES": "1,2"}, ["amdsmi:gpu2"]),
    ],
)
def test_visible_devices(env: dict[str, str], expected: list[str]) -> None:
    with open_sensor(four(), env) as sensor:
        assert keys(sensor) == expected


def test_hip_ordinal_in_label_and_model() -> None:
    with open_sensor(four(), {"ROCR_VISIBLE_DEVICES": "2,3"}) as sensor:
        second = sensor.domains()[1]
        assert second.label == "AMD Instinct MI300X (GPU 3, hip:1)"
        assert second.model["hip_device"] == 1 and second.model["amdsmi_index"] == 3


def test_invalid_entry_is_noted() -> None:
    with open_sensor(four(), {"HIP_VISIBLE_DEVICES": "1,9"}) as sensor:
        assert "HIP_VISIBLE_DEVICES entry '9' names no GPU" in sensor.describe()


@pytest.mark.parametrize(
    "name", ["ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES"]
)
def test_empty_visibility_hides_every_gpu(name: str) -> None:
    fake = four()
    probe = AmdSmiSensor.probe(amdsmi=fake.module(), environ={name: ""})
    assert not probe.available and "hides every GPU" in probe.detail
    assert fake.initialised == 0 and fake.calls_to("amdsmi_shut_down") == 1


# -- errors ---------------------------------------------------------------------------


def test_permission_error_mid_run() -> None:
    fake = FakeAmdSmi([FakeAmdGpu()])
    with open_sensor(fake) as sensor:
        fake.fail(AMDSMI_STATUS_NO_PERM, function="amdsmi_get_energy_count", times=1)
        with pytest.raises(SensorPermissionError) as info:
            sensor.read()
        assert isinstance(info.value.__cause__, fake_amdsmi.AmdSmiLibraryException)
        assert info.value.__cause__.get_error_code() == AMDSMI_STATUS_NO_PERM
        sensor.read()  # times=1: works again


def test_other_error_mid_run_is_a_sensor_error() -> None:
    fake = FakeAmdSmi([FakeAmdGpu(energy_count=None)])
    with open_sensor(fake) as sensor:
        fake.fail(AMDSMI_STATUS_IO, function="amdsmi_get_power_info", at_call=2)
        sensor.read()
        with pytest.raises(SensorError, match="amdsmi: reading GPU 0") as info:
            sensor.read()
        assert not isinstance(info.value, SensorPermissionError)
        assert isinstance(info.value.__cause__, fake_amdsmi.AmdSmiException)


def test_power_turning_na_mid_run_is_a_sensor_error() -> None:
    gpu = FakeAmdGpu(energy_count=None)
    with open_sensor(FakeAmdSmi([gpu])) as sensor:
        gpu.power_w = NA
        with pytest.raises(SensorError, match="reads N/A"):
            sensor.read()


def test_error_while_opening_releases_amdsmi() -> None:
    fake = FakeAmdSmi([FakeAmdGpu()])
    fake.fail(AMDSMI_STATUS_IO, function="amdsmi_get_energy_count")
    with pytest.raises(SensorError, match="energy counter"):
        open_sensor(fake)
    assert fake.initialised == 0


@pytest.mark.parametrize(
    ("code", "detail"),
    [
        (AMDSMI_STATUS_DRIVER_NOT_LOADED, "no amdgpu driver"),
        (AMDSMI_STATUS_NOT_SUPPORTED, "amdsmi_init failed"),
    ],
)
def test_init_failure_probe_says_install_rocm(code: int, detail: str) -> None:
    probe = AmdSmiSensor.probe(amdsmi=FakeAmdSmi([], init_error=code).module(), environ={})
    assert not probe.available and detail in probe.detail
    assert probe.fix is not None and "ROCm" in probe.fix


def test_init_permission_error() -> None:
    fake = FakeAmdSmi([FakeAmdGpu()], init_error=AMDSMI_STATUS_NO_PERM)
    with pytest.raises(SensorPermissionError):
        open_sensor(fake)
    probe = AmdSmiSensor.probe(amdsmi=fake.module(), environ={})
    assert probe.fix is not None and "render" in probe.fix


def test_no_gpu() -> None:
    probe = AmdSmiSensor.probe(amdsmi=FakeAmdSmi([]).module(), environ={})
    assert not probe.available and "sees no GPU" in probe.detail


def test_missing_amdsmi_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "amdsmi", None)
    probe = AmdSmiSensor.probe(environ={})
    assert not probe.available and "not installed" in probe.detail
    assert probe.fix is not None and "pip install amdsmi" in probe.fix


def test_probe_on_this_machine_never_raises() -> None:
    probe = AmdSmiSensor.probe(environ={})
    assert isinstance(probe, SensorProbe) and probe.sensor == "amdsmi"
    assert probe.available or probe.detail
    (via_registry,) = probe_sensors(names=["amdsmi"], environ={})
    assert via_registry.available == probe.available
    assert sensor_class("amdsmi") is AmdSmiSensor


# -- process share ---------------------------------------------------------------------


def test_share_from_gfx_engine_time_after_a_baseline() -> None:
    gpu = FakeAmdGpu(
        processes=[process(100, gfx_ns=1_000, mem=1 << 30), process(200, gfx_ns=5_000, mem=3 << 30)]
    )
    with open_sensor(FakeAmdSmi([gpu])) as sensor:
        # first call: no baseline yet, so the memory-share fallback
        assert sensor.process_share([100]) == {"amdsmi:gpu0": 0.25}
        assert sensor.share_methods() == {"amdsmi:gpu0": "memory-share"}
        gpu.processes = [
            process(100, gfx_ns=4_000, mem=1 << 30),
            process(200, gfx_ns=6_000, mem=3 << 30),
            process(101, gfx_ns=1_000, mem=0),
        ]  # new since the last call
        assert sensor.process_share([100, 101]) == {"amdsmi:gpu0": pytest.approx(0.8)}
        assert sensor.share_methods() == {"amdsmi:gpu0": "gfx-engine-time"}


def test_idle_gpu_uses_the_context_fallback() -> None:
    gpu = FakeAmdGpu(processes=[process(100, gfx_ns=10, mem=1)])
    with open_sensor(FakeAmdSmi([gpu])) as sensor:
        sensor.process_share([100])
        assert sensor.process_share([100]) == {"amdsmi:gpu0": 1.0}
        assert sensor.share_methods() == {"amdsmi:gpu0": "sole-process"}


@pytest.mark.parametrize(
    ("processes", "expected"),
    [
        ([], {}),
        ([process(200, mem=1)], {"amdsmi:gpu0": 0.0}),
        ([process(777_777, mem=1)], {}),  # another PID namespace's pid
        ([object()], {}),  # amdsmi before ROCm 6.x: opaque process handles
    ],
)
def test_share_edge_cases(processes: list[object], expected: dict[str, float]) -> None:
    with open_sensor(FakeAmdSmi([FakeAmdGpu(processes=processes)])) as sensor:
        assert sensor.process_share([100]) == expected


def test_share_error_leaves_the_gpu_out() -> None:
    fake = FakeAmdSmi([FakeAmdGpu(processes=[process(100)])])
    with open_sensor(fake) as sensor:
        fake.fail(AMDSMI_STATUS_NO_PERM, function="amdsmi_get_gpu_process_list")
        assert sensor.process_share([100]) == {}
        assert sensor.process_share([]) == {}


# -- utilisation and lifecycle ------------------------------------------------------


def test_utilization() -> None:
    fake = FakeAmdSmi(
        [FakeAmdGpu(gfx_activity=42), FakeAmdGpu(gfx_activity=NA), FakeAmdGpu(gfx_activity=None)]
    )
    with open_sensor(fake) as sensor:
        assert sensor.utilization() == {"amdsmi:gpu0": 0.42}


def test_close_is_idempotent_and_shuts_down_once() -> None:
    fake = FakeAmdSmi([FakeAmdGpu()])
    sensor = open_sensor(fake)
    sensor.close()
    sensor.close()
    assert fake.calls_to("amdsmi_init") == 1 and fake.calls_to("amdsmi_shut_down") == 1
    assert fake.initialised == 0
    with pytest.raises(SensorError, match="after close"):
        sensor.read()
    with pytest.raises(SensorError, match="after close"):
        sensor.utilization()
    assert sensor.process_share([100]) == {}


# -- the fake follows the documented API -------------------------------------------


DOCUMENTED = {  # amdsmi_interface.py @ 4bc305a6: name -> parameters
    "amdsmi_init": ["flag"],
    "amdsmi_shut_down": [],
    "amdsmi_get_processor_handles": [],
    "amdsmi_get_gpu_asic_info": ["processor_handle"],
    "amdsmi_get_gpu_device_uuid": ["processor_handle"],
    "amdsmi_get_gpu_device_bdf": ["processor_handle"],
    "amdsmi_get_gpu_enumeration_info": ["processor_handle"],
    "amdsmi_get_energy_count": ["processor_handle"],
    "amdsmi_get_power_info": ["processor_handle", "sensor_ind"],
    "amdsmi_get_gpu_activity": ["processor_handle"],
    "amdsmi_get_gpu_process_list": ["processor_handle"],
    "amdsmi_get_gpu_driver_info": ["processor_handle"],
}


def test_fake_has_the_documented_signatures() -> None:
    mod = FakeAmdSmi().module()
    found = {
        n: list(inspect.signature(getattr(mod, n)).parameters)
        for n in dir(mod)
        if n.startswith("amdsmi_") and n != "amdsmi_wrapper"
    }
    assert found == DOCUMENTED
    assert issubclass(mod.AmdSmiLibraryException, mod.AmdSmiException)
    assert issubclass(mod.AmdSmiRetryException, mod.AmdSmiLibraryException)
    assert mod.amdsmi_wrapper.AMDSMI_STATUS_NO_PERM == 10
    assert int(mod.AmdSmiInitFlags.INIT_AMD_GPUS) == 2


def test_every_call_the_sensor_makes_is_documented() -> None:
    fake = FakeAmdSmi([FakeAmdGpu(processes=[process(100)]), FakeAmdGpu(energy_count=None)])
    with open_sensor(fake, {"ROCR_VISIBLE_DEVICES": "GPU-0000000000000001,0"}) as sensor:
        sensor.read()
        sensor.process_share([100])
        sensor.utilization()
    assert set(fake.calls) <= set(DOCUMENTED)
