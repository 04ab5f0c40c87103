"""The recipes: each turns the trained baseline (or the task's architecture) into one or
more variants, with torch's own tools.

=================== ===================================================================
recipe              what it does (torch tool)
=================== ===================================================================
``mixed-precision`` train from scratch with the forward pass and loss under
                    ``torch.autocast`` (bf16 on CPU; bf16 on CUDA where supported, else
                    fp16 with a gradient scaler); scored and served under autocast too
``batch-size``      train from scratch at ½×, 2×, 4×, 8× the baseline's batch size (same
                    epochs and learning rate); keep the most samples per joule whose
                    accuracy is within the tolerance (the other candidates' energy is
                    its prerequisite: the cost of the search)
``prune``           global magnitude pruning of every Conv/Linear weight
                    (``prune.global_unstructured``, L1) at ``prune_amount``, fine-tuned
                    with the masks on, then made permanent (``prune.remove``)
``channels``        structured channel pruning (``prune.ln_structured`` picks, ``shrink``
                    rebuilds smaller layers), fine-tuned
``quantize-dynamic`` int8 weights for Linear/LSTM/GRU, activations quantized on the fly
                    (``torch.ao.quantization.quantize_dynamic``); CPU
``quantize-static`` int8 weights and activations (FX ``prepare_fx``/``convert_fx`` with
                    the engine's default qconfig), calibrated on training batches; CPU
``qat``             quantization-aware fine-tuning (``prepare_qat_fx``) then int8; CPU
``distill``         a smaller student (``task.make_student`` or half the channels)
                    trained on α·T²·KL(teacher‖student at temperature T) + (1−α)·CE,
                    and the same student trained from scratch to isolate the effect
``transfer``        the pretrained model's layers before the last Linear frozen, that
                    Linear re-initialised and trained, against training from scratch
``dedupe``          exact and near duplicates removed from the training set, retrained
``subset``          a class-stratified random ``subset_fraction`` of the training set
                    (seed 0), retrained
=================== ===================================================================

Every recipe returns :class:`Built` models; :func:`wattwise.optimizing.study.optimize`
measures them. ``torch.ao.quantization`` warns that it is deprecated in favour of the
separate ``torchao`` package; it still works in the pinned torch and is what the issue
asks for, so the recipes silence that one warning while they call it.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wattwise.exceptions import ConfigError, WattwiseError
from wattwise.optimizing.facts import compute_dtype, model_facts
from wattwise.optimizing.measure import quiet_quantized
from wattwise.optimizing.shrink import shrink

if TYPE_CHECKING:
    from wattwise.optimizing.metrics import Scores
    from wattwise.optimizing.task import OptimizeTask, TrainSpec
    from wattwise.record import RunRecord

__all__ = [
    "ALL",
    "GROUPS",
    "RECIPES",
    "Built",
    "Context",
    "NoVariant",
    "Settings",
    "resolve_recipes",
]


class NoVariant(WattwiseError):
    """A recipe found nothing to change (clean data): a note, not a failure."""


@dataclass(frozen=True)
class Settings:
    """The recipes' knobs (documented defaults).

    Attributes:
        prune_amount: share of weights zeroed by magnitude pruning.
        channel_amount: share of hidden channels removed by channel pruning.
        finetune_fraction: fine-tuning epochs after pruning or for QAT, as a share of the
            baseline's epochs (at least 1).
        calibration_batches: training batches run through a static-quantization model.
        temperature, alpha: distillation's softening temperature and soft-loss weight.
        batch_factors: multiples of the baseline's batch size the search tries.
        near_duplicate: two same-label samples closer than this share of the median
            nearest-neighbour distance are near duplicates.
        near_duplicate_max: above this many training samples only exact duplicates are
            looked for (the near search is quadratic).
        subset_fraction: share of each class the subset keeps.
        precision: the mixed-precision dtype (None: bf16, or fp16 on a CUDA device
            without bf16).
    """

    prune_amount: float = 0.5
    channel_amount: float = 0.5
    finetune_fraction: float = 0.25
    calibration_batches: int = 8
    temperature: float = 4.0
    alpha: float = 0.7
    batch_factors: tuple[float, ...] = (0.5, 2.0, 4.0, 8.0)
    near_duplicate: float = 0.25
    near_duplicate_max: int = 20_000
    subset_fraction: float = 0.5
    precision: str | None = None

    def __post_init__(self) -> None:
        def number(name: str, value: Any) -> float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{name} must be a number, not {value!r}")
            if not math.isfinite(value):
                raise ConfigError(f"{name} must be finite, not {value!r}")
            return float(value)

        for name in ("prune_amount", "channel_amount", "subset_fraction"):
            if not 0 < number(name, getattr(self, name)) < 1:
                raise ConfigError(
                    f"{name} must lie strictly between 0 and 1, not {getattr(self, name)!r}"
                )
        if not 0 < number("finetune_fraction", self.finetune_fraction) <= 4:
            raise ConfigError(
                f"finetune_fraction must lie in (0, 4], not {self.finetune_fraction!r}"
            )
        if not 0 <= number("alpha", self.alpha) <= 1:
            raise ConfigError(f"alpha must lie in 0..1, not {self.alpha!r}")
        if not number("temperature", self.temperature) > 0:
            raise ConfigError(f"temperature must be positive, not {self.temperature!r}")
        if number("near_duplicate", self.near_duplicate) < 0:
            raise ConfigError(f"near_duplicate must be ≥ 0, not {self.near_duplicate!r}")
        for name, low in (("calibration_batches", 1), ("near_duplicate_max", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{name} must be an integer ≥ {low}, not {value!r}")
        if self.precision not in (None, "bfloat16", "float16"):
            raise ConfigError(f"precision must be bfloat16 or float16, not {self.precision!r}")
        factors = self.batch_factors
        if not isinstance(factors, tuple | list) or not factors:
            raise ConfigError(f"batch_factors must be a non-empty tuple, not {factors!r}")
        for f in factors:
            if number("a batch factor", f) <= 0:
                raise ConfigError(f"batch factors must be positive, not {f!r}")


@dataclass
class Built:
    """A variant as a recipe made it, before it is measured."""

    name: str
    recipe: str
    model: Any
    description: str
    runs: list[RunRecord] = field(default_factory=list)
    prerequisite_j: float = 0.0
    facts: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    autocast: str | None = None
    cpu_only: bool = False


@dataclass
class Context:
    """What a recipe may use: the task, the trained baseline and how to train."""

    task: OptimizeTask
    baseline: Any
    baseline_run: RunRecord
    baseline_scores: Scores
    tolerance: float
    settings: Settings
    train: Callable[[Any, TrainSpec, str, str], RunRecord]
    """``train(model, spec, variant_name, recipe)``: one tracked training run."""
    track: Callable[[str, str], Any]
    """``track(variant_name, recipe)``: a fresh Tracker for work that is not training."""
    score: Callable[[Any, str | None], Scores]

    @property
    def baseline_j(self) -> float:
        return self.baseline_run.energy_j

    def fresh(self, factory: Callable[[], Any] | None = None, seed: int = 0) -> Any:
        """A new model from ``factory`` (default ``task.make_model``), initialised from
        ``seed`` without touching the global random state, on the baseline's device."""
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = (factory or self.task.make_model)()
        return model.to(_device(self.baseline))

    def finetune_epochs(self) -> int:
        return max(1, round(self.task.epochs * self.settings.finetune_fraction))


def _device(model: Any) -> Any:
    for p in model.parameters():
        return p.device
    import torch

    return torch.device("cpu")


def _cpu_bf16() -> bool | None:
    """Whether this CPU has native bf16 instructions (None when it cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return None
    return any(flag in text for flag in ("avx512_bf16", "amx_bf16"))


# -- recipes -------------------------------------------------------------------------------


def mixed_precision(ctx: Context) -> list[Built]:
    import torch

    device = _device(ctx.baseline)
    dtype = ctx.settings.precision
    if dtype is None:
        dtype = "bfloat16"
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            dtype = "float16"
    if device.type == "cpu" and dtype == "float16":
        raise ConfigError("float16 autocast is for CUDA; on a CPU use bfloat16")
    model = ctx.fresh()
    run = ctx.train(
        model, ctx.task.spec(autocast=dtype), f"{_short(dtype)} autocast", "mixed-precision"
    )
    seen = compute_dtype(model, ctx.task.x_test.to(device), dtype)
    if seen != dtype:
        raise ConfigError(f"autocast to {dtype} did not take: the first layer computed in {seen}")
    notes = []
    if device.type == "cpu" and dtype == "bfloat16":
        native = _cpu_bf16()
        if native is False:
            notes.append(
                "this CPU has no native bf16 instructions (no avx512_bf16/amx_bf16): "
                "autocast converts to and from bf16 around fp32 arithmetic"
            )
    return [
        Built(
            name=f"{_short(dtype)} autocast",
            recipe="mixed-precision",
            model=model,
            description=f"trained from scratch and served under torch.autocast({dtype})",
            runs=[run],
            facts={"compute": seen},
            notes=notes,
            autocast=dtype,
        )
    ]


def batch_size(ctx: Context) -> list[Built]:
    task = ctx.task
    n = len(task.y_train)
    sizes = sorted(
        {max(1, min(n, round(task.batch_size * f))) for f in ctx.settings.batch_factors}
        - {task.batch_size}
    )
    if not sizes:
        raise ConfigError("no batch size to try besides the baseline's")
    base_acc = ctx.baseline_scores.accuracy
    samples = len(task.y_train) * task.epochs
    tried: list[tuple[int, float, float, Any, RunRecord]] = [
        (
            task.batch_size,
            samples / max(ctx.baseline_j, 1e-12),
            base_acc,
            ctx.baseline,
            ctx.baseline_run,
        )
    ]
    for size in sizes:
        model = ctx.fresh()
        run = ctx.train(model, task.spec(batch_size=size), f"batch {size}", "batch-size")
        acc = ctx.score(model, None).accuracy
        tried.append((size, samples / max(run.energy_j, 1e-12), acc, model, run))
    floor = base_acc - ctx.tolerance - 1e-9
    lines = ", ".join(
        f"{size}: {spj:.0f} samples/J at {acc * 100:.1f}%"
        for size, spj, acc, _, _ in sorted(tried, key=lambda t: t[0])
    )
    notes = [f"samples per joule by batch size: {lines}"]
    within = [t for t in tried if t[2] >= floor]
    if max(within, key=lambda t: t[1])[0] == task.batch_size:
        notes.append(
            f"the baseline's batch of {task.batch_size} gives the most samples per joule "
            "within the tolerance"
        )
    candidates = [t for t in tried[1:] if t[2] >= floor]
    if candidates:
        best = max(candidates, key=lambda t: t[1])
    else:
        best = max(tried[1:], key=lambda t: t[2])
        notes.append("no other batch size kept the accuracy within the tolerance")
    search_j = sum(t[4].energy_j for t in tried[1:] if t is not best)
    rule = (
        "the most samples per joule within the tolerance"
        if candidates
        else "no candidate within the tolerance: the most accurate"
    )
    return [
        Built(
            name=f"batch {best[0]}",
            recipe="batch-size",
            model=best[3],
            description=(
                f"batch size chosen by {rule}, of {task.batch_size} (baseline) and "
                f"{', '.join(map(str, sizes))} (chosen on the held-out set, so its accuracy "
                "is optimistic)"
            ),
            runs=[best[4]],
            prerequisite_j=search_j,
            facts={"batch_size": str(best[0]), "samples_per_j": f"{best[1]:.0f}"},
            notes=notes,
        )
    ]


def magnitude_prune(ctx: Context) -> list[Built]:
    import torch
    from torch.nn.utils import prune as _prune

    prune: Any = _prune
    model = copy.deepcopy(ctx.baseline)
    layers = [
        (m, "weight") for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))
    ]
    if not layers:
        raise ConfigError("magnitude pruning found no Conv2d or Linear layer")
    amount = ctx.settings.prune_amount
    prune.global_unstructured(layers, pruning_method=prune.L1Unstructured, amount=amount)
    epochs = ctx.finetune_epochs()
    name = f"prune {amount * 100:.0f}%"
    run = ctx.train(model, ctx.task.spec(epochs=epochs, lr=ctx.task.lr * 0.5), name, "prune")
    for module, attr in layers:
        prune.remove(module, attr)
    facts = model_facts(model)
    if facts.sparsity < amount * 0.5:
        raise ConfigError(f"pruning left only {facts.sparsity:.0%} zeros")
    return [
        Built(
            name=name,
            recipe="prune",
            model=model,
            description=(
                f"global L1 magnitude pruning of {len(layers)} weight tensors to "
                f"{amount:.0%} zeros, fine-tuned {epochs} epoch(s) at half the learning rate"
            ),
            runs=[run],
            prerequisite_j=ctx.baseline_j,
            facts={"sparsity": f"{facts.sparsity:.1%}"},
        )
    ]


def channel_prune(ctx: Context) -> list[Built]:
    amount = ctx.settings.channel_amount
    model = shrink(ctx.baseline, amount)
    epochs = ctx.finetune_epochs()
    name = f"channels −{amount * 100:.0f}%"
    run = ctx.train(model, ctx.task.spec(epochs=epochs), name, "channels")
    before = sum(int(p.numel()) for p in ctx.baseline.parameters())
    after = sum(int(p.numel()) for p in model.parameters())
    return [
        Built(
            name=name,
            recipe="channels",
            model=model,
            description=(
                f"{amount:.0%} of every hidden layer's channels removed by L1 norm "
                f"(layers rebuilt smaller), fine-tuned {epochs} epoch(s)"
            ),
            runs=[run],
            prerequisite_j=ctx.baseline_j,
            facts={"layers": _widths(model), "parameters": f"{after:,} of {before:,}"},
        )
    ]


def quantize_dynamic(ctx: Context) -> list[Built]:
    import torch
    from torch import nn

    with quiet_quantized():
        from torch.ao import quantization

        qd: Any = quantization.quantize_dynamic

        model = qd(
            copy.deepcopy(ctx.baseline).cpu().eval(),
            {nn.Linear, nn.LSTM, nn.GRU},
            dtype=torch.qint8,
        )
    facts = model_facts(model)
    if facts.quantized_layers == 0:
        raise ConfigError("dynamic quantization found no Linear, LSTM or GRU layer")
    return [
        Built(
            name="int8 dynamic",
            recipe="quantize-dynamic",
            model=model,
            description="int8 weights for Linear/LSTM/GRU, activations quantized per batch",
            prerequisite_j=ctx.baseline_j,
            facts=_quant_facts(facts),
            cpu_only=True,
        )
    ]


def _engine() -> str:
    import torch

    engine = str(torch.backends.quantized.engine)
    return engine if engine in ("x86", "fbgemm", "qnnpack", "onednn") else "x86"


def quantize_static(ctx: Context) -> list[Built]:
    import torch

    with quiet_quantized():
        from torch.ao.quantization import get_default_qconfig_mapping
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

        engine = _engine()
        x = ctx.task.x_train.cpu()
        model = copy.deepcopy(ctx.baseline).cpu().eval()
        prepared = prepare_fx(model, get_default_qconfig_mapping(engine), example_inputs=(x[:1],))
        bs = ctx.task.batch_size
        batches = min(ctx.settings.calibration_batches, -(-len(x) // bs))
        tracker = ctx.track("int8 static", "quantize-static")
        with tracker, torch.inference_mode():
            for i in range(batches):
                prepared(x[i * bs : (i + 1) * bs])
                tracker.step(samples=len(x[i * bs : (i + 1) * bs]))
        quantized = convert_fx(prepared)
    facts = model_facts(quantized)
    if facts.quantized_layers == 0:
        raise ConfigError("static quantization quantized no layer")
    return [
        Built(
            name="int8 static",
            recipe="quantize-static",
            model=quantized,
            description=(
                f"int8 weights and activations (FX, {engine} engine), calibrated on "
                f"{batches} training batch(es)"
            ),
            runs=[tracker.result],
            prerequisite_j=ctx.baseline_j,
            facts=_quant_facts(facts),
            cpu_only=True,
        )
    ]


def qat(ctx: Context) -> list[Built]:
    with quiet_quantized():
        from torch.ao.quantization import get_default_qat_qconfig_mapping
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_qat_fx

        engine = _engine()
        x = ctx.task.x_train.cpu()
        model = copy.deepcopy(ctx.baseline).cpu().train()
        prepared = prepare_qat_fx(
            model, get_default_qat_qconfig_mapping(engine), example_inputs=(x[:1],)
        )
    epochs = ctx.finetune_epochs()
    with quiet_quantized():
        run = ctx.train(
            prepared, ctx.task.spec(epochs=epochs, lr=ctx.task.lr * 0.5), "int8 QAT", "qat"
        )
        quantized = convert_fx(prepared.eval())
    facts = model_facts(quantized)
    if facts.quantized_layers == 0:
        raise ConfigError("quantization-aware training quantized no layer")
    return [
        Built(
            name="int8 QAT",
            recipe="qat",
            model=quantized,
            description=(
                f"quantization-aware fine-tuning for {epochs} epoch(s) (FX, {engine}), then int8"
            ),
            runs=[run],
            prerequisite_j=ctx.baseline_j,
            facts=_quant_facts(facts),
            cpu_only=True,
        )
    ]


def _student_factory(ctx: Context) -> tuple[Callable[[], Any], str]:
    if ctx.task.make_student is not None:
        return ctx.task.make_student, "the task's student"

    def half() -> Any:
        made = ctx.task.make_model()
        from torch import nn

        if not isinstance(made, nn.Sequential):
            raise ConfigError(
                "the default student (half the channels) needs an nn.Sequential model; "
                "give the task a make_student"
            )
        model = shrink(made, 0.5)
        for m in model.modules():
            reset = getattr(m, "reset_parameters", None)
            if callable(reset):
                reset()
        return model

    return half, "the baseline's architecture at half the channels"


def distill(ctx: Context) -> list[Built]:
    import torch
    import torch.nn.functional as F

    make, what = _student_factory(ctx)
    teacher = ctx.baseline
    teacher.eval()
    t, alpha = ctx.settings.temperature, ctx.settings.alpha

    def loss(outputs: Any, inputs: Any, targets: Any) -> Any:
        with torch.no_grad():
            soft = F.softmax(teacher(inputs).float() / t, dim=1)
        kd = F.kl_div(F.log_softmax(outputs.float() / t, dim=1), soft, reduction="batchmean")
        return alpha * t * t * kd + (1 - alpha) * F.cross_entropy(outputs, targets)

    student = ctx.fresh(make, seed=1)
    params = sum(int(p.numel()) for p in student.parameters())
    run = ctx.train(student, ctx.task.spec(loss=loss), "student distilled", "distill")
    scratch = ctx.fresh(make, seed=1)
    run_scratch = ctx.train(scratch, ctx.task.spec(), "student scratch", "distill")
    layers = _widths(student)
    return [
        Built(
            name="student distilled",
            recipe="distill",
            model=student,
            description=(
                f"{what} ({params:,} parameters) trained on the teacher's soft targets "
                f"(T={t:g}, α={alpha:g}); the teacher's forward passes are in its energy"
            ),
            runs=[run],
            prerequisite_j=ctx.baseline_j,
            facts={"layers": layers},
        ),
        Built(
            name="student scratch",
            recipe="distill",
            model=scratch,
            description="the same student trained from scratch on the labels alone",
            runs=[run_scratch],
            facts={"layers": layers},
        ),
    ]


def transfer(ctx: Context) -> list[Built]:
    from torch import nn

    task = ctx.task
    if task.pretrained is not None:
        source, prereq = task.pretrained, task.pretrained_j
        origin = task.pretrained_note or "the task's pretrained model"
    elif task.pretrain is not None:
        tracker = ctx.track("transfer source", "transfer")
        with tracker:
            source = task.pretrain(tracker)
        prereq = tracker.result.energy_j
        origin = task.pretrained_note or "a source model trained for it"
    else:
        source, prereq, origin = ctx.baseline, ctx.baseline_j, "the trained baseline"
    import torch

    device = _device(ctx.baseline)
    model = copy.deepcopy(source).to(device)
    named = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not named:
        raise ConfigError("transfer learning needs a last Linear layer to retrain as the head")
    head_name, old_head = named[-1]
    classes = [m for m in ctx.baseline.modules() if isinstance(m, nn.Linear)][-1].out_features
    for p in model.parameters():
        p.requires_grad_(False)
    with torch.random.fork_rng(devices=[]):  # the same new head on every run
        torch.manual_seed(3)
        head = nn.Linear(old_head.in_features, classes, old_head.bias is not None).to(device)
    parent_name, _, attr = head_name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, attr, head)
    trainable = sum(int(p.numel()) for p in model.parameters() if p.requires_grad)
    total = sum(int(p.numel()) for p in model.parameters())
    with _frozen_norms(model):  # a frozen backbone keeps its normalisation statistics
        run = ctx.train(model, ctx.task.spec(), "transfer head", "transfer")
    for p in model.parameters():
        p.requires_grad_(True)
    return [
        Built(
            name="transfer head",
            recipe="transfer",
            model=model,
            description=(
                f"backbone from {origin} frozen (normalisation statistics included), a new "
                f"last Linear to {classes} classes trained ({trainable:,} of {total:,} "
                "parameters), against the baseline from scratch"
            ),
            runs=[run],
            prerequisite_j=prereq,
            facts={"trainable": f"{trainable:,} of {total:,}"},
        )
    ]


@contextlib.contextmanager
def _frozen_norms(model: Any) -> Iterator[None]:
    """Keep every normalisation layer whose parameters are all frozen in eval mode while
    the model trains (``model.train()`` would otherwise update its running statistics)."""
    from torch import nn

    norms = [
        m
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
        and not any(p.requires_grad for p in m.parameters())
    ]

    def stay_eval(module: Any) -> Callable[..., Any]:
        def train(mode: bool = True) -> Any:
            return nn.Module.train(module, False)

        return train

    for m in norms:
        m.train = stay_eval(m)  # type: ignore[method-assign]
        m.eval()
    try:
        yield
    finally:
        for m in norms:
            del m.train


def duplicates(x: Any, y: Any, *, near: float, near_max: int) -> tuple[list[int], int, int]:
    """Indices to keep (first of each group, in data order), and how many exact and near
    duplicates were dropped. Near: same label, L2 distance ≤ ``near`` × the median
    nearest-neighbour distance, looked for only up to ``near_max`` samples."""
    import torch

    flat = x.reshape(len(x), -1).float().cpu()
    labels = y.cpu().tolist()
    seen: dict[tuple[int, bytes], int] = {}
    keep: list[int] = []
    exact = 0
    for i in range(len(flat)):
        key = (int(labels[i]), flat[i].numpy().tobytes())
        if key in seen:
            exact += 1
            continue
        seen[key] = i
        keep.append(i)
    if len(keep) > near_max or len(keep) < 3 or near <= 0:
        return keep, exact, 0
    pts = flat[keep]
    nearest = []
    for i in range(0, len(pts), 512):
        d = torch.cdist(pts[i : i + 512], pts)
        d[torch.arange(d.shape[0]), torch.arange(i, i + d.shape[0])] = math.inf
        nearest.append(d.min(1).values)
    radius = near * float(torch.cat(nearest).median())
    # greedy in data order: dropped when an earlier kept same-label sample is within radius
    lab = torch.tensor([labels[i] for i in keep])
    kept_mask = torch.zeros(len(keep), dtype=torch.bool)
    kept: list[int] = []
    dropped = 0
    for start in range(0, len(pts), 512):
        d = torch.cdist(pts[start : start + 512], pts)
        for r in range(d.shape[0]):
            j = start + r
            near_ones = (d[r, :j] <= radius) & kept_mask[:j] & (lab[:j] == lab[j])
            if bool(near_ones.any()):
                dropped += 1
                continue
            kept_mask[j] = True
            kept.append(keep[j])
    return kept, exact, dropped


def dedupe(ctx: Context) -> list[Built]:
    import torch

    task = ctx.task
    s = ctx.settings
    tracker = ctx.track("dedupe", "dedupe")
    with tracker:
        keep, exact, near = duplicates(
            task.x_train, task.y_train, near=s.near_duplicate, near_max=s.near_duplicate_max
        )
    scan = tracker.result
    n = len(task.y_train)
    if exact + near == 0:
        raise NoVariant(
            f"no exact or near duplicates among the {n:,} training samples "
            f"(near: same label within {s.near_duplicate:g}× the median nearest-neighbour "
            "distance); nothing to retrain"
        )
    model = ctx.fresh()
    run = ctx.train(model, task.spec(indices=torch.tensor(keep)), "dedupe", "dedupe")
    note = f"{exact} exact and {near} near duplicate(s) dropped ({(exact + near) / n:.1%})"
    if n - exact > s.near_duplicate_max:
        note += f"; above {s.near_duplicate_max:,} samples only exact duplicates are looked for"
    return [
        Built(
            name="dedupe",
            recipe="dedupe",
            model=model,
            description=(
                f"trained from scratch on {len(keep):,} of {n:,} samples: exact duplicates "
                f"and same-label samples within {s.near_duplicate:g}× the median "
                "nearest-neighbour distance removed (first kept)"
            ),
            runs=[scan, run],
            facts={"samples": f"{len(keep):,} of {n:,}"},
            notes=[note],
        )
    ]


def stratified_subset(y: Any, fraction: float, *, seed: int = 0) -> list[int]:
    """Sorted indices of a random ``fraction`` of each class (at least one per class),
    drawn with a generator seeded ``seed``."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    labels = y.cpu()
    chosen: list[int] = []
    for cls in sorted(set(labels.tolist())):
        idx = torch.nonzero(labels == cls).flatten()
        k = max(1, round(len(idx) * fraction))
        chosen.extend(idx[torch.randperm(len(idx), generator=generator)[:k]].tolist())
    return sorted(chosen)


def subset(ctx: Context) -> list[Built]:
    import torch

    task = ctx.task
    fraction = ctx.settings.subset_fraction
    keep = stratified_subset(task.y_train, fraction)
    model = ctx.fresh()
    name = f"subset {fraction * 100:.0f}%"
    run = ctx.train(model, task.spec(indices=torch.tensor(keep)), name, "subset")
    return [
        Built(
            name=name,
            recipe="subset",
            model=model,
            description=(
                f"trained from scratch on a class-stratified random {fraction:.0%} of the "
                f"training set ({len(keep):,} of {len(task.y_train):,} samples, seed 0)"
            ),
            runs=[run],
            facts={"samples": f"{len(keep):,} of {len(task.y_train):,}"},
        )
    ]


RECIPES: Mapping[str, Callable[[Context], list[Built]]] = {
    "mixed-precision": mixed_precision,
    "batch-size": batch_size,
    "prune": magnitude_prune,
    "channels": channel_prune,
    "quantize-dynamic": quantize_dynamic,
    "quantize-static": quantize_static,
    "qat": qat,
    "distill": distill,
    "transfer": transfer,
    "dedupe": dedupe,
    "subset": subset,
}
"""Recipe name → function, in the order ``all`` runs them."""
ALL = tuple(RECIPES)
GROUPS: Mapping[str, tuple[str, ...]] = {
    "all": ALL,
    "quantize": ("quantize-dynamic", "quantize-static", "qat"),
    "pruning": ("prune", "channels"),
    "data": ("dedupe", "subset"),
}
"""Names that stand for several recipes."""


def resolve_recipes(names: str | Sequence[str] | None) -> tuple[str, ...]:
    """Recipe names (comma-separated or a list; groups expanded, order kept, repeats
    dropped). ConfigError names an unknown one and lists the known."""
    if names is None:
        return ALL
    items = names.split(",") if isinstance(names, str) else list(names)
    out: list[str] = []
    for raw in items:
        name = str(raw).strip().lower()
        if not name:
            continue
        expanded = GROUPS.get(name, (name,))
        for r in expanded:
            if r not in RECIPES:
                known = ", ".join([*RECIPES, *GROUPS])
                raise ConfigError(f"unknown recipe {raw!r}; known: {known}")
            if r not in out:
                out.append(r)
    if not out:
        raise ConfigError("no recipe given")
    return tuple(out)


def _quant_facts(facts: Any) -> dict[str, str]:
    return {"weights": facts.weights_text(), "quantized_layers": str(facts.quantized_layers)}


def _short(dtype: str) -> str:
    return {"bfloat16": "bf16", "float16": "fp16"}.get(dtype, dtype)


def _widths(model: Any) -> str:
    """``1→16→16→10``: each Conv/Linear layer's outputs."""
    from torch import nn

    outs = [
        str(m.out_channels if isinstance(m, nn.Conv2d) else m.out_features)
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    return "→".join(outs)
