"""Units and exact conversions. SI inside wattwise: J, W, s, g CO2e, gCO2e/kWh."""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "J_PER_KWH",
    "LBS_PER_KG",
    "Component",
    "Method",
    "j_to_kwh",
    "kwh_to_j",
    "uj_to_j",
]

J_PER_KWH: Final = 3.6e6
"""Joules in one kilowatt-hour (exact)."""

LBS_PER_KG: Final = 2.20462262185
"""Pounds in one kilogram (international avoirdupois pound, exact to 12 digits)."""

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
