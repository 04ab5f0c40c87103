"""The bundled optimization task: the digits CNN of ``wattwise.tuning.digits``.

``wattwise demo optimize``, ``benchmarks/optimize.py`` and the docs run every recipe on
it. Nothing is downloaded: scikit-learn's 1,797 8×8 digits, split 80/20 (seed 0).

* baseline: :func:`wattwise.tuning.digits.make_cnn` at :data:`WIDTH` channels, Adam at
  :data:`LR`, :data:`EPOCHS` epochs of batches of :data:`BATCH_SIZE`;
* student (distillation): the same network at :data:`STUDENT_WIDTH` channels;
* transfer source: the same network trained (as long as the baseline) on the digits
  0-4 only, a stand-in for a model trained earlier on a related task; the transfer
  recipe freezes its convolutions and trains a new 10-class head on all ten digits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wattwise.complexity import digits_data
from wattwise.optimizing.task import OptimizeTask, fit
from wattwise.tuning.digits import make_cnn

if TYPE_CHECKING:
    from wattwise.tracking import Tracker

__all__ = ["BATCH_SIZE", "EPOCHS", "LR", "STUDENT_WIDTH", "WIDTH", "task"]

WIDTH = 32
STUDENT_WIDTH = 16
EPOCHS = 8
BATCH_SIZE = 32
LR = 3e-3
SOURCE_CLASSES = 5


def task(epochs: int = EPOCHS, limit: int | None = None) -> OptimizeTask:
    """The digits task; ``limit`` trains on the first ``limit`` images only (tests)."""
    data = digits_data(0)
    x, y = data.x_train, data.y_train
    if limit is not None:
        x, y = x[:limit], y[:limit]

    def pretrain(run: Tracker) -> Any:
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(2)
            model = make_cnn(WIDTH)
        keep = torch.nonzero(y < SOURCE_CLASSES).flatten()
        fit(model, run, base.spec(indices=keep), base)
        return model

    base = OptimizeTask(
        make_model=lambda: make_cnn(WIDTH),
        x_train=x,
        y_train=y,
        x_test=data.x_test,
        y_test=data.y_test,
        epochs=epochs,
        batch_size=BATCH_SIZE,
        lr=LR,
        make_student=lambda: make_cnn(STUDENT_WIDTH),
        pretrain=pretrain,
        pretrained_note=f"the same CNN trained on the digits 0-{SOURCE_CLASSES - 1} only",
        name="digits-cnn",
    )
    return base
