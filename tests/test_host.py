from __future__ import annotations

from pathlib import Path

import pytest

from wattwise.host import HostCpu, read_cgroup_limits, read_cpu_info

CPUINFO = """processor\t: 0
model name\t: Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz
physical id\t: 0
flags\t\t: fpu sse2 avx2

processor\t: 1
model name\t: Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz
physical id\t: 1
flags\t\t: fpu sse2 avx2
"""


def make_proc(root: Path, *, cgroup: str = "0::/\n", stat_cpus: int = 2) -> Path:
    proc = root / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "cpuinfo").write_text(CPUINFO)
    (proc / "self" / "cgroup").write_text(cgroup)
    lines = ["cpu  300 0 100 1000 50 0 0 0 0 0"]
    lines += [f"cpu{i} 150 0 50 500 25 0 0 0 0 0" for i in range(stat_cpus)]
    (proc / "stat").write_text("\n".join(lines) + "\nintr 0\n")
    return proc


def test_cpu_info_counts_sockets_and_spots_vms(tmp_path: Path) -> None:
    proc = make_proc(tmp_path)
    info = read_cpu_info(proc)
    assert (info.model, info.logical_cpus, info.sockets, info.virtualised) == (
        "Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz",
        2,
        2,
        False,
    )
    (proc / "cpuinfo").write_text(CPUINFO.replace("avx2", "avx2 hypervisor"))
    assert read_cpu_info(proc).virtualised


def test_cgroup_v2_limits(tmp_path: Path) -> None:
    proc = make_proc(tmp_path, cgroup="0::/job\n")
    cg = tmp_path / "cg" / "job"
    cg.mkdir(parents=True)
    (cg / "cpu.max").write_text("150000 100000\n")
    (cg / "memory.max").write_text(str(4 << 30) + "\n")
    (cg / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 1\n")
    lim = read_cgroup_limits(proc, tmp_path / "cg")
    assert lim.cpu_quota == 1.5 and lim.memory_bytes == 4 << 30
    host = HostCpu(proc_root=proc, cgroup_root=tmp_path / "cg", affinity={0, 1})
    assert host.scope_cpus == 1.5
    assert host.scope_busy_s()[0] == pytest.approx(2.5)


def test_cgroup_v2_unlimited(tmp_path: Path) -> None:
    proc = make_proc(tmp_path)
    cg = tmp_path / "cg"
    cg.mkdir()
    (cg / "cpu.max").write_text("max 100000\n")
    (cg / "memory.max").write_text("max\n")
    lim = read_cgroup_limits(proc, cg)
    assert lim.cpu_quota is None and lim.memory_bytes is None


def test_cgroup_v1_limits(tmp_path: Path) -> None:
    proc = make_proc(tmp_path, cgroup="4:memory:/c\n2:cpuacct,cpu:/c\n")
    cg = tmp_path / "cg"
    for sub in ("cpu,cpuacct/c", "memory/c"):
        (cg / sub).mkdir(parents=True)
    (cg / "cpu").symlink_to(cg / "cpu,cpuacct")
    (cg / "cpuacct").symlink_to(cg / "cpu,cpuacct")
    (cg / "cpu,cpuacct/c/cpu.cfs_quota_us").write_text("50000\n")
    (cg / "cpu,cpuacct/c/cpu.cfs_period_us").write_text("100000\n")
    (cg / "cpu,cpuacct/c/cpuacct.usage").write_text("3000000000\n")
    (cg / "memory/c/memory.limit_in_bytes").write_text(str(2 << 30))
    lim = read_cgroup_limits(proc, cg)
    assert lim.cpu_quota == 0.5 and lim.memory_bytes == 2 << 30
    host = HostCpu(proc_root=proc, cgroup_root=cg, affinity={0, 1})
    assert host.scope_busy_s()[0] == pytest.approx(3.0)


def test_busy_time_from_proc_stat(tmp_path: Path) -> None:
    proc = make_proc(tmp_path)
    host = HostCpu(proc_root=proc, cgroup_root=tmp_path / "none", affinity={1})
    assert host.machine_busy_s() == pytest.approx(4.0)  # (300+100)/100
    assert host.scope_busy_s() == pytest.approx((2.0, 7.25))  # cpu1 only
