"""Inference energy per 1,000 samples and latency, measured in timed windows.

Every model (eval mode, ``torch.inference_mode``) first runs :data:`WARMUP_PASSES`
untimed passes at each batch size; then come ``repeats`` rounds, and in each round every
model gets one window per batch size (interleaved, so a change in the machine's
background load falls on all models alike; each round starts one model later, so no
model always follows the same one). A window is a tracker phase
that runs forward passes on the same batch until ``window_s`` has passed. A phase reads
the sensors at its start and end, so its energy is exact to the counters (or the
estimate) at those moments. A window's energy per 1,000 samples is its headline energy ÷
samples × 1,000; the figure reported is the median of the windows, with the lowest and
highest beside it. Inputs larger than the held-out set are the set repeated.

The samples of each window are logged on its phase (``samples``, ``batch_size``,
``round``), so the store holds every window's energy per sample.

A model and its identical copy measured side by side (5 rounds) agree within
:data:`REPEAT_TOLERANCE` (relative difference of the medians) on an otherwise idle
machine. Single windows move much more on a small VM (±30 % on the 2-vCPU machine this
was built on), which is why studies report the median and the noise floor.
"""

from __future__ import annotations

import contextlib
import statistics
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wattwise.exceptions import ConfigError
from wattwise.optimizing.result import InferenceFigures

if TYPE_CHECKING:
    from wattwise.tracking import Tracker

__all__ = [
    "MAX_WINDOW_S",
    "REPEAT_TOLERANCE",
    "WARMUP_PASSES",
    "Subject",
    "batch_of",
    "check_batch_sizes",
    "measure_inference",
    "measure_side_by_side",
    "quiet_quantized",
]

WARMUP_PASSES = 3
MAX_WINDOW_S = 60.0
REPEAT_TOLERANCE = 0.25
"""A model and its copy measured side by side agree within this (idle machine, medians)."""


def check_batch_sizes(batch_sizes: Sequence[int]) -> tuple[int, ...]:
    """Sorted, distinct batch sizes ≥ 1 (ConfigError otherwise)."""
    sizes = list(batch_sizes)
    if not sizes:
        raise ConfigError("give at least one inference batch size")
    for b in sizes:
        if isinstance(b, bool) or not isinstance(b, int) or b < 1:
            raise ConfigError(f"inference batch sizes must be integers ≥ 1, not {b!r}")
    return tuple(sorted(set(sizes)))


def batch_of(x: Any, size: int) -> Any:
    """The first ``size`` inputs of ``x``, repeating ``x`` when it is smaller."""
    import torch

    if size <= len(x):
        return x[:size]
    reps = -(-size // len(x))
    return torch.cat([x] * reps)[:size]


@dataclass(frozen=True)
class Subject:
    """One model to measure: its label (phase names), inputs and autocast dtype."""

    label: str
    model: Any
    x: Any
    autocast: str | None = None


def measure_inference(
    model: Any,
    x: Any,
    run: Tracker,
    *,
    batch_sizes: Sequence[int],
    repeats: int = 3,
    window_s: float = 0.5,
    autocast: str | None = None,
    label: str = "inference",
) -> tuple[InferenceFigures, ...]:
    """Measure one model on inputs from ``x`` at each batch size inside the running
    tracker ``run`` (see :func:`measure_side_by_side`)."""
    return measure_side_by_side(
        [Subject(label, model, x, autocast)],
        run,
        batch_sizes=batch_sizes,
        repeats=repeats,
        window_s=window_s,
    )[0]


def measure_side_by_side(
    subjects: Sequence[Subject],
    run: Tracker,
    *,
    batch_sizes: Sequence[int],
    repeats: int = 3,
    window_s: float = 0.5,
    on_round: Callable[[int, int], None] | None = None,
) -> list[tuple[InferenceFigures, ...]]:
    """Measure every subject at every batch size in ``repeats`` interleaved rounds: each
    round gives each (subject, batch size) one window, so slow drifts in the machine's
    load fall on every model alike, and round ``r`` starts at subject ``r`` (rotated).
    Phases are named ``<label> b<batch> #<round>`` and carry the metrics ``samples``,
    ``batch_size`` and ``round``. Returns each subject's figures, smallest batch first."""
    sizes = check_batch_sizes(batch_sizes)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ConfigError(f"repeats must be an integer ≥ 1, not {repeats!r}")
    if not (isinstance(window_s, int | float) and 0 < window_s <= MAX_WINDOW_S):
        raise ConfigError(f"window_s must lie in (0, {MAX_WINDOW_S:g}] seconds, not {window_s!r}")
    labels = [s.label for s in subjects]
    if len(set(labels)) != len(labels):
        raise ConfigError("the measured models need distinct labels")
    scope = run.config.headline
    batches = {(i, b): batch_of(s.x, b) for i, s in enumerate(subjects) for b in sizes}
    energies: dict[tuple[int, int], list[float]] = {k: [] for k in batches}
    latencies: dict[tuple[int, int], list[float]] = {k: [] for k in batches}
    counts: dict[tuple[int, int], list[float]] = {k: [0.0, 0.0] for k in batches}
    for s in subjects:
        s.model.eval()
    for key, batch in batches.items():
        with _context(subjects[key[0]], batch):
            for _ in range(WARMUP_PASSES):
                subjects[key[0]].model(batch)
    n = len(subjects)
    for r in range(repeats):
        for b in sizes:
            for k in range(n):  # each round starts one subject later: no fixed position
                i = (k + r) % n
                s = subjects[i]
                batch = batches[i, b]
                name = f"{s.label} b{b} #{r + 1}"
                with _context(s, batch):
                    sync = _synchronizer(batch)
                    sync()  # nothing queued from the last window falls into this one
                    handle = run.begin_phase(name, kind="inference")
                    passes = 0
                    t0 = time.perf_counter()
                    while True:
                        s.model(batch)
                        passes += 1
                        sync()  # a GPU returns before its work is done
                        elapsed = time.perf_counter() - t0
                        if elapsed >= window_s:
                            break
                    handle.log(samples=passes * b, batch_size=b, round=r + 1)
                    record = run.end_phase(name)
                assert record is not None
                footprint = record.process if scope == "process" else record.machine
                samples = passes * b
                energies[i, b].append(footprint.energy_j / samples * 1000.0)
                latencies[i, b].append(elapsed / passes * 1000.0)
                counts[i, b][0] += samples
                counts[i, b][1] += elapsed
        if on_round is not None:
            on_round(r + 1, repeats)
    out = []
    for i in range(len(subjects)):
        figures = []
        for b in sizes:
            e = energies[i, b]
            samples_all, seconds = counts[i, b]
            figures.append(
                InferenceFigures(
                    batch_size=b,
                    energy_per_1000_j=statistics.median(e),
                    energy_min_j=min(e),
                    energy_max_j=max(e),
                    latency_ms=statistics.median(latencies[i, b]),
                    samples_per_s=samples_all / seconds if seconds > 0 else 0.0,
                    repeats=repeats,
                    samples=int(samples_all),
                )
            )
        out.append(tuple(figures))
    return out


def _synchronizer(batch: Any) -> Callable[[], None]:
    """Waits for the inputs' CUDA device to finish its queued work (a no-op elsewhere)."""
    if batch.device.type != "cuda":
        return lambda: None
    import torch

    device = batch.device
    return lambda: torch.cuda.synchronize(device)


@contextlib.contextmanager
def _context(subject: Subject, batch: Any) -> Iterator[None]:
    """No gradients, the subject's autocast, and quiet quantized kernels."""
    import torch

    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.inference_mode())
        if subject.autocast:
            stack.enter_context(
                torch.autocast(batch.device.type, dtype=getattr(torch, subject.autocast))
            )
        stack.enter_context(quiet_quantized())
        yield


@contextlib.contextmanager
def quiet_quantized() -> Iterator[None]:
    """Silence the deprecation notices that ``torch.ao`` quantized models and tools emit
    (torch ≥ 2.10 points users at the separate torchao package); nothing else."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.ao\.quantization is deprecated.*")
        warnings.filterwarnings("ignore", message=r".*quantized tensor creation functions.*")
        warnings.filterwarnings("ignore", message=r".*reduce_range will be deprecated.*")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.ao\..*")
        yield
