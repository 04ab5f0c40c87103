from __future__ import annotations

import pytest

from wattwise.integrate import DomainAccumulator, EnergyTriple, trapezoid_j
from wattwise.sensors import Domain, Reading
from wattwise.testing.fake import sine_power

POWER = Domain("x:p", "cpu", "p", "measured", "power")
COUNTER = Domain("x:c", "cpu", "c", "measured", "counter")


def test_trapezoid_is_exact_for_linear_power() -> None:
    # P = 10 + 2t on [0, 4]: E = 40 + 16 = 56 J
    assert trapezoid_j([0, 1, 2.5, 4], [10, 12, 15, 18]) == pytest.approx(56.0)


def test_trapezoid_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError):
        trapezoid_j([0, 1], [1.0])


def test_power_domain_integrates_sine_within_half_a_percent() -> None:
    power, energy = sine_power(60.0, 25.0, period_s=2.0)
    acc = DomainAccumulator(POWER)
    t = 0.0
    while t <= 30.0 + 1e-9:
        acc.add(t, Reading("x:p", power_w=power(t)))
        t += 0.1
    true = energy(0.0, 30.0)
    assert abs(acc.total.value_j - true) / true < 0.005


def test_counter_domain_counts_rise_from_first_reading_and_ignores_resets() -> None:
    acc = DomainAccumulator(COUNTER)
    assert acc.add(0.0, Reading("x:c", energy_j=1000.0)) == EnergyTriple(0, 0, 0)
    assert acc.add(1.0, Reading("x:c", energy_j=1050.0)).value_j == 50.0
    assert acc.power_w == pytest.approx(50.0)
    assert acc.add(2.0, Reading("x:c", energy_j=10.0)).value_j == 0.0  # reset: not negative
    assert acc.add(3.0, Reading("x:c", energy_j=40.0)).value_j == 30.0
    assert acc.total.value_j == 80.0


def test_estimated_ranges_are_carried() -> None:
    acc = DomainAccumulator(Domain("e:c", "cpu", "e", "estimated", "counter"))
    acc.add(0.0, Reading("e:c", energy_j=0, energy_low_j=0, energy_high_j=0))
    acc.add(1.0, Reading("e:c", energy_j=10, energy_low_j=5, energy_high_j=20))
    assert acc.total == EnergyTriple(5, 10, 20)
    pacc = DomainAccumulator(Domain("e:p", "cpu", "e", "estimated", "power"))
    pacc.add(0.0, Reading("e:p", power_w=10, power_low_w=5, power_high_w=20))
    pacc.add(2.0, Reading("e:p", power_w=10, power_low_w=5, power_high_w=20))
    assert pacc.total == EnergyTriple(10, 20, 40)
