"""Strategies: each name stands for the documented Optuna sampler and pruner."""

from __future__ import annotations

from typing import Any

import optuna
import pytest

from wattwise.exceptions import ConfigError
from wattwise.tuning.space import parse_space
from wattwise.tuning.strategies import (
    PRUNERS,
    RECOMMENDED,
    STRATEGIES,
    check_strategy,
    make_pruner,
    make_sampler,
)

SPACE = parse_space({"x": {"low": 0.0, "high": 1.0}, "w": [1, 2]})

S = optuna.samplers
P = optuna.pruners

DOCUMENTED: dict[str, tuple[type[Any], type[Any]]] = {
    "grid": (S.GridSampler, P.NopPruner),
    "random": (S.RandomSampler, P.NopPruner),
    "bayes": (S.TPESampler, P.NopPruner),
    "gp": (S.GPSampler, P.NopPruner),
    "halving": (S.TPESampler, P.SuccessiveHalvingPruner),
    "hyperband": (S.TPESampler, P.HyperbandPruner),
    "pareto": (S.NSGAIISampler, P.NopPruner),
}


def test_the_strategies_are_the_documented_seven_and_halving_is_recommended() -> None:
    assert list(STRATEGIES) == ["grid", "random", "bayes", "gp", "halving", "hyperband", "pareto"]
    assert RECOMMENDED == "halving" and RECOMMENDED in STRATEGIES
    assert PRUNERS == ("none", "median", "halving", "hyperband")


@pytest.mark.parametrize("name", list(DOCUMENTED))
def test_each_strategy_builds_its_sampler_and_pruner(name: str) -> None:
    sampler_cls, pruner_cls = DOCUMENTED[name]
    sampler = make_sampler(name, SPACE, seed=1, n_trials=20)
    pruner = make_pruner(name)
    assert type(sampler) is sampler_cls
    assert type(pruner) is pruner_cls
    assert check_strategy(name) == name


def test_the_grid_sampler_walks_the_space_grid_and_stops() -> None:
    seen: list[tuple[float, int]] = []

    def objective(t: optuna.trial.Trial) -> float:
        seen.append((t.suggest_float("x", 0.0, 1.0), t.suggest_categorical("w", [1, 2])))
        return 0.0

    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        study = optuna.create_study(sampler=make_sampler("grid", SPACE, seed=0, n_trials=100))
        study.optimize(objective, n_trials=100)
    finally:
        optuna.logging.set_verbosity(previous)
    assert sorted(seen) == sorted((x, w) for x in (0.0, 0.5, 1.0) for w in (1, 2))


def test_seeded_samplers_repeat_their_suggestions() -> None:
    def draws(seed: int) -> list[float]:
        sampler = make_sampler("random", SPACE, seed=seed, n_trials=5)
        study = optuna.create_study(sampler=sampler)
        out = []
        for _ in range(3):
            t = study.ask()
            out.append(t.suggest_float("x", 0.0, 1.0))
            study.tell(t, 0.0)
        return out

    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        assert draws(7) == draws(7)
        assert draws(7) != draws(8)
    finally:
        optuna.logging.set_verbosity(previous)


@pytest.mark.parametrize(("n_trials", "population"), [(8, 4), (40, 10), (1000, 50)])
def test_pareto_population_fits_a_small_study(n_trials: int, population: int) -> None:
    sampler = make_sampler("pareto", SPACE, seed=0, n_trials=n_trials)
    assert sampler._population_size == population


@pytest.mark.parametrize("name", ["", "tpe", "Bayes", "grid-search"])
def test_unknown_strategy_names_list_the_known_ones(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_strategy(name)
    text = str(info.value)
    assert text.startswith(f"unknown strategy {name!r}: choose one of grid, random, bayes")
    with pytest.raises(ConfigError, match="unknown strategy"):
        make_sampler(name, SPACE, seed=None, n_trials=5)


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("none", P.NopPruner),
        ("median", P.MedianPruner),
        ("halving", P.SuccessiveHalvingPruner),
        ("hyperband", P.HyperbandPruner),
    ],
)
def test_a_pruner_name_replaces_the_strategy_s(name: str, cls: type[Any]) -> None:
    for strategy in ("bayes", "halving", "hyperband"):
        assert type(make_pruner(strategy, name)) is cls


def test_a_pruner_object_is_used_as_given() -> None:
    mine = P.PercentilePruner(25.0)
    assert make_pruner("halving", mine) is mine
    assert make_pruner("bayes", mine) is mine


@pytest.mark.parametrize("bad", ["Median", "asha", ""])
def test_an_unknown_pruner_name_is_a_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match=rf"^unknown pruner {bad!r}: choose one of none, median"):
        make_pruner("bayes", bad)


@pytest.mark.parametrize("bad", [3, object(), S.RandomSampler()])
def test_a_pruner_that_is_neither_a_name_nor_a_pruner_is_a_config_error(bad: Any) -> None:
    with pytest.raises(ConfigError, match="pruner must be a name or an Optuna pruner"):
        make_pruner("bayes", bad)
