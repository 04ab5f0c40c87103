"""A training session: epochs, steps, forecast, budget and early stopping on a Tracker.

Every integration (plain PyTorch loops, Lightning, Hugging Face, Keras) drives the same
:class:`TrainingSession`, so they count alike::

    with wattwise.track("mnist", budget_kwh=0.05) as run:
        for epoch in run.epochs(10, early_stopping=EarlyStopping("val_loss", patience=2)):
            for x, y in loader:
                ...
                run.step(samples=len(x))
            run.log(val_loss=evaluate(model))
    run.result.training.forecasts

``step()`` is the hot path: a clock read, three list appends and, when the sampler has
taken a new reading since the last step, a budget check on it. Step energies are read off
the run's energy curve when the epoch ends.
"""

from __future__ import annotations

import bisect
import logging
import statistics
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wattwise.budget import Budget
from wattwise.early_stopping import EarlyStopping, EarlyStoppingState
from wattwise.exceptions import ConfigError, TrackerStateError
from wattwise.forecast import EpochMark, Forecast, forecast
from wattwise.live import LiveFigures, LiveView, OffView, PlainView, make_view
from wattwise.record import PhaseRecord, StepTable, StopKind, TrainingRecord

if TYPE_CHECKING:
    from wattwise.tracking import Tracker

__all__ = ["BudgetWarning", "EpochSummary", "Totals", "TrainingSession", "cuda_synchronize"]

logger = logging.getLogger("wattwise")

#: steps kept one by one; past this, neighbouring steps are merged in pairs
MAX_STEP_ROWS = 20_000


class BudgetWarning(UserWarning):
    """The forecast of a training run goes over its budget."""


@dataclass(frozen=True)
class Totals:
    """A run's cumulative headline figures, including earlier segments of a resumed fit."""

    energy_j: float
    co2_g: float
    cost: float
    duration_s: float


@dataclass(frozen=True)
class EpochSummary:
    """One finished epoch: its energy and speed, and the forecast made after it.

    ``energy_per_sample_j`` / ``energy_per_token_j`` are None when no samples / tokens
    were counted with ``step()``.
    """

    epoch: int
    duration_s: float
    energy_j: float
    co2_g: float
    cost: float
    power_w: float
    steps: int
    samples: int
    tokens: int
    samples_per_s: float | None
    energy_per_sample_j: float | None
    energy_per_token_j: float | None
    metrics: Mapping[str, float]
    forecast: Forecast | None
    totals: Totals

    def as_metrics(self, prefix: str = "energy/") -> dict[str, float]:
        """Flat ``{prefix + name: value}`` for a trainer's logger."""
        out = {
            "epoch_j": self.energy_j,
            "epoch_s": self.duration_s,
            "epoch_co2_g": self.co2_g,
            "epoch_power_w": self.power_w,
            "total_j": self.totals.energy_j,
            "total_kwh": self.totals.energy_j / 3.6e6,
            "total_co2_g": self.totals.co2_g,
            "total_cost": self.totals.cost,
        }
        if self.samples_per_s is not None:
            out["samples_per_s"] = self.samples_per_s
        if self.energy_per_sample_j is not None:
            out["j_per_sample"] = self.energy_per_sample_j
        if self.energy_per_token_j is not None:
            out["j_per_token"] = self.energy_per_token_j
        if self.forecast is not None:
            out["forecast_kwh"] = self.forecast.energy_kwh
            out["forecast_co2_g"] = self.forecast.co2_g
            out["forecast_s"] = self.forecast.duration_s
        return {prefix + k: float(v) for k, v in out.items()}


def cuda_synchronize() -> None:
    """Wait for queued CUDA work, when torch is already imported and CUDA is in use.

    GPU kernels run asynchronously: without this an epoch boundary would be read before
    the epoch's last kernels ran. Never imports torch.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return
    try:
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()
    except Exception:  # a broken CUDA context must not stop the user's training
        logger.debug("cuda synchronize failed", exc_info=True)


@dataclass
class _Steps:
    """Steps of the open epoch: end times (monotonic clock), samples, tokens."""

    begin_t: float = 0.0
    ends: list[float] = field(default_factory=list)
    samples: list[int] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)


class TrainingSession:
    """Counts epochs and steps on a running :class:`~wattwise.tracking.Tracker`.

    Create it with ``tracker.training(...)`` (or let ``tracker.epochs()`` do it).

    Args:
        tracker: a started tracker.
        planned_epochs: epochs the run is set to train for (enables the forecast).
        budget: limits; default from the tracker's config (``budget_kwh`` ...).
        early_stopping: a rule on a metric passed to :meth:`end_epoch` / :meth:`log`.
        live: ``auto``/``rich``/``plain``/``notebook``/``off``; default from the config.
        printer: where plain lines go (default: standard error).
        forecast_after: epochs to see before the first forecast (default 1).
        sync_cuda: synchronise CUDA before each reading at an epoch boundary.
        host_stop: set by an integration to ask its framework to stop.
    """

    def __init__(
        self,
        tracker: Tracker,
        *,
        planned_epochs: int | None = None,
        budget: Budget | None = None,
        early_stopping: EarlyStopping | None = None,
        live: str | None = None,
        printer: Callable[[str], None] | None = None,
        forecast_after: int = 1,
        sync_cuda: bool = True,
    ) -> None:
        for name, value in (("planned_epochs", planned_epochs), ("forecast_after", forecast_after)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ConfigError(f"invalid {name}={value!r}: must be an integer ≥ 1")
        cfg = tracker.config
        self.tracker = tracker
        self.planned_epochs = planned_epochs
        self.budget = budget or Budget(cfg.budget_kwh, cfg.budget_gco2e, cfg.budget_cost)
        self.early_stopping = EarlyStoppingState(early_stopping) if early_stopping else None
        self.forecast_after = forecast_after
        self.sync_cuda = sync_cuda
        self._clock = tracker._clock()
        self._printer = printer
        self._view: LiveView = make_view(live or cfg.live, printer=printer)
        self._show("start", self.figures)
        # this segment
        self.epochs_completed = 0
        self.epoch_offset = 0
        self.carried: dict[str, float] = {}
        self._marks: list[EpochMark] = []
        self._forecasts: list[Forecast] = []
        self._epoch_name: str | None = None
        self._epoch_index: int | None = None
        self._epoch_metrics: dict[str, float] = {}
        self._last_record: PhaseRecord | None = None
        self._steps = _Steps()
        # (time, cumulative J) readings of the open epoch; one list so that the sampler
        # thread's append and begin_epoch's reset can never pair a time with another's J
        self._curve: list[tuple[float, float]] = []
        self.steps = 0
        self.samples = 0
        self.tokens = 0
        self._table: dict[str, list[Any]] = {k: [] for k in StepTable.__dataclass_fields__}
        self._checked: object = None
        self.should_stop = False
        self.stop_kind: StopKind | None = None
        self.stop_reason: str | None = None
        self.budget_warning: str | None = None
        self.last_summary: EpochSummary | None = None
        self.epoch_listeners: list[Callable[[EpochSummary], None]] = []
        """Called with each epoch's summary after the budget and early-stopping checks
        (the search's pruner listens here); one that raises is logged and dropped."""
        self._closed = False
        tracker._subscribe(self._on_reading)

    # -- epochs -------------------------------------------------------------------------
    @property
    def epoch_open(self) -> bool:
        """Whether an epoch is being measured now."""
        return self._epoch_name is not None

    @property
    def current_epoch(self) -> int:
        """The 0-based index of the open (or next) epoch, counting resumed ones."""
        return self.epoch_offset + self.epochs_completed

    def begin_epoch(self, index: int | None = None) -> None:
        """Start measuring an epoch (0-based ``index``; default: the next one)."""
        if self._epoch_name is not None:
            raise TrackerStateError(f"{self._epoch_name} is still open: end_epoch() first")
        i = self.current_epoch if index is None else int(index)
        if self.sync_cuda:
            cuda_synchronize()
        name = f"epoch {i}"
        self._epoch_name, self._epoch_index = name, i
        self._epoch_metrics = {}
        self._curve = []
        handle = self.tracker.begin_phase(name, kind="epoch", index=i, restart=True)
        # the first step starts where the epoch's window does, so the steps partition it
        self._steps = _Steps(begin_t=handle.start.t_s)

    def step(self, samples: int | None = None, tokens: int | None = None) -> None:
        """Count one training step that just ended, with its samples and tokens.

        A step outside any epoch counts in the totals but not in the step table.
        """
        if self._epoch_name is None:
            self.steps += 1
            self.samples += samples or 0
            self.tokens += tokens or 0
        else:
            s = self._steps
            s.ends.append(self._clock())
            s.samples.append(samples or 0)
            s.tokens.append(tokens or 0)
        snap = self.tracker._latest
        if snap is not self._checked:
            self._checked = snap
            self._check_budget()

    def log(self, **metrics: float) -> None:
        """Attach metrics to the open epoch (or the last finished one)."""
        values = {k: float(v) for k, v in metrics.items()}
        if self._epoch_name is not None:
            self._epoch_metrics.update(values)
        else:
            if self._last_record is not None and self.tracker.running:
                self._last_record = self.tracker._amend_phase(self._last_record, values)
            last = self.last_summary
            self._early_stop_check(values, last.epoch if last else self.current_epoch - 1)

    def end_epoch(self, **metrics: float) -> EpochSummary:
        """Finish the open epoch: record it, forecast, check budget and early stopping."""
        if self._epoch_name is None:
            raise TrackerStateError("no epoch is open: begin_epoch() first")
        if self.sync_cuda:
            cuda_synchronize()
        self._epoch_metrics.update({k: float(v) for k, v in metrics.items()})
        steps = self._steps
        n_steps = len(steps.ends)
        n_samples, n_tokens = sum(steps.samples), sum(steps.tokens)
        record = self.tracker.end_phase(self._epoch_name)  # its reading closes the curve
        assert record is not None
        step_energy = self._step_energies()
        fp = record.machine if self.tracker.config.headline == "machine" else record.process
        per_sample = fp.energy_j / n_samples if n_samples else None
        per_token = fp.energy_j / n_tokens if n_tokens else None
        speed = n_samples / record.duration_s if n_samples and record.duration_s > 0 else None
        extra: dict[str, float] = {"steps": float(n_steps)}
        if n_samples:
            extra["samples"] = float(n_samples)
            extra["samples_per_s"] = speed or 0.0
            extra["energy_per_sample_j"] = per_sample or 0.0
        if n_tokens:
            extra["tokens"] = float(n_tokens)
            extra["energy_per_token_j"] = per_token or 0.0
        record = self.tracker._amend_phase(record, {**extra, **self._epoch_metrics})
        self._last_record = record
        self._add_steps(steps, step_energy)
        self.steps += n_steps
        self.samples += n_samples
        self.tokens += n_tokens
        self.epochs_completed += 1
        index = self._epoch_index if self._epoch_index is not None else self.current_epoch - 1
        self._epoch_name = self._epoch_index = None
        run = self._run_totals()
        warmup = self._warmup_s(steps) if not self._marks else 0.0
        self._marks.append(
            EpochMark(
                self.epochs_completed, run.duration_s, run.energy_j, run.co2_g, run.cost, warmup
            )
        )
        fc = self._forecast()
        if fc is not None:
            self._forecasts.append(fc)
        totals = self.totals()
        summary = EpochSummary(
            epoch=index,
            duration_s=record.duration_s,
            energy_j=fp.energy_j,
            co2_g=fp.co2_g,
            cost=fp.cost,
            power_w=fp.energy_j / record.duration_s if record.duration_s > 0 else 0.0,
            steps=n_steps,
            samples=n_samples,
            tokens=n_tokens,
            samples_per_s=speed,
            energy_per_sample_j=per_sample,
            energy_per_token_j=per_token,
            metrics=dict(self._epoch_metrics),
            forecast=fc,
            totals=totals,
        )
        self.last_summary = summary
        self._check_budget(fc)
        self._early_stop_check(self._epoch_metrics, index)
        for listener in list(self.epoch_listeners):
            try:
                listener(summary)
            except Exception as exc:  # never break training
                self.epoch_listeners.remove(listener)
                logger.warning("wattwise: an epoch listener failed and was dropped: %s", exc)
                self.tracker._note(f"an epoch listener failed and was dropped: {exc}")
        self._show("epoch_end", self.figures(), summary)
        return summary

    def cancel_epoch(self) -> None:
        """Drop the open epoch without recording it (a loop that broke off)."""
        if self._epoch_name is not None and self.tracker.running:
            self.tracker.end_phase(self._epoch_name, cancel=True)
        self._epoch_name = self._epoch_index = None

    def epochs(self, epochs: int | Iterable[Any]) -> Iterator[Any]:
        """Iterate over ``epochs`` (a count or an iterable), measuring each one.

        The loop ends early, after the epoch in which it was asked, when the budget is
        reached or early stopping fires (``should_stop``). An epoch the loop body leaves
        with ``break`` or an exception is recorded up to that point.
        """
        items: Iterable[Any] = range(epochs) if isinstance(epochs, int) else epochs
        if self.planned_epochs is None and hasattr(items, "__len__"):
            self.planned_epochs = self.epoch_offset + len(items)  # type: ignore[arg-type]
        for item in items:
            if self.should_stop:
                return
            self.begin_epoch()
            try:
                yield item
            finally:
                if self._epoch_name is not None and self.tracker.running:
                    self.end_epoch()
        return

    # -- resumption ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, float]:
        """Totals to carry into a resumed fit (energy, emissions, cost, time, epochs)."""
        t = self.totals()
        return {
            "energy_j": t.energy_j,
            "co2_g": t.co2_g,
            "cost": t.cost,
            "duration_s": t.duration_s,
            "epochs": float(self.current_epoch),
            "steps": float(self.steps + self.carried.get("steps", 0.0)),
            **self._early_stopping_state(),
        }

    def _early_stopping_state(self) -> dict[str, float]:
        es = self.early_stopping
        if es is None or es.best is None or es.best_epoch is None:
            return {}
        return {
            "es_best": es.best,
            "es_best_epoch": float(es.best_epoch),
            "es_wait": float(es.wait),
        }

    def load_state_dict(self, state: Mapping[str, float]) -> None:
        """Continue the count of an earlier segment (call before the first epoch)."""
        if self.epochs_completed or self._epoch_name is not None:
            raise TrackerStateError("load_state_dict() must come before the first epoch")
        self.carried = {k: float(v) for k, v in state.items() if not k.startswith("es_")}
        self.epoch_offset = int(self.carried.get("epochs", 0))
        es = self.early_stopping
        if es is not None and "es_best" in state:
            es.resume(
                float(state["es_best"]),
                int(state.get("es_best_epoch", 0)),
                int(state.get("es_wait", 0)),
            )

    # -- figures ------------------------------------------------------------------------
    def totals(self) -> Totals:
        """Totals so far, from the latest reading (no new reading), including carried."""
        run = self._run_totals()
        c = self.carried
        return Totals(
            run.energy_j + c.get("energy_j", 0.0),
            run.co2_g + c.get("co2_g", 0.0),
            run.cost + c.get("cost", 0.0),
            run.duration_s + c.get("duration_s", 0.0),
        )

    @property
    def forecast(self) -> Forecast | None:
        """The latest forecast of the whole run (including carried totals)."""
        return self._forecasts[-1] if self._forecasts else None

    def figures(self) -> LiveFigures:
        """What the live display shows now."""
        t = self.totals()
        fc = self.forecast
        return LiveFigures(
            name=self.tracker.name,
            epoch=self.current_epoch,
            planned_epochs=self.planned_epochs,
            steps=self.steps + len(self._steps.ends),
            power_w=self.tracker._latest_power_w(),
            energy_j=t.energy_j,
            co2_g=t.co2_g,
            cost=t.cost,
            currency=self.tracker._currency(),
            elapsed_s=t.duration_s,
            method=self.tracker._latest_method(),
            forecast_energy_j=fc.energy_j if fc else None,
            forecast_co2_g=fc.co2_g if fc else None,
            forecast_duration_s=fc.duration_s if fc else None,
            budget_used=self.budget.fraction_used(t.energy_j, t.co2_g, t.cost)
            if self.budget.active
            else None,
            stop_reason=self.stop_reason,
        )

    def request_stop(self, kind: StopKind, reason: str) -> None:
        """Ask the loop to stop (the first reason given is kept)."""
        if not self.should_stop:
            self.should_stop = True
            self.stop_kind = kind
            self.stop_reason = reason
            logger.info("wattwise: stopping training: %s", reason)
            self._show("message", f"stopping: {reason}")

    def record(self) -> TrainingRecord:
        """The training record so far."""
        t = self.totals()
        es = self.early_stopping
        saved = None
        fc = self.forecast
        done = self.current_epoch
        if (
            fc is not None
            and self.stop_kind is not None
            and self.planned_epochs is not None
            and done < self.planned_epochs
        ):
            saved = {
                "planned_epochs": float(self.planned_epochs),
                "planned_energy_j": fc.energy_j,
                "planned_co2_g": fc.co2_g,
                "planned_cost": fc.cost,
                "saved_energy_j": max(0.0, fc.energy_j - t.energy_j),
                "saved_co2_g": max(0.0, fc.co2_g - t.co2_g),
                "saved_cost": max(0.0, fc.cost - t.cost),
            }
        return TrainingRecord(
            planned_epochs=self.planned_epochs,
            epochs=self.epochs_completed,
            epoch_offset=self.epoch_offset,
            steps=self.steps,
            samples=self.samples,
            tokens=self.tokens,
            total_energy_j=t.energy_j,
            total_co2_g=t.co2_g,
            total_cost=t.cost,
            total_duration_s=t.duration_s,
            carried=dict(self.carried),
            forecasts=tuple(self._forecasts),
            epoch_marks=tuple(self._marks),
            budget=self.budget.as_dict(),
            budget_warning=self.budget_warning,
            stop_kind=self.stop_kind,
            stop_reason=self.stop_reason,
            early_stopping=None
            if es is None
            else {
                "monitor": es.rule.monitor,
                "mode": es.rule.mode,
                "patience": es.rule.patience,
                "min_delta": es.rule.min_delta,
                "best": es.best,
                "best_epoch": es.best_epoch,
                "stopped_epoch": es.stopped_epoch,
            },
            saved=saved,
            step_table=StepTable(**{k: tuple(v) for k, v in self._table.items()}),
        )

    def close(self) -> None:
        """Stop the live display and leave the tracker (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._epoch_name is not None and self.tracker.running:
            self.end_epoch()
        planned = self.planned_epochs
        if self.stop_kind is not None and planned is not None and self.current_epoch >= planned:
            # reached in the last planned epoch: nothing was skipped, the plan ran in full
            self.tracker._note(f"{self.stop_reason} (in the last planned epoch)")
            self.stop_kind = self.stop_reason = None
        self.tracker._unsubscribe(self._on_reading)
        self._show("stop", self.figures())

    # -- internals ----------------------------------------------------------------------
    def _show(self, what: str, *args: Any) -> None:
        """Call the live view; a failing display (a printer that raises, no IPython) is
        replaced by nothing and logged, never raised into the training loop."""
        try:
            getattr(self._view, what)(*args)
        except Exception as exc:
            fallback: LiveView = (
                PlainView(self._printer) if what == "start" and self._printer is None else OffView()
            )
            logger.warning(
                "wattwise: live display %s: %s: %s",
                "falls back to plain lines" if isinstance(fallback, PlainView) else "turned off",
                type(exc).__name__,
                exc,
            )
            self.tracker._note(f"live display replaced after an error: {exc}")
            self._view = fallback

    def _on_reading(self, t_s: float, energy_j: float) -> None:
        if self._epoch_name is not None:
            self._curve.append((t_s, energy_j))

    def _run_totals(self) -> Totals:
        totals: Totals = self.tracker._latest_totals()
        return totals

    def _forecast(self) -> Forecast | None:
        if self.planned_epochs is None or len(self._marks) < self.forecast_after:
            return None
        fc = forecast(self._marks, self.planned_epochs - self.epoch_offset)
        if fc is None:
            return None
        c = self.carried
        if not c:
            return fc
        ce = c.get("energy_j", 0.0)
        return Forecast(
            after_epochs=fc.after_epochs + self.epoch_offset,
            planned_epochs=fc.planned_epochs + self.epoch_offset,
            energy_j=fc.energy_j + ce,
            energy_low_j=fc.energy_low_j + ce,
            energy_high_j=fc.energy_high_j + ce,
            co2_g=fc.co2_g + c.get("co2_g", 0.0),
            cost=fc.cost + c.get("cost", 0.0),
            duration_s=fc.duration_s + c.get("duration_s", 0.0),
            rule=fc.rule,
        )

    def _warmup_s(self, s: _Steps) -> float:
        """One-off time in the first epoch: before it began, and its steps' excess over
        the pace of their later half (compilation, allocator growth, autotuning)."""
        before = s.begin_t - self.tracker._run_clock_start()
        n = len(s.ends)
        if n < 8:
            return max(0.0, before)
        durations = [b - a for a, b in zip([s.begin_t, *s.ends[:-1]], s.ends, strict=True)]
        pace = statistics.median(durations[n // 2 :])
        excess = sum(durations) - n * pace
        return max(0.0, before) + max(0.0, excess)

    def _check_budget(self, fc: Forecast | None = None) -> None:
        if not self.budget.active:
            return
        t = self.totals()
        reason = self.budget.over(t.energy_j, t.co2_g, t.cost, currency=self.tracker._currency())
        if reason is not None:
            self.request_stop("budget", f"budget: {reason}")
            return
        if fc is not None and self.budget_warning is None:
            over = self.budget.over(fc.energy_j, fc.co2_g, fc.cost, currency="")
            if over is not None:
                msg = (
                    f"the forecast after epoch {fc.after_epochs} goes over budget: "
                    f"{over.replace('reached', 'would exceed')} by epoch "
                    f"{fc.planned_epochs}; training stops when the budget is reached"
                )
                self.budget_warning = msg
                self.tracker._note(msg)
                self._show("message", msg)
                try:
                    warnings.warn(msg, BudgetWarning, stacklevel=3)
                except BudgetWarning:  # warnings turned into errors: never break training
                    logger.warning("wattwise: %s", msg)

    def _early_stop_check(self, metrics: Mapping[str, float], epoch: int) -> None:
        es = self.early_stopping
        if es is None or es.rule.monitor not in metrics or es.stopped_epoch is not None:
            return
        if es.update(epoch, metrics[es.rule.monitor]):
            self.request_stop("early_stopping", es.reason())

    def _step_energies(self) -> list[float]:
        """Energy of each step of the open epoch, read off the energy curve."""
        s = self._steps
        if not s.ends:
            return []
        curve = sorted(self._curve)
        ts, js = [c[0] for c in curve], [c[1] for c in curve]
        if len(ts) < 2:
            return [0.0] * len(s.ends)

        def at(t: float) -> float:
            i = bisect.bisect_left(ts, t)
            if i <= 0:
                return js[0]
            if i >= len(ts):
                return js[-1]
            t0, t1 = ts[i - 1], ts[i]
            return js[i - 1] + (js[i] - js[i - 1]) * ((t - t0) / (t1 - t0) if t1 > t0 else 1.0)

        out = []
        prev = at(s.begin_t)
        for t in s.ends:
            cur = at(t)
            out.append(max(0.0, cur - prev))
            prev = cur
        return out

    def _add_steps(self, s: _Steps, energies: list[float]) -> None:
        start = self.tracker._run_clock_start()
        prev = s.begin_t
        epoch = self._epoch_index if self._epoch_index is not None else self.current_epoch
        tab = self._table
        for t, n, k, e in zip(s.ends, s.samples, s.tokens, energies, strict=True):
            tab["epoch"].append(epoch)
            tab["start_s"].append(prev - start)
            tab["duration_s"].append(t - prev)
            tab["samples"].append(n)
            tab["tokens"].append(k)
            tab["energy_j"].append(e)
            prev = t
        if len(tab["epoch"]) > MAX_STEP_ROWS:
            self._halve_table()

    def _halve_table(self) -> None:
        """Merge neighbouring steps pairwise (same epoch) to bound the record's size."""
        tab = self._table
        merged: dict[str, list[Any]] = {k: [] for k in tab}
        i, n = 0, len(tab["epoch"])
        while i < n:
            if i + 1 < n and tab["epoch"][i] == tab["epoch"][i + 1]:
                merged["epoch"].append(tab["epoch"][i])
                merged["start_s"].append(tab["start_s"][i])
                for k in ("duration_s", "samples", "tokens", "energy_j"):
                    merged[k].append(tab[k][i] + tab[k][i + 1])
                i += 2
            else:
                for k in tab:
                    merged[k].append(tab[k][i])
                i += 1
        self._table = merged
