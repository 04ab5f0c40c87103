from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wattwise.exceptions import ConfigError, SensorError
from wattwise.sampler import Sampler
from wattwise.sensors import Domain, detect_sensors, fallback_for, probe_sensors
from wattwise.sensors.estimate import EstimateSensor
from wattwise.testing.fake import SyntheticSensor
from wattwise.testing.sysfs import make_rapl_tree

NO_GPU = {"CUDA_VISIBLE_DEVICES": ""}


def names(detected: object) -> list[str]:
    return [s.name for s in detected.sensors]  # type: ignore[attr-defined]


def test_measured_rapl_wins_and_estimate_covers_nothing_twice(tmp_path: Path) -> None:
    make_rapl_tree(tmp_path / "sys", packages=1, dram=True)
    d = detect_sensors(sysfs_root=str(tmp_path / "sys"), environ=NO_GPU)
    assert names(d)[0] == "rapl" and "estimate" not in names(d)


def test_rapl_without_dram_gets_a_ram_estimate(tmp_path: Path) -> None:
    make_rapl_tree(tmp_path / "sys", packages=1, dram=False)
    d = detect_sensors(sysfs_root=str(tmp_path / "sys"), environ=NO_GPU)
    assert names(d)[0] == "rapl"
    est = d.sensors[-1]
    assert isinstance(est, EstimateSensor)
    assert [x.component for x in est.domains()] == ["ram"]


def test_nothing_measured_estimates_cpu_and_ram(tmp_path: Path) -> None:
    d = detect_sensors(sysfs_root=str(tmp_path / "empty"), environ=NO_GPU)
    assert names(d) == ["estimate"]
    assert any(n.startswith("rapl:") for n in d.notes)
    with pytest.raises(SensorError, match="strict"):
        detect_sensors(sysfs_root=str(tmp_path / "empty"), environ=NO_GPU, strict=True)


def test_unknown_sensor_name() -> None:
    with pytest.raises(ConfigError, match="unknown sensor"):
        detect_sensors(only=["rapl", "geiger"])


def test_probe_never_raises_and_covers_every_sensor(tmp_path: Path) -> None:
    probes = probe_sensors(sysfs_root=str(tmp_path), environ=NO_GPU)
    assert [p.sensor for p in probes] == ["rapl", "perf", "hwmon", "nvml", "amdsmi", "estimate"]
    assert probes[-1].available


def test_fallback_for_cpu_and_gpu_domains() -> None:
    cpu = Domain("rapl:package-0", "cpu", "pkg", "measured", "counter")
    gpu = Domain(
        "nvml:gpu0",
        "gpu",
        "GPU 0 (NVIDIA A100-SXM4-80GB)",
        "measured",
        "counter",
        {"name": "NVIDIA A100-SXM4-80GB"},
    )
    sensor = SyntheticSensor(lambda t: 1.0)
    est = fallback_for(sensor, [cpu, gpu])
    assert isinstance(est, EstimateSensor)
    keys = {d.key: d for d in est.domains()}
    assert set(keys) == {"estimate:cpu", "estimate:gpu0"}
    assert keys["estimate:gpu0"].model["tdp_w"] == 400.0  # A100 SXM4 from the catalogue
    assert fallback_for(sensor, [Domain("x:o", "other", "o", "measured", "counter")]) is None


def test_a_failed_psys_falls_back_to_the_cpu_and_ram_estimate(tmp_path: Path) -> None:
    from wattwise.sensors.rapl import RaplSensor

    make_rapl_tree(tmp_path / "sys", packages=0, dram=False, psys=True)
    rapl = RaplSensor(sysfs_root=tmp_path / "sys")
    est = fallback_for(rapl, rapl.domains())
    rapl.close()
    assert isinstance(est, EstimateSensor)
    assert {d.component for d in est.domains()} == {"cpu", "ram"}
    assert all(d.method == "estimated" for d in est.domains())


def test_psys_covers_cpu_and_ram(tmp_path: Path) -> None:
    from wattwise.sensors.rapl import RaplSensor

    make_rapl_tree(tmp_path / "sys", packages=0, dram=False, psys=True)
    probe = RaplSensor.probe(sysfs_root=tmp_path / "sys")
    assert [d.component for d in probe.domains] == ["other"]
    d = detect_sensors(sysfs_root=str(tmp_path / "sys"), environ=NO_GPU)
    assert names(d) == ["rapl"]  # no estimate stacked on top of the whole platform


def test_failed_gpu_sensor_stays_open_for_its_estimate() -> None:
    from wattwise.testing.fake import FailingSensor

    class GpuSensor(SyntheticSensor):
        closed = 0

        def utilization(self) -> dict[str, float]:
            if self.closed:
                raise SensorError("closed")
            return {"synthetic:gpu": 0.5}

        def close(self) -> None:
            self.closed += 1

    inner = GpuSensor(lambda t: 200.0, key="synthetic:gpu", component="gpu")
    failing = FailingSensor(inner, fail_after=1)
    failing.utilization = inner.utilization  # type: ignore[attr-defined]
    sampler = Sampler([failing], interval_s=0.1, fallback=fallback_for)
    sampler.sample_now()
    sampler.sample_now()  # fails: replaced by an estimate that reads utilisation
    snap = sampler.sample_now()
    assert "estimate:gpu0" in snap.machine
    est = next(s for s in sampler._sensors if isinstance(s, EstimateSensor))
    assert est.adopted == (failing,)
    assert failing.closed == 0
    sampler.close()
    assert failing.closed == 1


# -- sensors/_registry.py: strict refusal closes what it opened ----------------------------
def test_strict_refusal_closes_the_sensors_it_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    from wattwise.sensors import _registry

    opened: list[SyntheticSensor] = []

    def fake_class(name: str) -> Any:
        def make(**_params: Any) -> SyntheticSensor:
            # books its energy to the GPU, so CPU and RAM stay uncovered
            opened.append(SyntheticSensor(lambda t: 50.0, key="synthetic:gpu", component="gpu"))
            return opened[-1]

        return make

    monkeypatch.setattr(_registry, "sensor_class", fake_class)
    with pytest.raises(SensorError, match="strict"):
        _registry.detect_sensors(only=("nvml", "estimate"), strict=True)
    assert opened and all(s.closed for s in opened)
