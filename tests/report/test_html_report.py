"""The HTML run report: built from a real tracked run, opened in a real headless Chromium."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from chromium import Browser

from wattwise.record import RunRecord
from wattwise.report import build_report, validate_report
from wattwise.report.html import (
    MAX_EPOCH_BARS,
    MAX_PLOT_POINTS,
    MAX_TABLE_ROWS,
    html_report,
)
from wattwise.sensors.estimate import EstimateSensor
from wattwise.series import DownsamplingSeries, SeriesPoint
from wattwise.store import get_store
from wattwise.testing.fake import SyntheticSensor
from wattwise.testing.records import make_record
from wattwise.tracking import Tracker

NASTY = "<script>alert(1)</script>\"'><img onerror=alert(2)><!--"
WW = [sys.executable, "-m", "wattwise"]
# read at import: the suite's autouse fixture clears WATTWISE_* before each test
KEEP_SCREENSHOTS = os.environ.get("WATTWISE_SCREENSHOT_DIR")


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, RunRecord]:
    """A stored 3-epoch run: CPU measured (counter), GPU measured (power), RAM estimated."""
    db = str(tmp_path_factory.mktemp("html") / "runs.db")
    cpu = SyntheticSensor(lambda t: 80.0, lambda a, b: 80.0 * (b - a), kind="counter")
    gpu = SyntheticSensor(
        lambda t: 150.0 + 50.0 * math.sin(4 * t), component="gpu", key="synthetic:gpu"
    )
    with Tracker(
        NASTY,
        store=db,
        sensors=[cpu, gpu, EstimateSensor(components=("ram",))],
        zone="FRA",
        interval_s=0.1,
        live="off",
        tags={"team": "<b>x</b>"},
    ) as run:
        for epoch in run.epochs(3):
            time.sleep(0.35)
            run.step(samples=16)
            run.log(**{"val_acc<i>": 0.5 + 0.1 * epoch, "loss": 1.0 / (epoch + 1)})
    return db, run.result


@pytest.fixture(scope="module")
def page_html(tracked: tuple[str, RunRecord]) -> str:
    db, record = tracked
    with get_store(db) as store:
        columns, points = store.get_series(record.id)
    assert len(points) >= 8
    return html_report(record, columns, points)


@pytest.fixture(scope="module")
def report_file(page_html: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("page") / "report.html"
    path.write_text(page_html, encoding="utf-8")
    return path


def _shot(page: Any, tmp_path: Path, name: str) -> bytes:
    """Screenshot into tmp_path, and WATTWISE_SCREENSHOT_DIR when set (to look at)."""
    data: bytes = page.screenshot(tmp_path / name)
    if KEEP_SCREENSHOTS:
        Path(KEEP_SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / name, Path(KEEP_SCREENSHOTS) / name)
    return data


def test_renders_in_chromium_with_data_and_no_errors(
    browser: Browser, report_file: Path, tracked: tuple[str, RunRecord], tmp_path: Path
) -> None:
    _, record = tracked
    with browser.open(report_file, width=1280, height=900) as page:
        assert page.errors == []
        assert page.dialogs == []
        assert [u for u in page.requests if not u.startswith("file:")] == []
        # the run name is text, not markup: the title shows it verbatim, no script ran
        assert page.evaluate("document.querySelector('h1').textContent") == NASTY
        assert page.evaluate("document.querySelectorAll('script').length") == 1
        assert page.evaluate("document.querySelector('script').type") == "application/json"
        # power over time: one line per component with energy, each with many points
        lines = page.evaluate(
            "[...document.querySelectorAll('svg[data-chart=power] polyline')]"
            ".map(p => [p.querySelector('title').textContent, p.points.numberOfItems,"
            " p.getBBox().width])"
        )
        labels = [name for name, _, _ in lines]
        assert labels == ["CPU", "RAM", "GPU", "tracked processes"]
        assert all(n >= 8 and width > 100 for _, n, width in lines)
        # cumulative energy rises to the end of the plot
        cum = page.evaluate(
            "[...document.querySelector('svg[data-chart=cumulative] polyline').points]"
            ".map(p => p.y)"
        )
        assert cum[-1] < cum[0]  # SVG y grows downwards: the line climbs
        assert all(b <= a + 1e-6 for a, b in itertools.pairwise(cum))
        # energy per epoch: one bar per epoch, each with height and a tooltip
        bars = page.evaluate(
            "[...document.querySelectorAll('svg[data-chart=epoch-energy] rect')]"
            ".map(r => [r.getBBox().height, r.textContent])"
        )
        assert len(bars) == 3 and all(h > 10 and "epoch" in tip for h, tip in bars)
        # the user's metrics are plotted first, by their (escaped) names
        titles = page.evaluate(
            "[...document.querySelectorAll('figure.chart figcaption strong')]"
            ".map(s => s.textContent)"
        )
        assert titles[3:5] == ["val_acc<i>", "loss"]
        # method labels beside the numbers
        breakdown = page.evaluate(
            "[...document.querySelectorAll('table')[0].rows].slice(1)"
            ".map(r => r.cells[0].textContent + ' ' + r.cells[1].textContent)"
        )
        assert any(row.startswith("CPU measured") for row in breakdown)
        assert any(row.startswith("RAM estimated") for row in breakdown)
        # the embedded JSON report parses in the browser and is the record's
        embedded = page.evaluate("JSON.parse(document.getElementById('wattwise-report').text)")
        assert embedded["run"]["name"] == NASTY and embedded["run"]["id"] == record.id
        assert embedded["run"]["tags"] == {"team": "<b>x</b>"}
        png = _shot(page, tmp_path, "report-laptop.png")
        assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_readable_on_a_phone(browser: Browser, report_file: Path, tmp_path: Path) -> None:
    with browser.open(report_file, width=390, height=844, mobile=True, scale=2) as page:
        assert page.errors == []
        # no sideways scrolling of the page; wide tables scroll inside their own box
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        # charts fit the screen and keep their text at a readable size
        width = page.evaluate("document.querySelector('svg[data-chart=power]').clientWidth")
        assert 300 <= width <= 390
        tick_px = page.evaluate(
            "document.querySelector('svg[data-chart=power] .tick').getBoundingClientRect().height"
        )
        assert tick_px >= 7.5
        body_px = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert body_px >= 14
        _shot(page, tmp_path, "report-phone.png")


def test_embedded_json_is_the_valid_report(page_html: str, tracked: tuple[str, RunRecord]) -> None:
    pytest.importorskip("jsonschema")
    _, record = tracked
    match = re.search(
        r'<script type="application/json" id="wattwise-report">(.*?)</script>', page_html
    )
    assert match is not None
    assert "<" not in match.group(1)  # nothing in the blob can close the script element
    embedded = json.loads(match.group(1))
    validate_report(embedded)
    fresh = build_report(record, generated_at=datetime.fromisoformat(embedded["generated_at"]))
    assert embedded == json.loads(json.dumps(fresh))


class _Tags(HTMLParser):
    """Every start tag with its attributes, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.comments = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_comment(self, data: str) -> None:
        self.comments += 1


def test_user_strings_are_escaped_everywhere(page_html: str) -> None:
    parser = _Tags()
    parser.feed(page_html)
    names = {tag for tag, _ in parser.tags}
    assert "img" not in names and parser.comments == 0
    assert [tag for tag, _ in parser.tags].count("script") == 1  # the JSON data block
    attrs = {name for _, a in parser.tags for name, _ in a}
    assert not {a for a in attrs if a.startswith("on")}
    outside_json = page_html.split('<script type="application/json"')[0]
    assert "<script" not in outside_json
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&gt;&lt;img" in outside_json
    assert "<b>x</b>" not in outside_json and "&lt;b&gt;x&lt;/b&gt;" in outside_json
    assert "<i>" not in outside_json and "val_acc&lt;i&gt;" in outside_json


def test_self_contained_no_request_can_be_made(page_html: str) -> None:
    head = page_html.split("</head>")[0]
    assert "Content-Security-Policy" in head and "default-src 'none'" in head
    for attr in ("src=", "href=", "url(", "@import"):
        assert attr not in page_html


def _hour_series(hours: float, interval_s: float = 1.0) -> tuple[tuple[str, ...], list[Any]]:
    series = DownsamplingSeries(["cpu_w", "ram_w", "gpu_w", "other_w", "process_w"])
    t0 = 1.8e9
    n = int(hours * 3600 / interval_s)
    for i in range(n):
        a = t0 + i * interval_s
        w = 60 + 20 * math.sin(i / 50)
        series.append(a, a + interval_s, (w, 6.0, 250 + 40 * math.cos(i / 70), 0.0, w * 0.8))
    return series.columns, series.all_points()


@pytest.mark.parametrize(("hours", "n_epochs"), [(1, 50), (24, 1000), (168, 5000)])
def test_long_runs_stay_small(hours: int, n_epochs: int) -> None:
    columns, points = _hour_series(hours)
    start = datetime.fromtimestamp(points[0].t0_s, timezone.utc)
    epochs = _epochs(start, n_epochs)
    record = make_record(
        started_at=start, duration_s=hours * 3600.0, name="long", phases=tuple(epochs)
    )
    html = html_report(record, columns, points)
    assert len(html.encode()) < 2_000_000
    # at most MAX_EPOCH_BARS bars and MAX_TABLE_ROWS table rows, whatever the epochs
    assert html.count('<rect class="bar"') <= MAX_EPOCH_BARS + 10
    assert html.count("<tr>") <= MAX_TABLE_ROWS + 40
    if n_epochs > MAX_EPOCH_BARS:
        assert "mean of each" in html and "phases not shown here" in html
    if n_epochs >= 5000:  # too much to embed: the page says how to get the JSON
        assert 'id="wattwise-report"' not in html and "too large to embed" in html
    # thinned to MAX_PLOT_POINTS per line, whatever the run's length
    counts = [
        m.count(" ") + 1 for m in re.findall(r'<polyline class="series" points="([^"]+)"', html)
    ]
    assert counts and max(counts) <= MAX_PLOT_POINTS + 2


def _epochs(start: datetime, n: int) -> list[Any]:
    from wattwise.record import PhaseRecord
    from wattwise.testing.records import make_footprint

    return [
        PhaseRecord(
            f"epoch {i}",
            "epoch",
            i,
            start + timedelta(seconds=60 * i),
            start + timedelta(seconds=60 * (i + 1)),
            60.0,
            make_footprint(1000.0 + i),
            make_footprint(800.0 + i),
            {"accuracy": 0.5 + i / 200},
        )
        for i in range(n)
    ]


def test_cumulative_energy_integrates_the_series() -> None:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    t0 = start.timestamp()
    points = [SeriesPoint(t0 + i, t0 + i + 1, (100.0, 10.0, 0.0, 0.0, 50.0)) for i in range(100)]
    columns = ("cpu_w", "ram_w", "gpu_w", "other_w", "process_w")
    html = html_report(make_record(started_at=start), columns, points)
    # 110 W for 100 s = 11,000 J (11.00 kJ); the tracked processes 5,000 J
    assert "11.00 kJ from the series" in html and ">5.00 kJ<" in html
    # no GPU energy: no flat GPU line in the power plot
    assert "<title>GPU</title>" not in html


def test_gaps_in_the_series_are_left_as_gaps() -> None:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    t0 = start.timestamp()
    before = [SeriesPoint(t0 + i, t0 + i + 1, (100.0, 10.0, 0.0, 0.0, 50.0)) for i in range(20)]
    after = [
        SeriesPoint(t0 + 200 + i, t0 + 201 + i, (90.0, 10.0, 0.0, 0.0, 50.0)) for i in range(20)
    ]
    columns = ("cpu_w", "ram_w", "gpu_w", "other_w", "process_w")
    html = html_report(make_record(started_at=start), columns, before + after)
    power = html.split('data-chart="power"')[1].split("</svg>")[0]
    assert power.count("<title>CPU</title>") == 2  # two stretches, not one line across


def test_without_a_series_the_report_says_so() -> None:
    html = html_report(make_record())
    assert "No power series was stored for this run." in html
    assert 'data-chart="breakdown"' in html


def test_cli_writes_the_html_report(tracked: tuple[str, RunRecord], tmp_path: Path) -> None:
    db, record = tracked
    out = tmp_path / "r.html"
    proc = subprocess.run(
        [*WW, "report", record.id[:8], "--store", db, "--html", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and "wrote" in proc.stderr
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>") and 'data-chart="power"' in text
    to_stdout = subprocess.run(
        [*WW, "report", record.id, "--store", db, "--html", "-"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert to_stdout.returncode == 0 and to_stdout.stdout.startswith("<!doctype html>")
    bad = subprocess.run(
        [*WW, "report", record.id, "--store", db, "--html", str(out), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    bad = subprocess.run(
        [*WW, "report", record.id, "--store", db, "--html", "/nonexistent/dir/r.html"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "cannot write" in bad.stderr


def test_process_headline_labels_its_scope_and_energy_axes_start_at_zero() -> None:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    epochs = _epochs(start, 3)
    epochs = [
        dataclasses.replace(p, metrics={"energy_per_sample_j": 10.0 + 0.1 * i})
        for i, p in enumerate(epochs)
    ]
    html = html_report(make_record(started_at=start, headline="process", phases=tuple(epochs)))
    assert "J, tracked processes" in html  # the epoch bars say their scope
    assert "J per sample, tracked processes" in html
    chart = html.split('data-chart="metric-0"')[1].split("</svg>")[0]
    first_tick = re.search(r'text-anchor="end" dominant-baseline="middle">([^<]+)<', chart)
    assert first_tick is not None and first_tick.group(1) == "0"
