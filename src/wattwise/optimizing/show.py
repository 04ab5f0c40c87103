"""Showing an :class:`~wattwise.optimizing.result.OptimizeResult`: a terminal table
(:func:`print_result`) and a self-contained HTML page (:func:`html_optimize`).

Both list the baseline first, then the other variants by rising energy of the result's
objective (failed recipes last), with the same figures and markers:

* ``★`` the recommended variant (least objective energy within the tolerance);
* ``I`` on the inference front, ``T`` on the training front: no other variant is both
  at least as accurate and cheaper in that energy (inference J per 1,000 samples at the
  largest batch; training energy with prerequisites).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from html import escape
from typing import Any

from wattwise.optimizing.result import InferenceFigures, Objective, OptimizeResult, Variant

__all__ = ["html_optimize", "noise_text", "print_result"]


# -- shared figures ------------------------------------------------------------------------
def _ordered(result: OptimizeResult) -> list[Variant]:
    """Baseline first, then by rising objective energy (ties: the order run), failed last."""
    rest = sorted(
        result.variants[1:],
        key=lambda v: (not v.ok, v.energy(result.objective) if v.ok else 0.0),
    )
    return [result.baseline, *rest] if result.variants else []


def _sig(value: float, digits: int = 3) -> str:
    from wattwise.report.html import _plain

    return _plain(value, digits)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}"


def _delta(variant: Variant, base: Variant) -> str:
    if variant is base:
        return "ref"
    if variant.accuracy is None or base.accuracy is None:
        return "—"
    return f"{(variant.accuracy - base.accuracy) * 100:+.2f}"


def _ece(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _energy_per_1000(energy_j: float) -> str:
    """Inference energies are small: three significant digits, kJ from 1,000 J."""
    from wattwise.summary import fmt_energy

    return fmt_energy(energy_j) if abs(energy_j) >= 1e3 else f"{_sig(energy_j)} J"


def _ratio_text(ratio: float | None) -> str:
    """``baseline / variant`` as words: ``2.1× less``, ``1.3× more``, ``same``."""
    if ratio is None:
        return "?×"
    if abs(ratio - 1.0) < 0.05:
        return "≈ same"
    return f"{ratio:.1f}× less" if ratio > 1 else f"{1 / ratio:.1f}× more"


def _size(size_bytes: int) -> str:
    """Bytes in B, KiB, MiB or GiB, two or three significant digits (``1.2 MiB``)."""
    value = float(size_bytes)
    unit = "B"
    for bigger in ("KiB", "MiB", "GiB"):
        if abs(value) < 1000:
            break
        value, unit = value / 1024, bigger
    if unit == "B":
        return f"{size_bytes} B"
    return f"{value:.1f} {unit}" if abs(value) < 10 else f"{value:,.0f} {unit}"


_SHORT_DTYPES = (("bfloat16", "bf16"), ("float16", "fp16"), ("float32", "fp32"))


def _dtype(text: str, short: bool) -> str:
    text = text.replace("torch.", "")
    if short:
        for long, abbreviation in _SHORT_DTYPES:
            text = text.replace(long, abbreviation)
    return text


def _model_facts(variant: Variant, *, short: bool = False) -> str:
    """The weights' dtype(s), the autocast dtype when it differs, the share of zeros."""
    parts = []
    weights = variant.facts.get("weights")
    if weights:
        parts.append(_dtype(weights, short))
    compute = variant.facts.get("compute")
    if compute and compute != weights:
        parts.append(f"{_dtype(compute, short)} compute")
    if variant.sparsity >= 0.05:  # int8 rounding zeros a few weights: not pruning
        parts.append(f"{variant.sparsity:.0%} zeros")
    return ", ".join(parts) or "—"


def _marks(result: OptimizeResult, variant: Variant) -> str:
    """``★`` recommended, ``I``/``T`` on the inference/training front."""
    marks = (
        ("★", variant is result.recommended),
        ("I", variant.on_inference_front),
        ("T", variant.on_training_front),
    )
    return " ".join(mark for mark, on in marks if on)


def _batch(figures: Sequence[Sequence[InferenceFigures]], large: bool) -> int | None:
    """The largest (or smallest) batch size every variant shares, None when they differ."""
    sizes = {(f[-1] if large else f[0]).batch_size for f in figures if f}
    return sizes.pop() if len(sizes) == 1 else None


def _headline_batches(result: OptimizeResult) -> tuple[int | None, int | None]:
    runs = [v.inference for v in result.variants if v.ok]
    return _batch(runs, large=True), _batch(runs, large=False)


def _tolerance(result: OptimizeResult) -> str:
    return f"{result.tolerance * 100:g} pt"


def _legend(result: OptimizeResult) -> str:
    return (
        f"★ recommended (least {result.objective} energy within {_tolerance(result)} of the "
        "baseline's accuracy) · I, T: on the inference, training front (no other variant is "
        "as accurate for less of that energy) · Δacc: accuracy points against the baseline · "
        "× less/more: energy against the baseline's · train total: own + the energy of the "
        "models it was derived from"
    )


def _html_legend(result: OptimizeResult) -> str:
    return (
        f"★ recommended: least {result.objective} energy within {_tolerance(result)} of the "
        "baseline's accuracy. Front: on the inference or training Pareto front (no other "
        "variant is as accurate for less of that energy). × less / more: energy against the "
        "baseline's. Training total: own training plus the energy of the models it was "
        "derived from."
    )


# -- terminal ------------------------------------------------------------------------------
def print_result(result: OptimizeResult, console: Any) -> None:
    """A title line, one table of every variant (baseline first, then by rising energy of
    the objective; ★ the recommended one, I/T on the inference/training fronts, a failed
    recipe as one row with its error), a legend, each variant's notes, and the verdict."""
    from rich import box
    from rich.markup import escape as rich_escape
    from rich.table import Table

    from wattwise.summary import fmt_energy

    big, small = _headline_batches(result)
    console.print(
        f"[bold]optimize {rich_escape(result.name)}[/bold] · objective: {result.objective} "
        f"energy · tolerance {_tolerance(result)} · energy {rich_escape(result.method)} · "
        f"store {rich_escape(result.store)}"
    )
    if result.noise:
        console.print(rich_escape(noise_text(result)), soft_wrap=True)
    for note in result.notes:
        console.print(f"note: {rich_escape(note)}", soft_wrap=True)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 0, 0, 1))
    table.add_column("variant", min_width=13, max_width=20, overflow="fold")
    for header in ("\nacc\n%", "\nΔacc\npt", "\n\nECE", "noise\nacc\n%", "train\nown\n(total)"):
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column(
        f"infer J\nper 1k\n{'bs ' + str(big) if big is not None else 'max bs'}",
        justify="right",
        no_wrap=True,
    )
    table.add_column(
        f"latency\nms\n{'bs ' + str(small) if small is not None else 'min bs'}",
        justify="right",
        no_wrap=True,
    )
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("weights", min_width=7, max_width=10)
    table.add_column("\n\nmark", no_wrap=True)
    rows = _ordered(result)
    for v in rows:
        name = rich_escape(v.name)
        if not v.ok:  # the error, too long for a cell, is printed under the table
            table.add_row(f"{name}\n[red]✗ failed[/red]", *["—"] * 9, "")
            continue
        large, single = v.large, v.single
        assert large is not None and single is not None
        train = fmt_energy(v.train_energy_j)
        if v.prerequisite_j > 0:
            train += f"\n({fmt_energy(v.train_total_j)})"
        if result.objective == "training" and v is not result.baseline:
            train += f"\n{_ratio_text(result.ratio(v, 'training'))}"
        infer = _energy_per_1000(large.energy_per_1000_j)
        if big is None:
            infer += f" @{large.batch_size}"
        if v is not result.baseline:
            infer += f"\n{_ratio_text(result.ratio(v, 'inference'))}"
        latency = _sig(single.latency_ms)
        if small is None:
            latency += f" @{single.batch_size}"
        table.add_row(
            name,
            _pct(v.accuracy),
            _delta(v, result.baseline),
            _ece(v.ece),
            _pct(v.noise_accuracy),
            train,
            infer,
            latency,
            _size(v.size_bytes),
            rich_escape(_model_facts(v, short=True)),
            _marks(result, v),
        )
    console.print(table)
    for v in rows:
        if not v.ok:
            console.print(
                f"[red]✗ {rich_escape(v.name)} failed:[/red] {rich_escape(v.error or 'not scored')}"
            )
    console.print(f"[dim]{rich_escape(_legend(result))}[/dim]")
    for v in (v for v in rows if v.notes):
        console.print()
        console.print(f"[bold]{rich_escape(v.name)}[/bold]")
        notes = Table.grid(padding=(0, 1))  # wrapped lines hang under the text, not the •
        notes.add_column(no_wrap=True)
        notes.add_column()
        for note in v.notes:
            notes.add_row(" •", rich_escape(note))
        console.print(notes)
    console.print()
    console.print(f"[bold]{rich_escape(result.verdict())}[/bold]")


# -- HTML ----------------------------------------------------------------------------------
_CSS = (
    ":root{--rec:#ecfdf3}@media (prefers-color-scheme:dark){:root{--rec:#0d2a1c}}"
    ".verdict{font-size:1.05rem;overflow-wrap:anywhere}"
    ".mark{display:inline-block;font-size:.72rem;font-weight:600;border-radius:4px;"
    "padding:0 .35em;border:1px solid var(--line);color:var(--muted);white-space:nowrap}"
    ".mark.rec{color:var(--meas);border-color:currentColor}"
    "#variants td.name,#variants th:first-child{position:sticky;left:0;z-index:1;"
    "background:var(--bg);box-shadow:inset -1px 0 var(--line)}"
    "#variants td.name{min-width:7.5em;max-width:15em;overflow-wrap:anywhere}"
    "#variants tr.rec td{background:var(--rec)}"
    "#variants th,#variants td{padding:5px 6px}"
    "td.error{color:#dc2626;overflow-wrap:anywhere}"
    "ul.notes{padding-left:1.2em;margin:.2rem 0 .8rem}"
    "ul.notes li{overflow-wrap:anywhere}"
    ".legend-text{font-size:.85rem}"
)


def _h(value: object) -> str:
    return escape(str(value), quote=True)


def _note(text: str) -> str:
    """A secondary figure on its own line under a cell's value."""
    return f'<br><span class="note">{_h(text)}</span>' if text else ""


def _front_marks(variant: Variant) -> str:
    marks = [
        f'<span class="mark">{word}</span>'
        for word, on in (
            ("inference", variant.on_inference_front),
            ("training", variant.on_training_front),
        )
        if on
    ]
    return "<br>".join(marks)


def _variants_table(result: OptimizeResult) -> str:
    from wattwise.summary import fmt_energy

    big, small = _headline_batches(result)
    base = result.baseline
    rows = []
    for v in _ordered(result):
        star = '<br><span class="mark rec">★ recommended</span>' if v is result.recommended else ""
        name = f"{_h(v.name)}{star}{_note(v.description)}"
        if not v.ok:
            rows.append(
                f'<tr class="failed"><td class="name">{name}</td>'
                f'<td class="error" colspan="10"><span class="status failed">failed:</span> '
                f"{_h(v.error or 'not scored')}</td></tr>"
            )
            continue
        large, single = v.large, v.single
        assert large is not None and single is not None
        total = _note(f"total {fmt_energy(v.train_total_j)}") if v.prerequisite_j > 0 else ""
        if result.objective == "training" and v is not base:
            total += _note(_ratio_text(result.ratio(v, "training")))
        ratio = "" if v is base else _ratio_text(result.ratio(v, "inference"))
        at_large = "" if big is not None else f" @{large.batch_size}"
        at_small = "" if small is not None else f" @{single.batch_size}"
        rec = ' class="rec"' if v is result.recommended else ""
        rows.append(
            f'<tr{rec}><td class="name">{name}</td>'
            f'<td class="n">{_pct(v.accuracy)}</td>'
            f'<td class="n">{_h(_delta(v, base))}</td>'
            f'<td class="n">{_ece(v.ece)}</td>'
            f'<td class="n">{_pct(v.noise_accuracy)}</td>'
            f'<td class="n">{_h(fmt_energy(v.train_energy_j))}{total}</td>'
            f'<td class="n">{_h(_energy_per_1000(large.energy_per_1000_j) + at_large)}'
            f"{_note(ratio)}</td>"
            f'<td class="n">{_h(_sig(single.latency_ms) + at_small)}</td>'
            f'<td class="n">{_h(_size(v.size_bytes))}</td>'
            f"<td>{_h(_model_facts(v))}</td><td>{_front_marks(v)}</td></tr>"
        )
    big_text = f"batch {big}" if big is not None else "max batch"
    small_text = f"batch {small}" if small is not None else "min batch"
    return (
        '<div class="scroll"><table id="variants"><thead><tr><th>variant</th>'
        '<th class="n">accuracy<br>%</th><th class="n">Δ acc.<br>points</th>'
        '<th class="n">ECE</th><th class="n">noise<br>acc. %</th>'
        '<th class="n">training<br>energy</th>'
        f'<th class="n">J per<br>1,000 at<br>{big_text}</th>'
        f'<th class="n">latency<br>ms at<br>{small_text}</th>'
        '<th class="n">size</th><th>weights</th><th>front</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _scatter(result: OptimizeResult, objective: Objective) -> str:
    """Accuracy against one energy: the front filled and named (★ the recommendation, on
    the objective's chart), the other variants hollow, named in their tooltips."""
    from wattwise.report.charts import Point, scatter_chart
    from wattwise.report.html import energy_scale
    from wattwise.summary import fmt_energy

    good = [v for v in result.variants if v.ok]
    off: list[Variant] = []
    if result.baseline.ok and result.baseline.energy(objective) > 0:
        cap = OFF_CHART * result.baseline.energy(objective)  # one outlier squeezes the rest
        off = [v for v in good if v.energy(objective) > cap]
        good = [v for v in good if v.energy(objective) <= cap]
    top = max((v.energy(objective) for v in good), default=0.0)
    div, unit = energy_scale(top)
    if unit == "J" and top >= 1e3:  # four-digit ticks crowd the axis: use kJ
        div, unit = 1e3, "kJ"
    front = result.front(objective)
    points: list[Point] = []
    for v in good:
        energy = v.energy(objective)
        shown = (
            f"{_energy_per_1000(energy)} per 1,000 samples"
            if objective == "inference"
            else f"{fmt_energy(energy)} with prerequisites"
        )
        on = any(v is f for f in front)
        star = "★ " if v is result.recommended and objective == result.objective else ""
        points.append(
            Point(
                energy / div,
                (v.accuracy or 0.0) * 100,
                f"{star}{_short(v.name)}" if on or star else "",
                tooltip=f"{v.name}: accuracy {_pct(v.accuracy)} %, {shown}",
                marked=on,
            )
        )
    front_idx = [i for f in front for i, v in enumerate(good) if v is f]
    if objective == "inference":
        big, _ = _headline_batches(result)
        batch = f"batch {big}" if big is not None else "largest batch"
        name, title = "accuracy-vs-inference", "Accuracy against inference energy"
        x_unit = f"inference energy per 1,000 samples, {batch} ({unit})"
    else:
        name, title = "accuracy-vs-training", "Accuracy against training energy"
        x_unit = f"training energy with prerequisites ({unit})"
    chart = scatter_chart(
        name,
        title,
        points,
        x_unit=x_unit,
        y_unit="accuracy (%)",
        front=front_idx,
        front_label=f"{objective} front: filled and named; hollow: the others (names on hover)",
    )
    if not off:
        return chart
    fmt = _energy_per_1000 if objective == "inference" else fmt_energy
    names = ", ".join(f"{v.name} ({fmt(v.energy(objective))})" for v in off)
    note = f"Off the chart (over {OFF_CHART:g}× the baseline's energy): {names}."
    return chart + f'<p class="note">{_h(note)}</p>'


OFF_CHART = 5.0
"""Variants using more than this many times the baseline's energy are listed under a chart,
not drawn in it."""


def _short(name: str, most: int = 18) -> str:
    """A chart label: long names end in … (the tooltip and the tables have them whole)."""
    return name if len(name) <= most else name[: most - 1].rstrip() + "…"


def _batches_table(result: OptimizeResult) -> str:
    rows = []
    for v in _ordered(result):
        if not v.ok:
            continue
        n = len(v.inference)
        for i, f in enumerate(v.inference):
            head = f'<td rowspan="{n}" class="name">{_h(v.name)}</td>' if i == 0 else ""
            spread = f"{_sig(f.energy_min_j)} – {_sig(f.energy_max_j)}"
            rows.append(
                f'<tr>{head}<td class="n">{f.batch_size}</td>'
                f'<td class="n">{_h(_energy_per_1000(f.energy_per_1000_j))}</td>'
                f'<td class="n">{_h(spread)}</td>'
                f'<td class="n">{_h(_sig(f.latency_ms))}</td>'
                f'<td class="n">{_h(_sig(f.samples_per_s))}</td>'
                f'<td class="n">{f.repeats}</td></tr>'
            )
    if not rows:
        return '<p class="empty">no variant was measured</p>'
    return (
        '<div class="scroll"><table id="batches"><thead><tr><th>variant</th>'
        '<th class="n">batch</th><th class="n">J per 1,000<br>(median)</th>'
        '<th class="n">min – max<br>J per 1,000</th><th class="n">latency<br>ms</th>'
        '<th class="n">samples/s</th><th class="n">repeats</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _notes(result: OptimizeResult) -> str:
    parts = []
    for v in _ordered(result):
        if v.notes:
            items = "".join(f"<li>{_h(n)}</li>" for n in v.notes)
            parts.append(f'<p><strong>{_h(v.name)}</strong></p><ul class="notes">{items}</ul>')
    return "<h2>Notes</h2>" + "".join(parts) if parts else ""


def noise_text(result: OptimizeResult) -> str:
    """One line on the noise floor: the baseline against its identical copy."""
    parts = [
        f"{share:.0%} at batch {size}"
        for size, share in sorted(result.noise.items(), key=lambda kv: -kv[0])
    ]
    return (
        "noise floor (the baseline against an identical copy measured alongside, and "
        "the spread of their windows): "
        + ", ".join(parts)
        + "; smaller differences between variants are not evidence"
    )


def _methods(result: OptimizeResult) -> str:
    from wattwise.optimizing.metrics import ECE_BINS

    return (
        "<h2>Methods</h2><p>"
        f"Energies are the tracker's headline energy ({_h(result.method)}); inference "
        "energy is per 1,000 samples, the median over the timed windows at each batch size "
        "(their minimum and maximum in the table above), and latency is the median wall time "
        "of one forward pass. Accuracy under noise is the held-out accuracy with Gaussian "
        f"noise of standard deviation {_h(f'{result.noise_std:.4g}')} (in the inputs' units) "
        f"added to every input. ECE is the expected calibration error over {ECE_BINS} "
        "equal-width confidence bins. A variant's training total includes its "
        "prerequisites: the energy of the models it was derived from (the trained baseline "
        "for pruning and quantization, the teacher for distillation, the other candidates of "
        "a search). A point is on a Pareto front when no other variant is at least as "
        "accurate for less of that energy.</p>"
    )


def html_optimize(result: OptimizeResult, *, generated_at: datetime | None = None) -> str:
    """The result as one self-contained HTML page (no script, nothing fetched): the
    verdict, the variants' table, accuracy against inference and against training energy
    (fronts highlighted), inference at every batch size, the notes and the methods."""
    from wattwise.report.html import _badge, html_page

    now = generated_at or datetime.now(timezone.utc)
    star = "★ " if result.recommended is not None else ""
    charts = [_scatter(result, "inference"), _scatter(result, "training")]
    body = (
        '<header><p class="kicker">wattwise optimize</p>'
        f"<h1>{_h(result.name)}</h1>"
        f'<p class="sub">{len(result.variants)} variants · objective: '
        f"{_h(result.objective)} energy · tolerance {_h(_tolerance(result))} of the "
        f"baseline's accuracy · energy {_badge(result.method)} · store "
        f"<code>{_h(result.store)}</code></p>"
        f'<p class="verdict"><strong>{star}{_h(result.verdict())}</strong></p>'
        + (f'<p class="note">{_h(noise_text(result))}</p>' if result.noise else "")
        + "".join(f'<p class="note">{_h(n)}</p>' for n in result.notes)
        + "</header>"
        f"<h2>Variants</h2>{_variants_table(result)}"
        f'<p class="note legend-text">{_h(_html_legend(result))}</p>'
        f'<h2>Accuracy against energy</h2><div class="charts">{"".join(charts)}</div>'
        f"<h2>Inference by batch size</h2>{_batches_table(result)}"
        f"{_notes(result)}{_methods(result)}"
        f"<footer>Generated by wattwise at {_h(now.isoformat())}.</footer>"
    )
    page = html_page(f"wattwise optimize · {result.name}", body)
    # this page's few extra rules join the report CSS in the head (the first </style>)
    return page.replace("</style>", _CSS + "</style>", 1)
