"""The SVG chart primitives: round ticks, lines with gaps, bars, shares, a Pareto scatter."""

from __future__ import annotations

import itertools
import math
import random
import xml.etree.ElementTree as ET

import pytest

from wattwise.report.charts import (
    WIDTH,
    Bar,
    Line,
    Point,
    bar_chart,
    line_chart,
    nice_ticks,
    scatter_chart,
    stacked_bar,
)

NS = "{http://www.w3.org/2000/svg}"
EVIL = "<script>alert(\"x\")</script> & 'q'"


def _svg(figure: str) -> ET.Element:
    """The figure's ``<svg>`` parsed as XML (the figure is HTML; the svg is well-formed)."""
    start, end = figure.index("<svg"), figure.index("</svg>") + len("</svg>")
    return ET.fromstring(figure[start:end])


def _all(svg: ET.Element, tag: str, cls: str | None = None) -> list[ET.Element]:
    found = list(svg.iter(f"{NS}{tag}"))
    return found if cls is None else [e for e in found if e.get("class") == cls]


def _points(polyline: ET.Element) -> list[tuple[float, float]]:
    pairs = [p.split(",") for p in (polyline.get("points") or "").split()]
    return [(float(x), float(y)) for x, y in pairs]


def _y_tick_labels(svg: ET.Element) -> list[str]:
    """The y axis's tick labels, lowest first (right-aligned left of the plot)."""
    return [t.text or "" for t in _all(svg, "text", "tick") if t.get("text-anchor") == "end"]


def _title(el: ET.Element) -> str:
    title = el.find(f"{NS}title")
    assert title is not None
    return title.text or ""


# -- nice_ticks ---------------------------------------------------------------------------
def _check_ticks(low: float, high: float, ticks: list[float]) -> None:
    assert 3 <= len(ticks) <= 7, ticks  # a handful, for the default count of 5
    step = (ticks[-1] - ticks[0]) / (len(ticks) - 1)
    assert step > 0
    for a, b in itertools.pairwise(ticks):  # evenly spaced
        assert b - a == pytest.approx(step, rel=1e-6)
    mantissa = step / 10.0 ** math.floor(math.log10(step) + 1e-9)
    assert any(mantissa == pytest.approx(m, rel=1e-6) for m in (1.0, 2.0, 2.5, 5.0)), step
    slack = 1e-6 * step
    assert ticks[0] <= low + slack and ticks[-1] >= high - slack, (low, high, ticks)
    # no tick is wasted: the first is within a step below low, the last within a step above
    assert ticks[0] > low - step - slack and ticks[-1] < high + step + slack


@pytest.mark.parametrize(
    ("low", "high"),
    [
        (0.0, 1.0),
        (0.0, 110.0),
        (100.0, 110.0),
        (-3.7, 12.2),
        (0.0013, 0.0171),
        (1e6, 3.4e7),
        (-50.0, -2.0),
        (0.0, 7.0),
        (0.0, 2.5e-9),
    ],
)
def test_nice_ticks_cover_the_range_with_round_steps(low: float, high: float) -> None:
    _check_ticks(low, high, nice_ticks(low, high))


def test_nice_ticks_on_many_ranges() -> None:
    rng = random.Random(20260101)
    for _ in range(2000):
        scale = 10.0 ** rng.randint(-9, 9)
        low = rng.uniform(-1000.0, 1000.0) * scale
        high = low + rng.uniform(0.01, 10.0) * scale * 10.0 ** rng.randint(0, 3)
        _check_ticks(low, high, nice_ticks(low, high))


def test_nice_ticks_known_values() -> None:
    assert nice_ticks(0.0, 110.0) == [0.0, 25.0, 50.0, 75.0, 100.0, 125.0]
    assert nice_ticks(100.0, 110.0) == [100.0, 102.0, 104.0, 106.0, 108.0, 110.0]
    assert nice_ticks(0.0, 1.0) == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])


@pytest.mark.parametrize("value", [0.0, 5.0, -5.0, 1e-12, 3.6e9])
def test_nice_ticks_of_a_single_value_give_an_axis_that_contains_it(value: float) -> None:
    ticks = nice_ticks(value, value)
    assert len(ticks) >= 2
    assert all(b > a for a, b in itertools.pairwise(ticks))
    assert ticks[0] <= value <= ticks[-1]


@pytest.mark.parametrize(
    ("low", "high"),
    [(math.nan, 1.0), (0.0, math.nan), (0.0, math.inf), (-math.inf, 0.0), (math.nan, math.nan)],
)
def test_nice_ticks_of_non_finite_bounds_give_a_finite_axis(low: float, high: float) -> None:
    ticks = nice_ticks(low, high)
    assert len(ticks) >= 2 and all(math.isfinite(t) for t in ticks)
    assert all(b > a for a, b in itertools.pairwise(ticks))


def test_nice_ticks_of_values_one_ulp_apart_increase() -> None:
    ticks = nice_ticks(0.3, 0.1 + 0.2)
    assert all(b > a for a, b in itertools.pairwise(ticks)), ticks


def test_line_chart_of_a_metric_that_moves_by_one_ulp() -> None:
    # what html_report draws for a metric whose epochs differ by rounding only
    fig = line_chart(
        "m",
        "val_acc",
        [Line("val_acc", [1.0, 2.0], [0.3, 0.1 + 0.2], "#000")],
        x_unit="epoch",
        y_unit="per epoch",
        zero_based=False,
    )
    assert len(_all(_svg(fig), "polyline", "series")) == 1


# -- line_chart ---------------------------------------------------------------------------
def test_a_nan_splits_a_line_into_two_polylines() -> None:
    line = Line("power", [0.0, 1.0, 2.0, 3.0, 4.0], [1.0, 2.0, math.nan, 3.0, 4.0], "#123456")
    svg = _svg(line_chart("p", "Power", [line], x_unit="s", y_unit="W"))
    polylines = _all(svg, "polyline", "series")
    assert len(polylines) == 2
    first, second = (_points(p) for p in polylines)
    assert len(first) == 2 and len(second) == 2
    assert first[-1][0] < second[0][0]  # the gap stays a gap, no segment across it
    assert all(_title(p) == "power" for p in polylines)
    assert all(p.get("stroke") == "#123456" for p in polylines)
    assert not _all(svg, "circle")


def test_a_lone_finite_point_is_drawn_as_a_circle() -> None:
    line = Line("loss", [0.0, 1.0, 2.0], [math.nan, 5.0, math.nan], "#abcdef")
    other = Line("other", [0.0, 2.0], [1.0, 2.0], "#000000")
    svg = _svg(line_chart("l", "Loss", [line, other], x_unit="epoch", y_unit=""))
    circles = _all(svg, "circle")
    assert len(circles) == 1 and circles[0].get("fill") == "#abcdef"
    assert len(_all(svg, "polyline", "series")) == 1  # only the other line's
    # the circle sits in the middle of the x axis (x from 0 to 2)
    ticks = [t for t in _all(svg, "text", "tick") if t.get("text-anchor") == "middle"]
    xs = [float(t.get("x") or 0) for t in ticks if t.text and t.text != "epoch"]
    assert float(circles[0].get("cx") or 0) == pytest.approx((min(xs) + max(xs)) / 2, abs=0.2)


@pytest.mark.parametrize(
    "lines",
    [[], [Line("a", [], [], "#000")], [Line("a", [0.0, 1.0], [math.nan, math.inf], "#000")]],
)
def test_no_data_says_so(lines: list[Line]) -> None:
    fig = line_chart("n", "Nothing", lines, x_unit="s", y_unit="W")
    assert "no data" in fig and "<svg" not in fig


def test_the_y_axis_starts_at_zero_unless_asked_not_to() -> None:
    lines = [Line("a", [0.0, 1.0, 2.0], [100.0, 105.0, 110.0], "#000")]
    zero = _y_tick_labels(_svg(line_chart("z", "Z", lines, x_unit="s", y_unit="W")))
    assert zero[0] == "0"
    free = _y_tick_labels(
        _svg(line_chart("f", "F", lines, x_unit="s", y_unit="", zero_based=False))
    )
    assert free[0] == "100" and free[-1] == "110"


def test_negative_values_stay_on_a_zero_based_axis() -> None:
    lines = [Line("a", [0.0, 1.0], [-5.0, 10.0], "#000")]
    labels = _y_tick_labels(_svg(line_chart("n", "N", lines, x_unit="s", y_unit="")))
    assert float(labels[0].replace(",", "")) <= -5.0 and "0" in labels


def test_a_higher_value_is_drawn_higher() -> None:
    line = Line("a", [0.0, 1.0, 2.0], [1.0, 3.0, 2.0], "#000")
    (poly,) = _all(_svg(line_chart("h", "H", [line], x_unit="s", y_unit="")), "polyline")
    ys = [y for _, y in _points(poly)]
    assert ys[1] < ys[2] < ys[0]  # SVG y grows downward


# -- bar_chart ----------------------------------------------------------------------------
def test_one_rect_per_bar_with_its_tooltip() -> None:
    bars = [
        Bar("1", 10.0, "#111111", tooltip="epoch 1: 10 J"),
        Bar("2", 20.0, "#222222"),
        Bar("3", -4.0, "#333333"),
    ]
    svg = _svg(bar_chart("b", "Energy", bars, y_unit="J", x_unit="epoch"))
    rects = _all(svg, "rect", "bar")
    assert len(rects) == 3
    assert [_title(r) for r in rects] == ["epoch 1: 10 J", "2: 20", "3: -4"]
    assert [r.get("fill") for r in rects] == ["#111111", "#222222", "#333333"]
    heights = [float(r.get("height") or 0) for r in rects]
    assert heights[1] == pytest.approx(2 * heights[0], abs=0.2)
    assert heights[2] == 0.0  # a negative value draws nothing below the axis
    xs = [float(r.get("x") or 0) for r in rects]
    assert xs == sorted(xs)


def test_bar_labels_are_thinned_for_many_bars() -> None:
    bars = [Bar(f"b{i}", float(i), "#000") for i in range(100)]
    svg = _svg(bar_chart("many", "Many", bars, y_unit="J"))
    assert len(_all(svg, "rect", "bar")) == 100
    labels = [t.text for t in _all(svg, "text", "tick") if (t.text or "").startswith("b")]
    assert 8 <= len(labels) <= 13, labels
    assert labels[0] == "b0" and labels[-1] == "b99"


def test_few_bars_are_all_labelled_and_no_bars_is_no_data() -> None:
    bars = [Bar(f"b{i}", 1.0, "#000") for i in range(12)]
    svg = _svg(bar_chart("few", "Few", bars, y_unit="J"))
    labels = [t.text for t in _all(svg, "text", "tick") if (t.text or "").startswith("b")]
    assert labels == [f"b{i}" for i in range(12)]
    assert "no data" in bar_chart("none", "None", [], y_unit="J")


# -- stacked_bar --------------------------------------------------------------------------
def test_stacked_bar_widths_are_shares_of_the_whole_width() -> None:
    parts = [Bar("cpu", 1.0, "#1"), Bar("ram", 3.0, "#2"), Bar("gpu", 4.0, "#3")]
    fig = stacked_bar("share", "By component", parts, unit="J")
    svg = _svg(fig)
    assert svg.get("viewBox", "").split()[2] == str(WIDTH)
    rects = _all(svg, "rect", "bar")
    widths = [float(r.get("width") or 0) for r in rects]
    assert widths == pytest.approx([WIDTH / 8, WIDTH * 3 / 8, WIDTH / 2], abs=0.06)
    assert sum(widths) == pytest.approx(WIDTH, abs=0.2)
    xs = [float(r.get("x") or 0) for r in rects]  # side by side from the left edge
    assert xs[0] == 0.0
    assert xs[1] == pytest.approx(widths[0], abs=0.1)
    assert xs[2] == pytest.approx(widths[0] + widths[1], abs=0.1)
    assert [_title(r) for r in rects] == ["cpu: 1", "ram: 3", "gpu: 4"]
    legend = fig.split("</svg>")[1]
    assert "12%" in legend and "38%" in legend and "50%" in legend


def test_stacked_bar_ignores_negative_parts() -> None:
    parts = [Bar("a", 1.0, "#1"), Bar("b", -5.0, "#2"), Bar("c", 1.0, "#3")]
    widths = [
        float(r.get("width") or 0)
        for r in _all(_svg(stacked_bar("s", "S", parts, unit="J")), "rect", "bar")
    ]
    assert widths == pytest.approx([WIDTH / 2, 0.0, WIDTH / 2], abs=0.06)


@pytest.mark.parametrize("values", [[], [0.0, 0.0], [-1.0]])
def test_stacked_bar_without_energy_says_so(values: list[float]) -> None:
    fig = stacked_bar("s", "S", [Bar(str(v), v, "#000") for v in values], unit="J")
    assert "no energy recorded" in fig and "<svg" not in fig


# -- scatter_chart ------------------------------------------------------------------------
def _pts() -> list[Point]:
    return [
        Point(1.0, 0.5, "1", marked=True),
        Point(2.0, 0.9, "2", tooltip="run 2: 0.9", marked=True),
        Point(3.0, 0.7, "3"),
    ]


def test_scatter_marks_front_points_and_joins_them() -> None:
    fig = scatter_chart(
        "pareto", "acc vs energy", _pts(), x_unit="J", y_unit="", front=[0, 1], front_label="front"
    )
    svg = _svg(fig)
    dots = _all(svg, "circle")
    assert len(dots) == 3
    assert [d.get("class") for d in dots] == ["dot marked", "dot marked", "dot"]
    assert [_title(d) for d in dots] == ["1", "run 2: 0.9", "3"]
    (front,) = _all(svg, "polyline", "front")
    coords = _points(front)
    centres = [(float(d.get("cx") or 0), float(d.get("cy") or 0)) for d in dots]
    # a step line from point 0 to point 1: starts at 0, ends at 1
    assert coords[0] == pytest.approx(centres[0]) and coords[-1] == pytest.approx(centres[1])
    assert "front" in fig.split("</svg>")[1]  # the legend names the front


@pytest.mark.parametrize("front", [[], [1]])
def test_scatter_draws_no_front_line_for_fewer_than_two_points(front: list[int]) -> None:
    fig = scatter_chart(
        "pareto", "acc", _pts(), x_unit="J", y_unit="", front=front, front_label="front"
    )
    svg = _svg(fig)
    assert not _all(svg, "polyline")
    assert len(_all(svg, "circle")) == 3
    assert '<ul class="legend">' not in fig


def test_scatter_of_equal_values_and_of_nothing() -> None:
    same = [Point(0.0, 0.0, "a"), Point(0.0, 0.0, "b")]
    svg = _svg(scatter_chart("s", "S", same, x_unit="J", y_unit=""))
    assert len(_all(svg, "circle")) == 2
    assert "no data" in scatter_chart("s", "S", [], x_unit="J", y_unit="")


# -- escaping -----------------------------------------------------------------------------
def test_every_label_is_escaped() -> None:
    figures = [
        line_chart(
            EVIL,
            EVIL,
            [Line(EVIL, [0.0, 1.0], [1.0, 2.0], EVIL, note=EVIL)],
            x_unit=EVIL,
            y_unit=EVIL,
        ),
        bar_chart(
            EVIL, EVIL, [Bar(EVIL, 1.0, EVIL), Bar("b", 2.0, "#0", EVIL)], y_unit=EVIL, x_unit=EVIL
        ),
        stacked_bar(EVIL, EVIL, [Bar(EVIL, 1.0, EVIL), Bar("b", 1.0, "#0", EVIL)], unit=EVIL),
        scatter_chart(
            EVIL,
            EVIL,
            [Point(1.0, 1.0, EVIL, marked=True), Point(2.0, 2.0, "b", EVIL, marked=True)],
            x_unit=EVIL,
            y_unit=EVIL,
            front=[0, 1],
            front_label=EVIL,
        ),
    ]
    for fig in figures:
        assert "<script" not in fig.lower()
        assert "&lt;script&gt;" in fig
        svg = _svg(fig)  # quotes in attributes are escaped too, or this would not parse
        assert svg.get("aria-label") == EVIL and _title(svg) == EVIL
        # and a bar, point or line's own tooltip (not only the chart's title) round-trips
        assert sum((t.text or "") == EVIL for t in svg.iter(f"{NS}title")) >= 2
