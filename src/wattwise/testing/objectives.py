"""Small importable objectives for tests and worker processes (no ML framework needed).

``quadratic`` peaks at ``x = 0.3`` with 1.0 after its last epoch; each epoch sleeps
``0.01 × w`` seconds, so a wider ``w`` costs more time and energy; it logs ``score`` per
epoch, so a pruner can stop it. ``failing`` raises for ``x > 0.5``.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["EPOCHS", "failing", "quadratic"]

EPOCHS = 4


def quadratic(trial: Any) -> float:
    """``(1 - (x - 0.3)²) × (epoch + 1) / EPOCHS``, logged as ``score`` each epoch."""
    x = float(trial.params["x"])
    w = float(trial.params.get("w", 1))
    score = 0.0
    for epoch in trial.epochs(EPOCHS):
        time.sleep(0.01 * w)
        trial.step(samples=1)
        score = (1.0 - (x - 0.3) ** 2) * (epoch + 1) / EPOCHS
        trial.log(score=score)
    return score


def failing(trial: Any) -> float:
    """:func:`quadratic`, but raises ``ValueError`` for ``x > 0.5``."""
    if float(trial.params["x"]) > 0.5:
        raise ValueError(f"x={trial.params['x']:.3f} is too large")
    return quadratic(trial)
