from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

import wattwise
from wattwise.exceptions import (
    SensorDegradedWarning,
    StoreError,
    TrackerStateError,
    UnknownZoneError,
)
from wattwise.store import MemoryStore
from wattwise.testing.fake import FailingSensor, SyntheticSensor
from wattwise.tracking import Tracker, track
from wattwise.units import J_PER_KWH


def constant(
    power_w: float = 100.0, key: str = "synthetic:cpu", component: str = "cpu"
) -> SyntheticSensor:
    return SyntheticSensor(
        lambda t: power_w,
        lambda a, b: power_w * (b - a),
        kind="counter",
        key=key,
        component=component,
    )  # type: ignore[arg-type]


def tracker(**kw: object) -> Tracker:
    kw.setdefault("sensors", [constant()])
    kw.setdefault("store", MemoryStore())
    kw.setdefault("zone", "FRA")
    kw.setdefault("interval_s", 0.1)
    return track("t", **kw)  # type: ignore[arg-type]


def no_sampler_threads() -> bool:
    return not any(t.name == "wattwise-sampler" for t in threading.enumerate())


def test_context_manager_measures_and_saves() -> None:
    store = MemoryStore()
    with tracker(store=store, pue=1.5, price_per_kwh=0.3, currency="EUR") as run:
        time.sleep(0.5)
    rec = run.result
    assert rec.status == "completed"
    assert rec.machine.energy_j == pytest.approx(100.0 * rec.duration_s, rel=0.02)
    assert rec.machine.method == "measured"
    assert rec.machine.by_component_j == {"cpu": pytest.approx(rec.machine.energy_j)}
    assert rec.carbon.zone == "FRA" and rec.carbon.zone_how == "argument"
    assert rec.machine.facility_energy_j == pytest.approx(rec.machine.energy_j * 1.5)
    expected_co2 = rec.machine.facility_energy_j / J_PER_KWH * rec.carbon.intensity_g_per_kwh
    assert rec.machine.co2_g == pytest.approx(expected_co2, rel=1e-6)
    assert rec.machine.cost == pytest.approx(rec.machine.facility_energy_j / J_PER_KWH * 0.3)
    assert rec.carbon.currency == "EUR"
    assert store.get_run(rec.id) == rec
    assert store.get_series(rec.id)[1]  # the power series was saved
    assert no_sampler_threads()


def test_fixed_intensity_and_headline_process() -> None:
    with tracker(intensity_g_per_kwh=500.0, headline="process") as run:
        time.sleep(0.2)
    rec = run.result
    assert rec.carbon.intensity_kind == "user"
    assert rec.headline == "process" and rec.energy_j == rec.process.energy_j
    assert rec.process.energy_j <= rec.machine.energy_j


def test_exception_records_failed_and_reraises() -> None:
    t = tracker()
    with pytest.raises(ZeroDivisionError), t:
        1 / 0  # noqa: B018
    assert t.result.status == "failed"
    assert any("ZeroDivisionError" in e for e in t.result.events)
    assert no_sampler_threads()


def test_keyboard_interrupt_records_interrupted() -> None:
    t = tracker()
    with pytest.raises(KeyboardInterrupt), t:
        raise KeyboardInterrupt
    assert t.result.status == "interrupted"


def test_start_stop_idempotent_and_restartable() -> None:
    t = tracker()
    assert t.start() is t.start()
    first = t.stop()
    assert t.stop() is first
    t.start()
    second = t.stop()
    assert second.id != first.id
    with pytest.raises(TrackerStateError):
        tracker().stop()


def test_decorator_makes_a_fresh_run_per_call() -> None:
    store = MemoryStore()

    @track(store=store, sensors=[constant()], zone="FRA", interval_s=0.1)
    def work(x: int) -> int:
        time.sleep(0.1)
        return x * 2

    assert work(2) == 4
    assert work(3) == 6
    runs = store.list_runs()
    assert len(runs) == 2 and {r.name for r in runs} == {
        "test_decorator_makes_a_fresh_run_per_call.<locals>.work"
    }
    assert work.last_tracker.result.id == runs[0].id  # type: ignore[attr-defined]


def test_phases_nest_overlap_and_add_up() -> None:
    with tracker() as run:
        with run.phase("train") as train:
            with run.epoch(0) as e0:
                time.sleep(0.2)
                e0.log(loss=1.5)
            run.begin_phase("eval")
            with run.epoch(1):
                time.sleep(0.2)
            run.end_phase("eval")
            train.log(samples=64)
        time.sleep(0.1)
    rec = run.result
    train_rec = rec.phase("train")
    epochs = [p for p in rec.phases if p.kind == "epoch"]
    assert [p.index for p in epochs] == [0, 1]
    assert epochs[0].metrics == {"loss": 1.5} and train_rec.metrics == {"samples": 64.0}
    assert sum(p.machine.energy_j for p in epochs) <= train_rec.machine.energy_j + 1e-6
    assert train_rec.machine.energy_j < rec.machine.energy_j
    assert train_rec.machine.energy_j == pytest.approx(100.0 * train_rec.duration_s, rel=0.02)
    assert rec.phase("eval").machine.energy_j > 0


def test_phase_misuse_is_a_state_error() -> None:
    t = tracker()
    with pytest.raises(TrackerStateError):
        t.begin_phase("x")
    with t:
        t.begin_phase("x")
        with pytest.raises(TrackerStateError, match="already open"):
            t.begin_phase("x")
        assert t.end_phase("x", cancel=True) is None
        with pytest.raises(TrackerStateError, match="not open"):
            t.end_phase("x")
        t.begin_phase("left-open")
    assert t.result.phase("left-open").duration_s >= 0  # closed at stop


def test_running_record_is_checkpointed() -> None:
    store = MemoryStore()
    t = tracker(store=store, checkpoint_s=1.0)
    t.start()
    time.sleep(1.4)
    assert t.id is not None
    partial = store.get_run(t.id)
    assert partial.status == "running" and partial.machine.energy_j > 50.0
    live = t.current()
    assert live.status == "running" and live.machine.energy_j >= partial.machine.energy_j
    assert t.power_w() == pytest.approx(100.0, rel=0.05)
    t.stop()


def test_failing_sensor_falls_back_and_warns_at_stop() -> None:
    sensor = FailingSensor(constant(), fail_after=2)
    t = tracker(sensors=[sensor])
    t.start()
    time.sleep(0.6)
    with pytest.warns(SensorDegradedWarning, match="injected failure"):
        rec = t.stop()
    assert rec.status == "completed"
    assert {d.key for d in rec.domains} >= {"synthetic:cpu", "estimate:cpu"}
    assert rec.machine.method == "mixed"
    assert any("estimated from now on" in e for e in rec.events)


def test_unknown_zone_fails_before_anything_runs() -> None:
    with pytest.raises(UnknownZoneError, match="closest"):
        tracker(zone="Frnace").start()
    assert no_sampler_threads()


def test_unwritable_store_fails_at_start_and_leaves_no_thread(tmp_path: Path) -> None:
    blocker = tmp_path / "f"
    blocker.write_text("")
    with pytest.raises(StoreError):
        tracker(store=str(blocker / "x" / "runs.db")).start()
    assert no_sampler_threads()


def test_store_failure_at_stop_rescues_the_record(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store = MemoryStore()
    t = tracker(store=store)
    t.start()
    time.sleep(0.2)

    def refuse(*a: object, **k: object) -> None:
        raise StoreError("disk full")

    monkeypatch.setattr(store, "save_run", refuse)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    rec = t.stop()
    saved = list(tmp_path.glob("wattwise-run-*.json"))
    assert len(saved) == 1
    assert json.loads(saved[0].read_text())["id"] == rec.id


def test_estimate_is_used_where_nothing_is_measured() -> None:
    # no injected sensors: on a machine without RAPL (CI, VMs) CPU and RAM are estimated
    with track("est", store=MemoryStore(), zone="FRA", interval_s=0.1, sensors=["estimate"]) as run:
        sum(i * i for i in range(200_000))
    rec = run.result
    assert rec.machine.method == "estimated"
    assert {d.component for d in rec.domains} == {"cpu", "ram"}
    assert rec.machine.energy_low_j < rec.machine.energy_j < rec.machine.energy_high_j
    assert all(d.model.get("formula") for d in rec.domains)


def test_import_has_no_side_effects() -> None:
    code = (
        "import sys, threading\n"
        "before = set(sys.modules)\n"
        "import wattwise\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
        "heavy = {'sqlalchemy', 'rich', 'psutil', 'click', 'pynvml', 'urllib.request'}\n"
        "assert not heavy & set(sys.modules), heavy & set(sys.modules)\n"
        "assert wattwise.track is not None\n"
        "assert wattwise.tune is not None and 'optuna' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_api_is_exact() -> None:
    assert sorted(wattwise.__all__) == sorted(
        n for n in dir(wattwise) if not n.startswith("_") or n == "__version__"
    )


def test_only_local_rank_zero_reads_node_counters(monkeypatch: pytest.MonkeyPatch) -> None:
    from wattwise.tracking import local_rank

    assert local_rank({}) == 0 and local_rank({"SLURM_LOCALID": "3"}) == 3
    monkeypatch.setenv("LOCAL_RANK", "1")
    with track("rank1", store=MemoryStore(), zone="FRA", interval_s=0.1) as run:
        time.sleep(0.2)
    rec = run.result
    assert rec.domains == () and rec.machine.energy_j == 0 and rec.machine.method == "none"
    assert any("local rank 1" in e for e in rec.events)
    monkeypatch.setenv("LOCAL_RANK", "0")
    with track("rank0", store=MemoryStore(), zone="FRA", interval_s=0.1) as run0:
        time.sleep(0.2)
    assert run0.result.machine.energy_j > 0


# -- tracking.py: sensors the caller gave stay usable for the next run ----------------------
def test_given_sensors_are_not_closed_so_restart_and_decorator_reuse_them() -> None:
    sensor = SyntheticSensor(lambda t: 50.0, lambda a, b: 50.0 * (b - a), kind="counter")
    t = tracker(sensors=[sensor])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a degraded sensor would warn
        t.start()
        time.sleep(0.2)
        t.stop()
        t.start()
        time.sleep(0.2)
        second = t.stop()
    assert not sensor.closed
    assert second.machine.method == "measured" and second.machine.energy_j > 0
    assert not any("failed" in e for e in second.events)


# -- tracking.py: sys.exit(nonzero) is a failure -------------------------------------------
def test_sys_exit_with_an_error_code_records_failed() -> None:
    t = tracker()
    with pytest.raises(SystemExit), t:
        sys.exit(3)
    assert t.result.status == "failed"
    assert any("sys.exit(3)" in e for e in t.result.events)
    t0 = tracker()
    with pytest.raises(SystemExit), t0:
        sys.exit(0)
    assert t0.result.status == "completed"


# -- tracking.py: a record the store refused says where it went ----------------------------
def test_a_record_the_store_refused_says_where_it_was_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store = MemoryStore()
    t = tracker(store=store)
    t.start()

    def refuse(*a: object, **k: object) -> None:
        raise StoreError("disk full")

    monkeypatch.setattr(store, "save_run", refuse)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    rec = t.stop()
    (saved,) = tmp_path.glob("wattwise-run-*.json")
    assert any("disk full" in e and str(saved) in e for e in rec.events)
    assert t.result is rec


# -- tracking.py: one sensor name as a string ----------------------------------------------
def test_one_sensor_name_as_a_string() -> None:
    with Tracker("s", sensors="estimate", store=False, zone="FRA", interval_s=0.1) as run:
        time.sleep(0.1)
    assert {d.key for d in run.result.domains} == {"estimate:cpu", "estimate:ram"}
