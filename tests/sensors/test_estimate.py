from __future__ import annotations

from pathlib import Path

import pytest

from wattwise.sensors.estimate import (
    CPU_IDLE_FRACTION,
    CPU_TDP_FACTOR,
    CPU_W_PER_LOGICAL,
    RAM_W_PER_GB,
    EstimateSensor,
    GpuToEstimate,
    PowerModel,
)

CPU = "model name\t: Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz\nphysical id\t: 0\nflags\t: fpu{vm}\n"


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def proc_tree(root: Path, *, logical: int = 4, vm: bool = False, busy_ticks: int = 0) -> Path:
    proc = root / "proc"
    (proc / "self").mkdir(parents=True, exist_ok=True)
    block = "".join(
        f"processor\t: {i}\n" + CPU.format(vm=" hypervisor" if vm else "") + "\n"
        for i in range(logical)
    )
    (proc / "cpuinfo").write_text(block)
    (proc / "self" / "cgroup").write_text("0::/\n")
    set_busy(proc, logical, busy_ticks)
    return proc


def set_busy(proc: Path, logical: int, busy_ticks: int) -> None:
    per = busy_ticks // logical
    lines = [f"cpu  {busy_ticks} 0 0 100000 0 0 0 0 0 0"]
    lines += [f"cpu{i} {per} 0 0 25000 0 0 0 0 0 0" for i in range(logical)]
    (proc / "stat").write_text("\n".join(lines) + "\n")


def sensor(tmp_path: Path, **kw: object) -> tuple[EstimateSensor, Path, Clock]:
    proc = proc_tree(tmp_path, vm=bool(kw.pop("vm", False)))
    clock = Clock()
    s = EstimateSensor(
        proc_root=proc, cgroup_root=tmp_path / "cg", clock=clock, memory_bytes=16 << 30, **kw
    )  # type: ignore[arg-type]
    return s, proc, clock


def test_power_model_bounds_are_ordered() -> None:
    pm = PowerModel((70.0, 100.0, 120.0), CPU_IDLE_FRACTION)
    for u in (0.0, 0.3, 1.0, 2.0):
        low, mid, high = pm.power_w(u)
        assert low < mid < high
    assert pm.power_w(1.0)[1] == 100.0 and pm.power_w(5.0) == pm.power_w(1.0)


def test_catalogue_cpu_uses_tdp_share_of_usable_cpus(tmp_path: Path) -> None:
    s, proc, clock = sensor(tmp_path)
    (cpu,) = [d for d in s.domains() if d.component == "cpu"]
    assert cpu.method == "estimated" and cpu.model["model"] == "cpu-tdp-share"
    assert cpu.model["tdp_w"] == 125.0 and "Gold 6130" in cpu.model["tdp_source"]
    # affinity is this process's (≤ 4 logical CPUs here): P_max = 125 × usable / 4
    usable = cpu.model["usable_cpus"]
    assert cpu.model["p_max_w"][1] == pytest.approx(125.0 * usable / 4, rel=1e-3)
    # a fully busy interval: 4 CPUs × 1 s × 100 ticks
    set_busy(proc, 4, 400)
    clock.t = 1.0
    r = {x.domain: x for x in s.read()}["estimate:cpu"]
    p_max = 125.0 * usable / 4
    assert r.energy_j == pytest.approx(p_max * CPU_TDP_FACTOR[1], rel=1e-3)
    assert r.energy_low_j is not None and r.energy_high_j is not None
    assert r.energy_low_j < r.energy_j < r.energy_high_j


def test_idle_cpu_draws_idle_fraction(tmp_path: Path) -> None:
    s, _proc, clock = sensor(tmp_path, components=("cpu",))
    clock.t = 2.0
    (r,) = s.read()
    p_max = s.domains()[0].model["p_max_w"][1]
    assert r.energy_j == pytest.approx(2.0 * p_max * CPU_IDLE_FRACTION[1], rel=1e-2)


def test_vm_uses_per_cpu_default_and_says_why(tmp_path: Path) -> None:
    s, _, _ = sensor(tmp_path, vm=True, components=("cpu",))
    (cpu,) = s.domains()
    assert cpu.model["model"] == "cpu-per-logical"
    assert "virtual machine" in cpu.model["reason"]
    assert cpu.model["w_per_cpu"] == CPU_W_PER_LOGICAL


def test_unknown_cpu_model_and_user_tdp(tmp_path: Path) -> None:
    s, _, _ = sensor(tmp_path, components=("cpu",), cpu_model="Mystery CPU 9000")
    assert "not in the TDP catalogue" in s.domains()[0].model["reason"]
    s2, _, _ = sensor(tmp_path, components=("cpu",), cpu_model="Mystery", cpu_tdp_w=60.0)
    assert s2.domains()[0].model["tdp_source"] == "user"


def test_ram_is_per_gb_and_constant(tmp_path: Path) -> None:
    s, _, clock = sensor(tmp_path, components=("ram",))
    clock.t = 10.0
    (r,) = s.read()
    assert r.energy_j == pytest.approx(16 * RAM_W_PER_GB[1] * 10.0)
    assert r.energy_low_j == pytest.approx(16 * RAM_W_PER_GB[0] * 10.0)


def test_ram_respects_cgroup_memory_limit(tmp_path: Path) -> None:
    proc = proc_tree(tmp_path)
    cg = tmp_path / "cg"
    cg.mkdir()
    (cg / "memory.max").write_text(str(4 << 30))
    s = EstimateSensor(components=("ram",), proc_root=proc, cgroup_root=cg, memory_bytes=64 << 30)
    (d,) = s.domains()
    assert d.model["gb"] == 4.0 and d.model["capped_by_cgroup"]


def test_gpu_estimate_and_failing_utilisation(tmp_path: Path) -> None:
    def broken() -> float:
        raise RuntimeError("nvml gone")

    gpus = [GpuToEstimate(0, "A100", 400.0, lambda: 0.5), GpuToEstimate(1, "A100", 400.0, broken)]
    s, _, clock = sensor(tmp_path, components=(), gpus=gpus)
    clock.t = 1.0
    r = {x.domain: x for x in s.read()}
    assert r["estimate:gpu0"].energy_j == pytest.approx(400 * (0.15 + 0.85 * 0.5))
    assert r["estimate:gpu1"].energy_j == pytest.approx(400.0)  # unknown load: full assumed


def test_probe_on_this_machine() -> None:
    p = EstimateSensor.probe()
    assert p.available and {d.component for d in p.domains} == {"cpu", "ram"}
    assert "W idle-full" in p.detail
