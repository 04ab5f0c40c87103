"""Carbon-intensity providers: the contract, the zone's annual figure, a user number, fallback."""

from __future__ import annotations

import abc
import math
import threading
import time
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from wattwise.carbon._zones import Zone
from wattwise.exceptions import ConfigError, IntensityError, IntensityFallbackWarning

__all__ = [
    "FallbackIntensity",
    "FixedIntensity",
    "Intensity",
    "IntensityFallbackWarning",
    "IntensityKind",
    "IntensityProvider",
    "StaticIntensity",
]

IntensityKind = Literal["static", "hourly-csv", "live", "user"]
"""Where an intensity figure comes from."""

MAX_G_PER_KWH = 3000.0
"""Upper bound accepted for a grid intensity (coal is about 1,000 gCO2e/kWh)."""


@dataclass(frozen=True)
class Intensity:
    """A grid carbon intensity and what it is.

    Attributes:
        g_per_kwh: gCO2e per kWh (CO2 only where ``source`` says so).
        zone: the zone or provider zone code the figure is for.
        year: the year the figure describes, when known.
        source: where the figure comes from, in words, with a URL where there is one.
        kind: ``static`` (annual table), ``hourly-csv``, ``live`` or ``user``.
    """

    g_per_kwh: float
    zone: str
    year: int | None
    source: str
    kind: IntensityKind


class IntensityProvider(abc.ABC):
    """Gives the grid carbon intensity at a point in time.

    Implementations are safe to call from several threads and never block longer than
    their stated time limit; failures raise :class:`~wattwise.exceptions.IntensityError`.
    """

    @abc.abstractmethod
    def intensity_at(self, at: datetime) -> Intensity:
        """The intensity that applies at ``at`` (timezone-aware; naive means UTC)."""


class StaticIntensity(IntensityProvider):
    """The zone's annual average from the packaged table, at any time."""

    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self._value = Intensity(zone.intensity_g_per_kwh, zone.id, zone.year, zone.source, "static")

    def intensity_at(self, at: datetime) -> Intensity:
        """The zone's annual figure, whatever ``at``."""
        return self._value

    def __repr__(self) -> str:
        return f"StaticIntensity({self.zone.id!r})"


def check_g_per_kwh(value: float | str, what: str) -> float:
    """``value`` as a float if it is a plausible intensity (0-3000), else ConfigError."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what}: {value!r} is not a number") from None
    if not (math.isfinite(number) and 0.0 <= number <= MAX_G_PER_KWH):
        raise ConfigError(f"{what}: {value!r} must be 0-3000 gCO2e/kWh")
    return number


class FixedIntensity(IntensityProvider):
    """A number the user gave, in gCO2e/kWh (0-3000), at any time."""

    def __init__(self, g_per_kwh: float, *, zone: str = "user") -> None:
        value = check_g_per_kwh(g_per_kwh, "invalid intensity_g_per_kwh")
        self._value = Intensity(value, zone, None, "user-set intensity", "user")

    def intensity_at(self, at: datetime) -> Intensity:
        """The user's figure, whatever ``at``."""
        return self._value

    def __repr__(self) -> str:
        return f"FixedIntensity({self._value.g_per_kwh!r})"


class FallbackIntensity(IntensityProvider):
    """``primary``'s figure; ``fallback``'s when the primary raises IntensityError.

    The first failure warns once (:class:`IntensityFallbackWarning`); after a failure the
    primary is left alone for ``retry_s`` seconds so a dead service costs no more waits.
    """

    def __init__(
        self, primary: IntensityProvider, fallback: IntensityProvider, *, retry_s: float = 300.0
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.retry_s = retry_s
        self.last_error: IntensityError | None = None
        self._lock = threading.Lock()
        self._warned = False
        self._retry_at = 0.0

    def intensity_at(self, at: datetime) -> Intensity:
        """The primary's figure, or the fallback's after a failure."""
        with self._lock:
            skip = time.monotonic() < self._retry_at
        if not skip:
            try:
                return self.primary.intensity_at(at)
            except IntensityError as exc:
                with self._lock:
                    self.last_error = exc
                    self._retry_at = time.monotonic() + self.retry_s
                    warn = not self._warned
                    self._warned = True
                if warn:
                    warnings.warn(
                        f"{exc}; using the fallback intensity instead",
                        IntensityFallbackWarning,
                        stacklevel=2,
                    )
        return self.fallback.intensity_at(at)

    def __repr__(self) -> str:
        return f"FallbackIntensity({self.primary!r}, {self.fallback!r})"
