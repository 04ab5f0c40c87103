"""How good is the forecast, and what does per-step counting cost? Side by side, one run.

1. Forecast error after epochs 1, 2 and 3 against the actual total, on
   * ``demo``: ``wattwise demo --json`` in a fresh process each time, as a user runs it
     (small CNN on scikit-learn's digits), and
   * ``warm-up``: a plain PyTorch loop whose first epoch carries a warm-up (its first
     steps do extra work, as compilation or autotuning would),
   for wattwise's forecast and for carbontracker's rule (planned epochs × mean energy of
   the epochs seen), both computed from the same run's epoch-end figures.
   The spread of each run's epoch times is printed beside: on a shared VM the machine's
   speed drifts, and no forecast made after epoch 1 can see that coming.
2. Per-step overhead of ``run.step()`` on a real training loop (a small MLP, so steps
   are short and the overhead as visible as it gets): the loop with the tracker running,
   with and without a ``step()`` call per step, in alternation; and the cost of one
   ``step()`` call timed alone, beside the noise floor (the same loop timed twice).
3. Per-step overhead of the Lightning ``EnergyCallback``: fits of two lengths with and
   without it, so the per-step cost (the slope) is told apart from the once-per-fit cost
   of starting and stopping the tracker. Target: ≤ 1 %.

    python benchmarks/forecast.py [--reps 5] [--epochs 8] [--steps 500]
                                  [--parts forecast,step,lightning]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import torch

import wattwise
from wattwise.record import RunRecord


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


def _demo_run(epochs: int) -> Any:
    """``wattwise demo`` as a user runs it: a fresh process, its record as JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "wattwise",
                "demo",
                "--json",
                "--epochs",
                str(epochs),
                "--zone",
                "FRA",
                "--store",
                os.path.join(tmp, "runs.db"),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return RunRecord.from_dict(json.loads(out))


def _spread(record: Any) -> float:
    """Coefficient of variation of epoch times 2..N: how steady the machine was."""
    marks = record.training.epoch_marks
    times = [b.duration_s - a.duration_s for a, b in itertools.pairwise(marks)]
    return statistics.pstdev(times) / statistics.fmean(times) if len(times) > 1 else 0.0


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


def _lightning_hook_cost(steps: int = 400, calls: int = 20_000) -> tuple[float, float]:
    """Inside a real fit: seconds per call of EnergyCallback.on_train_batch_end (timed on
    batch 200 with the trainer's own arguments), and the fit's seconds per step."""
    import lightning.pytorch as pl

    from wattwise.integrations.lightning import EnergyCallback

    energy = EnergyCallback("bench", store=False, zone="FRA", live="off")
    cost: list[float] = []

    class HookTimer(pl.Callback):
        def on_train_batch_end(
            self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int
        ) -> None:
            if batch_idx == 200:
                hook = energy.on_train_batch_end
                t0 = time.perf_counter()
                for _ in range(calls):
                    hook(trainer, module, outputs, batch, batch_idx)
                cost.append((time.perf_counter() - t0) / calls)

    fit_s = _lightning_fit(steps, True, extra=[energy, HookTimer()])
    return cost[0], (fit_s - cost[0] * calls) / steps


def _lightning_fit(steps: int, with_callback: bool, extra: list[Any] | None = None) -> float:
    """Seconds of a Lightning fit of ``steps`` small-MLP steps, with or without the callback."""
    import warnings

    import lightning.pytorch as pl

    from wattwise.integrations.lightning import EnergyCallback

    class Net(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2)
            )

        def training_step(self, batch: Any, _: int) -> Any:
            x, y = batch
            return torch.nn.functional.cross_entropy(self.net(x), y)

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.01)

    torch.manual_seed(0)
    x = torch.randn(steps * 32, 32)
    data = torch.utils.data.TensorDataset(x, (x[:, 0] > 0).long())
    loader = torch.utils.data.DataLoader(data, batch_size=32)
    callbacks = (
        [EnergyCallback("bench", store=False, zone="FRA", live="off")] if with_callback else []
    )
    if extra is not None:
        callbacks = extra
    trainer = pl.Trainer(
        max_epochs=1,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        trainer.fit(Net(), loader)
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
    ap.add_argument(
        "--parts", default="forecast,step,lightning", help="comma-separated parts to run"
    )
    args = ap.parse_args()
    torch.set_num_threads(2)

    parts = set(args.parts.split(","))
    if "forecast" in parts:
        _forecast_part(args)
    if "step" in parts:
        _step_part(args)
    if "lightning" in parts:
        _lightning_part(args)


def _forecast_part(args: Any) -> None:
    print(f"forecast error |forecast/actual - 1| after epoch k, {args.reps} runs each")
    for label, make in (
        ("demo", lambda: _demo_run(args.epochs)),
        ("warm-up", lambda: _warmup_run(args.epochs, 150)),
    ):
        ours, naive, spreads = [], [], []
        for _ in range(args.reps):
            record = make()
            o, n = _errors(record)
            ours.append(o)
            naive.append(n)
            spreads.append(_spread(record))
        print(
            f"  {label:8s} epoch-time spread (CV of epochs 2..N) per run: "
            + ", ".join(f"{x:.1%}" for x in spreads)
        )
        print(
            f"  {label:8s} error after epoch 1 per run: "
            + ", ".join(f"{o.get(1, float('nan')):+.1%}" for o in ours)
        )
        for k in (1, 2, 3):
            print(
                f"  {label:8s} epoch {k}: wattwise {_fmt(ours, k)}   "
                f"carbontracker rule {_fmt(naive, k)}"
            )


def _step_part(args: Any) -> None:
    rounds = args.reps * 10
    print(
        f"\nper-step overhead of run.step() on a small MLP loop: {rounds} rounds of three "
        f"{args.steps}-step blocks (without, with, without again) in rotating order"
    )
    with wattwise.track("overhead", store=False, zone="FRA", live="off") as run:
        run.training(planned_epochs=1).begin_epoch()
        _loop(300, True, run)  # warm up torch and the session
        base, counted, ratios, controls = [], [], [], []
        for i in range(rounds):
            plan = [("a", False), ("c", True), ("b", False)]
            plan = plan[i % 3 :] + plan[: i % 3]
            t = {key: _loop(args.steps, count, run) for key, count in plan}
            base.append(t["a"])
            counted.append(t["c"])
            ratios.append(t["c"] / ((t["a"] + t["b"]) / 2))
            controls.append(t["b"] / t["a"])  # same loop twice: the noise floor
        session = run.training()
        calls = 200_000
        t0 = time.perf_counter()
        for _ in range(calls):
            session.step(samples=32)
        per_call = (time.perf_counter() - t0) / calls
    b, c, r = statistics.median(base), statistics.median(counted), statistics.median(ratios)
    noise = statistics.median(abs(x - 1) for x in controls)
    print(f"  without step(): {b / args.steps * 1e6:8.1f} µs/step (median)")
    print(f"  with step():    {c / args.steps * 1e6:8.1f} µs/step (median)")
    print(f"  median ratio with / mean(without): {r:.4f} ({r - 1:+.2%}); target ≤ +1 %")
    print(f"  noise floor, without / without: median |ratio - 1| = {noise:.2%}")
    print(
        f"  step() alone: {per_call * 1e6:.2f} µs per call ({calls:,} calls) = "
        f"{per_call / (b / args.steps):.3%} of this loop's step, "
        f"{per_call / 0.020:.4%} of a demo step (~20 ms)"
    )


def _lightning_part(args: Any) -> None:
    try:
        import lightning  # noqa: F401
    except ImportError:
        print("\nLightning not installed: callback overhead not measured")
    else:
        import logging

        logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
        hook_s, fit_step_s = _lightning_hook_cost()
        print("\nLightning EnergyCallback, per training batch")
        print(
            f"  on_train_batch_end timed inside a real fit: {hook_s * 1e6:.2f} µs per call; "
            f"with step() (once per optimizer step) about {(hook_s + 0.6e-6) * 1e6:.1f} µs = "
            f"{(hook_s + 0.6e-6) / fit_step_s:.2%} of this fit's {fit_step_s * 1e6:.0f} µs step "
            f"(a tiny MLP: Lightning's own per-step work dominates)"
        )
        rounds = args.reps * 2
        print(
            f"  confirmation: fits of 1,000 steps with and without the callback, {rounds} "
            "rounds of three (without, with, without again) in rotating order"
        )
        _lightning_fit(100, True)  # warm up
        ratios, controls = [], []
        for i in range(rounds):
            plan = [("a", False), ("c", True), ("b", False)]
            plan = plan[i % 3 :] + plan[: i % 3]
            t = {key: _lightning_fit(1000, cb) for key, cb in plan}
            ratios.append(t["c"] / ((t["a"] + t["b"]) / 2))
            controls.append(t["b"] / t["a"])
        r = statistics.median(ratios)
        noise = statistics.median(abs(x - 1) for x in controls)
        print(
            f"  median ratio with / without: {r:.4f} ({r - 1:+.2%}), tracker start and stop "
            f"included; noise floor (without / without): {noise:.2%}"
        )


if __name__ == "__main__":
    main()
