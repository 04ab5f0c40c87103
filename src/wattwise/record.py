"""The run record: what a tracked run measured, how, and what it converts to.

Frozen dataclasses, built by the tracker, saved by the store, read by reports. Every
energy carries its range (equal bounds when measured) and every domain its method.
``to_dict``/``from_dict`` give the JSON form (schema version :data:`RECORD_VERSION`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from wattwise.forecast import EpochMark, Forecast
from wattwise.units import J_PER_KWH, Method

__all__ = [
    "RECORD_VERSION",
    "CarbonInfo",
    "DomainRecord",
    "Footprint",
    "HostInfo",
    "PhaseRecord",
    "RunRecord",
    "Status",
    "StepTable",
    "StopKind",
    "TrainingRecord",
]

RECORD_VERSION = 1

Status = Literal["running", "completed", "failed", "interrupted", "stopped"]
StopKind = Literal["budget", "early_stopping", "host", "pruned"]


def _ts(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def _dt(text: str | None) -> datetime | None:
    if text is None:
        return None
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Footprint:
    """Energy and what it converts to, for a whole run or a phase.

    Attributes:
        energy_j: IT energy (J) with ``energy_low_j``/``energy_high_j`` its range.
        by_component_j: IT energy per component (cpu, ram, gpu, other).
        method: ``measured`` when every counted domain was read from a sensor,
            ``estimated`` when every one was modelled, ``mixed`` otherwise.
        pue: power usage effectiveness applied.
        facility_energy_j: IT energy × PUE.
        co2_g: emissions (gCO2e) = facility kWh × intensity, with range.
        cost: facility kWh × price, in the run's currency.
    """

    energy_j: float
    energy_low_j: float
    energy_high_j: float
    by_component_j: Mapping[str, float]
    method: Literal["measured", "estimated", "mixed", "none"]
    pue: float
    facility_energy_j: float
    co2_g: float
    co2_low_g: float
    co2_high_g: float
    cost: float

    @property
    def energy_kwh(self) -> float:
        """IT energy in kWh."""
        return self.energy_j / J_PER_KWH

    @property
    def facility_energy_kwh(self) -> float:
        """Facility energy (IT × PUE) in kWh."""
        return self.facility_energy_j / J_PER_KWH

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Footprint:
        """Inverse of ``dataclasses.asdict``."""
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class DomainRecord:
    """One sensor domain's contribution to a run."""

    key: str
    component: str
    label: str
    method: Method
    kind: str
    model: Mapping[str, Any]
    energy_j: float
    energy_low_j: float
    energy_high_j: float
    process_energy_j: float

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DomainRecord:
        """Inverse of ``dataclasses.asdict``."""
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class CarbonInfo:
    """Which zone, intensity and PUE a run was converted with, and how they were chosen."""

    zone: str
    zone_name: str
    zone_how: str
    zone_detail: str
    intensity_g_per_kwh: float
    intensity_kind: str
    intensity_source: str
    intensity_year: int | None
    pue: float
    pue_source: str
    price_per_kwh: float
    currency: str
    price_source: str

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CarbonInfo:
        """Inverse of ``dataclasses.asdict``."""
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class HostInfo:
    """Where the run ran."""

    hostname: str
    os: str
    python: str
    cpu_model: str
    logical_cpus: int
    memory_bytes: int
    cpu_quota: float | None
    memory_limit_bytes: int | None
    virtualised: bool
    gpus: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> HostInfo:
        """Inverse of ``dataclasses.asdict``."""
        kw = {f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d}
        kw["gpus"] = tuple(kw.get("gpus", ()))
        return cls(**kw)


@dataclass(frozen=True)
class PhaseRecord:
    """A named window of a run (``train``, ``epoch``, ...), possibly nested or concurrent."""

    name: str
    kind: str
    index: int | None
    started_at: datetime
    ended_at: datetime
    duration_s: float
    machine: Footprint
    process: Footprint
    metrics: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = dataclasses.asdict(self)
        d["started_at"] = _ts(self.started_at)
        d["ended_at"] = _ts(self.ended_at)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PhaseRecord:
        """Inverse of :meth:`to_dict`."""
        started, ended = _dt(d["started_at"]), _dt(d["ended_at"])
        assert started is not None and ended is not None
        return cls(
            d["name"],
            d.get("kind", "phase"),
            d.get("index"),
            started,
            ended,
            d["duration_s"],
            Footprint.from_dict(d["machine"]),
            Footprint.from_dict(d["process"]),
            dict(d.get("metrics", {})),
        )


@dataclass(frozen=True)
class StepTable:
    """Every training step of a run, column by column (row ``i`` is step ``i``).

    ``start_s`` counts from the run's start. ``energy_j`` is the headline energy of the
    step's interval, read off the run's energy curve (linear between sensor readings, the
    same assumption the integrator makes), so it is only as fine as the sampling interval:
    a step far shorter than ``interval_s`` gets its share of the interval's mean power.
    """

    epoch: tuple[int, ...] = ()
    start_s: tuple[float, ...] = ()
    duration_s: tuple[float, ...] = ()
    samples: tuple[int, ...] = ()
    tokens: tuple[int, ...] = ()
    energy_j: tuple[float, ...] = ()

    def __len__(self) -> int:
        return len(self.epoch)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StepTable:
        """Inverse of ``dataclasses.asdict``."""
        return cls(**{f.name: tuple(d.get(f.name, ())) for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class TrainingRecord:
    """What a training run did with its energy: epochs, steps, forecasts, budget, stop.

    Totals (``total_*``) include what earlier segments of a resumed fit used
    (``carried``); the run record's own footprint covers this process's segment only.

    Attributes:
        planned_epochs: epochs the run was set to train for (None: unknown).
        epochs: epochs completed in this segment; ``epoch_offset`` before it.
        steps, samples, tokens: counted by ``step()`` (tokens only when given).
        forecasts: the forecast made after each epoch, for the planned epochs.
        epoch_marks: this segment's cumulative figures at each epoch end (what the
            forecasts were made from).
        budget: the limits that were set (``kwh``, ``gco2e``, ``cost``).
        budget_warning: the first warning that a forecast went over the budget.
        stop_kind: why the run stopped before its plan: ``budget``,
            ``early_stopping``, ``pruned`` (a search's pruner), or ``host`` (the
            framework stopped it, e.g. its own early stopping); None when it ran to plan
            or was not stopped.
        stop_reason: that reason, in a sentence.
        early_stopping: the rule and its outcome (monitor, best value and epoch).
        saved: against the last forecast of the planned epochs: ``planned_energy_j``,
            ``saved_energy_j``, ``saved_co2_g``, ``saved_cost`` (a forecast, labelled so).
        step_table: per-step figures.
    """

    planned_epochs: int | None
    epochs: int
    epoch_offset: int = 0
    steps: int = 0
    samples: int = 0
    tokens: int = 0
    total_energy_j: float = 0.0
    total_co2_g: float = 0.0
    total_cost: float = 0.0
    total_duration_s: float = 0.0
    carried: Mapping[str, float] = field(default_factory=dict)
    forecasts: tuple[Forecast, ...] = ()
    epoch_marks: tuple[EpochMark, ...] = ()
    budget: Mapping[str, float] = field(default_factory=dict)
    budget_warning: str | None = None
    stop_kind: StopKind | None = None
    stop_reason: str | None = None
    early_stopping: Mapping[str, Any] | None = None
    saved: Mapping[str, float] | None = None
    step_table: StepTable = field(default_factory=StepTable)

    @property
    def energy_per_sample_j(self) -> float | None:
        """Total energy over samples seen in this segment (None without samples)."""
        seg = self.total_energy_j - float(self.carried.get("energy_j", 0.0))
        return seg / self.samples if self.samples else None

    @property
    def energy_per_token_j(self) -> float | None:
        """Total energy over tokens seen in this segment (None without tokens)."""
        seg = self.total_energy_j - float(self.carried.get("energy_j", 0.0))
        return seg / self.tokens if self.tokens else None

    @property
    def completed_plan(self) -> bool:
        """Whether every planned epoch ran (so the forecasts can be scored)."""
        return self.planned_epochs is not None and (
            self.epoch_offset + self.epochs >= self.planned_epochs
        )

    @property
    def trained_energy_j(self) -> float:
        """Energy up to the end of the last epoch, carried segments included: what a
        forecast predicts (work after the loop, such as a final test, is not in it)."""
        if not self.epoch_marks:
            return self.total_energy_j
        return self.epoch_marks[-1].energy_j + float(self.carried.get("energy_j", 0.0))

    def forecast_errors(self) -> dict[int, float]:
        """Relative energy error of the forecast after each epoch against
        :attr:`trained_energy_j`, when the plan ran in full (``{1: 0.03}``: the forecast
        after epoch 1 was 3 % high). Empty otherwise."""
        if not self.completed_plan:
            return {}
        return {f.after_epochs: f.error_of(self.trained_energy_j) for f in self.forecasts}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = dataclasses.asdict(self)
        d["carried"] = dict(self.carried)
        d["budget"] = dict(self.budget)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainingRecord:
        """Inverse of :meth:`to_dict`."""
        return cls(
            planned_epochs=d.get("planned_epochs"),
            epochs=d.get("epochs", 0),
            epoch_offset=d.get("epoch_offset", 0),
            steps=d.get("steps", 0),
            samples=d.get("samples", 0),
            tokens=d.get("tokens", 0),
            total_energy_j=d.get("total_energy_j", 0.0),
            total_co2_g=d.get("total_co2_g", 0.0),
            total_cost=d.get("total_cost", 0.0),
            total_duration_s=d.get("total_duration_s", 0.0),
            carried=dict(d.get("carried", {})),
            forecasts=tuple(Forecast(**f) for f in d.get("forecasts", ())),
            epoch_marks=tuple(EpochMark(**m) for m in d.get("epoch_marks", ())),
            budget=dict(d.get("budget", {})),
            budget_warning=d.get("budget_warning"),
            stop_kind=d.get("stop_kind"),
            stop_reason=d.get("stop_reason"),
            early_stopping=d.get("early_stopping"),
            saved=d.get("saved"),
            step_table=StepTable.from_dict(d.get("step_table", {})),
        )


@dataclass(frozen=True)
class RunRecord:
    """Everything known about one run. ``headline`` says which footprint the summary uses.

    The headline figures (:attr:`energy_j`, :attr:`co2_g`, ...) are those of
    ``machine`` (every joule the machine drew while the run ran) or ``process`` (the
    tracked process tree's attributed share), as :attr:`headline` says. ``code`` holds
    the git commit and branch of the working directory's checkout (``git_commit``,
    ``git_branch``, when found); ``software`` the versions of the ML frameworks the
    measured process had imported (``torch``, ``numpy``, ...).
    """

    id: str
    name: str
    status: Status
    started_at: datetime
    ended_at: datetime | None
    duration_s: float
    headline: Literal["machine", "process"]
    machine: Footprint
    process: Footprint
    domains: tuple[DomainRecord, ...]
    carbon: CarbonInfo
    host: HostInfo
    phases: tuple[PhaseRecord, ...] = ()
    events: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    command: str | None = None
    pid: int | None = None
    exit_code: int | None = None
    process_cpu_s: float = 0.0
    interval_s: float = 1.0
    checkpoint_s: float = 10.0
    updated_at: datetime | None = None
    wattwise_version: str = ""
    training: TrainingRecord | None = None
    code: Mapping[str, str] = field(default_factory=dict)
    software: Mapping[str, str] = field(default_factory=dict)
    profiles: tuple[Mapping[str, Any], ...] = ()
    version: int = RECORD_VERSION

    # -- headline figures ---------------------------------------------------------------
    @property
    def footprint(self) -> Footprint:
        """The footprint the headline uses."""
        return self.machine if self.headline == "machine" else self.process

    @property
    def energy_j(self) -> float:
        """Headline IT energy (J)."""
        return self.footprint.energy_j

    @property
    def energy_kwh(self) -> float:
        """Headline IT energy (kWh)."""
        return self.footprint.energy_kwh

    @property
    def co2_g(self) -> float:
        """Headline emissions (gCO2e)."""
        return self.footprint.co2_g

    @property
    def cost(self) -> float:
        """Headline electricity cost, in :attr:`CarbonInfo.currency`."""
        return self.footprint.cost

    @property
    def method(self) -> str:
        """``measured``, ``estimated`` or ``mixed`` for the headline energy."""
        return self.footprint.method

    def phase(self, name: str) -> PhaseRecord:
        """The last phase with this name. Raises KeyError."""
        for p in reversed(self.phases):
            if p.name == name:
                return p
        raise KeyError(name)

    # -- JSON ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (datetimes as ISO 8601 strings)."""
        d = dataclasses.asdict(self)
        d["started_at"] = _ts(self.started_at)
        d["ended_at"] = _ts(self.ended_at)
        d["updated_at"] = _ts(self.updated_at)
        d["phases"] = [p.to_dict() for p in self.phases]
        d["domains"] = [dataclasses.asdict(x) for x in self.domains]
        d["tags"] = dict(self.tags)
        d["events"] = list(self.events)
        d["training"] = self.training.to_dict() if self.training is not None else None
        d["code"] = dict(self.code)
        d["software"] = dict(self.software)
        d["profiles"] = [dict(p) for p in self.profiles]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunRecord:
        """Inverse of :meth:`to_dict`."""
        started = _dt(d["started_at"])
        assert started is not None
        return cls(
            id=d["id"],
            name=d["name"],
            status=d["status"],
            started_at=started,
            ended_at=_dt(d.get("ended_at")),
            duration_s=d["duration_s"],
            headline=d["headline"],
            machine=Footprint.from_dict(d["machine"]),
            process=Footprint.from_dict(d["process"]),
            domains=tuple(DomainRecord.from_dict(x) for x in d["domains"]),
            carbon=CarbonInfo.from_dict(d["carbon"]),
            host=HostInfo.from_dict(d["host"]),
            phases=tuple(PhaseRecord.from_dict(p) for p in d.get("phases", ())),
            events=tuple(d.get("events", ())),
            tags=dict(d.get("tags", {})),
            command=d.get("command"),
            pid=d.get("pid"),
            exit_code=d.get("exit_code"),
            process_cpu_s=d.get("process_cpu_s", 0.0),
            interval_s=d.get("interval_s", 1.0),
            checkpoint_s=d.get("checkpoint_s", 10.0),
            updated_at=_dt(d.get("updated_at")),
            wattwise_version=d.get("wattwise_version", ""),
            training=TrainingRecord.from_dict(d["training"]) if d.get("training") else None,
            code=dict(d.get("code", {})),
            software=dict(d.get("software", {})),
            profiles=tuple(dict(p) for p in d.get("profiles", ())),
            version=d.get("version", RECORD_VERSION),
        )
