from __future__ import annotations

import errno
from pathlib import Path

import pytest

from wattwise.exceptions import SensorError, SensorPermissionError
from wattwise.sensors.perf import PerfSensor, SyscallOpener, parse_cpulist
from wattwise.testing.sysfs import (
    FakePerfOpener,
    make_cpu_topology,
    make_perf_pmu,
    make_proc_tree,
    write_file,
)

PKG, RAM, PSYS, CORES = 2, 3, 5, 1
PMU_TYPE = 33
J = 2**32  # counts per joule at the kernel's 2^-32 J scale
CAP_PERFMON = 1 << 38


@pytest.fixture
def two_sockets(sysfs: Path, proc: Path) -> tuple[Path, Path]:
    """A 2-socket box (CPUs 0-1 on package 0, 2-3 on package 1), paranoid 0."""
    make_cpu_topology(sysfs, [0, 0, 1, 1])
    make_perf_pmu(sysfs, cpumask="0,2", pmu_type=PMU_TYPE)
    make_proc_tree(proc, paranoid=0)
    return sysfs, proc


def open_sensor(roots: tuple[Path, Path], opener: FakePerfOpener, **kw: object) -> PerfSensor:
    return PerfSensor(sysfs_root=roots[0], proc_root=roots[1], opener=opener, **kw)  # type: ignore[arg-type]


def test_domains_one_cpu_per_package(two_sockets: tuple[Path, Path]) -> None:
    opener = FakePerfOpener()
    sensor = open_sensor(two_sockets, opener)
    doms = sensor.domains()
    assert [(d.key, d.component) for d in doms] == [
        ("perf:energy-pkg-0", "cpu"),
        ("perf:energy-pkg-1", "cpu"),
        ("perf:energy-ram-0", "ram"),
        ("perf:energy-ram-1", "ram"),
    ]
    assert {(d.method, d.kind) for d in doms} == {("measured", "counter")}
    assert doms[1].label == "CPU package 1 (perf RAPL)"
    assert sorted(opener.opened.values()) == [
        (PMU_TYPE, PKG, 0),
        (PMU_TYPE, PKG, 2),
        (PMU_TYPE, RAM, 0),
        (PMU_TYPE, RAM, 2),
    ]
    assert sensor.cpus == [0, 2] and sensor.paranoid == 0


def test_read_scales_counts_to_joules(two_sockets: tuple[Path, Path]) -> None:
    opener = FakePerfOpener(counts={(PKG, 0): 7 * J})  # already running when opened
    sensor = open_sensor(two_sockets, opener)
    assert {r.domain: r.energy_j for r in sensor.read()} == dict.fromkeys(
        ["perf:energy-pkg-0", "perf:energy-pkg-1", "perf:energy-ram-0", "perf:energy-ram-1"],
        0.0,
    )
    opener.counts[(PKG, 0)] += 5 * J
    opener.counts[(RAM, 2)] += J // 4
    got = {r.domain: r.energy_j for r in sensor.read()}
    assert got["perf:energy-pkg-0"] == pytest.approx(5.0)
    assert got["perf:energy-ram-1"] == pytest.approx(0.25)
    assert got["perf:energy-pkg-1"] == 0.0


def test_64_bit_wrap_is_robust(two_sockets: tuple[Path, Path]) -> None:
    opener = FakePerfOpener(counts={(PKG, 0): 2**64 - J})
    sensor = open_sensor(two_sockets, opener)
    opener.counts[(PKG, 0)] = 2 * J
    assert sensor.read()[0].energy_j == pytest.approx(3.0)


def test_topology_fallback_without_cpumask(sysfs: Path, proc: Path) -> None:
    make_cpu_topology(sysfs, [0, 0, 1, 1, 1], offline=[2])
    make_perf_pmu(sysfs, events=["energy-pkg"], cpumask=None)
    make_proc_tree(proc, paranoid=-1)
    opener = FakePerfOpener()
    sensor = open_sensor((sysfs, proc), opener)
    assert sensor.cpus == [0, 3]  # cpu2 is offline: cpu3 is package 1's first online CPU
    assert [d.key for d in sensor.domains()] == ["perf:energy-pkg-0", "perf:energy-pkg-1"]


def test_one_cpu_per_die(sysfs: Path, proc: Path) -> None:
    make_cpu_topology(sysfs, [0, 0])
    write_file(sysfs / "devices/system/cpu/cpu1/topology/die_id", 1)
    make_perf_pmu(sysfs, events=["energy-pkg"], cpumask="0-1")
    make_proc_tree(proc, paranoid=0)
    sensor = open_sensor((sysfs, proc), FakePerfOpener())
    assert [d.key for d in sensor.domains()] == [
        "perf:energy-pkg-0-die-0",
        "perf:energy-pkg-0-die-1",
    ]


def test_paranoid_2_is_unavailable_with_the_sysctl_fix(sysfs: Path, proc: Path) -> None:
    make_perf_pmu(sysfs)
    make_proc_tree(proc, paranoid=2)
    opener = FakePerfOpener()
    probe = PerfSensor.probe(sysfs_root=sysfs, proc_root=proc, opener=opener)
    assert not probe.available and probe.domains == ()
    assert "perf_event_paranoid is 2" in probe.detail
    assert probe.fix is not None
    assert probe.fix.startswith("sudo sysctl kernel.perf_event_paranoid=0")
    assert opener.opened == {}
    with pytest.raises(SensorPermissionError):
        PerfSensor(sysfs_root=sysfs, proc_root=proc, opener=opener)


def test_cap_perfmon_overrides_paranoid(sysfs: Path, proc: Path) -> None:
    make_perf_pmu(sysfs)
    make_proc_tree(proc, paranoid=2, cap_eff=CAP_PERFMON)
    probe = PerfSensor.probe(sysfs_root=sysfs, proc_root=proc, opener=FakePerfOpener())
    assert probe.available
    assert "perf_event_paranoid=2" in probe.detail


def test_open_refused_closes_what_was_opened(two_sockets: tuple[Path, Path]) -> None:
    opener = FakePerfOpener(fail_open={(RAM, 0): PermissionError(errno.EACCES, "denied")})
    probe = PerfSensor.probe(sysfs_root=two_sockets[0], proc_root=two_sockets[1], opener=opener)
    assert not probe.available
    assert "refused" in probe.detail and "seccomp" in probe.detail
    assert probe.fix and "perf_event_paranoid=0" in probe.fix
    assert sorted(opener.closed) == sorted(opener.opened)


def test_open_failure_is_sensor_error(two_sockets: tuple[Path, Path]) -> None:
    opener = FakePerfOpener(fail_open={(PKG, 2): OSError(errno.ENOENT, "No such file")})
    with pytest.raises(SensorError, match="failed") as info:
        open_sensor(two_sockets, opener)
    assert not isinstance(info.value, SensorPermissionError)
    assert sorted(opener.closed) == sorted(opener.opened)


def test_psys_not_counted_by_default(sysfs: Path, proc: Path) -> None:
    make_perf_pmu(sysfs, events=["energy-cores", "energy-pkg", "energy-ram", "energy-psys"])
    make_proc_tree(proc, paranoid=0)
    sensor = open_sensor((sysfs, proc), FakePerfOpener())
    assert [d.key for d in sensor.domains()] == ["perf:energy-pkg-0", "perf:energy-ram-0"]
    assert "energy-cores is inside energy-pkg" in sensor.describe()
    assert "energy-psys (contains pkg + ram) not counted" in sensor.describe()


def test_prefer_psys(sysfs: Path, proc: Path) -> None:
    make_perf_pmu(sysfs, events=["energy-pkg", "energy-ram", "energy-psys"])
    make_proc_tree(proc, paranoid=0)
    opener = FakePerfOpener()
    sensor = open_sensor((sysfs, proc), opener, prefer_psys=True)
    (dom,) = sensor.domains()
    assert (dom.key, dom.component) == ("perf:energy-psys-0", "other")
    assert list(opener.opened.values()) == [(33, PSYS, 0)]


def test_no_pmu(sysfs: Path, proc: Path) -> None:
    make_proc_tree(proc, paranoid=0)
    probe = PerfSensor.probe(sysfs_root=sysfs, proc_root=proc, opener=FakePerfOpener())
    assert not probe.available and probe.fix is None
    assert "no perf power PMU" in probe.detail


def test_pmu_without_energy_events(sysfs: Path, proc: Path) -> None:
    # AMD family 15h's "power" PMU publishes power-pkg (mW), not energy
    make_perf_pmu(sysfs, events={"power-pkg": 0x1})
    make_proc_tree(proc, paranoid=0)
    probe = PerfSensor.probe(sysfs_root=sysfs, proc_root=proc, opener=FakePerfOpener())
    assert not probe.available and "no energy-pkg/-ram/-psys event" in probe.detail


def test_custom_scale_and_wrong_unit(sysfs: Path, proc: Path) -> None:
    pmu = make_perf_pmu(sysfs, events=["energy-pkg", "energy-ram"], scale="1e-6")
    write_file(pmu / "events" / "energy-ram.unit", "mWatts")
    make_proc_tree(proc, paranoid=0)
    opener = FakePerfOpener()
    sensor = open_sensor((sysfs, proc), opener)
    assert [d.key for d in sensor.domains()] == ["perf:energy-pkg-0"]
    opener.counts[(PKG, 0)] = 2_500_000
    assert sensor.read()[0].energy_j == pytest.approx(2.5)
    assert "energy-ram: unsupported encoding or unit" in sensor.describe()


def test_read_failure_mid_run(two_sockets: tuple[Path, Path]) -> None:
    opener = FakePerfOpener()
    sensor = open_sensor(two_sockets, opener)
    opener.closed.append(next(iter(opener.opened)))  # the kernel lost the event
    with pytest.raises(SensorError, match="perf: cannot read"):
        sensor.read()


def test_close_is_idempotent_and_closes_every_fd(two_sockets: tuple[Path, Path]) -> None:
    opener = FakePerfOpener()
    with open_sensor(two_sockets, opener) as sensor:
        sensor.read()
    sensor.close()
    assert sorted(opener.closed) == sorted(opener.opened)
    with pytest.raises(SensorError, match="closed"):
        sensor.read()


@pytest.mark.parametrize(
    ("text", "cpus"),
    [("0", [0]), ("0,36\n", [0, 36]), ("0-3,8", [0, 1, 2, 3, 8]), ("", [])],
)
def test_parse_cpulist(text: str, cpus: list[int]) -> None:
    assert parse_cpulist(text) == cpus


def test_real_syscall_opener_with_a_software_event() -> None:
    """The default opener against the real kernel, on a software event every kernel has."""
    opener = SyscallOpener()
    try:
        fd = opener.open(1, 0, 0)  # PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK, cpu 0
    except OSError as exc:
        pytest.skip(f"perf_event_open not allowed here: {exc}")
    try:
        first = opener.read(fd)
        second = opener.read(fd)
        assert 0 <= first <= second
    finally:
        opener.close(fd)
    with pytest.raises(OSError):
        opener.read(fd)


def test_real_probe_on_this_machine() -> None:
    probe = PerfSensor.probe()
    assert probe.sensor == "perf"
    if not Path("/sys/bus/event_source/devices/power").is_dir():
        assert not probe.available
        assert "no perf power PMU" in probe.detail
