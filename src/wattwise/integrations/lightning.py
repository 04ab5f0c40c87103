"""PyTorch Lightning: measure a ``Trainer.fit`` epoch by epoch, with budgets and early stopping.

::

    from wattwise import EarlyStopping
    from wattwise.integrations.lightning import EnergyCallback

    energy = EnergyCallback("mnist", budget_kwh=0.5, early_stopping=EarlyStopping("val_loss"))
    trainer = lightning.pytorch.Trainer(max_epochs=20, callbacks=[energy])
    trainer.fit(model, datamodule)
    energy.result.training.saved          # what stopping early saved against the forecast

Each training epoch is an ``epoch {i}`` phase with its steps, samples and the
``trainer.callback_metrics`` updated during the epoch (``train_loss``, ``val_loss`` ...);
validation and test runs are phases of their own (``validation {i}``, ``test``). A
metric that was not updated in an epoch is not recorded with it: with
``check_val_every_n_epoch=2`` the epochs without a validation carry no ``val_loss``, and
energy-aware early stopping on ``val_loss`` counts only the epochs that were validated.
The callback's ``state_dict`` carries the run's totals in Lightning checkpoints, so
``fit(ckpt_path=...)`` continues the count.

Figures go to the trainer's loggers from global rank zero (none with ``prefix=None``),
at the trainer's ``global_step``:

=====================  ==========================================================
when                   keys (after ``prefix``, ``energy/`` by default)
=====================  ==========================================================
every n batches        ``total_j``, ``power_w``, ``co2_g`` (``budget_used`` with a
                       budget); n is ``log_every_n_steps``
each epoch's end       ``epoch_j``, ``epoch_s``, ``epoch_co2_g``, ``epoch_power_w``,
                       ``total_j``, ``total_kwh``, ``total_co2_g``, ``total_cost``,
                       ``samples_per_s``, ``j_per_sample``, ``j_per_token``,
                       ``forecast_kwh``, ``forecast_co2_g``, ``forecast_s`` (those
                       that apply: samples, tokens, a forecast)
validated epoch end    ``train_epoch_j``, ``validation_epoch_j`` as well
=====================  ==========================================================

The live display (``live``; None: the tracker config's ``live``, ``WATTWISE_LIVE``) is
shown by global rank zero only. With ``auto`` or ``plain`` and a progress bar, the epoch
lines go through the bar's ``print`` so that they do not break it.

Distributed training (``trainer.world_size > 1``): every process runs the callback with
its own tracker, budget and early-stopping state. A process that left an epoch on its own
would leave the others waiting in a collective forever, so with several processes a
stop is decided at the end of each epoch, by all processes together
(``trainer.strategy.reduce_boolean_decision``, any process asking is enough), never in
the middle of one: a budget can then be passed by up to one epoch's energy. A single
process stops right after the optimizer step in which the budget was reached.

Importing this module imports Lightning (``lightning.pytorch``, or the older
``pytorch_lightning``); ``import wattwise`` never does.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

try:
    from lightning.pytorch import Callback
except ImportError:  # the older standalone package
    from pytorch_lightning import Callback  # type: ignore[assignment,unused-ignore]

from wattwise.config import TrackerConfig
from wattwise.early_stopping import EarlyStopping, EarlyStoppingState
from wattwise.exceptions import ConfigError, TrackerStateError
from wattwise.integrations._options import check_options, positive_int

if TYPE_CHECKING:
    from wattwise.record import Footprint, PhaseRecord, RunRecord
    from wattwise.tracking import Tracker
    from wattwise.training import TrainingSession

__all__ = ["EnergyCallback", "infer_batch_size"]

logger = logging.getLogger("wattwise")

Status = Literal["completed", "failed", "interrupted", "stopped"]

_NONE: Any = object()  # no such entry

#: keyword arguments a new Tracker takes: its own, and every configuration field
_TRACKER_OPTIONS = {"config", "tags", "store", "sensors", "pid", "command"} | {
    f.name for f in dataclasses.fields(TrackerConfig) if f.name != "sources"
}


def infer_batch_size(batch: Any) -> int | None:
    """Samples in a batch: its ``batch_size`` attribute, or the first dimension of the
    first tensor (array) found in it, searching tuples, lists, mappings and dataclasses.
    None when there is no such thing."""
    if type(batch) in (tuple, list) and batch:  # the common (x, y): first is a tensor
        shape = getattr(batch[0], "shape", None)
        if shape is not None and len(shape) and type(shape[0]) is int:
            return shape[0]
    size = getattr(batch, "batch_size", None)
    if isinstance(size, int) and not isinstance(size, bool):
        return size
    if isinstance(batch, str | bytes):
        return None
    shape = getattr(batch, "shape", None)
    if shape is not None:
        try:
            return int(shape[0]) if len(shape) else None
        except (TypeError, ValueError, IndexError):
            return None
    items: Any
    if isinstance(batch, Mapping):
        items = batch.values()
    elif isinstance(batch, list | tuple):
        items = batch
    elif dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        items = (getattr(batch, f.name) for f in dataclasses.fields(batch))
    else:
        return None
    for item in items:
        n = infer_batch_size(item)
        if n is not None:
            return n
    return None


def _float_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The single numbers among a trainer's metrics (tensors of one element included)."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            out[str(key)] = float(value)
            continue
        numel = getattr(value, "numel", None)
        if callable(numel) and numel() == 1:
            try:
                out[str(key)] = float(value.item())
            except (TypeError, ValueError, RuntimeError):
                continue
    return out


def _exit_status(exc: BaseException) -> tuple[Status, str]:
    """The run status for an exception that ended a fit, and the event to record."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", "interrupted by KeyboardInterrupt"
    if isinstance(exc, Exception):
        return "failed", f"failed: {type(exc).__name__}: {exc}"
    return "interrupted", f"interrupted by {type(exc).__name__}"


class EnergyCallback(Callback):  # type: ignore[misc,unused-ignore]
    """Measures a Lightning fit (and test/validate runs) with a wattwise Tracker.

    Args:
        name: the run's name (default: the LightningModule's class name).
        tracker: a :class:`~wattwise.tracking.Tracker` to use instead of a new one. One
            already running is left running at the end of the fit; one that is not is
            started on fit start and stopped on fit end.
        budget_kwh, budget_gco2e, budget_cost: limits; the fit stops when one is reached.
        early_stopping: an energy-aware :class:`~wattwise.early_stopping.EarlyStopping`
            rule on a metric in ``trainer.callback_metrics`` (``val_loss``).
        live: the live display (``auto``/``rich``/``plain``/``notebook``/``off``; None:
            the tracker config's ``live``); with ``auto`` or ``plain`` and a progress bar,
            epoch lines go through the bar's ``print``.
        printer: where plain live lines go (default: the progress bar's ``print``, else
            standard error).
        log_every_n_steps: batches between live totals sent to the loggers (default:
            the trainer's ``log_every_n_steps``).
        prefix: prefix of the logged metric names; None sends nothing to the loggers.
        samples_fn: ``samples_fn(batch) -> int`` samples in a batch (default: inferred,
            see :func:`infer_batch_size`).
        tokens_fn: ``tokens_fn(batch) -> int`` tokens in a batch, for per-token figures.
        tokens_per_sample: tokens in each sample, instead of ``tokens_fn``.
        **tracker_options: options of the new :class:`~wattwise.tracking.Tracker`
            (``store``, ``sensors``, ``zone``, ``interval_s`` ...).

    A step is counted per optimizer step (the batches of a gradient accumulation make
    one). After the fit, :attr:`result` is the run record (for a tracker this callback
    stopped) and :attr:`session` the training session.
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        tracker: Tracker | None = None,
        budget_kwh: float | None = None,
        budget_gco2e: float | None = None,
        budget_cost: float | None = None,
        early_stopping: EarlyStopping | None = None,
        live: str | None = None,
        printer: Callable[[str], None] | None = None,
        log_every_n_steps: int | None = None,
        prefix: str | None = "energy/",
        samples_fn: Callable[[Any], int] | None = None,
        tokens_fn: Callable[[Any], int] | None = None,
        tokens_per_sample: int | None = None,
        **tracker_options: Any,
    ) -> None:
        super().__init__()
        opts = check_options(
            tracker=tracker,
            name=None,  # a given tracker keeps its own name; ``name`` is for a new one
            tracker_options=tracker_options,
            budget_kwh=budget_kwh,
            budget_gco2e=budget_gco2e,
            budget_cost=budget_cost,
            early_stopping=early_stopping,
            live=live,
            printer=printer,
            prefix=prefix,
            tokens_per_sample=tokens_per_sample,
            host_early_stopping=" (Lightning's own EarlyStopping goes in the trainer's callbacks)",
        )
        unknown = sorted(set(tracker_options) - _TRACKER_OPTIONS)
        if unknown:
            raise ConfigError(f"unknown tracker option(s): {', '.join(unknown)}")
        positive_int("log_every_n_steps", log_every_n_steps)
        for label, fn in (("samples_fn", samples_fn), ("tokens_fn", tokens_fn)):
            if fn is not None and not callable(fn):
                raise ConfigError(f"invalid {label}={fn!r}: a callable taking the batch")
        if tokens_fn is not None and tokens_per_sample is not None:
            raise ConfigError("pass tokens_fn or tokens_per_sample, not both")
        self.tokens_per_sample = opts.tokens_per_sample
        self.budget = opts.budget
        early_stopping = opts.early_stopping
        live = opts.live
        prefix = opts.prefix
        self.name = name
        self.tracker: Tracker | None = tracker
        self.early_stopping = early_stopping
        self.live = live
        self.printer = printer
        self.log_every_n_steps = log_every_n_steps
        self.prefix = prefix
        self.samples_fn = samples_fn
        self.tokens_fn = tokens_fn
        self._tracker_options = tracker_options
        self.session: TrainingSession | None = None
        self._result: RunRecord | None = None
        self._owns_run = False  # this callback started the tracker's current run
        self._loaded: dict[str, float] | None = None  # state from a checkpoint, not yet applied
        self._resume_done = False
        self._phase: str | None = None  # the open validation or test phase
        self._batches = 0
        self._reset_epoch()

    # -- results ------------------------------------------------------------------------
    @property
    def result(self) -> RunRecord:
        """The record of the last run this callback stopped (else the tracker's last)."""
        if self._result is not None:
            return self._result
        if self.tracker is None:
            raise TrackerStateError("no run yet: fit a model with this callback first")
        return self.tracker.result

    # -- checkpoints --------------------------------------------------------------------
    def state_dict(self) -> dict[str, float]:
        """The run's totals so far, saved in a checkpoint for a resumed fit."""
        if self.session is not None:
            return self.session.state_dict()
        return dict(self._loaded or {})

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Keep a checkpoint's totals; they are carried in when training resumes."""
        state = _float_metrics(state_dict)
        self._loaded = state or None
        self._resume_done = False

    # -- fit ----------------------------------------------------------------------------
    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        """Start the run (unless the given tracker already runs) and the training session."""
        tracker = self._start(trainer, pl_module)
        max_epochs = trainer.max_epochs
        planned = max_epochs if isinstance(max_epochs, int) and max_epochs > 0 else None
        live = (self.live or tracker.config.live) if trainer.is_global_zero else "off"
        printer = self.printer
        bar = trainer.progress_bar_callback
        if printer is None and bar is not None and live in ("auto", "plain"):
            printer = bar.print  # a line printed past the bar would break it
        session = tracker.training(
            planned_epochs=planned,
            budget=self.budget,
            early_stopping=self.early_stopping,
            live=live,
            printer=printer,
        )
        # a session the given tracker already had keeps its settings; fill in the gaps
        if session.planned_epochs is None:
            session.planned_epochs = planned
        if self.early_stopping is not None and session.early_stopping is None:
            session.early_stopping = EarlyStoppingState(self.early_stopping)
        self.session = session
        self._resume_done = False
        self._batches = 0

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        """Begin the epoch's phase (after carrying in a checkpoint's totals)."""
        session = self.session
        if session is None:
            return
        self._resume(trainer, session)
        if session.epoch_open:  # left open by an exception the caller caught
            session.end_epoch()
        self._reset_epoch()
        self._last_global_step = trainer.global_step
        # read once per epoch, not per batch: the per-batch hook stays a few µs
        self._is_zero = bool(trainer.is_global_zero)
        self._distributed = int(getattr(trainer, "world_size", 1) or 1) > 1
        self._every_n = self._every(trainer)
        # what the metrics were: an entry still the same object at the epoch's end was
        # not updated during it (a validation that did not run this epoch)
        self._metrics_before: dict[str, Any] = dict(trainer.callback_metrics)
        session.begin_epoch(index=trainer.current_epoch)

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Count the batch; one step per optimizer step (gradient accumulation)."""
        session = self.session
        if session is None:
            return
        n = self.samples_fn(batch) if self.samples_fn is not None else infer_batch_size(batch)
        self._pending_samples += int(n or 0)
        if self.tokens_fn is not None:
            self._pending_tokens += int(self.tokens_fn(batch) or 0)
        elif self.tokens_per_sample is not None:
            self._pending_tokens += int(n or 0) * self.tokens_per_sample
        self._pending_batches += 1
        global_step = trainer.global_step
        if global_step != self._last_global_step:
            self._last_global_step = global_step
            self._flush(session)
        # with several processes only at the epoch's end, all together (see the module)
        if not self._distributed and self._stop_asked(session):
            trainer.should_stop = True
        self._batches += 1
        if self._is_zero and self._batches % self._every_n == 0:
            self._log_live(trainer, session)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        """End the epoch: record it with the epoch's metrics, log, stop when asked."""
        session = self.session
        if session is None or not session.epoch_open:
            return
        self._end_epoch(trainer, session, decide=True)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        """Note a stop by the trainer before its plan, and stop a run this callback began."""
        session = self.session
        tracker = self.tracker
        if session is None or tracker is None or not tracker.running:
            return
        if session.epoch_open:
            self._end_epoch(trainer, session, decide=False)
        planned = session.planned_epochs
        done = trainer.current_epoch
        if planned is not None and done < planned and not session.should_stop:
            session.request_stop("host", self._host_reason(trainer, done, planned))
        if self._owns_run:
            self._stop("completed")

    # -- validation and test ------------------------------------------------------------
    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        """A ``trainer.validate()`` run: start the tracker when it is not running."""
        if not self._fitting(trainer) and not trainer.sanity_checking:
            self._start(trainer, pl_module)

    def on_validation_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        """Open a ``validation {epoch}`` phase (not for the sanity check)."""
        if trainer.sanity_checking:
            return
        fitting = self._fitting(trainer)
        name = f"validation {trainer.current_epoch}" if fitting else "validation"
        self._begin_phase(name, "validation", trainer.current_epoch if fitting else None)

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        """Close the validation phase; its energy is kept apart from training."""
        if trainer.sanity_checking:
            return
        record = self._end_phase()
        if record is not None and self._fitting(trainer):
            self._val_energy_j += self._headline(record).energy_j
            self._val_s += record.duration_s

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        """Stop a run that :meth:`on_validation_start` began."""
        if not self._fitting(trainer) and not trainer.sanity_checking and self._owns_run:
            self._stop("completed")

    def on_test_start(self, trainer: Any, pl_module: Any) -> None:
        """A ``trainer.test()`` run: start the tracker when it is not running."""
        self._start(trainer, pl_module)

    def on_test_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        """Open the ``test`` phase."""
        self._begin_phase("test", "test", None)

    def on_test_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        """Close the ``test`` phase."""
        self._end_phase()

    def on_test_end(self, trainer: Any, pl_module: Any) -> None:
        """Stop a run that :meth:`on_test_start` began."""
        if self._owns_run:
            self._stop("completed")

    # -- endings ------------------------------------------------------------------------
    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        """Record the run as failed (interrupted for Ctrl-C) when this callback began it."""
        tracker = self.tracker
        self._loaded = None
        if tracker is None or not tracker.running:
            return
        status, event = _exit_status(exception)
        if self._owns_run:
            self._stop(status, error=event)
            return
        self._end_phase()
        if self.session is not None and self.session.epoch_open:
            self._flush(self.session)
            self.session.end_epoch()

    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        """Forget an unused checkpoint state; stop a run left running (a safety net)."""
        self._loaded = None
        if self._owns_run and self.tracker is not None and self.tracker.running:
            self._stop("completed")

    # -- internals ----------------------------------------------------------------------
    def _reset_epoch(self) -> None:
        self._pending_samples = 0
        self._pending_tokens = 0
        self._pending_batches = 0
        self._last_global_step = 0
        self._is_zero = True
        self._distributed = False
        self._every_n = 50
        self._metrics_before = {}
        self._val_energy_j = 0.0
        self._val_s = 0.0
        self._val_runs = 0

    @staticmethod
    def _stop_asked(session: TrainingSession) -> bool:
        """Whether wattwise asks the trainer to stop (a host stop was the trainer's own)."""
        return session.should_stop and session.stop_kind != "host"

    @staticmethod
    def _fitting(trainer: Any) -> bool:
        return str(getattr(trainer.state.fn, "value", trainer.state.fn)) == "fit"

    def _start(self, trainer: Any, pl_module: Any) -> Tracker:
        if self.tracker is None:
            from wattwise.tracking import Tracker

            name = self.name or type(pl_module).__name__
            self.tracker = Tracker(name, **self._tracker_options)
        if not self.tracker.running:
            self.tracker.start()
            self._owns_run = True
            self._result = None
            self.session = None
        return self.tracker

    def _stop(self, status: Status, *, error: str | None = None) -> None:
        tracker = self.tracker
        assert tracker is not None
        self._owns_run = False
        self._phase = None
        if not tracker.running:
            return
        if self.session is not None and self.session.epoch_open:
            self._flush(self.session)
        self._result = tracker.stop(status, error=error)

    def _resume(self, trainer: Any, session: TrainingSession) -> None:
        """Carry in a checkpoint's totals before the first epoch of a fit.

        The epoch count comes from the trainer (the checkpoint's state may have been
        saved during an epoch's validation), the energy, emissions, cost and time from
        the checkpoint.
        """
        if self._resume_done:
            return
        self._resume_done = True
        state, self._loaded = self._loaded, None
        epoch = int(trainer.current_epoch)
        if session.epochs_completed or session.epoch_open:
            if state:
                logger.warning(
                    "wattwise: the session has counted epochs already; checkpoint totals "
                    "are not carried in"
                )
            return
        if state or epoch > 0:
            session.load_state_dict({**(state or {}), "epochs": float(epoch)})

    def _flush(self, session: TrainingSession) -> None:
        """Count the batches since the last optimizer step as one step."""
        if not self._pending_batches:
            return
        session.step(samples=self._pending_samples, tokens=self._pending_tokens or None)
        self._pending_samples = self._pending_tokens = self._pending_batches = 0

    def _end_epoch(self, trainer: Any, session: TrainingSession, *, decide: bool) -> None:
        """Record the epoch with the metrics updated during it; ``decide``: whether to stop."""
        self._flush(session)
        self._end_phase()
        before = self._metrics_before
        fresh = {k: v for k, v in trainer.callback_metrics.items() if before.get(k, _NONE) is not v}
        metrics = _float_metrics(fresh)
        prefix = self.prefix
        if prefix:
            metrics = {k: v for k, v in metrics.items() if not k.startswith(prefix)}
        validated = self._val_runs > 0
        if validated:
            metrics["validation_energy_j"] = self._val_energy_j
            metrics["validation_s"] = self._val_s
        summary = session.end_epoch(**metrics)
        train_j = max(0.0, summary.energy_j - self._val_energy_j)
        if validated:
            self._amend_epoch(summary.epoch, {"train_energy_j": train_j})
        if decide:
            self._decide_stop(trainer, session)
        if prefix is not None and trainer.is_global_zero:
            logged = summary.as_metrics(prefix)
            if validated:
                logged[prefix + "train_epoch_j"] = train_j
                logged[prefix + "validation_epoch_j"] = self._val_energy_j
            self._log(trainer, logged)

    def _decide_stop(self, trainer: Any, session: TrainingSession) -> None:
        """Set ``trainer.should_stop`` when wattwise asks; with several processes, when any
        of them asks (collectives that every process calls, here at every epoch's end)."""
        asked = self._stop_asked(session)
        if not self._distributed:
            if asked:
                trainer.should_stop = True
            return
        strategy = trainer.strategy
        if not strategy.reduce_boolean_decision(asked, all=False):
            return
        budget = strategy.reduce_boolean_decision(
            asked and session.stop_kind == "budget", all=False
        )
        if not asked:
            what = "budget" if budget else "early-stopping rule"
            session.request_stop(
                "budget" if budget else "early_stopping",
                f"another process of the distributed fit reached its {what}",
            )
        trainer.should_stop = True

    def _amend_epoch(self, index: int, metrics: Mapping[str, float]) -> None:
        """Add figures to the record of epoch ``index`` just finished."""
        tracker = self.tracker
        assert tracker is not None
        name = f"epoch {index}"
        for record in reversed(tracker.phases):
            if record.name == name and record.kind == "epoch":
                tracker._amend_phase(record, metrics)
                return

    def _begin_phase(self, name: str, kind: str, index: int | None) -> None:
        tracker = self.tracker
        if tracker is None or not tracker.running:
            return
        self._end_phase()
        tracker.begin_phase(name, kind=kind, index=index, restart=True)
        self._phase = name
        if kind == "validation":
            self._val_runs += 1

    def _end_phase(self) -> PhaseRecord | None:
        name, self._phase = self._phase, None
        tracker = self.tracker
        if name is None or tracker is None or not tracker.running:
            return None
        try:
            return tracker.end_phase(name)
        except TrackerStateError:  # the user closed it
            return None

    def _headline(self, record: PhaseRecord) -> Footprint:
        assert self.tracker is not None
        return record.machine if self.tracker.config.headline == "machine" else record.process

    def _every(self, trainer: Any) -> int:
        n = self.log_every_n_steps or getattr(trainer, "log_every_n_steps", None) or 50
        return max(1, int(n))

    def _log_live(self, trainer: Any, session: TrainingSession) -> None:
        tracker = self.tracker
        p = self.prefix
        if tracker is None or p is None:
            return
        t = session.totals()
        power = tracker.power_w()
        metrics = {
            p + "total_j": t.energy_j,
            p + "power_w": power if math.isfinite(power) else 0.0,
            p + "co2_g": t.co2_g,
        }
        if session.budget.active:
            metrics[p + "budget_used"] = session.budget.fraction_used(t.energy_j, t.co2_g, t.cost)
        self._log(trainer, metrics)

    @staticmethod
    def _log(trainer: Any, metrics: dict[str, float]) -> None:
        for lg in trainer.loggers:
            lg.log_metrics(metrics, step=trainer.global_step)

    @staticmethod
    def _host_reason(trainer: Any, done: int, planned: int) -> str:
        for cb in getattr(trainer, "callbacks", ()):
            message = getattr(cb, "stopping_reason_message", None)  # Lightning's EarlyStopping
            if isinstance(message, str) and message:
                return f"{type(cb).__name__}: {message}"
        max_steps = getattr(trainer, "max_steps", -1)
        if isinstance(max_steps, int) and max_steps > 0 and trainer.global_step >= max_steps:
            return f"the trainer reached max_steps={max_steps} after {done} of {planned} epochs"
        return f"the trainer stopped after {done} of {planned} planned epochs"
