"""Units and exact conversions. SI inside wattwise: J, W, s, g CO2e, gCO2e/kWh."""

from __future__ import annotations

import math
from typing import Final, Literal

__all__ = [
    "G_PER_LB",
    "J_PER_KWH",
    "LBS_PER_KG",
    "Component",
    "Method",
    "j_to_kwh",
    "kwh_to_j",
    "significant",
    "uj_to_j",
]

J_PER_KWH: Final = 3.6e6
"""Joules in one kilowatt-hour (exact)."""

LBS_PER_KG: Final = 2.20462262185
"""Pounds in one kilogram (international avoirdupois pound, exact to 12 digits)."""

G_PER_LB: Final = 453.59237
"""Grams in one international avoirdupois pound (exact by definition)."""

Component = Literal["cpu", "ram", "gpu", "other"]
"""What a domain's energy is booked to."""

Method = Literal["measured", "estimated"]
"""How a figure was obtained."""


def j_to_kwh(energy_j: float) -> float:
    """Convert joules to kilowatt-hours."""
    return energy_j / J_PER_KWH


def kwh_to_j(energy_kwh: float) -> float:
    """Convert kilowatt-hours to joules."""
    return energy_kwh * J_PER_KWH


def uj_to_j(energy_uj: int | float) -> float:
    """Convert microjoules (powercap, hwmon) to joules."""
    return energy_uj / 1e6


def significant(value: float, digits: int = 3) -> str:
    """At most ``digits`` significant digits, thousands separated, no exponent, no
    trailing zeros (1,230,000; 0.5; 28.5)."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = digits - 1 - math.floor(math.log10(abs(value)))
    text = f"{round(value, decimals):,.{max(decimals, 0)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
