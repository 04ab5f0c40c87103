"""Energy-aware early stopping: patience and min-delta on a monitored metric.

The rule is the usual one (Keras, Lightning): stop when the monitored metric has not
improved by more than ``min_delta`` for ``patience`` epochs in a row. What wattwise adds
is in the run record: the energy, emissions and cost spent, and what the planned epochs
were forecast to cost, so the saving is a number rather than a hope.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from wattwise.exceptions import ConfigError

__all__ = ["EarlyStopping", "EarlyStoppingState"]


@dataclass(frozen=True)
class EarlyStopping:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs (``mode="min"`` for a loss, ``"max"`` for an accuracy)."""

    monitor: str
    mode: Literal["min", "max"] = "min"
    patience: int = 3
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.monitor, str) or not self.monitor:
            raise ConfigError(f"invalid early stopping monitor={self.monitor!r}: name a metric")
        if self.mode not in ("min", "max"):
            raise ConfigError(f"invalid early stopping mode={self.mode!r}: must be min or max")
        if isinstance(self.patience, bool) or not isinstance(self.patience, int):
            raise ConfigError(f"invalid early stopping patience={self.patience!r}: an integer")
        if self.patience < 1:
            raise ConfigError(f"invalid early stopping patience={self.patience!r}: must be ≥ 1")
        if isinstance(self.min_delta, bool) or not (
            isinstance(self.min_delta, int | float) and self.min_delta >= 0
        ):
            raise ConfigError(f"invalid early stopping min_delta={self.min_delta!r}: must be ≥ 0")


@dataclass
class EarlyStoppingState:
    """The running state of one :class:`EarlyStopping` rule.

    One value per epoch: a metric reported again for the same epoch (at its end, then by a
    late evaluation) replaces that epoch's value instead of spending patience twice. The
    state can start from a resumed fit's (``resume``).
    """

    rule: EarlyStopping
    best: float | None = None
    best_epoch: int | None = None
    wait: int = 0
    stopped_epoch: int | None = None
    seen: list[float] = field(default_factory=list)
    _values: dict[int, float] = field(default_factory=dict, repr=False)
    _start: tuple[float | None, int | None, int] = field(default=(None, None, 0), repr=False)

    def resume(self, best: float | None, best_epoch: int | None, wait: int) -> None:
        """Start from an earlier segment's best value and wait count."""
        self._start = (best, best_epoch, int(wait))
        self.best, self.best_epoch, self.wait = self._start

    def update(self, epoch: int, value: float) -> bool:
        """Feed the metric of ``epoch``; True when training should stop now."""
        if self.stopped_epoch is not None:
            return True
        self._values[int(epoch)] = float(value)
        self.seen = [self._values[k] for k in sorted(self._values)]
        best, best_epoch, wait = self._start
        for k in sorted(self._values):
            v = self._values[k]
            if math.isnan(v):
                improved = False
            elif best is None:
                improved = True
            elif self.rule.mode == "min":
                improved = v < best - self.rule.min_delta
            else:
                improved = v > best + self.rule.min_delta
            if improved:
                best, best_epoch, wait = v, k, 0
            else:
                wait += 1
        self.best, self.best_epoch, self.wait = best, best_epoch, wait
        if wait >= self.rule.patience:
            self.stopped_epoch = int(epoch)
            return True
        return False

    def reason(self) -> str:
        """Why it stopped, in one sentence."""
        best = (
            "every value was NaN"
            if self.best is None
            else f"best {self.best:.4g} at epoch {self.best_epoch}"
        )
        return (
            f"early stopping: {self.rule.monitor} did not improve by more than "
            f"{self.rule.min_delta:g} for {self.rule.patience} epoch(s) ({best})"
        )
