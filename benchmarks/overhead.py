"""Overhead of tracking a real PyTorch CPU training loop, side by side in one run.

Conditions, run in alternation (round robin) so drift on a noisy machine hits all alike:
  none        the training loop alone
  ww-1s       wattwise.track(interval_s=1.0)
  ww-0.1s     wattwise.track(interval_s=0.1)
  codecarbon  codecarbon.OfflineEmissionsTracker (only when installed)
Each repetition is a fresh subprocess, so import and start-up costs are counted too.

Also: ``import wattwise`` time (against a bare interpreter) and the extra peak memory of a
tracked run. Targets (issue 2): ≤ 1 % wall overhead at 1 s, import ≤ 150 ms, ≤ 20 MB.

    python benchmarks/overhead.py [--reps 5] [--steps 20000]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    mode, steps, store = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    t_start = time.perf_counter()
    import torch
    torch.manual_seed(0)
    x = torch.randn(4096, 64)
    y = (x[:, :10].sum(1) > 0).long()
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def train():
        for step in range(steps):
            i = (step * 128) % 4096
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[i:i + 128]), y[i:i + 128])
            loss.backward()
            opt.step()

    tracker = None
    s0 = time.perf_counter()
    if mode.startswith("ww"):
        import wattwise
        interval = 1.0 if mode == "ww-1s" else 0.1
        tracker = wattwise.track("bench", zone="FRA", interval_s=interval, store=store).start()
    elif mode == "codecarbon":
        from codecarbon import OfflineEmissionsTracker
        tracker = OfflineEmissionsTracker(country_iso_code="FRA", measure_power_secs=1,
                                          save_to_file=False, log_level="error")
        tracker.start()
    t0 = time.perf_counter()
    train()
    t1 = time.perf_counter()
    if tracker is not None:
        tracker.stop()
    s1 = time.perf_counter()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"train_s": t1 - t0, "startstop_s": (t0 - s0) + (s1 - t1),
                      "total_s": s1 - t_start,
                      "rss_before_kb": rss_before, "rss_peak_kb": rss_after}))
    """
)


def run_child(mode: str, steps: int, store: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(steps), store],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def import_time_ms(reps: int) -> tuple[float, float]:
    """Median wall time of `python -c 'import wattwise'` and of a bare interpreter."""
    import time

    def timed(code: str) -> float:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return (time.perf_counter() - t) * 1e3

    bare, ww = [], []
    for _ in range(reps):
        bare.append(timed("pass"))
        ww.append(timed("import wattwise"))
    return statistics.median(ww), statistics.median(bare)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20000)
    args = parser.parse_args()
    modes = ["none", "ww-1s", "ww-0.1s"]
    if importlib.util.find_spec("codecarbon") is not None:
        modes.append("codecarbon")
    else:
        print("codecarbon not installed: skipping it (pip install codecarbon)")
    results: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    with tempfile.TemporaryDirectory() as tmp:
        store = f"{tmp}/runs.db"
        run_child("none", 20, store)  # warm the file cache
        for rep in range(args.reps):
            for mode in modes:
                results[mode].append(run_child(mode, args.steps, store))
            print(f"rep {rep + 1}/{args.reps} done", file=sys.stderr)
    base = statistics.median(r["train_s"] for r in results["none"])
    base_rss = statistics.median(r["rss_peak_kb"] for r in results["none"])
    print(f"\nPyTorch CPU loop, {args.steps} steps, {args.reps} alternating reps, medians")
    print(
        "overhead: training-loop wall time with the tracker running vs none;"
        " start+stop: fixed cost per run"
    )
    print(
        f"{'mode':<12}{'train s':>10}{'overhead':>10}{'start+stop ms':>15}{'extra peak RSS MB':>20}"
    )
    for mode in modes:
        t = statistics.median(r["train_s"] for r in results[mode])
        ss = statistics.median(r["startstop_s"] for r in results[mode])
        rss = statistics.median(r["rss_peak_kb"] for r in results[mode])
        print(
            f"{mode:<12}{t:>10.3f}{(t / base - 1) * 100:>9.2f}%{ss * 1e3:>15.0f}"
            f"{(rss - base_rss) / 1024:>20.1f}"
        )
    ww_ms, bare_ms = import_time_ms(max(args.reps, 5))
    print(
        f"\nimport wattwise: {ww_ms - bare_ms:.1f} ms over a bare interpreter "
        f"({ww_ms:.1f} vs {bare_ms:.1f} ms)"
    )


if __name__ == "__main__":
    main()
