"""Carbon intensity and PUE: which zone a run is in, and what its electricity emits.

Offline by default: a packaged table of zones (countries, US states, cloud regions and
the world average, each with its year and source), an hourly CSV of the user's, or a
fixed number. Live providers (Electricity Maps, WattTime) are used only when asked for,
are time-boxed and cached, and fall back to the table with a warning.
"""

from __future__ import annotations

from wattwise.carbon._cost import DEFAULT_CURRENCY, DEFAULT_PRICE_PER_KWH
from wattwise.carbon._hourly import HourlyCsvIntensity
from wattwise.carbon._intensity import (
    FallbackIntensity,
    FixedIntensity,
    Intensity,
    IntensityFallbackWarning,
    IntensityKind,
    IntensityProvider,
    StaticIntensity,
)
from wattwise.carbon._live import (
    ElectricityMapsIntensity,
    IntensityForecast,
    WattTimeIntensity,
    electricitymaps_zone,
    live_provider_from_env,
)
from wattwise.carbon._pue import (
    DATACENTER_PUE,
    LOCAL_PUE,
    PROVIDER_PUE,
    PueChoice,
    PueSetting,
    resolve_pue,
)
from wattwise.carbon._resolve import ZoneChoice, ZoneHow, resolve_zone, timezone_country
from wattwise.carbon._zones import Zone, ZoneKind, ZoneTable, load_zones

__all__ = [
    "DATACENTER_PUE",
    "DEFAULT_CURRENCY",
    "DEFAULT_PRICE_PER_KWH",
    "LOCAL_PUE",
    "PROVIDER_PUE",
    "ElectricityMapsIntensity",
    "FallbackIntensity",
    "FixedIntensity",
    "HourlyCsvIntensity",
    "Intensity",
    "IntensityFallbackWarning",
    "IntensityForecast",
    "IntensityKind",
    "IntensityProvider",
    "PueChoice",
    "PueSetting",
    "StaticIntensity",
    "WattTimeIntensity",
    "Zone",
    "ZoneChoice",
    "ZoneHow",
    "ZoneKind",
    "ZoneTable",
    "electricitymaps_zone",
    "live_provider_from_env",
    "load_zones",
    "resolve_pue",
    "resolve_zone",
    "timezone_country",
]
