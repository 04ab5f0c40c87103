"""Energy-to-target per search strategy on the digits CNN, side by side in one run.

Every strategy searches :data:`wattwise.tuning.digits.SPACE` (learning rate, Adam's betas,
batch size, width) with the same trial cap, once per seed; studies run seed by seed,
every strategy's study for a seed before the next seed, so the machine's drift spreads
over the strategies. Per strategy it prints the median energy-to-target (a missed target
counts as +inf), its min–max over the seeds that reached it, trials to target, the median
best accuracy and the median total energy of a study, then each strategy's saving against
grid search.

Goal (issue 6): the recommended strategy (``wattwise.tuning.strategies.RECOMMENDED``)
reaches the target with at least 40 % less energy than grid search. The energy is what
the trials' runs measured on this machine (estimated where no sensor can be read, as on a
VM without RAPL: the label is printed).

    python benchmarks/tune.py [--trials 30] [--seeds 0,1,2] [--target 0.98]
                              [--strategies grid,random,bayes,gp,halving,hyperband]
                              [--html FILE] [--json FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from rich.console import Console

from wattwise.tuning import digits
from wattwise.tuning.compare import compare_strategies, html_tune_comparison, print_comparison
from wattwise.tuning.strategies import RECOMMENDED

GOAL_SAVING = 0.40


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--target", type=float, default=0.98)
    ap.add_argument(
        "--also-targets",
        default="0.96,0.97",
        help="other targets to score the same studies against (no extra trials)",
    )
    ap.add_argument("--strategies", default="grid,random,bayes,gp,halving,hyperband")
    ap.add_argument("--interval", type=float, default=0.2, help="sampling interval (s)")
    ap.add_argument("--html", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    seeds = [int(s) for s in args.seeds.split(",")]
    console = Console(width=120)
    console.print(
        f"tune benchmark: {', '.join(strategies)} × seeds {seeds} × {args.trials} trials "
        f"on the digits CNN, target val_accuracy ≥ {args.target:g}"
    )
    digits.warm_up()  # imports and first-call setup, before anything is measured
    started = time.perf_counter()
    methods: set[str] = set()

    def on_study(strategy: str, seed: int, result: object) -> None:
        from wattwise.tuning.accounting import TuneResult

        assert isinstance(result, TuneResult)
        methods.update(t.method for t in result.trials)
        hit = result.target_hit
        best = result.best
        console.print(
            f"  {strategy:<9} seed {seed}: {len(result.trials)} trials, "
            f"{result.total_energy_j:8.1f} J, best {best.value if best else float('nan'):.4f}, "
            + (
                f"target at trial {hit.trial} after {hit.energy_j:.1f} J"
                if hit
                else "target not reached"
            )
        )

    comparison = compare_strategies(
        digits.objective,
        digits.SPACE,
        strategies=strategies,
        seeds=seeds,
        n_trials=args.trials,
        metric=digits.METRIC,
        direction="maximize",
        target=args.target,
        tracker_options={"interval_s": args.interval, "zone": "FRA"},
        store=False,
        on_study=on_study,
    )
    wall_s = time.perf_counter() - started
    console.print()
    print_comparison(comparison, console)
    console.print(f"energy method: {', '.join(sorted(methods))}; wall time {wall_s:.0f} s")
    console.print()
    console.print("energy-to-target against grid search (median over seeds; goal ≥ 40 % less):")
    for stats in comparison.strategies:
        if stats.strategy == "grid":
            continue
        saving = comparison.saving_vs_baseline(stats)
        text = "n/a (a median is missing)" if saving is None else _vs(saving)
        goal = ""
        if stats.strategy == RECOMMENDED and saving is not None:
            goal = "  ← recommended: " + ("goal met" if saving >= GOAL_SAVING else "goal MISSED")
        console.print(f"  {stats.strategy:<9} {text}{goal}")
    rec = comparison.recommended
    if rec is not None:
        console.print(f"lowest median energy-to-target in this run: {rec.strategy}")
    others = [float(t) for t in args.also_targets.split(",") if t.strip()]
    for target in others:
        # the same studies, scored against another target: no trial is rerun
        again = dataclasses.replace(
            comparison,
            target=target,
            strategies=tuple(
                dataclasses.replace(
                    st, results=tuple(dataclasses.replace(r, target=target) for r in st.results)
                )
                for st in comparison.strategies
            ),
        )
        console.print()
        console.print(f"the same studies against target val_accuracy ≥ {target:g}:")
        for stats in again.strategies:
            saving = again.saving_vs_baseline(stats)
            median = stats.energy_to_target_median_j
            console.print(
                f"  {stats.strategy:<9} reached {stats.reached}/{len(stats.results)}, median "
                + ("missed" if median is None else f"{median:7.1f} J")
                + ("" if saving is None or stats.strategy == "grid" else f", {_vs(saving)}")
            )
    if args.html:
        args.html.write_text(html_tune_comparison(comparison), encoding="utf-8")
        console.print(f"HTML: {args.html}")
    if args.json:
        args.json.write_text(json.dumps(comparison.to_dict(), indent=1), encoding="utf-8")
        console.print(f"JSON: {args.json}")


def _vs(saving: float) -> str:
    """``45% less energy than grid`` / ``20% more energy than grid``."""
    return f"{abs(saving):.0%} {'less' if saving >= 0 else 'more'} energy than grid"


if __name__ == "__main__":
    main()
