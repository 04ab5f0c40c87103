"""The packaged zone table: content, lookups, suggestions and search."""

from __future__ import annotations

import subprocess
import sys

import pytest

from wattwise.carbon import Zone, ZoneTable, load_zones
from wattwise.exceptions import ConfigError, UnknownZoneError


def test_table_loads_once_and_every_row_has_year_and_source() -> None:
    table = load_zones()
    assert load_zones() is table
    assert len(table) > 300
    ids = [z.id.casefold() for z in table]
    assert len(ids) == len(set(ids))
    for zone in table:
        assert 2000 <= zone.year <= 2030, zone
        assert zone.source.strip(), zone
        assert 0 <= zone.intensity_g_per_kwh <= 3000, zone
        assert zone.kind in ("country", "us_state", "cloud_region", "world")
        assert (zone.pue is None) == (zone.pue_source is None), zone
        if zone.pue is not None:
            assert 1.0 <= zone.pue <= 3.0
    kinds = {z.kind for z in table}
    assert kinds == {"country", "us_state", "cloud_region", "world"}


def test_world_zone() -> None:
    world = load_zones().world()
    assert world.id == "WORLD" and world.kind == "world"
    assert world.intensity_g_per_kwh == 475 and world.year == 2018
    assert "IEA" in world.source


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("FRA", "FRA"),
        ("fra", "FRA"),
        ("FR", "FRA"),
        ("fr", "FRA"),
        ("France", "FRA"),
        ("  france ", "FRA"),
        ("French Republic", "FRA"),
        ("UK", "GBR"),
        ("GB", "GBR"),
        ("United Kingdom", "GBR"),
        ("US", "USA"),
        ("Georgia", "GEO"),  # the country wins over the US state
        ("US-GA", "US-GA"),
        ("us-ca", "US-CA"),
        ("California", "US-CA"),
        ("aws:us-east-1", "aws:us-east-1"),
        ("AWS:US-EAST-1", "aws:us-east-1"),
        ("us-east-1", "aws:us-east-1"),
        ("gcp:europe-west1", "gcp:europe-west1"),
        ("azure:westeurope", "azure:westeurope"),
        ("westeurope", "azure:westeurope"),
        ("WORLD", "WORLD"),
        ("world", "WORLD"),
    ],
)
def test_lookup(query: str, expected: str) -> None:
    table = load_zones()
    assert table.get(query).id == expected
    assert query in table


def test_us_state_is_egrid_2016_co2_only() -> None:
    ca = load_zones().get("US-CA")
    assert ca.kind == "us_state" and ca.country_iso3 == "USA" and ca.year == 2016
    assert "eGRID 2016" in ca.source and "CO2 only" in ca.source
    assert 100 < ca.intensity_g_per_kwh < 400  # g/kWh, not lbs/MWh


def test_gcp_uses_googles_figures_and_keeps_site_pue() -> None:
    zone = load_zones().get("gcp:europe-west1")
    assert zone.provider == "gcp" and zone.country_iso3 == "BEL" and zone.iso2 == "BE"
    assert zone.year == 2023 and "cloud.google.com" in zone.source
    assert zone.intensity_g_per_kwh == 122
    assert zone.pue == 1.09 and zone.pue_source and "google.com" in zone.pue_source


def test_older_cloud_rows_say_where_they_come_from() -> None:
    zone = load_zones().get("aws:eu-west-3")
    assert zone.year == 2019 and "ML CO2 Impact" in zone.source and zone.pue is None
    assert zone.country_iso3 == "FRA" and zone.name.startswith("AWS eu-west-3")


def test_unknown_zone_lists_close_matches() -> None:
    with pytest.raises(UnknownZoneError) as info:
        load_zones().get("Frnace")
    assert isinstance(info.value, ConfigError)
    assert info.value.zone == "Frnace"
    assert info.value.suggestions[0] == "FRA"
    assert 1 <= len(info.value.suggestions) <= 3
    assert "closest: FRA" in str(info.value)


def test_unknown_zone_without_anything_close() -> None:
    with pytest.raises(UnknownZoneError) as info:
        load_zones().get("qqqqqqqqqqqq")
    assert info.value.suggestions == []
    assert "qqqqqqqqqqqq" not in load_zones()


def test_search_substring_kind_and_fuzzy() -> None:
    table = load_zones()
    assert len(table.search(None)) == len(table)
    assert len(table.search("")) == len(table)
    countries = table.search(None, kind="country")
    assert countries and all(z.kind == "country" for z in countries)
    france = [z.id for z in table.search("france")]
    assert france[0] == "FRA" and "aws:eu-west-3" in france
    assert [z.id for z in table.search("us-east-1")] == ["aws:us-east-1"]
    assert all(z.kind == "cloud_region" for z in table.search("france", kind="cloud_region"))
    assert "DEU" in [z.id for z in table.search("Germny")]
    assert table.search("qqqqqqqqqq") == []
    assert table.search("france", kind="planet") == []


def test_iteration_matches_len() -> None:
    table = load_zones()
    assert sum(1 for _ in table) == len(table)


def _zone(zone_id: str, kind: str = "country") -> Zone:
    return Zone(zone_id, zone_id, kind, "", "", 1.0, 2020, "test", None, None)  # type: ignore[arg-type]


def test_a_table_needs_exactly_one_world_zone() -> None:
    with pytest.raises(ValueError, match="world"):
        ZoneTable([_zone("AAA")])
    table = ZoneTable([_zone("AAA"), _zone("WORLD", "world")])
    assert table.world().id == "WORLD" and len(table) == 2


def test_import_reads_nothing() -> None:
    code = "import wattwise.carbon as c; print(c.load_zones.cache_info().currsize)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"
