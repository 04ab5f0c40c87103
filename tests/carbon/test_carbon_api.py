"""The public surface of wattwise.carbon."""

from __future__ import annotations

import wattwise.carbon as carbon

EXPECTED = [
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


def test_exported_members() -> None:
    assert carbon.__all__ == EXPECTED
    for name in EXPECTED:
        assert getattr(carbon, name) is not None


def test_default_price_is_a_documented_placeholder() -> None:
    assert carbon.DEFAULT_CURRENCY == "USD"
    assert 0.05 < carbon.DEFAULT_PRICE_PER_KWH < 0.5


def test_fallback_warning_is_a_user_warning() -> None:
    assert issubclass(carbon.IntensityFallbackWarning, UserWarning)
