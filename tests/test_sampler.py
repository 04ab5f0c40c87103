from __future__ import annotations

import threading
import time

import pytest

from wattwise.sampler import Sampler
from wattwise.testing.fake import FailingSensor, SyntheticSensor, sine_power


def test_threaded_sampling_matches_true_energy_within_half_a_percent() -> None:
    power, energy = sine_power(80.0, 30.0, period_s=1.5)
    t0 = time.monotonic()
    sensor = SyntheticSensor(lambda t: power(t - t0))
    sampler = Sampler([sensor], interval_s=0.1)
    sampler.start()
    time.sleep(3.0)
    snap = sampler.stop()
    first, last = sensor.reads[0] - t0, sensor.reads[-1] - t0
    true = energy(first, last)
    got = snap.machine["synthetic:cpu"].value_j
    assert abs(got - true) / true < 0.005
    assert not sampler.running


def test_counter_sensor_is_exact() -> None:
    power, energy = sine_power()
    sensor = SyntheticSensor(power, energy, kind="counter")
    sampler = Sampler([sensor], interval_s=0.1)
    sampler.start()
    time.sleep(0.5)
    snap = sampler.stop()
    true = energy(sensor.reads[0], sensor.reads[-1])
    assert snap.machine["synthetic:cpu"].value_j == pytest.approx(true, rel=1e-9)


def test_stop_is_idempotent_and_thread_ends() -> None:
    sampler = Sampler([SyntheticSensor(lambda t: 10.0)], interval_s=0.1)
    sampler.start()
    sampler.stop()
    sampler.stop()
    sampler.close()
    assert not any(t.name == "wattwise-sampler" for t in threading.enumerate())


def test_failing_sensor_degrades_to_fallback_and_keeps_energy() -> None:
    failing = FailingSensor(SyntheticSensor(lambda t: 100.0), fail_after=3)
    replacement = SyntheticSensor(lambda t: 10.0, key="estimate:cpu")
    sampler = Sampler([failing], interval_s=0.1, fallback=lambda s, d: replacement)
    sampler.start()
    time.sleep(0.8)
    snap = sampler.stop()
    assert snap.machine["synthetic:cpu"].value_j > 0  # counted before the failure: kept
    assert snap.machine["estimate:cpu"].value_j > 0
    assert failing.closed == 1
    assert len(sampler.events) == 1 and "injected failure" in sampler.events[0].message


def test_a_failing_checkpoint_never_raises() -> None:
    def boom(_snap: object) -> None:
        raise RuntimeError("disk full")

    sampler = Sampler([SyntheticSensor(lambda t: 10.0)], interval_s=0.1, on_tick=boom)
    sampler.start()
    time.sleep(0.3)
    sampler.stop()
    assert [e.kind for e in sampler.events] == ["checkpoint-error"]


def test_intensity_weights_each_interval() -> None:
    sampler = Sampler(
        [SyntheticSensor(lambda t: 100.0)], interval_s=0.1, intensity=lambda wall: 200.0
    )
    sampler.start()
    time.sleep(0.3)
    snap = sampler.stop()
    assert snap.ei_machine == pytest.approx(snap.machine["synthetic:cpu"].value_j * 200.0)


def constant(power_w: float = 100.0) -> SyntheticSensor:
    return SyntheticSensor(lambda t: power_w, lambda a, b: power_w * (b - a), kind="counter")


# -- sampler.py: reading the domain list while the sampler thread adds one ------------------
def test_domains_waits_for_the_sampler_lock() -> None:
    sampler = Sampler([SyntheticSensor(lambda t: 10.0)], interval_s=0.1)
    done = threading.Event()

    def read_domains() -> None:
        assert sampler.domains
        done.set()

    worker = threading.Thread(target=read_domains)
    with sampler.lock:  # as while a failing sensor is replaced mid-tick
        worker.start()
        assert not done.wait(0.2)
    worker.join(timeout=5)
    assert done.is_set()


# -- sampler.py: a failing intensity lookup must not freeze the figures --------------------
def test_a_failing_intensity_lookup_loses_no_energy() -> None:
    def broken(_wall: float) -> float:
        raise RuntimeError("provider bug")

    sampler = Sampler(
        [constant(10.0)], interval_s=0.05, intensity=broken, start_intensity_g_per_kwh=400.0
    )
    start = sampler.start()
    time.sleep(0.4)
    last = sampler.stop()
    sampler.close()
    delta = last.minus(start)
    energy = sum(v.value_j for v in delta.machine.values())
    assert energy == pytest.approx(10.0 * (last.t_s - start.t_s), rel=0.05)
    # emissions keep the intensity known at the start rather than dropping to zero
    assert delta.ei_machine == pytest.approx(energy * 400.0, rel=0.05)
    assert [e.kind for e in sampler.events] == ["intensity-error"]
