"""``wattwise.optimize`` end to end on a tiny CNN: the stored runs and their tags, the
figures against the stored energies, the recommendation, failing recipes and
baselines, argument validation, and what it leaves alone (random state, warnings)."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from wattwise.exceptions import ConfigError, WattwiseError
from wattwise.optimizing.result import (
    TRAINING_MARGIN,
    InferenceFigures,
    OptimizeResult,
    Variant,
    choose,
)
from wattwise.optimizing.study import CONTROL, optimize
from wattwise.optimizing.task import OptimizeTask, TrainSpec, fit
from wattwise.record import RunRecord
from wattwise.store import get_store
from wattwise.testing.fake import SyntheticSensor
from wattwise.tracking import Tracker

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from torch import nn  # noqa: E402

from wattwise.complexity import digits_data  # noqa: E402
from wattwise.tuning.digits import make_cnn  # noqa: E402

NAME = "tiny study"
TOLERANCE = 0.05
BATCHES = (1, 256)
SENSOR = SyntheticSensor(lambda t: 100.0, lambda a, b: 100.0 * (b - a), kind="counter")
OPTIONS: Mapping[str, Any] = {"sensors": [SENSOR], "zone": "FRA", "interval_s": 0.1}


def _task(make_model: Any = None, **changes: Any) -> OptimizeTask:
    data = digits_data(0)
    base: dict[str, Any] = {
        "make_model": make_model or (lambda: make_cnn(8)),
        "x_train": data.x_train[:200],
        "y_train": data.y_train[:200],
        "x_test": data.x_test[:200],
        "y_test": data.y_test[:200],
        "epochs": 1,
        "batch_size": 32,
        "lr": 3e-3,
        "name": "tiny",
    }
    base.update(changes)
    return OptimizeTask(**base)


@dataclass(frozen=True)
class Study:
    result: OptimizeResult
    runs: dict[str, RunRecord]
    progress: list[str]
    caught: list[str]
    rng_before: Any
    rng_after: Any
    store: Path


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    """prune, int8 dynamic and a subset on the width-8 digits CNN, stored in SQLite."""
    home = tmp_path_factory.mktemp("study")
    path = home / "runs.db"
    lines: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_DATA_HOME", str(home / "data"))
        mp.setenv("XDG_CONFIG_HOME", str(home / "config"))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            before = torch.get_rng_state()
            result = optimize(
                _task(),
                "prune,quantize-dynamic,subset",
                tolerance=TOLERANCE,
                name=NAME,
                batch_sizes=BATCHES,
                repeats=1,
                window_s=0.05,
                store=str(path),
                tracker_options={**OPTIONS, "tags": {"team": "green"}},
                progress=lines.append,
            )
            after = torch.get_rng_state()
    store = get_store(str(path))
    try:
        runs = {r.id: r for r in store.list_runs()}
    finally:
        store.close()
    return Study(result, runs, lines, [str(w.message) for w in caught], before, after, path)


def _train_run_of_baseline(study: Study) -> RunRecord:
    [run_id] = study.result.baseline.train_run_ids
    return study.runs[run_id]


def test_the_study_has_the_baseline_then_each_recipe_and_nothing_failed(study: Study) -> None:
    r = study.result
    assert [(v.name, v.recipe) for v in r.variants] == [
        ("baseline", "baseline"),
        ("prune 50%", "prune"),
        ("int8 dynamic", "quantize-dynamic"),
        ("subset 50%", "subset"),
    ]
    assert r.failed == () and r.notes == ()
    assert r.name == NAME and r.objective == "inference" and r.tolerance == TOLERANCE
    assert str(study.store) in r.store
    assert all(v.method == "measured" for v in r.variants)


def test_every_run_is_stored_and_tagged_with_the_study_and_the_baseline(study: Study) -> None:
    r = study.result
    expected: dict[str, tuple[str, str, str]] = {}
    for v in r.variants:
        for run_id in v.train_run_ids:
            expected[run_id] = (v.name, v.recipe, "train")
        assert v.eval_run_id is not None
        expected[v.eval_run_id] = (v.name, v.recipe, "eval")
    assert r.inference_run_id is not None
    expected[r.inference_run_id] = ("inference", "all", "inference")
    # baseline, prune, subset train; four evaluations; one inference run
    assert len(expected) == 3 + 4 + 1
    assert set(study.runs) == set(expected)
    base_train = _train_run_of_baseline(study)
    for run_id, (variant, recipe, stage) in expected.items():
        run = study.runs[run_id]
        assert run.status == "completed"
        tags = dict(run.tags)
        assert (tags["optimize"], tags["variant"], tags["recipe"], tags["stage"]) == (
            NAME,
            variant,
            recipe,
            stage,
        )
        assert tags["team"] == "green"
        suffix = " eval" if stage == "eval" else ""
        assert run.name == f"{NAME} · {variant}{suffix}"
        if run is base_train:
            assert "baseline_run" not in tags
        else:
            assert tags["baseline_run"] == base_train.id


def test_each_eval_run_holds_a_score_phase_with_the_variants_scores(study: Study) -> None:
    for v in study.result.variants:
        assert v.eval_run_id is not None
        run = study.runs[v.eval_run_id]
        [phase] = run.phases
        assert (phase.name, phase.kind) == ("score", "score")
        assert set(phase.metrics) == {"accuracy", "ece", "noise_accuracy", "diverged"}
        assert phase.metrics["diverged"] == 0
        assert phase.metrics["accuracy"] == pytest.approx(v.accuracy)
        assert phase.metrics["ece"] == pytest.approx(v.ece)
        assert phase.metrics["noise_accuracy"] == pytest.approx(v.noise_accuracy)
        assert 0 <= phase.metrics["ece"] <= 1
        assert run.tags["accuracy"] == f"{v.accuracy:.4f}"


def test_the_inference_run_has_one_phase_per_variant_batch_and_round(study: Study) -> None:
    r = study.result
    assert r.inference_run_id is not None
    run = study.runs[r.inference_run_id]
    # one round: every variant, then the baseline's A/A copy, at each batch size
    assert [p.name for p in run.phases] == [
        f"{name} b{b} #1" for b in BATCHES for name in [*(v.name for v in r.variants), CONTROL]
    ]
    assert all(p.kind == "inference" for p in run.phases)
    # the noise floor: the baseline against its copy, per batch size (a relative
    # difference of two positive figures lies in 0..2)
    assert sorted(r.noise) == list(BATCHES)
    assert all(0.0 <= share < 2.0 for share in r.noise.values())
    for v in r.variants:
        assert [f.batch_size for f in v.inference] == list(BATCHES)
        for f in v.inference:
            phase = run.phase(f"{v.name} b{f.batch_size} #1")
            footprint = phase.machine if run.headline == "machine" else phase.process
            assert f.repeats == 1 and f.samples % f.batch_size == 0 and f.samples > 0
            assert f.energy_per_1000_j == pytest.approx(footprint.energy_j / f.samples * 1000)
            assert f.energy_min_j == f.energy_max_j == f.energy_per_1000_j
            assert f.latency_ms > 0 and f.samples_per_s > 0


def test_training_figures_are_the_stored_runs_energies_plus_prerequisites(study: Study) -> None:
    r = study.result
    for v in r.variants:
        stored = [study.runs[i] for i in v.train_run_ids]
        assert v.train_energy_j == pytest.approx(sum(s.energy_j for s in stored), rel=1e-9)
        assert v.train_co2_g == pytest.approx(sum(s.co2_g for s in stored), rel=1e-9)
        assert v.train_total_j == v.train_energy_j + v.prerequisite_j
    base, pruned, int8, subset = r.variants
    base_j = _train_run_of_baseline(study).energy_j
    assert base.train_energy_j == pytest.approx(base_j) and base.prerequisite_j == 0
    assert base_j > 0
    assert pruned.prerequisite_j == pytest.approx(base_j) and pruned.train_energy_j > 0
    assert int8.train_run_ids == () and int8.train_energy_j == 0
    assert int8.train_total_j == pytest.approx(base_j)
    assert subset.prerequisite_j == 0 and len(subset.train_run_ids) == 1
    assert pruned.sparsity > 0.45 and base.sparsity < 0.01
    assert "qint8" in int8.facts["weights"]


def _within(r: OptimizeResult, *, noise: bool = True) -> list[Variant]:
    """Accurate enough, and (inference objective) cheaper than the baseline by more than
    the noise floor, or the baseline itself."""
    floor = (r.baseline.accuracy or 0.0) - r.tolerance - 1e-9
    base = r.baseline
    limit = float("inf")
    if noise and r.objective == "inference" and base.large is not None:
        limit = base.large.energy_per_1000_j * (1 - r.noise.get(base.large.batch_size, 0.0))
    return [
        v
        for v in r.variants
        if v.ok
        and (v.accuracy or 0.0) >= floor
        and (v is base or r.objective != "inference" or v.energy("inference") < limit)
    ]


def test_the_recommendation_is_the_least_inference_energy_within_tolerance(
    study: Study,
) -> None:
    r = study.result
    within = _within(r)
    assert r.baseline in within
    rec = r.recommended
    assert rec is not None and rec in within
    best = min(v.large.energy_per_1000_j for v in within if v.large is not None)
    assert rec.large is not None and rec.large.energy_per_1000_j == best
    if rec is not r.baseline:  # a kept baseline may be dominated by a variant within noise
        assert rec.on_inference_front
    for v in r.variants:
        if v.ok and v.large is not None and v.large.energy_per_1000_j < best:
            assert v not in within  # anything cheaper lost too much accuracy


def test_the_training_objective_recommends_the_least_total_training_energy(
    study: Study,
) -> None:
    r = study.result
    again = choose(
        r.name, r.variants, tolerance=r.tolerance, objective="training", noise_std=r.noise_std
    )
    within = _within(again)
    rec = again.recommended
    assert rec is not None and rec in within
    assert rec.train_total_j == min(v.train_total_j for v in within)
    assert rec.on_training_front
    # the same variants, the other objective: the inference pick is unchanged
    same = choose(
        r.name,
        r.variants,
        tolerance=r.tolerance,
        objective="inference",
        noise_std=r.noise_std,
        noise=r.noise,
    )
    assert same.recommended is not None and r.recommended is not None
    assert same.recommended.name == r.recommended.name


def test_progress_reports_each_score_and_each_inference_round(study: Study) -> None:
    assert study.progress == [
        *(f"{v.name}: accuracy {v.accuracy:.1%}" for v in study.result.variants),
        "inference round 1/1 measured",
    ]


def test_optimize_leaves_the_global_rng_alone_and_lets_no_warning_escape(study: Study) -> None:
    assert torch.equal(study.rng_before, study.rng_after)
    assert study.caught == []


def test_the_result_is_json_serialisable(study: Study) -> None:
    d = study.result.to_dict()
    back = json.loads(json.dumps(d, allow_nan=False))
    assert back == d
    assert back["recommended"] == study.result.recommended.name  # type: ignore[union-attr]
    assert back["variants"][0]["name"] == "baseline"
    assert back["variants"][1]["train_total_j"] == pytest.approx(
        study.result.variants[1].train_total_j
    )


# -- failures --------------------------------------------------------------------------------------


class Net(nn.Module):
    """Not an nn.Sequential: channel pruning cannot rebuild it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.head = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x: Any) -> Any:
        return self.head(torch.relu(self.conv(x)).flatten(1))


@pytest.fixture(scope="module")
def with_failure() -> tuple[OptimizeResult, list[str]]:
    lines: list[str] = []
    result = optimize(
        _task(Net),
        "channels,quantize-dynamic",
        objective="training",
        tolerance=TOLERANCE,
        batch_sizes=BATCHES,
        repeats=1,
        window_s=0.05,
        store=False,
        tracker_options=OPTIONS,
        progress=lines.append,
    )
    return result, lines


def test_a_failing_recipe_is_recorded_in_its_place(
    with_failure: tuple[OptimizeResult, list[str]],
) -> None:
    result, lines = with_failure
    assert [v.name for v in result.variants] == ["baseline", "channels", "int8 dynamic"]
    failed = result.variants[1]
    assert result.failed == (failed,)
    assert failed.error == "ConfigError: channel pruning needs an nn.Sequential model, not Net"
    assert (failed.accuracy, failed.inference, failed.description) == (None, (), "failed")
    assert not failed.on_inference_front and not failed.on_training_front
    assert f"channels failed: {failed.error}" in lines
    assert result.recommended is not None and result.recommended.ok
    json.dumps(result.to_dict(), allow_nan=False)


def test_the_training_objective_reaches_the_recommendation(
    with_failure: tuple[OptimizeResult, list[str]],
) -> None:
    result, _ = with_failure
    assert result.objective == "training"
    within = _within(result)
    rec = result.recommended
    assert rec is not None and rec in within
    assert rec.train_total_j == min(v.train_total_j for v in within)
    int8 = result.variants[2]
    assert int8.train_total_j == pytest.approx(result.baseline.train_total_j)


def test_on_error_raise_lets_the_recipes_error_through() -> None:
    with pytest.raises(ConfigError, match=r"needs an nn\.Sequential model, not Net"):
        optimize(
            _task(Net),
            "channels",
            on_error="raise",
            repeats=1,
            window_s=0.05,
            store=False,
            tracker_options=OPTIONS,
        )


def _failing(exc: Exception) -> Any:
    def train(model: Any, run: Tracker, spec: TrainSpec, task: OptimizeTask) -> None:
        for _ in run.epochs(spec.epochs):
            raise exc

    return train


def test_a_baseline_that_cannot_train_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    boom = RuntimeError("boom")
    with pytest.raises(WattwiseError, match=r"^the baseline failed: RuntimeError: boom$") as err:
        optimize(
            _task(train=_failing(boom)),
            "subset",
            store=str(path),
            tracker_options=OPTIONS,
            repeats=1,
            window_s=0.05,
        )
    assert err.value.__cause__ is boom
    store = get_store(str(path))
    try:
        [run] = store.list_runs()
    finally:
        store.close()
    assert run.status == "failed" and run.tags["variant"] == "baseline"


def test_a_wattwise_error_from_the_baseline_passes_through_unchanged() -> None:
    bad = ConfigError("the user's loop refuses")
    with pytest.raises(ConfigError) as err:
        optimize(
            _task(train=_failing(bad)),
            "subset",
            store=False,
            tracker_options=OPTIONS,
            repeats=1,
            window_s=0.05,
        )
    assert err.value is bad


# -- argument validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"recipes": "prune,nope"}, "unknown recipe 'nope'"),
        ({"tolerance": -0.01}, "tolerance must lie in 0..1"),
        ({"tolerance": 1.0}, "tolerance must lie in 0..1"),
        ({"tolerance": math.nan}, "tolerance must lie in 0..1"),
        ({"tolerance": True}, "tolerance must be a number"),
        ({"tolerance": "0.01"}, "tolerance must be a number"),
        ({"objective": "speed"}, "objective must be one of inference, training"),
        ({"on_error": "ignore"}, "on_error must be 'record' or 'raise'"),
        ({"batch_sizes": ()}, "at least one inference batch size"),
        ({"batch_sizes": (0,)}, "batch sizes must be integers ≥ 1"),
        ({"batch_sizes": (1, 2.5)}, "batch sizes must be integers ≥ 1"),
        ({"batch_sizes": (True,)}, "batch sizes must be integers ≥ 1"),
        ({"repeats": 0}, "repeats must be an integer ≥ 1"),
        ({"repeats": True}, "repeats must be an integer ≥ 1"),
        ({"repeats": 1.5}, "repeats must be an integer ≥ 1"),
        ({"window_s": 0}, r"window_s must lie in \(0, 60\]"),
        ({"window_s": -1.0}, r"window_s must lie in \(0, 60\]"),
        ({"window_s": 61}, r"window_s must lie in \(0, 60\]"),
        ({"window_s": math.nan}, r"window_s must lie in \(0, 60\]"),
        ({"window_s": "0.5"}, r"window_s must lie in \(0, 60\]"),
        ({"name": ""}, "needs a non-empty name"),
        ({"name": "   "}, "needs a non-empty name"),
        ({"name": 5}, "needs a non-empty name"),
        ({"noise_std": -1.0}, "noise_std must be a finite number ≥ 0"),
        ({"noise_std": math.nan}, "noise_std must be a finite number ≥ 0"),
        ({"noise_std": math.inf}, "noise_std must be a finite number ≥ 0"),
        (
            {"store": "runs.db", "tracker_options": {"store": False}},
            "give the store once",
        ),
    ],
    ids=lambda v: "-".join(f"{k}={x!r}" for k, x in v.items()) if isinstance(v, dict) else None,
)
def test_bad_arguments_are_refused_before_anything_trains(
    kwargs: dict[str, Any], match: str, tmp_path: Path
) -> None:
    trained: list[TrainSpec] = []

    def train(model: Any, run: Tracker, spec: TrainSpec, task: OptimizeTask) -> None:
        trained.append(spec)
        fit(model, run, spec, task)

    args: dict[str, Any] = {"recipes": "subset", "store": False, "tracker_options": OPTIONS}
    args.update(kwargs)
    with pytest.raises(ConfigError, match=match):
        optimize(_task(train=train), **args)
    assert trained == []
    assert not (tmp_path / "runs.db").exists()


# -- review fixes: measurement failures, the training margin, the verdict's batch ------------------


class SmallBatchesOnly(nn.Module):
    """The digits CNN, refusing any batch of more than 100 samples."""

    def __init__(self) -> None:
        super().__init__()
        self.net = make_cnn(8)

    def forward(self, x: Any) -> Any:
        if len(x) > 100:
            raise RuntimeError(f"batch of {len(x)} is too large")
        return self.net(x)


def test_a_model_failing_at_an_inference_batch_is_one_error_with_the_runs_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    data = digits_data(0)
    path = tmp_path / "runs.db"
    # 80 held-out samples: training (batch 32) and scoring (one chunk of 80) pass
    task = _task(SmallBatchesOnly, x_test=data.x_test[:80], y_test=data.y_test[:80])
    with pytest.raises(WattwiseError) as err:
        optimize(
            task,
            "quantize-dynamic",
            batch_sizes=(1, 256),
            repeats=1,
            window_s=0.05,
            store=str(path),
            tracker_options=OPTIONS,
        )
    assert str(err.value) == (
        "inference measurement failed (RuntimeError: batch of 256 is too large); "
        "the training and score runs are in the store"
    )
    assert isinstance(err.value.__cause__, RuntimeError)
    store = get_store(str(path))
    try:
        runs = store.list_runs()
    finally:
        store.close()
    stored = {(r.tags["variant"], r.tags["stage"]): r for r in runs}
    assert {k: r.status for k, r in stored.items() if k[1] != "inference"} == {
        ("baseline", "train"): "completed",
        ("baseline", "eval"): "completed",
        ("int8 dynamic", "eval"): "completed",
    }
    assert stored["inference", "inference"].status == "failed"
    train = stored["baseline", "train"]
    assert train.training is not None and train.training.samples == 200
    assert stored["baseline", "eval"].phases[0].metrics["diverged"] == 0


def _hand(
    name: str,
    accuracy: float,
    *,
    train_j: float,
    prereq_j: float = 0.0,
    inference: tuple[tuple[int, float], ...] = ((1, 20.0), (256, 1.0)),
) -> Variant:
    """A measured variant made by hand: (batch size, J per 1,000 samples) per batch."""
    return Variant(
        name=name,
        recipe=name.split()[0],
        description=f"{name} by hand",
        accuracy=accuracy,
        ece=0.05,
        noise_accuracy=accuracy - 0.1,
        train_energy_j=train_j,
        train_co2_g=train_j / 3.6e6 * 50,
        prerequisite_j=prereq_j,
        inference=tuple(
            InferenceFigures(b, j, j, j, 1.0, b * 1000.0, 1, b * 10) for b, j in inference
        ),
        size_bytes=1000,
        parameters=100,
        nonzero_parameters=100,
        method="measured",
    )


def _training_pick(*others: Variant) -> OptimizeResult:
    base = _hand("baseline", 0.90, train_j=1000.0)
    return choose("t", [base, *others], tolerance=0.05, objective="training", noise_std=0.1)


def test_the_training_objective_needs_a_saving_beyond_the_margin() -> None:
    assert TRAINING_MARGIN == 0.10
    # int8 dynamic trains nothing: its total is the baseline's run, a tie
    tie = _hand("int8 dynamic", 0.95, train_j=0.0, prereq_j=1000.0)
    five = _hand("subset 50%", 0.91, train_j=950.0)  # 5% cheaper: within the noise
    twenty = _hand("dedupe", 0.88, train_j=800.0)  # 20% cheaper
    for kept in (_training_pick(tie), _training_pick(tie, five)):
        assert kept.recommended is kept.baseline
        assert kept.verdict() == (
            "Keep the baseline: no variant used less training energy by more than 10% "
            "within 5 points of its accuracy."
        )
    r = _training_pick(tie, five, twenty)
    assert r.recommended is not None and r.recommended.name == "dedupe"
    assert r.verdict().startswith(
        "Recommended: dedupe — 1.2× less training energy (prerequisites included) than "
        "the baseline, accuracy -2.0 pt"
    )
    assert "at batch" not in r.verdict()


def test_the_inference_verdict_names_the_batch_and_the_batch_one_comparison() -> None:
    base = _hand("baseline", 0.90, train_j=1000.0)
    slower = _hand("int8 dynamic", 0.90, train_j=0.0, inference=((1, 30.0), (256, 0.5)))
    r = choose(
        "t", [base, slower], tolerance=0.01, objective="inference", noise_std=0.1,
        noise={1: 0.02, 256: 0.05},
    )  # fmt: skip
    assert r.recommended is not None and r.recommended.name == "int8 dynamic"
    assert r.verdict().startswith(
        "Recommended: int8 dynamic — 2.0× less inference energy per 1,000 samples at "
        "batch 256 (1.5× more at batch 1) than the baseline, accuracy ±0.0 pt"
    )
    faster = _hand("int8 dynamic", 0.90, train_j=0.0, inference=((1, 10.0), (256, 0.5)))
    r = choose("t", [base, faster], tolerance=0.01, objective="inference", noise_std=0.1)
    assert "at batch 256 (2.0× less at batch 1) than the baseline" in r.verdict()
    # one measured batch size: nothing to add
    one = [
        _hand("baseline", 0.90, train_j=1000.0, inference=((64, 2.0),)),
        _hand("int8 dynamic", 0.90, train_j=0.0, inference=((64, 0.5),)),
    ]
    r = choose("t", one, tolerance=0.01, objective="inference", noise_std=0.1)
    assert r.verdict().startswith(
        "Recommended: int8 dynamic — 4.0× less inference energy per 1,000 samples at "
        "batch 64 than the baseline,"
    )
