from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from wattwise.exceptions import SensorError, SensorPermissionError
from wattwise.sensors.hwmon import SKIPPED_DRIVERS, HwmonSensor
from wattwise.testing.sysfs import make_hwmon_device, write_file

Reader = Callable[[Path], str]


def amd_energy(root: Path, sockets: int = 2, cores: int = 2, **kw: object) -> Path:
    """An amd_energy device: Ecore000.. first, then Esocket0.., as the driver numbers them."""
    labels = {f"Ecore{c:03d}": 1_000 * c for c in range(sockets * cores)}
    labels |= {f"Esocket{s}": 50_000_000 * (s + 1) for s in range(sockets)}
    return make_hwmon_device(root, "amd_energy", energy=labels, **kw)  # type: ignore[arg-type]


def set_channel(dev: Path, file: str, value: int) -> None:
    write_file(dev / file, value)


def readings(sensor: HwmonSensor) -> dict[str, tuple[float | None, float | None]]:
    return {r.domain: (r.energy_j, r.power_w) for r in sensor.read()}


def test_amd_energy_counts_sockets_not_cores(sysfs: Path) -> None:
    dev = amd_energy(sysfs, sockets=2, cores=2)
    sensor = HwmonSensor(sysfs_root=sysfs)
    doms = sensor.domains()
    assert [d.key for d in doms] == ["hwmon:amd_energy-socket0", "hwmon:amd_energy-socket1"]
    assert {(d.component, d.method, d.kind) for d in doms} == {("cpu", "measured", "counter")}
    assert doms[1].label == "CPU socket 1 (amd_energy)"
    # energy1..4 are the cores, energy5/6 the sockets
    set_channel(dev, "energy1_input", 9_999_999)
    set_channel(dev, "energy5_input", 50_000_000 + 3_000_000)
    set_channel(dev, "energy6_input", 100_000_000 + 500_000)
    assert readings(sensor) == {
        "hwmon:amd_energy-socket0": (3.0, None),
        "hwmon:amd_energy-socket1": (0.5, None),
    }


def test_cores_only_are_summed(sysfs: Path) -> None:
    dev = make_hwmon_device(sysfs, "zenergy", energy={"Ecore000": 10, "Ecore001": 20})
    sensor = HwmonSensor(sysfs_root=sysfs)
    (dom,) = sensor.domains()
    assert dom.key == "hwmon:zenergy-cores"
    assert dom.label == "CPU cores, sum of 2 (zenergy)"
    set_channel(dev, "energy1_input", 1_000_010)
    set_channel(dev, "energy2_input", 2_000_020)
    assert readings(sensor) == {"hwmon:zenergy-cores": (3.0, None)}


def test_counter_restart_is_not_negative(sysfs: Path) -> None:
    dev = amd_energy(sysfs, sockets=1, cores=1)
    sensor = HwmonSensor(sysfs_root=sysfs)
    set_channel(dev, "energy2_input", 1_000_000)  # driver reloaded: restarted from 0
    assert readings(sensor) == {"hwmon:amd_energy-socket0": (1.0, None)}


def test_gpu_and_whole_system_meters_are_skipped(sysfs: Path) -> None:
    make_hwmon_device(sysfs, "amdgpu", power=[120_000_000], energy=[5])
    make_hwmon_device(sysfs, "power_meter", power=[300_000_000], power_attr="average")
    make_hwmon_device(sysfs, "nvme")  # a temperature-only device: nothing to read
    probe = HwmonSensor.probe(sysfs_root=sysfs)
    assert not probe.available
    assert "hwmon0 (amdgpu) skipped" in probe.detail
    assert "hwmon1 (power_meter) skipped" in probe.detail
    assert {"amdgpu", "nouveau", "i915", "xe", "radeon"} <= SKIPPED_DRIVERS


def test_power_only_device_gives_power_domains(sysfs: Path) -> None:
    dev = make_hwmon_device(
        sysfs, "zenpower", power={"SVI2_P_Core": 45_500_000, "SVI2_P_SoC": 12_000_000}
    )
    sensor = HwmonSensor(sysfs_root=sysfs)
    doms = sensor.domains()
    assert [(d.key, d.kind, d.component) for d in doms] == [
        ("hwmon:zenpower-svi2-p-core", "power", "cpu"),
        ("hwmon:zenpower-svi2-p-soc", "power", "cpu"),
    ]
    assert readings(sensor) == {
        "hwmon:zenpower-svi2-p-core": (None, 45.5),
        "hwmon:zenpower-svi2-p-soc": (None, 12.0),
    }
    set_channel(dev, "power1_input", 80_000_000)
    assert readings(sensor)["hwmon:zenpower-svi2-p-core"] == (None, 80.0)


def test_power_average_and_unlabelled(sysfs: Path) -> None:
    make_hwmon_device(sysfs, "xgene_hwmon", power=[7_250_000], power_attr="average")
    sensor = HwmonSensor(sysfs_root=sysfs)
    assert readings(sensor) == {"hwmon:xgene_hwmon-power1": (None, 7.25)}


def test_power_input_wins_over_average(sysfs: Path) -> None:
    dev = make_hwmon_device(sysfs, "board", power=[2_000_000])
    write_file(dev / "power1_average", 9_000_000)
    assert readings(HwmonSensor(sysfs_root=sysfs)) == {"hwmon:board-power1": (None, 2.0)}


def test_energy_wins_over_power_on_one_device(sysfs: Path) -> None:
    make_hwmon_device(sysfs, "soc", energy={"CPU": 0}, power={"CPU": 1_000_000})
    sensor = HwmonSensor(sysfs_root=sysfs)
    assert [(d.key, d.kind) for d in sensor.domains()] == [("hwmon:soc-cpu", "counter")]


def test_gpu_labelled_channels_are_skipped(sysfs: Path) -> None:
    make_hwmon_device(sysfs, "ina3221", power={"VDD_CPU": 3_000_000, "VDD_GPU": 9_000_000})
    assert [d.key for d in HwmonSensor(sysfs_root=sysfs).domains()] == ["hwmon:ina3221-vdd-cpu"]


def test_same_driver_twice_gets_distinct_keys(sysfs: Path) -> None:
    make_hwmon_device(sysfs, "zenpower", power={"SVI2_P_Core": 1})
    make_hwmon_device(sysfs, "zenpower", power={"SVI2_P_Core": 2})
    assert [d.key for d in HwmonSensor(sysfs_root=sysfs).domains()] == [
        "hwmon:zenpower.0-svi2-p-core",
        "hwmon:zenpower.1-svi2-p-core",
    ]


def test_linked_twice_is_read_once(sysfs: Path) -> None:
    dev = amd_energy(sysfs, sockets=1, cores=1)
    os.symlink(dev, sysfs / "class" / "hwmon" / "hwmon9")
    assert [d.key for d in HwmonSensor(sysfs_root=sysfs).domains()] == ["hwmon:amd_energy-socket0"]


def test_no_hwmon_dir(sysfs: Path) -> None:
    probe = HwmonSensor.probe(sysfs_root=sysfs)
    assert not probe.available and probe.fix is None
    assert "no CPU energy or power sensor" in probe.detail
    with pytest.raises(SensorError):
        HwmonSensor(sysfs_root=sysfs)


def test_permission_denied(sysfs: Path, denying_reader: Callable[..., Reader]) -> None:
    dev = amd_energy(sysfs, sockets=1, cores=1)
    reader = denying_reader("energy1_input", "energy2_input")
    with pytest.raises(SensorPermissionError, match="CVE-2020-12912"):
        HwmonSensor(sysfs_root=sysfs, reader=reader)
    probe = HwmonSensor.probe(sysfs_root=sysfs, reader=reader)
    assert not probe.available and probe.fix is not None
    assert probe.fix.startswith(f"sudo chmod a+r {sysfs}/class/hwmon/{dev.name}/energy*_input")
    assert "reboot" in probe.fix


@pytest.mark.usefixtures("modes_enforced")
def test_permission_denied_by_file_mode(sysfs: Path) -> None:
    amd_energy(sysfs, sockets=1, cores=1, energy_mode=0o000)
    probe = HwmonSensor.probe(sysfs_root=sysfs)
    assert not probe.available and probe.fix and "chmod a+r" in probe.fix


def test_read_failure_mid_run(sysfs: Path) -> None:
    dev = amd_energy(sysfs, sockets=1, cores=1)
    sensor = HwmonSensor(sysfs_root=sysfs)
    (dev / "energy2_input").unlink()
    with pytest.raises(SensorError, match="hwmon: cannot read"):
        sensor.read()


def test_probe_available_and_close(sysfs: Path) -> None:
    amd_energy(sysfs)
    probe = HwmonSensor.probe(sysfs_root=sysfs)
    assert probe.available and len(probe.domains) == 2
    assert probe.detail.startswith("reading hwmon:amd_energy-socket0 (counter)")
    sensor = HwmonSensor(sysfs_root=sysfs)
    sensor.close()
    sensor.close()


def test_real_probe_on_this_machine() -> None:
    probe = HwmonSensor.probe()
    assert probe.sensor == "hwmon"
    if not Path("/sys/class/hwmon").is_dir():
        assert not probe.available
