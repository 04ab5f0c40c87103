"""Small, dependency-free SVG charts for the HTML reports.

Each function returns one ``<figure>``: an inline ``<svg>`` (scales to its container's
width through its ``viewBox``) and an HTML legend under it, so legends wrap on a phone
while the plot keeps its shape. No script: bars and points carry a ``<title>`` (the
browser's own tooltip). Every label is escaped here; callers pass plain text.

Axes for power and energy start at zero (a truncated axis exaggerates differences).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = [
    "Bar",
    "Line",
    "Point",
    "bar_chart",
    "line_chart",
    "nice_ticks",
    "scatter_chart",
    "stacked_bar",
]

WIDTH = 560
"""viewBox width: 14-unit tick labels stay about 9 px on a 360 px phone screen."""
HEIGHT = 240
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 56.0, 14.0, 12.0, 46.0


@dataclass(frozen=True)
class Line:
    """A line: ``ys`` against ``xs``; a NaN in ``ys`` breaks it (a gap in the data)."""

    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str
    note: str = ""
    dashed: bool = False


@dataclass(frozen=True)
class Bar:
    """One bar (or one part of a stacked bar), with its tooltip; ``low``/``high`` draw a
    whisker over a bar of :func:`bar_chart` (a spread, such as the min–max over seeds)."""

    label: str
    value: float
    color: str
    tooltip: str = ""
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Point:
    """One point of a scatter chart; ``marked`` points are drawn filled and labelled."""

    x: float
    y: float
    label: str
    tooltip: str = ""
    marked: bool = False


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (steps of 1, 2, 2.5 or 5 × 10^k) covering the range."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    low, high = min(low, high), max(low, high)
    scale = max(abs(low), abs(high))
    if high - low <= 1e-9 * scale or high == low:  # equal up to float rounding: widen
        mid = (low + high) / 2
        low, high = (mid, mid + (abs(mid) or 1.0)) if mid >= 0 else (mid - abs(mid), mid)
    span = high - low
    if not math.isfinite(span) or span / count <= 1e-300:  # beyond float range or precision
        return [low, high] if high > low else [low, low + 1.0]
    magnitude = 10.0 ** math.floor(math.log10(span / count))
    step = magnitude * 10
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if span / (m * magnitude) <= count:
            step = m * magnitude
            break
    first = math.floor(low / step + 1e-9) * step
    ticks = [first]
    while ticks[-1] < high - 1e-9 * step:
        ticks.append(first + len(ticks) * step)
    return ticks


def _tick_text(value: float, ticks: Sequence[float]) -> str:
    """A tick label with as many decimals as the step needs (0.25 → 2, 2.5 → 1, 25 → 0)."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    if not (math.isfinite(step) and step > 1e-300):
        return f"{value:.3g}"
    exponent = math.floor(math.log10(step) + 1e-9)
    extra = 1 if round(step / 10.0**exponent, 6) == 2.5 else 0
    decimals = max(0, -exponent + extra)
    text = f"{value:,.{decimals}f}"
    return "0" if text.strip("-0.,") == "" else text


def _f(value: float) -> str:
    """A coordinate with one decimal (enough at this size, and keeps files small)."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


class _Frame:
    """The plot area's scales and its axes with ticks and grid lines."""

    def __init__(
        self,
        x_ticks: Sequence[float],
        y_ticks: Sequence[float],
        *,
        width: float = WIDTH,
        height: float = HEIGHT,
        x_text: Sequence[str] | None = None,
    ) -> None:
        self.x_ticks, self.y_ticks = list(x_ticks), list(y_ticks)
        self.x0, self.x1 = self.x_ticks[0], self.x_ticks[-1]
        self.y0, self.y1 = self.y_ticks[0], self.y_ticks[-1]
        self.width, self.height = width, height
        self.left, self.right = _PAD_L, width - _PAD_R
        self.top, self.bottom = _PAD_T, height - _PAD_B
        self.x_text = list(x_text) if x_text is not None else None

    def x(self, value: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return self.left + (value - self.x0) / span * (self.right - self.left)

    def y(self, value: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        return self.bottom - (value - self.y0) / span * (self.bottom - self.top)

    def x_title(self, text: str) -> str:
        """The x axis's title, centred under its tick labels."""
        return (
            f'<text class="tick" x="{_f((self.left + self.right) / 2)}" '
            f'y="{_f(self.height - 6)}" text-anchor="middle">{escape(text)}</text>'
        )

    def axes(self) -> str:
        parts = []
        for t in self.y_ticks:
            y = _f(self.y(t))
            parts.append(
                f'<line class="grid" x1="{_f(self.left)}" x2="{_f(self.right)}" y1="{y}" '
                f'y2="{y}"/><text class="tick" x="{_f(self.left - 6)}" y="{y}" '
                f'text-anchor="end" dominant-baseline="middle">'
                f"{escape(_tick_text(t, self.y_ticks))}</text>"
            )
        labels = self.x_text or [_tick_text(t, self.x_ticks) for t in self.x_ticks]
        for t, text in zip(self.x_ticks, labels, strict=False):
            parts.append(
                f'<text class="tick" x="{_f(self.x(t))}" y="{_f(self.bottom + 18)}" '
                f'text-anchor="middle">{escape(text)}</text>'
            )
        parts.append(
            f'<line class="axis" x1="{_f(self.left)}" x2="{_f(self.right)}" '
            f'y1="{_f(self.bottom)}" y2="{_f(self.bottom)}"/>'
        )
        return "".join(parts)


def _svg(name: str, title: str, body: str, height: float = HEIGHT) -> str:
    return (
        f'<svg viewBox="0 0 {WIDTH} {_f(height)}" role="img" aria-label="{escape(title)}" '
        f'data-chart="{escape(name)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def _legend(items: Sequence[tuple[str, str, str, bool]]) -> str:
    """HTML legend: (label, note, color, dashed) per entry."""
    if not items:
        return ""
    lis = []
    for label, note, color, dashed in items:
        cls = "swatch dashed" if dashed else "swatch"
        extra = f' <span class="note">{escape(note)}</span>' if note else ""
        swatch = f'<span class="{cls}" style="--c:{escape(color)}"></span>'
        lis.append(f"<li>{swatch}{escape(label)}{extra}</li>")
    return f'<ul class="legend">{"".join(lis)}</ul>'


def _figure(name: str, title: str, unit: str, svg: str, legend: str) -> str:
    return (
        f'<figure class="chart" id="chart-{escape(name)}"><figcaption><strong>'
        f'{escape(title)}</strong> <span class="unit">{escape(unit)}</span></figcaption>'
        f"{svg}{legend}</figure>"
    )


def _finite(values: Sequence[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def line_chart(
    name: str,
    title: str,
    lines: Sequence[Line],
    *,
    x_unit: str,
    y_unit: str,
    zero_based: bool = True,
) -> str:
    """Lines on shared axes (the y axis from zero unless ``zero_based`` is False)."""
    xs = _finite([x for line in lines for x in line.xs])
    ys = _finite([y for line in lines for y in line.ys])
    if not xs or not ys:
        return _figure(name, title, y_unit, '<p class="empty">no data</p>', "")
    y_low = 0.0 if zero_based else min(ys)
    frame = _Frame(nice_ticks(min(xs), max(xs)), nice_ticks(min(y_low, min(ys)), max(ys)))
    paths = []
    for line in lines:
        segments: list[list[str]] = [[]]
        for x, y in zip(line.xs, line.ys, strict=False):
            if not (math.isfinite(x) and math.isfinite(y)):
                if segments[-1]:
                    segments.append([])
                continue
            segments[-1].append(f"{_f(frame.x(x))},{_f(frame.y(y))}")
        dash = ' stroke-dasharray="5 4"' if line.dashed else ""
        for seg in segments:
            if len(seg) == 1:  # a lone point still shows
                cx, cy = seg[0].split(",")
                paths.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{escape(line.color)}"/>')
            elif seg:
                paths.append(
                    f'<polyline class="series" points="{" ".join(seg)}" fill="none" '
                    f'stroke="{escape(line.color)}" stroke-width="1.8"{dash}>'
                    f"<title>{escape(line.label)}</title></polyline>"
                )
    body = frame.axes() + "".join(paths)
    body += frame.x_title(x_unit)
    legend = _legend([(ln.label, ln.note, ln.color, ln.dashed) for ln in lines])
    return _figure(name, title, y_unit, _svg(name, title, body), legend)


def bar_chart(name: str, title: str, bars: Sequence[Bar], *, y_unit: str, x_unit: str = "") -> str:
    """Vertical bars from zero, one per entry, labelled under the axis (thinned if many)."""
    if not bars:
        return _figure(name, title, y_unit, '<p class="empty">no data</p>', "")
    top = max(max(max(b.value, b.high or 0.0) for b in bars), 0.0)
    y_ticks = nice_ticks(0.0, top if top > 0 else 1.0)
    n = len(bars)
    every = max(1, math.ceil(n / 12))  # at most ~12 labels under the axis
    frame = _Frame([0.0, float(n)], y_ticks, x_text=["", ""])
    slot = (frame.right - frame.left) / n
    gap = min(slot * 0.2, 6.0)
    parts = [frame.axes()]
    for i, b in enumerate(bars):
        x = frame.left + i * slot + gap / 2
        y = frame.y(max(b.value, 0.0))
        tip = b.tooltip or f"{b.label}: {b.value:g}"
        parts.append(
            f'<rect class="bar" x="{_f(x)}" y="{_f(y)}" width="{_f(max(slot - gap, 0.5))}" '
            f'height="{_f(frame.bottom - y)}" fill="{escape(b.color)}">'
            f"<title>{escape(tip)}</title></rect>"
        )
        if b.low is not None and b.high is not None:  # a whisker with caps
            cx, cap = x + (slot - gap) / 2, min((slot - gap) / 6, 8.0)
            y_lo, y_hi = _f(frame.y(max(b.low, 0.0))), _f(frame.y(max(b.high, 0.0)))
            parts.append(
                f'<path class="whisker" d="M{_f(cx)},{y_lo}V{y_hi}M{_f(cx - cap)},{y_lo}'
                f'H{_f(cx + cap)}M{_f(cx - cap)},{y_hi}H{_f(cx + cap)}" fill="none" '
                f'stroke="currentColor" stroke-width="1.5"><title>{escape(tip)}</title></path>'
            )
        if i % every == 0 or i == n - 1:
            parts.append(
                f'<text class="tick" x="{_f(x + (slot - gap) / 2)}" '
                f'y="{_f(frame.bottom + 18)}" text-anchor="middle">{escape(b.label)}</text>'
            )
    if x_unit:
        parts.append(frame.x_title(x_unit))
    return _figure(name, title, y_unit, _svg(name, title, "".join(parts)), "")


def stacked_bar(name: str, title: str, parts: Sequence[Bar], *, unit: str) -> str:
    """One horizontal bar split into shares (e.g. energy by component), legend with values."""
    total = sum(max(p.value, 0.0) for p in parts)
    if total <= 0:
        return _figure(name, title, unit, '<p class="empty">no energy recorded</p>', "")
    height = 44.0
    x = 0.0
    rects = []
    for p in parts:
        w = max(p.value, 0.0) / total * WIDTH
        tip = p.tooltip or f"{p.label}: {p.value:g}"
        rects.append(
            f'<rect class="bar" x="{_f(x)}" y="4" width="{_f(w)}" height="{_f(height - 8)}" '
            f'fill="{escape(p.color)}"><title>{escape(tip)}</title></rect>'
        )
        x += w
    legend = _legend(
        [(p.label, p.tooltip or f"{p.value / total:.0%}", p.color, False) for p in parts]
    )
    return _figure(name, title, unit, _svg(name, title, "".join(rects), height), legend)


def scatter_chart(
    name: str,
    title: str,
    points: Sequence[Point],
    *,
    x_unit: str,
    y_unit: str,
    front: Sequence[int] = (),
    front_label: str = "",
) -> str:
    """Points, with the ones at indices ``front`` joined by a step line (a Pareto front)."""
    if not points:
        return _figure(name, title, y_unit, '<p class="empty">no data</p>', "")
    xs = [p.x for p in points]
    ys = [p.y for p in points]
    x_lo, x_hi = min(0.0, min(xs)), max(xs)
    y_pad = (max(ys) - min(ys)) * 0.1 or abs(max(ys)) * 0.05 or 1.0
    frame = _Frame(nice_ticks(x_lo, x_hi), nice_ticks(min(ys) - y_pad, max(ys) + y_pad))
    parts = [frame.axes()]
    if len(front) > 1:
        coords = []
        for a, b in itertools.pairwise(front):
            pa, pb = points[a], points[b]
            coords.append(f"{_f(frame.x(pa.x))},{_f(frame.y(pa.y))}")
            coords.append(f"{_f(frame.x(pb.x))},{_f(frame.y(pa.y))}")
        last = points[front[-1]]
        coords.append(f"{_f(frame.x(last.x))},{_f(frame.y(last.y))}")
        parts.append(
            f'<polyline class="front" points="{" ".join(coords)}" fill="none" '
            f'stroke="#dc2626" stroke-width="1.5" stroke-dasharray="4 3"/>'
        )
    for p in points:
        cx, cy = _f(frame.x(p.x)), _f(frame.y(p.y))
        cls = "dot marked" if p.marked else "dot"
        fill = "#dc2626" if p.marked else "#fff"
        parts.append(
            f'<circle class="{cls}" cx="{cx}" cy="{cy}" r="5" fill="{fill}" stroke="#dc2626" '
            f'stroke-width="1.5"><title>{escape(p.tooltip or p.label)}</title></circle>'
            f'<text class="tick" x="{cx}" y="{_f(frame.y(p.y) - 9)}" text-anchor="middle">'
            f"{escape(p.label)}</text>"
        )
    parts.append(frame.x_title(x_unit))
    legend = _legend([(front_label, "", "#dc2626", True)]) if front_label and len(front) > 1 else ""
    return _figure(name, title, y_unit, _svg(name, title, "".join(parts)), legend)
