"""``wattwise.optimize``: train the baseline, apply the recipes, measure every variant the
same way, and recommend.

Each variant gets tracked runs in the store, all tagged ``optimize=<name>``,
``variant=<name>``, ``recipe=<recipe>`` and, after the baseline, ``baseline_run=<id>``:

* its training run(s), stage ``train`` (none for post-training quantization without
  calibration);
* one evaluation run, stage ``eval``: a ``score`` phase carrying ``accuracy``, ``ece``
  and ``noise_accuracy`` as metrics.

Once every recipe has built its models, one more run (stage ``inference``) measures all
of them, and an identical copy of the baseline as an A/A control, side by side in
interleaved rounds; the study's noise floor per batch size is the larger of the two
copies' difference and half the relative range of either one's windows
(:func:`wattwise.optimizing.measure.measure_side_by_side`), one phase per window named
``<variant> b<batch> #<round>``. Every model is therefore kept in memory until the end:
fine for the small models this is meant for; measure large ones a few recipes at a time.
Scores are computed on the held-out set; quantized models run on the CPU.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from wattwise.exceptions import ConfigError, WattwiseError
from wattwise.optimizing.facts import model_facts
from wattwise.optimizing.measure import (
    Subject,
    check_batch_sizes,
    measure_side_by_side,
    quiet_quantized,
)
from wattwise.optimizing.metrics import Scores, default_noise_std, scores
from wattwise.optimizing.recipes import (
    RECIPES,
    Built,
    Context,
    NoVariant,
    Settings,
    resolve_recipes,
)
from wattwise.optimizing.result import (
    OBJECTIVES,
    InferenceFigures,
    Objective,
    OptimizeResult,
    Variant,
    choose,
)

if TYPE_CHECKING:
    from wattwise.optimizing.task import OptimizeTask, TrainSpec
    from wattwise.record import RunRecord
    from wattwise.tracking import Tracker

__all__ = ["DEFAULT_BATCH_SIZES", "optimize"]

DEFAULT_BATCH_SIZES = (1, 256)
"""Inference batch sizes: one sample (latency) and a large batch (throughput)."""
CONTROL = "baseline (A/A control)"
"""The label of the baseline's copy measured beside every variant (the noise floor)."""


def optimize(
    task: OptimizeTask,
    recipes: str | Sequence[str] | None = None,
    *,
    tolerance: float = 0.01,
    objective: Objective = "inference",
    name: str | None = None,
    settings: Settings | None = None,
    batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
    repeats: int = 3,
    window_s: float = 0.5,
    noise_std: float | None = None,
    store: Any = None,
    tracker_options: Mapping[str, Any] | None = None,
    on_error: Literal["record", "raise"] = "record",
    progress: Callable[[str], None] | None = None,
) -> OptimizeResult:
    """Measure the task's baseline and what each recipe makes of it, side by side.

    Args:
        task: the model factory, data and training settings.
        recipes: recipe names or groups (``"prune,quantize"``; default all, see
            :data:`wattwise.optimizing.recipes.RECIPES`).
        tolerance: accuracy the recommendation may lose against the baseline (0.01 =
            1 point).
        objective: ``inference`` (J per 1,000 samples at the largest batch) or
            ``training`` (training energy, prerequisites included) for the
            recommendation.
        name: the study's name (run names and the ``optimize`` tag).
        settings: the recipes' knobs.
        batch_sizes: inference batch sizes to measure.
        repeats, window_s: timed windows per batch size and their length (s).
        noise_std: noise of the corruption score (default half the held-out inputs'
            standard deviation).
        store: where the runs go (as ``Tracker(store=...)``); opened once.
        tracker_options: keyword arguments for every Tracker (``zone``, ``sensors``...).
        on_error: ``record`` a failing recipe as a failed variant, or ``raise``.
        progress: called with a short line as each variant is scored and each inference
            round ends.

    Raises:
        ConfigError: bad arguments.
        WattwiseError: the baseline failed to train or score (nothing to compare with),
            or a store or sensor failed on start.
    """
    chosen = resolve_recipes(recipes)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float):
        raise ConfigError(f"tolerance must be a number, not {tolerance!r}")
    if not math.isfinite(tolerance) or not 0 <= tolerance < 1:
        raise ConfigError(f"tolerance must lie in 0..1 (0.01 = 1 point), not {tolerance!r}")
    if objective not in OBJECTIVES:
        raise ConfigError(f"objective must be one of {', '.join(OBJECTIVES)}, not {objective!r}")
    if on_error not in ("record", "raise"):
        raise ConfigError(f"on_error must be 'record' or 'raise', not {on_error!r}")
    sizes = check_batch_sizes(batch_sizes)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ConfigError(f"repeats must be an integer ≥ 1, not {repeats!r}")
    if not (isinstance(window_s, int | float) and 0 < window_s <= 60):
        raise ConfigError(f"window_s must lie in (0, 60] seconds, not {window_s!r}")
    study = name if name is not None else f"optimize {task.name}"
    if not isinstance(study, str) or not study.strip():
        raise ConfigError("an optimize study needs a non-empty name")
    settings = settings or Settings()
    if noise_std is not None and (
        isinstance(noise_std, bool) or not isinstance(noise_std, int | float)
    ):
        raise ConfigError(f"noise_std must be a number, not {noise_std!r}")
    noise = default_noise_std(task.x_test) if noise_std is None else float(noise_std)
    if not math.isfinite(noise) or noise < 0:
        raise ConfigError(f"noise_std must be a finite number ≥ 0, not {noise_std!r}")
    options = dict(tracker_options or {})
    if store is not None and "store" in options:
        raise ConfigError("give the store once: as store= or in tracker_options, not both")
    target = options.pop("store", store)
    user_tags = {str(k): str(v) for k, v in dict(options.pop("tags", None) or {}).items()}
    options.setdefault("live", "off")

    from wattwise.tracking import Tracker

    trackers: list[Tracker] = []
    links: dict[str, str] = {}

    def tracker(label: str, recipe: str, stage: str) -> Tracker:
        opened = next((t.store for t in trackers if t.store is not None), None)
        tags = {
            **user_tags,
            "optimize": study,
            "variant": label,
            "recipe": recipe,
            "stage": stage,
            **links,
        }
        t = Tracker(
            f"{study} · {label}" + (" eval" if stage == "eval" else ""),
            tags=tags,
            store=opened if opened is not None else target,
            **options,
        )
        trackers.append(t)
        return t

    def train(model: Any, spec: TrainSpec, label: str, recipe: str) -> RunRecord:
        t = tracker(label, recipe, "train")
        with t:
            task.run_training(model, t, spec)
        return t.result

    def score(model: Any, autocast: str | None, cpu: bool = False) -> Scores:
        x, y = task.x_test, task.y_test
        x = x.cpu() if cpu else x.to(_device(model))
        with quiet_quantized():
            return scores(model, x, y.cpu(), noise_std=noise, autocast=autocast)

    def scored(built: Built) -> tuple[Built, Scores, RunRecord]:
        t = tracker(built.name, built.recipe, "eval")
        with t:
            with t.phase("score", kind="score") as handle:
                s = score(built.model, built.autocast, built.cpu_only)
                handle.log(accuracy=s.accuracy, ece=s.ece, diverged=s.diverged)
                if s.noise_accuracy is not None:
                    handle.log(noise_accuracy=s.noise_accuracy)
            t.tags.update(accuracy=f"{s.accuracy:.4f}", ece=f"{s.ece:.4f}")
        if s.diverged:
            built.notes.append(
                f"{s.diverged} of {len(task.y_test)} held-out outputs were not finite "
                "(diverged): counted as wrong, with no confidence"
            )
        if built.cpu_only and _device(base_model).type != "cpu":
            built.notes.append(
                "quantized models run on the CPU only: its inference is measured on the CPU, "
                f"the baseline's on {_device(base_model).type}"
            )
        if progress is not None:
            progress(f"{built.name}: accuracy {s.accuracy:.1%}")
        return built, s, t.result

    done: list[tuple[Built, Scores, RunRecord]] = []
    failed: list[tuple[int, Variant]] = []
    notes: list[str] = []
    inference_run: str | None = None
    figures: list[tuple[InferenceFigures, ...]] = []
    noise_floor: dict[int, float] = {}
    try:
        try:
            _warm_up(task)
            base_model = _fresh(task)
            base_run = train(base_model, task.spec(), "baseline", "baseline")
            base_scores = score(base_model, None)
        except WattwiseError:
            raise
        except Exception as exc:
            raise WattwiseError(f"the baseline failed: {_err(exc)}") from exc
        links["baseline_run"] = base_run.id
        base_built = Built(
            "baseline",
            "baseline",
            base_model,
            f"the task's model trained from scratch ({task.epochs} epochs, batch "
            f"{task.batch_size}, lr {task.lr:g})",
            runs=[base_run],
        )
        done.append(scored(base_built))
        ctx = Context(
            task=task,
            baseline=base_model,
            baseline_run=base_run,
            baseline_scores=base_scores,
            tolerance=float(tolerance),
            settings=settings,
            train=train,
            track=lambda label, recipe: tracker(label, recipe, "train"),
            score=lambda m, autocast: score(m, autocast),
        )
        for recipe in chosen:
            try:
                built_list = RECIPES[recipe](ctx)
                base_model.eval()
                done.extend(scored(b) for b in built_list)
            except NoVariant as exc:
                notes.append(f"{recipe}: {exc}")
                if progress is not None:
                    progress(f"{recipe}: {exc}")
            except Exception as exc:
                if on_error == "raise":
                    raise
                failed.append((len(done), _failed(recipe, exc)))
                if progress is not None:
                    progress(f"{recipe} failed: {_err(exc)}")
        bench = tracker("inference", "all", "inference")
        subjects = [
            Subject(
                b.name,
                b.model,
                task.x_test.cpu() if b.cpu_only else task.x_test.to(_device(b.model)),
                b.autocast,
            )
            for b, _, _ in done
        ]
        # an A/A control: the baseline's identical copy, measured like every variant
        control = copy.deepcopy(base_model)
        subjects.append(Subject(CONTROL, control, subjects[0].x, None))
        try:
            figures = _measure(
                subjects,
                bench,
                batch_sizes=sizes,
                repeats=repeats,
                window_s=window_s,
                on_round=(
                    None
                    if progress is None
                    else lambda r, n: progress(f"inference round {r}/{n} measured")
                ),
            )
        except WattwiseError:
            raise
        except Exception as exc:  # a model that fails at a batch size, out of memory
            raise WattwiseError(
                f"inference measurement failed ({_err(exc)}); the training and score runs "
                "are in the store"
            ) from exc
        inference_run = bench.result.id
        inference_method = bench.result.footprint.method
        control_figures = figures.pop()
        noise_floor = {
            a.batch_size: _noise(a, c) for a, c in zip(figures[0], control_figures, strict=True)
        }
    finally:
        where = "memory"
        owner = next((t for t in trackers if t.store is not None), None)
        if owner is not None:
            where = str(getattr(owner.store, "url", "memory"))
            owner.close()
    variants = [
        _variant(b, s, r, f, inference_method) for (b, s, r), f in zip(done, figures, strict=True)
    ]
    for position, variant in reversed(failed):
        variants.insert(position, variant)
    variants = [_with_comparisons(v, variants, noise_floor) for v in variants]
    return choose(
        study,
        variants,
        tolerance=float(tolerance),
        objective=objective,
        noise_std=noise,
        store=where,
        notes=notes,
        inference_run_id=inference_run,
        noise=noise_floor,
    )


def _variant(
    built: Built,
    s: Scores,
    eval_run: RunRecord,
    figures: tuple[InferenceFigures, ...],
    inference_method: str,
) -> Variant:
    facts = model_facts(built.model)
    shown = dict(built.facts)
    shown.setdefault("weights", facts.weights_text())
    if facts.sparsity >= 0.05:  # int8 rounding zeros a few weights; that is not pruning
        shown.setdefault("sparsity", f"{facts.sparsity:.1%}")
    methods = {r.footprint.method for r in built.runs} | {inference_method}
    return Variant(
        name=built.name,
        recipe=built.recipe,
        description=built.description,
        accuracy=s.accuracy,
        ece=s.ece,
        noise_accuracy=s.noise_accuracy,
        train_energy_j=sum(r.energy_j for r in built.runs),
        train_co2_g=sum(r.co2_g for r in built.runs),
        prerequisite_j=built.prerequisite_j,
        inference=figures,
        size_bytes=facts.size_bytes,
        parameters=facts.parameters,
        nonzero_parameters=facts.nonzero,
        facts=shown,
        notes=tuple(built.notes),
        train_run_ids=tuple(r.id for r in built.runs),
        eval_run_id=eval_run.id,
        method=methods.pop() if len(methods) == 1 else "mixed",
    )


def _measure(subjects: list[Subject], bench: Tracker, **kwargs: Any) -> Any:
    with bench:
        return measure_side_by_side(subjects, bench, **kwargs)


def _warm_up(task: OptimizeTask) -> None:
    """One untracked forward pass, backward pass and Adam step of a throwaway model on
    one batch, so the baseline's run does not carry PyTorch's one-time start-up work
    (the optimizer's first step sets up ``torch._dynamo``, seconds of CPU; kernel
    selection; allocator growth) that every later variant is spared."""
    import torch

    model = _fresh(task)
    device = _device(model)
    x = task.x_train[: task.batch_size].to(device)
    y = task.y_train[: task.batch_size].to(device)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=task.lr)
    loss: Any = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()  # the first optimizer step imports and sets up torch._dynamo (seconds)


def _fresh(task: OptimizeTask) -> Any:
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return task.make_model()


def _device(model: Any) -> Any:
    import torch

    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _failed(recipe: str, exc: BaseException) -> Variant:
    return Variant.failed(recipe, recipe, _err(exc))


def _err(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _ratio(a: float, b: float) -> str:
    if b <= 0 or a <= 0:
        return "n/a"
    return f"×{a / b:.2f}"


def _noise(base: InferenceFigures, control: InferenceFigures) -> float:
    """The noise floor at one batch size: the larger of the relative difference between
    the baseline's and its identical copy's medians, and half the relative range of
    either one's windows (what one window can move by)."""
    mean = (base.energy_per_1000_j + control.energy_per_1000_j) / 2
    if mean <= 0:
        return 0.0
    between = abs(base.energy_per_1000_j - control.energy_per_1000_j) / mean
    return max(between, base.spread / 2, control.spread / 2)


def _with_comparisons(
    v: Variant, all_variants: Sequence[Variant], noise: Mapping[int, float]
) -> Variant:
    """Add the measured statements that compare ``v`` with the baseline (and, for a
    distilled student, with the same student from scratch)."""
    from dataclasses import replace

    base = all_variants[0]
    if v is base or not v.ok or not base.ok:
        return v
    notes = list(v.notes)
    bl, vl = base.large, v.large
    bs, vs = base.single, v.single
    assert bl is not None and vl is not None and bs is not None and vs is not None
    if v.recipe == "prune":
        r = vl.energy_per_1000_j / bl.energy_per_1000_j if bl.energy_per_1000_j > 0 else math.nan
        floor = noise.get(vl.batch_size, 0.0)
        if abs(1.0 - r) <= floor:
            verdict = (
                f"within the measurement noise ({floor:.0%}): dense kernels multiply the "
                "zeros too, so unstructured sparsity does not make this model faster"
            )
        elif r < 1.0:
            verdict = f"beyond the measurement noise ({floor:.0%}): faster here"
        else:
            verdict = f"beyond the measurement noise ({floor:.0%}): slower here"
        notes.append(
            f"{v.sparsity:.0%} of the parameters are zero; inference used "
            f"{_ratio(vl.energy_per_1000_j, bl.energy_per_1000_j)} the baseline's energy at "
            f"batch {vl.batch_size} and {_ratio(vs.latency_ms, bs.latency_ms)} its latency at "
            f"batch {vs.batch_size}, {verdict}; the file is "
            f"{_ratio(v.size_bytes, base.size_bytes)} the size (zeros are stored)"
        )
    if v.recipe in ("quantize-dynamic", "quantize-static", "qat", "channels"):
        notes.append(
            f"size {_ratio(v.size_bytes, base.size_bytes)}, inference energy "
            f"{_ratio(vl.energy_per_1000_j, bl.energy_per_1000_j)} at batch {vl.batch_size} "
            f"and {_ratio(vs.energy_per_1000_j, bs.energy_per_1000_j)} at batch "
            f"{vs.batch_size} of the baseline's (noise floor "
            f"{noise.get(vl.batch_size, 0.0):.0%} and {noise.get(vs.batch_size, 0.0):.0%})"
        )
    if v.recipe in ("mixed-precision", "dedupe", "subset", "transfer", "batch-size") or (
        v.recipe == "distill"
    ):
        notes.append(
            f"own training energy {_ratio(v.train_energy_j, base.train_energy_j)} the "
            f"baseline's, accuracy {(v.accuracy or 0) * 100 - (base.accuracy or 0) * 100:+.1f} pt"
        )
    if v.name == "student distilled":
        scratch = next((s for s in all_variants if s.name == "student scratch" and s.ok), None)
        if scratch is not None:
            notes.append(
                f"distillation: {((v.accuracy or 0) - (scratch.accuracy or 0)) * 100:+.1f} pt "
                f"over the same student from scratch, for "
                f"{_ratio(v.train_energy_j, scratch.train_energy_j)} its training energy"
            )
    return replace(v, notes=tuple(notes))
