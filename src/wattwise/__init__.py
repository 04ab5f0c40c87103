"""wattwise: measure, forecast and cut the energy and carbon footprint of deep learning.

``import wattwise`` does no I/O, starts no thread and touches no network; heavy modules
load on first use.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from wattwise._version import __version__
from wattwise.exceptions import (
    ConfigError,
    EstimatedEnergyWarning,
    IntensityError,
    IntensityFallbackWarning,
    ReportError,
    RunNotFoundError,
    SensorDegradedWarning,
    SensorError,
    SensorPermissionError,
    StoreError,
    TrackerStateError,
    UnknownZoneError,
    WattwiseError,
)

if TYPE_CHECKING:
    from wattwise.budget import Budget
    from wattwise.config import TrackerConfig, resolve_config
    from wattwise.early_stopping import EarlyStopping
    from wattwise.estimating import Estimate, estimate
    from wattwise.forecast import Forecast
    from wattwise.optimizing.result import OptimizeResult
    from wattwise.optimizing.study import optimize
    from wattwise.optimizing.task import OptimizeTask
    from wattwise.profiler import ProfileResult, profile
    from wattwise.record import Footprint, PhaseRecord, RunRecord, TrainingRecord
    from wattwise.store import get_store
    from wattwise.sweeping import SweepResult, sweep
    from wattwise.tracking import Tracker, track
    from wattwise.training import BudgetWarning, TrainingSession
    from wattwise.tuning.accounting import TuneResult
    from wattwise.tuning.search import tune
    from wattwise.waste import WasteFinder, WasteReport

__all__ = [
    "Budget",
    "BudgetWarning",
    "ConfigError",
    "EarlyStopping",
    "Estimate",
    "EstimatedEnergyWarning",
    "Footprint",
    "Forecast",
    "IntensityError",
    "IntensityFallbackWarning",
    "OptimizeResult",
    "OptimizeTask",
    "PhaseRecord",
    "ProfileResult",
    "ReportError",
    "RunNotFoundError",
    "RunRecord",
    "SensorDegradedWarning",
    "SensorError",
    "SensorPermissionError",
    "StoreError",
    "SweepResult",
    "Tracker",
    "TrackerConfig",
    "TrackerStateError",
    "TrainingRecord",
    "TrainingSession",
    "TuneResult",
    "UnknownZoneError",
    "WasteFinder",
    "WasteReport",
    "WattwiseError",
    "__version__",
    "estimate",
    "get_store",
    "optimize",
    "profile",
    "resolve_config",
    "sweep",
    "track",
    "tune",
]

_LAZY = {
    "Tracker": "wattwise.tracking",
    "track": "wattwise.tracking",
    "TrackerConfig": "wattwise.config",
    "resolve_config": "wattwise.config",
    "RunRecord": "wattwise.record",
    "PhaseRecord": "wattwise.record",
    "Footprint": "wattwise.record",
    "get_store": "wattwise.store",
    "Budget": "wattwise.budget",
    "BudgetWarning": "wattwise.training",
    "EarlyStopping": "wattwise.early_stopping",
    "Forecast": "wattwise.forecast",
    "TrainingRecord": "wattwise.record",
    "TrainingSession": "wattwise.training",
    "profile": "wattwise.profiler",
    "ProfileResult": "wattwise.profiler",
    "sweep": "wattwise.sweeping",
    "SweepResult": "wattwise.sweeping",
    "WasteFinder": "wattwise.waste",
    "WasteReport": "wattwise.waste",
    "tune": "wattwise.tuning.search",
    "TuneResult": "wattwise.tuning.accounting",
    "optimize": "wattwise.optimizing.study",
    "OptimizeTask": "wattwise.optimizing.task",
    "OptimizeResult": "wattwise.optimizing.result",
    "estimate": "wattwise.estimating",
    "Estimate": "wattwise.estimating",
}

logging.getLogger("wattwise").addHandler(logging.NullHandler())


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wattwise' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
