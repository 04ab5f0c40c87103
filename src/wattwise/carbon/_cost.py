"""Default electricity price, a placeholder until the user sets their own tariff."""

from __future__ import annotations

from typing import Final

__all__ = ["DEFAULT_CURRENCY", "DEFAULT_PRICE_PER_KWH"]

DEFAULT_PRICE_PER_KWH: Final = 0.15
"""Electricity price per kWh used when none is set: a world-average placeholder.

GlobalPetrolPrices.com, March 2024: the world average was USD 0.152/kWh for households
and USD 0.148/kWh for businesses (https://www.globalpetrolprices.com/electricity_prices/).
Real tariffs range from under 0.05 to over 0.40 per kWh, so set ``price_per_kwh`` (and
``currency``) to your own for any cost figure that matters.
"""

DEFAULT_CURRENCY: Final = "USD"
"""Currency of :data:`DEFAULT_PRICE_PER_KWH`."""
