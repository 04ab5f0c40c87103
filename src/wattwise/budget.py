"""Energy, emissions and cost budgets for a training run.

A budget warns as soon as a forecast of the planned run goes over one of its limits, and
asks the training loop to stop once the run's actual total reaches one. Totals include
what earlier segments of a resumed fit used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from wattwise.exceptions import ConfigError
from wattwise.units import J_PER_KWH

__all__ = ["Budget"]


@dataclass(frozen=True)
class Budget:
    """Limits on a run: IT energy (kWh), emissions (gCO2e) and electricity cost.

    Any of them may be None (no limit). ``Budget()`` has no limit and never fires.
    """

    kwh: float | None = None
    gco2e: float | None = None
    cost: float | None = None

    def __post_init__(self) -> None:
        for name in ("kwh", "gco2e", "cost"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (math.isfinite(value) and value > 0)
            ):
                raise ConfigError(f"invalid budget {name}={value!r}: must be a finite number > 0")

    @property
    def active(self) -> bool:
        """Whether any limit is set."""
        return any(v is not None for v in (self.kwh, self.gco2e, self.cost))

    def as_dict(self) -> dict[str, float]:
        """The limits that are set, by name (``kwh``, ``gco2e``, ``cost``)."""
        return {
            k: float(v)
            for k, v in (("kwh", self.kwh), ("gco2e", self.gco2e), ("cost", self.cost))
            if v is not None
        }

    def fraction_used(self, energy_j: float, co2_g: float, cost: float) -> float:
        """The largest share of any limit used so far (1.0 = reached); 0 with no limit."""
        shares = [0.0]
        if self.kwh is not None:
            shares.append(energy_j / J_PER_KWH / self.kwh)
        if self.gco2e is not None:
            shares.append(co2_g / self.gco2e)
        if self.cost is not None:
            shares.append(cost / self.cost)
        return max(shares)

    def over(self, energy_j: float, co2_g: float, cost: float, *, currency: str = "") -> str | None:
        """A sentence naming the first limit these totals reach, or None."""
        unit = f" {currency}" if currency else ""
        if self.kwh is not None and energy_j / J_PER_KWH >= self.kwh:
            return f"energy {energy_j / J_PER_KWH:.4g} kWh reached the budget of {self.kwh:g} kWh"
        if self.gco2e is not None and co2_g >= self.gco2e:
            return f"emissions {co2_g:.4g} gCO2e reached the budget of {self.gco2e:g} gCO2e"
        if self.cost is not None and cost >= self.cost:
            return f"cost {cost:.4g}{unit} reached the budget of {self.cost:g}{unit}"
        return None
