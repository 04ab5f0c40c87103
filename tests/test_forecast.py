"""forecast(): the footprint of the planned run from cumulative figures at epoch ends."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import pytest

from wattwise.forecast import EpochMark, Forecast, forecast


def marks_of(
    epoch_j: Sequence[float],
    *,
    epoch_s: Sequence[float] | None = None,
    g_per_j: Sequence[float] | None = None,
    cost_per_j: float = 1e-5,
) -> list[EpochMark]:
    """Cumulative marks from per-epoch energies (and durations, emission factors)."""
    out: list[EpochMark] = []
    e = s = c = m = 0.0
    for i, j in enumerate(epoch_j):
        e += j
        s += epoch_s[i] if epoch_s is not None else j / 100.0
        c += j * (g_per_j[i] if g_per_j is not None else 1e-4)
        m += j * cost_per_j
        out.append(EpochMark(i + 1, s, e, c, m))
    return out


def mean_rule(epoch_j: Sequence[float], planned: int) -> float:
    """What the mean-after-first rule would forecast (the rule before a trend is fitted)."""
    later = epoch_j[1:]
    return sum(epoch_j) + sum(later) / len(later) * (planned - len(epoch_j))


def test_first_epoch_rule_projects_the_first_epoch_with_no_spread() -> None:
    fc = forecast(marks_of([120.0], epoch_s=[2.0]), 5)
    assert fc is not None
    assert fc.rule == "first-epoch"
    assert fc.after_epochs == 1 and fc.planned_epochs == 5
    assert fc.energy_j == pytest.approx(600.0)
    assert fc.energy_low_j == fc.energy_high_j == pytest.approx(600.0)
    assert fc.duration_s == pytest.approx(10.0)
    assert fc.co2_g == pytest.approx(600.0 * 1e-4)
    assert fc.cost == pytest.approx(600.0 * 1e-5)
    assert fc.energy_kwh == pytest.approx(600.0 / 3.6e6)


def test_first_epoch_less_its_warm_up() -> None:
    # 2 of the first epoch's 10 s were one-off (before it began, slow first steps)
    first = EpochMark(1, 10.0, 100.0, 1.0, 0.1, warmup_s=2.0)
    fc = forecast([first], 5)
    assert fc is not None
    assert fc.rule == "first-epoch-less-warmup"
    assert fc.energy_j == pytest.approx(100.0 + 4 * 80.0)
    assert fc.co2_g == pytest.approx(1.0 + 4 * 0.8)
    assert fc.cost == pytest.approx(0.1 + 4 * 0.08)
    assert fc.duration_s == pytest.approx(10.0 + 4 * 8.0)
    # the range runs from "warm-up left out" to "warm-up repeated every epoch"
    assert fc.energy_low_j == pytest.approx(420.0)
    assert fc.energy_high_j == pytest.approx(500.0)
    # from the second epoch on the first is left out of the rate anyway
    second = EpochMark(2, 18.0, 180.0, 1.8, 0.18)
    fc2 = forecast([first, second], 5)
    assert fc2 is not None and fc2.rule == "mean-after-first"
    assert fc2.energy_j == pytest.approx(180.0 + 3 * 80.0)


def test_warm_up_first_epoch_is_left_out_of_the_rate() -> None:
    # epoch 1 carries set-up (compilation, workers): three times a steady epoch
    epochs = [300.0, 100.0, 100.0]
    fc = forecast(marks_of(epochs), 10)
    assert fc is not None
    assert fc.rule == "mean-after-first"
    assert fc.energy_j == pytest.approx(500.0 + 7 * 100.0)
    # the first-epoch rule would have tripled the remaining epochs
    assert fc.energy_j < 500.0 + 7 * 300.0
    # two epochs seen: the rate is the second's alone
    fc2 = forecast(marks_of(epochs[:2]), 10)
    assert fc2 is not None and fc2.rule == "mean-after-first"
    assert fc2.energy_j == pytest.approx(400.0 + 8 * 100.0)


def test_range_comes_from_the_smallest_and_largest_later_epoch() -> None:
    fc = forecast(marks_of([300.0, 90.0, 110.0]), 5)
    assert fc is not None
    assert fc.energy_j == pytest.approx(500.0 + 2 * 100.0)
    assert fc.energy_low_j == pytest.approx(500.0 + 2 * 90.0)
    assert fc.energy_high_j == pytest.approx(500.0 + 2 * 110.0)


def test_steady_noisy_workload_is_forecast_within_ten_percent_after_one_epoch() -> None:
    rng = random.Random(7)
    planned = 20
    epochs = [100.0 * rng.uniform(0.95, 1.05) for _ in range(planned)]
    actual = sum(epochs)
    for seen in (1, 2, 3, 5, 10):
        fc = forecast(marks_of(epochs[:seen]), planned)
        assert fc is not None
        assert abs(fc.error_of(actual)) < 0.10, (seen, fc)
        assert fc.energy_low_j <= fc.energy_j <= fc.energy_high_j


def test_slowing_epochs_follow_the_trend_where_the_mean_would_be_low() -> None:
    # every epoch 6 % slower than the one before (a growing sequence length, say), noisy
    rng = random.Random(3)
    planned = 20
    epochs = [100.0 * (1.0 + 0.06 * k) * rng.uniform(0.98, 1.02) for k in range(planned)]
    actual = sum(epochs)
    three = forecast(marks_of(epochs[:3]), planned)
    assert three is not None and three.rule == "mean-after-first"
    for seen in (4, 5, 8):
        fc = forecast(marks_of(epochs[:seen]), planned)
        assert fc is not None
        assert fc.rule == "trend-after-first"
        mean_error = mean_rule(epochs[:seen], planned) / actual - 1.0
        trend_error = fc.error_of(actual)
        assert abs(trend_error) < 0.05, (seen, trend_error)
        assert mean_error < -0.15, (seen, mean_error)  # the mean rule is clearly low
        assert abs(trend_error) < abs(mean_error) / 3


def test_falling_trend_never_predicts_negative_epochs() -> None:
    epochs = [100.0, 80.0, 40.0, 10.0]  # a collapsing trend, extrapolated below zero
    fc = forecast(marks_of(epochs), 12)
    assert fc is not None and fc.rule == "trend-after-first"
    assert fc.energy_j >= sum(epochs)
    assert math.isfinite(fc.energy_j)


def test_a_short_falling_trend_is_not_followed_below_the_cheapest_epoch_seen() -> None:
    # a slight fall over three later epochs must not make 36 more epochs free
    epochs = [100.0, 100.0, 90.0, 80.0]
    fc = forecast(marks_of(epochs), 40)
    assert fc is not None and fc.rule == "trend-after-first"
    assert fc.energy_j == pytest.approx(sum(epochs) + 36 * 80.0)
    # and a short rising one is capped at twice the dearest epoch seen
    rising = [100.0, 100.0, 150.0, 200.0]
    fc = forecast(marks_of(rising), 40)
    assert fc is not None
    assert fc.energy_j <= sum(rising) + 36 * 400.0 + 1e-6


def test_emissions_cost_and_duration_are_each_projected_from_their_own_series() -> None:
    # constant energy, but the grid got dirtier and epochs slower after the first two
    epochs = [100.0, 100.0, 100.0]
    fc = forecast(
        marks_of(epochs, epoch_s=[1.0, 1.0, 2.0], g_per_j=[1e-4, 1e-4, 3e-4], cost_per_j=2e-5),
        5,
    )
    assert fc is not None
    assert fc.energy_j == pytest.approx(500.0)
    # mean of the later epochs: co2 (0.01 + 0.03) / 2, duration (1 + 2) / 2
    assert fc.co2_g == pytest.approx(0.05 + 2 * 0.02)
    assert fc.duration_s == pytest.approx(4.0 + 2 * 1.5)
    assert fc.cost == pytest.approx(500.0 * 2e-5)


def test_a_run_past_its_plan_is_forecast_at_what_it_used() -> None:
    marks = marks_of([100.0, 110.0, 120.0, 130.0, 140.0])
    fc = forecast(marks, 3)
    assert fc is not None
    assert fc.planned_epochs == 5 and fc.after_epochs == 5
    assert fc.rule == "complete"
    assert fc.energy_j == fc.energy_low_j == fc.energy_high_j == pytest.approx(600.0)
    assert fc.duration_s == pytest.approx(marks[-1].duration_s)
    assert fc.co2_g == pytest.approx(marks[-1].co2_g)
    # exactly at the plan, too
    at_plan = forecast(marks, 5)
    assert at_plan is not None and at_plan.energy_j == pytest.approx(600.0)


def test_no_forecast_without_a_plan_or_an_epoch() -> None:
    assert forecast(marks_of([100.0]), 0) is None
    assert forecast(marks_of([100.0]), -3) is None
    assert forecast([], 10) is None


def test_error_of() -> None:
    fc = Forecast(1, 10, 110.0, 100.0, 120.0, 1.0, 0.1, 10.0, "first-epoch")
    assert fc.error_of(100.0) == pytest.approx(0.10)
    assert fc.error_of(220.0) == pytest.approx(-0.5)
    assert fc.error_of(0.0) == math.inf
    zero = Forecast(1, 10, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, "first-epoch")
    assert zero.error_of(0.0) == 0.0
    assert zero.error_of(-1.0) == 0.0
