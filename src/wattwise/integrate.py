"""Turning readings into energy: counter deltas and trapezoid integration of power.

Pure arithmetic, no I/O and no threads, so it is tested against synthetic sources whose
true energy is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wattwise.sensors._base import Domain, Reading

__all__ = ["DomainAccumulator", "EnergyTriple", "trapezoid_j"]


def trapezoid_j(times_s: Sequence[float], power_w: Sequence[float]) -> float:
    """Energy (J) of a power series by the trapezoid rule."""
    if len(times_s) != len(power_w):
        raise ValueError("times_s and power_w differ in length")
    return sum(
        (power_w[i - 1] + power_w[i]) / 2 * (times_s[i] - times_s[i - 1])
        for i in range(1, len(times_s))
    )


@dataclass(frozen=True)
class EnergyTriple:
    """An energy with its range (J): ``low ≤ value ≤ high``; equal for measured figures."""

    low_j: float
    value_j: float
    high_j: float

    def __add__(self, other: EnergyTriple) -> EnergyTriple:
        return EnergyTriple(
            self.low_j + other.low_j, self.value_j + other.value_j, self.high_j + other.high_j
        )

    def __sub__(self, other: EnergyTriple) -> EnergyTriple:
        return EnergyTriple(
            self.low_j - other.low_j, self.value_j - other.value_j, self.high_j - other.high_j
        )

    def scale(self, factor: float) -> EnergyTriple:
        """Multiply every bound by ``factor``."""
        return EnergyTriple(self.low_j * factor, self.value_j * factor, self.high_j * factor)


ZERO = EnergyTriple(0.0, 0.0, 0.0)


class DomainAccumulator:
    """Energy of one domain since tracking started, from successive readings.

    Counter domains: energy is the counter's rise since the first reading. Power domains:
    trapezoid rule between consecutive readings. :meth:`add` returns the energy of the
    interval since the previous reading, so the caller can attribute it.
    """

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self.total = ZERO
        self.power_w: float | None = None
        self._last_t = 0.0
        self._last_counter: EnergyTriple | None = None
        self._last_power: tuple[float, float, float, float] | None = None  # t, low, mid, high

    def add(self, t_s: float, reading: Reading) -> EnergyTriple:
        """Fold in a reading taken at monotonic time ``t_s``; returns the interval's energy."""
        if self.domain.kind == "counter" and reading.energy_j is not None:
            value = reading.energy_j
            now = EnergyTriple(
                reading.energy_low_j if reading.energy_low_j is not None else value,
                value,
                reading.energy_high_j if reading.energy_high_j is not None else value,
            )
            if self._last_counter is None:
                self._last_counter = now
                self._last_t = t_s
                self.power_w = reading.power_w
                return ZERO
            delta = now - self._last_counter
            if delta.value_j < 0:  # counter reset (driver reload): count nothing for it
                delta = ZERO
            dt = t_s - self._last_t
            self.power_w = (
                reading.power_w
                if reading.power_w is not None
                else (delta.value_j / dt if dt > 0 else self.power_w)
            )
            self._last_counter = now
            self._last_t = t_s
            self.total = self.total + delta
            return delta
        if reading.power_w is not None:
            mid = reading.power_w
            low = reading.power_low_w if reading.power_low_w is not None else mid
            high = reading.power_high_w if reading.power_high_w is not None else mid
            self.power_w = mid
            prev = self._last_power
            self._last_power = (t_s, low, mid, high)
            if prev is None:
                return ZERO
            dt = t_s - prev[0]
            delta = EnergyTriple(
                (prev[1] + low) / 2 * dt, (prev[2] + mid) / 2 * dt, (prev[3] + high) / 2 * dt
            )
            self.total = self.total + delta
            return delta
        return ZERO
