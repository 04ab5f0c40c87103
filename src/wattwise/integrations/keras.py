"""Keras 3: ``EnergyCallback`` measures each epoch of ``model.fit`` and can stop it.

::

    from wattwise import EarlyStopping
    from wattwise.integrations.keras import EnergyCallback

    cb = EnergyCallback("mnist", budget_kwh=0.05, batch_size=64, zone="FRA",
                        early_stopping=EarlyStopping("val_loss", patience=2))
    history = model.fit(x, y, epochs=20, batch_size=64, validation_split=0.1, callbacks=[cb])
    history.history["energy/epoch_j"]          # one value per epoch, next to val_loss
    cb.result.training.saved                   # what stopping early saved (a forecast)

Works with every Keras 3 backend (it never picks one). What it does:

* ``on_train_begin`` starts a :class:`~wattwise.tracking.Tracker` (one run per ``fit``),
  unless you pass a running one with ``tracker=``; the planned epochs are ``fit``'s
  ``epochs``.
* Each epoch is measured from ``on_epoch_begin`` to ``on_epoch_end``, validation
  included, and recorded with the epoch's numeric logs (``loss``, ``val_loss`` ...). The
  energy figures are added to the epoch's ``logs``, so they land in ``History`` and in
  any logger after this callback (CSVLogger, TensorBoard); ``prefix=None`` leaves the
  logs alone. Keras's progress line shows them too. The keys (after ``prefix``,
  ``energy/`` by default; nothing between epochs):

  ==================  ========================================================
  when                keys
  ==================  ========================================================
  each epoch's end    ``epoch_j``, ``epoch_s``, ``epoch_co2_g``,
                      ``epoch_power_w``, ``total_j``, ``total_kwh``,
                      ``total_co2_g``, ``total_cost``, ``samples_per_s``,
                      ``j_per_sample``, ``j_per_token``, ``forecast_kwh``,
                      ``forecast_co2_g``, ``forecast_s`` (those that apply)
  ==================  ========================================================

* Each training batch is one ``step()``. Keras 3 tells callbacks neither the batch size
  nor the number of samples, so samples are counted only when you pass ``batch_size``
  (or, with older Keras, ``self.params`` holds one); the last, smaller batch of an epoch
  then counts as a full one. Without it steps are counted and samples are not. With
  ``steps_per_execution > 1`` one call covers several batches: one step, their samples.
* When the budget is reached (checked after every batch) or the energy-aware early
  stopping fires (after every epoch), it sets ``model.stop_training``: Keras ends the
  epoch after the current batch, runs its validation, calls ``on_epoch_end`` and stops.
  The record's status is then ``stopped``.
* When another callback (``keras.callbacks.EarlyStopping``, ``TerminateOnNaN``) stopped
  the fit before its planned epochs, the record says ``stop_kind="host"`` (status
  ``completed``: wattwise did not stop it).
* ``fit(initial_epoch=k)`` numbers the epochs from ``k``; pass the first fit's
  ``cb.state_dict()`` as ``resume_from=`` to carry its energy, emissions and time into
  the totals, the forecast and the budget.

Keras has no hook for an exception inside ``fit``: a fit that raises leaves the tracker
this callback started running (the record in the store says ``running``, then
``interrupted`` once the process is gone). Call :meth:`EnergyCallback.close` (records
``interrupted``, or ``failed`` with the exception), or let the next ``fit`` with the same
callback do it, or wrap the fit in your own tracker, whose ``with`` block records
``failed``::

    with wattwise.track("mnist") as run:
        model.fit(x, y, epochs=5, callbacks=[EnergyCallback(tracker=run)])

Live display: ``live="auto"`` prints one plain line per epoch (Keras draws its own
progress bar, so no rich live line), after Keras's own epoch line, or nothing with
``verbose=0``; ``"plain"``, ``"rich"``, ``"notebook"`` and ``"off"`` are as in
:class:`~wattwise.training.TrainingSession`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

import keras

from wattwise.early_stopping import EarlyStopping
from wattwise.exceptions import TrackerStateError
from wattwise.integrations._options import check_options, positive_int
from wattwise.record import RunRecord
from wattwise.tracking import Tracker
from wattwise.training import TrainingSession

__all__ = ["EnergyCallback"]


class _Lines:
    """Holds wattwise's lines while Keras draws an epoch, so they come after its own."""

    def __init__(self, target: Callable[[str], None] | None) -> None:
        self.target = target or _to_stderr
        self.defer = False
        self.pending: list[str] = []

    def __call__(self, line: str) -> None:
        if self.defer:
            self.pending.append(line)
        else:
            self.target(line)

    def flush(self) -> None:
        lines, self.pending = self.pending, []
        for line in lines:
            self.target(line)


def _to_stderr(line: str) -> None:
    sys.stdout.flush()  # Keras writes to standard output: keep the order
    print(line, file=sys.stderr, flush=True)


def _numeric(logs: Mapping[str, Any] | None, skip: str | None) -> dict[str, float]:
    """The numeric entries of Keras logs (scalars only; ours from an earlier pass left out)."""
    out: dict[str, float] = {}
    for key, value in (logs or {}).items():
        if skip and key.startswith(skip):
            continue
        if isinstance(value, bool):
            continue
        try:
            out[str(key)] = float(value)
        except (TypeError, ValueError):
            continue
    return out


class EnergyCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Measure the energy of ``model.fit``: per epoch, forecast, budget and early stop.

    Args:
        name: the run's name (default: the model's name).
        tracker: a tracker to use; when it is running, this callback neither starts nor
            stops it (its ``with`` block does). Then pass no ``name`` or tracker options.
        budget_kwh, budget_gco2e, budget_cost: stop the fit once the run reaches one.
        early_stopping: an energy-aware rule on an epoch log (``val_loss`` ...).
        live: None (the config's ``live``, default ``auto``), ``auto`` (plain lines, none
            with ``verbose=0``), ``plain``, ``rich``, ``notebook`` or ``off``.
        printer: where plain lines go (default: standard error).
        batch_size: samples per batch, to count samples (see the module notes).
        tokens_per_sample: to count tokens as well (needs the batch size).
        prefix: prefix of the figures added to the epoch logs; None adds none.
        resume_from: ``state_dict()`` of the callback of an earlier fit this one resumes.
        **tracker_options: for the :class:`~wattwise.tracking.Tracker` it makes
            (``store``, ``sensors``, ``zone``, ``interval_s`` ...).

    Attributes:
        tracker: the tracker measuring the fit.
        session: the training session of the last fit (None before one).
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
        batch_size: int | None = None,
        tokens_per_sample: int | None = None,
        prefix: str | None = "energy/",
        resume_from: Mapping[str, float] | None = None,
        **tracker_options: Any,
    ) -> None:
        super().__init__()
        opts = check_options(
            tracker=tracker,
            name=name,
            tracker_options=tracker_options,
            budget_kwh=budget_kwh,
            budget_gco2e=budget_gco2e,
            budget_cost=budget_cost,
            early_stopping=early_stopping,
            live=live,
            printer=printer,
            prefix=prefix,
            tokens_per_sample=tokens_per_sample,
        )
        self.batch_size = positive_int("batch_size", batch_size)
        self.tokens_per_sample = opts.tokens_per_sample
        self.budget = opts.budget
        self.early_stopping = opts.early_stopping
        self.live = opts.live
        self.prefix = opts.prefix
        self.resume_from = dict(resume_from) if resume_from is not None else None
        # made now so that bad options fail here, not when fit starts
        self.tracker = tracker if tracker is not None else Tracker(name, **tracker_options)
        self._name = name
        self._made_tracker = tracker is None
        self._owns = False
        self._lines = _Lines(printer)
        self.session: TrainingSession | None = None
        self._state: dict[str, float] | None = None
        self._batch_begin: int | None = None
        self._last_epoch: int | None = None

    # -- results ------------------------------------------------------------------------
    @property
    def result(self) -> RunRecord:
        """The record of the last finished run (see :attr:`Tracker.result`)."""
        return self.tracker.result

    def state_dict(self) -> dict[str, float]:
        """Totals to carry into a resumed fit: ``EnergyCallback(resume_from=...)``."""
        if self._state is not None:
            return dict(self._state)
        if self.session is None:
            raise TrackerStateError("no fit measured yet: state_dict() comes after fit()")
        return self.session.state_dict()

    def close(self, error: BaseException | None = None) -> None:
        """End a run that a raising ``fit`` left open (idempotent; no-op after a clean fit).

        The record says ``failed`` with ``error``, ``interrupted`` without one.
        """
        if self._owns and self.tracker.running:
            if error is None or isinstance(error, KeyboardInterrupt):
                what = type(error).__name__ if error is not None else "no on_train_end"
                record = self.tracker.stop("interrupted", error=f"interrupted: fit ended ({what})")
            else:
                record = self.tracker.stop(
                    "failed", error=f"failed: {type(error).__name__}: {error}"
                )
            self._end(record)
        self._lines.flush()

    # -- Keras hooks --------------------------------------------------------------------
    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        """Start the run and its training session."""
        if self._owns and self.tracker.running:  # the last fit raised: end its run first
            self.tracker.stop("interrupted", error="interrupted: the fit ended by an exception")
        self._state = None
        self._batch_begin = self._last_epoch = None
        params: Mapping[str, Any] = self.params or {}
        self._owns = not self.tracker.running
        if self._owns:
            if self._made_tracker and self._name is None:
                self.tracker.name = str(getattr(self.model, "name", None) or "keras")
            self.tracker.start()
        verbose = params.get("verbose", 1)
        mode = self.live if self.live is not None else self.tracker.config.live
        if mode == "auto":
            mode = "off" if verbose == 0 else "plain"
        self._lines.defer = bool(verbose)
        epochs = params.get("epochs")
        planned = epochs if isinstance(epochs, int) and epochs >= 1 else None
        session = self.tracker.training(
            planned_epochs=planned,
            budget=self.budget,
            early_stopping=self.early_stopping,
            live=mode,
            printer=self._lines,
        )
        if self.resume_from is not None:
            session.load_state_dict(self.resume_from)
        self.session = session

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Start measuring the epoch (numbered as Keras does, from ``initial_epoch``)."""
        self._lines.flush()
        s = self.session
        if s is None or not self.tracker.running:
            return
        if s.epochs_completed == 0 and not s.epoch_open and epoch != s.epoch_offset:
            # fit(initial_epoch=epoch): the plan left is from here
            s.load_state_dict({**s.carried, "epochs": float(epoch)})
        if s.epoch_open:
            s.cancel_epoch()
        s.begin_epoch(index=epoch)
        self._batch_begin = None

    def on_train_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Note the first batch of this call (several with ``steps_per_execution``)."""
        self._batch_begin = batch

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Count the step; ask Keras to stop when the budget is reached."""
        s = self.session
        if s is None or not s.epoch_open:
            return
        first = self._batch_begin
        batches = batch - first + 1 if first is not None and batch >= first else 1
        size = self.batch_size or self._params_batch_size()
        samples = batches * size if size else None
        tokens = samples * self.tokens_per_sample if samples and self.tokens_per_sample else None
        s.step(samples=samples, tokens=tokens)
        if s.should_stop:
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Record the epoch with its logs; add its energy figures to ``logs``."""
        s = self.session
        if s is None or not s.epoch_open:
            return
        summary = s.end_epoch(**_numeric(logs, self.prefix))
        self._last_epoch = epoch
        if logs is not None and self.prefix is not None:
            logs.update(summary.as_metrics(self.prefix))
        if s.should_stop:
            self.model.stop_training = True

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        """Note a stop by Keras, end the run (when this callback started it)."""
        s = self.session
        if s is None:
            return
        planned = s.planned_epochs
        done = self._last_epoch + 1 if self._last_epoch is not None else s.current_epoch
        if (
            not s.should_stop
            and getattr(self.model, "stop_training", False)
            and planned is not None
            and done < planned
        ):
            s.request_stop(
                "host",
                f"Keras stopped training after epoch {done} of {planned} "
                "(model.stop_training, e.g. keras.callbacks.EarlyStopping)",
            )
        record = None
        if self._owns and self.tracker.running:
            record = self.tracker.stop("completed")  # "stopped" after a budget or early stop
        self._end(record)
        self._lines.flush()

    # -- internals ----------------------------------------------------------------------
    def _end(self, record: RunRecord | None) -> None:
        """Keep the totals of the fit that ended, as its record has them."""
        s = self.session
        if s is None or self._state is not None:
            return
        state = s.state_dict()
        tr = record.training if record is not None else None
        if tr is not None:
            state.update(
                energy_j=tr.total_energy_j,
                co2_g=tr.total_co2_g,
                cost=tr.total_cost,
                duration_s=tr.total_duration_s,
            )
        self._state = state

    def _params_batch_size(self) -> int | None:
        size = (self.params or {}).get("batch_size")
        return size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else None
