"""Everyday equivalents of an energy and emissions figure, each with its assumption.

They make a number readable; they are not measurements. Each constant is stated here and
in docs/methodology.md ("Everyday equivalents") with its source.
"""

from __future__ import annotations

from dataclasses import dataclass

from wattwise.units import J_PER_KWH

__all__ = ["Equivalent", "equivalents", "household_and_flight"]

#: a full smartphone charge drawn from the wall: a ~12 Wh battery plus charger losses
PHONE_CHARGE_KWH = 0.015
#: a 10 W LED bulb (an 800-lumen bulb, a "60 W incandescent equivalent")
LED_BULB_W = 10.0
#: an average passenger car: US EPA Greenhouse Gas Equivalencies Calculator,
#: about 400 g CO2e per mile (4.04e-4 t/mile), i.e. 251 g per km
CAR_G_PER_KM = 404.0 / 1.609344
#: a long-haul economy flight, per passenger-km, radiative forcing included: UK DESNZ
#: greenhouse gas conversion factors 2024 (condensed set), 0.150 kg CO2e per passenger-km
FLIGHT_G_PER_PASSENGER_KM = 150.0
#: an average US household's electricity: US EIA, 10,791 kWh per residential customer in
#: 2022, i.e. 29.6 kWh a day
HOUSEHOLD_KWH_PER_DAY = 10_791 / 365


@dataclass(frozen=True)
class Equivalent:
    """``value`` ``unit`` (e.g. 0.4 smartphone charges), and the assumption behind it."""

    value: float
    unit: str
    assumption: str

    def __str__(self) -> str:
        v = self.value
        shown = f"{v:.2g}" if v < 10 else f"{v:,.0f}"
        return f"{shown} {self.unit}"


def household_and_flight(energy_j: float, co2_g: float) -> tuple[Equivalent, ...]:
    """Days of a household's electricity for the energy; flight distance for emissions."""
    days = energy_j / J_PER_KWH / HOUSEHOLD_KWH_PER_DAY
    household = (
        Equivalent(days * 24 * 60, "minutes of a US household's electricity", _HOUSEHOLD)
        if days < 1 / 24
        else Equivalent(days, "days of a US household's electricity", _HOUSEHOLD)
    )
    km = co2_g / FLIGHT_G_PER_PASSENGER_KM
    flight = (
        Equivalent(km * 1000, "metres of a long-haul flight (one passenger)", _FLIGHT)
        if km < 1
        else Equivalent(km, "km of a long-haul flight (one passenger)", _FLIGHT)
    )
    return household, flight


_HOUSEHOLD = "29.6 kWh/day, US EIA 2022 average residential customer"
_FLIGHT = "150 gCO2e per passenger-km, UK DESNZ 2024, long-haul economy with radiative forcing"


def equivalents(energy_j: float, co2_g: float) -> tuple[Equivalent, ...]:
    """Smartphone charges and LED-bulb time for the energy; car distance for emissions."""
    kwh = energy_j / J_PER_KWH
    bulb_s = energy_j / LED_BULB_W
    if bulb_s < 60:
        bulb = Equivalent(bulb_s, "seconds of a 10 W LED bulb", "10 W LED bulb")
    elif bulb_s < 7200:
        bulb = Equivalent(bulb_s / 60, "minutes of a 10 W LED bulb", "10 W LED bulb")
    else:
        bulb = Equivalent(bulb_s / 3600, "hours of a 10 W LED bulb", "10 W LED bulb")
    metres = co2_g / CAR_G_PER_KM * 1000
    why = "251 gCO2e/km, US EPA average passenger car"
    if metres < 1:
        car = Equivalent(metres * 1000, "millimetres by car", why)
    elif metres < 1000:
        car = Equivalent(metres, "metres by car", why)
    else:
        car = Equivalent(metres / 1000, "km by car", why)
    return (
        Equivalent(kwh / PHONE_CHARGE_KWH, "smartphone charges", "15 Wh per full charge"),
        bulb,
        car,
    )
