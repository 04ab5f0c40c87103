"""Search strategies: which Optuna sampler and pruner each name stands for.

======== ===================================== ==========================================
name     sampler                               pruner
======== ===================================== ==========================================
grid     ``GridSampler`` on the space's grid   none
random   ``RandomSampler``                     none
bayes    ``TPESampler`` (Tree-structured       none
         Parzen Estimator, Optuna's default)
gp       ``GPSampler`` (Gaussian process,      none
         log expected improvement)
halving  ``TPESampler``                        ``SuccessiveHalvingPruner`` (asynchronous
                                               successive halving)
hyperband ``TPESampler``                       ``HyperbandPruner``
pareto   ``NSGAIISampler`` on two objectives:  none (Optuna cannot prune multi-objective
         the metric and the trial's kWh        studies)
======== ===================================== ==========================================

Every sampler and pruner is Optuna's own, with Optuna's defaults except where noted;
``pruner=`` adds or replaces a pruner (``none``, ``median``, ``halving``, ``hyperband``, or
an Optuna pruner object) and ``sampler=`` an Optuna sampler object replaces the strategy's.
Optuna is imported only when a strategy is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wattwise.exceptions import ConfigError
from wattwise.tuning.space import Space

__all__ = [
    "PRUNERS",
    "RECOMMENDED",
    "STRATEGIES",
    "check_strategy",
    "make_pruner",
    "make_sampler",
    "optuna_module",
]

STRATEGIES: Mapping[str, str] = {
    "grid": "grid search (Optuna GridSampler, grid points in random order)",
    "random": "random search (Optuna RandomSampler)",
    "bayes": "Bayesian optimisation, TPE (Optuna TPESampler)",
    "gp": "Bayesian optimisation, Gaussian process (Optuna GPSampler)",
    "halving": "TPE with successive halving (Optuna SuccessiveHalvingPruner)",
    "hyperband": "TPE with Hyperband (Optuna HyperbandPruner)",
    "pareto": "multi-objective metric vs energy (Optuna NSGAIISampler)",
}
"""Strategy name → what it runs."""

RECOMMENDED = "halving"
"""The strategy ``wattwise tune`` uses unless told: TPE with successive halving. On the
digits benchmark (docs/benchmarks.md) it spent the least energy per study (pruning about
18 of 30 trials) with energy-to-target no worse than TPE's or grid's and a best accuracy
within 0.002 of TPE's; an objective that reports no per-epoch metric is never pruned, and
then it is plain TPE."""

PRUNERS = ("none", "median", "halving", "hyperband")
"""Pruner names ``pruner=`` accepts."""

_DEFAULT_PRUNER = {"halving": "halving", "hyperband": "hyperband"}


def optuna_module() -> Any:
    """``import optuna``, or a clear error naming the extra."""
    try:
        import optuna
    except ImportError:
        from wattwise.demo import MissingExtraError

        raise MissingExtraError(
            "hyperparameter search needs Optuna: pip install 'wattwise[tune]'"
        ) from None
    return optuna


def check_strategy(strategy: str) -> str:
    """The strategy's name, or ConfigError listing the known ones."""
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    return strategy


def make_sampler(strategy: str, space: Space, *, seed: int | None, n_trials: int) -> Any:
    """The Optuna sampler a strategy stands for, seeded."""
    optuna = optuna_module()
    s = optuna.samplers
    check_strategy(strategy)
    if strategy == "grid":
        return s.GridSampler(space.grid(), seed=seed)
    if strategy == "random":
        return s.RandomSampler(seed=seed)
    if strategy == "gp":
        return s.GPSampler(seed=seed)
    if strategy == "pareto":
        # NSGA-II's default population (50) would leave a small study purely random
        return s.NSGAIISampler(seed=seed, population_size=max(4, min(50, n_trials // 4)))
    return s.TPESampler(seed=seed)


def make_pruner(strategy: str, pruner: Any = None) -> Any:
    """The pruner: ``pruner`` when given (a name or an Optuna pruner), else the
    strategy's own (successive halving, Hyperband, or none)."""
    optuna = optuna_module()
    p = optuna.pruners
    if pruner is not None and not isinstance(pruner, str):
        if not isinstance(pruner, p.BasePruner):
            raise ConfigError(f"pruner must be a name or an Optuna pruner, not {pruner!r}")
        return pruner
    name = pruner if pruner is not None else _DEFAULT_PRUNER.get(strategy, "none")
    if name not in PRUNERS:
        raise ConfigError(f"unknown pruner {name!r}: choose one of {', '.join(PRUNERS)}")
    if name == "median":
        return p.MedianPruner()
    if name == "halving":
        return p.SuccessiveHalvingPruner()
    if name == "hyperband":
        return p.HyperbandPruner()
    return p.NopPruner()
