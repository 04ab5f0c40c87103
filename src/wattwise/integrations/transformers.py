"""Energy, emissions, forecast, budget and early stopping for the Hugging Face ``Trainer``.

::

    from wattwise import EarlyStopping
    from wattwise.integrations.transformers import EnergyCallback

    energy = EnergyCallback("finetune", budget_kwh=0.5,
                            early_stopping=EarlyStopping("eval_loss", patience=2))
    trainer = Trainer(model, args, train_dataset=train, eval_dataset=val)
    energy.attach(trainer)          # or Trainer(..., callbacks=[energy]), see below
    trainer.train()
    energy.result.training.forecasts

How the Trainer's events map onto the :class:`~wattwise.training.TrainingSession`:

* ``on_train_begin`` starts a :class:`~wattwise.tracking.Tracker` (one run per ``train()``
  call) unless a running one was given. The planned epochs are the Trainer's
  ``state.num_train_epochs``: ``ceil(num_train_epochs)``, or with ``max_steps > 0``
  ``ceil(max_steps / update steps per epoch)``; none (no forecast) when the dataset has no
  length. A fractional or step-limited plan ends in a partial epoch, which the forecast,
  made in whole epochs, counts as a whole one.
* Each epoch is a phase ``epoch {i}``. When the Trainer evaluates at the end of an epoch
  (``eval_strategy="epoch"``) it does so after ``on_epoch_end``; the epoch is then closed
  in ``on_evaluate`` instead, so that, as in Lightning and Keras, it includes its
  evaluation and its metrics (``eval_loss`` ...) reach the epoch record and
  :class:`~wattwise.EarlyStopping`. Every evaluation is also a phase ``eval {k}`` of kind
  ``eval`` (nested in its epoch). With several evaluation datasets the epoch and that
  phase close with the first; the metrics of the others still reach early stopping. The
  last training ``loss`` logged in an epoch is kept with it too.
* ``on_step_end`` (once per optimizer step) counts a step of
  ``train_batch_size × gradient_accumulation_steps`` samples of this process (the last,
  short batch of an epoch is counted full), and tokens: ``tokens_per_sample × samples``
  when given, else this process's share of the growth of ``state.num_input_tokens_seen``
  when ``include_num_input_tokens_seen`` is on.
* ``on_log`` adds the live figures to every log, and the figures of an epoch that ended
  since the last log (:meth:`~wattwise.training.EpochSummary.as_metrics`) to the next
  one (from the world's process 0; keys after ``prefix``, ``energy/`` by default):

  ========================  =================================================
  when                      keys
  ========================  =================================================
  every log                 ``total_j``, ``power_w``, ``co2_g`` (``budget_used``
                            with a budget)
  next log after an epoch   ``epoch_j``, ``epoch_s``, ``epoch_co2_g``,
                            ``epoch_power_w``, ``total_kwh``, ``total_co2_g``,
                            ``total_cost``, ``samples_per_s``, ``j_per_sample``,
                            ``j_per_token``, ``forecast_kwh``,
                            ``forecast_co2_g``, ``forecast_s`` (those that apply)
  ========================  =================================================

  ``Trainer.log`` stores a copy of the logs in ``state.log_history`` before
  calling the callbacks, so that entry is amended as well. The ``report_to`` loggers
  (TensorBoard, W&B ...) are callbacks that come before the ones passed to ``Trainer``
  and have sent the logs by then: :meth:`EnergyCallback.attach` puts the callback just
  after ``DefaultFlowCallback`` so that they see these figures too.
* Live display (``live``; None: the tracker config's ``live``, ``WATTWISE_LIVE``), from
  the world's process 0: while the Trainer draws its tqdm progress bar (unless
  ``disable_tqdm``), ``auto`` and ``plain`` print one line per epoch through
  ``tqdm.write`` (or ``printer``), not a rich live line that would fight the bar for the
  same row; with ``disable_tqdm=True``, ``auto`` picks as anywhere else.
* The callback stops training only through ``TrainerControl.should_training_stop``:
  after the step in which the budget is reached, or after the epoch at which energy-aware
  early stopping fires. When the Trainer stops before its plan for another reason (its own
  ``EarlyStoppingCallback``, another callback) the record says so with stop kind ``host``.
* Checkpoints: the callback is an ``ExportableState``, so every checkpoint's
  ``trainer_state.json`` carries the run's totals; ``train(resume_from_checkpoint=...)``
  continues them (energy, emissions, cost, time, epoch count) into the new run, with
  or without ``restore_callback_states_from_checkpoint`` (with it, the Trainer swaps in a
  copy of the callback that passes every event on to the one you gave). A checkpoint
  without them (made without this callback) carries the epoch count only. What ran after
  the last checkpoint is in the earlier run's own record, not in the carried totals.

The Trainer has no exception event: when ``train()`` raises, the run stays open until the
callback's next ``train()`` records it as ``interrupted`` (a process that dies leaves its
last checkpointed record, which reads back as ``interrupted`` too). Use the callback as a
context manager around ``train()`` to record a failure at once:
``with energy: trainer.train()``.

In distributed training every process runs the callback. Each node's energy is measured
by its local rank 0 (see :class:`~wattwise.tracking.Tracker`); the figures logged are those
of the world's process 0 (its node). With several processes a reached budget stops
training at the end of the epoch, after all processes have agreed on it, never in the
middle of one (a process leaving alone would hang the others).
"""

from __future__ import annotations

import math
import sys
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from transformers import TrainerCallback

from wattwise.budget import Budget
from wattwise.early_stopping import EarlyStopping
from wattwise.exceptions import ConfigError
from wattwise.integrations._options import check_options
from wattwise.record import RunRecord
from wattwise.tracking import PhaseHandle, Tracker
from wattwise.training import EpochSummary, TrainingSession

try:
    from transformers.trainer_callback import ExportableState
except ImportError:  # transformers < 4.41: no callback state in checkpoints

    class ExportableState:  # type: ignore[no-redef]
        """Stand-in for transformers' mixin of checkpointed callbacks."""


__all__ = ["EnergyCallback"]

#: the attribute that carries the run's totals through ``trainer_state.json``
_SAVED = "wattwise_checkpoint"
_UNSET: Any = object()


class EnergyCallback(TrainerCallback, ExportableState):
    """Measure a ``Trainer`` run: per-epoch energy, forecast, budget and early stopping.

    Args:
        name: the run's name (default: ``args.run_name``, else ``"trainer"``).
        tracker: a :class:`~wattwise.tracking.Tracker` to use. A running one is left
            running at the end (it is the caller's); one not started is started and
            stopped like the callback's own.
        budget_kwh: stop training when the run's IT energy reaches this (kWh).
        budget_gco2e: ... its emissions reach this (gCO2e).
        budget_cost: ... its electricity cost reaches this.
        early_stopping: energy-aware early stopping on a metric of the epoch
            (``EarlyStopping("eval_loss")``; the Trainer prefixes evaluation metrics).
        live: live display (``auto``/``rich``/``plain``/``notebook``/``off``; None: the
            config's ``live``), shown by the world's process 0 only; with the Trainer's
            progress bar on, ``auto`` means plain lines (see the module notes).
        printer: where plain live lines go (default: ``tqdm.write`` while the Trainer's
            progress bar is on, else standard error).
        prefix: prefix of the keys added to the Trainer's logs.
        tokens_per_sample: tokens in each sample, for energy per token (default: the
            Trainer's count when ``include_num_input_tokens_seen`` is on).
        **tracker_options: options of the callback's own :class:`~wattwise.tracking.Tracker`
            (``store``, ``sensors``, ``zone``, ``tags`` ... and any config field).
    """

    #: the instance whose ``state()`` the Trainer asked for last (see ``_route``)
    _last_exported: weakref.ReferenceType[EnergyCallback] | None = None

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
        prefix: str = "energy/",
        tokens_per_sample: int | None = None,
        **tracker_options: Any,
    ) -> None:
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
        )
        if not isinstance(prefix, str):
            raise ConfigError(f"invalid prefix={prefix!r}: must be a string")
        budget = opts.budget
        self.name = name
        self.budget: Budget | None = budget
        self.early_stopping = early_stopping
        self.live = live
        self.printer = printer
        self.prefix = prefix
        self.tokens_per_sample = tokens_per_sample
        self._named = name is not None or tracker is not None  # else: args.run_name
        # made now so that bad options fail here, not when training starts
        self.tracker: Tracker = tracker if tracker is not None else Tracker(name, **tracker_options)
        self.session: TrainingSession | None = None
        self._owns = False
        self._main = True
        self._tokens_seen = 0
        self._pending = False  # an epoch ended; it closes after its evaluation
        self._late_metrics = False  # evaluations after a deferred close: attach to it
        self._eval: PhaseHandle | None = None
        self._evals = 0
        self._fresh: EpochSummary | None = None
        self._final_state: dict[str, float] | None = None
        # set by the Trainer on a copy it builds from a checkpoint (restore_callback_states)
        setattr(self, _SAVED, _UNSET)
        self._delegate: EnergyCallback | None = None

    # -- public -------------------------------------------------------------------------
    @property
    def result(self) -> RunRecord:
        """The record of the last finished run (after ``train()`` returns)."""
        return self._route().tracker.result

    def attach(self, trainer: Any) -> EnergyCallback:
        """Add (or move) this callback to ``trainer`` just after ``DefaultFlowCallback``.

        There, the ``report_to`` loggers see the energy figures it adds to each log, and it
        sees which steps the Trainer will evaluate. Returns ``self``.
        """
        from transformers.trainer_callback import DefaultFlowCallback

        callbacks: list[Any] = trainer.callback_handler.callbacks
        for i, cb in enumerate(callbacks):
            if cb is self:
                del callbacks[i]
                break
        at = next(
            (i + 1 for i, cb in enumerate(callbacks) if isinstance(cb, DefaultFlowCallback)), 0
        )
        callbacks.insert(at, self)
        return self

    def __enter__(self) -> EnergyCallback:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        """Close a run that ``train()`` left open (it raised): ``failed``/``interrupted``."""
        me = self._route()
        if me._owns and me.tracker.running:
            me.tracker.__exit__(exc_type, exc, tb)
        me.session = None

    # -- checkpoints (transformers ExportableState) ------------------------------------
    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps: the run's totals so far (JSON)."""
        me = self._route()
        EnergyCallback._last_exported = weakref.ref(me)
        if me._pending:
            me._settle()
        saved: dict[str, float] | None = me._final_state
        if me.session is not None and me.tracker.running:
            saved = me.session.state_dict()
        return {"args": {}, "attributes": {_SAVED: saved}}

    # -- Trainer events -----------------------------------------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        me = self._route()
        if me is not self:
            return me.on_train_begin(args, state, control, **kwargs)
        self._main = bool(state.is_world_process_zero)
        tracker = self.tracker
        if self._owns and tracker.running:  # the last train() raised and was never closed
            tracker.stop("interrupted", error="train() ended without on_train_end")
        self._owns = not tracker.running  # a running tracker is the caller's
        if self._owns:
            if not self._named:
                tracker.name = getattr(args, "run_name", None) or "trainer"
            tracker.start()
        n = getattr(state, "num_train_epochs", 0) or math.ceil(args.num_train_epochs)
        planned = n if isinstance(n, int) and 0 < n < sys.maxsize else None
        live, printer = self._display(args)
        self.session = tracker.training(
            planned_epochs=planned,
            budget=self.budget,
            early_stopping=self.early_stopping,
            live=live,
            printer=printer,
        )
        self._tokens_seen = int(getattr(state, "num_input_tokens_seen", 0) or 0)
        self._pending = self._late_metrics = False
        self._eval, self._evals, self._fresh, self._final_state = None, 0, None, None
        name = type(self).__name__
        stateful = getattr(state, "stateful_callbacks", None)
        if state.global_step > 0 and not self.session.epochs_completed:  # resumed
            self.session.load_state_dict(_carried(stateful, name, state))
        if isinstance(stateful, dict) and name not in stateful:
            # a checkpoint made without this callback: the Trainer's save would fail on it
            stateful[name] = self.state()
        if getattr(args, "eval_on_start", False):
            self._begin_eval()
        return control

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        me = self._route()
        if me is not self:
            return me.on_epoch_begin(args, state, control, **kwargs)
        session = self._active()
        if session is None:
            return control
        self._settle()
        if session.epoch_open:  # an epoch the Trainer never ended
            session.end_epoch()
        session.begin_epoch()
        return control

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        me = self._route()
        if me is not self:
            return me.on_step_begin(args, state, control, **kwargs)
        self._late_metrics = False
        return control

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        me = self._route()
        if me is not self:
            return me.on_step_end(args, state, control, **kwargs)
        session = self._active()
        if session is None:
            return control
        batch = getattr(state, "train_batch_size", None) or args.train_batch_size
        samples = int(batch) * int(args.gradient_accumulation_steps)
        tokens: int | None = None
        if self.tokens_per_sample is not None:
            tokens = samples * self.tokens_per_sample
        elif getattr(args, "include_num_input_tokens_seen", "no") not in (False, None, "no"):
            seen = int(state.num_input_tokens_seen)
            tokens = max(0, seen - self._tokens_seen) // max(1, int(args.world_size))
            self._tokens_seen = seen
        session.step(samples=samples, tokens=tokens)
        if session.should_stop and int(args.world_size) <= 1:
            control.should_training_stop = True
        if control.should_evaluate:
            self._begin_eval()
        return control

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        me = self._route()
        if me is not self:
            return me.on_epoch_end(args, state, control, **kwargs)
        session = self._active()
        if session is None or not session.epoch_open:
            return control
        if control.should_evaluate:  # the Trainer evaluates now: close the epoch after it
            self._pending = True
            self._begin_eval()
            return control
        self._end_epoch(args, control, {})
        return control

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        me = self._route()
        if me is not self:
            return me.on_evaluate(args, state, control, **kwargs)
        metrics = _numbers(kwargs.get("metrics") or {})
        metrics.pop("epoch", None)
        session = self._active()
        if session is None:
            return control
        if self._eval is not None:
            self._eval.log(**metrics)
            self.tracker.end_phase(self._eval.name)
            self._eval = None
        if self._pending:
            self._pending = False
            self._late_metrics = True
            self._end_epoch(args, control, metrics)
        elif session.epoch_open:
            session.log(**metrics)
        elif self._late_metrics:  # another eval dataset of the epoch just closed
            session.log(**metrics)
            if _any_process(session.should_stop, args):
                control.should_training_stop = True
        return control

    def on_log(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        me = self._route()
        if me is not self:
            return me.on_log(args, state, control, **kwargs)
        session = self._active()
        logs = kwargs.get("logs")
        if session is None or not isinstance(logs, dict):
            return control
        loss = logs.get("loss")
        if session.epoch_open and isinstance(loss, int | float) and not isinstance(loss, bool):
            session.log(loss=loss)
        if not self._main:
            return control
        added: dict[str, float] = {}
        if self._fresh is not None:
            added.update(self._fresh.as_metrics(self.prefix))
            self._fresh = None
        figures = session.figures()
        p = self.prefix
        added[p + "total_j"] = float(figures.energy_j)
        added[p + "power_w"] = float(figures.power_w)
        added[p + "co2_g"] = float(figures.co2_g)
        if figures.budget_used is not None:
            added[p + "budget_used"] = float(figures.budget_used)
        logs.update(added)
        history = getattr(state, "log_history", None)
        if history and history[-1] is not logs and history[-1].get("step") == state.global_step:
            history[-1].update(added)  # Trainer.log stored a copy before calling us
        return control

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        me = self._route()
        if me is not self:
            return me.on_save(args, state, control, **kwargs)
        self._settle()
        return control

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        me = self._route()
        if me is not self:
            return me.on_train_end(args, state, control, **kwargs)
        session = self._active()
        if session is None:
            return control
        self._settle()
        if self._eval is not None:
            self.tracker.end_phase(self._eval.name)
            self._eval = None
        if session.epoch_open:
            session.end_epoch()
        if not session.should_stop and 0 < state.global_step < state.max_steps:
            session.request_stop(
                "host",
                f"the Trainer stopped at step {state.global_step} of {state.max_steps} "
                "(a callback such as EarlyStoppingCallback set should_training_stop)",
            )
        self._final_state = session.state_dict()
        if self._owns:
            self.tracker.stop("completed")
        self.session = None
        return control

    # -- internals ----------------------------------------------------------------------
    def _route(self) -> EnergyCallback:
        """The instance that does the work.

        With ``restore_callback_states_from_checkpoint`` the Trainer replaces the callback
        it was given by ``type(cb)(**state["args"])`` with the saved attributes set, right
        after asking the given one for its ``state()``. That copy forwards every event to
        the given instance, which keeps its configuration and is the one the caller holds.
        """
        if self._delegate is None and getattr(self, _SAVED) is not _UNSET:
            ref = EnergyCallback._last_exported
            target = ref() if ref is not None else None
            self._delegate = target if target is not None and target is not self else self
        return self._delegate if self._delegate is not None else self

    def _display(self, args: Any) -> tuple[str, Callable[[str], None] | None]:
        """The live mode and printer: plain lines beside the Trainer's tqdm bar."""
        mode = (self.live or self.tracker.config.live) if self._main else "off"
        printer = self.printer
        if mode in ("auto", "plain") and not getattr(args, "disable_tqdm", False):
            return "plain", printer or _tqdm_write
        return mode, printer

    def _active(self) -> TrainingSession | None:
        session = self.session
        return session if session is not None and self.tracker.running else None

    def _begin_eval(self) -> None:
        if self._eval is None and self.tracker.running:
            self._eval = self.tracker.begin_phase(
                f"eval {self._evals}", kind="eval", index=self._evals
            )
            self._evals += 1

    def _settle(self) -> None:
        """Close an epoch still waiting for an evaluation that did not come."""
        self._late_metrics = False
        if self._pending:
            self._pending = False
            session = self._active()
            if session is not None and session.epoch_open:
                self._fresh = session.end_epoch()

    def _end_epoch(self, args: Any, control: Any, metrics: Mapping[str, float]) -> None:
        session = self.session
        assert session is not None
        self._fresh = session.end_epoch(**metrics)
        if _any_process(session.should_stop, args):
            control.should_training_stop = True


def _tqdm_write(line: str) -> None:
    """Print a line above any tqdm bar (the Trainer's), on standard error."""
    try:
        from tqdm.auto import tqdm  # type: ignore[import-untyped,unused-ignore]
    except ImportError:  # pragma: no cover - transformers depends on tqdm
        print(line, file=sys.stderr, flush=True)
        return
    tqdm.write(line, file=sys.stderr)


def _numbers(values: Mapping[str, Any]) -> dict[str, float]:
    """The numeric entries of a metrics dict, as floats."""
    return {
        str(k): float(v)
        for k, v in values.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def _carried(stateful: Any, name: str, state: Any) -> dict[str, float]:
    """The totals a checkpoint carries, or just its epoch and step counts."""
    saved = stateful.get(name) if isinstance(stateful, dict) else None
    if isinstance(saved, list):
        saved = saved[0] if saved else None
    values = (saved or {}).get("attributes", {}).get(_SAVED) if isinstance(saved, dict) else None
    if isinstance(values, dict) and values:
        return _numbers(values)
    # no figures from the earlier run: keep its place in the plan, energy unknown
    return {
        "epochs": float(math.floor(float(state.epoch or 0) + 1e-6)),
        "steps": float(state.global_step),
    }


def _any_process(flag: bool, args: Any) -> bool:
    """Whether ``flag`` is set on any process of a distributed run (collective)."""
    if int(getattr(args, "world_size", 1)) <= 1:
        return flag
    torch = sys.modules.get("torch")
    dist = getattr(torch, "distributed", None)
    if dist is None or not (dist.is_available() and dist.is_initialized()):
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=args.device)  # type: ignore[union-attr]
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)
