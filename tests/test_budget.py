"""Budget limits, and the budget and live fields of the configuration."""

from __future__ import annotations

import math
from typing import Any

import pytest

from wattwise.budget import Budget
from wattwise.config import resolve_config
from wattwise.exceptions import ConfigError
from wattwise.units import J_PER_KWH


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kwh": 0},
        {"kwh": -1.0},
        {"gco2e": 0.0},
        {"cost": -0.5},
        {"kwh": "1"},
        {"kwh": True},
        {"gco2e": math.nan},
        {"cost": math.inf},
    ],
)
def test_invalid_limits_are_config_errors(kwargs: dict[str, object]) -> None:
    name = next(iter(kwargs))
    with pytest.raises(ConfigError, match=f"invalid budget {name}="):
        Budget(**kwargs)  # type: ignore[arg-type]


def test_no_limit_never_fires() -> None:
    b = Budget()
    assert not b.active
    assert b.as_dict() == {}
    assert b.over(1e12, 1e12, 1e12) is None
    assert b.fraction_used(1e12, 1e12, 1e12) == 0.0


def test_as_dict_names_the_limits_that_are_set() -> None:
    b = Budget(kwh=2, cost=1.5)
    assert b.active
    assert b.as_dict() == {"kwh": 2.0, "cost": 1.5}
    assert all(isinstance(v, float) for v in b.as_dict().values())


def test_over_names_the_energy_limit() -> None:
    b = Budget(kwh=0.5)
    assert b.over(0.49 * J_PER_KWH, 0.0, 0.0) is None
    msg = b.over(0.5 * J_PER_KWH, 0.0, 0.0)  # reaching the limit counts
    assert msg == "energy 0.5 kWh reached the budget of 0.5 kWh"
    assert b.over(0.75 * J_PER_KWH, 0.0, 0.0) == "energy 0.75 kWh reached the budget of 0.5 kWh"


def test_over_names_the_emissions_limit() -> None:
    b = Budget(gco2e=100.0)
    assert b.over(1e12, 99.9, 0.0) is None  # energy has no limit here
    assert b.over(0.0, 120.0, 0.0) == "emissions 120 gCO2e reached the budget of 100 gCO2e"


def test_over_names_the_cost_limit_with_its_currency() -> None:
    b = Budget(cost=2.0)
    assert b.over(0.0, 0.0, 1.99) is None
    assert b.over(0.0, 0.0, 2.5, currency="EUR") == "cost 2.5 EUR reached the budget of 2 EUR"
    assert b.over(0.0, 0.0, 2.5) == "cost 2.5 reached the budget of 2"


def test_over_reports_energy_first_when_several_limits_are_reached() -> None:
    b = Budget(kwh=1.0, gco2e=10.0, cost=1.0)
    msg = b.over(2 * J_PER_KWH, 20.0, 2.0)
    assert msg is not None and msg.startswith("energy ")
    msg = b.over(0.0, 20.0, 2.0)
    assert msg is not None and msg.startswith("emissions ")
    msg = b.over(0.0, 0.0, 2.0)
    assert msg is not None and msg.startswith("cost ")


def test_fraction_used_is_the_largest_share_of_any_limit() -> None:
    b = Budget(kwh=1.0, gco2e=100.0, cost=10.0)
    assert b.fraction_used(0.0, 0.0, 0.0) == 0.0
    assert b.fraction_used(0.25 * J_PER_KWH, 10.0, 1.0) == pytest.approx(0.25)
    assert b.fraction_used(0.25 * J_PER_KWH, 60.0, 1.0) == pytest.approx(0.6)
    assert b.fraction_used(0.25 * J_PER_KWH, 60.0, 15.0) == pytest.approx(1.5)
    assert Budget(gco2e=50.0).fraction_used(1e12, 25.0, 1e12) == pytest.approx(0.5)


# -- configuration ------------------------------------------------------------------------


def test_config_budget_fields_default_to_no_limit() -> None:
    cfg = resolve_config()
    assert (cfg.budget_kwh, cfg.budget_gco2e, cfg.budget_cost) == (None, None, None)
    assert cfg.live == "auto"


def test_config_budget_from_arguments() -> None:
    cfg = resolve_config(budget_kwh=0.5, budget_gco2e=200, budget_cost=3.0)
    assert cfg.budget_kwh == 0.5 and cfg.budget_gco2e == 200.0 and cfg.budget_cost == 3.0
    assert isinstance(cfg.budget_gco2e, float)
    assert cfg.source_of("budget_kwh") == "argument"


def test_config_budget_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATTWISE_BUDGET_KWH", "0.25")
    monkeypatch.setenv("WATTWISE_BUDGET_COST", "4")
    cfg = resolve_config()
    assert cfg.budget_kwh == 0.25 and cfg.budget_cost == 4.0
    assert cfg.source_of("budget_kwh") == "environment"
    # an argument wins over the environment
    assert resolve_config(budget_kwh=1.0).budget_kwh == 1.0


def test_config_budget_from_the_config_file(tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("cfg") / "wattwise.toml"
    path.write_text("[wattwise]\nbudget_gco2e = 50\nlive = 'plain'\n", encoding="utf-8")
    cfg = resolve_config(config_path=path)
    assert cfg.budget_gco2e == 50.0 and cfg.source_of("budget_gco2e") == "config"
    assert cfg.live == "plain"


@pytest.mark.parametrize("value", ["abc", "0", "-1", "inf", "nan"])
def test_invalid_budget_in_the_environment_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("WATTWISE_BUDGET_KWH", value)
    with pytest.raises(ConfigError, match="budget_kwh"):
        resolve_config()


@pytest.mark.parametrize(
    "kwargs",
    [{"budget_kwh": 0}, {"budget_gco2e": -5.0}, {"budget_cost": "lots"}, {"budget_kwh": math.inf}],
)
def test_invalid_budget_argument_is_a_config_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=next(iter(kwargs))):
        resolve_config(**kwargs)


@pytest.mark.parametrize("mode", ["auto", "rich", "plain", "notebook", "off"])
def test_config_live_modes(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_config(live=mode).live == mode
    monkeypatch.setenv("WATTWISE_LIVE", mode)
    cfg = resolve_config()
    assert cfg.live == mode and cfg.source_of("live") == "environment"


@pytest.mark.parametrize("mode", ["loud", "none", "RICH", 1])
def test_invalid_live_mode_is_a_config_error(mode: object) -> None:
    with pytest.raises(ConfigError, match="invalid live="):
        resolve_config(live=mode)


def test_invalid_live_mode_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATTWISE_LIVE", "fancy")
    with pytest.raises(ConfigError, match="invalid live='fancy'"):
        resolve_config()
