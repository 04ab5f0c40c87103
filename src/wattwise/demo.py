"""``wattwise demo``: train a small CNN on scikit-learn's bundled digits, measured.

Nothing is downloaded: ``load_digits`` ships with scikit-learn (1,797 8×8 images). The
demo is an ordinary plain-PyTorch loop driven through ``run.epochs()`` / ``run.step()``,
so what it prints is what any user's loop gets: live figures, a forecast after the first
epoch, the saved run, and a result table.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from wattwise.exceptions import WattwiseError
from wattwise.record import RunRecord
from wattwise.tracking import Tracker

__all__ = ["DemoResult", "MissingExtraError", "print_result", "run_demo"]


class MissingExtraError(WattwiseError):
    """An optional dependency the command needs is not installed."""


@dataclass(frozen=True)
class DemoResult:
    """The demo's run record with what the model achieved."""

    record: RunRecord
    accuracy: float
    train_samples: int
    test_samples: int
    store: str


def _imports() -> tuple[Any, Any]:
    try:
        import torch
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise MissingExtraError(
            f"wattwise demo needs PyTorch and scikit-learn ({exc.name} is missing): "
            "pip install 'wattwise[demo]'"
        ) from None
    return torch, load_digits


def _model(torch: Any) -> Any:
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 48, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(48, 96, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(96, 96, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(96 * 16, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


def run_demo(
    tracker: Tracker, *, epochs: int = 8, batch_size: int = 32, seed: int = 0
) -> DemoResult:
    """Train the digits CNN for ``epochs``, measured by ``tracker`` (stopped at the end)."""
    torch, load_digits = _imports()
    if epochs < 1 or batch_size < 1:
        raise WattwiseError("epochs and batch size must be at least 1")
    torch.manual_seed(seed)
    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_test = len(y) // 5
    test_idx, train_idx = order[:n_test], order[n_test:]
    x_train, y_train, x_test, y_test = x[train_idx], y[train_idx], x[test_idx], y[test_idx]
    model = _model(torch)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.functional.cross_entropy
    accuracy = 0.0
    with tracker:  # starts it if needed; records failed/interrupted on an exception
        for _ in tracker.epochs(epochs):
            model.train()
            perm = torch.randperm(len(y_train))
            for i in range(0, len(perm), batch_size):
                idx = perm[i : i + batch_size]
                opt.zero_grad()
                loss = loss_fn(model(x_train[idx]), y_train[idx])
                loss.backward()
                opt.step()
                tracker.step(samples=len(idx))
            model.eval()
            with torch.no_grad():
                logits = model(x_test)
                val_loss = float(loss_fn(logits, y_test))
                accuracy = float((logits.argmax(1) == y_test).float().mean())
            tracker.log(train_loss=loss.item(), val_loss=val_loss, val_accuracy=accuracy)
    record = tracker.result
    store = tracker.store
    where = getattr(store, "url", "memory")
    return DemoResult(record, accuracy, len(y_train), len(y_test), str(where))


def print_result(result: DemoResult, console: Any) -> None:
    """The result table: accuracy, energy, emissions, cost, J/sample, equivalents."""
    from rich.markup import escape
    from rich.table import Table

    from wattwise.equivalents import equivalents
    from wattwise.store import default_store_path
    from wattwise.summary import fmt_duration, fmt_energy

    r = result.record
    t = r.training
    fp = r.footprint
    c = r.carbon
    table = Table(
        title=(
            f"wattwise demo · small CNN on scikit-learn digits · {r.status} · "
            f"{fmt_duration(r.duration_s)}"
        ),
        title_justify="left",
        show_header=False,
        show_edge=False,
    )
    table.add_column(style="bold")
    table.add_column()
    table.add_row(
        "test accuracy",
        f"{result.accuracy:.1%} ({result.test_samples} held-out images, "
        f"{result.train_samples} for training)",
    )
    how = {"measured": "measured", "estimated": "estimated", "mixed": "partly estimated"}
    method = how.get(fp.method, fp.method)
    rng = (
        f", range {fmt_energy(fp.energy_low_j)}–{fmt_energy(fp.energy_high_j)}"
        if fp.energy_high_j > fp.energy_low_j
        else ""
    )
    table.add_row("energy", f"{fp.energy_kwh:.3g} kWh = {fmt_energy(fp.energy_j)} ({method}{rng})")
    table.add_row(
        "emissions",
        f"{fp.co2_g:.3g} gCO2e at {c.intensity_g_per_kwh:.0f} g/kWh "
        f"({escape(c.zone)}, {c.intensity_year or 'year n/a'}), PUE {c.pue:g}",
    )
    table.add_row("cost", f"{fp.cost:.3g} {c.currency} at {c.price_per_kwh:g} {c.currency}/kWh")
    if t is not None and t.energy_per_sample_j is not None:
        table.add_row(
            "energy per sample",
            f"{t.energy_per_sample_j:.3g} J per training image ({t.samples:,} seen, "
            f"{t.steps:,} steps)",
        )
    if t is not None and t.forecasts:
        first = t.forecasts[0]
        errors = t.forecast_errors()
        verdict = (
            f"{errors[first.after_epochs]:+.1%} off"
            if first.after_epochs in errors
            else "the plan did not run in full, so it cannot be scored"
        )
        table.add_row(
            f"forecast after epoch {first.after_epochs}",
            f"{fmt_energy(first.energy_j)} for {first.planned_epochs} epochs "
            f"→ actual {fmt_energy(t.trained_energy_j)} at the last epoch's end: {verdict}",
        )
    if t is not None and t.stop_reason:
        table.add_row("stopped", escape(t.stop_reason))
    table.add_row("that is about", " · ".join(str(e) for e in equivalents(fp.energy_j, fp.co2_g)))
    table.add_row("saved to", f"{escape(result.store)} (run {r.id[:8]})")
    console.print(table)
    at = ""
    if result.store not in (f"sqlite:///{default_store_path()}", "memory"):
        at = " --store " + shlex.quote(result.store)
    cmd = f"wattwise report {r.id[:8]}{at}"
    for what, extra in (("see it again", ""), ("with plots", " --html energy.html")):
        console.print(f"{what}: [bold]{escape(cmd + extra)}[/]", soft_wrap=True)
    console.print(f"for a model card: {escape(cmd)} --md", soft_wrap=True)
