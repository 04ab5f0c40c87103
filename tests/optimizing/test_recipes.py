"""The efficiency recipes on a small real CNN, each checked from the model it returns
(zeros, channels, quantized modules, the dtype training computed in, ...), never from
the flags it sets; plus recipe-name resolution and the settings' validation."""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from wattwise.exceptions import ConfigError
from wattwise.optimizing import recipes
from wattwise.optimizing.measure import quiet_quantized
from wattwise.optimizing.metrics import Scores, default_noise_std, scores
from wattwise.optimizing.recipes import (
    ALL,
    GROUPS,
    RECIPES,
    Built,
    Context,
    NoVariant,
    Settings,
    duplicates,
    resolve_recipes,
    stratified_subset,
)
from wattwise.optimizing.result import OptimizeResult
from wattwise.optimizing.study import optimize
from wattwise.optimizing.task import OptimizeTask, TrainSpec, cross_entropy, fit
from wattwise.record import RunRecord
from wattwise.testing.fake import SyntheticSensor
from wattwise.tracking import Tracker

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from torch import nn  # noqa: E402

from wattwise.complexity import digits_data  # noqa: E402
from wattwise.tuning.digits import make_cnn  # noqa: E402

WIDTH = 8
LIMIT = 200
TOLERANCE = 0.05
SENSOR = SyntheticSensor(lambda t: 100.0, lambda a, b: 100.0 * (b - a), kind="counter")


def _tracker(name: str) -> Tracker:
    return Tracker(name, store=False, sensors=[SENSOR], zone="FRA", interval_s=0.1, live="off")


@dataclass
class Trained:
    """One training the task's callable did: the spec it got and the output dtypes seen."""

    spec: TrainSpec
    dtypes: frozenset[str]


def _make_task(**changes: Any) -> tuple[OptimizeTask, list[Trained]]:
    """The digits CNN at width 8 on 200 training images, trained by a user callable that
    runs :func:`fit` and records the spec and the dtypes the model's outputs had."""
    data = digits_data(0)
    log: list[Trained] = []

    def train(model: Any, run: Tracker, spec: TrainSpec, task: OptimizeTask) -> None:
        seen: set[str] = set()
        handle = model.register_forward_hook(
            lambda _m, _i, out: seen.add(str(out.dtype).removeprefix("torch."))
        )
        try:
            fit(model, run, spec, task)
        finally:
            handle.remove()
        log.append(Trained(spec, frozenset(seen)))

    base: dict[str, Any] = {
        "make_model": lambda: make_cnn(WIDTH),
        "x_train": data.x_train[:LIMIT],
        "y_train": data.y_train[:LIMIT],
        "x_test": data.x_test,
        "y_test": data.y_test,
        "epochs": 1,
        "batch_size": 32,
        "lr": 3e-3,
        "train": train,
        "name": "tiny-cnn",
    }
    base.update(changes)
    return OptimizeTask(**base), log


@dataclass
class Bench:
    """A Context as ``optimize`` builds one, recording every run it starts."""

    ctx: Context
    runs: list[tuple[str, str, RunRecord]] = field(default_factory=list)
    trackers: list[tuple[str, str, Tracker]] = field(default_factory=list)
    scored: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Baseline:
    task: OptimizeTask
    log: list[Trained]
    model: Any
    run: RunRecord
    scores: Scores
    noise: float

    def bench(
        self,
        *,
        task: OptimizeTask | None = None,
        settings: Settings | None = None,
        model: Any = None,
    ) -> Bench:
        task = task or self.task
        holder: list[Bench] = []

        def train(m: Any, spec: TrainSpec, label: str, recipe: str) -> RunRecord:
            t = _tracker(label)
            with t:
                task.run_training(m, t, spec)
            holder[0].runs.append((label, recipe, t.result))
            return t.result

        def track(label: str, recipe: str) -> Tracker:
            t = _tracker(label)
            holder[0].trackers.append((label, recipe, t))
            return t

        def score(m: Any, autocast: str | None) -> Scores:
            s = scores(m, task.x_test, task.y_test, noise_std=self.noise, autocast=autocast)
            holder[0].scored.append(s.accuracy)
            return s

        ctx = Context(
            task=task,
            baseline=self.model if model is None else model,
            baseline_run=self.run,
            baseline_scores=self.scores,
            tolerance=TOLERANCE,
            settings=settings or Settings(),
            train=train,
            track=track,
            score=score,
        )
        holder.append(Bench(ctx))
        return holder[0]


@pytest.fixture(scope="module")
def base() -> Baseline:
    """The trained width-8 baseline, shared by the tests (they must not change it)."""
    task, log = _make_task()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = make_cnn(WIDTH)
    with _tracker("baseline") as run:
        task.run_training(model, run, task.spec())
    noise = default_noise_std(task.x_test)
    s = scores(model, task.x_test, task.y_test, noise_std=noise)
    return Baseline(task, log, model, run.result, s, noise)


@pytest.fixture()
def untouched(base: Baseline) -> Iterator[None]:
    """Fails the test if the recipe changed the shared baseline's weights."""
    before = {k: v.clone() for k, v in base.model.state_dict().items()}
    yield
    after = base.model.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(after[k], before[k]) for k in before)


def _weighted(model: Any) -> list[Any]:
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _predict(model: Any, x: Any) -> Any:
    model.eval()
    with torch.inference_mode(), quiet_quantized():
        return model(x)


def _agreement(a: Any, b: Any, x: Any) -> float:
    return float((_predict(a, x).argmax(1) == _predict(b, x).argmax(1)).float().mean())


def _one(built: list[Built]) -> Built:
    assert len(built) == 1
    return built[0]


# -- prune -----------------------------------------------------------------------------------------


def test_prune_zeroes_half_the_weights_by_magnitude_and_makes_it_permanent(
    base: Baseline, untouched: None
) -> None:
    bench = base.bench()
    v = _one(recipes.magnitude_prune(bench.ctx))
    model = v.model
    layers = _weighted(model)
    assert len(layers) == 3
    for m in layers:
        names = {n for n, _ in m.named_parameters(recurse=False)}
        assert names == {"weight", "bias"}  # no weight_orig left
        assert not any("mask" in n for n, _ in m.named_buffers(recurse=False))
        assert not m._forward_pre_hooks
        assert isinstance(m.weight, nn.Parameter)
        assert int(torch.count_nonzero(m.bias)) == m.bias.numel()  # biases untouched
    w = torch.cat([m.weight.detach().flatten() for m in layers])
    b = torch.cat([m.weight.detach().flatten() for m in _weighted(base.model)])
    zero = w == 0
    assert abs(float(zero.float().mean()) - 0.5) < 0.002
    # global L1: the zeroed weights are the baseline's smallest in magnitude
    assert float(b[zero].abs().max()) <= float(b[~zero].abs().min())
    # fine-tuned with the masks on: the surviving weights moved
    assert not torch.equal(w[~zero], b[~zero])
    every = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert v.facts["sparsity"] == f"{float((every == 0).float().mean()):.1%}"
    assert v.prerequisite_j == pytest.approx(base.run.energy_j)
    assert [r.id for r in v.runs] == [bench.runs[0][2].id]
    assert v.runs[0].training is not None and v.runs[0].training.samples == LIMIT


# -- channels --------------------------------------------------------------------------------------


def test_channels_rebuilds_every_hidden_layer_at_half_width(
    base: Baseline, untouched: None
) -> None:
    v = _one(recipes.channel_prune(base.bench().ctx))
    model = v.model
    assert isinstance(model, nn.Sequential)
    convs = [m for m in model if isinstance(m, nn.Conv2d)]
    (linear,) = [m for m in model if isinstance(m, nn.Linear)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(1, 4), (4, 4)]
    assert (linear.in_features, linear.out_features) == (4 * 4 * 4, 10)
    before = sum(p.numel() for p in base.model.parameters())
    after = sum(p.numel() for p in model.parameters())
    assert after < before / 2
    assert v.facts["parameters"] == f"{after:,} of {before:,}"
    assert v.facts["layers"] == "4→4→10"
    assert _predict(model, base.task.x_test).shape == (len(base.task.y_test), 10)
    assert v.prerequisite_j == pytest.approx(base.run.energy_j)


# -- quantization ----------------------------------------------------------------------------------


def test_quantize_dynamic_makes_the_linear_int8_and_keeps_the_predictions(
    base: Baseline, untouched: None
) -> None:
    from torch.ao.nn.quantized import dynamic as nnqd

    bench = base.bench()
    v = _one(recipes.quantize_dynamic(bench.ctx))
    linears: list[Any] = [m for m in v.model.modules() if isinstance(m, nnqd.Linear)]
    (linear,) = linears
    assert linear.weight().dtype == torch.qint8
    assert not [m for m in v.model.modules() if type(m) is nn.Linear]
    assert all(c.weight.dtype == torch.float32 for c in v.model.modules() if type(c) is nn.Conv2d)
    assert v.cpu_only and v.runs == [] and bench.runs == []
    assert v.prerequisite_j == pytest.approx(base.run.energy_j)
    assert _agreement(v.model, base.model, base.task.x_test) >= 0.95


def _quantized_convs(model: Any) -> list[Any]:
    from torch.ao.nn import quantized as nnq

    return [m for m in model.modules() if isinstance(m, nnq.Conv2d)]


def _assert_int8_everywhere(model: Any) -> None:
    from torch.ao.nn import quantized as nnq

    convs = _quantized_convs(model)
    linears = [m for m in model.modules() if isinstance(m, nnq.Linear)]
    assert len(convs) == 2 and len(linears) == 1
    assert all(m.weight().dtype == torch.qint8 for m in [*convs, *linears])
    assert not [m for m in model.modules() if type(m) in (nn.Conv2d, nn.Linear)]


def test_quantize_static_calibrates_and_quantizes_convs_and_linear(
    base: Baseline, untouched: None
) -> None:
    bench = base.bench()
    v = _one(recipes.quantize_static(bench.ctx))
    _assert_int8_everywhere(v.model)
    assert v.cpu_only
    (label, _, tracker) = bench.trackers[0]
    assert label == "int8 static" and v.runs == [tracker.result]
    # 200 images in batches of 32: 7 calibration batches (≤ calibration_batches=8)
    assert tracker.result.training is not None
    assert (tracker.result.training.steps, tracker.result.training.samples) == (7, LIMIT)
    assert bench.runs == []  # calibration is not training
    assert _agreement(v.model, base.model, base.task.x_test) >= 0.8


def test_qat_fine_tunes_with_fake_quantization_then_converts_to_int8(
    base: Baseline, untouched: None
) -> None:
    start = len(base.log)
    bench = base.bench()
    v = _one(recipes.qat(bench.ctx))
    _assert_int8_everywhere(v.model)
    assert v.cpu_only
    [(label, recipe, run)] = bench.runs
    assert (label, recipe) == ("int8 QAT", "qat") and v.runs == [run]
    [trained] = base.log[start:]
    assert trained.spec.lr == pytest.approx(base.task.lr * 0.5)
    assert run.training is not None and run.training.samples == LIMIT
    assert _predict(v.model, base.task.x_test).shape == (len(base.task.y_test), 10)


def test_quantize_dynamic_without_a_linear_layer_is_an_error(base: Baseline) -> None:
    convs = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    with pytest.raises(ConfigError, match="no Linear"):
        recipes.quantize_dynamic(base.bench(model=convs).ctx)


# -- mixed precision -------------------------------------------------------------------------------


def test_mixed_precision_trains_and_serves_under_bf16_autocast(
    base: Baseline, untouched: None
) -> None:
    start = len(base.log)
    v = _one(recipes.mixed_precision(base.bench().ctx))
    [trained] = base.log[start:]
    assert trained.spec.autocast == "bfloat16"
    assert trained.dtypes == {"bfloat16"}  # the user's loop saw bf16 outputs
    assert base.log[0].dtypes == {"float32"}  # the baseline did not
    assert v.facts["compute"] == "bfloat16" and v.autocast == "bfloat16"
    assert v.name == "bf16 autocast"
    assert all(p.dtype == torch.float32 for p in v.model.parameters())  # master weights


def test_mixed_precision_refuses_float16_on_a_cpu(base: Baseline) -> None:
    bench = base.bench(settings=Settings(precision="float16"))
    with pytest.raises(ConfigError, match="float16 autocast is for CUDA"):
        recipes.mixed_precision(bench.ctx)
    assert bench.runs == []


# -- distillation ----------------------------------------------------------------------------------


def test_distill_trains_a_smaller_student_through_the_teacher_and_one_from_scratch(
    base: Baseline, untouched: None
) -> None:
    calls = []
    handle = base.model.register_forward_hook(lambda *_: calls.append(1))
    start = len(base.log)
    bench = base.bench()
    try:
        distilled, scratch = recipes.distill(bench.ctx)
    finally:
        handle.remove()
    assert (distilled.name, scratch.name) == ("student distilled", "student scratch")
    assert distilled.recipe == scratch.recipe == "distill"
    teacher_params = sum(p.numel() for p in base.model.parameters())
    for student in (distilled.model, scratch.model):
        assert sum(p.numel() for p in student.parameters()) < teacher_params / 2
        assert [c.out_channels for c in student if isinstance(c, nn.Conv2d)] == [4, 4]
    (d_run, s_run) = (r for _, _, r in bench.runs)
    assert distilled.runs == [d_run] and scratch.runs == [s_run]
    # the teacher ran once per batch of the distilled run, never for the scratch one
    assert d_run.training is not None and len(calls) == d_run.training.steps == 7
    d_spec, s_spec = (t.spec for t in base.log[start:])
    assert d_spec.loss is not cross_entropy and s_spec.loss is cross_entropy
    assert distilled.prerequisite_j == pytest.approx(base.run.energy_j)
    assert scratch.prerequisite_j == 0


class ConstantTeacher(nn.Module):
    """Always the same logits, whatever the input: class ``favourite`` by far."""

    def __init__(self, favourite: int) -> None:
        super().__init__()
        logits = torch.zeros(10)
        logits[favourite] = 20.0
        self.register_buffer("logits", logits)

    def forward(self, x: Any) -> Any:
        logits: Any = self.logits
        return logits.expand(len(x), 10)


@pytest.mark.parametrize("favourite", [3, 7])
def test_distill_with_alpha_one_drives_the_student_to_the_teachers_soft_targets(
    base: Baseline, favourite: int
) -> None:
    task, _ = _make_task(epochs=3, lr=1e-2)
    teacher = ConstantTeacher(favourite)
    bench = base.bench(task=task, settings=Settings(alpha=1.0), model=teacher)
    distilled, _ = recipes.distill(bench.ctx)
    predicted = _predict(distilled.model, task.x_test).argmax(1)
    # the labels (a tenth of them each class) played no part: the student learnt the
    # teacher's one-sided soft targets
    assert float((predicted == favourite).float().mean()) > 0.95


# -- transfer --------------------------------------------------------------------------------------


def _backbone(model: Any) -> dict[str, Any]:
    last = max(i for i, m in enumerate(model) if isinstance(m, nn.Linear))
    return {k: v for k, v in model.state_dict().items() if not k.startswith(f"{last}.")}


def test_transfer_retrains_only_the_head_of_a_pretrained_model(
    base: Baseline, untouched: None
) -> None:
    task = dataclasses.replace(base.task, pretrained=base.model, pretrained_j=123.0)
    start = len(base.log)
    v = _one(recipes.transfer(base.bench(task=task).ctx))
    model = v.model
    assert model is not base.model
    source, mine = _backbone(base.model), _backbone(model)
    assert source.keys() == mine.keys() and len(mine) == 4
    assert all(torch.equal(source[k], mine[k]) for k in source)
    assert not torch.equal(model[6].weight, base.model[6].weight)
    assert v.prerequisite_j == 123.0
    assert all(p.requires_grad for p in model.parameters())
    total = sum(p.numel() for p in model.parameters())
    assert v.facts["trainable"] == f"{128 * 10 + 10:,} of {total:,}"
    [trained] = base.log[start:]
    assert trained.spec.epochs == task.epochs


def test_transfer_counts_the_pretraining_run_as_its_prerequisite(base: Baseline) -> None:
    made: list[Any] = []

    def pretrain(run: Tracker) -> Any:
        assert run.running
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(5)
            model = make_cnn(WIDTH)
        fit(model, run, base.task.spec(), base.task)
        made.append((model, {k: v.clone() for k, v in model.state_dict().items()}))
        return model

    task = dataclasses.replace(base.task, pretrain=pretrain)
    bench = base.bench(task=task)
    v = _one(recipes.transfer(bench.ctx))
    [(label, recipe, tracker)] = bench.trackers
    assert (label, recipe) == ("transfer source", "transfer")
    assert tracker.result.training is not None and tracker.result.training.samples == LIMIT
    assert v.prerequisite_j == tracker.result.energy_j > 0
    [(source, snapshot)] = made
    assert all(torch.equal(source.state_dict()[k], snapshot[k]) for k in snapshot)  # a copy
    mine = _backbone(v.model)
    assert all(torch.equal(snapshot[k], mine[k]) for k in mine)
    assert [r for _, _, r in bench.runs] == v.runs


# -- dedupe ----------------------------------------------------------------------------------------


def _with_duplicates() -> tuple[Any, Any, list[int]]:
    """60 digits plus: two exact copies, a near copy (after its original), a near copy
    under another label, and an exact copy under another label. Returns x, y and the
    indices that must be kept."""
    data = digits_data(0)
    x, y = data.x_train[:60].clone(), data.y_train[:60].clone()
    jitter = torch.full_like(x[0], 1e-3)
    extra_x = [x[3], x[7], x[10] + jitter, x[20] + jitter, x[25]]
    extra_y = [y[3], y[7], y[10], (y[20] + 1) % 10, (y[25] + 1) % 10]
    x = torch.cat([x, torch.stack(extra_x)])
    y = torch.cat([y, torch.stack(extra_y)])
    keep = [*range(60), 63, 64]
    return x, y, keep


def test_duplicates_finds_exact_and_near_copies_and_keeps_the_first() -> None:
    data = digits_data(0)
    clean_x, clean_y = data.x_train[:60], data.y_train[:60]
    assert duplicates(clean_x, clean_y, near=0.25, near_max=20_000) == (list(range(60)), 0, 0)
    x, y, keep = _with_duplicates()
    assert duplicates(x, y, near=0.25, near_max=20_000) == (keep, 2, 1)
    # the first in data order survives: a near copy placed first drops the original
    xs = torch.cat([x[10:11] + 1e-3, x[:60]])
    ys = torch.cat([y[10:11], y[:60]])
    kept, exact, near = duplicates(xs, ys, near=0.25, near_max=20_000)
    assert (exact, near) == (0, 1) and 0 in kept and 11 not in kept and len(kept) == 60
    # above near_max only the exact duplicates are looked for
    assert duplicates(x, y, near=0.25, near_max=10) == ([*range(60), 62, 63, 64], 2, 0)
    assert duplicates(x, y, near=0.0, near_max=20_000)[1:] == (2, 0)


def test_dedupe_retrains_on_the_kept_samples_only(base: Baseline) -> None:
    x, y, keep = _with_duplicates()
    task, log = _make_task(x_train=x, y_train=y)
    bench = base.bench(task=task)
    v = _one(recipes.dedupe(bench.ctx))
    [trained] = log
    assert trained.spec.indices.tolist() == keep
    (scan, run) = v.runs
    assert scan is bench.trackers[0][2].result and run is bench.runs[0][2]
    assert run.training is not None and run.training.samples == len(keep)
    assert v.facts["samples"] == f"{len(keep)} of {len(y)}"
    assert v.notes == ["2 exact and 1 near duplicate(s) dropped (4.6%)"]


def test_dedupe_on_clean_data_has_nothing_to_do(base: Baseline) -> None:
    bench = base.bench()
    with pytest.raises(NoVariant, match=f"no exact or near duplicates among the {LIMIT}"):
        recipes.dedupe(bench.ctx)
    assert bench.runs == []  # nothing retrained


# -- subset ----------------------------------------------------------------------------------------


def test_stratified_subset_keeps_the_fraction_of_every_class_deterministically() -> None:
    y = torch.tensor([0] * 10 + [1] * 7 + [2] * 1 + [3] * 4)
    chosen = stratified_subset(y, 0.5)
    assert chosen == sorted(chosen) and len(set(chosen)) == len(chosen)
    per_class = {c: sum(1 for i in chosen if int(y[i]) == c) for c in range(4)}
    assert per_class == {0: 5, 1: round(3.5), 2: 1, 3: 2}
    assert stratified_subset(y, 0.5) == chosen
    assert stratified_subset(y, 0.5, seed=1) != chosen
    tiny = stratified_subset(y, 0.01)
    assert sorted(int(y[i]) for i in tiny) == [0, 1, 2, 3]  # at least one per class


def test_subset_trains_on_the_stratified_half(base: Baseline) -> None:
    start = len(base.log)
    bench = base.bench()
    v = _one(recipes.subset(bench.ctx))
    [trained] = base.log[start:]
    keep = stratified_subset(base.task.y_train, 0.5)
    assert trained.spec.indices.tolist() == keep
    [(label, recipe, run)] = bench.runs
    assert (label, recipe, v.name) == ("subset 50%", "subset", "subset 50%")
    assert run.training is not None and run.training.samples == len(keep)
    assert abs(len(keep) - LIMIT / 2) <= 5
    assert v.facts["samples"] == f"{len(keep)} of {LIMIT}"


# -- batch size ------------------------------------------------------------------------------------


def test_batch_size_picks_from_the_candidates_and_charges_the_search(base: Baseline) -> None:
    start = len(base.log)
    bench = base.bench()
    v = _one(recipes.batch_size(bench.ctx))
    sizes = [t.spec.batch_size for t in base.log[start:]]
    assert sizes == [16, 64, 128, 200]  # ½×, 2×, 4×, 8× of 32, capped at the 200 samples
    energies = [r.energy_j for _, _, r in bench.runs]
    accuracies = bench.scored
    assert len(energies) == len(accuracies) == 4
    samples = LIMIT * base.task.epochs
    spj = [samples / e for e in energies]
    floor = base.scores.accuracy - TOLERANCE - 1e-9
    within = [i for i in range(4) if accuracies[i] >= floor]
    best = (
        max(within, key=lambda i: spj[i]) if within else max(range(4), key=lambda i: accuracies[i])
    )
    assert v.name == f"batch {sizes[best]}" and v.facts["batch_size"] == str(sizes[best])
    assert v.runs == [bench.runs[best][2]]
    others = sum(e for i, e in enumerate(energies) if i != best)
    assert v.prerequisite_j == pytest.approx(others)
    line = v.notes[0]
    assert line.startswith("samples per joule by batch size: 16: ")
    base_spj = samples / base.run.energy_j
    assert f"32: {base_spj:.0f} samples/J at {base.scores.accuracy * 100:.1f}%" in line
    for size, rate, acc in zip(sizes, spj, accuracies, strict=True):
        assert f"{size}: {rate:.0f} samples/J at {acc * 100:.1f}%" in line


def test_batch_size_needs_a_size_besides_the_baselines(base: Baseline) -> None:
    bench = base.bench(settings=Settings(batch_factors=(1.0,)))
    with pytest.raises(ConfigError, match="no batch size to try"):
        recipes.batch_size(bench.ctx)


# -- the data and batch-size recipes through optimize() --------------------------------------------


@pytest.fixture(scope="module")
def data_study(tmp_path_factory: pytest.TempPathFactory) -> OptimizeResult:
    task, _ = _make_task()
    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("home")
        mp.setenv("XDG_DATA_HOME", str(home / "data"))
        mp.setenv("XDG_CONFIG_HOME", str(home / "config"))
        return optimize(
            task,
            "data,batch-size",
            tolerance=TOLERANCE,
            tracker_options={"sensors": [SENSOR], "zone": "FRA", "interval_s": 0.1},
            store=False,
            repeats=1,
            window_s=0.05,
        )


def test_optimize_turns_clean_data_for_dedupe_into_a_note(data_study: OptimizeResult) -> None:
    assert [v.recipe for v in data_study.variants] == ["baseline", "subset", "batch-size"]
    assert data_study.failed == ()
    [note] = data_study.notes
    assert note.startswith(f"dedupe: no exact or near duplicates among the {LIMIT} training")


def test_optimize_reports_the_batch_search(data_study: OptimizeResult) -> None:
    v = data_study.variants[2]
    assert v.facts["batch_size"] in {"16", "64", "128", "200"}
    assert v.name == f"batch {v.facts['batch_size']}"
    assert re.fullmatch(
        r"samples per joule by batch size: "
        r"16: \d+ samples/J at [\d.]+%, 32: .*, 64: .*, 128: .*, 200: \d+ samples/J at [\d.]+%",
        v.notes[0],
    )
    assert v.prerequisite_j > 0 and v.train_energy_j > 0
    assert v.train_total_j == v.train_energy_j + v.prerequisite_j
    subset = data_study.variants[1]
    kept = len(stratified_subset(digits_data(0).y_train[:LIMIT], 0.5))
    assert subset.prerequisite_j == 0 and subset.facts["samples"] == f"{kept} of {LIMIT}"


# -- names and settings ----------------------------------------------------------------------------


def test_resolve_recipes_expands_groups_keeps_order_and_drops_repeats() -> None:
    assert resolve_recipes(None) == ALL == tuple(RECIPES)
    assert resolve_recipes("all") == ALL
    assert resolve_recipes("prune, quantize") == (
        "prune",
        "quantize-dynamic",
        "quantize-static",
        "qat",
    )
    assert resolve_recipes(["QAT", "quantize", "qat", " subset "]) == (
        "qat",
        "quantize-dynamic",
        "quantize-static",
        "subset",
    )
    assert resolve_recipes("data,pruning,") == ("dedupe", "subset", "prune", "channels")
    assert set(GROUPS["all"]) == set(RECIPES)


@pytest.mark.parametrize("names", ["", " , ", []])
def test_resolve_recipes_needs_one(names: Any) -> None:
    with pytest.raises(ConfigError, match="no recipe given"):
        resolve_recipes(names)


def test_resolve_recipes_names_the_unknown_and_lists_the_known() -> None:
    with pytest.raises(ConfigError) as err:
        resolve_recipes("prune,sparsify")
    text = str(err.value)
    assert "'sparsify'" in text
    for known in [*RECIPES, *GROUPS]:
        assert known in text


def test_default_settings_are_the_documented_ones() -> None:
    s = Settings()
    assert (s.prune_amount, s.channel_amount, s.subset_fraction) == (0.5, 0.5, 0.5)
    assert (s.temperature, s.alpha, s.batch_factors) == (4.0, 0.7, (0.5, 2.0, 4.0, 8.0))


@pytest.mark.parametrize(
    "bad",
    [
        {"prune_amount": 0},
        {"prune_amount": 1},
        {"prune_amount": 1.5},
        {"prune_amount": "0.5"},
        {"prune_amount": math.nan},
        {"channel_amount": 0.0},
        {"subset_fraction": 1.0},
        {"finetune_fraction": 0},
        {"finetune_fraction": 4.5},
        {"finetune_fraction": math.nan},
        {"alpha": -0.1},
        {"alpha": 1.1},
        {"temperature": 0},
        {"temperature": math.nan},
        {"precision": "bf16"},
        {"precision": "int8"},
        {"batch_factors": ()},
        {"batch_factors": (0.5, 0.0)},
        {"batch_factors": (2.0, -1.0)},
        # not caught by Settings today (see the report): non-finite factors reach
        # round() in the batch-size recipe, no calibration batch reaches convert_fx,
        # and a string fraction is compared with a number (TypeError)
        {"batch_factors": (math.nan,)},
        {"batch_factors": (math.inf,)},
        {"calibration_batches": 0},
        {"finetune_fraction": "0.25"},
    ],
    ids=lambda d: "-".join(f"{k}={v!r}" for k, v in d.items()),
)
def test_settings_reject_bad_values(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        Settings(**bad)


# -- review fixes: transfer, distill, batch-size fallback ------------------------------------------


def _bn_net() -> Any:
    """A conv with BatchNorm2d, then a Linear head to the 10 digits."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 8 * 8, 10),
    )


def test_transfer_keeps_the_frozen_backbones_batchnorm_statistics(base: Baseline) -> None:
    task, _ = _make_task(make_model=_bn_net)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        source = _bn_net()
    with torch.no_grad():  # statistics that training on the digits would certainly move
        source[1].running_mean.copy_(torch.tensor([0.1, -0.2, 0.3, 0.05]))
        source[1].running_var.copy_(torch.tensor([0.5, 1.5, 2.0, 0.8]))
        source[1].num_batches_tracked.fill_(7)
    snapshot = {k: v.clone() for k, v in source.state_dict().items()}
    bench = base.bench(task=task, model=source)
    v = _one(recipes.transfer(bench.ctx))
    [(_, _, run)] = bench.runs
    assert run.training is not None and run.training.samples == LIMIT  # it did train
    bn = v.model[1]
    assert isinstance(bn, nn.BatchNorm2d) and bn is not source[1]
    for key in ("running_mean", "running_var", "num_batches_tracked", "weight", "bias"):
        assert torch.equal(getattr(bn, key), snapshot[f"1.{key}"]), key
    # the source model itself is untouched
    assert all(torch.equal(source.state_dict()[k], snapshot[k]) for k in snapshot)
    assert "normalisation statistics included" in v.description
    # the context manager removed its per-instance train() override
    norms = [m for m in v.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert norms and all("train" not in vars(m) for m in norms)
    v.model.train()
    assert bn.training and v.model.training
    v.model.eval()
    assert not bn.training


def test_transfer_gives_a_pretrained_model_a_head_of_the_tasks_classes(
    base: Baseline, untouched: None
) -> None:
    five = copy.deepcopy(base.model)
    five[6] = nn.Linear(4 * 4 * WIDTH, 5)  # pretrained on a 5-class task
    task = dataclasses.replace(base.task, pretrained=five, pretrained_j=50.0)
    bench = base.bench(task=task)
    v = _one(recipes.transfer(bench.ctx))  # no IndexError on labels 5..9
    head = v.model[6]
    assert (head.in_features, head.out_features) == (4 * 4 * WIDTH, 10)
    assert five[6].out_features == 5  # the pretrained model is not changed
    source, mine = _backbone(five), _backbone(v.model)
    assert source.keys() == mine.keys()
    assert all(torch.equal(source[k], mine[k]) for k in source)
    [(_, _, run)] = bench.runs
    assert run.training is not None and run.training.samples == LIMIT
    assert "a new last Linear to 10 classes" in v.description
    total = sum(p.numel() for p in v.model.parameters())
    assert v.facts["trainable"] == f"{4 * 4 * WIDTH * 10 + 10:,} of {total:,}"
    assert v.prerequisite_j == 50.0
    assert _predict(v.model, base.task.x_test).shape == (len(base.task.y_test), 10)


class _Unrolled(nn.Module):
    """Not an nn.Sequential: no default half-width student can be cut from it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.head = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x: Any) -> Any:
        return self.head(torch.relu(self.conv(x)).flatten(1))


def test_distill_of_a_model_that_is_not_sequential_needs_a_make_student(base: Baseline) -> None:
    task, _ = _make_task(make_model=_Unrolled)
    bench = base.bench(task=task)
    with pytest.raises(ConfigError, match=r"nn\.Sequential model; give the task a make_student"):
        recipes.distill(bench.ctx)
    assert bench.runs == []  # refused before any training
    # with a student given, the same model distils
    small = dataclasses.replace(
        task, make_student=lambda: nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    )
    bench = base.bench(task=small)
    distilled, scratch = recipes.distill(bench.ctx)
    assert "the task's student" in distilled.description
    assert [type(m) for m in scratch.model] == [nn.Flatten, nn.Linear]
    assert len(bench.runs) == 2


def test_batch_size_falls_back_to_the_most_accurate_candidate(base: Baseline) -> None:
    bench = base.bench(settings=Settings(batch_factors=(0.5, 2.0)))
    low = iter([0.02, 0.05])  # both far below the baseline's accuracy − tolerance
    assert base.scores.accuracy - TOLERANCE > 0.05

    def score(model: Any, autocast: str | None) -> Scores:
        acc = next(low)
        return Scores(accuracy=acc, ece=0.5, noise_accuracy=acc)

    bench.ctx.score = score
    v = _one(recipes.batch_size(bench.ctx))
    [(l16, _, r16), (l64, _, r64)] = bench.runs
    assert (l16, l64) == ("batch 16", "batch 64")
    assert v.name == "batch 64" and v.facts["batch_size"] == "64"  # the more accurate
    assert v.runs == [r64] and v.model is not base.model
    assert v.prerequisite_j == pytest.approx(r16.energy_j)
    assert "chosen by no candidate within the tolerance: the most accurate" in v.description
    assert "within the tolerance, of" not in v.description
    assert v.notes[-1] == "no other batch size kept the accuracy within the tolerance"
    assert "64: " in v.notes[0] and "at 5.0%" in v.notes[0]
