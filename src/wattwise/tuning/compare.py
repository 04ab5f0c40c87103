"""Comparing search strategies on one objective: what each costs to reach a target.

::

    comparison = compare_strategies(objective, space, strategies=("grid", "random", "bayes"),
                                    seeds=(0, 1, 2), n_trials=20, metric="val_accuracy",
                                    target=0.95)
    print_comparison(comparison, console)
    Path("compare.html").write_text(html_tune_comparison(comparison))

Every (strategy, seed) pair is one study of ``n_trials`` trials run by
:func:`wattwise.tuning.search.tune` with the same options. Per strategy, the figures are
taken over its seeds (:class:`StrategyStats`):

* **best metric**: each seed's best complete trial; the median over the seeds that had one.
* **total energy**: each study's energy, every trial in any state; the median per study
  and the sum.
* **energy-to-target**: each study's energy until its first trial reaching the target
  ended (:func:`~wattwise.tuning.accounting.energy_to_target`). A seed that never reached
  the target counts as **+∞** in the median, so a strategy has a median only when at least
  half of its seeds reached the target (more than half with an even count, where the two
  middle values are averaged); the min–max range is over the seeds that reached it.
  Trials-to-target follows the same rule.

The recommended strategy has the lowest median energy-to-target (ties: more seeds
reached, then the lower median study energy, then the order given); its saving is
``1 − median(strategy) / median(baseline)``, against ``grid`` by default.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from typing import Any

from wattwise.exceptions import ConfigError
from wattwise.tuning.accounting import TuneResult
from wattwise.tuning.search import Trial, tune
from wattwise.tuning.space import Space
from wattwise.tuning.strategies import check_strategy

__all__ = [
    "StrategyComparison",
    "StrategyStats",
    "compare_strategies",
    "html_tune_comparison",
    "print_comparison",
]

_PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#475569")


def _median_inf(values: Sequence[float | None]) -> float | None:
    """The median with None counted as +∞; None when there are no values or it is ∞."""
    if not values:
        return None
    median = statistics.median(math.inf if v is None else float(v) for v in values)
    return median if math.isfinite(median) else None


def _num(value: float | None) -> float | None:
    """A finite float, or None (keeps ``to_dict`` safe for ``allow_nan=False``)."""
    return float(value) if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class StrategyStats:
    """One strategy's studies, one per seed, and the figures taken over them.

    Attributes:
        strategy: the strategy's name.
        results: one study per seed, in seed order.
    """

    strategy: str
    results: tuple[TuneResult, ...]

    @property
    def seeds(self) -> tuple[int | None, ...]:
        """Each study's sampler seed."""
        return tuple(r.seed for r in self.results)

    @property
    def best_values(self) -> tuple[float | None, ...]:
        """Each seed's best complete metric (None: no trial completed)."""
        out = []
        for r in self.results:
            best = r.best
            out.append(None if best is None else best.value)
        return tuple(out)

    @property
    def best_median(self) -> float | None:
        """The median best metric over the seeds that completed a trial (None: none did)."""
        values = [v for v in self.best_values if v is not None]
        return float(statistics.median(values)) if values else None

    @property
    def total_energies_j(self) -> tuple[float, ...]:
        """Each study's total energy (J)."""
        return tuple(r.total_energy_j for r in self.results)

    @property
    def total_energy_j(self) -> float:
        """The energy of every study of this strategy together (J)."""
        return float(sum(self.total_energies_j))

    @property
    def total_energy_j_median(self) -> float:
        """The median study's total energy (J); 0 without studies."""
        values = self.total_energies_j
        return float(statistics.median(values)) if values else 0.0

    @property
    def energy_to_target_j(self) -> tuple[float | None, ...]:
        """Each seed's energy-to-target (J; None: the target was not reached)."""
        out = []
        for r in self.results:
            hit = r.target_hit
            out.append(None if hit is None else hit.energy_j)
        return tuple(out)

    @property
    def trials_to_target(self) -> tuple[int | None, ...]:
        """Each seed's trials ended until the first hit, that one included (None: missed)."""
        out = []
        for r in self.results:
            hit = r.target_hit
            out.append(None if hit is None else hit.trials_ended)
        return tuple(out)

    @property
    def reached(self) -> int:
        """Seeds whose study reached the target."""
        return sum(1 for e in self.energy_to_target_j if e is not None)

    @property
    def energy_to_target_median_j(self) -> float | None:
        """Median energy-to-target over the seeds, a missed seed counting as +∞ (J); None
        when that median is ∞ (at least half of the seeds missed; see the module)."""
        return _median_inf(self.energy_to_target_j)

    @property
    def energy_to_target_range_j(self) -> tuple[float, float] | None:
        """(min, max) energy-to-target over the seeds that reached it (J); None if none did."""
        values = [e for e in self.energy_to_target_j if e is not None]
        return (min(values), max(values)) if values else None

    @property
    def trials_to_target_median(self) -> float | None:
        """Median trials-to-target, with the same +∞ rule as the energy."""
        return _median_inf([None if n is None else float(n) for n in self.trials_to_target])

    @property
    def median_seed(self) -> TuneResult | None:
        """The study in the middle by energy-to-target (missed: +∞, then the better best
        metric first); the lower middle one of an even count. None without studies."""
        if not self.results:
            return None

        def key(i: int) -> tuple[float, float, int]:
            r = self.results[i]
            e = self.energy_to_target_j[i]
            best = self.best_values[i]
            rank = math.inf if best is None else (-best if r.maximize else best)
            return (math.inf if e is None else e, rank, i)

        order = sorted(range(len(self.results)), key=key)
        return self.results[order[(len(order) - 1) // 2]]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready figures, with one compact row per study (its best-metric
        curve included; the full trials are in each study's own result)."""
        rng = self.energy_to_target_range_j
        studies = []
        for r, best, e2t, t2t in zip(
            self.results,
            self.best_values,
            self.energy_to_target_j,
            self.trials_to_target,
            strict=True,
        ):
            studies.append(
                {
                    "seed": r.seed,
                    "study_name": r.study_name,
                    "storage": r.storage,
                    "trials": len(r.trials),
                    "complete": r.count("complete"),
                    "pruned": r.count("pruned"),
                    "failed": r.count("failed"),
                    "best_value": _num(best),
                    "total_energy_j": _num(r.total_energy_j),
                    "total_co2_g": _num(r.total_co2_g),
                    "energy_to_target_j": _num(e2t),
                    "trials_to_target": t2t,
                    "stopped": r.stopped,
                    "curve": [
                        {"trial": p.trial, "energy_j": _num(p.energy_j), "best": _num(p.best_value)}
                        for p in r.curve
                    ],
                }
            )
        return {
            "strategy": self.strategy,
            "seeds": list(self.seeds),
            "best_values": [_num(v) for v in self.best_values],
            "best_median": _num(self.best_median),
            "total_energy_j": _num(self.total_energy_j),
            "total_energy_j_median": _num(self.total_energy_j_median),
            "energy_to_target_j": [_num(v) for v in self.energy_to_target_j],
            "reached": self.reached,
            "energy_to_target_median_j": _num(self.energy_to_target_median_j),
            "energy_to_target_range_j": None if rng is None else [_num(rng[0]), _num(rng[1])],
            "trials_to_target": list(self.trials_to_target),
            "trials_to_target_median": _num(self.trials_to_target_median),
            "studies": studies,
        }


@dataclass(frozen=True)
class StrategyComparison:
    """Several strategies run on one objective, space and target.

    Attributes:
        metric: the metric's name.
        maximize: whether a higher metric is better.
        target: the metric that counts as reached (energy-to-target).
        n_trials: trials asked of every study (a grid may have run fewer: it stops when
            every point has run).
        strategies: the strategies' figures, in the order run.
        baseline: the strategy savings are measured against.
    """

    metric: str
    maximize: bool
    target: float | None
    n_trials: int
    strategies: tuple[StrategyStats, ...]
    baseline: str = "grid"

    def get(self, strategy: str) -> StrategyStats | None:
        """The named strategy's figures, None when it was not compared."""
        return next((s for s in self.strategies if s.strategy == strategy), None)

    @property
    def recommended(self) -> StrategyStats | None:
        """The lowest median energy-to-target (ties: more seeds reached, then the lower
        median study energy, then the first given); None when no strategy has a median."""
        ranked = [
            (s.energy_to_target_median_j, -s.reached, s.total_energy_j_median, i, s)
            for i, s in enumerate(self.strategies)
            if s.energy_to_target_median_j is not None
        ]
        return min(ranked, key=lambda row: row[:4])[4] if ranked else None

    def saving_vs_baseline(self, strategy: str | StrategyStats) -> float | None:
        """``1 − median E2T(strategy) / median E2T(baseline)``: the share of the baseline's
        energy-to-target saved (negative: more). None when either has no median, the
        baseline was not compared, or its median is 0."""
        stats = self.get(strategy) if isinstance(strategy, str) else strategy
        base = self.get(self.baseline)
        if stats is None or base is None:
            return None
        mine, theirs = stats.energy_to_target_median_j, base.energy_to_target_median_j
        if mine is None or theirs is None or theirs <= 0:
            return None
        return 1.0 - mine / theirs

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready figures (safe for ``json.dumps(..., allow_nan=False)``)."""
        rec = self.recommended
        rows = []
        for s in self.strategies:
            row = s.to_dict()
            row["saving_vs_baseline"] = _num(self.saving_vs_baseline(s))
            rows.append(row)
        return {
            "metric": self.metric,
            "maximize": self.maximize,
            "target": _num(self.target),
            "n_trials": self.n_trials,
            "baseline": self.baseline,
            "recommended": None if rec is None else rec.strategy,
            "saving_vs_baseline": None if rec is None else _num(self.saving_vs_baseline(rec)),
            "strategies": rows,
        }


def compare_strategies(
    objective: Callable[[Trial], float] | str,
    space: Mapping[str, Any] | Space | str | os.PathLike[str],
    *,
    strategies: Sequence[str] = ("grid", "random", "bayes"),
    seeds: Sequence[int] = (0, 1, 2),
    n_trials: int = 20,
    metric: str = "metric",
    direction: str = "maximize",
    target: float | None = None,
    budget_kwh: float | None = None,
    tracker_options: Mapping[str, Any] | None = None,
    store: Any = None,
    storage: str | os.PathLike[str] | None = None,
    study_prefix: str = "compare",
    on_study: Callable[[str, int, TuneResult], None] | None = None,
    baseline: str = "grid",
) -> StrategyComparison:
    """Run the same search under each strategy and seed; the figures per strategy.

    Studies run one at a time, seed by seed: every strategy's study for the first seed,
    then the next seed, so a drift in the machine's state (temperature, background load)
    spreads over the strategies instead of favouring the first; the strategies' order
    rotates by one with each seed, so no strategy always goes first (and pays alone for
    what an objective does once per process, such as importing a framework: warm such an
    objective up before comparing). Each is
    :func:`wattwise.tuning.search.tune` with the same ``n_trials``, ``target``,
    ``budget_kwh`` (per study) and options, named ``f"{study_prefix}-{strategy}-s{seed}"``.

    Args:
        objective, space: as for :func:`~wattwise.tuning.search.tune`.
        strategies: the strategies to compare (at least one, each once).
        seeds: the sampler seeds every strategy runs with (at least one, each once).
        n_trials: trials per study.
        metric, direction: the metric's name and whether higher or lower is better.
        target: the metric that counts as reached (required: it defines the comparison).
        budget_kwh: an energy budget for each study.
        tracker_options: every trial's tracker options (see ``tune``).
        store: where trial runs are saved; a path or URL is opened once and shared by
            every study.
        storage: an Optuna storage shared by the studies. A study already there under
            the same name is **continued** (``n_trials`` more trials), so use a new
            ``study_prefix`` for a fresh comparison.
        study_prefix: the studies' name prefix.
        on_study: called as ``on_study(strategy, seed, result)`` after each study.
        baseline: the strategy savings are measured against; when it is a known
            strategy not among ``strategies`` no saving is reported.

    Raises:
        ConfigError: no target, an empty, unknown or repeated strategy or seed, or an
            unknown baseline; and whatever ``tune`` raises for the other options.
    """
    names = _check_strategies(strategies)
    seed_list = _check_seeds(seeds)
    if target is None:
        raise ConfigError("compare needs a target: the metric each strategy must reach")
    if isinstance(target, bool) or not isinstance(target, int | float) or not math.isfinite(target):
        raise ConfigError(f"target must be a finite number, not {target!r}")
    if not isinstance(baseline, str) or not baseline:
        raise ConfigError(f"baseline must be a strategy name, not {baseline!r}")
    if baseline not in names:  # a known strategy not compared: no saving is stated
        check_strategy(baseline)
    if not isinstance(study_prefix, str) or not study_prefix:
        raise ConfigError("study_prefix must be a non-empty name")
    if direction not in ("maximize", "minimize"):
        raise ConfigError(f"direction must be 'maximize' or 'minimize', not {direction!r}")
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ConfigError(f"n_trials must be an integer ≥ 1, not {n_trials!r}")

    options = dict(tracker_options or {})
    if store is not None and "store" in options:
        raise ConfigError("give the store once: as store= or in tracker_options, not both")
    store = options.pop("store", store)
    opened = None
    if isinstance(store, str | os.PathLike):
        from wattwise.store import get_store

        opened = store = get_store(store)
    by_strategy: dict[str, list[TuneResult]] = {name: [] for name in names}
    try:
        for k, seed in enumerate(seed_list):
            rotated = names[k % len(names) :] + names[: k % len(names)]
            for name in rotated:
                result = tune(
                    objective,
                    space,
                    strategy=name,
                    n_trials=n_trials,
                    metric=metric,
                    direction=direction,
                    target=float(target),
                    budget_kwh=budget_kwh,
                    seed=seed,
                    storage=storage,
                    study_name=f"{study_prefix}-{name}-s{seed}",
                    tracker_options=options,
                    store=store,
                )
                by_strategy[name].append(result)
                if on_study is not None:
                    on_study(name, seed, result)
    finally:
        if opened is not None:
            opened.close()
    return StrategyComparison(
        metric=metric,
        maximize=direction == "maximize",
        target=float(target),
        n_trials=n_trials,
        strategies=tuple(StrategyStats(name, tuple(by_strategy[name])) for name in names),
        baseline=baseline,
    )


def _check_strategies(strategies: Sequence[str]) -> list[str]:
    if isinstance(strategies, str):
        raise ConfigError(f"strategies must be a list of names, not the string {strategies!r}")
    names = list(strategies)
    if not names:
        raise ConfigError("compare needs at least one strategy")
    for name in names:
        if not isinstance(name, str):
            raise ConfigError(f"a strategy is a name, not {name!r}")
        check_strategy(name)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"strategy given more than once: {', '.join(repeated)}")
    return names


def _check_seeds(seeds: Sequence[int]) -> list[int]:
    values = list(seeds)
    if not values:
        raise ConfigError("compare needs at least one seed")
    for seed in values:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError(f"a seed is an integer, not {seed!r}")
    repeated = sorted({s for s in values if values.count(s) > 1})
    if repeated:
        raise ConfigError(f"seed given more than once: {', '.join(map(str, repeated))}")
    return values


# -- terminal ------------------------------------------------------------------------------
def _op(comparison: StrategyComparison) -> str:
    return "≥" if comparison.maximize else "≤"


def _target_text(comparison: StrategyComparison) -> str:
    if comparison.target is None:
        return "no target"
    return f"{comparison.metric} {_op(comparison)} {comparison.target:g}"


def _e2t_text(stats: StrategyStats) -> str:
    """``median [min–max]``, ``missed`` without a median."""
    from wattwise.summary import fmt_energy

    median, rng = stats.energy_to_target_median_j, stats.energy_to_target_range_j
    text = "missed" if median is None else fmt_energy(median)
    if rng is not None and (median is None or rng[1] > rng[0]):
        text += f" [{fmt_energy(rng[0])}–{fmt_energy(rng[1])}]"
    return text


def _saving_text(comparison: StrategyComparison, stats: StrategyStats) -> str:
    if stats.strategy == comparison.baseline:
        return "baseline"
    saving = comparison.saving_vs_baseline(stats)
    if saving is None:
        return "—"
    if abs(saving) < 0.005:
        return "same"
    return f"{saving:.0%} less" if saving > 0 else f"{-saving:.0%} more"


def _recommendation(comparison: StrategyComparison) -> str:
    """One plain-text sentence naming the recommended strategy and its saving."""
    from wattwise.summary import fmt_energy

    rec = comparison.recommended
    target = _target_text(comparison)
    if rec is None:
        return (
            f"no strategy reached {target} in at least half of its seeds: no recommendation "
            "(give each study more trials, or a less demanding target)"
        )
    n = len(rec.results)
    line = (
        f"recommended: {rec.strategy}, median energy-to-target "
        f"{fmt_energy(rec.energy_to_target_median_j or 0.0)} ({rec.reached}/{n} seeds reached "
        f"{target}"
    )
    rng = rec.energy_to_target_range_j
    if rng is not None and rng[1] > rng[0]:
        line += f", range {fmt_energy(rng[0])}–{fmt_energy(rng[1])}"
    line += ")"
    base = comparison.get(comparison.baseline)
    saving = comparison.saving_vs_baseline(rec)
    if rec.strategy == comparison.baseline:
        line += f"; it is the baseline: no other strategy did better than {rec.strategy}"
    elif base is None:
        line += f"; no saving stated: the baseline {comparison.baseline} was not compared"
    elif saving is None:
        line += (
            f"; {base.strategy} reached the target in only {base.reached}/{len(base.results)} "
            f"seeds, so it has no median to state a saving against"
        )
    elif abs(saving) < 0.005:
        line += f"; about as much energy as {base.strategy}"
    else:
        line += f"; {saving:.0%} less energy than {base.strategy}"
    rival = _closest_rival(comparison, rec)
    if rival is not None:
        line += (
            f". Its range overlaps {rival.strategy}'s: with {n} seed(s) the ranking may "
            "be seed noise"
        )
    elif n == 1:
        line += ". One seed: no spread, so the ranking may be seed noise"
    return line


def _closest_rival(comparison: StrategyComparison, rec: StrategyStats) -> StrategyStats | None:
    """The runner-up by median, when its min–max range overlaps the recommended one's."""
    others = [
        s for s in comparison.strategies if s is not rec and s.energy_to_target_median_j is not None
    ]
    if not others:
        return None
    rival = min(others, key=lambda s: s.energy_to_target_median_j or 0.0)
    a, b = rec.energy_to_target_range_j, rival.energy_to_target_range_j
    if a is None or b is None:
        return None
    return rival if a[1] >= b[0] else None


def print_comparison(comparison: StrategyComparison, console: Any) -> None:
    """A table of the strategies (★ the recommended one), the notes a reader must know
    before trusting the ranking (one line each, as on the HTML page), then one line on the
    choice."""
    from rich.markup import escape as rich_escape
    from rich.table import Table

    from wattwise.summary import fmt_energy

    seeds = max((len(s.results) for s in comparison.strategies), default=0)
    better = "higher" if comparison.maximize else "lower"
    table = Table(
        title=f"tune compare · target {rich_escape(_target_text(comparison))} ({better} is "
        f"better) · {seeds} seed(s) × {comparison.n_trials} trials per strategy",
        title_justify="left",
    )
    table.add_column("strategy")
    table.add_column("reached", justify="right")
    table.add_column(f"best {rich_escape(comparison.metric)}\n(median)", justify="right")
    table.add_column("energy per study\n(median)", justify="right")
    table.add_column("energy-to-target\nmedian [min–max]", justify="right")
    table.add_column("trials to\ntarget", justify="right")
    table.add_column(f"vs {rich_escape(comparison.baseline)}", justify="right")
    rec = comparison.recommended
    for s in comparison.strategies:
        best = s.best_median
        trials = s.trials_to_target_median
        table.add_row(
            rich_escape(s.strategy) + (" ★" if s is rec else ""),
            f"{s.reached}/{len(s.results)}",
            "—" if best is None else f"{best:.4g}",
            fmt_energy(s.total_energy_j_median),
            _e2t_text(s),
            "—" if trials is None else f"{trials:g}",
            _saving_text(comparison, s),
        )
    console.print(table)
    for note in _notes(comparison):
        console.print(f"[dim]note: {rich_escape(note)}.[/dim]", soft_wrap=True)
    mark = "★ " if rec is not None else ""
    console.print(mark + rich_escape(_recommendation(comparison)), soft_wrap=True)


# -- HTML ----------------------------------------------------------------------------------
def _h(value: object) -> str:
    return escape(str(value), quote=True)


def html_tune_comparison(
    comparison: StrategyComparison, *, generated_at: datetime | None = None
) -> str:
    """The comparison as one self-contained HTML page (no script, nothing fetched).

    Charts: the median energy-to-target per strategy, with a whisker from the seeds'
    minimum to maximum; and the best metric against cumulative energy, one line per
    strategy for its median seed (:attr:`StrategyStats.median_seed`), with the target as a
    dashed line. Then the strategies' table and one row per study.
    """
    from wattwise.report.html import html_page
    from wattwise.summary import fmt_energy

    now = generated_at or datetime.now(timezone.utc)
    rec = comparison.recommended
    seeds = max((len(s.results) for s in comparison.strategies), default=0)
    better = "higher" if comparison.maximize else "lower"
    target = _target_text(comparison)
    rows = []
    for s in comparison.strategies:
        best = s.best_median
        trials = s.trials_to_target_median
        rng = s.energy_to_target_range_j
        median = s.energy_to_target_median_j
        spread = "" if rng is None else f"{fmt_energy(rng[0])} – {fmt_energy(rng[1])}"
        star = ' <span class="badge measured">recommended</span>' if s is rec else ""
        rows.append(
            f"<tr><td>{_h(s.strategy)}{star}</td>"
            f'<td class="n">{s.reached}/{len(s.results)}</td>'
            f'<td class="n">{"—" if best is None else _h(f"{best:.4g}")}</td>'
            f'<td class="n">{_h(fmt_energy(s.total_energy_j_median))}'
            f"{_note('all: ' + fmt_energy(s.total_energy_j))}</td>"
            f'<td class="n">{"missed" if median is None else _h(fmt_energy(median))}'
            f"{_note(spread)}</td>"
            f'<td class="n">{"—" if trials is None else _h(f"{trials:g}")}</td>'
            f'<td class="n">{_h(_saving_text(comparison, s))}</td></tr>'
        )
    table = (
        '<div class="scroll"><table><thead><tr><th>strategy</th><th class="n">seeds<br>'
        f'reached</th><th class="n">best {_h(comparison.metric)}<br>median</th>'
        '<th class="n">energy per<br>study, median</th>'
        '<th class="n">energy-to-target<br>median, min – max</th>'
        '<th class="n">trials to<br>target</th>'
        f'<th class="n">vs<br>{_h(comparison.baseline)}</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
    charts = [_e2t_chart(comparison), _curve_chart(comparison)]
    notes = "".join(
        f"<p><strong>Note:</strong> {_h(n[0].upper() + n[1:])}.</p>" for n in _notes(comparison)
    )
    body = (
        '<header><p class="kicker">wattwise tune comparison</p>'
        f"<h1>{len(comparison.strategies)} strategies, target {_h(target)}</h1>"
        f'<p class="sub">{seeds} seed(s) × {comparison.n_trials} trials per strategy; '
        f"{better} {_h(comparison.metric)} is better. Energy-to-target: the energy a study "
        "spent until its first trial reaching the target ended. A seed that never reached "
        "it counts as infinite in the median, so a strategy has a median only when at least "
        "half of its seeds reached the target; the range is over those that did.</p>"
        f"<p><strong>{'★ ' if rec is not None else ''}"
        f"{_h(_capital(_recommendation(comparison)))}.</strong></p></header>"
        f"{table}{notes}<h2>Charts</h2>"
        f'<div class="charts">{"".join(charts)}</div>'
        f"<h2>Studies</h2>{_studies_table(comparison)}"
        f"<footer>Generated by wattwise at {_h(now.isoformat())}.</footer>"
    )
    return html_page("wattwise tune comparison", body)


def _note(text: str) -> str:
    """A secondary figure on its own line under a cell's value."""
    return f'<br><span class="note">{_h(text)}</span>' if text else ""


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _color(i: int) -> str:
    return _PALETTE[i % len(_PALETTE)]


def _e2t_chart(comparison: StrategyComparison) -> str:
    """Bars of the median energy-to-target, whiskers min–max; strategies without a median
    are named under the chart instead of drawn as a misleading zero."""
    from wattwise.report.charts import Bar, bar_chart
    from wattwise.report.html import energy_scale
    from wattwise.summary import fmt_energy

    highs = [
        s.energy_to_target_range_j[1]
        for s in comparison.strategies
        if s.energy_to_target_range_j is not None and s.energy_to_target_median_j is not None
    ]
    div, unit = energy_scale(max(highs, default=0.0))
    bars, missing = [], []
    for i, s in enumerate(comparison.strategies):
        median, rng = s.energy_to_target_median_j, s.energy_to_target_range_j
        if median is None or rng is None:
            missing.append(s)
            continue
        bars.append(
            Bar(
                s.strategy,
                median / div,
                _color(i),
                tooltip=f"{s.strategy}: median {fmt_energy(median)}, "
                f"{fmt_energy(rng[0])} – {fmt_energy(rng[1])} over {s.reached}/"
                f"{len(s.results)} seeds that reached the target",
                low=rng[0] / div,
                high=rng[1] / div,
            )
        )
    chart = bar_chart(
        "energy-to-target",
        "Energy to reach the target (median, min–max over seeds)",
        bars,
        y_unit=unit,
        x_unit="strategy",
    )
    if missing:
        parts = []
        for s in missing:
            rng = s.energy_to_target_range_j
            reach = f"{s.reached}/{len(s.results)} seeds reached it"
            if rng is not None:
                reach += f", {fmt_energy(rng[0])} – {fmt_energy(rng[1])}"
            parts.append(f"{_h(s.strategy)} ({_h(reach)})")
        note = (
            f'<p class="note">No median, not drawn (the target was missed in at least half '
            f"of the seeds): {'; '.join(parts)}.</p>"
        )
        chart = chart.replace("</figure>", note + "</figure>", 1) if "</figure>" in chart else chart
    return chart


def _curve_chart(comparison: StrategyComparison) -> str:
    """The best metric against cumulative energy, the median seed of each strategy, as a
    step line (the best changes only when a trial ends), with the target dashed."""
    from wattwise.report.charts import Line, line_chart
    from wattwise.report.html import energy_scale

    picked = [(i, s, s.median_seed) for i, s in enumerate(comparison.strategies)]
    top = max(
        (p.energy_j for _, _, r in picked if r is not None for p in r.curve),
        default=0.0,
    )
    div, unit = energy_scale(top)
    lines = []
    for i, s, r in picked:
        if r is None or not r.curve:
            continue
        xs: list[float] = [0.0]
        ys: list[float] = [math.nan]
        for p in r.curve:
            y = math.nan if p.best_value is None else float(p.best_value)
            if math.isfinite(ys[-1]):
                xs.append(p.energy_j / div)  # the best so far, until this trial ended
                ys.append(ys[-1])
            xs.append(p.energy_j / div)
            ys.append(y)
        seed = "?" if r.seed is None else str(r.seed)
        lines.append(Line(s.strategy, xs, ys, _color(i), note=f"median seed {seed}"))
    if comparison.target is not None and lines:
        xmax = max(x for ln in lines for x in ln.xs)
        lines.append(
            Line(
                f"target {comparison.target:g}",
                [0.0, xmax],
                [comparison.target, comparison.target],
                "#64748b",
                dashed=True,
            )
        )
    chart = line_chart(
        "best-vs-energy",
        f"Best {comparison.metric} against cumulative energy",
        lines,
        x_unit=f"cumulative energy ({unit})",
        y_unit=f"best {comparison.metric} so far, each strategy's median seed",
        zero_based=False,
    )
    return chart


def _studies_table(comparison: StrategyComparison) -> str:
    from wattwise.summary import fmt_energy

    rows = []
    for s in comparison.strategies:
        for r, best, e2t, t2t in zip(
            s.results, s.best_values, s.energy_to_target_j, s.trials_to_target, strict=True
        ):
            states = ", ".join(
                f"{r.count(state)} {state}"
                for state in ("complete", "pruned", "budget", "failed")
                if r.count(state)
            )
            stopped = f'<br><span class="note">{_h(r.stopped)}</span>' if r.stopped else ""
            rows.append(
                f"<tr><td>{_h(s.strategy)}<br><code>{_h(r.study_name)}</code></td>"
                f'<td class="n">{_h(r.seed)}</td>'
                f"<td>{_h(states or 'none')}{stopped}</td>"
                f'<td class="n">{"—" if best is None else _h(f"{best:.4g}")}</td>'
                f'<td class="n">{_h(fmt_energy(r.total_energy_j))}</td>'
                f'<td class="n">{"missed" if e2t is None else _h(fmt_energy(e2t))}</td>'
                f'<td class="n">{"—" if t2t is None else t2t}</td></tr>'
            )
    return (
        '<div class="scroll"><table><thead><tr><th>strategy, study</th><th class="n">seed</th>'
        f'<th>trials</th><th class="n">best<br>{_h(comparison.metric)}</th>'
        '<th class="n">energy</th><th class="n">energy-to-<br>target</th>'
        '<th class="n">trials to<br>target</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _notes(comparison: StrategyComparison) -> list[str]:
    """What a reader must know before trusting the ranking, one sentence each."""
    notes: list[str] = []
    methods = {t.method for s in comparison.strategies for r in s.results for t in r.trials} - {
        "none"
    }
    if "estimated" in methods or "mixed" in methods:
        notes.append(
            "some trials' energy was estimated, not measured: the ranking holds for the "
            "estimate's model of the machine, not necessarily for its meter"
        )
    seen: set[str] = set()
    for s in comparison.strategies:
        for r in s.results:
            for n in r.notes:
                if n not in seen:
                    seen.add(n)
                    notes.append(f"{r.study_name}: {n}")
    stopped = [r.study_name for s in comparison.strategies for r in s.results if r.stopped]
    if stopped:
        notes.append(f"stopped by their budget before their trials ran out: {', '.join(stopped)}")
    grid = comparison.get("grid")
    short = [
        r.study_name
        for r in (grid.results if grid is not None else ())
        if len(r.trials) < comparison.n_trials and not r.stopped
    ]
    if short:
        notes.append(
            f"grid studies with fewer trials than asked ({', '.join(short)}): the grid has "
            "fewer points, and a grid study ends when every point has run"
        )
    return notes
