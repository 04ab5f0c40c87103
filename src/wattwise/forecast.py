"""Forecast a training run's total footprint from the epochs seen so far.

Pure functions over cumulative figures taken at each epoch's end. The model, stated so a
reader can check it (docs/methodology.md, "Forecast"):

* total = what the run has used so far + Σ predicted cost of each remaining epoch;
* an epoch's cost is the increase of the run's cumulative figure between two epoch ends,
  so it includes whatever happens between epochs (validation, checkpointing);
* after one epoch, each remaining epoch is predicted to cost what the first did
  (carbontracker's rule), less its one-off warm-up when the session could see it: the
  time before the first epoch began plus the excess of the first epoch's steps over the
  pace of its later half (``warmup_s``), counted at the epoch's mean power;
* from two epochs on, the first is left out of the rate: it carries one-off set-up
  (data loader workers, allocator growth, autotuning, compilation) that later epochs do
  not repeat; the rate is the mean of the later epochs;
* from four epochs on (three after the first), a robust trend is fitted to the later
  epochs (Theil–Sen: the median of pairwise slopes), so a run whose epochs get slower or
  faster is projected along its trend rather than its mean; each projected epoch is kept
  between the cheapest later epoch seen and twice the dearest, so a short trend is not
  extrapolated to free epochs (or runaway ones) far out;
* the range is what the smallest and the largest later epoch would give if every
  remaining epoch cost that much; after one epoch it runs from "warm-up left out" to
  "warm-up repeated every epoch" (no spread without a warm-up).

Energy, emissions, cost and time are forecast with the same rule, each from its own
cumulative series, so a changing grid intensity moves the emissions forecast only as far
as it has been seen.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["EpochMark", "Forecast", "forecast"]


@dataclass(frozen=True)
class EpochMark:
    """The run's cumulative figures at the end of one epoch (from the run's start).

    ``epoch`` counts completed epochs of this run, 1-based. ``warmup_s`` (first epoch
    only) is the one-off time in it that later epochs will not repeat.
    """

    epoch: int
    duration_s: float
    energy_j: float
    co2_g: float
    cost: float
    warmup_s: float = 0.0


@dataclass(frozen=True)
class Forecast:
    """A forecast of the run's total over its planned epochs, made after ``after_epochs``.

    Totals are for the whole run as planned, including what was used so far. ``low``
    and ``high`` bound the energy from the spread of the epochs seen; ``rule`` names the
    rule used: ``first-epoch``, ``first-epoch-less-warmup``, ``mean-after-first``,
    ``trend-after-first``, or ``complete`` once every planned epoch has run.
    """

    after_epochs: int
    planned_epochs: int
    energy_j: float
    energy_low_j: float
    energy_high_j: float
    co2_g: float
    cost: float
    duration_s: float
    rule: str

    @property
    def energy_kwh(self) -> float:
        """Forecast IT energy in kWh."""
        return self.energy_j / 3.6e6

    def error_of(self, actual_energy_j: float) -> float:
        """Relative error of the energy forecast against an actual total (0.05 = +5 %)."""
        if actual_energy_j <= 0:
            return 0.0 if self.energy_j <= 0 else float("inf")
        return self.energy_j / actual_energy_j - 1.0


def _increments(values: Sequence[float]) -> list[float]:
    out, last = [], 0.0
    for v in values:
        out.append(v - last)
        last = v
    return out


def _theil_sen(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    slopes = [
        (ys[j] - ys[i]) / (xs[j] - xs[i])
        for i in range(len(xs))
        for j in range(i + 1, len(xs))
        if xs[j] != xs[i]
    ]
    slope = statistics.median(slopes) if slopes else 0.0
    intercept = statistics.median(y - slope * x for x, y in zip(xs, ys, strict=True))
    return slope, intercept


def _remaining(
    increments: Sequence[float], seen: int, planned: int, steady: float = 1.0
) -> tuple[float, str]:
    """Predicted cost of epochs ``seen + 1 .. planned`` (1-based) from the increments;
    ``steady`` is the share of the first increment that is not one-off warm-up."""
    left = planned - seen
    if left <= 0:
        return 0.0, "complete"
    if seen == 1:
        return increments[0] * steady * left, "first-epoch" if steady == 1.0 else (
            "first-epoch-less-warmup"
        )
    later = increments[1:]
    if len(later) < 3:
        return statistics.fmean(later) * left, "mean-after-first"
    xs = [float(i) for i in range(2, seen + 1)]
    slope, intercept = _theil_sen(xs, later)
    # a few epochs' trend is followed, not trusted to the horizon: down to the cheapest
    # later epoch seen at most, up to twice the dearest
    floor, cap = min(later), 2.0 * max(later)
    total = sum(min(cap, max(floor, intercept + slope * k)) for k in range(seen + 1, planned + 1))
    return total, "trend-after-first"


def forecast(marks: Sequence[EpochMark], planned_epochs: int) -> Forecast | None:
    """Forecast the run's totals at ``planned_epochs`` from its epoch-end ``marks``.

    Returns None before the first epoch ends or when ``planned_epochs`` is unknown (0).
    A run that has passed its plan is forecast at what it has used.
    """
    if not marks or planned_epochs <= 0:
        return None
    seen = len(marks)
    planned = max(planned_epochs, seen)
    last = marks[-1]
    first = marks[0]
    steady = 1.0
    if first.warmup_s > 0 and first.duration_s > 0:
        steady = max(0.0, 1.0 - first.warmup_s / first.duration_s)

    def project(values: Sequence[float]) -> tuple[float, str]:
        inc = _increments(values)
        more, rule = _remaining(inc, seen, planned, steady)
        return values[-1] + more, rule

    energy, rule = project([m.energy_j for m in marks])
    co2, _ = project([m.co2_g for m in marks])
    cost, _ = project([m.cost for m in marks])
    duration, _ = project([m.duration_s for m in marks])
    inc = _increments([m.energy_j for m in marks])
    spread = inc[1:] if seen > 1 else [inc[0] * steady, inc[0]]
    left = planned - seen
    low = last.energy_j + min(spread) * left
    high = last.energy_j + max(spread) * left
    return Forecast(
        after_epochs=seen,
        planned_epochs=planned,
        energy_j=energy,
        energy_low_j=min(low, energy),
        energy_high_j=max(high, energy),
        co2_g=co2,
        cost=cost,
        duration_s=duration,
        rule=rule,
    )
