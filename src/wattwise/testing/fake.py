"""Sensors for tests: a synthetic source whose true energy is known, and one that fails."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from wattwise.exceptions import SensorError
from wattwise.sensors._base import Domain, DomainKind, Reading, Sensor, SensorProbe
from wattwise.units import Component

__all__ = ["FailingSensor", "SyntheticSensor", "sine_power"]


def sine_power(
    base_w: float = 50.0, amp_w: float = 20.0, period_s: float = 3.0
) -> tuple[Callable[[float], float], Callable[[float, float], float]]:
    """``P(t) = base + amp·sin(2πt/period)`` and its exact energy between two times."""

    def power(t: float) -> float:
        return base_w + amp_w * math.sin(2 * math.pi * t / period_s)

    def energy(t0: float, t1: float) -> float:
        k = 2 * math.pi / period_s
        return base_w * (t1 - t0) - amp_w / k * (math.cos(k * t1) - math.cos(k * t0))

    return power, energy


class SyntheticSensor(Sensor):
    """One domain driven by ``power(t)``: as a power domain, or as an exact counter.

    Like a real sensor it refuses reads once closed (``closed`` counts the closes).
    """

    name = "synthetic"

    def __init__(
        self,
        power: Callable[[float], float],
        energy: Callable[[float, float], float] | None = None,
        *,
        kind: DomainKind = "power",
        component: Component = "cpu",
        key: str = "synthetic:cpu",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if kind == "counter" and energy is None:
            raise ValueError("a counter needs the exact energy function")
        self._power = power
        self._energy = energy
        self._clock = clock
        self._t0 = clock()
        self._domain = Domain(key, component, f"synthetic {component}", "measured", kind)
        self.reads: list[float] = []
        self.closed = 0

    @classmethod
    def probe(cls, **params: Any) -> SensorProbe:
        return SensorProbe(cls.name, True, detail="synthetic test source")

    def domains(self) -> Sequence[Domain]:
        return [self._domain]

    def read(self) -> list[Reading]:
        if self.closed:
            raise SensorError("synthetic sensor read after close")
        t = self._clock()
        self.reads.append(t)
        if self._domain.kind == "counter":
            assert self._energy is not None
            return [
                Reading(
                    self._domain.key, energy_j=self._energy(self._t0, t), power_w=self._power(t)
                )
            ]
        return [Reading(self._domain.key, power_w=self._power(t))]

    def close(self) -> None:
        self.closed += 1


class FailingSensor(Sensor):
    """Wraps a sensor and raises ``SensorError`` from the ``fail_after``-th read on."""

    def __init__(self, inner: Sensor, fail_after: int) -> None:
        self.inner = inner
        self.name = f"failing-{inner.name}"  # type: ignore[misc]
        self.fail_after = fail_after
        self.count = 0
        self.closed = 0

    @classmethod
    def probe(cls, **params: Any) -> SensorProbe:
        return SensorProbe("failing", True)

    def domains(self) -> Sequence[Domain]:
        return self.inner.domains()

    def read(self) -> list[Reading]:
        self.count += 1
        if self.count > self.fail_after:
            raise SensorError("injected failure: device lost")
        return self.inner.read()

    def close(self) -> None:
        self.closed += 1
