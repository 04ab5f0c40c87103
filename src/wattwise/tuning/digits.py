"""The bundled tuning objective: a small CNN on scikit-learn's digits.

``wattwise demo tune``, the tuning benchmark and the docs tune this objective; as a spec
string it is ``wattwise.tuning.digits:objective`` (a module-level function, so worker
processes can import it). Nothing is downloaded: the 1,797 8×8 digits ship with
scikit-learn, split 80/20 by :func:`wattwise.complexity.digits_data` (seed 0, the same
split for every trial), 1,438 images to train on and 359 held out.

The network (:func:`make_cnn`) is two 3×3 convolutions of ``width`` channels with ReLUs, a
2×2 max-pool and one linear layer to the 10 classes. :data:`SPACE` varies what decides
whether such a net learns in a few epochs:

* ``lr``: Adam's learning rate, log-uniform over 1e-4..0.3. Too small and
  :data:`EPOCHS` epochs are not enough; too large and training diverges or stalls;
* ``beta1``, ``beta2``: Adam's moment decays (0.5..0.99 and 0.9..0.9999);
* ``batch_size``: 16, 32, 64 or 128 images, which sets the steps per epoch;
* ``width``: 4..32 channels in steps of 4, which sets the energy of a step.

The grid strategy uses 3 × 3 × 2 × 3 × 3 = 162 points. Each trial trains for
:data:`EPOCHS` epochs and logs ``val_accuracy`` (:data:`METRIC`, reported to pruners at
every epoch end) and ``train_loss``.

:data:`TARGET`, 0.96 held-out accuracy, separates good configurations from poor ones: it
was calibrated on 80 random draws from the space and 40 random grid points, of which 20-25 %
reached it within the epochs (at any epoch end; 17-22 % at the last). The draws' final
accuracies spread from chance (0.08-0.11: a learning rate near 0.1 or above often
diverges) through 0.2-0.8 (below ~3e-4 four epochs are too few) to 0.99; the median was
0.91. A trial takes 0.2-2 s on a 2-core CPU (median 0.8 s; the first one in a process adds
the imports).

Trial ``n`` initialises its weights and shuffles its batches from seed ``n``, so a repeat
of a study gives the same accuracies; the objective leaves the global torch random state
and thread settings as it found them. PyTorch and scikit-learn are imported only when the
objective runs (:class:`wattwise.demo.MissingExtraError` without them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from wattwise.complexity import _torch, digits_data, evaluate_digits, train_epoch
from wattwise.exceptions import ConfigError

__all__ = [
    "DATA_SEED",
    "EPOCHS",
    "METRIC",
    "SPACE",
    "TARGET",
    "make_cnn",
    "objective",
    "warm_up",
]

SPACE: Mapping[str, Any] = {
    "lr": {"low": 1e-4, "high": 0.3, "log": True, "grid": [1e-3, 1e-2, 1e-1]},
    "beta1": {"low": 0.5, "high": 0.99, "grid": [0.5, 0.9, 0.99]},
    "beta2": {"low": 0.9, "high": 0.9999, "log": True, "grid": [0.99, 0.999]},
    "batch_size": {"choices": [16, 32, 64, 128], "grid": [16, 64, 128]},
    "width": {"low": 4, "high": 32, "step": 4, "grid": [4, 16, 32]},
}
"""The search space (format of :func:`wattwise.tuning.space.parse_space`); 162 grid points."""

EPOCHS = 4
"""Epochs every trial trains for (fewer when pruned or out of budget)."""
METRIC = "val_accuracy"
"""The metric the objective logs each epoch and returns: held-out accuracy (0..1)."""
TARGET = 0.96
"""A held-out accuracy about a quarter of random configurations reach within :data:`EPOCHS`
epochs."""
DATA_SEED = 0
"""Seed of the train/test split, the same for every trial."""


class _Trial(Protocol):
    """What the objective uses of :class:`wattwise.tuning.Trial`."""

    @property
    def number(self) -> int: ...

    @property
    def params(self) -> Mapping[str, Any]: ...

    def epochs(self, epochs: int, /) -> Iterator[Any]: ...

    def step(self, samples: int | None = None) -> None: ...

    def log(self, **metrics: float) -> None: ...


def make_cnn(width: int) -> Any:
    """A small CNN for 1×8×8 digits: two 3×3 convolutions of ``width`` channels (padding
    1) with ReLUs, a 2×2 max-pool to 4×4 maps, then a linear layer to the 10 classes.

    Raises ConfigError when ``width`` is not an integer ≥ 1.
    """
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ConfigError(f"width must be an integer ≥ 1, not {width!r}")
    nn = _torch().nn
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(width * 4 * 4, 10),
    )


def objective(trial: _Trial) -> float:
    """Train :func:`make_cnn` with the trial's parameters for :data:`EPOCHS` epochs and
    return the last held-out accuracy.

    Reads ``lr``, ``beta1``, ``beta2``, ``batch_size`` and ``width`` from ``trial.params``
    (missing ones take the middle of :data:`SPACE`'s grid). Runs its epochs through
    ``trial.epochs()``, counts every batch with ``trial.step(samples=...)`` and logs
    ``val_accuracy`` and the epoch's mean ``train_loss`` at each epoch end. A diverged
    training (non-finite loss) still ends its epochs and scores its accuracy. Returns 0
    when the tuner stopped the trial before its first epoch.
    """
    torch = _torch()
    p = trial.params
    lr = float(p.get("lr", 1e-2))
    betas = (float(p.get("beta1", 0.9)), float(p.get("beta2", 0.999)))
    batch_size = int(p.get("batch_size", 64))
    width = int(p.get("width", 16))
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, not {batch_size}")
    data = digits_data(DATA_SEED)
    x, y = data.x_train, data.y_train
    seed = int(trial.number)
    # seed the initialisation without touching the caller's global random state
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = make_cnn(width)
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=betas)
    loss_fn = torch.nn.functional.cross_entropy
    order = torch.Generator().manual_seed(seed)
    accuracy = 0.0
    for _ in trial.epochs(EPOCHS):
        loss = train_epoch(model, opt, loss_fn, x, y, batch_size, order, trial.step)
        accuracy = evaluate_digits(model, data)
        trial.log(val_accuracy=accuracy, train_loss=loss)
    return accuracy


def warm_up() -> None:
    """Pay once, unmeasured, what the first trial in a process would otherwise pay alone:
    importing PyTorch and scikit-learn, loading the digits, and torch's first-call setup
    (one training step of a small network). Comparisons call it before their first study,
    so no strategy's first trial carries those seconds."""
    torch = _torch()
    data = digits_data(DATA_SEED)
    with torch.random.fork_rng(devices=[]):
        model = make_cnn(4)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss = torch.nn.functional.cross_entropy(model(data.x_train[:64]), data.y_train[:64])
        loss.backward()
        opt.step()
    evaluate_digits(model, data)
