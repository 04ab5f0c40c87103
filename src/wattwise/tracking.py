"""The Tracker: measure a run, its phases and epochs, and save it.

Three ways in, one configuration (:class:`~wattwise.config.TrackerConfig`)::

    with wattwise.track("train") as run:          # context manager
        with run.phase("epoch"):
            ...
    print(run.result.energy_kwh, run.result.co2_g)

    @wattwise.track("eval")                        # decorator: a fresh run per call
    def evaluate(): ...

    tracker = wattwise.Tracker("job").start()      # explicit; stop() is idempotent
    record = tracker.stop()

A running record is checkpointed to the store every ``checkpoint_s`` seconds, so a killed
process leaves a partial record that reads back as ``interrupted``. An exception in user
code records ``failed`` (``interrupted`` for Ctrl-C) and is re-raised.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import platform
import socket
import sys
import tempfile
import threading
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

import psutil

from wattwise._version import __version__
from wattwise.budget import Budget
from wattwise.carbon import (
    DEFAULT_CURRENCY,
    DEFAULT_PRICE_PER_KWH,
    FallbackIntensity,
    FixedIntensity,
    HourlyCsvIntensity,
    IntensityProvider,
    StaticIntensity,
    live_provider_from_env,
    resolve_pue,
    resolve_zone,
)
from wattwise.config import TrackerConfig, resolve_config
from wattwise.early_stopping import EarlyStopping
from wattwise.exceptions import SensorDegradedWarning, StoreError, TrackerStateError
from wattwise.host import HostCpu, read_cpu_info
from wattwise.integrate import ZERO, EnergyTriple
from wattwise.process import ProcessTree
from wattwise.provenance import framework_versions, git_info
from wattwise.record import (
    CarbonInfo,
    DomainRecord,
    Footprint,
    HostInfo,
    PhaseRecord,
    RunRecord,
)
from wattwise.sampler import Sampler, Snapshot
from wattwise.sensors import Domain, Sensor, detect_sensors, fallback_for
from wattwise.store import MemoryStore, RunStore, get_store
from wattwise.units import J_PER_KWH

if TYPE_CHECKING:
    from wattwise.training import TrainingSession

__all__ = ["PhaseHandle", "Tracker", "local_rank", "track"]

logger = logging.getLogger("wattwise")

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class PhaseHandle:
    """An open phase. ``log(**metrics)`` attaches numbers (loss, accuracy, samples)."""

    name: str
    kind: str
    index: int | None
    start: Snapshot
    started_at: datetime
    metrics: dict[str, float] = field(default_factory=dict)
    record: PhaseRecord | None = None

    def log(self, **metrics: float) -> None:
        """Attach metrics to this phase (last value wins)."""
        self.metrics.update({k: float(v) for k, v in metrics.items()})


@dataclass(frozen=True)
class _Carbon:
    info: CarbonInfo
    provider: IntensityProvider


class Tracker:
    """Measures one run at a time. Restartable: ``start()`` after ``stop()`` begins a new run.

    Args:
        name: the run's name (default ``"run"``).
        config: a configuration to start from; keyword ``options`` override it.
        tags: free-form labels saved with the run.
        store: a store URL/path, an open :class:`~wattwise.store.RunStore`, or ``False``
            to keep the run in memory only. Default: ``config.store`` or the per-user file.
        sensors: sensor names to use (``["rapl", "nvml"]``), or sensor objects to read
            instead of the detected ones (tests, custom hardware); those stay open for
            the next run, closing them is the caller's.
        pid: root of the process tree to attribute energy to (default: this process).
        command: the command line, when tracking one.
        **options: any :class:`~wattwise.config.TrackerConfig` field.
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        config: TrackerConfig | None = None,
        tags: Mapping[str, str] | None = None,
        store: str | os.PathLike[str] | RunStore | Literal[False] | None = None,
        sensors: Sequence[Sensor] | Sequence[str] | None = None,
        pid: int | None = None,
        command: str | None = None,
        **options: Any,
    ) -> None:
        self.name = name or "run"
        if isinstance(sensors, str):  # one name, or "rapl,nvml" as in the environment
            options["sensors"] = sensors
            sensors = None
        elif sensors is not None and all(isinstance(s, str) for s in sensors):
            options["sensors"] = tuple(sensors)  # names: a config choice
            sensors = None
        self.config = (
            resolve_config(base=config, **options) if (options or config is None) else config
        )
        self.tags = {str(k): str(v) for k, v in (tags or {}).items()}
        self._store_arg = store
        self._sensors_arg: Sequence[Sensor] | None = sensors  # type: ignore[assignment]
        self.pid = pid
        self.command = command
        self._lock = threading.Lock()
        self._sampler: Sampler | None = None
        self._store: RunStore | None = None
        self._carbon: _Carbon | None = None
        self._host: HostInfo | None = None
        self._open: dict[str, PhaseHandle] = {}
        self._phases: list[PhaseRecord] = []
        self._profiles: list[dict[str, Any]] = []
        self._events: list[str] = []
        self._result: RunRecord | None = None
        self._last_checkpoint = 0.0
        self.id: str | None = None
        self.started_at: datetime | None = None
        self._start_snapshot: Snapshot | None = None
        self._latest: Snapshot | None = None
        self._listeners: list[Callable[[float, float], None]] = []
        self._session: TrainingSession | None = None
        self.exit_code: int | None = None
        self._code: dict[str, str] = {}

    # -- lifecycle ----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether a run is being measured now."""
        return self._sampler is not None

    @property
    def result(self) -> RunRecord:
        """The record of the last finished run. Raises TrackerStateError before one ends."""
        if self._result is None:
            raise TrackerStateError("no finished run yet: call stop() or leave the `with` block")
        return self._result

    @property
    def store(self) -> RunStore | None:
        """The store runs are saved to (None before the first start)."""
        return self._store

    def start(self) -> Tracker:
        """Start measuring (idempotent while running). Returns ``self``."""
        if self._sampler is not None:
            return self
        cfg = self.config
        self._open = {}
        self._phases = []
        self._profiles = []
        self._events = []
        self._result = None
        self._session = None
        self._latest = None
        self.exit_code = None
        carbon = self._resolve_carbon(cfg)
        if self._store is None:
            if self._store_arg is False:
                self._store = MemoryStore()
            else:
                target = self._store_arg if self._store_arg is not None else cfg.store
                self._store = get_store(target)
        rank = local_rank()
        if self._sensors_arg is not None:
            sensors: Sequence[Sensor] = self._sensors_arg
        elif rank:
            # node-level counters are read once per node, by local rank 0's tracker
            sensors = ()
            self._events.append(
                f"local rank {rank}: this node's energy is measured by the tracker of local "
                "rank 0, so this record holds none (nothing is counted twice)"
            )
        else:
            detected = detect_sensors(
                sysfs_root=cfg.sysfs_root,
                proc_root=cfg.proc_root,
                only=cfg.sensors,
                strict=cfg.strict,
            )
            sensors = detected.sensors
            for note in detected.notes:
                logger.info("wattwise: %s", note)
        host_cpu = HostCpu(proc_root=cfg.proc_root)
        self._carbon = carbon
        self._host = _host_info(cfg.proc_root, host_cpu, sensors)
        self._code = git_info()  # reads .git files only: no subprocess, no network
        self.id = uuid.uuid4().hex
        self.started_at = datetime.now(timezone.utc)
        self._tree = ProcessTree(self.pid)
        provider = carbon.provider

        @functools.lru_cache(maxsize=64)
        def intensity_of_hour(hour: int) -> float:
            at = datetime.fromtimestamp(hour * 3600, timezone.utc)
            return provider.intensity_at(at).g_per_kwh

        static = carbon.info.intensity_kind in ("static", "user")

        def intensity(wall_s: float) -> float:
            if static:
                return carbon.info.intensity_g_per_kwh
            return intensity_of_hour(int(wall_s // 3600))

        self._sampler = Sampler(
            sensors,
            interval_s=cfg.interval_s,
            process_tree=self._tree,
            host=host_cpu,
            intensity=intensity,
            start_intensity_g_per_kwh=carbon.info.intensity_g_per_kwh,
            fallback=None
            if cfg.strict
            else functools.partial(fallback_for, proc_root=cfg.proc_root),
            on_tick=self._on_tick,
        )
        self._start_snapshot = None
        self._start_snapshot = self._sampler.start()
        self._last_checkpoint = self._start_snapshot.wall_s
        try:
            self._store.save_run(self._build("running", self._start_snapshot))
        except StoreError:
            self._sampler.close(keep=self._sensors_arg or ())
            self._sampler = None
            raise
        return self

    def stop(
        self,
        status: Literal["completed", "failed", "interrupted", "stopped"] = "completed",
        *,
        error: str | None = None,
    ) -> RunRecord:
        """Stop measuring, save and return the record. Idempotent after the first call."""
        sampler = self._sampler
        if sampler is None:
            if self._result is not None:
                return self._result
            raise TrackerStateError("stop() called before start()")
        session = self._session
        if session is not None:
            try:
                session.close()
            except Exception as exc:  # whatever happens, the sampler stops and we save
                logger.warning("wattwise: closing the training session failed: %s", exc)
                self._events.append(f"closing the training session failed: {exc}")
            if status == "completed" and session.stop_kind in (
                "budget",
                "early_stopping",
                "pruned",
            ):
                status = "stopped"  # wattwise stopped it before its plan
        for name in list(self._open):
            self.end_phase(name)
        final = sampler.stop()
        sampler.close(keep=self._sensors_arg or ())  # sensors given to us stay open for reuse
        self._latest = final  # close() read once more: the training totals use this reading
        self._sampler = None
        if error:
            self._events.append(error)
        # what strict mode refuses: a sensor lost, or readings that failed
        degraded = [
            e.message for e in sampler.events if e.kind in ("sensor-degraded", "sampler-error")
        ]
        record = self._build(status, final, sampler)
        self._result = record
        assert self._store is not None
        try:
            self._store.save_run(record, sampler.series.all_points(), sampler.series.columns)
        except StoreError as exc:
            path = _rescue(record)
            note = f"not saved to the run store ({exc}); the record was written to {path}"
            logger.warning("wattwise: %s", note)
            record = dataclasses.replace(record, events=(*record.events, note))
            self._result = record
        for event in sampler.events:
            if event.kind == "sensor-degraded":
                warnings.warn(event.message, SensorDegradedWarning, stacklevel=2)
        if self.config.strict and degraded:
            raise TrackerStateError(f"strict mode: {degraded[0]}")
        return record

    # -- training -----------------------------------------------------------------------
    def training(
        self,
        *,
        planned_epochs: int | None = None,
        budget: Budget | None = None,
        early_stopping: EarlyStopping | None = None,
        live: str | None = None,
        printer: Callable[[str], None] | None = None,
        forecast_after: int = 1,
        sync_cuda: bool = True,
    ) -> TrainingSession:
        """The run's training session (made on first call; later calls return it).

        See :class:`~wattwise.training.TrainingSession` for the arguments; budgets
        default to the config's ``budget_kwh``/``budget_gco2e``/``budget_cost``.
        """
        self._require_running()
        if self._session is None:
            from wattwise.training import TrainingSession

            self._session = TrainingSession(
                self,
                planned_epochs=planned_epochs,
                budget=budget,
                early_stopping=early_stopping,
                live=live,
                printer=printer,
                forecast_after=forecast_after,
                sync_cuda=sync_cuda,
            )
        return self._session

    def epochs(
        self,
        epochs: int | Iterable[Any],
        *,
        early_stopping: EarlyStopping | None = None,
        planned: int | None = None,
        live: str | None = None,
        printer: Callable[[str], None] | None = None,
    ) -> Iterator[Any]:
        """``for epoch in run.epochs(10): ...``: measure each epoch, forecast the run,
        and end the loop early when the budget is reached or early stopping fires."""
        session = self.training(
            planned_epochs=planned, early_stopping=early_stopping, live=live, printer=printer
        )
        if early_stopping is not None and session.early_stopping is None:
            from wattwise.early_stopping import EarlyStoppingState

            session.early_stopping = EarlyStoppingState(early_stopping)
        return session.epochs(epochs)

    def step(self, samples: int | None = None, tokens: int | None = None) -> None:
        """Count a training step that just ended (``samples``/``tokens`` it processed)."""
        session = self._session
        if session is None:
            session = self.training()
        session.step(samples, tokens)

    def log(self, **metrics: float) -> None:
        """Attach metrics (loss, accuracy) to the current epoch of the training session."""
        self.training().log(**metrics)

    @property
    def should_stop(self) -> bool:
        """True once the budget is reached or early stopping fired: end the loop."""
        return self._session is not None and self._session.should_stop

    def close(self) -> None:
        """Stop a run in progress (as ``interrupted``) and close the store. Idempotent."""
        if self._sampler is not None:
            self.stop("interrupted")
        if self._store is not None and not isinstance(self._store_arg, RunStore):
            self._store.close()

    def __enter__(self) -> Tracker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if exc is None:
            self.stop("completed")
        elif isinstance(exc, KeyboardInterrupt):
            self.stop("interrupted", error="interrupted by KeyboardInterrupt")
        elif isinstance(exc, SystemExit) and exc.code in (0, None):
            self.stop("completed")
        elif isinstance(exc, SystemExit):
            self.stop("failed", error=f"failed: sys.exit({exc.code!r})")
        elif isinstance(exc, Exception):
            self.stop("failed", error=f"failed: {type(exc).__name__}: {exc}")
        else:
            self.stop("interrupted", error=f"interrupted by {type(exc).__name__}")

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        """Use as a decorator: each call of ``func`` is a fresh tracked run."""
        template = self

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            tracker = Tracker(
                template.name if template.name != "run" else func.__qualname__,
                config=template.config,
                tags=template.tags,
                store=template._store_arg,
                sensors=template._sensors_arg,
            )
            with tracker:
                try:
                    return func(*args, **kwargs)
                finally:
                    wrapper.last_tracker = tracker  # type: ignore[attr-defined]

        return wrapper

    # -- phases and epochs --------------------------------------------------------------
    def begin_phase(
        self, name: str, *, kind: str = "phase", index: int | None = None, restart: bool = False
    ) -> PhaseHandle:
        """Open a named window; several may be open at once (nested or overlapping)."""
        sampler = self._require_running()
        if name in self._open and not restart:
            raise TrackerStateError(f"phase {name!r} is already open (pass restart=True)")
        snap = sampler.sample_now()
        handle = PhaseHandle(name, kind, index, snap, datetime.now(timezone.utc))
        with self._lock:
            self._open[name] = handle
        return handle

    def end_phase(self, name: str, *, cancel: bool = False) -> PhaseRecord | None:
        """Close a window and return its record (None when ``cancel``)."""
        sampler = self._require_running()
        with self._lock:
            handle = self._open.pop(name, None)
        if handle is None:
            raise TrackerStateError(f"phase {name!r} is not open")
        if cancel:
            return None
        snap = sampler.sample_now()
        window = snap.minus(handle.start)
        assert self._carbon is not None
        ended = datetime.now(timezone.utc)
        record = PhaseRecord(
            name=name,
            kind=handle.kind,
            index=handle.index,
            started_at=handle.started_at,
            ended_at=ended,
            duration_s=window.t_s - handle.start.t_s,
            machine=self._footprint(window.machine, window.ei_machine, sampler.domains),
            process=self._footprint(window.process, window.ei_process, sampler.domains),
            metrics=dict(handle.metrics),
        )
        handle.record = record
        with self._lock:
            self._phases.append(record)
        return record

    @contextmanager
    def phase(
        self, name: str, *, kind: str = "phase", index: int | None = None
    ) -> Iterator[PhaseHandle]:
        """A window as a ``with`` block: ``with run.phase("train"): ...``."""
        handle = self.begin_phase(name, kind=kind, index=index)
        try:
            yield handle
        finally:
            if name in self._open:
                self.end_phase(name)

    def epoch(self, index: int) -> Any:
        """``with run.epoch(i) as e: ...; e.log(loss=...)`` records epoch ``i``."""
        return self.phase(f"epoch {index}", kind="epoch", index=index)

    @property
    def phases(self) -> tuple[PhaseRecord, ...]:
        """Phases finished so far in this run."""
        with self._lock:
            return tuple(self._phases)

    def attach(self, pid: int) -> None:
        """Attribute from now on to the process tree rooted at ``pid`` (counted from its
        start), e.g. a command started after the tracker."""
        sampler = self._require_running()
        with sampler.lock:
            self._tree.retarget(pid)
        self.pid = pid

    def reaped(self, cpu_s: float) -> None:
        """The attached root process was reaped with rusage ``cpu_s`` (see ``attach``)."""
        sampler = self._require_running()
        with sampler.lock:
            self._tree.reaped(cpu_s)

    def add_profile(self, profile: Mapping[str, Any]) -> None:
        """Save a profile (``ProfileResult.as_dict()``) with this run's record."""
        self._require_running()
        with self._lock:
            self._profiles.append(dict(profile))

    # -- live figures -------------------------------------------------------------------
    def current(self) -> RunRecord:
        """The record so far, with status ``running`` (takes a fresh reading)."""
        sampler = self._require_running()
        return self._build("running", sampler.sample_now(), sampler)

    def power_w(self) -> float:
        """Latest power of the machine domains still being read, summed (W)."""
        sampler = self._require_running()
        return sum(sampler.power_w().values())

    # -- internals ----------------------------------------------------------------------
    def _require_running(self) -> Sampler:
        if self._sampler is None:
            raise TrackerStateError("the tracker is not running: call start() first")
        return self._sampler

    def _on_tick(self, snap: Snapshot) -> None:
        self._latest = snap
        if self._listeners:
            energy = self._headline_j(snap)
            for listener in list(self._listeners):
                listener(snap.t_s, energy)
        if self._start_snapshot is None:  # the first reading, taken inside start()
            return
        if snap.wall_s - self._last_checkpoint < self.config.checkpoint_s:
            return
        self._last_checkpoint = snap.wall_s
        sampler = self._sampler
        if sampler is None or self._store is None:
            return
        self._store.save_run(
            self._build("running", snap, sampler),
            sampler.series.all_points(),
            sampler.series.columns,
        )

    # seams for the training session: cheap figures from the latest reading
    def _subscribe(self, listener: Callable[[float, float], None]) -> None:
        self._listeners.append(listener)

    def _unsubscribe(self, listener: Callable[[float, float], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _clock(self) -> Callable[[], float]:
        return self._require_running()._clock

    def _run_clock_start(self) -> float:
        return self._start_snapshot.t_s if self._start_snapshot is not None else 0.0

    def _headline_j(self, snap: Snapshot) -> float:
        energies = snap.machine if self.config.headline == "machine" else snap.process
        return sum(e.value_j for e in energies.values())

    def _latest_totals(self) -> Any:
        from wattwise.training import Totals

        snap, start, carbon = self._latest, self._start_snapshot, self._carbon
        if snap is None or start is None or carbon is None:
            return Totals(0.0, 0.0, 0.0, 0.0)
        energy = self._headline_j(snap)
        ei = snap.ei_machine if self.config.headline == "machine" else snap.ei_process
        pue = carbon.info.pue
        return Totals(
            energy,
            ei * pue / J_PER_KWH,
            energy * pue / J_PER_KWH * carbon.info.price_per_kwh,
            snap.t_s - start.t_s,
        )

    def _latest_power_w(self) -> float:
        sampler = self._sampler
        return sum(sampler.power_w().values()) if sampler is not None else 0.0

    def _latest_method(self) -> str:
        sampler = self._sampler
        if sampler is None:
            return "none"
        methods = {d.method for d in sampler.domains}
        return methods.pop() if len(methods) == 1 else ("mixed" if methods else "none")

    def _currency(self) -> str:
        return self._carbon.info.currency if self._carbon is not None else ""

    def _note(self, message: str) -> None:
        with self._lock:
            self._events.append(message)

    def _amend_phase(self, record: PhaseRecord, metrics: Mapping[str, float]) -> PhaseRecord:
        """Replace a finished phase's metrics (the session adds its per-epoch figures)."""
        amended = dataclasses.replace(record, metrics={**record.metrics, **metrics})
        with self._lock:
            for i in range(len(self._phases) - 1, -1, -1):
                if self._phases[i] is record:
                    self._phases[i] = amended
                    break
        return amended

    def _resolve_carbon(self, cfg: TrackerConfig) -> _Carbon:
        choice = resolve_zone(cfg.zone, source=cfg.source_of("zone"))
        pue = resolve_pue(cfg.pue, zone_choice=choice, setting=cfg.setting)
        provider: IntensityProvider
        static = StaticIntensity(choice.zone)
        if cfg.intensity_g_per_kwh is not None:
            provider = FixedIntensity(cfg.intensity_g_per_kwh)
        elif cfg.intensity_csv is not None:
            provider = HourlyCsvIntensity(cfg.intensity_csv)
        elif cfg.live_intensity:
            live = live_provider_from_env(choice.zone, os.environ)
            provider = FallbackIntensity(live, static) if live is not None else static
            if live is None:
                self._events.append(
                    "live intensity asked for but no provider key is set "
                    "(ELECTRICITYMAPS_API_KEY or WATTTIME_USERNAME/PASSWORD)"
                )
        else:
            provider = static
        now = provider.intensity_at(datetime.now(timezone.utc))
        price = cfg.price_per_kwh if cfg.price_per_kwh is not None else DEFAULT_PRICE_PER_KWH
        currency = cfg.currency if cfg.price_per_kwh is not None else DEFAULT_CURRENCY
        info = CarbonInfo(
            zone=choice.zone.id,
            zone_name=choice.zone.name,
            zone_how=choice.how,
            zone_detail=choice.detail,
            intensity_g_per_kwh=now.g_per_kwh,
            intensity_kind=now.kind,
            intensity_source=now.source,
            intensity_year=now.year,
            pue=pue.value,
            pue_source=pue.source,
            price_per_kwh=price,
            currency=currency,
            price_source="user"
            if cfg.price_per_kwh is not None
            else "default (set price_per_kwh for your tariff)",
        )
        return _Carbon(info, provider)

    def _footprint(
        self, energies: Mapping[str, EnergyTriple], ei: float, domains: Sequence[Domain]
    ) -> Footprint:
        assert self._carbon is not None
        info = self._carbon.info
        total = ZERO
        by_component: dict[str, float] = {}
        methods: set[Literal["measured", "estimated"]] = set()
        kinds = {d.key: d for d in domains}
        for key, e in energies.items():
            total = total + e
            d = kinds.get(key)
            comp = d.component if d else "other"
            by_component[comp] = by_component.get(comp, 0.0) + e.value_j
            if d is not None and e.value_j > 0:
                methods.add(d.method)
        method: Literal["measured", "estimated", "mixed", "none"]
        method = "none" if not methods else (methods.pop() if len(methods) == 1 else "mixed")
        co2 = ei * info.pue / J_PER_KWH
        ratio_low = total.low_j / total.value_j if total.value_j > 0 else 1.0
        ratio_high = total.high_j / total.value_j if total.value_j > 0 else 1.0
        facility = total.value_j * info.pue
        return Footprint(
            energy_j=total.value_j,
            energy_low_j=total.low_j,
            energy_high_j=total.high_j,
            by_component_j=by_component,
            method=method,
            pue=info.pue,
            facility_energy_j=facility,
            co2_g=co2,
            co2_low_g=co2 * ratio_low,
            co2_high_g=co2 * ratio_high,
            cost=facility / J_PER_KWH * info.price_per_kwh,
        )

    def _build(self, status: Any, snap: Snapshot, sampler: Sampler | None = None) -> RunRecord:
        sampler = sampler or self._sampler
        assert self._carbon is not None and self._host is not None and self.id is not None
        assert self.started_at is not None and self._start_snapshot is not None
        domains = sampler.domains if sampler is not None else []
        machine = self._footprint(snap.machine, snap.ei_machine, domains)
        process = self._footprint(snap.process, snap.ei_process, domains)
        info = self._carbon.info
        if machine.energy_j > 0 and info.intensity_kind not in ("static", "user"):
            # the energy-weighted mean intensity over the run
            info = CarbonInfo(
                **{**info.__dict__, "intensity_g_per_kwh": snap.ei_machine / machine.energy_j}
            )
        duration = snap.t_s - self._start_snapshot.t_s
        now = datetime.now(timezone.utc)
        events = list(self._events)
        if sampler is not None:
            events += [e.message for e in sampler.events]
        with self._lock:
            phases = tuple(self._phases)
        return RunRecord(
            id=self.id,
            name=self.name,
            status=status,
            started_at=self.started_at,
            ended_at=None if status == "running" else now,
            duration_s=duration,
            headline=self.config.headline,
            machine=machine,
            process=process,
            domains=tuple(
                DomainRecord(
                    key=d.key,
                    component=d.component,
                    label=d.label,
                    method=d.method,
                    kind=d.kind,
                    model=dict(d.model),
                    energy_j=snap.machine.get(d.key, ZERO).value_j,
                    energy_low_j=snap.machine.get(d.key, ZERO).low_j,
                    energy_high_j=snap.machine.get(d.key, ZERO).high_j,
                    process_energy_j=snap.process.get(d.key, ZERO).value_j,
                )
                for d in domains
            ),
            carbon=info,
            host=self._host,
            phases=phases,
            events=tuple(events),
            tags=dict(self.tags),
            command=self.command,
            pid=os.getpid(),
            exit_code=self.exit_code,
            process_cpu_s=snap.process_cpu_s,
            interval_s=self.config.interval_s,
            checkpoint_s=self.config.checkpoint_s,
            updated_at=now,
            wattwise_version=__version__,
            training=self._session.record() if self._session is not None else None,
            code=dict(self._code),
            software=framework_versions(),  # those imported by now; never imports one
            profiles=tuple(self._profiles),
        )


def track(
    name: str | None = None,
    *,
    config: TrackerConfig | None = None,
    tags: Mapping[str, str] | None = None,
    store: str | os.PathLike[str] | RunStore | Literal[False] | None = None,
    **options: Any,
) -> Tracker:
    """A :class:`Tracker` for a ``with`` block or a decorator.

    ``with track("train", zone="FRA") as run: ...`` or ``@track("eval")``.
    """
    return Tracker(name, config=config, tags=tags, store=store, **options)


_LOCAL_RANK_VARS = (
    "LOCAL_RANK",  # torchrun, Lightning, accelerate, DeepSpeed
    "SLURM_LOCALID",
    "OMPI_COMM_WORLD_LOCAL_RANK",
    "MPI_LOCALRANKID",
    "MV2_COMM_WORLD_LOCAL_RANK",
)


def local_rank(environ: Mapping[str, str] | None = None) -> int:
    """This process's rank on its node as the launcher set it (0 when not distributed)."""
    env = os.environ if environ is None else environ
    for key in _LOCAL_RANK_VARS:
        value = env.get(key, "").strip()
        if value.isdigit():
            return int(value)
    return 0


def _host_info(proc_root: str, host: HostCpu, sensors: Sequence[Sensor]) -> HostInfo:
    cpu = read_cpu_info(proc_root)
    gpus = tuple(d.label for s in sensors for d in s.domains() if d.component == "gpu")
    return HostInfo(
        hostname=socket.gethostname(),
        os=f"{platform.system()} {platform.release()}",
        python=sys.version.split()[0],
        cpu_model=cpu.model,
        logical_cpus=cpu.logical_cpus,
        memory_bytes=psutil.virtual_memory().total,
        cpu_quota=host.limits.cpu_quota,
        memory_limit_bytes=host.limits.memory_bytes,
        virtualised=cpu.virtualised,
        gpus=gpus,
    )


def _rescue(record: RunRecord) -> str:
    """Write a record the store refused to a JSON file, so nothing measured is lost."""
    fd, path = tempfile.mkstemp(prefix=f"wattwise-run-{record.id[:8]}-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(record.to_dict(), f, indent=1)
    return path
