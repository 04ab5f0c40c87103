"""How good is the forecast, and what does per-step counting cost? Side by side, one run.

1. Forecast error after epochs 1, 2 and 3 against the actual total, on
   * ``demo``: the demo (small CNN on scikit-learn's digits), and
   * ``warm-up``: a plain PyTorch loop whose first epoch carries a warm-up (its first
     steps do extra work, as compilation or autotuning would),
   for wattwise's forecast and for carbontracker's rule (planned epochs × mean energy of
   the epochs seen), both computed from the same run's epoch-end figures.
2. Per-step overhead of ``run.step()`` on a real training loop (a small MLP, so steps
   are short and the overhead as visible as it gets): the loop with the tracker running,
   with and without a ``step()`` call per step, in alternation. Target: ≤ 1 %.

    python benchmarks/forecast.py [--reps 3] [--epochs 8] [--steps 500]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import torch

import wattwise
from wattwise.demo import run_demo


def _errors(record: Any) -> tuple[dict[int, float], dict[int, float]]:
    """Relative energy errors after epochs 1-3: wattwise's, and carbontracker's rule."""
    t = record.training
    actual = t.trained_energy_j
    ours = {k: v for k, v in t.forecast_errors().items() if k <= 3}
    naive = {
        m.epoch: t.planned_epochs * m.energy_j / m.epoch / actual - 1.0
        for m in t.epoch_marks
        if m.epoch <= 3
    }
    return ours, naive


def _warmup_run(epochs: int, steps_per_epoch: int) -> Any:
    torch.manual_seed(0)
    x = torch.randn(4096, 64)
    y = (x[:, :10].sum(1) > 0).long()
    model = torch.nn.Sequential(torch.nn.Linear(64, 512), torch.nn.ReLU(), torch.nn.Linear(512, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with wattwise.track("warm-up", store=False, zone="FRA", live="off") as run:
        for epoch in run.epochs(epochs):
            for step in range(steps_per_epoch):
                i = (step * 64) % 4096
                repeat = 6 if epoch == 0 and step < steps_per_epoch // 5 else 1  # warm-up
                for _ in range(repeat):
                    opt.zero_grad()
                    loss = torch.nn.functional.cross_entropy(model(x[i : i + 64]), y[i : i + 64])
                    loss.backward()
                    opt.step()
                run.step(samples=64)
    return run.result


def _loop(steps: int, count: bool, run: Any) -> float:
    torch.manual_seed(0)
    x = torch.randn(2048, 32)
    y = (x[:, 0] > 0).long()
    model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    step_fn = run.step
    t0 = time.perf_counter()
    for s in range(steps):
        i = (s * 32) % 2048
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[i : i + 32]), y[i : i + 32]).backward()
        opt.step()
        if count:
            step_fn(samples=32)
    return time.perf_counter() - t0


def _fmt(errors: list[dict[int, float]], k: int) -> str:
    vals = [abs(e[k]) for e in errors if k in e]
    if not vals:
        return "n/a"
    return f"{statistics.fmean(vals):6.1%} (max {max(vals):.1%})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--steps", type=int, default=500, help="steps per overhead timing")
    args = ap.parse_args()
    torch.set_num_threads(2)

    print(f"forecast error |forecast/actual - 1| after epoch k, {args.reps} runs each")
    for label, make in (
        (
            "demo",
            lambda: (
                run_demo(
                    wattwise.Tracker("demo", store=False, zone="FRA", live="off"),
                    epochs=args.epochs,
                ).record
            ),
        ),
        ("warm-up", lambda: _warmup_run(args.epochs, 150)),
    ):
        ours, naive = [], []
        for _ in range(args.reps):
            o, n = _errors(make())
            ours.append(o)
            naive.append(n)
        for k in (1, 2, 3):
            print(
                f"  {label:8s} epoch {k}: wattwise {_fmt(ours, k)}   "
                f"carbontracker rule {_fmt(naive, k)}"
            )

    pairs = args.reps * 10
    print(
        f"\nper-step overhead of run.step() on a small MLP loop: {pairs} pairs of "
        f"{args.steps} steps, alternating order (ABBA)"
    )
    with wattwise.track("overhead", store=False, zone="FRA", live="off") as run:
        run.training(planned_epochs=1).begin_epoch()
        _loop(300, True, run)  # warm up torch and the session
        base, counted, ratios = [], [], []
        for i in range(pairs):
            if i % 2:
                c, b = _loop(args.steps, True, run), _loop(args.steps, False, run)
            else:
                b, c = _loop(args.steps, False, run), _loop(args.steps, True, run)
            base.append(b)
            counted.append(c)
            ratios.append(c / b)
    b, c, r = statistics.median(base), statistics.median(counted), statistics.median(ratios)
    print(f"  without step(): {b / args.steps * 1e6:8.1f} µs/step (median)")
    print(f"  with step():    {c / args.steps * 1e6:8.1f} µs/step (median)")
    print(f"  median pair ratio with/without: {r:.4f} ({r - 1:+.2%}); target ≤ +1 %")


if __name__ == "__main__":
    main()
