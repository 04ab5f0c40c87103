"""Static, fixed, fallback and hourly-CSV intensity providers."""

from __future__ import annotations

import math
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from wattwise.carbon import (
    FallbackIntensity,
    FixedIntensity,
    HourlyCsvIntensity,
    Intensity,
    IntensityFallbackWarning,
    IntensityProvider,
    StaticIntensity,
    load_zones,
)
from wattwise.exceptions import ConfigError, IntensityError

UTC = timezone.utc
NOW = datetime(2024, 6, 1, 12, 30, tzinfo=UTC)


def test_static_intensity_is_the_zone_figure() -> None:
    zone = load_zones().get("FRA")
    value = StaticIntensity(zone).intensity_at(NOW)
    assert value == Intensity(zone.intensity_g_per_kwh, "FRA", zone.year, zone.source, "static")
    assert "FRA" in repr(StaticIntensity(zone))


@pytest.mark.parametrize("good", [0.0, 1.0, 420.5, 3000.0])
def test_fixed_intensity(good: float) -> None:
    value = FixedIntensity(good).intensity_at(NOW)
    assert value.g_per_kwh == good and value.kind == "user" and value.year is None
    assert value.source == "user-set intensity"


@pytest.mark.parametrize("bad", [-0.1, 3000.1, math.nan, math.inf])
def test_fixed_intensity_is_validated(bad: float) -> None:
    with pytest.raises(ConfigError, match="0-3000 gCO2e/kWh"):
        FixedIntensity(bad)


class _Flaky(IntensityProvider):
    def __init__(self) -> None:
        self.calls = 0
        self.fail = True

    def intensity_at(self, at: datetime) -> Intensity:
        self.calls += 1
        if self.fail:
            raise IntensityError("flaky: HTTP 503")
        return Intensity(42.0, "XX", 2024, "flaky", "live")


def test_fallback_warns_once_and_returns_the_fallback() -> None:
    primary = _Flaky()
    fallback = StaticIntensity(load_zones().get("DEU"))
    provider = FallbackIntensity(primary, fallback, retry_s=0.0)
    with pytest.warns(IntensityFallbackWarning, match="flaky: HTTP 503"):
        first = provider.intensity_at(NOW)
    assert first == fallback.intensity_at(NOW)
    assert isinstance(provider.last_error, IntensityError)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert provider.intensity_at(NOW) == first  # no second warning
    assert primary.calls == 2
    primary.fail = False
    assert provider.intensity_at(NOW).g_per_kwh == 42.0


def test_fallback_leaves_a_failed_primary_alone_for_a_while() -> None:
    primary = _Flaky()
    provider = FallbackIntensity(primary, FixedIntensity(100.0), retry_s=3600.0)
    with pytest.warns(IntensityFallbackWarning):
        provider.intensity_at(NOW)
    for _ in range(3):
        assert provider.intensity_at(NOW).g_per_kwh == 100.0
    assert primary.calls == 1


def test_fallback_passes_a_working_primary_through() -> None:
    primary = _Flaky()
    primary.fail = False
    provider = FallbackIntensity(primary, FixedIntensity(1.0))
    assert provider.intensity_at(NOW).g_per_kwh == 42.0
    assert "FallbackIntensity" in repr(provider)


# -- hourly CSV ----------------------------------------------------------------------------


def _csv(tmp_path: Path, text: str, name: str = "hours.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


HOURS = """timestamp,intensity
2024-06-01T10:00:00Z,100
2024-06-01T11:00:00Z,110
2024-06-01T12:00:00Z,120
2024-06-01T13:00:00Z,130
"""


def test_hourly_csv_inside_range(tmp_path: Path) -> None:
    provider = HourlyCsvIntensity(_csv(tmp_path, HOURS))
    value = provider.intensity_at(NOW)
    assert value.g_per_kwh == 120 and value.kind == "hourly-csv" and value.year == 2024
    assert value.source == "hourly CSV hours.csv, row 2024-06-01T12:00Z"
    assert provider.intensity_at(datetime(2024, 6, 1, 11, 0, tzinfo=UTC)).g_per_kwh == 110
    assert provider.intensity_at(datetime(2024, 6, 1, 13, 59, tzinfo=UTC)).g_per_kwh == 130
    # Naive means UTC; other offsets are converted.
    assert provider.intensity_at(datetime(2024, 6, 1, 10, 59)).g_per_kwh == 100
    paris = timezone(timedelta(hours=2))
    assert provider.intensity_at(datetime(2024, 6, 1, 13, 15, tzinfo=paris)).g_per_kwh == 110
    assert provider.start == datetime(2024, 6, 1, 10, tzinfo=UTC)
    assert provider.end == datetime(2024, 6, 1, 14, tzinfo=UTC)


def test_hourly_csv_outside_range_uses_nearest_row_and_says_so(tmp_path: Path) -> None:
    provider = HourlyCsvIntensity(_csv(tmp_path, HOURS))
    before = provider.intensity_at(datetime(2024, 5, 1, tzinfo=UTC))
    after = provider.intensity_at(datetime(2024, 6, 1, 14, 0, tzinfo=UTC))
    assert (before.g_per_kwh, after.g_per_kwh) == (100, 130)
    for value in (before, after):
        assert "outside the file's range 2024-06-01T10:00Z to 2024-06-01T14:00Z" in value.source
        assert "nearest row used" in value.source


def test_hourly_csv_flexible_headers_unsorted_rows_and_naive_times(tmp_path: Path) -> None:
    text = (
        "zone,Datetime (UTC),Carbon_Intensity\nFR,2024-01-01 01:00,55.5\n\nFR,2024-01-01 00:00,50\n"
    )
    provider = HourlyCsvIntensity(_csv(tmp_path, text), zone="FR")
    value = provider.intensity_at(datetime(2024, 1, 1, 1, 30, tzinfo=UTC))
    assert value.g_per_kwh == 55.5 and value.zone == "FR"
    assert provider.intensity_at(datetime(2024, 1, 1, 0, 10, tzinfo=UTC)).g_per_kwh == 50


def test_hourly_csv_series_is_sorted_with_its_lines(tmp_path: Path) -> None:
    text = (
        "zone,Datetime (UTC),Carbon_Intensity\nFR,2024-01-01 01:00,55.5\n\nFR,2024-01-01 00:00,50\n"
    )
    provider = HourlyCsvIntensity(_csv(tmp_path, text))
    series = provider.series()
    assert series == [
        (datetime(2024, 1, 1, 0, 0, tzinfo=UTC), 50.0),
        (datetime(2024, 1, 1, 1, 0, tzinfo=UTC), 55.5),
    ]
    assert provider.line_numbers == (4, 2)  # the blank line 3 counts, sorting keeps the lines
    series.clear()
    assert len(provider.series()) == 2  # a new list each call


@pytest.mark.parametrize(
    "header", ["datetime,gco2e_per_kwh", "Time,Carbon Intensity", "\ufefftimestamp,intensity"]
)
def test_hourly_csv_header_names(tmp_path: Path, header: str) -> None:
    provider = HourlyCsvIntensity(_csv(tmp_path, f"{header}\n2024-01-01T00:00+00:00,7\n"))
    assert provider.intensity_at(NOW).g_per_kwh == 7


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "bad.csv: the intensity CSV is empty"),
        ("timestamp,intensity\n", "bad.csv: the intensity CSV has a header but no rows"),
        ("when,intensity\n2024-01-01,1\n", "bad.csv:1: no timestamp column"),
        ("timestamp,value\n2024-01-01,1\n", "bad.csv:1: no intensity column"),
        (
            "timestamp,intensity_direct,intensity_lca\n2024-01-01,1,2\n",
            "bad.csv:1: several intensity columns",
        ),
        (
            "timestamp,intensity\n2024-01-01,1\nyesterday,2\n",
            "bad.csv:3: bad timestamp 'yesterday'",
        ),
        ("timestamp,intensity\n2024-01-01,1\n2024-01-02,abc\n", "bad.csv:3: bad intensity"),
        ("timestamp,intensity\n2024-01-01,-5\n", "bad.csv:2: bad intensity: '-5' must be 0-3000"),
        ("timestamp,intensity\n2024-01-01,nan\n", "bad.csv:2: bad intensity"),
        ("timestamp,intensity\n2024-01-01\n", "bad.csv:2: expected 2 columns, found 1"),
        (
            "timestamp,intensity\n2024-01-01T00:00Z,1\n2024-01-01T00:00+00:00,2\n",
            "bad.csv:3: timestamp 2024-01-01T00:00:00+00:00 appears twice",
        ),
    ],
)
def test_hourly_csv_bad_files(tmp_path: Path, text: str, message: str) -> None:
    path = _csv(tmp_path, text, "bad.csv")
    with pytest.raises(ConfigError) as info:
        HourlyCsvIntensity(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_hourly_csv_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the intensity CSV"):
        HourlyCsvIntensity(tmp_path / "absent.csv")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(ConfigError, match=r"binary\.csv"):
        HourlyCsvIntensity(binary)
