"""What does profiling cost per step, and is the loop untouched afterwards? Side by side.

For three small models (the demo's digits CNN, an MLP, a one-block transformer), in
alternation, ``--reps`` times:

* A: ``--steps`` plain training steps;
* B: the same steps with the profiler's hooks timing every atomic module (forward,
  backward, parameter-gradient hooks, as ``wattwise.profile`` runs them);
* C: plain steps again after the hooks were removed.

Prints the median step times and the ratios B/A (target: ≤ 2×) and C/A (target: 1.0,
within the noise, which A against an A run twice — the noise floor — shows), and the
wall time of one whole ``wattwise.profile()`` call with its defaults.

    python benchmarks/profiling.py [--reps 5] [--steps 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from wattwise.profiler import _atomic_modules, _out_of_place, _Timer, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from profile_cnn import make


def _mlp() -> dict[str, Any]:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
    )
    batch = (torch.randn(128, 256), torch.randint(0, 10, (128,)))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    return {
        "model": model,
        "batch": batch,
        "loss_fn": nn.functional.cross_entropy,
        "optimizer": opt,
    }


class _Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(1000, 64)
        self.attn = nn.MultiheadAttention(64, 4, batch_first=True)
        self.norm = nn.LayerNorm(64)
        self.ff = nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 64))
        self.head = nn.Linear(64, 1000)

    def forward(self, tokens: Any) -> Any:
        x = self.emb(tokens)
        a, _ = self.attn(x, x, x)
        x = self.norm(x + a)
        return self.head(x + self.ff(x)).mean(dim=1)


def _transformer() -> dict[str, Any]:
    torch.manual_seed(0)
    model = _Block()
    batch = (torch.randint(0, 1000, (16, 32)), torch.randint(0, 1000, (16,)))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return {
        "model": model,
        "batch": batch,
        "loss_fn": nn.functional.cross_entropy,
        "optimizer": opt,
    }


def _steps(spec: dict[str, Any], n: int, timer: _Timer | None = None) -> float:
    model, (x, y), loss_fn, opt = spec["model"], spec["batch"], spec["loss_fn"], spec["optimizer"]
    t = time.perf_counter()
    for _ in range(n):
        loss = loss_fn(model(x), y)
        loss.backward()
        if timer is not None:
            timer.end_backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return (time.perf_counter() - t) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--steps", type=int, default=30)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message="Full backward hook is firing")  # as profile()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; median of {args.reps}")
    print(
        f"{'model':>12} | {'plain':>9} {'again':>9} {'profiled':>9} {'after':>9} | "
        f"{'noise':>6} {'prof/plain':>10} {'after/plain':>11}"
    )
    for name, build in (("digits CNN", make), ("MLP", _mlp), ("transformer", _transformer)):
        spec = build()
        model = spec["model"]
        _steps(spec, 5)  # warm-up
        plain, again, profiled, after = [], [], [], []
        for _ in range(args.reps):
            plain.append(_steps(spec, args.steps))
            again.append(_steps(spec, args.steps))
            with _out_of_place(model):
                timer = _Timer(_atomic_modules(model), lambda: None)
                timer.enabled = True
                profiled.append(_steps(spec, args.steps, timer))
                timer.remove()
            after.append(_steps(spec, args.steps))
        a, a2, b, c = (statistics.median(v) for v in (plain, again, profiled, after))
        print(
            f"{name:>12} | {a * 1e3:>7.2f}ms {a2 * 1e3:>7.2f}ms {b * 1e3:>7.2f}ms "
            f"{c * 1e3:>7.2f}ms | {a2 / a - 1:>+6.1%} {b / a:>9.2f}× {c / a:>10.3f}×"
        )
    spec = make()
    t = time.perf_counter()
    result = profile(
        spec["model"],
        spec["batch"],
        loss_fn=spec["loss_fn"],
        optimizer=spec["optimizer"],
        store=False,
        zone="FRA",
    )
    print(
        f"one wattwise.profile() of the digits CNN with its defaults: "
        f"{time.perf_counter() - t:.1f} s ({result.steps_measured} measured + as many profiled "
        f"steps, {result.step_s * 1e3:.1f} ms each)"
    )


if __name__ == "__main__":
    main()
