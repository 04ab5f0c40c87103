"""Every efficiency recipe on the digits CNN, measured side by side in one run.

Runs :func:`wattwise.optimize` on :func:`wattwise.optimizing.digits.task` with every
recipe (or ``--recipes``): the baseline and each variant trained as its own tracked run,
scored (accuracy, ECE, accuracy under noise), then measured for inference in interleaved
rounds, so every model sees the same machine. Prints the table, then the two goals of
issue 7 with the figures that decide them:

1. **Inference**: a variant within 1 point of the baseline's accuracy with at least 2×
   less inference energy per 1,000 samples (largest batch).
2. **Training**: mixed precision, or a smaller student (distilled or from scratch), uses
   less training energy than the baseline (own runs: the student's teacher is a sunk
   cost only for the distilled one, and is printed beside it).

The energy is what the runs measured on this machine (estimated where no sensor can be
read, as on a VM without RAPL; the label is printed). Run it on an otherwise idle
machine: the estimate counts the whole machine's CPU time.

    python benchmarks/optimize.py [--epochs 8] [--repeats 5] [--window 0.5]
                                  [--recipes all] [--json FILE] [--html FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from wattwise.optimizing.digits import task
from wattwise.optimizing.show import html_optimize, print_result
from wattwise.optimizing.study import CONTROL, optimize
from wattwise.store import get_store

GOAL_RATIO = 2.0
GOAL_POINTS = 0.01


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--window", type=float, default=0.5, help="inference window (s)")
    ap.add_argument("--recipes", default="all")
    ap.add_argument("--interval", type=float, default=0.1, help="sampling interval (s)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--html", type=Path)
    args = ap.parse_args()
    console = Console(width=120)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "runs.db")
        result = optimize(
            task(epochs=args.epochs),
            args.recipes,
            tolerance=GOAL_POINTS,
            repeats=args.repeats,
            window_s=args.window,
            store=db,
            tracker_options={"zone": "FRA", "interval_s": args.interval},
            progress=lambda line: console.print(f"  {line}", markup=False),
        )
        wall_s = time.perf_counter() - started
        store = get_store(db)
        try:
            assert result.inference_run_id is not None
            windows = _windows(store.get_run(result.inference_run_id))
        finally:
            store.close()
    print_result(result, console)
    base = result.baseline
    assert base.large is not None and base.accuracy is not None
    console.print(f"\nmethod: {result.method}; wall time {wall_s:.0f} s\n")
    console.print(
        "ratios against the baseline (× less energy; accuracy in points); 'paired': the "
        "median and range over rounds of the ratio of the two models' windows in the same "
        "round, at the largest batch:"
    )
    rows = []
    for v in result.variants[1:]:
        if not v.ok or v.large is None or v.single is None or base.single is None:
            console.print(f"  {v.name:<18} failed: {v.error}")
            continue
        inf = base.large.energy_per_1000_j / v.large.energy_per_1000_j
        inf1 = base.single.energy_per_1000_j / v.single.energy_per_1000_j
        train = base.train_energy_j / v.train_energy_j if v.train_energy_j > 0 else float("inf")
        d_acc = ((v.accuracy or 0.0) - base.accuracy) * 100
        paired = _paired(windows, "baseline", v.name, v.large.batch_size)
        rows.append((v, inf, d_acc))
        console.print(
            f"  {v.name:<18} inference b{v.large.batch_size} {inf:5.2f}× (paired "
            f"{statistics.median(paired):4.2f}× [{min(paired):4.2f}–{max(paired):4.2f}])  "
            f"b{v.single.batch_size} {inf1:5.2f}×  own training {train:6.2f}×  "
            f"Δacc {d_acc:+5.1f} pt",
            markup=False,
        )
    aa = _paired(windows, "baseline", CONTROL, base.large.batch_size)
    console.print(
        f"  A/A control: paired {statistics.median(aa):.2f}× [{min(aa):.2f}–{max(aa):.2f}]; "
        "noise floor "
        + ", ".join(f"b{b} {share:.0%}" for b, share in sorted(result.noise.items())),
        markup=False,
    )
    good = [(v, r) for v, r, d in rows if d >= -GOAL_POINTS * 100 - 1e-9 and r >= GOAL_RATIO]
    console.print(
        f"\ngoal 1 (≤1 pt lost, ≥{GOAL_RATIO:g}× less inference energy): "
        + ("met by " + ", ".join(f"{v.name} ({r:.2f}×)" for v, r in good) if good else "NOT met")
    )
    cheaper = [
        v
        for v in result.variants
        if v.ok
        and v.recipe in ("mixed-precision", "distill")
        and 0 < v.train_energy_j < base.train_energy_j
    ]
    console.print(
        "goal 2 (less training energy from mixed precision or a smaller student): "
        + (
            "met by "
            + ", ".join(
                f"{v.name} ({base.train_energy_j / v.train_energy_j:.2f}× less own training)"
                for v in cheaper
            )
            if cheaper
            else "NOT met"
        )
    )
    if args.json:
        args.json.write_text(json.dumps(result.to_dict(), indent=1) + "\n", encoding="utf-8")
    if args.html:
        args.html.write_text(html_optimize(result), encoding="utf-8")


def _windows(run: Any) -> dict[tuple[str, int, int], float]:
    """(label, batch, round) → J per sample, from the inference run's phases."""
    out = {}
    for p in run.phases:
        if p.kind != "inference":
            continue
        label = p.name.rsplit(" b", 1)[0]
        samples = p.metrics["samples"]
        footprint = p.process if run.headline == "process" else p.machine
        out[label, int(p.metrics["batch_size"]), int(p.metrics["round"])] = (
            footprint.energy_j / samples
        )
    return out


def _paired(windows: dict[tuple[str, int, int], float], a: str, b: str, batch: int) -> list[float]:
    """Per round: a's energy per sample ÷ b's (how many times less b used)."""
    rounds = sorted(r for (label, size, r) in windows if label == a and size == batch)
    return [windows[a, batch, r] / windows[b, batch, r] for r in rounds]


if __name__ == "__main__":
    main()
