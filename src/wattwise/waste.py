"""The waste finder: where a training loop's wall time goes besides computing.

Wrap a real loop, then read the report::

    finder = WasteFinder(tracker=run)              # tracker optional: a running Tracker
    for x, y in finder.loader(train_loader):       # times the wait in the loader's next()
        x, y = finder.to_device((x, y), device)    # times host->device copies
        loss = loss_fn(model(x), y)
        loss.backward(); opt.step(); opt.zero_grad()
        finder.step()                              # ends the step (syncs CUDA, see below)
    report = finder.report()
    print(report)                                  # or print_waste(report, console)

What is measured, on the host's wall clock, from the finder's first use to ``stop()``
(or to ``report()``):

* **data wait**: time blocked in the loader: ``iter(loader)`` (worker start-up) and each
  ``next()``, including the last one that ends the pass. ``with finder.waiting():``
  counts any other block the same way;
* **copy**: time in :meth:`WasteFinder.to_device` (or ``with finder.copying():``). Pinned
  tensors are copied with ``non_blocking=True``, so their copy overlaps the device's work
  and costs the host almost nothing; copies to the CPU are no-ops and cost ~0;
* **sync**: time ``step()`` waits for CUDA to finish the step's queued work. The device is
  *busy* then, so this is work, not waste; the finder synchronises only so that the next
  data wait starts with an empty device queue and is therefore time the device really
  idles (kernels run asynchronously: without it a wait could overlap the previous step's
  kernels and be counted as waste). The cost: the next fetch can no longer hide behind the
  tail of the previous step, so on CUDA the waste shown is an upper bound. ``sync=False``
  keeps the loop's own overlap; the waits are then the host's, again an upper bound;
* **compute**: the rest of the window.

Waste is data wait + copy. With a :class:`~wattwise.tracking.Tracker`, the run's headline
energy over the same window is read (``tracker.current()`` at both ends) and the energy
burnt while waiting is estimated **by time share**: waste time × the window's mean power
(window energy / window time). Power is not read per step, so this assumes the mean power
held during the waits: when the device idles well below it, the true figure is lower.

Timing never breaks training: a failing clock or a bookkeeping error stops the timing,
is noted in the report, and the loop runs on. Errors of the loop itself (the dataset,
the copy) are raised unchanged. No threads, no global state; torch is never imported
(tensors are recognised through ``sys.modules``).
"""

from __future__ import annotations

import copy as _copy
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, cast

if TYPE_CHECKING:
    from wattwise.record import RunRecord
    from wattwise.tracking import Tracker

__all__ = [
    "COPY_FLAG_SHARE",
    "DATA_WAIT_FLAG_SHARE",
    "MAX_SUGGESTED_WORKERS",
    "PREFETCH_P95_RATIO",
    "SHORT_STEP_S",
    "SMALL_BATCH_SIZE",
    "STARTUP_FLAG_SHARE",
    "WASTE_FLAG_SHARE",
    "WasteFinder",
    "WasteReport",
    "print_waste",
    "suggest",
]

logger = logging.getLogger("wattwise")

T = TypeVar("T")

WASTE_FLAG_SHARE = 0.10
"""A report is *flagged* when data wait + copy take at least this share of wall time.

A tenth of the run is worth an afternoon of loader tuning; below it, the timing noise of a
short window and the tuning's own cost make suggestions more likely to distract."""

DATA_WAIT_FLAG_SHARE = 0.10
"""Loader suggestions (workers, prefetching) start at this share of wall time waiting for
data: the same bar as :data:`WASTE_FLAG_SHARE`, since data wait is usually most of it."""

COPY_FLAG_SHARE = 0.05
"""Copy suggestions (pinned memory, smaller transfers) start at this share of wall time.

Lower than the data bar because the fix is cheap (one flag) and a blocking copy idles the
device's compute for its whole length."""

STARTUP_FLAG_SHARE = 0.5
"""With worker processes, ``persistent_workers=True`` is suggested when at least this
share of the data wait is spent starting passes (``iter()`` and the first batch), i.e.
the workers' start-up at every epoch dominates the wait."""

PREFETCH_P95_RATIO = 4.0
"""With workers, a 95th-percentile batch wait this many times the median means the wait
comes in bursts (the prefetched queue ran dry): a larger ``prefetch_factor`` evens it."""

SMALL_BATCH_SIZE = 32
"""Batches below this size with :data:`SHORT_STEP_S` steps pay the fixed per-step costs
(Python, collation, copy latency, kernel launches) on few samples: a larger batch helps."""

SHORT_STEP_S = 0.010
"""A mean step (wall time / steps) shorter than this is dominated by fixed per-step costs."""

MAX_SUGGESTED_WORKERS = 4
"""The first ``num_workers`` to try: enough to hide most loaders, few enough not to starve
the training process of CPU; more only when the measurement says so."""

_METHOD = (
    "host wall clock around the loader's iter()/next() (data wait), to_device() (copy) and "
    "step()'s CUDA synchronisation (sync, counted as work); compute is the rest of the window"
)
_ENERGY_METHOD = (
    "; idle energy = (data wait + copy) x the window's mean power (its energy / its time): "
    "an estimate by time share, assuming the mean power held while waiting (high when the "
    "device idles below it)"
)


@dataclass(frozen=True)
class WasteReport:
    """Where a loop's wall time went, the energy burnt waiting, and what to change.

    Times are seconds on the host's wall clock over the window (see the module's
    docstring); ``data_wait_s + copy_s + sync_s + compute_s == wall_s``. Waste is data
    wait + copy (sync is the device working). ``startup_wait_s`` is the wait for each
    pass's first batch (``iter()`` included: worker start-up); the per-batch median and
    p95 leave those batches out when there are others, so they describe the steady state.
    Energy fields are ``None`` without a tracker.
    """

    wall_s: float
    steps: int
    batches: int
    passes: int
    data_wait_s: float
    copy_s: float
    sync_s: float
    compute_s: float
    startup_wait_s: float
    data_wait_median_s: float | None
    data_wait_p95_s: float | None
    device: str
    loader_settings: dict[str, int | bool] = field(default_factory=dict)
    window_energy_j: float | None = None
    energy_window_s: float | None = None
    idle_energy_j: float | None = None
    idle_co2_g: float | None = None
    method: str = _METHOD
    suggestions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def _share(self, seconds: float) -> float:
        return seconds / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def data_wait_share(self) -> float:
        """Share of wall time blocked on the data loader."""
        return self._share(self.data_wait_s)

    @property
    def copy_share(self) -> float:
        """Share of wall time in host->device copies."""
        return self._share(self.copy_s)

    @property
    def sync_share(self) -> float:
        """Share of wall time waiting for the device to finish queued work (not waste)."""
        return self._share(self.sync_s)

    @property
    def compute_share(self) -> float:
        """Share of wall time left to the loop's own work."""
        return self._share(self.compute_s)

    @property
    def waste_s(self) -> float:
        """Time the device waited: data wait + copy."""
        return self.data_wait_s + self.copy_s

    @property
    def waste_share(self) -> float:
        """Share of wall time the device waited."""
        return self._share(self.waste_s)

    @property
    def flagged(self) -> bool:
        """Whether the waste reaches :data:`WASTE_FLAG_SHARE` of wall time."""
        return self.waste_share >= WASTE_FLAG_SHARE

    @property
    def mean_power_w(self) -> float | None:
        """Mean headline power over the energy window (W), with a tracker."""
        if self.window_energy_j is None or not self.energy_window_s:
            return None
        return self.window_energy_j / self.energy_window_s

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON: the fields, the shares and the flag."""
        return {
            "wall_s": self.wall_s,
            "steps": self.steps,
            "batches": self.batches,
            "passes": self.passes,
            "data_wait_s": self.data_wait_s,
            "copy_s": self.copy_s,
            "sync_s": self.sync_s,
            "compute_s": self.compute_s,
            "waste_s": self.waste_s,
            "data_wait_share": self.data_wait_share,
            "copy_share": self.copy_share,
            "sync_share": self.sync_share,
            "compute_share": self.compute_share,
            "waste_share": self.waste_share,
            "flagged": self.flagged,
            "startup_wait_s": self.startup_wait_s,
            "data_wait_median_s": self.data_wait_median_s,
            "data_wait_p95_s": self.data_wait_p95_s,
            "device": self.device,
            "loader_settings": dict(self.loader_settings),
            "window_energy_j": self.window_energy_j,
            "energy_window_s": self.energy_window_s,
            "mean_power_w": self.mean_power_w,
            "idle_energy_j": self.idle_energy_j,
            "idle_co2_g": self.idle_co2_g,
            "method": self.method,
            "suggestions": list(self.suggestions),
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        from wattwise.summary import fmt_duration, fmt_energy

        head = "flagged" if self.flagged else "not flagged"
        lines = [
            f"waste finder: {self.steps} steps, {fmt_duration(self.wall_s)} wall, "
            f"{self.waste_share:.1%} waiting ({head}, bar {WASTE_FLAG_SHARE:.0%})"
        ]
        rows = (
            ("data wait", self.data_wait_s, self.data_wait_share),
            ("copy", self.copy_s, self.copy_share),
            ("sync (work)", self.sync_s, self.sync_share),
            ("compute", self.compute_s, self.compute_share),
        )
        for name, seconds, share in rows:
            lines.append(f"  {name:<12} {seconds:10.3f} s  {share:6.1%}")
        if self.data_wait_median_s is not None and self.data_wait_p95_s is not None:
            lines.append(
                f"  per batch data wait: median {self.data_wait_median_s * 1e3:.2f} ms, "
                f"p95 {self.data_wait_p95_s * 1e3:.2f} ms"
            )
        if self.idle_energy_j is not None and self.window_energy_j is not None:
            lines.append(
                f"  energy: {fmt_energy(self.window_energy_j)} in the window, "
                f"~{fmt_energy(self.idle_energy_j)} while waiting (estimate by time share)"
            )
        lines += [f"  suggestion: {s}" for s in self.suggestions]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def print_waste(report: WasteReport, console: Any) -> None:
    """Print the report as a rich table, then the suggestions and notes."""
    from rich.markup import escape
    from rich.table import Table

    from wattwise.summary import fmt_duration, fmt_energy

    flag = "[bold red]flagged[/]" if report.flagged else "[green]not flagged[/]"
    table = Table(
        title=f"waste finder · {report.steps} steps · {fmt_duration(report.wall_s)} · {flag}",
        title_justify="left",
        show_edge=False,
    )
    table.add_column("where the time went")
    table.add_column("time", justify="right")
    table.add_column("share", justify="right")
    power_w = report.mean_power_w
    if power_w is not None:
        table.add_column("energy (by time share)", justify="right")

    def row(name: str, seconds: float, share: float, bold: bool = False) -> None:
        cells = [name, f"{seconds:.3f} s", f"{share:.1%}"]
        if power_w is not None:
            cells.append(fmt_energy(power_w * seconds))
        if bold:
            cells = [f"[bold]{c}[/]" for c in cells]
        table.add_row(*cells)

    row("waiting for data", report.data_wait_s, report.data_wait_share)
    row("host->device copies", report.copy_s, report.copy_share)
    row("[bold]waste[/] (device waits)", report.waste_s, report.waste_share, bold=True)
    row("sync: device finishing queued work", report.sync_s, report.sync_share)
    row("compute (the rest)", report.compute_s, report.compute_share)
    console.print(table)
    if report.data_wait_median_s is not None and report.data_wait_p95_s is not None:
        console.print(
            f"data wait per batch: median {report.data_wait_median_s * 1e3:.2f} ms, "
            f"p95 {report.data_wait_p95_s * 1e3:.2f} ms over {report.batches} batches"
        )
    if report.idle_energy_j is not None:
        console.print(
            f"burnt while waiting: [bold]~{fmt_energy(report.idle_energy_j)}[/]"
            + (f", ~{report.idle_co2_g:.3g} gCO2e" if report.idle_co2_g is not None else "")
            + f" (estimate by time share: the window's mean {power_w or 0:.1f} W while waiting)"
        )
    for s in report.suggestions:
        console.print(f"[cyan]suggestion:[/] {escape(s)}")
    for n in report.notes:
        console.print(f"[yellow]note:[/] {escape(n)}")


class _TimedLoader(Generic[T]):
    """An iterable over ``inner`` that times its waits; ``len()`` is the inner's."""

    def __init__(self, finder: WasteFinder, inner: Iterable[T]) -> None:
        self._finder = finder
        self._inner = inner

    def __iter__(self) -> Iterator[T]:
        return self._finder._iterate(self._inner)

    def __len__(self) -> int:
        return len(cast(Sized, self._inner))


class WasteFinder:
    """Times a training loop's data wait, copies and syncs; see the module docstring.

    Args:
        tracker: a running :class:`~wattwise.tracking.Tracker`, to attribute energy.
        device: the training device (``"cuda"``, ``torch.device``), for the suggestions
            when :meth:`to_device` is not used.
        sync: in ``step()``, wait for CUDA's queued work when CUDA is in use (default), so
            that data waits are device idle time. No effect without CUDA.
        clock: seconds, monotonic (default :func:`time.perf_counter`); tests inject one.
    """

    def __init__(
        self,
        tracker: Tracker | None = None,
        *,
        device: Any = None,
        sync: bool = True,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.tracker = tracker
        self.sync = sync
        self._clock = clock
        self._device: str | None = (
            str(getattr(device, "type", device)).split(":")[0] if device is not None else None
        )
        self._start: float | None = None
        self._end: float | None = None
        self._stopped = False
        self._last_t: float | None = None
        self._busy = False  # inside a timed block: nested blocks are not counted twice
        self._broken: str | None = None
        self._start_record: RunRecord | None = None
        self._end_record: RunRecord | None = None
        self._energy_note: str | None = None
        self._settings: dict[str, int | bool] = {}
        self.data_wait_s = 0.0
        self.copy_s = 0.0
        self.sync_s = 0.0
        self.startup_wait_s = 0.0
        self._waits: list[float] = []  # per batch, the first of each pass excepted
        self._first_waits: list[float] = []
        self.steps = 0
        self.batches = 0
        self.passes = 0

    # -- the loop ---------------------------------------------------------------------------
    def start(self) -> WasteFinder:
        """Open the window now (otherwise the first use opens it). Idempotent."""
        if self._start is None and self._broken is None and not self._stopped:
            self._start_record = self._read_energy("start")
            self._start = self._now()
        return self

    def loader(self, iterable: Iterable[T]) -> _TimedLoader[T]:
        """Wrap a data loader (any iterable): each pass over it times its waits.

        Its ``num_workers``, ``pin_memory``, ``batch_size``, ``persistent_workers`` and
        ``prefetch_factor`` (where it has them, as a torch ``DataLoader`` does) feed the
        suggestions.
        """
        settings: dict[str, int | bool] = {}
        for name in (
            "batch_size",
            "num_workers",
            "pin_memory",
            "persistent_workers",
            "prefetch_factor",
        ):
            value = getattr(iterable, name, None)
            if isinstance(value, (bool, int)):
                settings[name] = value
        self._settings = settings
        return _TimedLoader(self, iterable)

    def _iterate(self, iterable: Iterable[T]) -> Iterator[T]:
        self.start()
        if not self._stopped:
            self.passes += 1
        t0 = self._begin()
        try:
            it = iter(iterable)  # worker processes start here
        finally:
            pending = self._end_block(t0)
        first = True
        while True:
            t0 = self._begin()
            done = False
            try:
                batch = next(it)
            except StopIteration:
                done = True
            finally:  # an error of the loader itself propagates unchanged
                seconds = self._end_block(t0)
            if done:
                self._safe(self._add_wait, seconds, False, False)
                return
            self._safe(self._add_wait, pending + seconds, True, first)
            pending, first = 0.0, False
            yield batch

    def to_device(self, batch: T, device: Any) -> T:
        """Move the tensors in ``batch`` (nested tuples, lists, named tuples, dicts) to
        ``device``, timing it as copy time. Pinned tensors go ``non_blocking`` to CUDA.

        Other values are returned as they are; without torch imported, so is ``batch``.
        """
        torch = sys.modules.get("torch")
        if torch is None:
            return batch
        target = torch.device(device)
        self._device = target.type
        self.start()
        t0 = self._begin()
        try:
            return cast(T, _move(batch, target, torch))
        finally:
            self._safe(self._add_copy, self._end_block(t0))

    def step(self) -> None:
        """Mark the end of a training step; with CUDA in use (and ``sync``), wait for its
        queued work so the next data wait is device idle time."""
        self.start()
        if self._stopped:
            return
        self.steps += 1
        if self.sync and _cuda_in_use():
            t0 = self._begin()
            _cuda_synchronize()
            self._safe(self._add_sync, self._end_block(t0))

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Count the block as data wait (and one batch's wait), for loops that fetch
        their data some other way."""
        self.start()
        t0 = self._begin()
        try:
            yield
        finally:
            self._safe(self._add_wait, self._end_block(t0), True, False)

    @contextmanager
    def copying(self) -> Iterator[None]:
        """Count the block as copy time, for copies made outside :meth:`to_device`."""
        self.start()
        t0 = self._begin()
        try:
            yield
        finally:
            self._safe(self._add_copy, self._end_block(t0))

    def stop(self) -> WasteReport:
        """Close the window (idempotent) and return the report. Later use is not counted."""
        if not self._stopped:
            self._stopped = True
            now = self._now() if self._start is not None else None
            self._end = now if now is not None else self._last_t
            if self._start is not None:
                self._end_record = self._read_energy("end")
        return self.report()

    def report(self) -> WasteReport:
        """The report so far (up to now, or to ``stop()``). Never raises for timing faults."""
        if self._stopped:
            end: float | None = self._end
            end_record = self._end_record
        else:
            end = self._now() if self._broken is None else self._last_t
            end_record = self._read_energy("end") if self._start is not None else None
        try:
            return self._build(end, end_record)
        except Exception as exc:  # bookkeeping fault: an empty report that says so
            logger.debug("waste finder: report failed", exc_info=True)
            return WasteReport(
                wall_s=0.0,
                steps=self.steps,
                batches=self.batches,
                passes=self.passes,
                data_wait_s=0.0,
                copy_s=0.0,
                sync_s=0.0,
                compute_s=0.0,
                startup_wait_s=0.0,
                data_wait_median_s=None,
                data_wait_p95_s=None,
                device=self._device or "unknown",
                notes=(f"the report could not be built: {type(exc).__name__}: {exc}",),
            )

    # -- timing internals (never raise into the loop) ---------------------------------------
    def _now(self) -> float | None:
        if self._broken is not None:
            return None
        try:
            t = float(self._clock())
            if not math.isfinite(t) or (self._last_t is not None and t < self._last_t):
                raise ValueError(f"the clock went from {self._last_t} to {t}")
        except Exception as exc:
            self._broken = f"timing stopped, the clock failed: {type(exc).__name__}: {exc}"
            logger.debug("waste finder: %s", self._broken)
            return None
        self._last_t = t
        return t

    def _begin(self) -> float | None:
        """Start a timed block; None when nested in another or timing is off."""
        if self._busy or self._stopped or self._start is None:
            return None
        t = self._now()
        self._busy = t is not None
        return t

    def _end_block(self, t0: float | None) -> float:
        """Seconds since ``t0`` (0 when that block was not timed)."""
        if t0 is None:
            return 0.0
        self._busy = False
        t1 = self._now()
        return 0.0 if t1 is None else t1 - t0

    def _safe(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:
            self._broken = f"timing stopped, bookkeeping failed: {type(exc).__name__}: {exc}"
            logger.debug("waste finder: %s", self._broken, exc_info=True)

    def _add_wait(self, seconds: float, batch: bool, startup: bool) -> None:
        if self._stopped:
            return
        self.data_wait_s += seconds
        if batch:
            self.batches += 1
            (self._first_waits if startup else self._waits).append(seconds)
        if startup:
            self.startup_wait_s += seconds

    def _add_copy(self, seconds: float) -> None:
        if not self._stopped:
            self.copy_s += seconds

    def _add_sync(self, seconds: float) -> None:
        if not self._stopped:
            self.sync_s += seconds

    def _read_energy(self, at: Literal["start", "end"]) -> RunRecord | None:
        if self.tracker is None:
            return None
        try:
            if at == "end" and not self.tracker.running:
                # stopped since the window opened (report() after the `with` block): its
                # final record closes the window, when it is the same run
                final = self.tracker.result
                start = self._start_record
                if start is not None and final.id == start.id:
                    return final
            return self.tracker.current()
        except Exception as exc:
            note = f"no energy: the tracker could not be read at the window's {at} ({exc})"
            self._energy_note = self._energy_note or note
            return None

    # -- the report -------------------------------------------------------------------------
    def _build(self, end: float | None, end_record: RunRecord | None) -> WasteReport:
        notes: list[str] = []
        start = self._start
        wall = max(0.0, end - start) if (start is not None and end is not None) else 0.0
        timed = self.data_wait_s + self.copy_s + self.sync_s
        if timed > wall:  # only with an injected clock out of step with the blocks
            notes.append("the timed blocks exceed the window: compute is shown as 0")
        compute = max(0.0, wall - timed)
        if self._broken is not None:
            notes.append(self._broken + "; the figures cover the loop up to that point")
        if start is None:
            notes.append("the finder was not used: nothing was timed")
        steps = self.steps or self.batches
        if not self.steps and self.batches:
            notes.append("step() was never called: steps are the batches fetched")
        waits = sorted(self._waits or self._first_waits)
        device = self._device or ("cuda" if _cuda_in_use() else "cpu")
        if device == "cpu" and self.copy_s > 0:
            notes.append("copies to the CPU are no-ops: their time is the call's own (~0)")
        if device == "cuda" and self._settings.get("pin_memory"):
            notes.append(
                "pinned copies run non_blocking: their time is the device's, not the host's"
            )

        window_energy = energy_s = idle = idle_co2 = None
        method = _METHOD
        if self.tracker is not None:
            begin_rec = self._start_record
            if self._energy_note:
                notes.append(self._energy_note)
            elif begin_rec is not None and end_record is not None and self._broken is None:
                window_energy = max(0.0, end_record.energy_j - begin_rec.energy_j)
                window_co2 = max(0.0, end_record.co2_g - begin_rec.co2_g)
                energy_s = max(0.0, end_record.duration_s - begin_rec.duration_s)
                # the waiting time at the window's mean power: the waiting share of the
                # window's energy, robust to the readings' few ms outside the timed window
                span = energy_s if energy_s > 0 else wall
                share = min(1.0, (self.data_wait_s + self.copy_s) / span) if span > 0 else 0.0
                idle = window_energy * share
                idle_co2 = window_co2 * share
                method += _ENERGY_METHOD
            elif self._broken is not None:
                notes.append("no energy attribution: the timing window is incomplete")

        report = WasteReport(
            wall_s=wall,
            steps=steps,
            batches=self.batches,
            passes=self.passes,
            data_wait_s=self.data_wait_s,
            copy_s=self.copy_s,
            sync_s=self.sync_s,
            compute_s=compute,
            startup_wait_s=self.startup_wait_s,
            data_wait_median_s=_percentile(waits, 0.5),
            data_wait_p95_s=_percentile(waits, 0.95),
            device=device,
            loader_settings=dict(self._settings),
            window_energy_j=window_energy,
            energy_window_s=energy_s,
            idle_energy_j=idle,
            idle_co2_g=idle_co2,
            method=method,
            notes=tuple(notes),
        )
        return _with_suggestions(report, _usable_cpus())


def _with_suggestions(report: WasteReport, cpus: int) -> WasteReport:
    return replace(report, suggestions=tuple(suggest(report, cpus=cpus)))


def suggest(report: WasteReport, *, cpus: int) -> list[str]:
    """Concrete changes for the waste in ``report``, from its loader settings and device.

    Nothing is suggested below the thresholds (module constants): a loop that does not
    wait gets no advice.
    """
    out: list[str] = []
    s = report.loader_settings
    workers = s.get("num_workers")
    if report.data_wait_share >= DATA_WAIT_FLAG_SHARE:
        lead = f"the loop waits for data {report.data_wait_share:.0%} of the time"
        if workers is None:
            out.append(
                f"{lead}: load in background worker processes (a torch DataLoader with "
                "num_workers), or cache / preprocess the data so fetching a batch is cheap"
            )
        elif workers == 0 and cpus <= 1:
            out.append(
                f"{lead}, but only 1 CPU is usable: worker processes would compete with "
                "training; cache decoded samples or preprocess the data offline"
            )
        elif workers == 0:
            out.append(
                f"{lead} with num_workers=0 (loading runs in the training process): set "
                f"num_workers={min(MAX_SUGGESTED_WORKERS, cpus)} on the DataLoader"
            )
        else:
            startup_share = (
                report.startup_wait_s / report.data_wait_s if report.data_wait_s > 0 else 0.0
            )
            restarts = (
                not s.get("persistent_workers")
                and report.passes >= 2
                and startup_share >= STARTUP_FLAG_SHARE
            )
            steady_share = report._share(report.data_wait_s - report.startup_wait_s)
            if restarts:
                out.append(
                    f"{startup_share:.0%} of the data wait is at the start of each pass "
                    "(workers starting): set persistent_workers=True"
                )
                lead = f"past each pass's start the loop still waits {steady_share:.0%} of the time"
            if restarts and steady_share < DATA_WAIT_FLAG_SHARE:
                pass  # restarting the workers is all the problem
            elif workers < cpus:
                out.append(
                    f"{lead} with num_workers={workers}: try num_workers="
                    f"{min(2 * workers, cpus)} ({cpus} CPUs usable)"
                )
            else:
                out.append(
                    f"{lead} although all {cpus} usable CPUs load data: make fetching "
                    "cheaper (cache decoded samples, preprocess offline, lighter transforms)"
                )
            median, p95 = report.data_wait_median_s, report.data_wait_p95_s
            if median is not None and p95 is not None and p95 >= PREFETCH_P95_RATIO * median:
                factor = s.get("prefetch_factor", 2)
                out.append(
                    f"batch waits come in bursts (p95 {p95 * 1e3:.1f} ms vs median "
                    f"{median * 1e3:.1f} ms): raise prefetch_factor (now {factor}) to "
                    f"{2 * int(factor)}"
                )
    if report.copy_share >= COPY_FLAG_SHARE and report.device == "cuda":
        lead = f"host->device copies take {report.copy_share:.0%} of the time"
        if s.get("pin_memory") is False:
            out.append(
                f"{lead}: set pin_memory=True on the DataLoader so copies can be "
                "non_blocking (to_device does that for pinned tensors)"
            )
        elif "pin_memory" not in s:
            out.append(
                f"{lead}: pin the host tensors (tensor.pin_memory()) and copy with "
                "non_blocking=True"
            )
        else:
            out.append(
                f"{lead} with pinned memory: move less per step (e.g. uint8 images "
                "normalised on the device, or keep the data set on the device)"
            )
    batch_size = s.get("batch_size")
    if (
        batch_size is not None
        and batch_size < SMALL_BATCH_SIZE
        and report.flagged
        and report.steps > 0
        and report.wall_s / report.steps < SHORT_STEP_S
    ):
        out.append(
            f"steps are short ({report.wall_s / report.steps * 1e3:.1f} ms) at "
            f"batch_size={batch_size}: fixed per-step costs dominate; if memory allows, "
            f"try batch_size={max(SMALL_BATCH_SIZE, 2 * batch_size)} (and retune the "
            "learning rate)"
        )
    return out


def _percentile(ordered: list[float], q: float) -> float | None:
    """Linear-interpolated percentile of a sorted list (None when empty)."""
    if not ordered:
        return None
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _cuda_in_use() -> bool:
    """CUDA is initialised in this process (never imports torch, never initialises CUDA)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    try:
        return bool(torch.cuda.is_initialized())
    except Exception:
        return False


def _cuda_synchronize() -> None:
    torch = sys.modules.get("torch")
    try:
        if torch is not None:
            torch.cuda.synchronize()
    except Exception:  # a broken CUDA context must not stop the user's training
        logger.debug("waste finder: cuda synchronize failed", exc_info=True)


def _move(obj: Any, device: Any, torch: Any) -> Any:
    """``obj`` with its tensors on ``device``; containers rebuilt, other values kept."""
    if isinstance(obj, torch.Tensor):
        non_blocking = device.type == "cuda" and obj.device.type == "cpu" and obj.is_pinned()
        return obj.to(device, non_blocking=non_blocking)
    if isinstance(obj, dict):
        out = _copy.copy(obj)  # keeps the dict's own type (OrderedDict, defaultdict, ...)
        for key, value in obj.items():
            out[key] = _move(value, device, torch)
        return out
    if isinstance(obj, Mapping):
        moved = {key: _move(value, device, torch) for key, value in obj.items()}
        try:
            return cast(Any, type(obj))(moved)
        except Exception:
            return moved
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a named tuple
        return type(obj)(*(_move(v, device, torch) for v in obj))
    if isinstance(obj, (list, tuple)):
        items = [_move(v, device, torch) for v in obj]
        if type(obj) in (list, tuple):
            return type(obj)(items)
        try:
            return type(obj)(items)
        except Exception:
            return items if isinstance(obj, list) else tuple(items)
    return obj
