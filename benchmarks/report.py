"""How big and how fast are the reports? Side by side, one run.

For runs of one hour, one day and one week sampled every second (through the tracker's
own bounded series, so what a store would hold), with an epoch every ten minutes (capped
at 200 epochs; then a week of 1,000 and of 10,000 epochs) and two metrics per epoch, it
times and sizes:

* the HTML report (target: under 2 MB for a one-hour run) — against the JSON export of
  the same run (``wattwise runs export``: the record plus its whole stored series), the
  JSON report, and the Markdown section;
* peak Python memory while building the HTML (tracemalloc);
* with ``--chromium``, the time headless Chromium takes to load and lay out the page
  (median of ``--reps``), next to an empty page's.

    python benchmarks/report.py [--reps 5] [--chromium]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from wattwise.record import PhaseRecord, RunRecord
from wattwise.report import build_report
from wattwise.report.html import html_report
from wattwise.report.markdown import markdown_report
from wattwise.series import DownsamplingSeries, SeriesPoint
from wattwise.testing.records import make_footprint, make_record

TARGET_BYTES = 2_000_000


def _run(
    hours: float, max_epochs: int = 200
) -> tuple[RunRecord, tuple[str, ...], list[SeriesPoint]]:
    """A run of ``hours`` at 1 s through the tracker's series, epochs every 10 minutes
    (at most ``max_epochs``; exactly ``max_epochs`` when that is over 200)."""
    series = DownsamplingSeries(["cpu_w", "ram_w", "gpu_w", "other_w", "process_w"])
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    start = t0.timestamp()
    n = int(hours * 3600)
    for i in range(n):
        cpu = 60 + 25 * math.sin(i / 40) + (i % 7)
        gpu = 240 + 60 * math.cos(i / 90)
        series.append(start + i, start + i + 1, (cpu, 7.5, gpu, 0.0, 0.8 * (cpu + gpu)))
    n_epochs = max_epochs if max_epochs > 200 else min(max_epochs, max(1, n // 600))
    span = hours * 3600 / n_epochs
    phases = tuple(
        PhaseRecord(
            f"epoch {k}",
            "epoch",
            k,
            t0 + timedelta(seconds=k * span),
            t0 + timedelta(seconds=(k + 1) * span),
            span,
            make_footprint(300.0 * span),
            make_footprint(250.0 * span),
            {"val_accuracy": 0.6 + 0.3 * (1 - math.exp(-k / 20)), "val_loss": 1 / (k + 1)},
        )
        for k in range(n_epochs)
    )
    energy = 300.0 * hours * 3600
    record = make_record(
        name="bench",
        started_at=t0,
        ended_at=t0 + timedelta(hours=hours),
        duration_s=hours * 3600,
        machine=make_footprint(energy),
        process=make_footprint(energy * 0.8),
        phases=phases,
    )
    return record, series.columns, series.all_points()


def _export_json(record: RunRecord, columns: tuple[str, ...], points: list[SeriesPoint]) -> str:
    """What ``wattwise runs export RUN`` writes."""
    doc = record.to_dict()
    doc["series"] = {
        "columns": ["t0_s", "t1_s", *columns],
        "points": [[p.t0_s, p.t1_s, *p.values] for p in points],
    }
    return json.dumps(doc, indent=1) + "\n"


def _timed(fn: Callable[[], str], reps: int) -> tuple[float, str]:
    times = []
    out = ""
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def _chromium_load_s(path: Path, reps: int) -> float | None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "report"))
    try:
        from chromium import Browser, find_chromium  # type: ignore[import-not-found]
    except ImportError:
        return None
    if find_chromium() is None:
        return None
    times = []
    with Browser() as browser:
        for _ in range(reps):
            t = time.perf_counter()
            with browser.open(path, width=1280, height=900) as page:
                page.evaluate("document.body.getBoundingClientRect().height")
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--chromium", action="store_true", help="also time loading in Chromium")
    args = ap.parse_args()
    print(f"report sizes and build times (median of {args.reps})")
    header = f"{'run':>8} {'points':>7} {'epochs':>6} | {'HTML':>9} {'vs 2 MB':>8} "
    header += f"{'build':>8} {'peak mem':>9} | {'export':>9} {'HTML/exp':>8} | "
    header += f"{'JSON rep':>9} {'build':>8} | {'md build':>8}"
    print(header)
    rows: list[dict[str, Any]] = []
    tmp = Path(tempfile.mkdtemp())
    cases = (
        ("1 hour", 1.0, 200),
        ("1 day", 24.0, 200),
        ("1 week", 168.0, 200),
        ("1 week", 168.0, 1000),
        ("1 week", 168.0, 10000),
    )
    for label, hours, max_epochs in cases:
        record, columns, points = _run(hours, max_epochs)
        html_s, html = _timed(lambda r=record, c=columns, p=points: html_report(r, c, p), args.reps)
        tracemalloc.start()
        html_report(record, columns, points)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        export = _export_json(record, columns, points)
        rep_s, rep = _timed(lambda r=record: json.dumps(build_report(r)), args.reps)
        md_s, _ = _timed(lambda r=record: markdown_report(r), args.reps)
        size = len(html.encode())
        exp_size = len(export.encode())
        n_epochs = sum(1 for p in record.phases if p.kind == "epoch")
        print(
            f"{label:>8} {len(points):>7} {n_epochs:>6} | {size / 1e3:>7.0f}kB "
            f"{size / TARGET_BYTES:>7.1%} {html_s * 1e3:>6.0f}ms {peak / 1e6:>7.1f}MB | "
            f"{exp_size / 1e3:>7.0f}kB {size / exp_size:>7.2f}× | "
            f"{len(rep.encode()) / 1e3:>7.0f}kB {rep_s * 1e3:>6.1f}ms | {md_s * 1e3:>6.1f}ms"
        )
        path = tmp / f"{label.replace(' ', '-')}-{n_epochs}.html"
        path.write_text(html, encoding="utf-8")
        rows.append({"label": f"{label}, {n_epochs} epochs", "path": path})
    if args.chromium:
        empty = tmp / "empty.html"
        empty.write_text("<!doctype html><title>x</title><p>x", encoding="utf-8")
        base = _chromium_load_s(empty, args.reps)
        if base is None:
            print("chromium: not found; skipped")
            return
        print(f"chromium load + layout (median of {args.reps}); an empty page: {base * 1e3:.0f}ms")
        for row in rows:
            t = _chromium_load_s(row["path"], args.reps)
            assert t is not None
            print(f"{row['label']:>22}: {t * 1e3:.0f}ms ({t / base:.1f}× the empty page)")


if __name__ == "__main__":
    main()
