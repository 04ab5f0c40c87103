"""Where a training step's joules go: per module, per layer type, forward and backward.

:func:`profile` runs a few warm-up steps, then measures the step's energy over unprofiled
steps (the tracker's sensors, or its labelled estimate), then times every *atomic* module
(one without children, or a fused one such as ``MultiheadAttention``) in profiled steps
with forward and backward hooks, and splits the measured step energy by each part's share
of the profiled step's wall time::

    energy(part) = step energy × time(part) / time(profiled step)

The parts are every module's forward and backward, the loss, the optimizer step, and
"other" (the framework's own work between modules), so the attributions sum to the
measured step energy exactly. This is an *attribution by time share*, not a measurement
per layer: it assumes power is the same whatever runs (on a GPU a memory-bound layer
draws less than a matmul), and it is labelled so. FLOPs are counted analytically by
torch's ``FlopCounterMode`` in a separate step (forward and backward apart).

Modules with ``inplace=True`` (``ReLU(inplace=True)``) are switched to out-of-place while
profiled (full backward hooks cannot see in-place views) and restored after.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wattwise.exceptions import ConfigError

if TYPE_CHECKING:
    from wattwise.tracking import Tracker

__all__ = [
    "LAYER_TYPES",
    "CategoryProfile",
    "ModuleProfile",
    "ProfileResult",
    "fmt_flops",
    "fmt_step_energy",
    "layer_type",
    "print_profile",
    "profile",
]

LAYER_TYPES = (
    "convolution",
    "linear",
    "normalisation",
    "activation",
    "pooling",
    "attention",
    "embedding",
    "other",
)
"""The layer types energy is grouped by (``other``: dropout, flatten, reshapes, ...)."""
PROFILE_VERSION = 1

_ATOMIC = ("MultiheadAttention",)  # fused: children are weights, not calls


def layer_type(module: Any) -> str:
    """The layer type of a torch module, from its class (see :data:`LAYER_TYPES`)."""
    import torch.nn as nn

    kinds: tuple[tuple[str, tuple[type, ...]], ...] = (
        ("attention", (nn.MultiheadAttention,)),
        ("convolution", (nn.modules.conv._ConvNd,)),
        ("linear", (nn.Linear, nn.Bilinear, nn.LazyLinear)),
        (
            "normalisation",
            (
                nn.modules.batchnorm._NormBase,
                nn.LayerNorm,
                nn.GroupNorm,
                nn.LocalResponseNorm,
                *((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()),
            ),
        ),
        ("embedding", (nn.Embedding, nn.EmbeddingBag)),
    )
    for name, classes in kinds:
        if isinstance(module, classes):
            return name
    source = type(module).__module__
    if source == "torch.nn.modules.activation":
        return "activation"
    if source in ("torch.nn.modules.pooling",):
        return "pooling"
    name = type(module).__name__.lower()
    for key, kind in (
        ("attention", "attention"),
        ("conv", "convolution"),
        ("norm", "normalisation"),
    ):
        if key in name:
            return kind
    return "other"


@dataclass(frozen=True)
class ModuleProfile:
    """One atomic module's share of a training step."""

    name: str
    type: str
    layer_type: str
    parameters: int
    calls: int
    forward_s: float
    backward_s: float
    forward_energy_j: float
    backward_energy_j: float
    forward_flops: int
    backward_flops: int

    @property
    def energy_j(self) -> float:
        """Forward plus backward energy per step (J)."""
        return self.forward_energy_j + self.backward_energy_j


@dataclass(frozen=True)
class CategoryProfile:
    """A layer type's (or the loss's, optimizer's, framework's) share of a step."""

    category: str
    modules: int
    forward_energy_j: float
    backward_energy_j: float
    flops: int
    share: float

    @property
    def energy_j(self) -> float:
        """Forward plus backward energy per step (J)."""
        return self.forward_energy_j + self.backward_energy_j


@dataclass(frozen=True)
class ProfileResult:
    """Energy per training step, attributed to modules and layer types.

    Attributes:
        step_energy_j: energy of one unprofiled step (headline scope of the tracker).
        method: how the step energy was obtained (``measured``/``estimated``/``mixed``).
        modules: atomic modules, by energy, largest first.
        categories: layer types plus ``loss``, ``optimizer`` and ``framework`` (the time
            between modules), by energy; their energies sum to ``step_energy_j``.
        train_flops_per_step: forward + backward FLOPs of one step (FlopCounterMode).
        inference_flops_per_sample: forward FLOPs divided by the batch size.
    """

    model: str
    device: str
    batch_size: int
    steps_measured: int
    step_s: float
    profiled_step_s: float
    step_energy_j: float
    method: str
    scope: str
    modules: tuple[ModuleProfile, ...]
    categories: tuple[CategoryProfile, ...]
    train_flops_per_step: int
    forward_flops_per_step: int
    inference_flops_per_sample: float
    attribution: str
    run_id: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def overhead(self) -> float:
        """How much slower a profiled step ran than an unprofiled one (0.25 = +25 %)."""
        return self.profiled_step_s / self.step_s - 1.0 if self.step_s > 0 else 0.0

    def training_flops(self, steps: int) -> int:
        """FLOPs of a training run of ``steps`` steps like the profiled one (Schwartz et
        al.'s "FLOPs per training run"; steps of another batch size scale with it)."""
        return self.train_flops_per_step * max(steps, 0)

    def category(self, name: str) -> CategoryProfile:
        """One category by name; KeyError when absent."""
        for c in self.categories:
            if c.category == name:
                return c
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON (saved with the run record, read by the HTML report)."""
        return {
            "version": PROFILE_VERSION,
            "model": self.model,
            "device": self.device,
            "batch_size": self.batch_size,
            "steps_measured": self.steps_measured,
            "step_s": self.step_s,
            "profiled_step_s": self.profiled_step_s,
            "step_energy_j": self.step_energy_j,
            "method": self.method,
            "scope": self.scope,
            "train_flops_per_step": self.train_flops_per_step,
            "forward_flops_per_step": self.forward_flops_per_step,
            "inference_flops_per_sample": self.inference_flops_per_sample,
            "attribution": self.attribution,
            "run_id": self.run_id,
            "notes": list(self.notes),
            "categories": [
                {
                    "category": c.category,
                    "modules": c.modules,
                    "forward_energy_j": c.forward_energy_j,
                    "backward_energy_j": c.backward_energy_j,
                    "energy_j": c.energy_j,
                    "flops": c.flops,
                    "share": c.share,
                }
                for c in self.categories
            ],
            "modules": [
                {
                    "name": m.name,
                    "type": m.type,
                    "layer_type": m.layer_type,
                    "parameters": m.parameters,
                    "calls": m.calls,
                    "forward_s": m.forward_s,
                    "backward_s": m.backward_s,
                    "forward_energy_j": m.forward_energy_j,
                    "backward_energy_j": m.backward_energy_j,
                    "energy_j": m.energy_j,
                    "forward_flops": m.forward_flops,
                    "backward_flops": m.backward_flops,
                }
                for m in self.modules
            ],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ProfileResult:
        """Inverse of :meth:`as_dict`."""
        return cls(
            model=d["model"],
            device=d["device"],
            batch_size=int(d["batch_size"]),
            steps_measured=int(d["steps_measured"]),
            step_s=float(d["step_s"]),
            profiled_step_s=float(d["profiled_step_s"]),
            step_energy_j=float(d["step_energy_j"]),
            method=d["method"],
            scope=d["scope"],
            modules=tuple(
                ModuleProfile(
                    m["name"],
                    m["type"],
                    m["layer_type"],
                    int(m["parameters"]),
                    int(m["calls"]),
                    float(m["forward_s"]),
                    float(m["backward_s"]),
                    float(m["forward_energy_j"]),
                    float(m["backward_energy_j"]),
                    int(m["forward_flops"]),
                    int(m["backward_flops"]),
                )
                for m in d["modules"]
            ),
            categories=tuple(
                CategoryProfile(
                    c["category"],
                    int(c["modules"]),
                    float(c["forward_energy_j"]),
                    float(c["backward_energy_j"]),
                    int(c["flops"]),
                    float(c["share"]),
                )
                for c in d["categories"]
            ),
            train_flops_per_step=int(d["train_flops_per_step"]),
            forward_flops_per_step=int(d["forward_flops_per_step"]),
            inference_flops_per_sample=float(d["inference_flops_per_sample"]),
            attribution=d["attribution"],
            run_id=d.get("run_id"),
            notes=tuple(d.get("notes", ())),
        )


# -- timing hooks ---------------------------------------------------------------------------
class _Timer:
    """Forward and backward hooks on atomic modules: exclusive wall time per module.

    A module's backward starts when the gradient of its output arrives (backward pre-hook)
    and ends when the gradients of its inputs are computed (full backward hook) or, later,
    when its own parameters' gradients are accumulated: a first layer whose input needs no
    gradient reports "done" before its weight gradient is computed, so the parameter hook
    closes it. :meth:`end_backward` closes the step's open intervals.
    """

    def __init__(
        self, modules: Sequence[tuple[str, Any]], sync: Callable[[], None], *, backward: bool = True
    ) -> None:
        self.sync = sync
        names = [n for n, _ in modules]
        self.forward_s = dict.fromkeys(names, 0.0)
        self.backward_s = dict.fromkeys(names, 0.0)
        self.calls = dict.fromkeys(names, 0)
        self._fwd_start: dict[str, list[float]] = {n: [] for n in names}
        self._bwd_start: dict[str, float] = {}
        self._bwd_end: dict[str, float] = {}
        self.enabled = False
        self._handles: list[Any] = []
        owners: dict[int, int] = {}
        for _, module in modules:
            for param in module.parameters():
                owners[id(param)] = owners.get(id(param), 0) + 1
        for name, module in modules:
            self._handles += [
                module.register_forward_pre_hook(self._fwd_pre(name)),
                module.register_forward_hook(self._fwd_post(name)),
            ]
            if not backward:
                continue
            self._handles += [
                module.register_full_backward_pre_hook(self._bwd_pre(name)),
                module.register_full_backward_hook(self._bwd_done(name)),
            ]
            for param in module.parameters():
                # a tied parameter's gradient is complete only after all its users: its
                # hook would stretch this module's backward to the end of the pass
                if param.requires_grad and owners[id(param)] == 1:
                    self._handles.append(
                        param.register_post_accumulate_grad_hook(self._bwd_done(name))
                    )

    def _fwd_pre(self, name: str) -> Callable[..., None]:
        def hook(*_: Any) -> None:
            if self.enabled:
                self.sync()
                self._fwd_start[name].append(time.perf_counter())

        return hook

    def _fwd_post(self, name: str) -> Callable[..., None]:
        def hook(*_: Any) -> None:
            if self.enabled and self._fwd_start[name]:
                self.sync()
                self.forward_s[name] += time.perf_counter() - self._fwd_start[name].pop()
                self.calls[name] += 1

        return hook

    def _bwd_pre(self, name: str) -> Callable[..., None]:
        def hook(*_: Any) -> None:
            if self.enabled:
                self.sync()
                self._bwd_start.setdefault(name, time.perf_counter())

        return hook

    def _bwd_done(self, name: str) -> Callable[..., None]:
        def hook(*_: Any) -> None:
            if self.enabled and name in self._bwd_start:
                self.sync()
                self._bwd_end[name] = time.perf_counter()

        return hook

    def end_backward(self) -> None:
        """After ``loss.backward()``: add each module's backward interval of this step."""
        for name, start in self._bwd_start.items():
            end = self._bwd_end.get(name, start)
            self.backward_s[name] += max(end - start, 0.0)
        self._bwd_start.clear()
        self._bwd_end.clear()

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []


def _atomic_modules(model: Any) -> list[tuple[str, Any]]:
    """Modules that do the work: leaves, and fused modules whose children are weights."""
    out: list[tuple[str, Any]] = []
    seen: set[int] = set()

    def visit(prefix: str, module: Any) -> None:
        if id(module) in seen:  # registered under two parents: one module, timed once
            return
        seen.add(id(module))
        children = list(module.named_children())
        if not children or type(module).__name__ in _ATOMIC:
            out.append((prefix or type(module).__name__, module))
            return
        for name, child in children:
            visit(f"{prefix}.{name}" if prefix else name, child)

    visit("", model)
    return out


@contextlib.contextmanager
def _out_of_place(model: Any) -> Iterator[list[str]]:
    """Switch ``inplace=True`` modules to out-of-place for the block; names those changed."""
    changed = [(n, m) for n, m in model.named_modules() if getattr(m, "inplace", False) is True]
    for _, m in changed:
        m.inplace = False
    try:
        yield [n for n, _ in changed]
    finally:
        for _, m in changed:
            m.inplace = True


def _call(model: Any, inputs: Any) -> Any:
    if isinstance(inputs, Mapping):
        return model(**inputs)
    if isinstance(inputs, (tuple, list)):
        return model(*inputs)
    return model(inputs)


def _batch_size(inputs: Any) -> int:
    first = inputs
    while isinstance(first, (tuple, list, Mapping)):
        first = next(iter(first.values())) if isinstance(first, Mapping) else first[0]
    shape = getattr(first, "shape", None)
    return int(shape[0]) if shape else 1


def _device(model: Any) -> str:
    """``cuda:N`` when any parameter or buffer is on a GPU (the one to synchronise), else
    the first parameter's device."""
    devices = [str(t.device) for t in (*model.parameters(), *model.buffers())]
    cuda = [d for d in devices if d.startswith("cuda")]
    return cuda[0] if cuda else (devices[0] if devices else "cpu")


def _flops(
    model: Any, inputs: Any, targets: Any, loss_fn: Callable[..., Any]
) -> tuple[dict[str, int], dict[str, int], int, int]:
    """Per-module forward and backward FLOPs of one step, and the totals."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    root = type(model).__name__

    only_root = not list(model.children())

    def per_module(counter: Any) -> dict[str, int]:
        out: dict[str, int] = {}
        for name, ops in counter.get_flop_counts().items():
            if name == "Global" or (name == root and not only_root):
                continue  # the root's totals would overwrite a child named like its class
            short = name[len(root) + 1 :] if name.startswith(root + ".") else name
            out[short] = int(sum(ops.values()))
        return out

    # one counter over forward and backward (a module's backward ops are attributed to it
    # only when its forward ran under the same counter), one over a forward alone
    both = FlopCounterMode(display=False)
    with both:
        loss_fn(_call(model, inputs), targets).backward()
    model.zero_grad(set_to_none=True)
    forward = FlopCounterMode(display=False)
    with torch.no_grad(), forward:
        _call(model, inputs)  # the model alone: inference FLOPs leave the loss out
    fwd = per_module(forward)
    bwd = {k: max(v - fwd.get(k, 0), 0) for k, v in per_module(both).items()}
    fwd_total = int(forward.get_total_flops())
    return fwd, bwd, fwd_total, int(both.get_total_flops()) - fwd_total


def _check(steps: int, warmup: int, min_measure_s: float) -> None:
    if steps < 1:
        raise ConfigError(f"invalid profile steps={steps}: must be at least 1")
    if warmup < 0:
        raise ConfigError(f"invalid profile warmup={warmup}: must be 0 or more")
    if not (0.0 <= min_measure_s <= 600.0):
        raise ConfigError(f"invalid min_measure_s={min_measure_s}: must be in [0, 600]")


def profile(
    model: Any,
    batch: tuple[Any, Any],
    *,
    loss_fn: Callable[[Any, Any], Any],
    optimizer: Any = None,
    steps: int = 10,
    warmup: int = 3,
    min_measure_s: float = 2.0,
    tracker: Tracker | None = None,
    name: str | None = None,
    **tracker_options: Any,
) -> ProfileResult:
    """Profile training steps of ``model`` on ``batch`` = ``(inputs, targets)``.

    Each step is ``loss_fn(model(inputs), targets).backward()`` then ``optimizer.step()``
    (when given) and ``zero_grad``. ``inputs`` may be a tensor, a tuple (positional
    arguments) or a mapping (keyword arguments).

    Args:
        steps: at least this many measured steps, and as many more as fill
            ``min_measure_s`` seconds (short windows give noisy energy); the same number
            are profiled.
        warmup: unmeasured steps first (allocation, autotuning, caches).
        tracker: a running :class:`~wattwise.Tracker` to measure with (the profile is
            saved with its run); default: a new one, started and stopped here, with
            ``tracker_options`` (``store``, ``zone``, ``sensors``...).
        name: the run's name (default ``profile <ModelClass>``).

    The model's parameters are updated by the steps (as in training); profile a copy to
    keep them.
    """
    _check(steps, warmup, min_measure_s)
    import torch

    model_name = type(model).__name__
    own = tracker is None
    if tracker is None:
        from wattwise.tracking import Tracker

        tracker_options.setdefault("live", "off")
        tracker = Tracker(name or f"profile {model_name}", **tracker_options)
        tracker.start()
    elif tracker_options:
        raise ConfigError("tracker options apply only when profile() makes its tracker")
    try:
        result = _profile(
            torch, model, batch, loss_fn, optimizer, steps, warmup, min_measure_s, tracker
        )
        result = dataclasses.replace(result, run_id=tracker.id)
        tracker.add_profile(result.as_dict())
    except BaseException as exc:
        if own:
            tracker.stop("failed", error=f"profile failed: {type(exc).__name__}: {exc}")
        raise
    if own:
        tracker.stop()
    return result


def _validate(model: Any, batch: Any, device: str) -> None:
    """Refuse what would fail deep inside torch, or measure nothing, with one line."""
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ConfigError("profile() needs batch = (inputs, targets)")
    if not any(p.requires_grad for p in model.parameters()):
        raise ConfigError("profile() needs a model with trainable parameters")
    if device == "meta":
        raise ConfigError("profile() needs a model on a real device, not 'meta'")


def _profile(
    torch: Any,
    model: Any,
    batch: tuple[Any, Any],
    loss_fn: Callable[[Any, Any], Any],
    optimizer: Any,
    steps: int,
    warmup: int,
    min_measure_s: float,
    tracker: Tracker,
) -> ProfileResult:
    if not hasattr(model, "named_modules") or not callable(model):
        raise ConfigError(f"profile() needs a torch.nn.Module, not {type(model).__name__}")
    device = _device(model)
    _validate(model, batch, device)
    inputs, targets = batch
    was_training = model.training
    model.train()
    try:
        with torch.enable_grad(), warnings.catch_warnings():
            # torch says so when a module's inputs need no gradient; parameter hooks cover it
            warnings.filterwarnings("ignore", message="Full backward hook is firing")
            return _run_profile(
                torch,
                model,
                inputs,
                targets,
                loss_fn,
                optimizer,
                steps,
                warmup,
                min_measure_s,
                tracker,
                device,
            )
    finally:
        model.train(was_training)


def _run_profile(
    torch: Any,
    model: Any,
    inputs: Any,
    targets: Any,
    loss_fn: Callable[[Any, Any], Any],
    optimizer: Any,
    steps: int,
    warmup: int,
    min_measure_s: float,
    tracker: Tracker,
    device: str,
) -> ProfileResult:
    cuda = device.startswith("cuda")

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(device)

    parts = {"loss": 0.0, "optimizer": 0.0}
    timer: _Timer | None = None

    def step(timed: bool) -> None:
        out = _call(model, inputs)
        if timed:
            sync()
            t1 = time.perf_counter()
        loss = loss_fn(out, targets)
        if timed:
            sync()
            parts["loss"] += time.perf_counter() - t1
        loss.backward()
        if timed:
            sync()
            if timer is not None:
                timer.end_backward()
            t2 = time.perf_counter()
        if optimizer is not None:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        else:
            model.zero_grad(set_to_none=True)
        if timed:
            sync()
            parts["optimizer"] += time.perf_counter() - t2

    atoms = _atomic_modules(model)
    notes: list[str] = []
    for _ in range(warmup):
        step(False)
    sync()
    scope = tracker.config.headline

    def measured(count: int | None) -> tuple[int, float, float, str]:
        """Plain steps in a phase: (steps, seconds, energy J, method)."""
        handle = tracker.begin_phase("profile: measured steps", kind="profile")
        try:
            t0 = time.perf_counter()
            done = 0
            while (
                done < count
                if count is not None
                else (done < -(-steps // 2) or time.perf_counter() - t0 < min_measure_s / 2)
            ):
                step(False)
                done += 1
            sync()
            seconds = time.perf_counter() - t0
        except BaseException:
            tracker.end_phase(handle.name, cancel=True)
            raise
        record = tracker.end_phase(handle.name)
        assert record is not None
        fp = record.machine if scope == "machine" else record.process
        return done, seconds, fp.energy_j, fp.method

    def profiled(count: int, backward: bool) -> float:
        """Time ``count`` steps with the hooks on; returns their total seconds."""
        nonlocal timer
        timer = _Timer(atoms, sync, backward=backward)
        try:
            step(False)  # hooks in place, not yet timing: their first call is slower
            parts.update(loss=0.0, optimizer=0.0)
            timer.enabled = True
            t_start = time.perf_counter()
            for _ in range(count):
                step(True)
            sync()
            return time.perf_counter() - t_start
        finally:
            timer.enabled = False
            timer.remove()
            model.zero_grad(set_to_none=True)

    # 1. plain steps, half before and half after the profiled ones (so a machine whose
    # speed drifts during the profile biases neither side), as the model really runs
    n1, s1, e1, m1 = measured(None)
    # 2. time shares in as many profiled steps as plain ones
    with _out_of_place(model) as changed:
        if changed:
            notes.append(
                f"{len(changed)} in-place module(s) ran out of place while profiled "
                f"({', '.join(changed[:3])}{'…' if len(changed) > 3 else ''})"
            )
        try:
            profiled_total_s = profiled(2 * n1, backward=True)
        except RuntimeError as exc:
            if "inplace" not in str(exc) and "in-place" not in str(exc):
                raise
            # an in-place op on a hooked output (ResNet's `out += identity`): no backward
            # hooks, so backward time is not split per module
            notes.append(
                "the model changes a module's output in place (e.g. `out += x`), which "
                "backward hooks cannot follow: backward time is not split per module and "
                "counts as framework"
            )
            profiled_total_s = profiled(2 * n1, backward=False)
        assert timer is not None
        fwd_flops, bwd_flops, fwd_total, bwd_total = _flops(model, inputs, targets, loss_fn)
    n2, s2, e2, m2 = measured(n1)
    n = n1 + n2
    many = [name for name, c in timer.calls.items() if c > n]
    if many:
        notes.append(
            f"{len(many)} module(s) ran more than once per step ({', '.join(many[:3])}): "
            "their backward interval spans all calls and may include other modules' work"
        )
    if sum(fwd_flops.values()) + sum(bwd_flops.values()) > 1.01 * (fwd_total + bwd_total):
        notes.append(
            "per-module FLOPs add up to more than the step's (torch's counter books later "
            "backward work to modules whose inputs need no gradient); the totals are right"
        )
    return _attribute(
        model_name=type(model).__name__,
        device=device,
        batch_size=_batch_size(inputs),
        steps=n,
        step_s=(s1 + s2) / n,
        profiled_s=profiled_total_s / n,
        step_energy_j=(e1 + e2) / n,
        method=m1 if m1 == m2 else "mixed",
        scope=scope,
        atoms=atoms,
        timer=timer,
        parts={k: v / n for k, v in parts.items()},
        has_optimizer=optimizer is not None,
        flops=(fwd_flops, bwd_flops, fwd_total, bwd_total),
        notes=notes,
    )


def _attribute(
    *,
    model_name: str,
    device: str,
    batch_size: int,
    steps: int,
    step_s: float,
    profiled_s: float,
    step_energy_j: float,
    method: str,
    scope: str,
    atoms: Sequence[tuple[str, Any]],
    timer: _Timer,
    parts: Mapping[str, float],
    has_optimizer: bool,
    flops: tuple[dict[str, int], dict[str, int], int, int],
    notes: list[str],
) -> ProfileResult:
    """Split the step energy by time share; what the hooks do not cover is ``framework``."""
    fwd_flops, bwd_flops, fwd_total, bwd_total = flops
    fwd_s = {n: t / steps for n, t in timer.forward_s.items()}
    bwd_s = {n: t / steps for n, t in timer.backward_s.items()}
    # the forward pass's own time includes the modules' forward; so does backward's
    if not has_optimizer:  # zero_grad alone: the framework's, not an optimizer's
        parts = {"loss": parts["loss"], "framework": parts["optimizer"]}
    covered = sum(fwd_s.values()) + sum(bwd_s.values()) + parts["loss"]
    covered += parts.get("optimizer", 0.0)
    # the profiled step's untimed rest: autograd, glue, and the hooks' own cost between
    # modules (taking a plain step as the reference instead left nothing: the hooks' cost
    # inside each module's interval already fills it on small models)
    framework_s = max(profiled_s - covered, 0.0) + parts.get("framework", 0.0)
    total_s = covered + framework_s
    per_s = step_energy_j / total_s if total_s > 0 else 0.0
    modules = []
    for name, module in atoms:
        modules.append(
            ModuleProfile(
                name=name,
                type=type(module).__name__,
                layer_type=layer_type(module),
                parameters=int(sum(p.numel() for p in module.parameters())),
                calls=timer.calls[name] // steps if steps else 0,
                forward_s=fwd_s[name],
                backward_s=bwd_s[name],
                forward_energy_j=fwd_s[name] * per_s,
                backward_energy_j=bwd_s[name] * per_s,
                forward_flops=fwd_flops.get(name, 0),
                backward_flops=bwd_flops.get(name, 0),
            )
        )
    modules.sort(key=lambda m: -m.energy_j)
    cats: list[CategoryProfile] = []
    for kind in LAYER_TYPES:
        members = [m for m in modules if m.layer_type == kind]
        if not members:
            continue
        f = sum(m.forward_energy_j for m in members)
        b = sum(m.backward_energy_j for m in members)
        cats.append(
            CategoryProfile(
                kind,
                len(members),
                f,
                b,
                sum(m.forward_flops + m.backward_flops for m in members),
                (f + b) / step_energy_j if step_energy_j else 0.0,
            )
        )
    extra = [("loss", parts["loss"]), ("framework", framework_s)]
    if has_optimizer:
        extra.insert(1, ("optimizer", parts["optimizer"]))
    for kind, seconds in extra:
        e = seconds * per_s
        cats.append(CategoryProfile(kind, 0, e, 0.0, 0, e / step_energy_j if step_energy_j else 0))
    cats.sort(key=lambda c: -c.energy_j)
    if profiled_s < covered:
        notes.append("the hooks' timings exceed the profiled step; framework time set to 0")
    if step_energy_j <= 0 or not math.isfinite(step_energy_j):
        notes.append("no energy was recorded for the measured steps: attributions are 0")
    attribution = (
        f"energy of one step measured over {steps} unprofiled steps ({method}, {scope} "
        "scope), split by each part's share of the profiled step's wall time (forward and "
        "backward hooks on atomic modules); FLOPs by torch.utils.flop_counter"
    )
    return ProfileResult(
        model=model_name,
        device=device,
        batch_size=batch_size,
        steps_measured=steps,
        step_s=step_s,
        profiled_step_s=profiled_s,
        step_energy_j=step_energy_j,
        method=method,
        scope=scope,
        modules=tuple(modules),
        categories=tuple(cats),
        train_flops_per_step=fwd_total + bwd_total,
        forward_flops_per_step=fwd_total,
        inference_flops_per_sample=fwd_total / batch_size if batch_size else 0.0,
        attribution=attribution,
        notes=tuple(notes),
    )


def fmt_flops(flops: float) -> str:
    for unit, div in (("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6), ("kFLOP", 1e3)):
        if flops >= div:
            return f"{flops / div:.3g} {unit}"
    return f"{flops:.0f} FLOP"


def fmt_step_energy(energy_j: float) -> str:
    """Per-step energies are small: mJ below a joule, else :func:`~wattwise.summary.fmt_energy`."""
    if abs(energy_j) < 1.0:
        return f"{energy_j * 1e3:.1f} mJ"
    from wattwise.summary import fmt_energy

    return fmt_energy(energy_j)


def print_profile(result: ProfileResult, console: Any, *, top: int = 15) -> None:
    """Layer types, then the ``top`` modules, by energy per step (rich tables)."""
    from rich.markup import escape
    from rich.table import Table

    r = result
    title = (
        f"wattwise profile · {escape(r.model)} on {escape(r.device)} · batch {r.batch_size} · "
        f"{fmt_step_energy(r.step_energy_j)} per step ({r.method}) · {r.step_s * 1e3:.1f} ms/step"
    )
    t = Table(title=title, title_justify="left", show_edge=False)
    for col in ("layer type", "modules", "forward", "backward", "energy/step", "share", "FLOPs"):
        t.add_column(col, justify="left" if col == "layer type" else "right")
    for c in r.categories:
        t.add_row(
            c.category,
            str(c.modules) if c.modules else "",
            fmt_step_energy(c.forward_energy_j),
            fmt_step_energy(c.backward_energy_j) if c.backward_energy_j else "",
            fmt_step_energy(c.energy_j),
            f"{c.share:.1%}",
            fmt_flops(c.flops) if c.flops else "",
        )
    console.print(t)
    m = Table(
        title=f"top {min(top, len(r.modules))} modules", title_justify="left", show_edge=False
    )
    for col in ("module", "type", "params", "forward", "backward", "energy/step", "FLOPs"):
        m.add_column(col, justify="left" if col in ("module", "type") else "right")
    for mod in r.modules[:top]:
        m.add_row(
            escape(mod.name),
            escape(mod.type),
            f"{mod.parameters:,}",
            fmt_step_energy(mod.forward_energy_j),
            fmt_step_energy(mod.backward_energy_j),
            fmt_step_energy(mod.energy_j),
            fmt_flops(mod.forward_flops + mod.backward_flops),
        )
    console.print(m)
    console.print(
        f"FLOPs: {fmt_flops(r.train_flops_per_step)} per training step, "
        f"{fmt_flops(r.inference_flops_per_sample)} per inference (one sample, forward)"
    )
    console.print(
        f"profiled steps ran {r.overhead:+.0%} against unprofiled ones; {escape(r.attribution)}"
    )
    for note in r.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
