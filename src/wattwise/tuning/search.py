"""Energy-aware hyperparameter search on Optuna: every trial a tracked run.

::

    def objective(trial):                       # a wattwise.tuning.Trial
        model = make_model(trial.params["width"])
        for epoch in trial.epochs(10):          # measured; pruned or cut by the budget here
            train_one_epoch(model, lr=trial.params["lr"], step=trial.step)
            trial.log(val_accuracy=evaluate(model))
        return evaluate(model)

    result = wattwise.tune(objective, {"lr": {"low": 1e-4, "high": 0.1, "log": True},
                                       "width": [16, 32, 64]},
                           strategy="halving", n_trials=30, metric="val_accuracy",
                           target=0.95, budget_kwh=0.5)
    print(result.best.params, result.total_energy_j, result.target_hit)

Trials run ask → objective → tell, each inside its own
:class:`~wattwise.tracking.Tracker` run that starts before Optuna's ``ask()`` (so the
sampler's work for the trial, a Gaussian process fit say, counts in its energy), named
``"<study> #<n>"`` and tagged ``study``, ``trial``, ``strategy`` and one tag per
parameter; the run's figures (energy, gCO2e, duration, method, run id) are stored on the
Optuna trial as ``wattwise.*`` user attributes, so the study's storage alone holds its
energy account and workers anywhere add up in it.

**Pruning.** At the end of each epoch of ``trial.epochs()`` the value logged under
``metric`` is reported to the pruner; when the pruner says so, the loop ends after that
epoch, the run is recorded ``stopped`` (``stop_kind="pruned"``) and the trial ``PRUNED``.
An objective that drives its own loop can call ``trial.report(value, step)`` and raise
``optuna.TrialPruned`` itself.

**Budgets.** ``budget_kwh``/``budget_gco2e`` bound the whole study's IT energy and
emissions. Each trial's run gets what is left as its own training budget, so a trial
that would overspend stops at the epoch that reaches it (recorded ``budget``: its energy
counts as wasted); after any trial, a spent budget stops the study and says so in
:attr:`TuneResult.stopped` and the study's ``wattwise.stopped`` attribute.

**Workers.** ``workers=N`` starts N processes (``spawn``) that share the study through
its storage (an Optuna journal file or a database URL; a temporary journal when none is
given), each running ``n_trials / N`` trials with the sampler seeded ``seed + i`` (the grid
sampler with one seed everywhere, which the study keeps). The
objective must then be importable, given as ``"package.module:function"``. Local workers
measure their trials by the process tree's share (``headline="process"``) unless told
otherwise, so trials that overlap are not counted twice, and start with
``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` at cores ÷ N (unless already set), so N workers'
thread pools do not fight over the cores.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import math
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wattwise.budget import Budget
from wattwise.exceptions import ConfigError, WattwiseError
from wattwise.sweeping import _err, _tag
from wattwise.tuning.accounting import TrialState, TrialSummary, TuneResult, concurrency_notes
from wattwise.tuning.space import Param, Space, load_space, parse_space
from wattwise.tuning.strategies import (
    check_strategy,
    make_pruner,
    make_sampler,
    optuna_module,
)

if TYPE_CHECKING:
    from wattwise.tracking import Tracker
    from wattwise.training import EpochSummary, TrainingSession

__all__ = [
    "Trial",
    "close_storage",
    "load_objective",
    "load_result",
    "open_storage",
    "tune",
]

logger = logging.getLogger("wattwise")

ATTR = "wattwise."
"""Prefix of the user attributes wattwise sets on Optuna trials and studies."""


class Trial:
    """What the objective receives: the parameters and the trial's running tracker.

    Attributes:
        number: the trial's number in the study.
        params: the values suggested from the space.
        run: the started :class:`~wattwise.tracking.Tracker` of the trial's run.
        optuna: the raw ``optuna.trial.Trial`` (``suggest_*`` beyond the space).
    """

    def __init__(
        self, optuna_trial: Any, run: Tracker, params: Mapping[str, Any], metric: str, multi: bool
    ) -> None:
        self.optuna = optuna_trial
        self.run = run
        self.params: Mapping[str, Any] = dict(params)
        self.number: int = int(optuna_trial.number)
        self._metric = metric
        self._multi = multi
        self._reported: dict[int, float] = {}
        self._pruner_name = ""

    def epochs(self, epochs: int) -> Iterator[Any]:
        """``for epoch in trial.epochs(n)``: the run's measured epochs; the loop ends
        early when the pruner prunes the trial or the study's budget runs out."""
        return self.run.epochs(epochs)

    def step(self, samples: int | None = None, tokens: int | None = None) -> None:
        """Count a training step (``run.step``)."""
        self.run.step(samples, tokens)

    def log(self, **metrics: float) -> None:
        """Attach metrics to the current epoch (``run.log``); the tuned ``metric`` is
        reported to the pruner when the epoch ends."""
        self.run.log(**metrics)

    def report(self, value: float, step: int) -> None:
        """Report an intermediate value to the pruner (once per step; later calls for a
        step already reported are ignored, as Optuna does)."""
        if step in self._reported or not math.isfinite(value):
            return
        self._reported[step] = float(value)
        if not self._multi:  # Optuna cannot prune multi-objective studies
            self.optuna.report(float(value), step)

    def should_prune(self) -> bool:
        """Whether the pruner would stop this trial now."""
        return not self._multi and bool(self.optuna.should_prune())

    def _on_epoch(self, session: TrainingSession, summary: EpochSummary) -> None:
        value = summary.metrics.get(self._metric)
        if value is None:
            return
        self.report(value, summary.epoch)
        if self.should_prune():
            session.request_stop(
                "pruned",
                f"pruned by {self._pruner_name} after epoch {summary.epoch + 1}: "
                f"{self._metric} {value:.4g}",
            )


@dataclass(frozen=True)
class _Plan:
    """Everything a worker needs to run its share of a study (picklable)."""

    objective: Any  # a callable, or "module:function" for worker processes
    space: Space
    strategy: str
    metric: str
    maximize: bool
    pareto: bool
    n_trials: int
    budget_kwh: float | None
    budget_gco2e: float | None
    seed: int | None
    storage: str | None
    study_name: str
    tracker_options: Mapping[str, Any] = field(default_factory=dict)
    store: Any = None
    pruner: Any = None
    sampler: Any = None
    timeout_s: float | None = None


def tune(
    objective: Callable[[Trial], float] | str,
    space: Mapping[str, Any] | Space | str | os.PathLike[str],
    *,
    strategy: str = "halving",
    n_trials: int = 20,
    metric: str = "metric",
    direction: str = "maximize",
    target: float | None = None,
    budget_kwh: float | None = None,
    budget_gco2e: float | None = None,
    seed: int | None = None,
    storage: str | os.PathLike[str] | None = None,
    study_name: str | None = None,
    workers: int = 1,
    timeout_s: float | None = None,
    tracker_options: Mapping[str, Any] | None = None,
    store: Any = None,
    pruner: Any = None,
    sampler: Any = None,
    on_trial: Callable[[TrialSummary], None] | None = None,
) -> TuneResult:
    """Search ``space`` for the best ``metric``, counting every trial's energy.

    Args:
        objective: ``objective(trial) -> float`` (see :class:`Trial`), or its import
            path ``"package.module:function"`` (needed for ``workers > 1``).
        space: the search space: a mapping, a :class:`~wattwise.tuning.space.Space`, or
            a ``.yaml``/``.json``/``.toml`` file (see :mod:`wattwise.tuning.space`).
        strategy: ``grid``, ``random``, ``bayes``, ``gp``, ``halving``, ``hyperband`` or
            ``pareto`` (:mod:`wattwise.tuning.strategies`).
        n_trials: trials to run in this call (all workers together); a grid stops
            early when every point has run.
        metric: the name the objective logs its metric under (``trial.log``) and the
            result calls it.
        direction: ``maximize`` (accuracy) or ``minimize`` (loss).
        target: the metric that is good enough: the result's energy-to-target.
        budget_kwh, budget_gco2e: the study's IT energy and emissions budgets.
        seed: the sampler's seed (reproducible suggestions).
        storage: an Optuna storage: a journal file path, or a database URL
            (``sqlite:///study.db``, ``postgresql://...``); in memory by default. A
            study already there under ``study_name`` is continued.
        study_name: default ``"<strategy>-<date>-<time>-<random>"``.
        workers: processes to run trials in (``objective`` must be an import path).
        timeout_s: stop starting trials after this many seconds (per worker).
        tracker_options: keyword arguments for every trial's
            :class:`~wattwise.tracking.Tracker` (``zone``, ``sensors``, ``interval_s``,
            ``headline``...); ``live`` defaults to ``off``.
        store: where trial runs are saved (as ``Tracker(store=...)``).
        pruner: ``none``/``median``/``halving``/``hyperband`` or an Optuna pruner,
            instead of the strategy's.
        sampler: an Optuna sampler instead of the strategy's.
        on_trial: called with each trial's summary as it ends (in-process only).

    Raises:
        ConfigError: a bad space, strategy, option or objective path.
        WattwiseError: a trial's tracker could not start (a store that cannot be
            opened...), which would fail every trial the same way.
    """
    optuna = optuna_module()
    check_strategy(strategy)
    sp = load_space(space) if isinstance(space, str | os.PathLike) else parse_space(space)
    if direction not in ("maximize", "minimize"):
        raise ConfigError(f"direction must be 'maximize' or 'minimize', not {direction!r}")
    for name, value in (("n_trials", n_trials), ("workers", workers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be an integer ≥ 1, not {value!r}")
    for name, limit in (
        ("budget_kwh", budget_kwh),
        ("budget_gco2e", budget_gco2e),
        ("timeout_s", timeout_s),
    ):
        if limit is not None and (
            isinstance(limit, bool)
            or not isinstance(limit, int | float)
            or not math.isfinite(limit)
            or limit <= 0
        ):
            raise ConfigError(f"{name} must be a number > 0, not {limit!r}")
    if target is not None and (
        isinstance(target, bool) or not isinstance(target, int | float) or not math.isfinite(target)
    ):
        raise ConfigError(f"target must be a finite number, not {target!r}")
    if not isinstance(metric, str) or not metric:
        raise ConfigError("metric must be a non-empty name")
    if isinstance(objective, str):
        load_objective(objective)  # a typo fails here, not in every worker
    elif not callable(objective):
        raise ConfigError(f"objective must be a callable or 'module:function', not {objective!r}")
    if workers > 1 and not isinstance(objective, str):
        raise ConfigError("workers > 1 need the objective as an import path 'module:function'")
    options = dict(tracker_options or {})
    if store is not None and "store" in options:
        raise ConfigError("give the store once: as store= or in tracker_options, not both")
    store = options.pop("store", store)
    options.setdefault("live", "off")
    notes: list[str] = []
    if workers > 1 and "headline" not in options:
        options["headline"] = "process"
        notes.append(
            f"{workers} local workers: each trial counts its process tree's attributed "
            "energy (headline=process), so trials that overlap are not counted twice"
        )
    make_pruner(strategy, pruner)  # a bad pruner name fails before anything runs
    name = study_name or _default_name(strategy)
    plan = _Plan(
        objective=objective,
        space=sp,
        strategy=strategy,
        metric=metric,
        maximize=direction == "maximize",
        pareto=strategy == "pareto",
        n_trials=n_trials,
        budget_kwh=float(budget_kwh) if budget_kwh is not None else None,
        budget_gco2e=float(budget_gco2e) if budget_gco2e is not None else None,
        seed=seed,
        storage=os.fspath(storage) if storage is not None else None,
        study_name=name,
        tracker_options=options,
        store=store,
        pruner=pruner,
        sampler=sampler,
        timeout_s=timeout_s,
    )
    temp_dir: tempfile.TemporaryDirectory[str] | None = None
    if workers > 1:
        _check_picklable(plan)
        if plan.storage is None:  # the workers need a storage they can all open
            temp_dir = tempfile.TemporaryDirectory(prefix="wattwise-tune-")
            path = os.path.join(temp_dir.name, "study.journal")
            plan = dataclasses.replace(plan, storage=path)
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our lines say what happened
    storage_obj = None
    try:
        storage_obj = open_storage(plan.storage)
        study, plan = _create_study(plan, storage_obj, target)
        if workers == 1:
            _run_plan(plan, storage_obj, on_trial)
        else:
            notes.extend(_run_workers(plan, workers))
        result = load_result(
            study.study_name,
            storage_obj,
            workers=workers,
            notes=notes,
            storage_label="memory" if temp_dir is not None else _label(plan.storage),
        )
        return _with_pruning_note(result, plan)
    finally:
        optuna.logging.set_verbosity(previous)
        close_storage(storage_obj)
        if temp_dir is not None:
            temp_dir.cleanup()


# -- the study -----------------------------------------------------------------------------
def open_storage(storage: str | os.PathLike[str] | None) -> Any:
    """An Optuna storage: None → in memory; ``scheme://...`` → a database (``postgresql://``
    uses psycopg 3); anything else → a journal file (made with its folder when missing).

    Raises ConfigError when it cannot be opened.
    """
    optuna = optuna_module()
    if storage is None:
        return optuna.storages.InMemoryStorage()
    target = os.fspath(storage)
    try:
        if "://" in target:
            url = target
            if url.startswith(("postgresql://", "postgres://")):
                url = "postgresql+psycopg://" + url.split("://", 1)[1]
            return optuna.storages.RDBStorage(url)
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        path = Path(target).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = JournalFileOpenLock(str(path))
        return optuna.storages.JournalStorage(JournalFileBackend(str(path), lock_obj=lock))
    except Exception as exc:
        raise ConfigError(
            f"cannot open the study storage {_label(target)}: {_short(exc)}"
        ) from None


def close_storage(storage: Any) -> None:
    """Close a database storage's connections (journal and memory storages hold none)."""
    engine = getattr(storage, "engine", None)
    if engine is not None:
        engine.dispose()


def _create_study(plan: _Plan, storage: Any, target: float | None) -> tuple[Any, _Plan]:
    """Create or continue the study; the plan with the seed it must use."""
    optuna = optuna_module()
    directions = ["maximize" if plan.maximize else "minimize"]
    if plan.pareto:
        directions.append("minimize")  # energy
    study = optuna.create_study(
        storage=storage,
        study_name=plan.study_name,
        directions=directions,
        load_if_exists=True,
    )
    attrs = study.user_attrs
    mine: dict[str, Any] = {
        "strategy": plan.strategy,
        "metric": plan.metric,
        "direction": "maximize" if plan.maximize else "minimize",
        "pareto": plan.pareto,
    }
    for key, value in mine.items():
        old = attrs.get(ATTR + key)
        if old is not None and old != value:
            raise ConfigError(
                f"study {plan.study_name!r} exists with {key}={old!r}, not {value!r}: "
                "choose another study name"
            )
    space = json.loads(json.dumps(plan.space.to_dict()))
    old_space = attrs.get(ATTR + "space")
    if old_space is not None and old_space != space and study.get_trials(deepcopy=False):
        raise ConfigError(
            f"study {plan.study_name!r} was searched over another space: "
            "choose another study name to search this one"
        )
    if plan.strategy == "grid" and plan.sampler is None:
        # every process must shuffle the grid alike: a grid study keeps one seed
        old_seed = attrs.get(ATTR + "seed")
        if old_seed is not None and plan.seed is not None and old_seed != plan.seed:
            raise ConfigError(
                f"grid study {plan.study_name!r} was started with seed {old_seed}: "
                "continue it with that seed (or none)"
            )
        seed = plan.seed if plan.seed is not None else old_seed
        if seed is None:
            seed = int.from_bytes(os.urandom(4), "big")
        plan = dataclasses.replace(plan, seed=seed)
    study.set_user_attr(ATTR + "stopped", None)  # why an earlier call stopped is not news
    # this call's settings; a target not given keeps the one the study had
    for key, setting in {
        **mine,
        "target": target,
        "budget_kwh": plan.budget_kwh,
        "budget_gco2e": plan.budget_gco2e,
        "seed": plan.seed,
        "space": space,
    }.items():
        if setting is not None or key != "target" or ATTR + key not in attrs:
            study.set_user_attr(ATTR + key, setting)
    return study, plan


def _study_for(plan: _Plan, storage: Any, seed_offset: int = 0) -> Any:
    """The study with this worker's sampler and pruner (Optuna keeps those per process)."""
    optuna = optuna_module()
    seed = None if plan.seed is None else plan.seed + seed_offset
    if plan.strategy == "grid":
        seed = plan.seed  # every worker shuffles the grid alike (Optuna requires it)
    sampler = plan.sampler or make_sampler(
        plan.strategy, plan.space, seed=seed, n_trials=plan.n_trials
    )
    return optuna.load_study(
        study_name=plan.study_name,
        storage=storage,
        sampler=sampler,
        pruner=make_pruner(plan.strategy, plan.pruner),
    )


def _run_plan(
    plan: _Plan,
    storage: Any,
    on_trial: Callable[[TrialSummary], None] | None = None,
    *,
    seed_offset: int = 0,
    n_trials: int | None = None,
) -> None:
    """Run this process's trials of the plan, one ask-run-tell at a time."""
    study = _study_for(plan, storage, seed_offset)
    objective = (
        load_objective(plan.objective) if isinstance(plan.objective, str) else plan.objective
    )
    budget = Budget(plan.budget_kwh, plan.budget_gco2e)
    runner = _TrialRunner(plan, objective, study, budget)
    started = time.monotonic()
    try:
        for _ in range(n_trials if n_trials is not None else plan.n_trials):
            if plan.timeout_s is not None and time.monotonic() - started >= plan.timeout_s:
                break
            if _stop_if_spent(study, budget) or _grid_done(study, plan):
                break
            frozen = runner.run_one()
            if on_trial is not None:
                on_trial(summarise_trial(frozen))
            if runner.exhausted:
                break
    finally:
        if runner.store is not None and not _given_store(plan.store):
            runner.store.close()


def _grid_done(study: Any, plan: _Plan) -> bool:
    """Every grid point has a trial (another worker may have taken the last ones)."""
    if plan.strategy != "grid" or plan.sampler is not None:
        return False
    return len(study.get_trials(deepcopy=False)) >= plan.space.grid_size


class _TrialRunner:
    """One trial: a tracked run that covers Optuna's sampling (``ask``), the suggestions,
    the user's objective, and the ``tell``."""

    def __init__(
        self, plan: _Plan, objective: Callable[[Trial], Any], study: Any, budget: Budget
    ) -> None:
        self.plan, self.objective, self.study, self.budget = plan, objective, study, budget
        self.pruner_name = type(study.pruner).__name__
        self.store: Any = None  # opened by the first trial's tracker, shared by the rest
        self.exhausted = False  # the grid sampler said every point has run

    def run_one(self) -> Any:
        """Run one trial; its frozen Optuna trial."""
        optuna = optuna_module()
        from optuna.trial import TrialState as S

        from wattwise.tracking import Tracker

        plan = self.plan
        options = self._options()
        tags = {
            **{str(k): str(v) for k, v in dict(options.pop("tags", None) or {}).items()},
            "study": plan.study_name,
            "strategy": plan.strategy,
        }
        tracker = Tracker(
            f"{plan.study_name} #?",
            tags=tags,
            store=self.store if self.store is not None else plan.store,
            **options,
        )
        tracker.start()  # outside the try: a store or sensor that cannot start ends the study
        if self.store is None and tracker.store is not None:
            self.store = tracker.store
        ot: Any = None
        try:
            ot = self.study.ask()  # the sampler's work (a GP fit...) is inside the run
            tracker.name = f"{plan.study_name} #{ot.number}"
            tracker.tags["trial"] = str(ot.number)
            try:
                params = {p.name: _suggest(ot, p) for p in plan.space.params}
            except ValueError as exc:  # a continued study whose space changed
                raise ConfigError(f"study {plan.study_name!r}: {_short(exc)}") from None
        except BaseException as exc:
            tracker.stop("failed", error=f"failed before the objective ran: {_err(exc)}")
            if ot is not None:
                self._tell(ot, S.FAIL, None)
            raise
        for k, v in params.items():
            tracker.tags.setdefault(k, _tag(v))  # never over study/trial/strategy
        trial = Trial(ot, tracker, params, plan.metric, plan.pareto)
        trial._pruner_name = self.pruner_name
        session = tracker.training()
        session.epoch_listeners.append(lambda s: trial._on_epoch(session, s))
        state: TrialState = "complete"
        note: str | None = None
        value: Any = None
        try:
            value = self.objective(trial)
        except optuna.TrialPruned as exc:
            state, note = "pruned", str(exc) or f"pruned by {self.pruner_name}"
            session.request_stop("pruned", note)  # the objective pruned itself
        except (KeyboardInterrupt, SystemExit) as exc:
            what = (
                "interrupted by KeyboardInterrupt"
                if isinstance(exc, KeyboardInterrupt)
                else (f"SystemExit({exc.code!r}) in the objective")
            )
            self._finish(tracker, "interrupted", what)
            self._record(ot, tracker, "failed", what, None)
            self._tell(ot, S.FAIL, None)
            raise
        except Exception as exc:
            state, note = "failed", _err(exc)
            logger.debug("wattwise: trial %d failed", ot.number, exc_info=True)
        session.close()  # settles stop_kind: a stop asked in the last planned epoch skipped nothing
        kind, reason = session.stop_kind, session.stop_reason
        metric: float | None = None
        if state == "complete":
            metric, problem = _metric_of(value)
            if problem is not None:
                state, note = "failed", problem
        if kind == "pruned" and state in ("complete", "failed"):
            state, note = "pruned", reason  # a loop the pruner ended: not a failure
        elif kind == "budget" and state in ("complete", "pruned"):
            whose = "the study's" if self.budget.active else "the run's"
            state, note = "budget", f"cut short by {whose} budget ({reason})"
        partial = metric if state == "budget" else None
        tracker.tags["trial_state"] = state
        if metric is not None and state == "complete":
            tracker.tags[plan.metric] = f"{metric:.6g}"
        # "stopped" only when the run's own record says why; a trial pruned in its last
        # planned epoch skipped nothing, so its run completed (the trial is still PRUNED)
        status = {"complete": "completed", "failed": "failed"}.get(
            state, "stopped" if kind in ("pruned", "budget") else "completed"
        )
        self._finish(tracker, status, None if state != "failed" else f"failed: {note}")
        self._record(ot, tracker, state, note, partial)
        if state == "complete":
            assert metric is not None
            values = [metric, tracker.result.energy_kwh] if plan.pareto else [metric]
            return self._tell(ot, S.COMPLETE, values)
        return self._tell(ot, S.FAIL if state == "failed" else S.PRUNED, None)

    def _options(self) -> dict[str, Any]:
        """The tracker options, the run's budget capped at what is left of the study's."""
        options = dict(self.plan.tracker_options)
        left = self._left()
        if left is None:
            return options
        cfg = options.get("config")
        for key, left_now in zip(("budget_kwh", "budget_gco2e"), left, strict=True):
            if left_now is None:
                continue
            given = options.get(key, getattr(cfg, key, None))
            options[key] = max(0.0, left_now if given is None else min(float(given), left_now))
        return options

    def _left(self) -> tuple[float | None, float | None] | None:
        """What is left of the study's budgets (kWh, gCO2e), None without budgets."""
        b = self.budget
        if not b.active:
            return None
        energy_j, co2_g = spent(self.study)
        kwh = None if b.kwh is None else b.kwh - energy_j / 3.6e6
        g = None if b.gco2e is None else b.gco2e - co2_g
        return kwh, g

    def _finish(self, tracker: Tracker, status: Any, error: str | None) -> None:
        """Stop the run; a stop that raises after saving (strict mode) still leaves the
        record for the trial's attributes."""
        try:
            tracker.stop(status, error=error)
        except Exception as exc:
            if tracker._result is None:
                raise
            logger.warning("wattwise: trial run %s: %s", tracker.result.id, exc)

    def _tell(self, ot: Any, state: Any, values: list[float] | None) -> Any:
        try:
            return self.study.tell(ot, values, state=state)
        except RuntimeError as exc:
            # the grid sampler calls study.stop() after the last point, which Optuna
            # allows only inside optimize(): the trial is told, the grid is done
            if "Study.stop" not in str(exc):
                raise
            self.exhausted = True
            return next(t for t in self.study.get_trials(deepcopy=False) if t.number == ot.number)

    def _record(
        self, ot: Any, tracker: Tracker, state: str, note: str | None, partial: float | None
    ) -> None:
        r = tracker.result
        attrs: dict[str, Any] = {
            "run_id": r.id,
            "energy_j": r.energy_j,
            "co2_g": r.co2_g,
            "duration_s": r.duration_s,
            "started_at": r.started_at.isoformat(),
            "ended_at": (r.ended_at or datetime.now(timezone.utc)).isoformat(),
            "method": r.method,
            "headline": r.headline,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "state": state,
        }
        if note is not None:
            attrs["note"] = note
        if partial is not None:
            attrs["partial_value"] = partial
        for key, value in attrs.items():
            ot.set_user_attr(ATTR + key, value)


def _metric_of(value: Any) -> tuple[float | None, str | None]:
    """The objective's return value as a finite metric, or why it is not one."""
    if isinstance(value, str | bool | bytes):  # float("0.9") and float(True) are not metrics
        return None, f"the objective returned {value!r}, not a number"
    try:
        metric = float(value)
    except (TypeError, ValueError):
        return None, f"the objective returned {value!r}, not a number"
    if not math.isfinite(metric):
        return None, f"the objective returned {metric!r}"
    return metric, None


def _check_picklable(plan: _Plan) -> None:
    """Worker processes receive the plan pickled: say which part cannot travel."""
    import pickle

    for what, value in (
        ("tracker_options", plan.tracker_options),
        ("store", plan.store),
        ("pruner", plan.pruner),
        ("sampler", plan.sampler),
    ):
        try:
            pickle.dumps(value)
        except Exception as exc:
            raise ConfigError(
                f"workers > 1: {what} cannot be sent to a worker process ({_short(exc)}); "
                "give names, paths and URLs instead of open objects"
            ) from None
    if plan.store is not None and _given_store(plan.store):
        raise ConfigError("workers > 1: give the run store as a path or URL, not an open store")


def _with_pruning_note(result: TuneResult, plan: _Plan) -> TuneResult:
    """Say so when a pruner was set but never heard a value (a metric-name typo)."""
    pruning = plan.pruner not in (None, "none") or plan.strategy in ("halving", "hyperband")
    if not pruning or plan.pareto or result.count("complete") + result.count("pruned") == 0:
        return result
    if any(t.intermediate for t in result.trials):
        return result
    note = (
        f"the pruner never ran: no trial logged {plan.metric!r} inside trial.epochs() "
        "(or called trial.report()); check the metric's name"
    )
    return dataclasses.replace(result, notes=(*result.notes, note))


def _stop_if_spent(study: Any, budget: Budget) -> bool:
    """Stop the study when its budget is spent, recording why (first reason kept)."""
    if not budget.active:
        return False
    energy_j, co2_g = spent(study)
    reason = budget.over(energy_j, co2_g, 0.0)
    if reason is None:
        return False
    if study.user_attrs.get(ATTR + "stopped") is None:
        study.set_user_attr(ATTR + "stopped", f"budget: {reason}")
    return True


def spent(study: Any) -> tuple[float, float]:
    """Energy (J) and emissions (gCO2e) of the study's ended trials, from their attributes."""
    energy = co2 = 0.0
    for t in study.get_trials(deepcopy=False):
        energy += float(t.user_attrs.get(ATTR + "energy_j", 0.0))
        co2 += float(t.user_attrs.get(ATTR + "co2_g", 0.0))
    return energy, co2


# -- workers -------------------------------------------------------------------------------
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _run_workers(plan: _Plan, workers: int) -> list[str]:
    """Start ``workers`` spawned processes on the plan; wait; say what went wrong."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    share = [
        plan.n_trials // workers + (1 if i < plan.n_trials % workers else 0) for i in range(workers)
    ]
    procs = [
        ctx.Process(target=_worker_main, args=(plan, i, share[i]), name=f"wattwise-tune-{i}")
        for i in range(workers)
        if share[i] > 0
    ]
    # N workers × one thread pool per core each would oversubscribe the cores: give each
    # child its share through the environment it inherits (unless the user set it)
    threads = {
        k: str(max(1, _usable_cpus() // len(procs))) for k in _THREAD_VARS if k not in os.environ
    }
    os.environ.update(threads)
    try:
        for p in procs:
            p.start()
    finally:
        for k in threads:
            os.environ.pop(k, None)
    notes = []
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        # the workers got the same Ctrl-C: give them time to save their running trial
        deadline = time.monotonic() + _WORKER_GRACE_S
        for p in procs:
            p.join(max(0.0, deadline - time.monotonic()))
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join()
        raise
    failed = [(i, p.exitcode) for i, p in enumerate(procs) if p.exitcode != 0]
    if failed and len(failed) == len(procs):
        codes = ", ".join(str(code) for _, code in failed)
        raise WattwiseError(
            f"every worker failed (exit codes {codes}); their errors are printed above"
        )
    for i, code in failed:
        notes.append(f"worker {i} failed (exit code {code}): its last trial may be lost")
    return notes


def _usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows
        return os.cpu_count() or 1


_WORKER_GRACE_S = 10.0
"""How long Ctrl-C waits for workers to save their running trials before ending them."""


def _worker_main(plan: _Plan, index: int, n_trials: int) -> None:
    """A worker process: run ``n_trials`` of the shared study. An error is one line on
    standard error and the exit code (2: a wattwise error, 130: Ctrl-C, 1: anything else)."""
    import sys

    optuna = optuna_module()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        storage = open_storage(plan.storage)
        try:
            _run_plan(plan, storage, seed_offset=index, n_trials=n_trials)
        finally:
            close_storage(storage)
    except KeyboardInterrupt:
        sys.exit(130)
    except WattwiseError as exc:
        print(f"wattwise: worker {index}: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except Exception as exc:
        print(f"wattwise: worker {index}: error: {_err(exc)}", file=sys.stderr)
        sys.exit(1)


# -- results -------------------------------------------------------------------------------
def load_result(
    study_name: str,
    storage: Any,
    *,
    workers: int = 1,
    notes: list[str] | tuple[str, ...] = (),
    storage_label: str | None = None,
) -> TuneResult:
    """The :class:`TuneResult` of a study in ``storage`` (an Optuna storage, or what
    :func:`open_storage` takes), from its trials' ``wattwise.*`` attributes.

    Raises ConfigError when the study does not exist there.
    """
    optuna = optuna_module()
    label = storage_label
    opened = None
    if storage is None or isinstance(storage, str | os.PathLike):
        target = os.fspath(storage) if storage is not None else None
        label = label or _label(target)
        if target is not None and "://" not in target and not Path(target).expanduser().exists():
            raise ConfigError(f"no study storage at {target}: it does not exist")
        storage = opened = open_storage(target)
    label = label or type(storage).__name__
    try:
        return _result_of(optuna, study_name, storage, label, workers, notes)
    finally:
        close_storage(opened)


def _result_of(
    optuna: Any,
    study_name: str,
    storage: Any,
    label: str,
    workers: int,
    notes: list[str] | tuple[str, ...],
) -> TuneResult:
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        raise ConfigError(f"no study {study_name!r} in {label}") from None
    attrs = study.user_attrs
    trials = tuple(summarise_trial(t) for t in study.get_trials(deepcopy=False))
    return TuneResult(
        study_name=study.study_name,
        strategy=str(attrs.get(ATTR + "strategy", "?")),
        metric=str(attrs.get(ATTR + "metric", "metric")),
        maximize=attrs.get(ATTR + "direction", "maximize") == "maximize",
        trials=trials,
        target=attrs.get(ATTR + "target"),
        budget_kwh=attrs.get(ATTR + "budget_kwh"),
        budget_gco2e=attrs.get(ATTR + "budget_gco2e"),
        stopped=attrs.get(ATTR + "stopped"),
        storage=label,
        seed=attrs.get(ATTR + "seed"),
        workers=workers,
        pareto=bool(attrs.get(ATTR + "pareto", False)),
        notes=(*notes, *concurrency_notes(trials)),
    )


def summarise_trial(t: Any) -> TrialSummary:
    """A frozen Optuna trial as a :class:`TrialSummary`."""
    from optuna.trial import TrialState as S

    a = t.user_attrs
    mine = a.get(ATTR + "state")
    state: TrialState
    if t.state == S.COMPLETE:
        state = "complete"
    elif t.state == S.PRUNED:
        state = "budget" if mine == "budget" else "pruned"
    elif t.state == S.FAIL:
        state = "failed"
    else:
        state = "running"
    values = t.values if t.state == S.COMPLETE else None
    return TrialSummary(
        number=t.number,
        state=state,
        params=dict(t.params),
        value=float(values[0]) if values else None,
        energy_j=float(a.get(ATTR + "energy_j", 0.0)),
        co2_g=float(a.get(ATTR + "co2_g", 0.0)),
        duration_s=float(a.get(ATTR + "duration_s", 0.0)),
        started_at=_parse_dt(a.get(ATTR + "started_at")) or _aware(t.datetime_start),
        ended_at=_parse_dt(a.get(ATTR + "ended_at")) or _aware(t.datetime_complete),
        run_id=a.get(ATTR + "run_id"),
        method=str(a.get(ATTR + "method", "none")),
        headline=str(a.get(ATTR + "headline", "")),  # no run, no headline
        host=str(a.get(ATTR + "host", "")),
        intermediate=dict(t.intermediate_values),
        energy_objective_kwh=float(values[1]) if values and len(values) > 1 else None,
        partial_value=a.get(ATTR + "partial_value"),
        note=a.get(ATTR + "note"),
    )


# -- helpers -------------------------------------------------------------------------------
def load_objective(spec: str) -> Callable[[Trial], Any]:
    """Import ``"package.module:function"``. Raises ConfigError, saying what failed."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"the objective must be 'module:function', not {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {module_name!r} for the objective: {exc}") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{module_name!r} has no {attr!r} (the objective {spec!r})")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"the objective {spec!r} is not callable")
    return obj  # type: ignore[no-any-return]


def _suggest(ot: Any, p: Param) -> Any:
    if p.kind == "categorical":
        return ot.suggest_categorical(p.name, list(p.choices))
    assert p.low is not None and p.high is not None
    if p.kind == "int":
        return ot.suggest_int(p.name, int(p.low), int(p.high), step=int(p.step or 1), log=p.log)
    return ot.suggest_float(p.name, float(p.low), float(p.high), step=p.step, log=p.log)


def _default_name(strategy: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"{strategy}-{stamp}-{uuid.uuid4().hex[:4]}"


def _given_store(store: Any) -> bool:
    from wattwise.store import RunStore

    return isinstance(store, RunStore)


def _label(storage: str | None) -> str:
    if storage is None:
        return "memory"
    if "://" in storage:
        try:
            from sqlalchemy.engine import make_url

            return make_url(storage).render_as_string(hide_password=True)
        except Exception:
            return storage.split("://", 1)[0] + "://…"
    return storage


def _parse_dt(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _aware(dt: datetime | None) -> datetime | None:
    """Optuna's own timestamps are naive local times."""
    return dt.astimezone(timezone.utc) if dt is not None else None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
