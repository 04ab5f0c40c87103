"""The training session on a real Tracker: the plain loop API, forecasts, budgets, stops.

The sensor is an exact 100 W counter, so every energy below is known: 100 J per second.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import wattwise.training as training
from wattwise.budget import Budget
from wattwise.early_stopping import EarlyStopping
from wattwise.exceptions import ConfigError, TrackerStateError
from wattwise.record import PhaseRecord, RunRecord, StepTable
from wattwise.store import get_store
from wattwise.testing.fake import SyntheticSensor
from wattwise.tracking import Tracker
from wattwise.training import BudgetWarning, TrainingSession

STEP_S = 0.02


def hundred_watts() -> SyntheticSensor:
    return SyntheticSensor(lambda t: 100.0, lambda a, b: 100.0 * (b - a), kind="counter")


def tracker(**options: Any) -> Tracker:
    options.setdefault("store", False)
    options.setdefault("live", "off")
    return Tracker("t", sensors=[hundred_watts()], zone="FRA", interval_s=0.1, **options)


def train_steps(run: Tracker, n: int, *, samples: int | None = None, **kw: int) -> None:
    for _ in range(n):
        time.sleep(STEP_S)
        run.step(samples=samples, **kw)


def epoch_phases(rec: RunRecord) -> list[PhaseRecord]:
    return [p for p in rec.phases if p.kind == "epoch"]


def threads_now() -> set[threading.Thread]:
    return set(threading.enumerate())


def assert_steps_partition(table: StepTable, epoch: int, phase: PhaseRecord) -> None:
    """The epoch's steps tile its window from its start to the last step's end; their
    energies add up to the epoch's energy less the short tail after the last step."""
    rows = [k for k, e in enumerate(table.epoch) if e == epoch]
    duration = sum(table.duration_s[k] for k in rows)
    tail_s = phase.duration_s - duration
    assert 0.0 <= tail_s < 0.5 * phase.duration_s
    energy = sum(table.energy_j[k] for k in rows)
    assert energy <= phase.machine.energy_j + 1e-9
    assert energy == pytest.approx(phase.machine.energy_j - 100.0 * tail_s, rel=0.05)
    assert energy == pytest.approx(phase.machine.energy_j, rel=0.2)
    for a, b in itertools.pairwise(rows):  # contiguous: each starts where the last ended
        assert table.start_s[a] + table.duration_s[a] == pytest.approx(table.start_s[b], abs=1e-9)


@pytest.fixture
def no_new_threads() -> Iterator[None]:
    before = threads_now()
    yield
    assert threads_now() - before == set()


# -- the loop API -------------------------------------------------------------------------


def test_epochs_record_steps_samples_tokens_and_metrics(no_new_threads: None) -> None:
    with tracker() as run:
        for epoch in run.epochs(3):
            train_steps(run, 4, samples=8, tokens=100)
            run.log(loss=1.0 / (epoch + 1))
    rec = run.result
    assert rec.status == "completed"
    epochs = epoch_phases(rec)
    assert [p.name for p in epochs] == ["epoch 0", "epoch 1", "epoch 2"]
    assert [p.index for p in epochs] == [0, 1, 2]
    for i, p in enumerate(epochs):
        m = p.metrics
        assert m["steps"] == 4.0 and m["samples"] == 32.0 and m["tokens"] == 400.0
        assert m["loss"] == pytest.approx(1.0 / (i + 1))
        assert m["samples_per_s"] == pytest.approx(32.0 / p.duration_s)
        assert m["energy_per_sample_j"] == pytest.approx(p.machine.energy_j / 32.0)
        assert m["energy_per_token_j"] == pytest.approx(p.machine.energy_j / 400.0)
        assert p.duration_s >= 4 * STEP_S
    # 100 W throughout (per epoch only roughly: each reading is stamped a few ms early)
    assert sum(p.machine.energy_j for p in epochs) == pytest.approx(
        100.0 * sum(p.duration_s for p in epochs), rel=0.1
    )

    t = rec.training
    assert t is not None
    assert (t.planned_epochs, t.epochs, t.epoch_offset) == (3, 3, 0)
    assert (t.steps, t.samples, t.tokens) == (12, 96, 1200)
    assert t.stop_kind is None and t.stop_reason is None and t.saved is None
    # the same final reading as the run's own figures
    assert t.total_energy_j == pytest.approx(rec.energy_j)
    assert t.total_co2_g == pytest.approx(rec.co2_g)
    assert t.total_cost == pytest.approx(rec.cost)
    assert t.total_duration_s == pytest.approx(rec.duration_s)
    assert t.energy_per_sample_j == pytest.approx(rec.energy_j / 96)

    # one row per step, in order, whose energies add up to the epochs'
    table = t.step_table
    assert len(table) == t.steps == 12
    assert table.epoch == (0,) * 4 + (1,) * 4 + (2,) * 4
    assert table.samples == (8,) * 12 and table.tokens == (100,) * 12
    assert all(d >= STEP_S * 0.9 for d in table.duration_s)
    assert all(e > 0 for e in table.energy_j)
    assert list(table.start_s) == sorted(table.start_s)
    for i, p in enumerate(epochs):
        assert_steps_partition(table, i, p)

    # a forecast after each epoch; the plan ran in full, so each can be scored
    assert [f.after_epochs for f in t.forecasts] == [1, 2, 3]
    assert all(f.planned_epochs == 3 for f in t.forecasts)
    assert t.forecasts[0].rule.startswith("first-epoch")
    assert [f.rule for f in t.forecasts[1:]] == ["mean-after-first", "complete"]
    assert t.completed_plan
    errors = t.forecast_errors()
    assert set(errors) == {1, 2, 3}
    assert all(abs(e) < 0.25 for e in errors.values()), errors


def test_epoch_summary_and_logger_metrics() -> None:
    with tracker() as run:
        session = run.training(planned_epochs=4)
        session.begin_epoch()
        assert session.epoch_open and session.current_epoch == 0
        train_steps(run, 3, samples=16)
        summary = session.end_epoch(acc=0.5)
        assert not session.epoch_open and session.epochs_completed == 1
        assert session.last_summary is summary
        assert summary.epoch == 0 and summary.steps == 3 and summary.samples == 16 * 3
        assert summary.tokens == 0 and summary.energy_per_token_j is None
        assert summary.metrics == {"acc": 0.5}
        assert summary.power_w == pytest.approx(100.0, rel=0.15)  # readings stamped early
        fc = summary.forecast
        assert fc is not None and fc is session.forecast
        assert fc.after_epochs == 1 and fc.planned_epochs == 4
        # made from the run's figures at the epoch's end: the first epoch's cost (from the
        # run's start) for each of four, less the one-off time before the epoch began
        mark = session.record().epoch_marks[0]
        assert summary.energy_j <= mark.energy_j <= summary.totals.energy_j
        assert 0.0 < mark.warmup_s < mark.duration_s
        steady = 1.0 - mark.warmup_s / mark.duration_s
        assert fc.energy_j == pytest.approx(mark.energy_j * (1 + 3 * steady))
        assert fc.energy_high_j == pytest.approx(4 * mark.energy_j)
        flat = summary.as_metrics()
        assert flat["energy/epoch_j"] == summary.energy_j
        assert flat["energy/total_kwh"] == pytest.approx(summary.totals.energy_j / 3.6e6)
        assert flat["energy/j_per_sample"] == pytest.approx(summary.energy_j / 48)
        assert flat["energy/forecast_kwh"] == pytest.approx(summary.forecast.energy_kwh)
        assert "energy/j_per_token" not in flat
        assert all(isinstance(v, float) for v in flat.values())
        assert set(summary.as_metrics(prefix="")) == {k[len("energy/") :] for k in flat}
        with pytest.raises(TrackerStateError, match="no epoch is open"):
            session.end_epoch()
        session.begin_epoch()
        with pytest.raises(TrackerStateError, match="still open"):
            session.begin_epoch()
        session.cancel_epoch()  # dropped, not recorded
        assert not session.epoch_open
    rec = run.result
    assert [p.name for p in epoch_phases(rec)] == ["epoch 0"]
    assert rec.phase("epoch 0").metrics["acc"] == 0.5


def test_steady_workload_is_forecast_within_ten_percent_after_one_epoch() -> None:
    with tracker() as run:
        for _ in run.epochs(5):
            for _ in range(10):  # ≥ 8 steps: a slow first step is seen as warm-up
                time.sleep(0.03)
                run.step(samples=4)
    t = run.result.training
    assert t is not None and t.completed_plan
    errors = t.forecast_errors()
    assert set(errors) == {1, 2, 3, 4, 5}
    assert abs(errors[1]) < 0.10, errors
    assert all(abs(e) < 0.10 for e in errors.values()), errors
    assert t.forecasts[0].duration_s == pytest.approx(t.total_duration_s, rel=0.10)
    assert len(t.epoch_marks) == 5
    assert [m.epoch for m in t.epoch_marks] == [1, 2, 3, 4, 5]
    assert t.epoch_marks[-1].energy_j <= t.total_energy_j


def test_forecast_after_delays_the_first_forecast() -> None:
    with tracker() as run:
        session = run.training(planned_epochs=3, forecast_after=2)
        for _ in session.epochs(3):
            train_steps(run, 1)
            if session.epochs_completed == 0:
                assert session.forecast is None
    t = run.result.training
    assert t is not None
    assert [f.after_epochs for f in t.forecasts] == [2, 3]


def test_no_forecast_without_a_known_plan() -> None:
    with tracker() as run:
        for _ in run.epochs(iter(range(2))):  # no len(): the plan is unknown
            train_steps(run, 1)
    t = run.result.training
    assert t is not None
    assert t.planned_epochs is None and t.epochs == 2 and t.forecasts == ()
    assert not t.completed_plan and t.forecast_errors() == {}


def test_log_after_the_epoch_attaches_to_the_last_finished_one() -> None:
    with tracker() as run:
        for _ in run.epochs(2):
            train_steps(run, 1)
        run.log(val_loss=0.25)  # evaluation after the last epoch ended
    rec = run.result
    assert "val_loss" not in rec.phase("epoch 0").metrics
    assert rec.phase("epoch 1").metrics["val_loss"] == 0.25
    assert rec.phase("epoch 1").metrics["steps"] == 1.0


def test_steps_outside_an_epoch_count_in_the_totals_only() -> None:
    with tracker() as run:
        for _ in range(3):
            run.step(samples=4, tokens=10)
        for _ in run.epochs(1):
            train_steps(run, 2, samples=1)
        run.step()
    t = run.result.training
    assert t is not None
    assert (t.steps, t.samples, t.tokens) == (6, 14, 30)
    assert len(t.step_table) == 2 and t.step_table.samples == (1, 1)
    assert run.result.phase("epoch 0").metrics["steps"] == 2.0


def test_step_table_is_halved_past_its_row_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(training, "MAX_STEP_ROWS", 8)
    with tracker() as run:
        for _ in run.epochs(2):
            for k in range(5):
                time.sleep(0.005)
                run.step(samples=k + 1, tokens=1)
    t = run.result.training
    assert t is not None
    assert t.steps == 10 and t.samples == 30  # the counts are kept whole
    table = t.step_table
    # 10 rows > 8: neighbours of the same epoch merged in pairs (an odd one stays)
    assert table.epoch == (0, 0, 0, 1, 1, 1)
    assert table.samples == (3, 7, 5, 3, 7, 5)
    assert table.tokens == (2, 2, 1, 2, 2, 1)
    for e, p in enumerate(epoch_phases(run.result)):  # merged rows still tile the epoch
        assert_steps_partition(table, e, p)


# -- budgets ------------------------------------------------------------------------------


def test_forecast_over_budget_warns_once_and_notes_it() -> None:
    # 360 J budget; an epoch of ~60 ms costs ~6 J, so 100 epochs would need ~600 J
    with (
        tracker(budget_kwh=1e-4) as run,
        pytest.warns(BudgetWarning, match="goes over budget") as caught,
    ):
        for epoch in run.epochs(100):
            train_steps(run, 3)
            if epoch == 2:
                break
    assert len([w for w in caught if w.category is BudgetWarning]) == 1
    rec = run.result
    t = rec.training
    assert t is not None
    assert rec.status == "completed"  # warned, but the budget was not reached
    assert t.budget == {"kwh": 1e-4}
    assert t.budget_warning is not None
    assert t.budget_warning.startswith("the forecast after epoch 1 goes over budget: energy")
    assert "would exceed the budget of 0.0001 kWh by epoch 100" in t.budget_warning
    assert t.budget_warning in rec.events
    assert t.stop_kind is None and t.epochs == 3


def test_budget_reached_stops_the_loop_and_the_run_reads_stopped() -> None:
    # 3.6 J: reached after ~36 ms at 100 W, inside the first epoch
    with tracker(budget_kwh=1e-6) as run:
        seen = []
        for epoch in run.epochs(50):
            seen.append(epoch)
            deadline = time.monotonic() + 5.0
            while not run.should_stop and time.monotonic() < deadline:
                train_steps(run, 1)  # step() checks the budget on each new reading
            assert run.should_stop
    assert seen == [0]
    rec = run.result
    t = rec.training
    assert t is not None
    assert rec.status == "stopped"
    assert t.stop_kind == "budget"
    assert t.stop_reason is not None
    assert t.stop_reason.startswith("budget: energy ")
    assert t.stop_reason.endswith("reached the budget of 1e-06 kWh")
    assert t.total_energy_j >= 3.6
    assert t.epochs == 1 and len(epoch_phases(rec)) == 1
    assert t.saved is not None and t.saved["planned_epochs"] == 50.0
    assert t.saved["saved_energy_j"] > 0


def test_budget_argument_overrides_the_config_and_explicit_failure_stays_failed() -> None:
    with tracker(budget_kwh=10.0) as run:
        session = run.training(budget=Budget(gco2e=1e-9), planned_epochs=2)
        assert session.budget == Budget(gco2e=1e-9)
        for _ in session.epochs(2):
            train_steps(run, 2)
        assert session.should_stop and session.stop_kind == "budget"
        assert session.stop_reason is not None and "emissions" in session.stop_reason
        rec = run.stop("failed")
    assert rec.status == "failed"  # only a completed run turns into stopped


def test_config_budget_is_the_session_default() -> None:
    with tracker(budget_gco2e=5.0, budget_cost=2.0) as run:
        assert run.training().budget == Budget(gco2e=5.0, cost=2.0)
    t = run.result.training
    assert t is not None and t.budget == {"gco2e": 5.0, "cost": 2.0}


# -- early stopping -----------------------------------------------------------------------


def test_early_stopping_ends_the_loop_and_reports_the_saving() -> None:
    losses = [1.0, 0.5, 0.75, 0.875, 0.25, 0.125]
    lines: list[str] = []
    with tracker(live="plain") as run:
        run.training(printer=lines.append)
        rule = EarlyStopping("val_loss", patience=2)
        for epoch in run.epochs(10, early_stopping=rule):
            train_steps(run, 2, samples=4)
            run.log(val_loss=losses[epoch])
    rec = run.result
    t = rec.training
    assert t is not None
    assert rec.status == "stopped"
    assert t.stop_kind == "early_stopping"
    assert t.stop_reason is not None and "val_loss did not improve" in t.stop_reason
    assert t.epochs == 4 and len(epoch_phases(rec)) == 4
    assert t.early_stopping == {
        "monitor": "val_loss",
        "mode": "min",
        "patience": 2,
        "min_delta": 0.0,
        "best": 0.5,
        "best_epoch": 1,
        "stopped_epoch": 3,
    }
    assert t.saved is not None
    assert t.saved["planned_epochs"] == 10.0
    assert t.saved["planned_energy_j"] == pytest.approx(t.forecasts[-1].energy_j)
    assert t.saved["saved_energy_j"] > 0
    assert t.saved["saved_energy_j"] == pytest.approx(
        t.saved["planned_energy_j"] - t.total_energy_j
    )
    assert t.saved["saved_co2_g"] > 0
    assert t.forecast_errors() == {}  # the plan did not run: nothing to score
    # plain display: one line per epoch, then the stop message
    epoch_lines = [x for x in lines if x.startswith("wattwise t · ")]
    assert len(epoch_lines) == 4
    assert any(x == f"wattwise: stopping: {t.stop_reason}" for x in lines)


def test_early_stopping_fed_after_the_epoch() -> None:
    with tracker() as run:
        session = run.training(planned_epochs=5, early_stopping=EarlyStopping("acc", "max", 1))
        for _ in session.epochs(5):
            train_steps(run, 1)
            session.end_epoch()
            session.log(acc=0.5)  # after end_epoch: counts for the epoch just ended
    t = run.result.training
    assert t is not None
    assert t.stop_kind == "early_stopping" and t.epochs == 2
    assert t.early_stopping is not None and t.early_stopping["stopped_epoch"] == 1
    assert run.result.phase("epoch 1").metrics["acc"] == 0.5  # attached to the ended epoch


# -- leaving the loop ---------------------------------------------------------------------


def test_break_mid_epoch_records_that_epoch(no_new_threads: None) -> None:
    with tracker() as run:
        for epoch in run.epochs(5):
            train_steps(run, 1, samples=2)
            if epoch == 1:
                break
            train_steps(run, 1, samples=2)
        session = run.training()
        assert not session.epoch_open  # closed at the break, not at stop()
        assert [p.name for p in run.phases] == ["epoch 0", "epoch 1"]
    rec = run.result
    assert rec.status == "completed"
    assert rec.phase("epoch 1").metrics["steps"] == 1.0
    assert rec.phase("epoch 0").metrics["steps"] == 2.0
    t = rec.training
    assert t is not None and t.epochs == 2 and t.steps == 3 and len(t.step_table) == 3
    assert not run.running


def test_exception_in_the_loop_records_failed_and_stops_everything() -> None:
    before = threads_now()
    run = tracker(live="rich")
    with pytest.raises(RuntimeError, match="boom"), run:
        session = run.training()
        for epoch in run.epochs(5):
            train_steps(run, 1)
            if epoch == 1:
                raise RuntimeError("boom")
    assert threads_now() - before == set()  # sampler and rich's refresh thread
    rec = run.result
    assert rec.status == "failed"
    assert "failed: RuntimeError: boom" in rec.events
    assert not session.epoch_open
    assert [p.name for p in epoch_phases(rec)] == ["epoch 0", "epoch 1"]  # up to the error
    t = rec.training
    assert t is not None and t.epochs == 2 and t.steps == 2
    assert not run.running


# -- resuming -----------------------------------------------------------------------------


def test_state_dict_carries_totals_into_a_resumed_fit() -> None:
    with tracker() as first:
        s1 = first.training(planned_epochs=4)
        for _ in s1.epochs(2):
            train_steps(first, 3, samples=2)
        state = s1.state_dict()
    assert state["epochs"] == 2.0 and state["steps"] == 6.0
    assert state["energy_j"] == pytest.approx(100.0 * state["duration_s"], rel=0.15)
    assert state["energy_j"] <= first.result.energy_j

    with tracker() as second:
        s2 = second.training()
        s2.load_state_dict(state)
        assert s2.epoch_offset == 2 and s2.current_epoch == 2
        for _ in second.epochs(2):  # the rest of the plan: 2 + 2
            train_steps(second, 3, samples=2)
        with pytest.raises(TrackerStateError, match="before the first epoch"):
            s2.load_state_dict(state)
        again = s2.state_dict()
    assert again["epochs"] == 4.0 and again["steps"] == 12.0

    rec = second.result
    assert [p.name for p in epoch_phases(rec)] == ["epoch 2", "epoch 3"]
    assert [p.index for p in epoch_phases(rec)] == [2, 3]
    t = rec.training
    assert t is not None
    assert (t.planned_epochs, t.epoch_offset, t.epochs) == (4, 2, 2)
    assert t.carried == state
    assert t.total_energy_j == pytest.approx(rec.energy_j + state["energy_j"])
    assert t.total_co2_g == pytest.approx(rec.co2_g + state["co2_g"])
    assert t.total_duration_s == pytest.approx(rec.duration_s + state["duration_s"], rel=0.01)
    assert t.energy_per_sample_j == pytest.approx(rec.energy_j / 12, rel=0.01)
    # forecasts count the carried epochs and include the carried energy
    assert [f.after_epochs for f in t.forecasts] == [3, 4]
    assert all(f.planned_epochs == 4 for f in t.forecasts)
    assert t.forecasts[0].energy_j > state["energy_j"] + rec.phase("epoch 2").machine.energy_j
    assert t.forecasts[0].co2_g > state["co2_g"]
    assert t.forecasts[0].duration_s > state["duration_s"]
    assert t.completed_plan and set(t.forecast_errors()) == {3, 4}
    assert abs(t.forecast_errors()[3]) < 0.25


# -- the record ---------------------------------------------------------------------------


def test_training_record_survives_json_and_a_sqlite_store(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    losses = [1.0, 0.5, 0.75, 0.75]
    with tracker(store=db, budget_kwh=1.0) as run:
        rule = EarlyStopping("loss", patience=2)
        for epoch in run.epochs(6, early_stopping=rule):
            train_steps(run, 2, samples=3, tokens=7)
            run.log(loss=losses[epoch])
    rec = run.result
    t = rec.training
    assert t is not None and t.stop_kind == "early_stopping"
    assert t.forecasts and len(t.step_table) == 8 and t.saved and t.early_stopping

    via_json = RunRecord.from_dict(json.loads(json.dumps(rec.to_dict())))
    assert via_json.training == t
    assert via_json == rec

    with get_store(db) as store:
        loaded = store.get_run(rec.id)
    assert loaded.status == "stopped"
    assert loaded.training == t
    assert loaded.phases == rec.phases


# -- arguments and display ----------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"planned_epochs": 0},
        {"planned_epochs": -2},
        {"planned_epochs": 2.5},
        {"planned_epochs": True},
        {"forecast_after": 0},
        {"forecast_after": "1"},
    ],
)
def test_invalid_session_arguments_are_config_errors(kwargs: dict[str, Any]) -> None:
    with tracker() as run:
        with pytest.raises(ConfigError, match=next(iter(kwargs))):
            run.training(**kwargs)
        assert isinstance(run.training(planned_epochs=2), TrainingSession)  # still possible


def test_training_needs_a_running_tracker() -> None:
    with pytest.raises(TrackerStateError, match="not running"):
        tracker().training()


def test_invalid_live_mode_is_a_config_error() -> None:
    with tracker() as run, pytest.raises(ConfigError, match="invalid live='loud'"):
        run.training(live="loud")


def test_live_off_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    lines: list[str] = []
    with tracker(live="plain", budget_kwh=1e-6) as run:
        run.training(live="off", printer=lines.append)
        for _ in run.epochs(2):
            train_steps(run, 3)
    assert run.result.training is not None and run.result.training.stop_kind == "budget"
    assert lines == []
    assert capsys.readouterr() == ("", "")


def test_live_plain_prints_one_line_per_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    lines: list[str] = []
    with tracker() as run:
        run.training(live="plain", printer=lines.append)
        for _ in run.epochs(3):
            train_steps(run, 1, samples=5)
    assert len(lines) == 3
    for i, line in enumerate(lines):
        assert line.startswith(f"wattwise t · {i + 1}/3 epochs · ")
        assert " W · " in line and "gCO2e" in line and "forecast " in line
        assert "· this epoch " in line and "J/sample" in line
    assert capsys.readouterr() == ("", "")  # the printer got it all


def test_live_plain_defaults_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with tracker(live="plain") as run:
        for _ in run.epochs(2):
            train_steps(run, 1)
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("wattwise t · ") == 2


def test_live_rich_starts_and_stops_its_thread() -> None:
    before = threads_now()
    with tracker() as run:
        for _ in run.epochs(2, live="rich"):
            train_steps(run, 2)
            assert any(type(t).__name__ == "_RefreshThread" for t in threads_now())
    assert run.result.training is not None and run.result.training.epochs == 2
    assert threads_now() - before == set()


# -- a tracker never breaks training (review of issue 3) ------------------------------------
def test_stop_always_stops_the_sampler_and_saves_when_closing_the_session_fails() -> None:
    run = tracker().start()
    session = run.training(planned_epochs=3)
    session.begin_epoch()
    train_steps(run, 2)

    def broken() -> list[float]:
        raise ZeroDivisionError("boom")

    session._step_energies = broken  # type: ignore[method-assign]
    record = run.stop()
    assert not run.running
    assert not any(t.name == "wattwise-sampler" for t in threading.enumerate())
    assert any("closing the training session failed" in e for e in record.events)


def test_a_printer_that_raises_turns_the_display_off_and_training_goes_on() -> None:
    calls = []

    def printer(line: str) -> None:
        calls.append(line)
        raise OSError("stderr closed")

    with tracker(live="plain") as run:
        for _ in run.epochs(3, printer=printer):
            train_steps(run, 2)
    t = run.result.training
    assert t is not None and t.epochs == 3  # all three epochs ran
    assert len(calls) == 1  # the first line failed; the display is off after it
    assert any("live display" in e for e in run.result.events)


def test_a_budget_warning_turned_into_an_error_does_not_break_the_loop() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # ~5 J an epoch at 100 W: the forecast after epoch 1 (~25 J) goes over 15 J
        with tracker(budget_kwh=15 / 3.6e6) as run:
            for _ in run.epochs(5):
                train_steps(run, 2)
    t = run.result.training
    assert t is not None and t.budget_warning is not None


def test_a_budget_reached_in_the_last_planned_epoch_is_no_stop() -> None:
    with tracker(budget_kwh=1e-9) as run:
        for _ in run.epochs(1):
            train_steps(run, 2)
    rec = run.result
    assert rec.status == "completed"
    assert rec.training is not None and rec.training.stop_kind is None
    assert rec.training.saved is None
    assert any("in the last planned epoch" in e for e in rec.events)


def test_a_failed_run_claims_no_saving() -> None:
    with pytest.raises(RuntimeError), tracker() as run:
        for epoch in run.epochs(5):
            train_steps(run, 2)
            if epoch == 1:
                raise RuntimeError("diverged")
    rec = run.result
    assert rec.status == "failed"
    assert rec.training is not None and rec.training.saved is None


def test_a_metric_reported_twice_for_one_epoch_spends_patience_once() -> None:
    with tracker() as run:
        session = run.training(planned_epochs=6, early_stopping=EarlyStopping("val", patience=2))
        for value in (1.0, 2.0):
            session.begin_epoch()
            train_steps(run, 1)
            session.end_epoch(val=value)
            session.log(val=value)  # a late evaluation reports it again
        assert not session.should_stop  # one epoch without improvement, patience 2
        session.begin_epoch()
        train_steps(run, 1)
        session.end_epoch(val=3.0)
        assert session.should_stop


def test_early_stopping_state_rides_with_the_resumed_totals() -> None:
    rule = EarlyStopping("val", patience=2)
    with tracker() as first:
        s1 = first.training(planned_epochs=6, early_stopping=rule)
        for value in (1.0, 2.0):  # best 1.0 at epoch 0, then one epoch without improvement
            s1.begin_epoch()
            train_steps(first, 1)
            s1.end_epoch(val=value)
        state = s1.state_dict()
    assert state["es_best"] == 1.0 and state["es_wait"] == 1.0
    with tracker() as second:
        s2 = second.training(planned_epochs=6, early_stopping=rule)
        s2.load_state_dict(state)
        s2.begin_epoch()
        train_steps(second, 1)
        s2.end_epoch(val=5.0)  # the second epoch without improvement: patience spent
        assert s2.should_stop and s2.stop_kind == "early_stopping"
    assert "es_best" not in second.result.training.carried  # type: ignore[union-attr]


def test_step_energies_follow_the_exact_sensor() -> None:
    with tracker() as run:
        for _ in run.epochs(2):
            train_steps(run, 10)
    table = run.result.training.step_table  # type: ignore[union-attr]
    assert len(table) == 20
    for e, d in zip(table.energy_j, table.duration_s, strict=True):
        # exact 100 W counter, readings at ticks and epoch bounds: linear in between
        assert e == pytest.approx(100.0 * d, rel=0.15, abs=0.3)
    assert sum(table.energy_j) == pytest.approx(100.0 * sum(table.duration_s), rel=0.05)


def test_a_notebook_display_without_ipython_falls_back_to_plain_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "IPython", None)  # import IPython fails
    monkeypatch.setitem(sys.modules, "IPython.display", None)
    lines: list[str] = []
    with tracker(live="notebook") as run:
        session = run.training(planned_epochs=2)
        session._printer = lines.append
        for _ in run.epochs(2):
            train_steps(run, 1)
    assert run.result.training is not None and run.result.training.epochs == 2
    assert any("live display replaced" in e for e in run.result.events)
