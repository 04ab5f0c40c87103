"""How fast is carbon-aware scheduling? ``greenest_start`` against a naive scan, side by side.

A year of hourly intensities (8,760 points: a daily cycle, a weekly cycle and noise, from a
fixed seed), a 3 h job starting at 00:17 on the first day, deadlines one week and one year
later. Timed, each the median of ``--reps`` runs:

  build       ``IntensitySeries(points)``: sort, check, typical step (once per series)
  greenest    ``greenest_start`` on the built series: every corner of the window-mean
              function (point times and point times − duration, plus now and the latest
              start), one sweep with two pointers
  from CSV    ``IntensitySeries.from_csv`` on an 8,760-row file, then ``greenest_start``
              (a week): what ``wattwise schedule --intensity-csv`` spends before printing
  naive       for each whole-hour start in range (and now), integrate the window over
              all n points (O(n·k)); the year is timed once (it takes tens of seconds)

Both must agree on the window's mean intensity (the naive scan only tries hourly starts
plus now, so its best can only be equal or worse: it is printed beside). Target (issue 8,
item 7): a week's deadline in well under 100 ms.

    python benchmarks/scheduling.py [--reps 7] [--skip-naive-year]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TypeVar

from wattwise.scheduling import IntensitySeries, greenest_start

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
H = timedelta(hours=1)
T = TypeVar("T")


def _points(n: int = 8760, seed: int = 0) -> list[tuple[datetime, float]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        daily = 120 * math.cos(2 * math.pi * ((i % 24) - 3) / 24)  # cleanest mid-afternoon
        weekly = 40 * math.cos(2 * math.pi * (i % 168) / 168)
        out.append((T0 + i * H, max(5.0, 300 + daily + weekly + rng.gauss(0, 35))))
    return out


def _naive(
    points: list[tuple[datetime, float]], now: datetime, duration: timedelta, deadline: datetime
) -> tuple[datetime, float]:
    """Best of now and every whole-hour start: each window integrated over all n points."""
    ts = [(t - T0).total_seconds() for t, _ in points]
    vs = [v for _, v in points]
    ends = [*ts[1:], ts[-1] + 3600.0]
    d = duration.total_seconds()
    first = (now - T0).total_seconds()
    latest = (deadline - T0).total_seconds() - d
    starts = [first] + [t for t in ts if first < t <= latest]
    best_s, best_mean = first, math.inf
    for s in starts:
        e = s + d
        total = 0.0
        for a, b, v in zip(ts, ends, vs, strict=True):
            overlap = min(b, e) - max(a, s)
            if overlap > 0:
                total += v * overlap
        if s == first or total / d < best_mean - 1e-9 * best_mean:
            best_s, best_mean = s, total / d
    return T0 + timedelta(seconds=best_s), best_mean


def _timed(fn: Callable[[], T], reps: int) -> tuple[float, T]:
    """(median wall time in ms over ``reps`` calls, the last call's result)."""
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), result


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} CPUs visible, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--skip-naive-year", action="store_true")
    args = parser.parse_args()

    points = _points()
    now = T0 + timedelta(minutes=17)
    duration = 3 * H
    print(f"machine: {_machine()}")
    build_ms, series = _timed(lambda: IntensitySeries(tuple(points)), args.reps)
    print(f"series: {len(points):,} hourly points; build {build_ms:.1f} ms (median of {args.reps})")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "year.csv")
        with open(path, "w", encoding="utf-8") as f:
            f.write("timestamp,intensity\n")
            f.writelines(f"{t:%Y-%m-%dT%H:%MZ},{v:.1f}\n" for t, v in points)
        csv_ms, _ = _timed(
            lambda: greenest_start(
                IntensitySeries.from_csv(path),
                duration=duration,
                deadline=now + timedelta(weeks=1),
                now=now,
            ),
            args.reps,
        )
    print(f"from a CSV file: read + build + schedule (1 week) {csv_ms:.1f} ms")
    print()
    header = (
        f"{'deadline':<9} {'candidates':>10} {'greenest ms':>12} {'naive ms':>10} "
        f"{'ratio':>7}  best start / mean (greenest | naive)"
    )
    print(header)
    print("-" * len(header))
    for label, span in (("1 week", timedelta(weeks=1)), ("1 year", timedelta(days=365) - H)):
        deadline = now + span
        fast_ms, plan = _timed(
            lambda d=deadline: greenest_start(series, duration=duration, deadline=d, now=now),
            args.reps,
        )
        if label == "1 year" and args.skip_naive_year:
            naive_text, ratio, naive_best = "skipped", "-", "-"
        else:
            reps = 1 if label == "1 year" else args.reps
            naive_ms, (start, mean) = _timed(
                lambda d=deadline: _naive(points, now, duration, d), reps
            )
            assert plan.intensity_g_per_kwh <= mean + 1e-9, (plan, mean)
            naive_text, ratio = f"{naive_ms:.0f}", f"{naive_ms / fast_ms:.0f}x"
            naive_best = f"{start:%m-%d %H:%M} {mean:.1f}"
        print(
            f"{label:<9} {plan.candidates:>10,} {fast_ms:>12.2f} {naive_text:>10} {ratio:>7}  "
            f"{plan.start:%m-%d %H:%M} {plan.intensity_g_per_kwh:.1f} | {naive_best}"
        )
    print()
    print(f"python {sys.version.split()[0]}; times are wall-clock medians, one process")


if __name__ == "__main__":
    main()
