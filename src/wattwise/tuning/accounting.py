"""The energy accounting of a search: totals, waste, energy-to-target, best metric per kWh.

Pure functions over :class:`TrialSummary` rows (what each trial's tracked run measured);
nothing here imports Optuna, so the figures can be checked on a constructed history.

Definitions (docs/methodology.md, "Tune"):

* **total energy** of a study: the sum of its trials' headline energies, every state.
* **pruned energy**: of trials the pruner stopped early; **wasted energy**: of trials that
  gave no usable result (failed, or cut short when the study's budget ran out).
* **energy after the best**: of trials that ended after the trial that is best at the
  end; in hindsight, a search stopped there would have found the same best.
* **energy-to-target**: the energy spent from the study's start until the first complete
  trial whose metric reaches the target ended. Trials that ended by then count in full;
  a trial still running then (parallel workers) counts for the share of its duration
  that lay before that moment (a linear pro-rata, reported as ``prorated_j``).
* **best-metric curve**: after each trial ends, the cumulative energy of the trials ended
  so far and the best complete metric so far.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from wattwise.sweeping import _jsonable

__all__ = [
    "CurvePoint",
    "TargetHit",
    "TrialState",
    "TrialSummary",
    "TuneResult",
    "best_curve",
    "best_trial",
    "concurrency_notes",
    "ended_order",
    "energy_to_target",
    "reaches",
]

TrialState = Literal["complete", "pruned", "budget", "failed", "running"]
"""``complete``; ``pruned`` (stopped by the pruner); ``budget`` (cut short when the study's
budget ran out); ``failed`` (raised, or returned no finite metric); ``running``."""


@dataclass(frozen=True)
class TrialSummary:
    """One trial as the study's accounting sees it.

    Attributes:
        number: Optuna's trial number (0-based, in the order trials were started).
        state: see :data:`TrialState`.
        params: the parameter values it ran with.
        value: its metric (None unless ``complete``; a ``budget`` trial's partial value is
            in ``partial_value``).
        energy_j: headline energy of its run (J), what it used until it ended.
        co2_g: headline emissions of its run (gCO2e).
        duration_s: its run's duration (s).
        started_at, ended_at: its run's start and end (UTC).
        run_id: its run in the wattwise store.
        method: ``measured``/``estimated``/``mixed`` (the run's headline method).
        headline: ``machine`` or ``process``: which energy the run's headline counts.
        host: the host it ran on.
        intermediate: epoch → the metric reported to the pruner.
        energy_objective_kwh: the second objective of a ``pareto`` study (its energy).
        partial_value: what a ``budget`` trial returned from its shortened training.
        note: why it was pruned, cut or failed.
    """

    number: int
    state: TrialState
    params: Mapping[str, Any]
    value: float | None
    energy_j: float
    co2_g: float
    duration_s: float
    started_at: datetime | None = None
    ended_at: datetime | None = None
    run_id: str | None = None
    method: str = "none"
    headline: str = "machine"  # "" for a trial that never had a run
    host: str = ""
    intermediate: Mapping[int, float] = field(default_factory=dict)
    energy_objective_kwh: float | None = None
    partial_value: float | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready figures."""
        return {
            "number": self.number,
            "state": self.state,
            "params": {k: _jsonable(v) for k, v in self.params.items()},
            "value": _finite_or_none(self.value),
            "energy_j": self.energy_j,
            "co2_g": self.co2_g,
            "duration_s": self.duration_s,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "run_id": self.run_id,
            "method": self.method,
            "headline": self.headline,
            "host": self.host,
            "intermediate": {str(k): _finite_or_none(v) for k, v in self.intermediate.items()},
            "partial_value": _finite_or_none(self.partial_value),
            "note": self.note,
        }


@dataclass(frozen=True)
class TargetHit:
    """When a study first reached its target.

    Attributes:
        trial: number of the first complete trial whose metric reached the target.
        energy_j: energy spent from the study's start until that trial ended (J).
        co2_g: the emissions of that energy (gCO2e), pro-rated the same way.
        trials_ended: trials that had ended by then, that one included.
        elapsed_s: from the first trial's start to that trial's end (s).
        prorated_j: the part of ``energy_j`` counted pro rata from trials still running.
    """

    trial: int
    energy_j: float
    co2_g: float
    trials_ended: int
    elapsed_s: float
    prorated_j: float = 0.0


@dataclass(frozen=True)
class CurvePoint:
    """The best-metric curve after one more trial ended."""

    trial: int
    energy_j: float
    best_value: float | None


def reaches(value: float | None, target: float, maximize: bool) -> bool:
    """Whether ``value`` is at or beyond ``target`` (≥ when maximizing, ≤ otherwise)."""
    if value is None or not math.isfinite(value):
        return False
    return value >= target if maximize else value <= target


def ended_order(trials: Sequence[TrialSummary]) -> list[TrialSummary]:
    """The trials that ended, by end time (then number); running ones are left out."""
    done = [t for t in trials if t.state != "running"]
    return sorted(done, key=lambda t: (_ts(t.ended_at, math.inf), t.number))


def best_trial(trials: Sequence[TrialSummary], maximize: bool) -> TrialSummary | None:
    """The complete trial with the best metric (ties: the one that ended first)."""
    best: TrialSummary | None = None
    for t in ended_order(trials):
        if t.state != "complete" or t.value is None or not math.isfinite(t.value):
            continue
        if best is None or (t.value > best.value if maximize else t.value < best.value):  # type: ignore[operator]
            best = t
    return best


def energy_to_target(
    trials: Sequence[TrialSummary], target: float, *, maximize: bool
) -> TargetHit | None:
    """Energy spent until the first complete trial reaching ``target`` ended (None if
    none did). See the module's docstring for how running trials are counted."""
    order = ended_order(trials)
    hit = next(
        (t for t in order if t.state == "complete" and reaches(t.value, target, maximize)), None
    )
    if hit is None:
        return None
    if hit.ended_at is None:  # no timestamps: count in end order, sequentially
        upto = order[: order.index(hit) + 1]
        return TargetHit(
            hit.number,
            sum(t.energy_j for t in upto),
            sum(t.co2_g for t in upto),
            len(upto),
            sum(t.duration_s for t in upto),
        )
    t_hit = hit.ended_at.timestamp()
    energy = co2 = prorated = 0.0
    ended = 0
    starts = []
    for t in trials:
        if t.started_at is None:
            continue
        start = t.started_at.timestamp()
        starts.append(start)
        end = _ts(t.ended_at, math.inf)
        if end <= t_hit:
            energy += t.energy_j
            co2 += t.co2_g
            ended += 1
        elif start < t_hit:
            span = (end if math.isfinite(end) else start + t.duration_s) - start
            share = min(1.0, (t_hit - start) / span) if span > 0 else 0.0
            energy += t.energy_j * share
            co2 += t.co2_g * share
            prorated += t.energy_j * share
    elapsed = t_hit - min(starts) if starts else hit.duration_s
    return TargetHit(hit.number, energy, co2, ended, elapsed, prorated)


def best_curve(trials: Sequence[TrialSummary], *, maximize: bool) -> list[CurvePoint]:
    """One point per ended trial: cumulative energy and the best complete metric so far."""
    points: list[CurvePoint] = []
    energy = 0.0
    best: float | None = None
    for t in ended_order(trials):
        energy += t.energy_j
        ok = t.state == "complete" and t.value is not None and math.isfinite(t.value)
        if ok and (best is None or (t.value > best if maximize else t.value < best)):  # type: ignore[operator]
            best = t.value
        points.append(CurvePoint(t.number, energy, best))
    return points


def concurrency_notes(trials: Sequence[TrialSummary]) -> list[str]:
    """Warnings about overlapping trials whose machine-wide headlines double count.

    Two trials that ran at the same time on one host, each counting the whole machine's
    energy, both include the other's: the study total counts that energy twice.
    """
    by_host: dict[str, list[TrialSummary]] = {}
    for t in trials:
        if t.headline == "machine" and t.started_at is not None and t.run_id is not None:
            by_host.setdefault(t.host, []).append(t)
    notes = []
    for host, rows in sorted(by_host.items()):
        rows.sort(key=lambda t: _ts(t.started_at, 0.0))
        overlapping = 0
        latest_end = -math.inf
        for t in rows:
            start = _ts(t.started_at, 0.0)
            if start < latest_end:
                overlapping += 1
            latest_end = max(latest_end, _ts(t.ended_at, start + t.duration_s))
        if overlapping:
            notes.append(
                f"{overlapping} trial(s) on {host or 'one host'} overlapped others while "
                "counting the whole machine's energy: the study total counts that energy "
                "more than once (run local workers with headline='process')"
            )
    return notes


def _ts(dt: datetime | None, default: float) -> float:
    return dt.timestamp() if dt is not None else default


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class TuneResult:
    """A study's trials and what its search cost.

    Every figure is computed from :attr:`trials`, so a result rebuilt from the study's
    storage (another process, a worker on another machine) reads the same.

    Attributes:
        study_name: the Optuna study.
        strategy: the strategy's name (``bayes``, ...).
        metric: what the objective returns.
        maximize: whether a higher metric is better.
        trials: every trial of the study, by number.
        target: the metric that counts as good enough (for energy-to-target), if set.
        budget_kwh, budget_gco2e: the study's budgets, if set.
        stopped: why the study stopped before its trials ran out (``budget: ...``).
        storage: where the study lives (``memory``, a journal file, a database URL
            without its password).
        seed: the sampler's seed (worker ``i`` uses ``seed + i``).
        workers: worker processes that ran trials in the last call.
        pareto: a two-objective study (metric, energy).
        notes: what the accounting wants a reader to know (overlapping trials, workers
            that failed).
    """

    study_name: str
    strategy: str
    metric: str
    maximize: bool
    trials: tuple[TrialSummary, ...]
    target: float | None = None
    budget_kwh: float | None = None
    budget_gco2e: float | None = None
    stopped: str | None = None
    storage: str = "memory"
    seed: int | None = None
    workers: int = 1
    pareto: bool = False
    notes: tuple[str, ...] = ()

    def _sum(self, *states: str, what: str = "energy_j") -> float:
        return float(sum(getattr(t, what) for t in self.trials if not states or t.state in states))

    @property
    def total_energy_j(self) -> float:
        """Energy of every trial (J)."""
        return self._sum()

    @property
    def total_co2_g(self) -> float:
        """Emissions of every trial (gCO2e)."""
        return self._sum(what="co2_g")

    @property
    def pruned_energy_j(self) -> float:
        """Energy of trials the pruner stopped (J)."""
        return self._sum("pruned")

    @property
    def wasted_energy_j(self) -> float:
        """Energy of trials with no usable result: failed, or cut by the budget (J)."""
        return self._sum("failed", "budget")

    @property
    def best(self) -> TrialSummary | None:
        """The complete trial with the best metric (ties: the first to end)."""
        return best_trial(self.trials, self.maximize)

    @property
    def energy_after_best_j(self) -> float:
        """Energy of the trials that ended after the best one (J)."""
        best = self.best
        if best is None:
            return 0.0
        order = ended_order(self.trials)
        return sum(t.energy_j for t in order[order.index(best) + 1 :])

    @property
    def target_hit(self) -> TargetHit | None:
        """Energy-to-target (None without a target, or when no trial reached it)."""
        if self.target is None:
            return None
        return energy_to_target(self.trials, self.target, maximize=self.maximize)

    @property
    def curve(self) -> list[CurvePoint]:
        """The best metric against the cumulative energy, one point per ended trial."""
        return best_curve(self.trials, maximize=self.maximize)

    @property
    def front(self) -> tuple[TrialSummary, ...]:
        """Complete trials on the metric-energy Pareto front, by rising energy."""
        from wattwise.report.compare import pareto_front

        ok = [t for t in self.trials if t.state == "complete" and t.value is not None]
        idx = pareto_front(
            [t.energy_j for t in ok], [float(t.value or 0.0) for t in ok], maximize=self.maximize
        )
        return tuple(sorted((ok[i] for i in idx), key=lambda t: t.energy_j))

    def count(self, state: TrialState) -> int:
        """Trials in ``state``."""
        return sum(1 for t in self.trials if t.state == state)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready figures."""
        hit = self.target_hit
        best = self.best
        return {
            "study_name": self.study_name,
            "strategy": self.strategy,
            "metric": self.metric,
            "maximize": self.maximize,
            "target": self.target,
            "budget_kwh": self.budget_kwh,
            "budget_gco2e": self.budget_gco2e,
            "stopped": self.stopped,
            "storage": self.storage,
            "seed": self.seed,
            "workers": self.workers,
            "pareto": self.pareto,
            "total_energy_j": self.total_energy_j,
            "total_co2_g": self.total_co2_g,
            "pruned_energy_j": self.pruned_energy_j,
            "wasted_energy_j": self.wasted_energy_j,
            "energy_after_best_j": self.energy_after_best_j,
            "best_trial": best.number if best is not None else None,
            "best_value": best.value if best is not None else None,
            "energy_to_target": None if hit is None else dataclasses.asdict(hit),
            "curve": [dataclasses.asdict(p) for p in self.curve],
            "front": [t.number for t in self.front],
            "notes": list(self.notes),
            "trials": [t.to_dict() for t in self.trials],
        }
