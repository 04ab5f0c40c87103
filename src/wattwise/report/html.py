"""The HTML run report: one self-contained file with plots, for a browser or an archive.

No script, no font, no request: a Content-Security-Policy of ``default-src 'none'`` (styles
inline) means the page cannot reach the network or run code, even if an escaping bug let
markup through. Plots are inline SVG (:mod:`wattwise.report.charts`); the power series is
thinned to :data:`MAX_PLOT_POINTS` per line (energy-preserving means), so a week-long run
is as small as an hour's. The JSON report (the published schema) rides along in a
``<script type="application/json" id="wattwise-report">`` data block, which browsers never
execute, so the file is also machine-readable.

Every figure is taken from :func:`wattwise.report.build_report`, so the HTML and the JSON
never disagree, and every user-given string is escaped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from html import escape
from typing import Any

from wattwise.embodied import EmbodiedInputs
from wattwise.equivalents import equivalents, household_and_flight
from wattwise.profiler import fmt_flops, fmt_step_energy
from wattwise.record import PhaseRecord, RunRecord
from wattwise.report.charts import Bar, Line, bar_chart, line_chart, stacked_bar
from wattwise.report.json import build_report
from wattwise.series import SeriesPoint, downsample
from wattwise.summary import fmt_duration, fmt_energy

__all__ = ["COLORS", "MAX_PLOT_POINTS", "energy_scale", "html_page", "html_report", "json_blob"]

MAX_PLOT_POINTS = 600
"""Points per plotted line: finer than a laptop screen's plot width resolves."""
MAX_METRIC_CHARTS = 6

COLORS: Mapping[str, str] = {
    "cpu": "#2563eb",
    "gpu": "#16a34a",
    "ram": "#d97706",
    "other": "#7c3aed",
    "process": "#475569",
    "total": "#0f172a",
    "epoch": "#0891b2",
}
_COUNTS = frozenset({"steps", "samples", "tokens"})
_THROUGHPUT = {  # chart unit of each throughput figure the training session logs
    "samples_per_s": "samples/s",
    "energy_per_sample_j": "J per sample, {scope}",
    "energy_per_token_j": "J per token, {scope}",
}
_SCOPE_TEXT = {"machine": "whole machine", "process": "tracked processes"}
MAX_EPOCH_BARS = 200
"""Above this many epochs the bars show the mean of consecutive groups."""
MAX_EMBEDDED_JSON_BYTES = 1_500_000
"""Above this the JSON report is not embedded (the page says how to get it)."""
MAX_TABLE_ROWS = 200
"""Phases shown in the table (first and last halves); the JSON report keeps them all."""
_NAMES = {
    "cpu": "CPU",
    "gpu": "GPU",
    "ram": "RAM",
    "other": "other",
    "process": "tracked processes",
}

CSS = """
:root{--fg:#0f172a;--muted:#475569;--line:#e2e8f0;--bg:#fff;--card:#f8fafc;--accent:#0f766e;
--est:#b45309;--meas:#15803d;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--fg:#e2e8f0;--muted:#94a3b8;--line:#334155;
--bg:#0b1120;--card:#111827;--accent:#2dd4bf;--est:#fbbf24;--meas:#4ade80}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,
"Segoe UI",Roboto,sans-serif;-webkit-text-size-adjust:100%}
main{max-width:980px;margin:0 auto;padding:16px}
h1{font-size:1.6rem;margin:.2rem 0;overflow-wrap:anywhere}
h2{font-size:1.15rem;margin:1.8rem 0 .6rem;border-bottom:1px solid var(--line);padding-bottom:.3rem}
.kicker{color:var(--accent);font-weight:600;text-transform:uppercase;font-size:.75rem;
letter-spacing:.08em;margin:0}
.sub,.muted,.note,.unit{color:var(--muted)}
.sub{margin:.2rem 0 1rem;overflow-wrap:anywhere}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:10px}
.tile{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:10px 12px}
.tile .k{font-size:.8rem;color:var(--muted)}
.tile .v{font-size:1.3rem;font-weight:650;overflow-wrap:anywhere;line-height:1.25}
.tile .d{font-size:.8rem;color:var(--muted);overflow-wrap:anywhere}
.badge{display:inline-block;font-size:.72rem;font-weight:600;border-radius:999px;padding:0 .5em;
border:1px solid currentColor;vertical-align:middle;white-space:nowrap}
.badge.measured{color:var(--meas)}.badge.estimated,.badge.mixed{color:var(--est)}
.badge.none{color:var(--muted)}
.status{font-weight:600}.status.failed,.status.interrupted{color:#dc2626}
.status.stopped{color:var(--est)}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,430px),1fr));gap:14px}
figure.chart{margin:0;background:var(--card);border:1px solid var(--line);border-radius:10px;
padding:10px;min-width:0}
figure.chart figcaption{margin-bottom:4px}
figure.chart svg{display:block;width:100%;height:auto}
svg .grid{stroke:var(--line);stroke-width:1}svg .axis{stroke:var(--muted);stroke-width:1}
svg .tick{fill:var(--muted);font-size:14px;font-family:inherit}
.legend{list-style:none;padding:0;margin:6px 0 0;display:flex;flex-wrap:wrap;gap:4px 14px;
font-size:.85rem}
.swatch{display:inline-block;width:14px;height:4px;background:var(--c);margin-right:6px;
vertical-align:middle;border-radius:2px}
.swatch.dashed{background:repeating-linear-gradient(90deg,var(--c) 0 5px,transparent 5px 8px)}
.empty{color:var(--muted);font-style:italic}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
dl.kv{display:grid;grid-template-columns:minmax(110px,max-content) 1fr;gap:4px 14px;margin:0}
dl.kv dt{color:var(--muted)}dl.kv dd{margin:0;overflow-wrap:anywhere}
code{font-size:.85em;overflow-wrap:anywhere}
ul.events{padding-left:1.2em}
footer{margin:2rem 0 1rem;font-size:.8rem;color:var(--muted)}
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'"


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def json_blob(data: Mapping[str, Any]) -> str:
    """``data`` as a JSON data block (never executed; nothing in it can close it)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # inside <script> only "</" and "<!--" could end it; escaping < > & rules both out
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="wattwise-report">{text}</script>'


def html_page(title: str, body: str, blob: str = "") -> str:
    """A whole self-contained page: the report CSS, a CSP that forbids every request, and
    ``blob`` (a :func:`json_blob`, or nothing) after the content."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="generator" content="wattwise">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>"
        f"{body}</main>{blob}</body></html>\n"
    )


def _badge(method: str) -> str:
    return f'<span class="badge {_e(method)}">{_e(method)}</span>'


def _kwh(kwh: float) -> str:
    return f"{_plain(kwh)} kWh"


def _plain(value: float, digits: int = 3) -> str:
    """``digits`` significant digits without an exponent (0.0000129, 1.29, 1,290)."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:,.{decimals}f}"


def _g(grams: float) -> str:
    if 0 < grams < 1:
        return f"{_plain(grams * 1e3)} mgCO2e"
    if grams >= 1e6:
        return f"{_plain(grams / 1e6)} tCO2e"
    if grams >= 1e3:
        return f"{_plain(grams / 1e3)} kgCO2e"
    return f"{_plain(grams)} gCO2e"


def _tile(key: str, value: str, detail: str = "") -> str:
    d = f'<div class="d">{detail}</div>' if detail else ""
    return f'<div class="tile"><div class="k">{_e(key)}</div><div class="v">{value}</div>{d}</div>'


def _time_scale(duration_s: float) -> tuple[float, str]:
    if duration_s < 180:
        return 1.0, "seconds"
    if duration_s < 3 * 3600:
        return 60.0, "minutes"
    return 3600.0, "hours"


def energy_scale(max_j: float) -> tuple[float, str]:
    """The divisor and unit (J, Wh, kWh) that keep a chart's largest energy readable."""
    if max_j < 1e4:
        return 1.0, "J"
    if max_j < 3.6e7:
        return 3600.0, "Wh"
    return 3.6e6, "kWh"


def _with_gaps(points: Sequence[SeriesPoint]) -> list[SeriesPoint | None]:
    """The points, with None where time jumps (the plot leaves a gap there)."""
    out: list[SeriesPoint | None] = []
    for prev, p in zip([None, *points], points, strict=False):
        if prev is not None and p.t0_s - prev.t1_s > max(2.0 * (prev.t1_s - prev.t0_s), 1.0):
            out.append(None)
        out.append(p)
    return out


def _component_notes(doc: Mapping[str, Any]) -> dict[str, str]:
    """Component → its method label, e.g. ``measured: counter`` or ``estimated: TDP model``."""
    notes: dict[str, str] = {}
    domains = doc["energy"]["domains"]
    for comp in doc["energy"]["components"]:
        name = comp["component"]
        doms = [d for d in domains if d["component"] == name]
        how = []
        for d in doms:
            if d["method"] == "estimated" and d["estimate"] and d["estimate"]["model"]:
                how.append(f"estimated: {d['estimate']['model']}")
            elif d["method"] == "measured":
                how.append(f"measured: {d['key'].split(':')[0]}")
        notes[name] = "; ".join(dict.fromkeys(how)) or comp["method"]
    return notes


def _power_charts(
    record: RunRecord,
    columns: Sequence[str],
    points: Sequence[SeriesPoint],
    notes: Mapping[str, str],
) -> str:
    """Power over time per component, and cumulative energy, from the stored series."""
    if not points or not columns:
        return '<p class="empty">No power series was stored for this run.</p>'
    thin = _with_gaps(downsample(points, MAX_PLOT_POINTS))
    t_start = points[0].t0_s
    div, t_unit = _time_scale(points[-1].t1_s - t_start)
    xs = [math.nan if p is None else ((p.t0_s + p.t1_s) / 2 - t_start) / div for p in thin]
    lines = []
    components = [c for c in columns if c.endswith("_w") and c != "process_w"]
    for col in [*components, "process_w"] if "process_w" in columns else components:
        i = columns.index(col)
        ys = [math.nan if p is None else p.values[i] for p in thin]
        if not any(math.isfinite(y) and y > 0 for y in ys):
            continue  # a component with no energy (no GPU) would only add a flat line
        name = col[:-2]
        lines.append(
            Line(
                _NAMES.get(name, name),
                xs,
                ys,
                COLORS.get(name, "#64748b"),
                note=notes.get(name, "") if name != "process" else "their share of the machine",
                dashed=name == "process",
            )
        )
    power = line_chart(
        "power",
        "Power over time",
        lines,
        x_unit=t_unit,
        y_unit="W, mean per interval; whole machine per component, dashed: tracked processes",
    )
    # cumulative energy, integrated from every stored point (not the thinned ones)
    idx = [columns.index(c) for c in components]
    p_idx = columns.index("process_w") if "process_w" in columns else None
    total = proc = 0.0
    cum_x, cum_machine, cum_process = [], [], []
    for p in points:
        span = max(p.t1_s - p.t0_s, 0.0)
        total += sum(p.values[i] for i in idx) * span
        if p_idx is not None:
            proc += p.values[p_idx] * span
        cum_x.append((p.t1_s - t_start) / div)
        cum_machine.append(total)
        cum_process.append(proc)
    e_div, e_unit = energy_scale(total)
    step = max(1, -(-len(cum_x) // (MAX_PLOT_POINTS - 1)))  # ceil; the last point is kept too
    keep = list(range(0, len(cum_x), step))
    if keep[-1] != len(cum_x) - 1:
        keep.append(len(cum_x) - 1)
    cum_lines = [
        Line(
            "whole machine (IT)",
            [0.0] + [cum_x[k] for k in keep],
            [0.0] + [cum_machine[k] / e_div for k in keep],
            COLORS["total"],
            note=f"{fmt_energy(total)} from the series",
        )
    ]
    if p_idx is not None and proc > 0:
        cum_lines.append(
            Line(
                "tracked processes",
                [0.0] + [cum_x[k] for k in keep],
                [0.0] + [cum_process[k] / e_div for k in keep],
                COLORS["process"],
                note=f"{fmt_energy(proc)}",
                dashed=True,
            )
        )
    cumulative = line_chart(
        "cumulative", "Cumulative energy", cum_lines, x_unit=t_unit, y_unit=e_unit
    )
    return f'<div class="charts">{power}{cumulative}</div>'


def _epoch_label(p: PhaseRecord, i: int) -> str:
    return str(p.index if p.index is not None else i)


def _bucket_means(xs: Sequence[float], ys: Sequence[float], most: int) -> tuple[list[float], ...]:
    """At most ``most`` points: means of consecutive runs of points (for long curves)."""
    size = max(1, -(-len(xs) // most))
    if size == 1:
        return list(xs), list(ys)
    out_x, out_y = [], []
    for k in range(0, len(xs), size):
        out_x.append(sum(xs[k : k + size]) / len(xs[k : k + size]))
        out_y.append(sum(ys[k : k + size]) / len(ys[k : k + size]))
    return out_x, out_y


def _epoch_charts(record: RunRecord, doc: Mapping[str, Any]) -> str:
    epochs = [p for p in record.phases if p.kind == "epoch"]
    if not epochs:
        return ""
    scope = record.headline
    scope_text = _SCOPE_TEXT[scope]

    def energy(p: PhaseRecord) -> float:
        return (p.machine if scope == "machine" else p.process).energy_j

    div, unit = energy_scale(max(energy(p) for p in epochs))
    group = max(1, -(-len(epochs) // MAX_EPOCH_BARS))  # many epochs: one bar per group
    bars = []
    for k in range(0, len(epochs), group):
        chunk = epochs[k : k + group]
        mean_j = sum(energy(p) for p in chunk) / len(chunk)
        first, last = _epoch_label(chunk[0], k), _epoch_label(chunk[-1], k + len(chunk) - 1)
        if len(chunk) == 1:
            label, tip = (
                first,
                (f"epoch {first}: {fmt_energy(mean_j)}, {fmt_duration(chunk[0].duration_s)}"),
            )
        else:
            label, tip = first, f"epochs {first}–{last}: {fmt_energy(mean_j)} per epoch (mean)"
        bars.append(Bar(label, mean_j / div, COLORS["epoch"], tooltip=tip))
    title = "Energy per epoch" if group == 1 else f"Energy per epoch (mean of each {group})"
    charts = [
        bar_chart("epoch-energy", title, bars, y_unit=f"{unit}, {scope_text}", x_unit="epoch")
    ]
    names: list[str] = []
    for p in epochs:
        names += [k for k in p.metrics if k not in names]
    # the user's metrics first, then throughput; counts (steps, samples) only in the table
    names = [n for n in names if n not in _COUNTS and n not in _THROUGHPUT] + [
        n for n in _THROUGHPUT if n in names
    ]
    palette = ("#db2777", "#0d9488", "#9333ea", "#ea580c", "#2563eb", "#65a30d")
    for k, name in enumerate(names[:MAX_METRIC_CHARTS]):
        pts = [
            (float(p.index if p.index is not None else i), float(p.metrics[name]))
            for i, p in enumerate(epochs)
            if name in p.metrics and math.isfinite(p.metrics[name])
        ]
        xs, ys = _bucket_means([x for x, _ in pts], [y for _, y in pts], MAX_PLOT_POINTS)
        throughput = _THROUGHPUT.get(name)
        charts.append(
            line_chart(
                f"metric-{k}",
                name,
                [Line(name, xs, ys, palette[k % len(palette)])],
                x_unit="epoch",
                # energies and rates from zero; the user's metrics on their own range
                y_unit=throughput.format(scope=scope_text) if throughput else "per epoch",
                zero_based=throughput is not None,
            )
        )
    more = ""
    if len(names) > MAX_METRIC_CHARTS:
        more = (
            f'<p class="muted">{len(names) - MAX_METRIC_CHARTS} more metrics are in the '
            "epochs table below.</p>"
        )
    return f'<div class="charts">{"".join(charts)}</div>{more}'


def _breakdown(doc: Mapping[str, Any], notes: Mapping[str, str]) -> str:
    e = doc["energy"]
    scope = e["headline_scope"]
    comps = [c for c in e["components"] if c[f"{scope}_energy_j"] > 0]
    total = sum(c[f"{scope}_energy_j"] for c in comps)
    parts = [
        Bar(
            _NAMES.get(c["component"], c["component"]),
            c[f"{scope}_energy_j"],
            COLORS.get(c["component"], "#64748b"),
            tooltip=f"{fmt_energy(c[f'{scope}_energy_j'])}, {c[f'{scope}_energy_j'] / total:.0%}"
            if total
            else "",
        )
        for c in comps
    ]
    chart = stacked_bar("breakdown", "Energy by component", parts, unit=f"{scope} scope, IT")
    rows = []
    for c in e["components"]:
        share = c[f"{scope}_energy_j"] / total if total else 0.0
        rng = ""
        if c["machine_energy_high_j"] > c["machine_energy_low_j"]:
            rng = (
                f"{fmt_energy(c['machine_energy_low_j'])} – "
                f"{fmt_energy(c['machine_energy_high_j'])}"
            )
        rows.append(
            f"<tr><td>{_e(_NAMES.get(c['component'], c['component']))}</td>"
            f'<td>{_badge(c["method"])} <span class="note">'
            f"{_e(notes.get(c['component'], ''))}</span></td>"
            f'<td class="n">{_e(fmt_energy(c["machine_energy_j"]))}</td>'
            f'<td class="n">{_e(rng) or "—"}</td>'
            f'<td class="n">{_e(fmt_energy(c["process_energy_j"]))}</td>'
            f'<td class="n">{share:.0%}</td></tr>'
        )
    table = (
        '<div class="scroll"><table><thead><tr><th>component</th><th>method</th>'
        '<th class="n">machine</th><th class="n">range</th><th class="n">tracked processes</th>'
        f'<th class="n">share</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    )
    return chart + table


def _domains(doc: Mapping[str, Any]) -> str:
    rows = []
    for d in doc["energy"]["domains"]:
        if d["method"] == "estimated" and d["estimate"]:
            est = d["estimate"]
            consts = ", ".join(f"{k} = {v}" for k, v in est["constants"].items())
            how = " · ".join(x for x in (est["model"] or "", est["formula"] or "", consts) if x)
        else:
            how = ", ".join(f"{k} = {v}" for k, v in d["sensor_details"].items())
        rows.append(
            f"<tr><td>{_e(d['label'])}<br><code>{_e(d['key'])}</code></td>"
            f'<td>{_badge(d["method"])}<br><span class="note">{_e(d["reading"])}</span></td>'
            f'<td class="n">{_e(fmt_energy(d["machine_energy_j"]))}</td>'
            f'<td class="n">{_e(fmt_energy(d["process_energy_j"]))}</td>'
            f'<td class="note">{_e(how) or "—"}</td></tr>'
        )
    if not rows:
        return '<p class="empty">No energy domain was recorded.</p>'
    return (
        '<div class="scroll"><table><thead><tr><th>domain</th><th>method</th>'
        '<th class="n">machine</th><th class="n">tracked processes</th>'
        f"<th>model, constants or sensor</th></tr></thead><tbody>{''.join(rows)}</tbody>"
        "</table></div>"
    )


def _phases_table(record: RunRecord) -> str:
    if not record.phases:
        return ""
    scope = record.headline
    names: list[str] = []
    for p in record.phases:
        names += [k for k in p.metrics if k not in names]
    head = "".join(f'<th class="n">{_e(n)}</th>' for n in names)
    rows = []
    phases = list(record.phases)
    omitted = 0
    if len(phases) > MAX_TABLE_ROWS:  # a long run: its first and last phases
        omitted = len(phases) - MAX_TABLE_ROWS
        half = MAX_TABLE_ROWS // 2
        phases = [*phases[:half], *phases[-half:]]
    for n_row, p in enumerate(phases):
        if omitted and n_row == MAX_TABLE_ROWS // 2:
            rows.append(
                f'<tr><td colspan="{6 + len(names)}" class="muted">… {omitted:,} phases not '
                "shown here; all of them are in the embedded JSON report</td></tr>"
            )
        fp = p.machine if scope == "machine" else p.process
        cells = "".join(
            f'<td class="n">{p.metrics[n]:.4g}</td>' if n in p.metrics else '<td class="n">—</td>'
            for n in names
        )
        rows.append(
            f"<tr><td>{_e(p.name)}</td><td>{_e(p.kind)}</td>"
            f'<td class="n">{_e(fmt_duration(p.duration_s))}</td>'
            f'<td class="n">{_e(fmt_energy(fp.energy_j))}</td>'
            f'<td class="n">{_e(_g(fp.co2_g))}</td><td>{_badge(fp.method)}</td>{cells}</tr>'
        )
    return (
        f'<h2>Phases and epochs</h2><p class="muted">Figures in the {_e(_SCOPE_TEXT[scope])} '
        "scope.</p>"
        '<div class="scroll"><table><thead><tr><th>phase</th><th>kind</th>'
        '<th class="n">time</th><th class="n">energy</th><th class="n">emissions</th>'
        f"<th>method</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


_CATEGORY_COLORS = {
    "convolution": "#2563eb",
    "linear": "#16a34a",
    "normalisation": "#d97706",
    "activation": "#db2777",
    "pooling": "#0891b2",
    "attention": "#7c3aed",
    "embedding": "#65a30d",
    "other": "#94a3b8",
    "loss": "#ea580c",
    "optimizer": "#0f766e",
    "framework": "#475569",
}


def _profiles(record: RunRecord) -> str:
    """Each saved training-step profile: energy by layer type, the top modules, FLOPs."""
    out = []
    for k, pr in enumerate(record.profiles):
        cats = pr["categories"]
        parts = [
            Bar(
                c["category"],
                c["energy_j"],
                _CATEGORY_COLORS.get(c["category"], "#64748b"),
                tooltip=f"{fmt_step_energy(c['energy_j'])} per step, {c['share']:.0%}",
            )
            for c in cats
            if c["energy_j"] > 0
        ]
        chart = stacked_bar(
            f"profile-{k}",
            "Energy of one training step by layer type",
            parts,
            unit=f"{pr['method']}, {_SCOPE_TEXT.get(pr['scope'], pr['scope'])}",
        )
        rows = "".join(
            f"<tr><td><code>{_e(m['name'])}</code></td><td>{_e(m['type'])}</td>"
            f"<td>{_e(m['layer_type'])}</td>"
            f'<td class="n">{m["parameters"]:,}</td>'
            f'<td class="n">{_e(fmt_step_energy(m["forward_energy_j"]))}</td>'
            f'<td class="n">{_e(fmt_step_energy(m["backward_energy_j"]))}</td>'
            f'<td class="n">{_e(fmt_flops(m["forward_flops"] + m["backward_flops"]))}</td></tr>'
            for m in pr["modules"][:10]
        )
        notes = "".join(f"<li>{_e(n)}</li>" for n in pr["notes"])
        run_flops = ""
        t = record.training
        if t is not None and t.steps and t.samples and pr["batch_size"]:
            # the run's samples at the profiled batch's cost per sample
            per_sample = pr["train_flops_per_step"] / pr["batch_size"]
            run_flops = (
                f" This run's training ({t.samples:,} samples): about "
                f"{_e(fmt_flops(per_sample * t.samples))}."
            )
        out.append(
            f"<h2>Where a training step's energy goes: {_e(pr['model'])}</h2>"
            f'<p class="muted">{_e(fmt_step_energy(pr["step_energy_j"]))} per step of '
            f"{pr['batch_size']} samples on {_e(pr['device'])} "
            f"({pr['step_s'] * 1e3:.1f} ms); {_e(fmt_flops(pr['train_flops_per_step']))} "
            f"per training step, {_e(fmt_flops(pr['inference_flops_per_sample']))} per "
            f"inference (one sample).{run_flops} {_e(pr['attribution'])}.</p>"
            f'<div class="charts">{chart}</div>'
            '<div class="scroll"><table><thead><tr><th>module</th><th>type</th>'
            '<th>layer type</th><th class="n">params</th><th class="n">forward</th>'
            '<th class="n">backward</th><th class="n">FLOPs</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></div>"
            + (f'<ul class="events">{notes}</ul>' if notes else "")
        )
    return "".join(out)


def _training(doc: Mapping[str, Any]) -> str:
    t = doc["training"]
    if t is None:
        return ""
    planned = f" of {t['planned_epochs']} planned" if t["planned_epochs"] else ""
    items = [
        ("epochs", f"{t['epoch_offset'] + t['epochs_completed']}{planned}"),
        ("steps", f"{t['steps']:,}"),
    ]
    if t["samples"]:
        items.append(("samples", f"{t['samples']:,}"))
    if t["energy_per_sample_j"] is not None:
        items.append(("energy per sample", f"{t['energy_per_sample_j']:.3g} J"))
    if t["energy_per_token_j"] is not None:
        items.append(("energy per token", f"{t['energy_per_token_j']:.3g} J"))
    if t["epoch_offset"]:
        items.append(("all segments", f"{fmt_energy(t['total_energy_j'])} (resumed run)"))
    if t["stop"]:
        items.append(("stopped", t["stop"]["reason"] or t["stop"]["kind"] or ""))
    b = t["budget"]
    limits = [
        f"{b['energy_kwh']:g} kWh" if b["energy_kwh"] is not None else "",
        f"{b['co2e_g']:g} gCO2e" if b["co2e_g"] is not None else "",
        f"{b['cost']:g}" if b["cost"] is not None else "",
    ]
    if any(limits):
        items.append(("budget", ", ".join(x for x in limits if x)))
    if b["warning"]:
        items.append(("budget warning", b["warning"]))
    es = t["early_stopping"]
    if es:
        items.append(
            (
                "early stopping",
                f"{es['monitor']} ({es['mode']}, patience {es['patience']}): best "
                f"{es['best']} at epoch {es['best_epoch']}",
            )
        )
    if t["saved"]:
        s = t["saved"]
        items.append(
            (
                "not spent",
                f"{fmt_energy(s['saved_energy_j'])}, {_g(s['saved_co2e_g'])} against the "
                f"forecast of {s['planned_epochs']} epochs",
            )
        )
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items)
    out = f'<h2>Training</h2><dl class="kv">{dl}</dl>'
    if t["forecasts"]:
        rows = "".join(
            f'<tr><td class="n">{f["after_epochs"]}</td><td>{_e(f["rule"])}</td>'
            f'<td class="n">{_e(fmt_energy(f["energy_j"]))}</td>'
            f'<td class="n">{_e(fmt_energy(f["energy_low_j"]))} – '
            f"{_e(fmt_energy(f['energy_high_j']))}</td>"
            f'<td class="n">{_e(fmt_duration(f["duration_s"]))}</td>'
            '<td class="n">'
            + (
                f"{f['energy_error_relative']:+.1%}"
                if f["energy_error_relative"] is not None
                else "—"
            )
            + "</td></tr>"
            for f in t["forecasts"]
        )
        out += (
            f'<p class="muted">Forecasts of the energy of all {t["planned_epochs"] or ""} '
            "planned epochs, made after each epoch, against what the run then used "
            f"({_e(fmt_energy(t['trained_energy_j']))}).</p>"
            '<div class="scroll"><table><thead><tr><th class="n">after N epochs</th><th>rule</th>'
            '<th class="n">forecast</th><th class="n">range</th><th class="n">time</th>'
            f'<th class="n">error vs actual</th></tr></thead><tbody>{rows}</tbody></table></div>'
        )
    return out


def _carbon(doc: Mapping[str, Any]) -> str:
    i, loc, cost, emb = doc["intensity"], doc["location"], doc["cost"], doc["embodied"]
    items = [
        ("zone", f"{loc['zone']} ({loc['zone_name']}), chosen by {loc['zone_chosen_by']}"),
        (
            "intensity",
            f"{i['value_g_per_kwh']:.0f} {i['unit']}, {i['kind']}, {i['weighting']}, "
            f"{i['year'] or 'year n/a'}",
        ),
        ("intensity source", i["source"]),
        ("PUE", f"{loc['pue']:g}: {loc['pue_source']}"),
        (
            "price",
            f"{cost['price_per_kwh']:g} {cost['currency']}/kWh: {cost['price_source']}",
        ),
        (
            "embodied (SCI M)",
            f"{_g(emb['co2e_g'])}: {emb['reason']}; TE from {emb['inputs']['source']}"
            if emb["included"]
            else "not included: " + emb["reason"],
        ),
    ]
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items)
    return f'<h2>Carbon intensity, PUE and cost</h2><dl class="kv">{dl}</dl>'


def _equivalents(energy_j: float, co2_g: float) -> str:
    eq = [*equivalents(energy_j, co2_g), *household_and_flight(energy_j, co2_g)]
    rows = "".join(
        f'<tr><td class="n">{_e(str(x).split(" ", 1)[0])}</td><td>{_e(x.unit)}</td>'
        f'<td class="note">{_e(x.assumption)}</td></tr>'
        for x in eq
    )
    return (
        '<h2>About as much as</h2><p class="muted">To make the figures readable; these are '
        'not measurements.</p><div class="scroll"><table><thead><tr><th class="n">'
        f"amount</th><th>of</th><th>assumption and source</th></tr></thead><tbody>{rows}"
        "</tbody></table></div>"
    )


def _details(doc: Mapping[str, Any], record: RunRecord) -> str:
    run, host, when, sw = doc["run"], doc["host"], doc["when"], doc["software"]
    code = run["code"]
    container = host["container"]
    limits = []
    if container["cpu_quota_cpus"] is not None:
        limits.append(f"{container['cpu_quota_cpus']:g} CPUs")
    if container["memory_limit_bytes"] is not None:
        limits.append(f"{container['memory_limit_bytes'] / 2**30:.1f} GiB")
    items = [
        ("run id", run["id"]),
        ("command", run["command"] or "(in-process)"),
        ("tags", ", ".join(f"{k}={v}" for k, v in run["tags"].items()) or "—"),
        (
            "code",
            f"{code['git_commit'] or '—'}"
            + (f" on {code['git_branch']}" if code["git_branch"] else ""),
        ),
        ("started", f"{when['started_at']}"),
        (
            "ended",
            when["ended_at"]
            or (
                "still running"
                if record.status == "running"
                else f"unknown; last checkpoint {when['updated_at'] or '—'}"
            ),
        ),
        ("sampling", f"every {when['sampling_interval_s']:g} s"),
        ("host", f"{host['hostname']}, {host['os']}"),
        (
            "CPU",
            f"{host['cpu_model']}, {host['logical_cpus']} logical CPUs"
            + (" (virtual machine)" if host["virtualised"] else ""),
        ),
        ("memory", f"{host['memory_bytes'] / 2**30:.1f} GiB"),
        ("GPUs", ", ".join(host["gpus"]) or "none counted"),
        ("container limits", ", ".join(limits) or "none"),
        (
            "software",
            f"wattwise {sw['wattwise']}, Python {sw['python']}"
            + "".join(f", {k} {v}" for k, v in sw["frameworks"].items()),
        ),
    ]
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items)
    events = ""
    if record.events:
        events = (
            '<h2>Notes</h2><ul class="events">'
            + "".join(f"<li>{_e(ev)}</li>" for ev in record.events)
            + "</ul>"
        )
    return f'{events}<h2>What ran, where and when</h2><dl class="kv">{dl}</dl>'


def html_report(
    record: RunRecord,
    columns: Sequence[str] = (),
    points: Sequence[SeriesPoint] = (),
    *,
    generated_at: datetime | None = None,
    embodied: EmbodiedInputs | None = None,
) -> str:
    """The run as one self-contained HTML page.

    Args:
        record: the run.
        columns, points: its power series (``store.get_series(run_id)``); without them the
            report has no power-over-time plots and says so.
        generated_at: when the report is made (default now), for reproducible output.
        embodied: the hardware's manufacturing emissions, to show SCI's embodied term
            beside the operational emissions (see :mod:`wattwise.embodied`).
    """
    now = generated_at or datetime.now(timezone.utc)
    doc = build_report(record, generated_at=now, embodied=embodied)
    emb = doc["embodied"]
    e = doc["energy"]
    scope = e["headline_scope"]
    em = doc["emissions"]
    fp = record.footprint
    notes = _component_notes(doc)
    status = _e(record.status)
    stop = doc["run"]["stop"]
    if stop and stop["kind"]:
        status += f" ({_e(stop['kind'].replace('_', ' '))})"
    started = record.started_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    scope_text = "whole machine" if scope == "machine" else "tracked processes' share"
    rng = ""
    if e["it_energy_high_j"] > e["it_energy_low_j"]:
        rng = f"range {_kwh(e['it_energy_low_kwh'])} – {_kwh(e['it_energy_high_kwh'])}"
    co2_rng = ""
    if em["co2e_high_g"] > em["co2e_low_g"]:
        co2_rng = f"range {_g(em['co2e_low_g'])} – {_g(em['co2e_high_g'])}"
    tiles = "".join(
        [
            _tile(
                "Energy (IT)",
                _e(fmt_energy(e["it_energy_j"])),
                f"{_badge(e['method'])} {_e(_kwh(e['it_energy_kwh']))}, {_e(scope_text)}"
                + (f"<br>{_e(rng)}" if rng else ""),
            ),
            _tile(
                "Emissions",
                _e(_g(em["co2e_g"])),
                _e(
                    f"at {doc['intensity']['value_g_per_kwh']:.0f} gCO2e/kWh, "
                    f"{doc['intensity']['zone']}"
                )
                + (f"<br>{_e(co2_rng)}" if co2_rng else ""),
            ),
            _tile(
                "Facility energy",
                _e(fmt_energy(e["facility_energy_j"])),
                _e(f"IT × PUE {e['pue']:g}"),
            ),
            _tile(
                "Cost",
                _e(f"{_plain(doc['cost']['cost'])} {doc['cost']['currency']}"),
                _e(f"at {doc['cost']['price_per_kwh']:g}/kWh"),
            ),
            _tile("Duration", _e(fmt_duration(record.duration_s)), _e(started)),
            _tile(
                "Embodied (SCI M)",
                _e(_g(emb["co2e_g"])) if emb["included"] else "not included",
                _e("kept apart from the emissions; see below"),
            ),
        ]
    )
    header = (
        '<header><p class="kicker">wattwise energy report</p>'
        f"<h1>{_e(record.name)}</h1>"
        f'<p class="sub"><span class="status {_e(record.status)}">{status}</span> · run '
        f"<code>{_e(record.id[:8])}</code> · {_e(started)} · "
        f"{_e(fmt_duration(record.duration_s))}"
        + (f" · <code>{_e(record.command)}</code>" if record.command else "")
        + "</p></header>"
    )
    epochs = _epoch_charts(record, doc)
    blob = json_blob(doc)
    schema_code = f"<code>{_e(doc['schema'])}</code>"
    if len(blob) <= MAX_EMBEDDED_JSON_BYTES:
        embedded = (
            f"The JSON report (schema {schema_code}) is embedded in this file as "
            "<code>#wattwise-report</code>."
        )
    else:  # thousands of phases: keep the page light, say where the data is
        blob = ""
        embedded = (
            f"The JSON report (schema {schema_code}) is too large to embed "
            f"({len(record.phases):,} phases): <code>wattwise report {_e(record.id[:8])} "
            "--json</code> writes it."
        )
    body = "".join(
        [
            header,
            f'<section class="tiles">{tiles}</section>',
            "<h2>Power and energy over time</h2>",
            _power_charts(record, columns, points, notes),
            ("<h2>Per epoch</h2>" + epochs) if epochs else "",
            "<h2>Where the energy went</h2>",
            _breakdown(doc, notes),
            "<h2>How it was measured</h2>",
            _domains(doc),
            _profiles(record),
            _phases_table(record),
            _training(doc),
            _carbon(doc),
            _equivalents(fp.energy_j, fp.co2_g),
            _details(doc, record),
            f"<footer>Generated by wattwise {_e(record.wattwise_version)} at "
            f"{_e(doc['generated_at'])}. {embedded} Every constant and its source: "
            "wattwise's docs/methodology.md.</footer>",
        ]
    )
    return html_page(f"{record.name} · wattwise energy report", body, blob)
