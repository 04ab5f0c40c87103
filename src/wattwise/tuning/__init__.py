"""Energy-aware hyperparameter search on Optuna (``wattwise.tune``).

Modules: :mod:`~wattwise.tuning.space` (search spaces), :mod:`~wattwise.tuning.strategies`
(strategy → Optuna sampler and pruner), :mod:`~wattwise.tuning.search` (the search and its
workers), :mod:`~wattwise.tuning.accounting` (the study's energy account). Optuna is
imported only when a search runs.
"""

from __future__ import annotations

from wattwise.tuning.accounting import CurvePoint, TargetHit, TrialSummary, TuneResult
from wattwise.tuning.search import Trial, load_result, tune
from wattwise.tuning.space import Space, load_space, parse_space
from wattwise.tuning.strategies import RECOMMENDED, STRATEGIES

__all__ = [
    "RECOMMENDED",
    "STRATEGIES",
    "CurvePoint",
    "Space",
    "TargetHit",
    "Trial",
    "TrialSummary",
    "TuneResult",
    "load_result",
    "load_space",
    "parse_space",
    "tune",
]
