"""Printing a search: one line per trial as it ends, the trials table and the energy account.

Shared by ``wattwise tune`` / ``wattwise tune show``, the demo and API users::

    from rich.console import Console
    from wattwise.tuning.show import print_result, trial_line

    result = wattwise.tune(objective, space, on_trial=lambda t: print(trial_line(t, "acc")))
    print_result(result, Console())

Nothing here imports Optuna or measures anything: it reads a :class:`TuneResult`.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from wattwise.tuning.accounting import TrialState, TrialSummary, TuneResult
from wattwise.tuning.strategies import STRATEGIES

__all__ = [
    "default_storage_path",
    "fmt_params",
    "print_result",
    "print_studies",
    "show_command",
    "trial_line",
]

_ORDER: dict[TrialState, int] = {
    "complete": 0,
    "pruned": 1,
    "budget": 2,
    "failed": 3,
    "running": 4,
}
_STATE_WORDS: dict[str, str] = {
    "complete": "complete",
    "pruned": "pruned",
    "budget": "cut by the budget",
    "failed": "failed",
    "running": "running",
}


def default_storage_path() -> Path:
    """Where ``wattwise tune`` keeps studies unless told: ``studies.journal`` (an Optuna
    journal file) next to the default run store."""
    from wattwise.store import default_store_path

    return default_store_path().parent / "studies.journal"


def fmt_params(params: Mapping[str, Any]) -> str:
    """``lr=0.01 width=16``: floats to 4 significant digits."""
    return " ".join(f"{k}={_fmt_value(v)}" for k, v in params.items())


def trial_line(summary: TrialSummary, metric: str) -> str:
    """One line for a trial that just ended, e.g.
    ``trial 3 complete  lr=0.01 width=16  val_accuracy 0.9612  12.3 J (estimated)``.

    A pruned trial shows the last value reported to the pruner and its epoch, a trial cut
    by the budget what it returned, a failed one why it failed.
    """
    from wattwise.summary import fmt_energy

    parts = [f"trial {summary.number} {_STATE_WORDS.get(summary.state, summary.state)}"]
    if summary.params:
        parts.append(fmt_params(summary.params))
    shown = _value_text(summary)
    if shown:
        parts.append(f"{metric} {shown}")
    parts.append(f"{fmt_energy(summary.energy_j)} ({summary.method})")
    line = "  ".join(parts)
    if summary.state in ("failed", "budget") and summary.note:
        line += f"  {summary.note}"
    return line


def show_command(result: TuneResult) -> str | None:
    """The command that prints the study again (None for a study kept in memory)."""
    if result.storage == "memory":
        return None
    command = f"wattwise tune show --study {shlex.quote(result.study_name)}"
    if result.storage != str(default_storage_path()):
        command += f" --storage {shlex.quote(result.storage)}"
    return command


def print_result(result: TuneResult, console: Any, *, top: int = 10) -> None:
    """The study's trials, best first (``top`` of them), and its energy account: totals,
    pruned, wasted and after-the-best energy, the best trial (the Pareto front for a
    ``pareto`` study), energy-to-target, the budget, notes and where the study is stored."""
    console.print(_trials_table(result, top))
    hidden = len(result.trials) - min(top, len(result.trials))
    if hidden > 0:
        console.print(f"… and {hidden} more trial{'s' if hidden != 1 else ''} not shown")
    console.print()
    from rich.text import Text

    rows = _account(result)
    width = max(len(label) for label, _ in rows)
    for label, text in rows:
        console.print(Text.assemble((label.ljust(width), "bold"), "  ", text), soft_wrap=True)


def print_studies(results: Sequence[TuneResult], console: Any, *, where: str) -> None:
    """A table of studies: name, strategy, trials by state, best metric, total energy."""
    from rich.markup import escape
    from rich.table import Table

    from wattwise.summary import fmt_energy

    table = Table(title=f"studies in {escape(where)} ({len(results)})", title_justify="left")
    for col in ("study", "strategy", "trials", "metric", "best", "energy", "gCO2e", "stopped"):
        table.add_column(col, justify="right" if col in ("best", "energy", "gCO2e") else "left")
    for r in results:
        best = r.best
        table.add_row(
            escape(r.study_name),
            r.strategy,
            _counts(r),
            f"{escape(r.metric)} {'↑' if r.maximize else '↓'}",
            "—" if best is None or best.value is None else f"{best.value:.4g}",
            fmt_energy(r.total_energy_j),
            f"{r.total_co2_g:.3g}",
            escape(r.stopped or ""),
        )
    console.print(table)


# -- the pieces ----------------------------------------------------------------------------
def _trials_table(result: TuneResult, top: int) -> Any:
    from rich.markup import escape
    from rich.table import Table

    from wattwise.summary import fmt_duration, fmt_energy

    names: list[str] = []
    for t in result.trials:
        names += [str(k) for k in t.params if str(k) not in names]
    best = result.best
    front = {t.number for t in result.front} if result.pareto else set()
    n = len(result.trials)
    title = (
        f"study {escape(result.study_name)} · {result.strategy} · "
        f"{n} trial{'s' if n != 1 else ''}, best {escape(result.metric)} first"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("state")
    for name in names:
        table.add_column(escape(name), justify="right")
    table.add_column(f"{escape(result.metric)} {'↑' if result.maximize else '↓'}", justify="right")
    for col in ("energy", "gCO2e", "time"):
        table.add_column(col, justify="right")
    table.add_column("")
    for t in _ranked(result)[:top]:
        mark = ""
        if result.pareto and t.number in front:
            mark = "✓ front"
        elif not result.pareto and best is not None and t.number == best.number:
            mark = "★ best"
        table.add_row(
            str(t.number),
            _STATE_WORDS.get(t.state, t.state),
            *(escape(_fmt_value(t.params[k])) if k in t.params else "—" for k in names),
            _value_text(t) or "—",
            fmt_energy(t.energy_j),
            f"{t.co2_g:.3g}",
            fmt_duration(t.duration_s),
            mark,
        )
    return table


def _ranked(result: TuneResult) -> list[TrialSummary]:
    """Complete trials by metric (best first), then pruned, cut, failed, running by number."""
    sign = -1.0 if result.maximize else 1.0

    def key(t: TrialSummary) -> tuple[int, float, int]:
        if t.state == "complete" and t.value is not None and math.isfinite(t.value):
            return (0, sign * t.value, t.number)
        return (1 + _ORDER.get(t.state, 5), 0.0, t.number)

    return sorted(result.trials, key=key)


def _account(result: TuneResult) -> list[tuple[str, str]]:
    """The energy account as (label, plain text) rows."""
    from wattwise.summary import fmt_duration, fmt_energy

    rows: list[tuple[str, str]] = []
    total = result.total_energy_j

    def share(energy_j: float) -> str:
        return f" ({energy_j / total:.0%} of the total)" if total > 0 and energy_j > 0 else ""

    rows.append(
        ("strategy", f"{result.strategy}: {STRATEGIES.get(result.strategy, 'unknown strategy')}")
    )
    rows.append(("trials", _counts(result, long=True)))
    methods = sorted({t.method for t in result.trials if t.state != "running"})
    rows.append(
        (
            "energy",
            f"{fmt_energy(total)} in total, {result.total_co2_g:.3g} gCO2e"
            + (f" ({', '.join(methods)})" if methods else ""),
        )
    )
    if result.count("pruned") or result.pruned_energy_j:
        rows.append(
            (
                "pruned",
                f"{fmt_energy(result.pruned_energy_j)}{share(result.pruned_energy_j)} "
                f"in {result.count('pruned')} trial(s) the pruner stopped early",
            )
        )
    rows.append(
        (
            "wasted",
            f"{fmt_energy(result.wasted_energy_j)}{share(result.wasted_energy_j)} in trials "
            "that failed or were cut by the budget",
        )
    )
    best = result.best
    if best is not None:
        after = result.energy_after_best_j
        rows.append(
            (
                "after best",
                f"{fmt_energy(after)}{share(after)} spent after trial {best.number} ended "
                "(a search stopped there finds the same best)",
            )
        )
    if result.pareto:
        front = result.front
        rows.append(
            (
                "Pareto front",
                f"{len(front)} trial(s) that no other beats on both {result.metric} and energy",
            )
        )
        rows += [
            (
                "",
                f"trial {t.number}: {result.metric} {_fmt_value(t.value)}, "
                f"{fmt_energy(t.energy_j)}  {fmt_params(t.params)}",
            )
            for t in front
        ]
    elif best is not None:
        rows.append(
            (
                "best",
                f"trial {best.number}: {result.metric} {_fmt_value(best.value)}  "
                f"{fmt_params(best.params)}  ({fmt_energy(best.energy_j)})",
            )
        )
    else:
        rows.append(("best", "no trial completed"))
    if result.target is not None:
        aim = f"{result.metric} {'≥' if result.maximize else '≤'} {_fmt_value(result.target)}"
        hit = result.target_hit
        if hit is None:
            rows.append(
                (
                    "target",
                    f"{aim} not reached by any of the {result.count('complete')} complete "
                    f"trial(s); {fmt_energy(total)} spent",
                )
            )
        else:
            prorated = (
                f", {fmt_energy(hit.prorated_j)} of it pro rata from trials still running"
                if hit.prorated_j > 0
                else ""
            )
            rows.append(
                (
                    "to target",
                    f"{aim} reached by trial {hit.trial} after {fmt_energy(hit.energy_j)}, "
                    f"{hit.co2_g:.3g} gCO2e, {hit.trials_ended} trial(s) ended, "
                    f"{fmt_duration(hit.elapsed_s)}{prorated}",
                )
            )
    if result.budget_kwh is not None or result.budget_gco2e is not None:
        limits = []
        if result.budget_kwh is not None:
            used = total / 3.6e6 / result.budget_kwh
            limits.append(f"{_fmt_value(result.budget_kwh)} kWh ({used:.0%} used)")
        if result.budget_gco2e is not None:
            used = result.total_co2_g / result.budget_gco2e
            limits.append(f"{_fmt_value(result.budget_gco2e)} gCO2e ({used:.0%} used)")
        stop = (
            f"; it stopped the study ({result.stopped})"
            if result.stopped
            else "; the study ended within it"
        )
        rows.append(("budget", ", ".join(limits) + stop))
    elif result.stopped:
        rows.append(("stopped", result.stopped))
    rows += [("note", note) for note in result.notes]
    command = show_command(result)
    if command is None:
        rows.append(("stored", f"study {result.study_name} in memory only (not saved)"))
    else:
        rows.append(
            (
                "stored",
                f"study {result.study_name} in {result.storage}; see it again: {command}",
            )
        )
    if any(t.run_id for t in result.trials):
        rows.append(
            (
                "runs",
                "each trial is a run in the store: wattwise runs list --tag "
                + shlex.quote("study=" + result.study_name),
            )
        )
    return rows


def _counts(result: TuneResult, *, long: bool = False) -> str:
    parts = [
        f"{result.count(state)} {_STATE_WORDS[state] if long else state}"
        for state in _ORDER
        if result.count(state)
    ]
    n = len(result.trials)
    if long:
        return f"{n}" + (f": {', '.join(parts)}" if parts else "")
    return f"{n} ({', '.join(parts)})" if parts else "0"


def _value_text(t: TrialSummary) -> str:
    if t.state == "complete" and t.value is not None:
        return _fmt_value(t.value)
    if t.state == "budget" and t.partial_value is not None:
        return f"{_fmt_value(t.partial_value)} (partial)"
    if t.state == "pruned" and t.intermediate:
        epoch = max(t.intermediate)
        return f"{_fmt_value(t.intermediate[epoch])} at epoch {epoch + 1}"
    return ""


def _fmt_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)
