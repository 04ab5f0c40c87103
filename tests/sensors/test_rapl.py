from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from wattwise.exceptions import SensorError, SensorPermissionError
from wattwise.sensors import SensorProbe, probe_sensors
from wattwise.sensors.rapl import RaplSensor, counter_delta, read_text
from wattwise.testing.sysfs import (
    DEFAULT_MAX_RANGE_UJ,
    make_rapl_tree,
    set_energy,
    write_file,
)

Reader = Callable[[Path], str]


def keys(sensor: RaplSensor) -> list[str]:
    return [d.key for d in sensor.domains()]


def energies(sensor: RaplSensor) -> dict[str, float | None]:
    return {r.domain: r.energy_j for r in sensor.read()}


# -- discovery ------------------------------------------------------------------------


def test_two_packages_with_dram(sysfs: Path) -> None:
    make_rapl_tree(sysfs, packages=2, dram=True)
    with RaplSensor(sysfs_root=sysfs) as sensor:
        doms = {d.key: d for d in sensor.domains()}
    assert list(doms) == ["rapl:package-0", "rapl:package-1", "rapl:dram-0", "rapl:dram-1"]
    assert doms["rapl:package-1"].component == "cpu"
    assert doms["rapl:dram-0"].component == "ram"
    assert doms["rapl:package-0"].label == "CPU package 0 (RAPL)"
    assert doms["rapl:dram-1"].label == "DRAM of package 1 (RAPL)"
    assert {(d.method, d.kind) for d in doms.values()} == {("measured", "counter")}
    assert doms["rapl:dram-1"].model["zone"] == "intel-rapl:1:1"


def test_first_read_is_zero_then_cumulative_joules(sysfs: Path) -> None:
    zones = make_rapl_tree(sysfs, packages=1, energies={"package-0": 123_000_000})
    sensor = RaplSensor(sysfs_root=sysfs)
    assert energies(sensor) == {"rapl:package-0": 0.0, "rapl:dram-0": 0.0}
    set_energy(zones["package-0"], 125_500_000)
    set_energy(zones["dram-0"], 750_000)
    assert energies(sensor) == {"rapl:package-0": 2.5, "rapl:dram-0": 0.75}
    set_energy(zones["package-0"], 126_000_000)
    assert energies(sensor)["rapl:package-0"] == 3.0


def test_core_and_uncore_are_not_counted_again(sysfs: Path) -> None:
    zones = make_rapl_tree(sysfs, packages=1, core=True, uncore=True, dram=True)
    sensor = RaplSensor(sysfs_root=sysfs)
    assert keys(sensor) == ["rapl:package-0", "rapl:dram-0"]
    set_energy(zones["core-0"], 9_000_000)
    set_energy(zones["uncore-0"], 9_000_000)
    set_energy(zones["package-0"], 10_000_000)
    assert sum(e or 0.0 for e in energies(sensor).values()) == 10.0
    assert "core/uncore inside the package" in sensor.describe()


def test_dram_is_counted_beside_the_package(sysfs: Path) -> None:
    zones = make_rapl_tree(sysfs, packages=1, dram=True)
    sensor = RaplSensor(sysfs_root=sysfs)
    set_energy(zones["package-0"], 20_000_000)
    set_energy(zones["dram-0"], 4_000_000)
    got = energies(sensor)
    assert got == {"rapl:package-0": 20.0, "rapl:dram-0": 4.0}


def test_no_dram_zone(sysfs: Path) -> None:
    make_rapl_tree(sysfs, packages=1, dram=False)
    assert keys(RaplSensor(sysfs_root=sysfs)) == ["rapl:package-0"]


# -- psys ------------------------------------------------------------------------------


def test_psys_ignored_by_default(sysfs: Path) -> None:
    make_rapl_tree(sysfs, packages=1, psys=True)
    sensor = RaplSensor(sysfs_root=sysfs)
    assert keys(sensor) == ["rapl:package-0", "rapl:dram-0"]
    assert "psys" in sensor.describe() and "prefer_psys=True" in sensor.describe()


def test_prefer_psys_counts_psys_alone(sysfs: Path) -> None:
    zones = make_rapl_tree(sysfs, packages=1, psys=True)
    sensor = RaplSensor(sysfs_root=sysfs, prefer_psys=True)
    (dom,) = sensor.domains()
    assert (dom.key, dom.component) == ("rapl:psys", "other")
    set_energy(zones["psys"], 30_000_000)
    set_energy(zones["package-0"], 20_000_000)
    assert energies(sensor) == {"rapl:psys": 30.0}


def test_prefer_psys_without_psys_falls_back_to_packages(sysfs: Path) -> None:
    make_rapl_tree(sysfs, packages=1)
    assert keys(RaplSensor(sysfs_root=sysfs, prefer_psys=True)) == [
        "rapl:package-0",
        "rapl:dram-0",
    ]


def test_psys_alone_is_used(sysfs: Path) -> None:
    make_rapl_tree(sysfs, packages=0, psys=True)
    assert keys(RaplSensor(sysfs_root=sysfs)) == ["rapl:psys"]


# -- wrap-around -----------------------------------------------------------------------


def test_wrap_around_uses_max_energy_range(sysfs: Path) -> None:
    near_max = DEFAULT_MAX_RANGE_UJ - 1_000_000
    zones = make_rapl_tree(sysfs, packages=1, dram=False, energies={"package-0": near_max})
    sensor = RaplSensor(sysfs_root=sysfs)
    set_energy(zones["package-0"], 500_000)  # wrapped: 1 J to the top, 0.5 J after
    assert energies(sensor)["rapl:package-0"] == pytest.approx(1.5)
    set_energy(zones["package-0"], 2_500_000)
    assert energies(sensor)["rapl:package-0"] == pytest.approx(3.5)


def test_wrap_without_known_range_counts_as_restart(sysfs: Path) -> None:
    zones = make_rapl_tree(
        sysfs, packages=1, dram=False, max_range_uj=None, energies={"package-0": 9_000_000}
    )
    sensor = RaplSensor(sysfs_root=sysfs)
    set_energy(zones["package-0"], 2_000_000)
    assert energies(sensor)["rapl:package-0"] == 2.0


@pytest.mark.parametrize(
    ("prev", "new", "max_range", "expected"),
    [
        (10, 15, 100, 5),
        (10, 10, 100, 0),
        (90, 5, 100, 15),
        (90, 5, None, 5),
        (150, 5, 100, 5),  # above the stated range: not a wrap, a restart
        (0, 2**40, 2**32, 2**40),
    ],
)
def test_counter_delta(prev: int, new: int, max_range: int | None, expected: int) -> None:
    assert counter_delta(prev, new, max_range) == expected


# -- missing and odd trees -------------------------------------------------------------


def test_no_powercap_dir_probe(sysfs: Path) -> None:
    probe = RaplSensor.probe(sysfs_root=sysfs)
    assert probe == SensorProbe(
        "rapl",
        False,
        (),
        f"no powercap RAPL zones under {sysfs}/class/powercap (virtual machines usually hide RAPL)",
        "on bare metal, load the driver: sudo modprobe intel_rapl_msr",
    )
    with pytest.raises(SensorError, match="no powercap RAPL zones"):
        RaplSensor(sysfs_root=sysfs)


def test_control_type_without_zones(sysfs: Path) -> None:
    make_rapl_tree(sysfs, packages=0)
    probe = RaplSensor.probe(sysfs_root=sysfs)
    assert not probe.available
    assert "no powercap RAPL zones" in probe.detail


def test_only_unknown_zones(sysfs: Path) -> None:
    zone = sysfs / "class" / "powercap" / "intel-rapl:0"
    write_file(zone / "name", "core")
    write_file(zone / "energy_uj", 1)
    probe = RaplSensor.probe(sysfs_root=sysfs)
    assert not probe.available
    assert "no package, dram or psys zone" in probe.detail and "core" in probe.detail


def test_unreadable_zone_is_skipped(sysfs: Path) -> None:
    zones = make_rapl_tree(sysfs, packages=1)

    def read(path: Path) -> str:
        if path.resolve() == (zones["dram-0"] / "energy_uj").resolve():
            raise OSError(errno.ENODATA, "No data available")
        return read_text(path)

    sensor = RaplSensor(sysfs_root=sysfs, reader=read)
    assert keys(sensor) == ["rapl:package-0"]
    assert "intel-rapl:0:1 (dram) unreadable, skipped" in sensor.describe()


def test_multi_die_names(sysfs: Path) -> None:
    base = sysfs / "class" / "powercap"
    for die in (0, 1):
        pkg = base / f"intel-rapl:{die}"
        write_file(pkg / "name", f"package-0-die-{die}")
        write_file(pkg / "energy_uj", 0)
        write_file(pkg / f"intel-rapl:{die}:0" / "name", "dram")
        write_file(pkg / f"intel-rapl:{die}:0" / "energy_uj", 0)
    sensor = RaplSensor(sysfs_root=sysfs)
    assert keys(sensor) == [
        "rapl:package-0-die-0",
        "rapl:package-0-die-1",
        "rapl:dram-0-die-0",
        "rapl:dram-0-die-1",
    ]
    assert sensor.domains()[1].label == "CPU package 0 die 1 (RAPL)"


# -- duplicates ------------------------------------------------------------------------


def test_symlinked_zones_are_counted_once(sysfs: Path) -> None:
    # class/powercap holds intel-rapl (the control type, whose dir nests every zone) and
    # a link per zone: each zone is reachable twice or three times.
    zones = make_rapl_tree(sysfs, packages=2, uncore=True)
    sensor = RaplSensor(sysfs_root=sysfs)
    assert len(keys(sensor)) == len(set(keys(sensor))) == 4
    set_energy(zones["package-1"], 1_000_000)
    assert sum(e or 0.0 for e in energies(sensor).values()) == 1.0


def test_class_dir_that_is_itself_a_link(sysfs: Path) -> None:
    make_rapl_tree(sysfs, packages=1, class_links=False)
    (sysfs / "class").mkdir()
    os.symlink("../devices/virtual/powercap", sysfs / "class" / "powercap")
    assert keys(RaplSensor(sysfs_root=sysfs)) == ["rapl:package-0", "rapl:dram-0"]


def test_extra_link_to_the_same_zone(sysfs: Path) -> None:
    zones = make_rapl_tree(sysfs, packages=1)
    os.symlink(zones["package-0"], sysfs / "class" / "powercap" / "intel-rapl:7")
    assert keys(RaplSensor(sysfs_root=sysfs)) == ["rapl:package-0", "rapl:dram-0"]


def test_mmio_package_is_the_same_counter(sysfs: Path) -> None:
    make_rapl_tree(sysfs, packages=1)
    make_rapl_tree(sysfs, packages=1, dram=False, control_type="intel-rapl-mmio")
    sensor = RaplSensor(sysfs_root=sysfs)
    assert keys(sensor) == ["rapl:package-0", "rapl:dram-0"]
    assert sensor.domains()[0].model["zone"] == "intel-rapl:0"
    assert "package also under intel-rapl-mmio" in sensor.describe()


def test_mmio_alone_is_used(sysfs: Path) -> None:
    make_rapl_tree(sysfs, packages=1, dram=False, control_type="intel-rapl-mmio")
    sensor = RaplSensor(sysfs_root=sysfs)
    assert keys(sensor) == ["rapl:package-0"]
    assert sensor.domains()[0].model["zone"] == "intel-rapl-mmio:0"


# -- permissions and failures ----------------------------------------------------------


def test_permission_denied(sysfs: Path, denying_reader: Callable[..., Reader]) -> None:
    make_rapl_tree(sysfs, packages=1)
    reader = denying_reader("energy_uj")
    with pytest.raises(SensorPermissionError, match="readable only by root") as info:
        RaplSensor(sysfs_root=sysfs, reader=reader)
    assert isinstance(info.value, PermissionError)
    probe = RaplSensor.probe(sysfs_root=sysfs, reader=reader)
    assert not probe.available and probe.domains == ()
    assert "CVE-2020-8694" in probe.detail
    assert probe.fix is not None
    assert probe.fix.startswith(f"sudo chmod a+r {sysfs}/class/powercap/intel-rapl:*/energy_uj")
    assert "reboot" in probe.fix and "tmpfiles.d" in probe.fix


@pytest.mark.usefixtures("modes_enforced")
def test_permission_denied_by_file_mode(sysfs: Path) -> None:
    make_rapl_tree(sysfs, packages=1, energy_mode=0o000)
    probe = RaplSensor.probe(sysfs_root=sysfs)
    assert not probe.available and probe.fix and "chmod a+r" in probe.fix


def test_read_failure_mid_run_raises_sensor_error(sysfs: Path) -> None:
    zones = make_rapl_tree(sysfs, packages=1)
    sensor = RaplSensor(sysfs_root=sysfs)
    (zones["dram-0"] / "energy_uj").unlink()
    with pytest.raises(SensorError, match="rapl: cannot read"):
        sensor.read()


def test_garbage_mid_run_raises_sensor_error(sysfs: Path) -> None:
    zones = make_rapl_tree(sysfs, packages=1)
    sensor = RaplSensor(sysfs_root=sysfs)
    write_file(zones["package-0"] / "energy_uj", "garbage")
    with pytest.raises(SensorError):
        sensor.read()


def test_permission_lost_mid_run(sysfs: Path) -> None:
    make_rapl_tree(sysfs, packages=1)
    denied = False

    def read(path: Path) -> str:
        if denied and path.name == "energy_uj":
            raise PermissionError(13, "Permission denied")
        return read_text(path)

    sensor = RaplSensor(sysfs_root=sysfs, reader=read)
    denied = True
    with pytest.raises(SensorPermissionError):
        sensor.read()


def test_close_is_idempotent(sysfs: Path) -> None:
    make_rapl_tree(sysfs, packages=1)
    sensor = RaplSensor(sysfs_root=sysfs)
    sensor.close()
    sensor.close()
    assert sensor.process_share([os.getpid()]) == {}


def test_probe_lists_domains_and_never_raises(sysfs: Path) -> None:
    make_rapl_tree(sysfs, packages=1, psys=True)
    probe = RaplSensor.probe(sysfs_root=sysfs)
    assert probe.available and probe.fix is None
    assert [d.key for d in probe.domains] == ["rapl:package-0", "rapl:dram-0"]
    assert "counting rapl:package-0 (intel-rapl:0)" in probe.detail
    bad = RaplSensor.probe(sysfs_root=sysfs, no_such_option=True)
    assert not bad.available and "probe failed" in bad.detail


def test_registry_probe_uses_rapl(sysfs: Path, proc: Path) -> None:
    make_rapl_tree(sysfs, packages=1)
    (probe,) = probe_sensors(sysfs_root=str(sysfs), proc_root=str(proc), names=("rapl",))
    assert probe.available and [d.key for d in probe.domains] == [
        "rapl:package-0",
        "rapl:dram-0",
    ]


def test_real_probe_on_this_machine() -> None:
    probe = RaplSensor.probe()
    assert probe.sensor == "rapl"
    if not Path("/sys/class/powercap").is_dir():  # a VM or container without RAPL
        assert not probe.available
        assert "virtual machines usually hide RAPL" in probe.detail
