"""Energy-aware hyperparameter search on Optuna (``wattwise.tune``).

Modules: ``space`` (search spaces), ``strategies`` (strategy name → Optuna sampler and
pruner), ``search`` (the search and its workers), ``accounting`` (the study's energy
account), ``compare`` (strategies side by side), ``show`` (terminal output), ``digits``
(the bundled objective). Optuna is imported only when a search runs.
"""

from __future__ import annotations

from wattwise.tuning.accounting import CurvePoint, TargetHit, TrialSummary, TuneResult
from wattwise.tuning.compare import StrategyComparison, StrategyStats, compare_strategies
from wattwise.tuning.search import Trial, load_result, tune
from wattwise.tuning.space import Space, load_space, parse_space
from wattwise.tuning.strategies import RECOMMENDED, STRATEGIES

__all__ = [
    "RECOMMENDED",
    "STRATEGIES",
    "CurvePoint",
    "Space",
    "StrategyComparison",
    "StrategyStats",
    "TargetHit",
    "Trial",
    "TrialSummary",
    "TuneResult",
    "compare_strategies",
    "load_result",
    "load_space",
    "parse_space",
    "tune",
]
