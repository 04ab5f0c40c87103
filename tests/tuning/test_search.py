"""``wattwise.tune`` on real Optuna studies: every strategy, the stored runs behind the
trials, pruning, budgets, failures, continued studies, worker processes (journal file and
PostgreSQL), bad input, and Optuna's logging kept quiet.

Trials measure a constant 100 W synthetic counter, so a trial's energy is 100 W × its
duration; studies are shared through a module-level cache so each runs once.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import math
import os
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest

from wattwise.exceptions import ConfigError, WattwiseError
from wattwise.record import RunRecord
from wattwise.store import RunFilter, get_store
from wattwise.testing.fake import SyntheticSensor
from wattwise.testing.objectives import EPOCHS
from wattwise.tracking import Tracker
from wattwise.tuning import Trial, TuneResult, load_result, tune
from wattwise.tuning.accounting import TrialSummary

QUADRATIC = "wattwise.testing.objectives:quadratic"
FAILING = "wattwise.testing.objectives:failing"
SPACE: dict[str, Any] = {"x": {"low": 0.0, "high": 1.0}, "w": [1, 2]}
J_PER_KWH = 3.6e6
PG_URL = os.environ.get("WATTWISE_TEST_POSTGRES_URL")


def fast() -> dict[str, Any]:
    """Tracker options for in-process trials: a 100 W synthetic counter."""
    sensor = SyntheticSensor(lambda t: 100.0, lambda a, b: 100.0 * (b - a), kind="counter")
    return {"sensors": [sensor], "zone": "FRA", "interval_s": 0.1}


def runs_of(store_path: Path | str, study: str) -> list[RunRecord]:
    store = get_store(str(store_path))
    try:
        return store.list_runs(RunFilter(tag=("study", study)))
    finally:
        store.close()


def stored(store_path: Path | str) -> dict[str, RunRecord]:
    store = get_store(str(store_path))
    try:
        return {r.id: r for r in store.list_runs()}
    finally:
        store.close()


# -- one real study per strategy (shared) ---------------------------------------------------
TRIALS = {
    "grid": 10,  # the grid has 3 × 2 points: it stops at 6
    "random": 6,
    "bayes": 6,
    "gp": 3,
    "halving": 12,
    "hyperband": 12,
    "pareto": 8,
}
SEED = 1


@pytest.fixture(scope="module")
def study_of(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], TuneResult]]:
    """``study_of(strategy)``: that strategy's study (run on first use, in the calling
    test's isolated home), its trials stored in one SQLite store (``study_of.store``)."""
    store_path = tmp_path_factory.mktemp("tune") / "runs.db"
    cache: dict[str, TuneResult] = {}

    def get(strategy: str) -> TuneResult:
        if strategy not in cache:
            cache[strategy] = tune(
                QUADRATIC,
                SPACE,
                strategy=strategy,
                n_trials=TRIALS[strategy],
                metric="score",
                seed=SEED,
                study_name=f"test-{strategy}",
                tracker_options=fast(),
                store=str(store_path),
            )
        return cache[strategy]

    get.store = store_path  # type: ignore[attr-defined]
    yield get


@pytest.mark.parametrize("strategy", list(TRIALS))
def test_each_strategy_runs_a_real_study(
    strategy: str, study_of: Callable[[str], TuneResult]
) -> None:
    result = study_of(strategy)
    n = 6 if strategy == "grid" else TRIALS[strategy]
    assert (result.strategy, result.metric, result.maximize) == (strategy, "score", True)
    assert result.study_name == f"test-{strategy}"
    assert (result.storage, result.seed, result.workers, result.stopped) == ("memory", 1, 1, None)
    assert [t.number for t in result.trials] == list(range(n))
    assert result.notes == ()  # one worker: trials never overlap
    assert result.pareto is (strategy == "pareto")
    for t in result.trials:
        assert t.state in ("complete", "pruned")
        assert set(t.params) == {"x", "w"}
        assert 0.0 <= t.params["x"] <= 1.0 and t.params["w"] in (1, 2)
        assert t.energy_j > 0 and t.co2_g > 0 and t.duration_s > 0
        assert t.started_at is not None and t.ended_at is not None
        assert t.started_at < t.ended_at
        assert (t.method, t.headline) == ("measured", "machine")
        if t.state == "complete":
            x = t.params["x"]
            assert t.value == pytest.approx(1.0 - (x - 0.3) ** 2)
            if strategy == "pareto":  # Optuna cannot prune multi-objective studies
                assert t.intermediate == {}
            else:
                assert sorted(t.intermediate) == list(range(EPOCHS))
                assert t.intermediate[EPOCHS - 1] == pytest.approx(t.value)
    best = result.best
    assert best is not None
    assert best.value == max(t.value for t in result.trials if t.value is not None)
    assert result.total_energy_j == pytest.approx(sum(t.energy_j for t in result.trials))
    json.dumps(result.to_dict(), allow_nan=False)


def test_grid_runs_every_grid_point_once_and_stops(study_of: Callable[[str], TuneResult]) -> None:
    result = study_of("grid")
    points = sorted((t.params["x"], t.params["w"]) for t in result.trials)
    assert points == sorted((x, w) for x in (0.0, 0.5, 1.0) for w in (1, 2))
    assert result.count("complete") == 6


@pytest.mark.parametrize("strategy", ["halving", "hyperband"])
def test_pruning_strategies_prune_and_their_runs_say_so(
    strategy: str, study_of: Callable[[str], TuneResult]
) -> None:
    result = study_of(strategy)
    pruner = {"halving": "SuccessiveHalvingPruner", "hyperband": "HyperbandPruner"}[strategy]
    pruned = [t for t in result.trials if t.state == "pruned"]
    complete = [t for t in result.trials if t.state == "complete"]
    assert pruned and complete
    runs = stored(study_of.store)  # type: ignore[attr-defined]
    for t in pruned:
        run = runs[str(t.run_id)]
        assert run.status == "stopped"
        assert run.training is not None
        assert run.training.stop_kind == "pruned"
        assert run.training.epochs < EPOCHS
        assert len(t.intermediate) == run.training.epochs
        assert t.value is None
        assert t.note is not None and t.note.startswith(f"pruned by {pruner} after epoch ")
        assert t.note == run.training.stop_reason
    for t in complete:
        run = runs[str(t.run_id)]
        assert run.status == "completed"
        assert run.training is not None
        assert (run.training.stop_kind, run.training.epochs) == (None, EPOCHS)
    assert result.pruned_energy_j == pytest.approx(
        sum(runs[str(t.run_id)].energy_j for t in pruned)
    )
    assert result.wasted_energy_j == 0.0


def test_pareto_trials_carry_their_energy_objective(
    study_of: Callable[[str], TuneResult],
) -> None:
    result = study_of("pareto")
    for t in result.trials:
        assert t.state == "complete"
        assert t.energy_objective_kwh == pytest.approx(t.energy_j / J_PER_KWH)
    front = result.front
    assert front
    assert [t.energy_j for t in front] == sorted(t.energy_j for t in front)
    for t in front:
        assert t.value is not None
        for o in result.trials:
            assert o.value is not None
            assert not (
                o.energy_j <= t.energy_j
                and o.value >= t.value
                and (o.energy_j < t.energy_j or o.value > t.value)
            ), f"trial {o.number} dominates front trial {t.number}"
    # every trial left off the front is dominated by one on it
    for o in result.trials:
        if o in front:
            continue
        assert o.value is not None
        assert any(t.energy_j <= o.energy_j and (t.value or 0) >= o.value for t in front)


@pytest.mark.parametrize("strategy", list(TRIALS))
def test_every_trial_is_a_tagged_stored_run_with_the_same_energy(
    strategy: str, study_of: Callable[[str], TuneResult]
) -> None:
    result = study_of(strategy)
    runs = runs_of(study_of.store, result.study_name)  # type: ignore[attr-defined]
    by_id = {r.id: r for r in runs}
    assert len(runs) == len(result.trials)
    for t in result.trials:
        run = by_id[str(t.run_id)]
        assert run.name == f"{result.study_name} #{t.number}"
        assert run.tags["study"] == result.study_name
        assert run.tags["trial"] == str(t.number)
        assert run.tags["strategy"] == strategy
        assert run.tags["x"] == repr(t.params["x"]) and run.tags["w"] == repr(t.params["w"])
        assert t.energy_j == run.energy_j
        assert t.co2_g == run.co2_g
        assert t.duration_s == run.duration_s
        assert t.started_at == run.started_at
        assert run.training is not None and run.training.planned_epochs == EPOCHS
    assert result.total_energy_j == pytest.approx(sum(r.energy_j for r in runs), rel=1e-12)
    assert result.total_co2_g == pytest.approx(sum(r.co2_g for r in runs), rel=1e-12)


def test_a_seed_repeats_the_suggestions() -> None:
    def params(seed: int) -> list[dict[str, Any]]:
        r = tune(
            QUADRATIC,
            SPACE,
            strategy="random",
            n_trials=2,
            metric="score",
            seed=seed,
            tracker_options=fast(),
            store=False,
        )
        return [dict(t.params) for t in r.trials]

    assert params(5) == params(5)
    assert params(5) != params(6)


# -- the Trial the objective sees ------------------------------------------------------------
def test_the_trial_api_and_manual_pruning(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    def objective(trial: Trial) -> float:
        extra = trial.optuna.suggest_int("extra", 1, 3)  # beyond the space
        seen.append(
            {"number": trial.number, "params": dict(trial.params), "run": trial.run, "extra": extra}
        )
        assert isinstance(trial.run, Tracker) and trial.run.running
        score = 0.0
        for epoch in trial.epochs(2):
            trial.step(samples=8)
            score = 0.5 + epoch / 10
            trial.log(score=score, other=1.0)
        trial.report(score, 5)
        trial.report(0.0, 5)  # a step already reported is ignored
        if trial.number == 1:
            raise optuna.TrialPruned("given up by hand")
        assert not trial.should_prune()
        return score

    store = tmp_path / "runs.db"
    result = tune(
        objective,
        {"lr": [0.1, 0.01]},
        strategy="random",
        n_trials=2,
        metric="score",
        seed=0,
        tracker_options=fast(),
        store=str(store),
    )
    assert [s["number"] for s in seen] == [0, 1]
    assert all(s["params"].keys() == {"lr"} and s["params"]["lr"] in (0.1, 0.01) for s in seen)
    t0, t1 = result.trials
    assert t0.state == "complete" and t0.value == pytest.approx(0.6)
    assert dict(t0.intermediate) == {0: 0.5, 1: pytest.approx(0.6), 5: pytest.approx(0.6)}
    assert t0.params["extra"] == seen[0]["extra"]  # Optuna's own suggestions are kept
    assert t1.state == "pruned" and t1.note == "given up by hand"
    runs = stored(store)
    assert runs[str(t0.run_id)].training.samples == 16  # type: ignore[union-attr]
    assert "extra" not in runs[str(t0.run_id)].tags
    # pruned by hand after its planned epochs: the run completed, the trial is PRUNED
    assert runs[str(t1.run_id)].status == "completed"
    assert runs[str(t1.run_id)].tags["trial_state"] == "pruned"
    assert seen[0]["run"].result.id == t0.run_id


# -- budgets ---------------------------------------------------------------------------------
LONG_EPOCHS = 20


STEP_J = 4.0
_STEPS = [0]  # steps taken by long_training, in every study of this module


def long_training(trial: Trial) -> float:
    """20 epochs of one step each; with :func:`counted` every step is exactly 4 J, so a
    trial is 80 J whatever the machine's load."""
    score = 0.0
    for epoch in trial.epochs(LONG_EPOCHS):
        time.sleep(0.005)
        _STEPS[0] += 1
        trial.step(samples=1)
        score = float(trial.params["x"]) * (epoch + 1) / LONG_EPOCHS
        trial.log(score=score)
    return score


def counted() -> dict[str, Any]:
    """Tracker options whose sensor counts STEP_J per step of long_training (exact at
    every epoch end, where the budget is checked)."""
    sensor = SyntheticSensor(lambda t: 100.0, lambda a, b: STEP_J * _STEPS[0], kind="counter")
    return {"sensors": [sensor], "zone": "FRA", "interval_s": 0.1}


BUDGET_J = 200.0  # 2.5 trials: the third is cut after 10 of its 20 epochs


@pytest.fixture(scope="module")
def budget_study(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], Any]]:
    folder = tmp_path_factory.mktemp("budget")
    cache: list[tuple[TuneResult, Path, Path]] = []

    def get() -> tuple[TuneResult, Path, Path]:
        if not cache:
            result = tune(
                long_training,
                {"x": {"low": 0.1, "high": 1.0}},
                strategy="random",
                n_trials=10,
                metric="score",
                seed=2,
                budget_kwh=BUDGET_J / J_PER_KWH,
                storage=folder / "study.journal",
                study_name="budget",
                tracker_options=counted(),
                store=str(folder / "runs.db"),
            )
            cache.append((result, folder / "study.journal", folder / "runs.db"))
        return cache[0]

    yield get


def test_the_energy_budget_stops_the_study(budget_study: Callable[[], Any]) -> None:
    result, _, store = budget_study()
    assert result.stopped is not None
    assert result.stopped.startswith("budget: energy ")
    assert "reached the budget of" in result.stopped
    assert result.budget_kwh == pytest.approx(BUDGET_J / J_PER_KWH)
    n = len(result.trials)
    assert 1 <= n < 10
    assert [t.number for t in result.trials] == list(range(n))
    *before, last = result.trials
    assert all(t.state == "complete" for t in before)
    assert last.state == "budget"
    assert last.note is not None and last.note.startswith("cut short by the study's budget (")
    assert last.value is None and last.partial_value is not None
    assert result.wasted_energy_j == last.energy_j
    # the trials after the cut never ran: no runs beyond the study's trials
    runs = runs_of(store, "budget")
    assert sorted(r.tags["trial"] for r in runs) == sorted(str(i) for i in range(n))
    run = {r.id: r for r in runs}[str(last.run_id)]
    assert run.status == "stopped"
    assert run.training is not None and run.training.stop_kind == "budget"
    assert run.training.epochs < LONG_EPOCHS
    # the budget is reached, and overshot by at most the epoch that reached it plus the
    # run's close after that epoch
    marks = run.training.epoch_marks
    assert marks
    last_epoch_j = marks[-1].energy_j - (marks[-2].energy_j if len(marks) > 1 else 0.0)
    tail_j = run.energy_j - marks[-1].energy_j
    assert result.total_energy_j >= BUDGET_J
    assert result.total_energy_j - BUDGET_J <= last_epoch_j + tail_j + 1e-6


def test_a_spent_study_continued_runs_nothing(budget_study: Callable[[], Any]) -> None:
    result, journal, store = budget_study()
    again = tune(
        long_training,
        {"x": {"low": 0.1, "high": 1.0}},
        strategy="random",
        n_trials=3,
        metric="score",
        seed=2,
        budget_kwh=BUDGET_J / J_PER_KWH,
        storage=journal,
        study_name="budget",
        tracker_options=fast(),
        store=str(store),
    )
    assert len(again.trials) == len(result.trials)
    assert again.stopped == result.stopped
    assert again.total_energy_j == result.total_energy_j
    assert len(runs_of(store, "budget")) == len(result.trials)


def test_the_emissions_budget_stops_the_study() -> None:
    budget_g = 0.003  # about 200 J at France's intensity: within the third trial
    result = tune(
        long_training,
        {"x": {"low": 0.1, "high": 1.0}},
        strategy="random",
        n_trials=10,
        metric="score",
        seed=2,
        budget_gco2e=budget_g,
        tracker_options=counted(),
        store=False,
    )
    assert result.stopped is not None and result.stopped.startswith("budget: emissions ")
    assert result.budget_gco2e == budget_g and result.budget_kwh is None
    assert len(result.trials) < 10
    assert result.trials[-1].state == "budget"
    assert result.total_co2_g >= budget_g
    assert result.total_co2_g < 2 * budget_g


# -- failures --------------------------------------------------------------------------------
def test_a_failing_objective_fails_its_trials_and_the_study_goes_on(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    ended: list[TrialSummary] = []
    result = tune(
        FAILING,
        {"x": {"low": 0.0, "high": 1.0}},
        strategy="random",
        n_trials=8,
        metric="score",
        seed=3,
        tracker_options=fast(),
        store=str(store),
        on_trial=ended.append,
    )
    assert len(result.trials) == 8
    failed = [t for t in result.trials if t.state == "failed"]
    complete = [t for t in result.trials if t.state == "complete"]
    assert failed and complete
    assert max(t.number for t in complete) > min(t.number for t in failed)  # went on
    runs = stored(store)
    for t in result.trials:
        x = t.params["x"]
        assert (t.state == "failed") == (x > 0.5)
        run = runs[str(t.run_id)]
        assert run.energy_j == t.energy_j > 0
        if t.state == "failed":
            assert t.note == f"ValueError: x={x:.3f} is too large"
            assert t.value is None
            assert run.status == "failed"
            assert f"failed: {t.note}" in run.events
    assert result.wasted_energy_j == pytest.approx(sum(t.energy_j for t in failed))
    assert result.pruned_energy_j == 0.0
    assert [(s.number, s.state, s.run_id) for s in ended] == [
        (t.number, t.state, t.run_id) for t in result.trials
    ]


def test_an_objective_returning_no_finite_number_fails_the_trial(tmp_path: Path) -> None:
    returns: dict[str, Any] = {"nan": math.nan, "inf": -math.inf, "text": "abc", "none": None}

    def objective(trial: Trial) -> Any:
        for _ in trial.epochs(1):
            trial.log(score=0.5)
        return returns[trial.params["what"]]

    space = tmp_path / "space.yaml"
    space.write_text("what: [nan, inf, text, none]\n", encoding="utf-8")
    result = tune(
        objective,
        space,
        strategy="grid",
        n_trials=10,
        metric="score",
        seed=0,
        tracker_options=fast(),
        store=False,
    )
    notes = {t.params["what"]: t.note for t in result.trials}
    assert all(t.state == "failed" and t.run_id for t in result.trials)
    assert notes == {
        "nan": "the objective returned nan",
        "inf": "the objective returned -inf",
        "text": "the objective returned 'abc', not a number",
        "none": "the objective returned None, not a number",
    }
    assert result.best is None
    assert result.wasted_energy_j == result.total_energy_j > 0


@pytest.mark.parametrize("returned", ["0.9", True])
def test_an_objective_returning_a_numeric_string_or_a_bool_fails_the_trial(returned: Any) -> None:
    def objective(trial: Trial) -> Any:
        return returned

    result = tune(
        objective,
        {"x": [1]},
        strategy="random",
        n_trials=1,
        metric="score",
        tracker_options=fast(),
        store=False,
    )
    assert result.trials[0].state == "failed"
    assert result.trials[0].note == f"the objective returned {returned!r}, not a number"


def test_a_store_that_cannot_open_stops_the_search(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    previous = optuna.logging.get_verbosity()
    with pytest.raises(WattwiseError):
        tune(
            QUADRATIC,
            SPACE,
            strategy="random",
            n_trials=3,
            metric="score",
            tracker_options=fast(),
            store=str(blocker / "runs.db"),
        )
    assert optuna.logging.get_verbosity() == previous


# -- continued studies and load_result --------------------------------------------------------
@pytest.fixture(scope="module")
def journal_study(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], Any]]:
    journal = tmp_path_factory.mktemp("journal") / "studies" / "tune.journal"
    cache: list[tuple[TuneResult, TuneResult, Path]] = []

    def get() -> tuple[TuneResult, TuneResult, Path]:
        if not cache:
            kw: dict[str, Any] = dict(
                strategy="bayes",
                metric="score",
                seed=4,
                storage=str(journal),
                study_name="cont",
                store=False,
                target=0.9,
            )
            first = tune(QUADRATIC, SPACE, n_trials=3, tracker_options=fast(), **kw)
            second = tune(QUADRATIC, SPACE, n_trials=2, tracker_options=fast(), **kw)
            cache.append((first, second, journal))
        return cache[0]

    yield get


def test_a_second_call_continues_the_study(journal_study: Callable[[], Any]) -> None:
    first, second, journal = journal_study()
    assert journal.is_file()  # its folder was made
    assert [t.number for t in first.trials] == [0, 1, 2]
    assert [t.number for t in second.trials] == [0, 1, 2, 3, 4]
    assert second.trials[:3] == first.trials  # the first call's trials are untouched
    assert second.storage == str(journal)
    assert second.total_energy_j == pytest.approx(
        first.total_energy_j + sum(t.energy_j for t in second.trials[3:])
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"strategy": "random"}, "exists with strategy='bayes', not 'random'"),
        ({"metric": "loss"}, "exists with metric='score', not 'loss'"),
        ({"direction": "minimize"}, "exists with direction='maximize', not 'minimize'"),
        ({"strategy": "pareto"}, "exists with strategy='bayes', not 'pareto'"),
    ],
)
def test_a_mismatched_continuation_is_refused(
    journal_study: Callable[[], Any], change: dict[str, Any], message: str
) -> None:
    _, second, journal = journal_study()
    kw: dict[str, Any] = {"strategy": "bayes", "metric": "score", **change}
    previous = optuna.logging.get_verbosity()
    with pytest.raises(ConfigError, match=rf"^study 'cont' {message}: choose another study name$"):
        tune(
            QUADRATIC,
            SPACE,
            n_trials=1,
            storage=str(journal),
            study_name="cont",
            tracker_options=fast(),
            store=False,
            **kw,
        )
    assert optuna.logging.get_verbosity() == previous
    assert len(load_result("cont", str(journal)).trials) == len(second.trials)


def test_load_result_reads_the_same_figures(journal_study: Callable[[], Any]) -> None:
    _, second, journal = journal_study()
    loaded = load_result("cont", journal)
    assert loaded.to_dict() == second.to_dict()
    assert loaded.total_energy_j == second.total_energy_j
    assert loaded.target == 0.9
    assert loaded.target_hit == second.target_hit
    assert loaded.curve == second.curve


def test_load_result_of_an_unknown_study(journal_study: Callable[[], Any]) -> None:
    _, _, journal = journal_study()
    with pytest.raises(ConfigError, match=rf"^no study 'nope' in {journal}$"):
        load_result("nope", str(journal))


# -- worker processes ------------------------------------------------------------------------
def _check_worker_study(result: TuneResult, storage: Any, store: Path | str) -> None:
    assert result.workers == 2
    assert len(result.trials) == 6
    assert sorted(t.number for t in result.trials) == list(range(6))
    assert all(t.state == "complete" for t in result.trials)
    ids = [t.run_id for t in result.trials]
    assert all(ids) and len(set(ids)) == 6
    assert all(t.energy_j > 0 and t.headline == "process" for t in result.trials)
    assert any("headline=process" in n for n in result.notes)
    assert not any("overlapped" in n for n in result.notes)
    assert not any("exited with code" in n for n in result.notes)
    runs = stored(store)
    for t in result.trials:
        assert runs[str(t.run_id)].energy_j == t.energy_j
    study = optuna.load_study(study_name=result.study_name, storage=storage)
    pids = {t.user_attrs["wattwise.pid"] for t in study.trials}
    assert len(pids) >= 2
    assert os.getpid() not in pids


@pytest.mark.slow
def test_two_workers_share_a_journal_study_and_lose_nothing(tmp_path: Path) -> None:
    journal = tmp_path / "study.journal"
    store = tmp_path / "runs.db"
    result = tune(
        QUADRATIC,
        SPACE,
        strategy="random",
        n_trials=6,
        metric="score",
        seed=1,
        storage=journal,
        study_name="workers",
        workers=2,
        tracker_options={"zone": "FRA", "interval_s": 0.1},
        store=str(store),
    )
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
    _check_worker_study(result, storage, store)
    assert load_result("workers", journal).total_energy_j == result.total_energy_j


def _postgres_db() -> Any:
    """A fresh database's SQLAlchemy URL on the test server (skip without one)."""
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must set WATTWISE_TEST_POSTGRES_URL (see .ci/run)")
        pytest.skip("no PostgreSQL server: set WATTWISE_TEST_POSTGRES_URL")
    import sqlalchemy as sa

    name = f"ww_tune_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return sa.engine.make_url(PG_URL).set(database=name)


def _drop(url: Any) -> None:
    import sqlalchemy as sa

    assert PG_URL is not None
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[Any]:
    url = _postgres_db()
    yield url
    _drop(url)


@contextlib.contextmanager
def _resource_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Record the ResourceWarnings of connections left open, collected at the end (so a
    leak shows here, not as an unraisable-exception error in a later test)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        leaked: list[warnings.WarningMessage] = []
        try:
            yield leaked
        finally:
            gc.collect()
            leaked.extend(w for w in caught if issubclass(w.category, ResourceWarning))


@pytest.mark.postgres
@pytest.mark.slow
def test_two_workers_share_a_postgresql_study(pg_url: Any, tmp_path: Path) -> None:
    url = pg_url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    store = tmp_path / "runs.db"
    name = f"workers-{uuid.uuid4().hex[:8]}"
    with _resource_warnings():  # the leak is test_postgresql_connections_are_closed's
        result = tune(
            QUADRATIC,
            SPACE,
            strategy="random",
            n_trials=6,
            metric="score",
            seed=1,
            storage=url,
            study_name=name,
            workers=2,
            tracker_options={"zone": "FRA", "interval_s": 0.1},
            store=str(store),
        )
        loaded = load_result(name, url)
    storage = optuna.storages.RDBStorage(url)
    try:
        _check_worker_study(result, storage, store)
    finally:
        storage.engine.dispose()
    assert loaded.to_dict() == result.to_dict() | {"workers": 1, "notes": []}


@pytest.mark.postgres
def test_a_plain_postgresql_url_works_and_hides_its_password(pg_url: Any) -> None:
    url = pg_url.set(drivername="postgresql", password="s3cret-pw")  # trust auth ignores it
    text = url.render_as_string(hide_password=False)
    assert text.startswith("postgresql://")
    with _resource_warnings():  # the leak is test_postgresql_connections_are_closed's
        result = tune(
            QUADRATIC,
            SPACE,
            strategy="bayes",
            n_trials=2,
            metric="score",
            seed=1,
            storage=text,
            study_name="plain",
            tracker_options=fast(),
            store=False,
        )
        loaded = load_result("plain", text)
    assert len(result.trials) == 2 and all(t.state == "complete" for t in result.trials)
    assert "s3cret-pw" not in json.dumps(result.to_dict())
    assert result.storage == url.render_as_string(hide_password=True)
    assert "***" in result.storage
    assert loaded.total_energy_j == result.total_energy_j


@pytest.mark.postgres
def test_postgresql_connections_are_closed(pg_url: Any) -> None:
    url = pg_url.render_as_string(hide_password=False)
    with _resource_warnings() as leaked:
        tune(
            QUADRATIC,
            {"x": [0.3]},
            strategy="grid",
            n_trials=1,
            metric="score",
            storage=url,
            study_name="closed",
            tracker_options=fast(),
            store=False,
        )
        load_result("closed", url)
    assert [str(w.message) for w in leaked] == []


def test_a_sqlite_database_url_holds_a_continued_study(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    kw: dict[str, Any] = dict(
        strategy="random", metric="score", seed=3, storage=url, study_name="db", store=False
    )
    first = tune(QUADRATIC, SPACE, n_trials=2, tracker_options=fast(), **kw)
    second = tune(QUADRATIC, SPACE, n_trials=1, tracker_options=fast(), **kw)
    assert [t.number for t in second.trials] == [0, 1, 2]
    assert second.trials[:2] == first.trials
    assert second.storage == url
    loaded = load_result("db", url)
    assert loaded.to_dict() == second.to_dict()


# -- bad input -------------------------------------------------------------------------------
def _noop(trial: Trial) -> float:
    return 0.0


BAD_INPUT: list[tuple[dict[str, Any], str]] = [
    ({"strategy": "tpe"}, r"^unknown strategy 'tpe': choose one of grid, random, bayes"),
    ({"n_trials": 0}, r"^n_trials must be an integer ≥ 1, not 0$"),
    ({"n_trials": 2.0}, r"^n_trials must be an integer ≥ 1, not 2\.0$"),
    ({"n_trials": True}, r"^n_trials must be an integer ≥ 1, not True$"),
    ({"workers": 0}, r"^workers must be an integer ≥ 1, not 0$"),
    ({"workers": 2}, r"^workers > 1 need the objective as an import path 'module:function'$"),
    ({"objective": "no_colon"}, r"^the objective must be 'module:function', not 'no_colon'$"),
    ({"objective": "wattwise_nope.mod:f"}, r"^cannot import 'wattwise_nope\.mod' for the obj"),
    ({"objective": "wattwise.testing.objectives:nope"}, r"has no 'nope' \(the objective"),
    ({"objective": "wattwise.testing.objectives:EPOCHS"}, r"^the objective '.*EPOCHS' is not"),
    ({"objective": 42}, r"^objective must be a callable or 'module:function', not 42$"),
    ({"budget_kwh": 0}, r"^budget_kwh must be a number > 0, not 0$"),
    ({"budget_kwh": -1.0}, r"^budget_kwh must be a number > 0, not -1\.0$"),
    ({"budget_kwh": math.nan}, r"^budget_kwh must be a number > 0, not nan$"),
    ({"budget_kwh": "1"}, r"^budget_kwh must be a number > 0, not '1'$"),
    ({"budget_gco2e": 0.0}, r"^budget_gco2e must be a number > 0, not 0\.0$"),
    ({"timeout_s": -5}, r"^timeout_s must be a number > 0, not -5$"),
    ({"direction": "maximise"}, r"^direction must be 'maximize' or 'minimize', not 'maximise'$"),
    ({"direction": "max"}, r"^direction must be 'maximize' or 'minimize'"),
    ({"target": math.inf}, r"^target must be a finite number, not inf$"),
    ({"target": "0.9"}, r"^target must be a finite number, not '0\.9'$"),
    ({"target": True}, r"^target must be a finite number, not True$"),
    ({"metric": ""}, r"^metric must be a non-empty name$"),
    ({"pruner": "asha"}, r"^unknown pruner 'asha'"),
    ({"space": {"lr": {"low": 1, "high": 0}}}, r"^space: lr: low \(1\) must be below high"),
    ({"space": "missing.yaml"}, r"^cannot read the space file missing\.yaml"),
    ({"store": False, "tracker_options": {"store": False}}, r"^give the store once"),
    ({"storage": "nosuchdb://x"}, r"^cannot open the study storage nosuchdb://"),
]


@pytest.mark.parametrize(("change", "message"), BAD_INPUT)
def test_bad_input_is_a_config_error(change: dict[str, Any], message: str) -> None:
    kw: dict[str, Any] = {"objective": _noop, "space": SPACE, "store": None, **change}
    objective, space = kw.pop("objective"), kw.pop("space")
    previous = optuna.logging.get_verbosity()
    with pytest.raises(ConfigError, match=message) as info:
        tune(objective, space, **kw)
    assert "\n" not in str(info.value)
    assert optuna.logging.get_verbosity() == previous


# -- logging -------------------------------------------------------------------------------
def test_no_optuna_log_lines_leak_and_its_verbosity_is_restored(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="optuna")  # restores the logger's level after
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.DEBUG)  # every line would show
    try:
        result = tune(
            FAILING,
            {"x": [0.9, 0.1]},
            strategy="grid",
            n_trials=2,
            metric="score",
            tracker_options=fast(),
            store=False,
        )
        assert optuna.logging.get_verbosity() == optuna.logging.DEBUG
    finally:
        optuna.logging.set_verbosity(previous)
    assert sorted(t.state for t in result.trials) == ["complete", "failed"]
    assert [r.getMessage() for r in caplog.records if r.name.startswith("optuna")] == []
    out, err = capfd.readouterr()
    assert "Trial" not in err and "study" not in err.lower()
    assert "Trial" not in out


# -- review fixes: sampling inside the runs, grid seeds, space changes, pruning typos -------
def test_the_samplers_work_is_inside_each_trials_run() -> None:
    """ask() (where a GP or NSGA-II samples) runs after the trial's tracker started."""
    seen: list[bool] = []

    class Spy(optuna.samplers.RandomSampler):
        def sample_relative(self, study: Any, trial: Any, space: Any) -> dict[str, Any]:
            time.sleep(0.15)  # a slow sampler
            return {}

    def objective(trial: Trial) -> float:
        seen.append(trial.run.running)
        return 0.5

    result = tune(
        objective,
        {"x": [1, 2]},
        strategy="random",
        sampler=Spy(seed=0),
        n_trials=2,
        metric="score",
        tracker_options=fast(),
        store=False,
    )
    assert seen == [True, True]
    assert all(t.duration_s >= 0.15 for t in result.trials)  # the sampling is in the run


def test_grid_workers_share_one_seed_so_every_point_runs_once(tmp_path: Path) -> None:
    result = tune(
        QUADRATIC,
        {"x": [0.1, 0.3, 0.5], "w": [1, 2]},
        strategy="grid",
        n_trials=6,
        metric="score",
        seed=0,
        workers=2,
        storage=str(tmp_path / "grid.journal"),
        study_name="g",
        tracker_options={"zone": "FRA", "interval_s": 0.1},
        store=False,
    )
    points = {(t.params["x"], t.params["w"]) for t in result.trials}
    assert len(result.trials) == 6 and len(points) == 6


def test_a_grid_study_continued_with_another_seed_is_refused(tmp_path: Path) -> None:
    kw: dict[str, Any] = dict(
        strategy="grid",
        metric="score",
        storage=str(tmp_path / "s.journal"),
        study_name="g",
        tracker_options=fast(),
        store=False,
    )
    first = tune(QUADRATIC, {"x": [0.1, 0.3], "w": [1]}, n_trials=1, seed=1, **kw)
    assert first.seed == 1
    second = tune(QUADRATIC, {"x": [0.1, 0.3], "w": [1]}, n_trials=1, **kw)  # keeps seed 1
    assert second.seed == 1 and len(second.trials) == 2
    with pytest.raises(ConfigError, match="started with seed 1"):
        tune(QUADRATIC, {"x": [0.1, 0.3], "w": [1]}, n_trials=1, seed=2, **kw)


def test_a_study_continued_over_another_space_is_refused(tmp_path: Path) -> None:
    kw: dict[str, Any] = dict(
        strategy="random",
        metric="score",
        storage=str(tmp_path / "s.journal"),
        study_name="r",
        tracker_options=fast(),
        store=False,
    )
    tune(QUADRATIC, {"x": {"low": 0.0, "high": 1.0}, "w": [1, 2]}, n_trials=1, **kw)
    with pytest.raises(ConfigError, match="another space"):
        tune(QUADRATIC, {"x": {"low": 0.0, "high": 1.0}, "w": [1, 2, 3]}, n_trials=1, **kw)


def test_a_pruner_that_never_heard_the_metric_says_so() -> None:
    result = tune(
        QUADRATIC,
        SPACE,
        strategy="halving",
        n_trials=3,
        metric="scor",  # the objective logs "score"
        seed=0,
        tracker_options=fast(),
        store=False,
    )
    assert any("the pruner never ran" in n and "'scor'" in n for n in result.notes)
    assert result.count("pruned") == 0


def test_a_trials_run_carries_its_state_and_metric(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    result = tune(
        QUADRATIC,
        {"x": [0.3]},
        strategy="grid",
        n_trials=1,
        metric="score",
        tracker_options=fast(),
        store=str(db),
    )
    with get_store(db) as store:
        run = store.get_run(result.trials[0].run_id or "")
    assert run.tags["trial_state"] == "complete" and float(run.tags["score"]) == pytest.approx(1.0)
    assert run.name.endswith("#0") and run.tags["trial"] == "0"


def test_workers_that_all_fail_raise_one_wattwise_error(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(WattwiseError, match="every worker failed"):
        tune(
            QUADRATIC,
            SPACE,
            strategy="random",
            n_trials=2,
            metric="score",
            workers=2,
            storage=str(tmp_path / "w.journal"),
            tracker_options={"zone": "NOWHERE-42", "interval_s": 0.1},
            store=False,
        )
    err = capfd.readouterr().err
    assert "Traceback" not in err and "worker 0: error:" in err


def test_workers_refuse_objects_that_cannot_travel() -> None:
    with pytest.raises(ConfigError, match="cannot be sent to a worker"):
        tune(
            QUADRATIC,
            SPACE,
            n_trials=2,
            metric="score",
            workers=2,
            tracker_options={"sensors": [lambda: None]},
            store=False,
        )


def test_a_trial_pruned_by_its_objective_in_the_last_epoch_has_a_consistent_run(
    tmp_path: Path,
) -> None:
    def objective(trial: Trial) -> float:
        for epoch in trial.epochs(2):
            trial.log(score=0.1)
            if epoch == 1:
                raise optuna.TrialPruned("pruned by the objective")
        return 0.1

    db = tmp_path / "runs.db"
    result = tune(
        objective,
        {"x": [1]},
        strategy="random",
        n_trials=1,
        metric="score",
        tracker_options=fast(),
        store=str(db),
    )
    assert result.trials[0].state == "pruned"
    with get_store(db) as store:
        run = store.get_run(result.trials[0].run_id or "")
    # every planned epoch ran: nothing was skipped, so the run is not "stopped" without a why
    assert run.status == "completed" and run.training is not None
    assert run.training.stop_kind is None and run.tags["trial_state"] == "pruned"
