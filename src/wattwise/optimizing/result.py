"""What ``wattwise.optimize`` returns: every variant's measured figures, the Pareto fronts
and the recommendation. Pure data and arithmetic: no torch, no tracker.

Every energy here is the tracker's headline energy (estimated where no sensor can be
read, labelled by ``method``). A variant's *training* energy is its own training run(s);
``prerequisite_j`` is the energy of what it cannot exist without (the trained baseline
for pruning and quantization, the teacher for distillation, the other candidates of a
batch-size search), so ``train_total_j`` is what it cost to obtain that model from
nothing. Inference energy is per 1,000 samples, measured at each batch size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

__all__ = [
    "OBJECTIVES",
    "TRAINING_MARGIN",
    "InferenceFigures",
    "Objective",
    "OptimizeResult",
    "Variant",
    "choose",
]

Objective = Literal["inference", "training"]
OBJECTIVES: tuple[Objective, ...] = ("inference", "training")
TRAINING_MARGIN = 0.10
"""For the training objective a variant must use this much less total training energy
than the baseline to replace it: trainings of one configuration repeat within a few
percent on an idle machine, and a tie is not a saving."""


@dataclass(frozen=True)
class InferenceFigures:
    """Inference at one batch size, over ``repeats`` timed windows of one model.

    Attributes:
        batch_size: samples per forward pass.
        energy_per_1000_j: median over the repeats of (window energy / samples × 1,000).
        energy_min_j, energy_max_j: the lowest and highest repeat (same unit).
        latency_ms: median wall time of one forward pass (one batch).
        samples_per_s: samples per second over all the repeats.
        repeats: timed windows measured.
        samples: samples run through the model in all the windows.
    """

    batch_size: int
    energy_per_1000_j: float
    energy_min_j: float
    energy_max_j: float
    latency_ms: float
    samples_per_s: float
    repeats: int
    samples: int

    @property
    def spread(self) -> float:
        """(max − min) / median of the repeats' energies (0 with one repeat)."""
        if self.energy_per_1000_j <= 0:
            return 0.0
        return (self.energy_max_j - self.energy_min_j) / self.energy_per_1000_j

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "batch_size": self.batch_size,
            "energy_per_1000_j": self.energy_per_1000_j,
            "energy_min_j": self.energy_min_j,
            "energy_max_j": self.energy_max_j,
            "spread": self.spread,
            "latency_ms": self.latency_ms,
            "samples_per_s": self.samples_per_s,
            "repeats": self.repeats,
            "samples": self.samples,
        }


@dataclass(frozen=True)
class Variant:
    """One model: the baseline or what a recipe made of it, with its measured figures.

    Attributes:
        name: unique label (``baseline``, ``prune 50%``, ``int8 static``, ...).
        recipe: the recipe that made it (``baseline`` for the baseline).
        description: one line on what was done.
        accuracy: held-out accuracy (0..1).
        ece: expected calibration error (0..1, 15 equal-width confidence bins).
        noise_accuracy: held-out accuracy with the documented noise added to the inputs.
        train_energy_j: the variant's own training runs (J; 0 when it trained nothing).
        train_co2_g: their emissions (gCO2e).
        prerequisite_j: energy of the models it was derived from (J), see the module doc.
        inference: figures per measured batch size, smallest batch first.
        size_bytes: the saved ``state_dict`` (``torch.save``) in bytes.
        parameters: parameters (quantized weights counted by element).
        nonzero_parameters: of which not exactly zero.
        facts: what was read off the model (``weights``: dtypes, ``sparsity``,
            ``compute``: the autocast dtype seen in a forward pass, ``layers``...).
        notes: measured statements about this variant.
        train_run_ids: the training runs in the store.
        eval_run_id: the evaluation run (its ``score`` phase holds the accuracy metrics;
            the inference windows are in the study's inference run).
        method: how the energy was obtained (``measured``, ``estimated``, ``mixed``).
        error: why the recipe failed (then the figures are zeros).
        on_inference_front, on_training_front: on the (accuracy, energy) Pareto fronts.
    """

    name: str
    recipe: str
    description: str
    accuracy: float | None
    ece: float | None
    noise_accuracy: float | None
    train_energy_j: float
    train_co2_g: float
    prerequisite_j: float
    inference: tuple[InferenceFigures, ...]
    size_bytes: int
    parameters: int
    nonzero_parameters: int
    facts: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    train_run_ids: tuple[str, ...] = ()
    eval_run_id: str | None = None
    method: str = "none"
    error: str | None = None
    on_inference_front: bool = False
    on_training_front: bool = False

    @classmethod
    def failed(cls, name: str, recipe: str, error: str, description: str = "failed") -> Variant:
        """A recipe that raised: no model, no figures, its error."""
        return cls(
            name=name,
            recipe=recipe,
            description=description,
            accuracy=None,
            ece=None,
            noise_accuracy=None,
            train_energy_j=0.0,
            train_co2_g=0.0,
            prerequisite_j=0.0,
            inference=(),
            size_bytes=0,
            parameters=0,
            nonzero_parameters=0,
            error=error,
        )

    @property
    def ok(self) -> bool:
        """Whether the recipe succeeded and the model was scored."""
        return self.error is None and self.accuracy is not None and bool(self.inference)

    @property
    def train_total_j(self) -> float:
        """Energy to obtain this model from nothing: own training + prerequisites."""
        return self.train_energy_j + self.prerequisite_j

    @property
    def large(self) -> InferenceFigures | None:
        """Inference at the largest measured batch (the throughput figure)."""
        return self.inference[-1] if self.inference else None

    @property
    def single(self) -> InferenceFigures | None:
        """Inference at the smallest measured batch (the latency figure)."""
        return self.inference[0] if self.inference else None

    @property
    def sparsity(self) -> float:
        """Share of parameters that are exactly zero."""
        if self.parameters <= 0:
            return 0.0
        return 1.0 - self.nonzero_parameters / self.parameters

    def energy(self, objective: Objective) -> float:
        """The energy ``objective`` ranks by: inference J/1,000 at the largest batch, or
        the total training energy."""
        if objective == "training":
            return self.train_total_j
        large = self.large
        return large.energy_per_1000_j if large is not None else math.inf

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "name": self.name,
            "recipe": self.recipe,
            "description": self.description,
            "accuracy": self.accuracy,
            "ece": self.ece,
            "noise_accuracy": self.noise_accuracy,
            "train_energy_j": self.train_energy_j,
            "train_co2_g": self.train_co2_g,
            "prerequisite_j": self.prerequisite_j,
            "train_total_j": self.train_total_j,
            "inference": [f.to_dict() for f in self.inference],
            "size_bytes": self.size_bytes,
            "parameters": self.parameters,
            "nonzero_parameters": self.nonzero_parameters,
            "sparsity": self.sparsity,
            "facts": dict(self.facts),
            "notes": list(self.notes),
            "train_run_ids": list(self.train_run_ids),
            "eval_run_id": self.eval_run_id,
            "method": self.method,
            "error": self.error,
            "on_inference_front": self.on_inference_front,
            "on_training_front": self.on_training_front,
        }


@dataclass(frozen=True)
class OptimizeResult:
    """The baseline and its variants, measured side by side.

    Attributes:
        name: the study's name (its runs' ``optimize`` tag).
        variants: the baseline first, then each recipe's variants in the order run.
        tolerance: accepted loss of accuracy against the baseline (0.01 = 1 point).
        objective: what the recommendation minimises (``inference`` or ``training``).
        recommended: the least-energy variant within the tolerance (None without an
            accurate-enough one, which cannot happen while the baseline scored).
        noise_std: standard deviation of the Gaussian noise of ``noise_accuracy``, in
            the inputs' units.
        store: where the runs were saved.
        notes: statements about the study (a recipe that found nothing to do).
        inference_run_id: the run holding every variant's inference windows.
        noise: batch size → the measurement's noise floor: the larger of the relative
            difference between the baseline and an identical copy measured alongside
            (|a − b| / mean of the medians) and half the relative min–max range of either
            one's windows. A variant must beat the baseline by more than this to be
            recommended for its inference energy.
    """

    name: str
    variants: tuple[Variant, ...]
    tolerance: float
    objective: Objective
    recommended: Variant | None
    noise_std: float
    store: str = "memory"
    notes: tuple[str, ...] = ()
    inference_run_id: str | None = None
    noise: Mapping[int, float] = field(default_factory=dict)

    @property
    def baseline(self) -> Variant:
        """The reference model (always first)."""
        return self.variants[0]

    @property
    def failed(self) -> tuple[Variant, ...]:
        """Variants whose recipe raised."""
        return tuple(v for v in self.variants if not v.ok)

    @property
    def method(self) -> str:
        """``measured``/``estimated`` when every variant agrees, else ``mixed``."""
        methods = {v.method for v in self.variants if v.ok}
        if not methods:
            return "none"
        return methods.pop() if len(methods) == 1 else "mixed"

    def front(self, objective: Objective) -> tuple[Variant, ...]:
        """The (accuracy, energy) Pareto front for ``objective``, by rising energy."""
        flag = "on_inference_front" if objective == "inference" else "on_training_front"
        return tuple(
            sorted(
                (v for v in self.variants if getattr(v, flag)), key=lambda v: v.energy(objective)
            )
        )

    def ratio(self, variant: Variant, objective: Objective) -> float | None:
        """How many times less energy than the baseline (``baseline / variant``)."""
        base, mine = self.baseline.energy(objective), variant.energy(objective)
        if not (math.isfinite(base) and math.isfinite(mine)) or mine <= 0 or base <= 0:
            return None
        return base / mine

    def verdict(self) -> str:
        """One line on the recommendation and what it cost in calibration and robustness."""
        if not self.variants or not self.baseline.ok:
            return "The baseline did not train or score: nothing to compare against."
        rec, base = self.recommended, self.baseline
        pts = round(self.tolerance * 100, 6)
        points = f"{pts:g} point{'' if pts == 1 else 's'}"
        if rec is None:
            return f"No variant scored within {points} of the baseline's accuracy."
        if rec is base:
            beyond = f" by more than {TRAINING_MARGIN:.0%}"
            if self.objective == "inference":
                floor = (
                    self.noise.get(self.baseline.large.batch_size)
                    if self.baseline.large is not None
                    else None
                )
                beyond = f" by more than the measurement noise ({floor:.0%})" if floor else ""
            return (
                f"Keep the baseline: no variant used less {self.objective} energy{beyond} "
                f"within {points} of its accuracy."
            )
        ratio = self.ratio(rec, self.objective)
        if self.objective == "inference" and rec.large is not None:
            what = f"inference energy per 1,000 samples at batch {rec.large.batch_size}"
            small, ref = rec.single, base.single
            if small is not None and ref is not None and small is not rec.large:
                what += f" ({_compare(ref.energy_per_1000_j, small.energy_per_1000_j)} at "
                what += f"batch {small.batch_size})"
        else:
            what = "training energy (prerequisites included)"
        parts = [
            f"Recommended: {rec.name} — {_times(ratio)} less {what} than the baseline",
            f"accuracy {_pt(rec.accuracy, base.accuracy)}",
        ]
        if rec.ece is not None and base.ece is not None:
            d_ece = round(rec.ece - base.ece, 3)
            parts.append(f"calibration error {'±0.000' if d_ece == 0 else f'{d_ece:+.3f}'}")
        if rec.noise_accuracy is not None and base.noise_accuracy is not None:
            parts.append(f"accuracy under noise {_pt(rec.noise_accuracy, base.noise_accuracy)}")
        return ", ".join(parts) + "."

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "name": self.name,
            "tolerance": self.tolerance,
            "objective": self.objective,
            "noise_std": self.noise_std,
            "store": self.store,
            "method": self.method,
            "notes": list(self.notes),
            "inference_run_id": self.inference_run_id,
            "noise": {str(k): v for k, v in self.noise.items()},
            "variants": [v.to_dict() for v in self.variants],
            "recommended": self.recommended.name if self.recommended is not None else None,
            "verdict": self.verdict(),
        }


def choose(
    name: str,
    variants: Sequence[Variant],
    *,
    tolerance: float,
    objective: Objective,
    noise_std: float,
    store: str = "memory",
    notes: Sequence[str] = (),
    inference_run_id: str | None = None,
    noise: Mapping[int, float] | None = None,
) -> OptimizeResult:
    """Mark the two Pareto fronts and pick the least-``objective``-energy variant whose
    accuracy is at least the baseline's (``variants[0]``) minus ``tolerance``; for the
    inference objective a variant must also use less than ``1 − noise`` of the
    baseline's energy at the largest batch (the noise floor, see :class:`OptimizeResult`),
    and for the training objective less than ``1 −`` :data:`TRAINING_MARGIN` of its total."""
    noise = dict(noise or {})
    from wattwise.report.compare import pareto_front

    good = [i for i, v in enumerate(variants) if v.ok]
    fronts: dict[str, set[int]] = {}
    for obj in OBJECTIVES:
        idx = pareto_front(
            [variants[i].energy(obj) for i in good],
            [float(variants[i].accuracy or 0.0) for i in good],
            maximize=True,
        )
        fronts[obj] = {good[k] for k in idx}
    final = [
        replace(
            v,
            on_inference_front=i in fronts["inference"],
            on_training_front=i in fronts["training"],
        )
        for i, v in enumerate(variants)
    ]
    recommended: Variant | None = None
    base = final[0] if final else None
    if base is not None and base.ok and base.accuracy is not None:
        floor = base.accuracy - tolerance - 1e-9
        if objective == "inference":
            margin = noise.get(base.large.batch_size, 0.0) if base.large is not None else 0.0
        else:
            margin = TRAINING_MARGIN
        limit = base.energy(objective) * (1.0 - margin)
        within = [
            v
            for v in final
            if v.ok and (v.accuracy or 0.0) >= floor and (v is base or v.energy(objective) < limit)
        ]
        recommended = min(
            within, key=lambda v: (v.energy(objective), -(v.accuracy or 0.0), v is not base)
        )
    return OptimizeResult(
        name=name,
        variants=tuple(final),
        tolerance=float(tolerance),
        objective=objective,
        recommended=recommended,
        noise_std=float(noise_std),
        store=store,
        notes=tuple(notes),
        inference_run_id=inference_run_id,
        noise=noise,
    )


def _compare(base: float, mine: float) -> str:
    """``1.3× less`` / ``1.4× more`` / ``the same`` for the variant's figure ``mine``."""
    if base <= 0 or mine <= 0:
        return "?"
    r = base / mine
    if abs(r - 1) < 0.005:
        return "the same"
    return f"{r:.1f}× less" if r > 1 else f"{1 / r:.1f}× more"


def _times(ratio: float | None) -> str:
    return "?×" if ratio is None else f"{ratio:.1f}×"


def _pt(value: float | None, ref: float | None) -> str:
    if value is None or ref is None:
        return "n/a"
    diff = round((value - ref) * 100, 1)
    return "±0.0 pt" if diff == 0 else f"{diff:+.1f} pt"
