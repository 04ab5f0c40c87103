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

from wattwise.record import RunRecord
from wattwise.report.charts import Bar, Line, Point, bar_chart, line_chart, scatter_chart
from wattwise.report.html import html_page
from wattwise.summary import fmt_duration, fmt_energy

__all__ = [
    "CompareRow",
    "compare_rows",
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
        "wer",
        "cer",
        "nll",
        "bpd",
        "time",
        "latency",
    ]
)
_PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#475569")


def lower_is_better(metric: str) -> bool:
    """A guess from the name's parts (split at ``_``, ``-``, ``.``, ``/``): losses, errors,
    perplexities and times are better low; ``answer_f1`` or ``uptime`` are not."""
    parts = re.split(r"[^a-z0-9]+|(?<=[a-z])(?=[0-9])", metric.lower())
    return any(p in _LOWER or p.endswith("loss") for p in parts)


def last_metric(record: RunRecord, metric: str) -> float | None:
    """The metric's value at the last epoch that logged it (None when never logged)."""
    for p in reversed(record.phases):
        if p.kind == "epoch" and metric in p.metrics and math.isfinite(p.metrics[metric]):
            return float(p.metrics[metric])
    return None


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
    """One run's headline figures against the first run's (``None``: no reference)."""

    record: RunRecord
    energy_rel: float | None
    co2_rel: float | None
    duration_rel: float | None
    metric: float | None
    on_front: bool


def _rel(value: float, ref: float) -> float | None:
    return value / ref - 1.0 if ref else None


def compare_rows(
    records: Sequence[RunRecord], metric: str | None = None, *, maximize: bool = True
) -> list[CompareRow]:
    """Each run's differences against the first, its metric and whether it is on the front."""
    base = records[0]
    values = [last_metric(r, metric) if metric else None for r in records]
    have = [i for i, v in enumerate(values) if v is not None]
    front: set[int] = set()
    if len(have) >= 2:
        sub = pareto_front(
            [records[i].footprint.energy_j for i in have],
            [values[i] or 0.0 for i in have],
            maximize=maximize,
        )
        front = {have[k] for k in sub}
    return [
        CompareRow(
            r,
            None if i == 0 else _rel(r.footprint.energy_j, base.footprint.energy_j),
            None if i == 0 else _rel(r.footprint.co2_g, base.footprint.co2_g),
            None if i == 0 else _rel(r.duration_s, base.duration_s),
            values[i],
            i in front,
        )
        for i, r in enumerate(records)
    ]


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
    labels = [str(i + 1) for i in range(len(records))]
    table_rows = []
    for label, row in zip(labels, rows, strict=True):
        r, fp = row.record, row.record.footprint
        t = r.training
        per_sample = (
            f"{t.energy_per_sample_j:.3g}"
            if t is not None and t.energy_per_sample_j is not None
            else "—"
        )
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
    energy_max = max(r.footprint.energy_j for r in records)
    div, unit = (1.0, "J") if energy_max < 1e4 else (3600.0, "Wh")
    if energy_max >= 3.6e7:
        div, unit = 3.6e6, "kWh"
    bars = [
        Bar(
            label,
            r.footprint.energy_j / div,
            _PALETTE[i % len(_PALETTE)],
            tooltip=f"{label}. {r.name}: {fmt_energy(r.footprint.energy_j)}",
        )
        for i, (label, r) in enumerate(zip(labels, records, strict=True))
    ]
    charts = [bar_chart("run-energy", "Energy per run", bars, y_unit=unit, x_unit="run #")]
    curves = []
    for i, (label, r) in enumerate(zip(labels, records, strict=True)):
        epochs = [p for p in r.phases if p.kind == "epoch"]
        if not epochs:
            continue
        total, xs, ys = 0.0, [0.0], [0.0]
        for k, p in enumerate(epochs):
            total += (p.machine if r.headline == "machine" else p.process).energy_j
            xs.append(float(k + 1))
            ys.append(total / div)
        curves.append(Line(f"{label}. {r.name}", xs, ys, _PALETTE[i % len(_PALETTE)]))
    if curves:
        charts.append(
            line_chart("energy-by-epoch", "Energy by epoch", curves, x_unit="epochs", y_unit=unit)
        )
    scatter_chart_html = scatter_text = ""
    if metric:
        scatter_chart_html, scatter_text = _scatter(
            records, rows, labels, metric, div, unit, better_high, maximize
        )
    zones = {(r.carbon.zone, r.carbon.intensity_g_per_kwh, r.carbon.pue) for r in records}
    note = ""
    if len(zones) > 1:
        note = (
            '<p class="muted">The runs were converted with different zones, intensities or '
            "PUEs: compare energy, not emissions, for the hardware and code alone.</p>"
        )
    methods = {r.footprint.method for r in records}
    if len(methods) > 1:
        note += (
            '<p class="muted">The runs were obtained by different methods (measured and '
            "estimated): differences may come from the method as much as from the runs.</p>"
        )
    body = (
        '<header><p class="kicker">wattwise comparison</p>'
        f"<h1>{len(records)} runs compared</h1>"
        '<p class="sub">Differences, under each figure, are against run 1. Energy in each run\'s '
        "headline scope.</p></header>"
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
            r.footprint.energy_j / div,
            row.metric,
            label,
            tooltip=f"{label}. {r.name}: {fmt_energy(r.footprint.energy_j)}, "
            f"{metric} {row.metric:.4g}",
            marked=row.on_front,
        )
        for label, r, row in zip(labels, records, rows, strict=True)
        if row.metric is not None
    ]
    front = sorted((k for k, p in enumerate(pts) if p.marked), key=lambda k: pts[k].x)
    direction = "higher" if better_high else "lower"
    how = "as asked" if maximize is not None else "guessed from its name"
    missing = len(records) - len(pts)
    text = (
        f'<p class="muted">{_e(metric)}: the last epoch\'s value; {direction} is better '
        f"({how}). Filled points are on the Pareto front."
        + (f" {missing} run(s) did not log it." if missing else "")
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
