"""Comparing runs: relative differences, the metric-vs-energy Pareto front, an HTML page.

A run is on the Pareto front when no other run used at most as much energy *and* reached
at least as good a metric, being strictly better in one. Those are the runs worth
choosing between; every other run is beaten on both counts by one of them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from typing import Literal

from wattwise.exceptions import ConfigError
from wattwise.record import Footprint, RunRecord
from wattwise.report.charts import Bar, Line, Point, bar_chart, line_chart, scatter_chart
from wattwise.report.html import energy_scale, html_page
from wattwise.summary import fmt_duration, fmt_energy

__all__ = [
    "CompareRow",
    "common_scope",
    "compare_rows",
    "comparison_notes",
    "html_comparison",
    "last_metric",
    "lower_is_better",
    "pareto_front",
]

_LOWER = frozenset(
    [
        "loss",
        "err",
        "error",
        "errors",
        "perplexity",
        "ppl",
        "mse",
        "mae",
        "rmse",
        "mape",
        "smape",
        "wer",
        "cer",
        "nll",
        "bpd",
        "ce",
        "entropy",
        "kl",
        "divergence",
        "fid",
        "regret",
        "time",
        "duration",
        "runtime",
        "latency",
    ]
)
_SCOPE = {"machine": "whole-machine", "process": "tracked processes'"}
_PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#475569")


def lower_is_better(metric: str) -> bool:
    """A guess from the name's parts (split at ``_ - . /``, digits and camelCase): losses,
    errors, divergences and times are better low; ``answer_f1`` or ``uptime`` are not."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", metric)
    parts = re.split(r"[^a-z0-9]+|(?<=[a-z])(?=[0-9])", spaced.lower())
    return any(p in _LOWER or p.endswith("loss") for p in parts)


def last_metric(record: RunRecord, metric: str) -> float | None:
    """The metric's value at the last epoch that logged it (None when never logged).

    A non-finite last value is returned as it is (a run that diverged must not look like
    its last good epoch); comparisons keep such a run off the Pareto front.
    """
    for p in reversed(record.phases):
        if p.kind == "epoch" and metric in p.metrics:
            return float(p.metrics[metric])
    return None


def common_scope(records: Sequence[RunRecord]) -> Literal["machine", "process"]:
    """The runs' headline scope when they share one, else ``machine`` (always recorded)."""
    scopes = {r.headline for r in records}
    return scopes.pop() if len(scopes) == 1 else "machine"


def pareto_front(
    energy: Sequence[float], metric: Sequence[float], *, maximize: bool = True
) -> list[int]:
    """Indices of the non-dominated (energy low, metric good) points, by rising energy."""
    sign = 1.0 if maximize else -1.0
    pts = [(e, sign * m) for e, m in zip(energy, metric, strict=True)]
    front = []
    for i, (e_i, m_i) in enumerate(pts):
        dominated = any(
            e_j <= e_i and m_j >= m_i and (e_j < e_i or m_j > m_i)
            for j, (e_j, m_j) in enumerate(pts)
            if j != i
        )
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: (pts[i][0], -pts[i][1]))


@dataclass(frozen=True)
class CompareRow:
    """One run's figures in the compared scope, against the first run's (``None``: no
    reference, or the first run's figure is zero)."""

    record: RunRecord
    footprint: Footprint
    energy_rel: float | None
    co2_rel: float | None
    duration_rel: float | None
    energy_per_sample_j: float | None
    metric: float | None
    on_front: bool


def _rel(value: float, ref: float) -> float | None:
    return value / ref - 1.0 if ref else None


def compare_rows(
    records: Sequence[RunRecord],
    metric: str | None = None,
    *,
    maximize: bool = True,
    scope: Literal["machine", "process"] | None = None,
) -> list[CompareRow]:
    """Each run's differences against the first, its metric and whether it is on the front.

    Figures are in ``scope`` (default :func:`common_scope`: the shared headline scope, or
    the whole machine when the runs' headlines differ, so every run counts the same way).
    A run whose metric is missing or not finite is never on the front.
    """
    if not records:
        raise ConfigError("compare needs at least one run")
    scope = scope or common_scope(records)
    fps = [r.machine if scope == "machine" else r.process for r in records]
    values = [last_metric(r, metric) if metric else None for r in records]
    have = [i for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    front: set[int] = set()
    if len(have) >= 2:
        sub = pareto_front(
            [fps[i].energy_j for i in have],
            [values[i] or 0.0 for i in have],
            maximize=maximize,
        )
        front = {have[k] for k in sub}
    base, base_s = fps[0], records[0].duration_s
    rows = []
    for i, (r, fp) in enumerate(zip(records, fps, strict=True)):
        samples = r.training.samples if r.training is not None else 0
        rows.append(
            CompareRow(
                r,
                fp,
                None if i == 0 else _rel(fp.energy_j, base.energy_j),
                None if i == 0 else _rel(fp.co2_g, base.co2_g),
                None if i == 0 else _rel(r.duration_s, base_s),
                fp.energy_j / samples if samples else None,
                values[i],
                i in front,
            )
        )
    return rows


def comparison_notes(records: Sequence[RunRecord], rows: Sequence[CompareRow]) -> list[str]:
    """What a reader must know before trusting the differences, one sentence each."""
    notes = []
    if len({r.headline for r in records}) > 1:
        notes.append(
            "the runs' headline scopes differ, so all are compared in the whole-machine scope"
        )
    if len({(r.carbon.zone, r.carbon.intensity_g_per_kwh, r.carbon.pue) for r in records}) > 1:
        notes.append(
            "the runs were converted with different zones, intensities or PUEs; compare "
            "energy, not emissions, for the hardware and code alone"
        )
    if len({row.footprint.method for row in rows}) > 1:
        notes.append(
            "the runs were obtained by different methods (measured and estimated): "
            "differences may come from the method as much as from the runs"
        )
    bad = sum(1 for row in rows if row.metric is not None and not math.isfinite(row.metric))
    if bad:
        notes.append(
            f"{bad} run(s) ended with a non-finite metric (diverged?) and are kept off the "
            "Pareto front"
        )
    return notes


def _pct(value: float | None) -> str:
    """A relative difference on its own line under the value (keeps columns narrow)."""
    return "" if value is None else f'<br><span class="note">{value:+.1%}</span>'


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def html_comparison(
    records: Sequence[RunRecord],
    metric: str | None = None,
    *,
    maximize: bool | None = None,
    generated_at: datetime | None = None,
) -> str:
    """Runs side by side as one self-contained HTML page.

    Args:
        records: two or more runs; differences are against the first.
        metric: an epoch metric (its last value) to plot against energy, with the Pareto
            front marked.
        maximize: whether a higher metric is better (default: guessed from its name by
            :func:`lower_is_better`, and the page says which was assumed).
    """
    now = generated_at or datetime.now(timezone.utc)
    better_high = maximize if maximize is not None else not (metric and lower_is_better(metric))
    rows = compare_rows(records, metric, maximize=better_high)
    scope = common_scope(records)
    labels = [str(i + 1) for i in range(len(records))]
    table_rows = []
    for label, row in zip(labels, rows, strict=True):
        r, fp = row.record, row.footprint
        per_sample = "—" if row.energy_per_sample_j is None else f"{row.energy_per_sample_j:.3g}"
        metric_cell = ""
        if metric:
            mark = ' <span class="badge measured">Pareto</span>' if row.on_front else ""
            value = "—" if row.metric is None else f"{row.metric:.4g}"
            metric_cell = f'<td class="n">{_e(value)}{mark}</td>'
        table_rows.append(
            f'<tr><td class="n">{label}</td><td>{_e(r.name)}<br><code>{_e(r.id[:8])}</code> '
            f'<span class="status {_e(r.status)}">{_e(r.status)}</span></td>'
            f'<td class="n">{_e(fmt_duration(r.duration_s))}{_pct(row.duration_rel)}</td>'
            f'<td class="n">{_e(fmt_energy(fp.energy_j))}{_pct(row.energy_rel)}</td>'
            f'<td><span class="badge {_e(fp.method)}">{_e(fp.method)}</span></td>'
            f'<td class="n">{_e(f"{fp.co2_g:.3g}")}{_pct(row.co2_rel)}</td>'
            f'<td class="n">{_e(f"{fp.cost:.3g} {r.carbon.currency}")}</td>'
            f'<td class="n">{_e(per_sample)}</td>{metric_cell}</tr>'
        )
    metric_head = f'<th class="n">{_e(metric)} (last epoch)</th>' if metric else ""
    table = (
        '<div class="scroll"><table><thead><tr><th class="n">#</th><th>run</th>'
        '<th class="n">time</th><th class="n">energy (IT)</th><th>method</th>'
        '<th class="n">gCO2e</th><th class="n">cost</th><th class="n">J/sample</th>'
        f"{metric_head}</tr></thead><tbody>{''.join(table_rows)}</tbody></table></div>"
    )
    div, unit = energy_scale(max(row.footprint.energy_j for row in rows))
    bars = [
        Bar(
            label,
            row.footprint.energy_j / div,
            _PALETTE[i % len(_PALETTE)],
            tooltip=f"{label}. {row.record.name}: {fmt_energy(row.footprint.energy_j)}",
        )
        for i, (label, row) in enumerate(zip(labels, rows, strict=True))
    ]
    scope_unit = f"{unit}, {_SCOPE[scope]}"
    charts = [bar_chart("run-energy", "Energy per run", bars, y_unit=scope_unit, x_unit="run #")]
    curves = []
    for i, (label, r) in enumerate(zip(labels, records, strict=True)):
        epochs = [p for p in r.phases if p.kind == "epoch"]
        if not epochs:
            continue
        total, xs, ys = 0.0, [0.0], [0.0]
        for k, p in enumerate(epochs):
            total += (p.machine if scope == "machine" else p.process).energy_j
            xs.append(float(k + 1))
            ys.append(total / div)
        curves.append(Line(f"{label}. {r.name}", xs, ys, _PALETTE[i % len(_PALETTE)]))
    if curves:
        charts.append(
            line_chart(
                "energy-by-epoch", "Energy by epoch", curves, x_unit="epochs", y_unit=scope_unit
            )
        )
    scatter_chart_html = scatter_text = ""
    if metric:
        scatter_chart_html, scatter_text = _scatter(
            records, rows, labels, metric, div, scope_unit, better_high, maximize
        )
    note = "".join(
        f"<p><strong>Note:</strong> {_e(n[0].upper() + n[1:])}.</p>"
        for n in comparison_notes(records, rows)
    )
    body = (
        '<header><p class="kicker">wattwise comparison</p>'
        f"<h1>{len(records)} runs compared</h1>"
        '<p class="sub">Differences, under each figure, are against run 1. Energy, emissions '
        f"and cost in the {_e(_SCOPE[scope])} scope.</p></header>"
        f"{table}{note}<h2>Charts</h2>"
        f'<div class="charts">{scatter_chart_html}{"".join(charts)}</div>{scatter_text}'
        f"<footer>Generated by wattwise at {_e(now.isoformat())}.</footer>"
    )
    return html_page("wattwise comparison", body)


def _scatter(
    records: Sequence[RunRecord],
    rows: Sequence[CompareRow],
    labels: Sequence[str],
    metric: str,
    div: float,
    unit: str,
    better_high: bool,
    maximize: bool | None,
) -> tuple[str, str]:
    """The metric against energy with the front marked, and a line saying how to read it."""
    pts = [
        Point(
            row.footprint.energy_j / div,
            row.metric,
            label,
            tooltip=f"{label}. {r.name}: {fmt_energy(row.footprint.energy_j)}, "
            f"{metric} {row.metric:.4g}",
            marked=row.on_front,
        )
        for label, r, row in zip(labels, records, rows, strict=True)
        if row.metric is not None and math.isfinite(row.metric)
    ]
    front = sorted((k for k, p in enumerate(pts) if p.marked), key=lambda k: pts[k].x)
    direction = "higher" if better_high else "lower"
    how = "as asked" if maximize is not None else "guessed from its name"
    missing = len(records) - len(pts)
    text = (
        f'<p class="muted">{_e(metric)}: the last epoch\'s value; {direction} is better '
        f"({how}). Filled points are on the Pareto front."
        + (f" {missing} run(s) did not log it or ended with a non-finite value." if missing else "")
        + "</p>"
    )
    if not pts:
        return "", text
    chart = scatter_chart(
        "pareto",
        f"{metric} against energy",
        pts,
        x_unit=unit,
        y_unit=f"{direction} is better",
        front=front,
        front_label=f"Pareto front: no run reaches a better {metric} with less energy",
    )
    return chart, text
