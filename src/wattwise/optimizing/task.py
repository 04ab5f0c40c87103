"""What ``wattwise.optimize`` needs from the user: a model factory, the data, the training
settings, and optionally their own training callable.

A recipe never trains by itself: it hands a :class:`TrainSpec` to ``task.train`` (the
user's callable, or :func:`fit`, a plain supervised loop). The spec carries everything a
recipe changes: epochs, batch size, learning rate, the loss (distillation adds the
teacher's soft targets), the autocast dtype (mixed precision) and the training subset
(data reduction). A user loop honours it by using ``spec.loss``, ``spec.autocast()`` and
``spec.indices``, and by calling ``run.step(samples=...)`` per batch inside
``run.epochs(spec.epochs)``.

The model maps a batch of inputs to class logits; the held-out tensors score it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wattwise.exceptions import ConfigError

if TYPE_CHECKING:
    from wattwise.tracking import Tracker

__all__ = ["AUTOCAST_DTYPES", "OptimizeTask", "TrainFn", "TrainSpec", "cross_entropy", "fit"]

AUTOCAST_DTYPES = ("bfloat16", "float16")


def cross_entropy(outputs: Any, inputs: Any, targets: Any) -> Any:
    """The default loss: cross-entropy of the logits against integer labels."""
    import torch

    del inputs
    return torch.nn.functional.cross_entropy(outputs, targets)


@dataclass(frozen=True)
class TrainSpec:
    """How a recipe wants a model trained.

    Attributes:
        epochs: passes over the (possibly reduced) training set.
        batch_size: samples per optimizer step.
        lr: Adam's learning rate.
        loss: ``loss(outputs, inputs, targets) -> scalar tensor``.
        autocast: ``"bfloat16"`` or ``"float16"`` to run forward and loss under
            ``torch.autocast`` (None: full precision).
        indices: positions of the training samples to use (None: all of them).
        seed: seeds the batch order.
    """

    epochs: int
    batch_size: int
    lr: float
    loss: Callable[[Any, Any, Any], Any] = cross_entropy
    autocast: str | None = None
    indices: Any = None
    seed: int = 0

    def autocast_context(self, device_type: str) -> contextlib.AbstractContextManager[Any]:
        """``torch.autocast`` for ``device_type`` at :attr:`autocast`, or a no-op."""
        if self.autocast is None:
            return contextlib.nullcontext()
        import torch

        return torch.autocast(device_type, dtype=getattr(torch, self.autocast))


TrainFn = Callable[[Any, "Tracker", TrainSpec, "OptimizeTask"], None]
"""``train(model, run, spec, task)``: train ``model`` in place as ``spec`` says, through
``run.epochs()``/``run.step()``."""


@dataclass(frozen=True)
class OptimizeTask:
    """A classification model and its data, as the recipes see it.

    Attributes:
        make_model: returns a fresh, untrained model (the same architecture every call).
        x_train, y_train: training inputs and integer labels (tensors).
        x_test, y_test: held-out inputs and labels (the scores and inference inputs).
        epochs, batch_size, lr: the baseline's training settings.
        train: the training callable (default :func:`fit`).
        make_student: a smaller untrained model for distillation (default: the
            baseline's architecture with half the channels, see ``shrink``).
        pretrained: a trained model whose layers before the last ``Linear`` serve as the
            frozen backbone of transfer learning (default: the trained baseline).
        pretrained_j: the energy that model cost (J), counted as its prerequisite.
        pretrained_note: where the pretrained model came from (shown with the variant).
        pretrain: ``pretrain(run) -> model``: trains a source model inside the tracked run
            ``run`` when the transfer recipe needs one (its energy becomes the
            prerequisite); used when ``pretrained`` is None.
        name: the model's name in run names.
    """

    make_model: Callable[[], Any]
    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any
    epochs: int = 8
    batch_size: int = 32
    lr: float = 1e-3
    train: TrainFn | None = None
    make_student: Callable[[], Any] | None = None
    pretrained: Any = None
    pretrained_j: float = 0.0
    pretrained_note: str = ""
    pretrain: Callable[[Tracker], Any] | None = None
    name: str = "model"

    def __post_init__(self) -> None:
        if not callable(self.make_model):
            raise ConfigError("make_model must be a callable that returns a fresh model")
        for what in ("epochs", "batch_size"):
            value = getattr(self, what)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{what} must be an integer ≥ 1, not {value!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ConfigError(f"lr must be a positive number, not {self.lr!r}")
        for x, y, which in (
            (self.x_train, self.y_train, "train"),
            (self.x_test, self.y_test, "test"),
        ):
            if not hasattr(x, "shape") or not hasattr(y, "shape"):
                raise ConfigError(f"x_{which} and y_{which} must be tensors")
            if len(x) != len(y) or len(y) == 0:
                raise ConfigError(
                    f"x_{which} has {len(x)} samples and y_{which} {len(y)}: "
                    "they must match and not be empty"
                )

    def spec(self, **changes: Any) -> TrainSpec:
        """The baseline's :class:`TrainSpec` with ``changes``."""
        base: dict[str, Any] = {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
        }
        base.update(changes)
        return TrainSpec(**base)

    def run_training(self, model: Any, run: Tracker, spec: TrainSpec) -> None:
        """Train ``model`` with the task's callable."""
        (self.train or fit)(model, run, spec, self)


def fit(model: Any, run: Tracker, spec: TrainSpec, task: OptimizeTask) -> None:
    """A plain supervised loop: Adam over the parameters that require gradients,
    ``spec.batch_size`` samples per step in an order seeded by ``spec.seed``, the
    forward pass and loss under ``spec.autocast_context`` (fp16 on CUDA gets a gradient
    scaler), ``run.step(samples=n)`` per batch and ``train_loss`` logged per epoch."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError("the model has no trainable parameters")
    device = params[0].device
    x, y = task.x_train, task.y_train
    if spec.indices is not None:
        x, y = x[spec.indices], y[spec.indices]
    opt = torch.optim.Adam(params, lr=spec.lr)
    scaler = (
        torch.amp.GradScaler("cuda")
        if spec.autocast == "float16" and device.type == "cuda"
        else None
    )
    order = torch.Generator().manual_seed(spec.seed)
    for _ in run.epochs(spec.epochs):
        model.train()
        perm = torch.randperm(len(y), generator=order)
        total, batches = 0.0, 0
        for i in range(0, len(perm), spec.batch_size):
            idx = perm[i : i + spec.batch_size]
            xb, yb = x[idx].to(device), y[idx].to(device)
            opt.zero_grad()
            with spec.autocast_context(device.type):
                loss = spec.loss(model(xb), xb, yb)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            run.step(samples=len(idx))
            total += float(loss.detach())
            batches += 1
        run.log(train_loss=total / max(batches, 1))
