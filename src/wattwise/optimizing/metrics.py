"""The quality figures every variant is scored on: accuracy, expected calibration error
and accuracy under a documented input corruption.

The functions take plain sequences (a torch tensor's ``tolist()``), so they are checked
on hand-made cases without torch; :func:`scores` runs a model and calls them.

* **Expected calibration error** (Guo et al. 2017, "On Calibration of Modern Neural
  Networks"): the predictions are put in ``bins`` equal-width bins by their confidence
  (the top softmax probability; bin ``k`` holds confidences in ``(k/B, (k+1)/B]``, a
  confidence of exactly 0 goes to the first bin), and ECE = Σ_k (n_k / n) ·
  |accuracy_k − mean confidence_k|. 0 is perfectly calibrated; 15 bins as in that paper.
* **Diverged outputs**: a sample whose outputs are not all finite counts as a wrong
  prediction, and as a uniform probability row (confidence 1/classes) in the ECE.
* **Noise corruption**: Gaussian noise of standard deviation ``noise_std`` (in the inputs'
  own units) added to every held-out input, drawn from a generator seeded with ``seed``
  so every variant sees the same corrupted set. :func:`default_noise_std` sets it to
  half the held-out inputs' standard deviation (0.5 σ_x). Inputs that are not floating
  point (token ids) get no noise score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from wattwise.exceptions import ConfigError

__all__ = [
    "ECE_BINS",
    "NOISE_FRACTION",
    "Scores",
    "accuracy",
    "add_noise",
    "default_noise_std",
    "expected_calibration_error",
    "scores",
    "softmax",
]

ECE_BINS = 15
"""Confidence bins of the expected calibration error (Guo et al. 2017)."""
NOISE_FRACTION = 0.5
"""Default noise standard deviation as a fraction of the held-out inputs' own."""


@dataclass(frozen=True)
class Scores:
    """A model's quality on the held-out set (all 0..1).

    ``noise_accuracy`` is None for inputs that are not floating point (token ids): no
    Gaussian noise is defined for them. ``diverged`` counts held-out samples whose
    outputs were not finite: they count as wrong, with a uniform (no-confidence)
    probability row in the ECE.
    """

    accuracy: float
    ece: float
    noise_accuracy: float | None
    diverged: int = 0


def softmax(logits: Sequence[float]) -> list[float]:
    """Probabilities from one row of logits (shifted by the maximum: no overflow)."""
    if not logits:
        raise ConfigError("softmax of an empty row")
    top = max(logits)
    exps = [math.exp(v - top) for v in logits]
    total = sum(exps)
    return [e / total for e in exps]


def accuracy(predicted: Sequence[int], labels: Sequence[int]) -> float:
    """Share of predictions equal to their labels."""
    _same_length(predicted, labels)
    return sum(int(p) == int(y) for p, y in zip(predicted, labels, strict=True)) / len(labels)


def expected_calibration_error(
    probabilities: Sequence[Sequence[float]],
    labels: Sequence[int],
    *,
    bins: int = ECE_BINS,
    predicted: Sequence[int] | None = None,
) -> float:
    """ECE of class ``probabilities`` (one row per sample) against integer ``labels``.
    ``predicted`` overrides each row's top class (a diverged row's -1 is never correct).

    Raises ConfigError on empty or mismatched inputs, ``bins`` < 1, a label outside the
    rows' classes, or a probability outside 0..1.
    """
    _same_length(probabilities, labels)
    if predicted is not None:
        _same_length(predicted, labels)
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ConfigError(f"bins must be an integer ≥ 1, not {bins!r}")
    count = [0] * bins
    correct = [0] * bins
    confidence = [0.0] * bins
    for i, (row, label) in enumerate(zip(probabilities, labels, strict=True)):
        if not row:
            raise ConfigError("a probability row is empty")
        if not 0 <= int(label) < len(row):
            raise ConfigError(f"label {label} is outside the {len(row)} classes")
        if not all(math.isfinite(p) for p in row):
            raise ConfigError(f"probabilities must be finite numbers in 0..1, got {list(row)!r}")
        conf = max(row)
        if not (0.0 <= conf <= 1.0 + 1e-6) or any(p < -1e-6 for p in row):
            raise ConfigError(f"probabilities must lie in 0..1, got {conf!r}")
        k = min(bins - 1, max(0, math.ceil(conf * bins) - 1))
        count[k] += 1
        top = row.index(conf) if predicted is None else int(predicted[i])
        correct[k] += int(top == int(label))
        confidence[k] += conf
    n = len(labels)
    return sum(abs(correct[k] - confidence[k]) for k in range(bins) if count[k]) / n


def default_noise_std(x: Any) -> float:
    """:data:`NOISE_FRACTION` × the standard deviation of the inputs ``x`` (a tensor);
    0 for inputs that are not floating point (they get no noise score)."""
    if not x.is_floating_point():
        return 0.0
    return NOISE_FRACTION * float(x.float().std())


def add_noise(x: Any, noise_std: float, *, seed: int = 0) -> Any:
    """``x`` plus Gaussian noise of standard deviation ``noise_std`` from a generator
    seeded ``seed`` (the same corruption for every model)."""
    import torch

    if not math.isfinite(noise_std) or noise_std < 0:
        raise ConfigError(f"noise_std must be a finite number ≥ 0, not {noise_std!r}")
    if not x.is_floating_point():
        raise ConfigError(f"noise can only be added to floating-point inputs, not {str(x.dtype)!r}")
    generator = torch.Generator().manual_seed(seed)  # drawn on the CPU: the same everywhere
    noise = torch.randn(x.shape, generator=generator, dtype=torch.float32)
    return x + (noise * noise_std).to(device=x.device, dtype=x.dtype)


def scores(
    model: Any,
    x: Any,
    y: Any,
    *,
    noise_std: float,
    seed: int = 0,
    batch_size: int = 512,
    autocast: str | None = None,
) -> Scores:
    """Run ``model`` (in eval mode, no gradients) over the held-out ``x``, ``y``, clean and
    corrupted, and score it. ``autocast`` (``"bfloat16"``/``"float16"``) runs the forward
    passes under ``torch.autocast`` on the inputs' device, as the variant was trained."""
    clean = predict_logits(model, x, batch_size=batch_size, autocast=autocast)
    labels = [int(v) for v in y.tolist()]
    noise_acc: float | None = None
    if x.is_floating_point():
        noisy = predict_logits(
            model, add_noise(x, noise_std, seed=seed), batch_size=batch_size, autocast=autocast
        )
        noise_acc = accuracy([_predicted(r) for r in noisy], labels)
    probs = [_probabilities(row) for row in clean]
    predicted = [_predicted(r) for r in clean]
    return Scores(
        accuracy=accuracy(predicted, labels),
        ece=expected_calibration_error(probs, labels, predicted=predicted),
        noise_accuracy=noise_acc,
        diverged=sum(1 for row in clean if not _finite(row)),
    )


def predict_logits(
    model: Any, x: Any, *, batch_size: int = 512, autocast: str | None = None
) -> list[list[float]]:
    """The model's outputs for ``x`` as float rows, batch by batch (eval mode, no grad)."""
    import contextlib

    import torch

    model.eval()
    rows: list[list[float]] = []
    with torch.inference_mode():
        for i in range(0, len(x), batch_size):
            ctx = (
                torch.autocast(x.device.type, dtype=getattr(torch, autocast))
                if autocast
                else contextlib.nullcontext()
            )
            with ctx:
                out = model(x[i : i + batch_size])
            rows.extend(out.float().tolist())
    return rows


def _finite(row: Sequence[float]) -> bool:
    return all(math.isfinite(v) for v in row)


def _predicted(row: Sequence[float]) -> int:
    """The top class; -1 (never a label: always wrong) for a non-finite row."""
    if not _finite(row):
        return -1
    return max(range(len(row)), key=lambda i: row[i])


def _probabilities(row: Sequence[float]) -> list[float]:
    """Softmax, or a uniform row (no confidence) when the outputs are not finite."""
    if not _finite(row):
        return [1.0 / len(row)] * len(row)
    return softmax(row)


def _same_length(a: Sequence[Any], b: Sequence[Any]) -> None:
    if len(a) != len(b):
        raise ConfigError(f"{len(a)} predictions for {len(b)} labels")
    if not b:
        raise ConfigError("nothing to score: no labels")
