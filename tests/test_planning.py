"""wattwise.planning: ranking zones and accelerators for the same job."""

from __future__ import annotations

import itertools

import pytest

from wattwise.carbon import PROVIDER_PUE, Zone, ZoneTable
from wattwise.catalogue import HardwareEntry
from wattwise.estimating import MFU, POWER_FRACTION, CarbonBasis, estimate
from wattwise.exceptions import ConfigError, UnknownZoneError
from wattwise.planning import compare_hardware, compare_regions


def _zone(id_: str, kind: str, g: float, pue: float | None = None, provider: str = "") -> Zone:
    return Zone(id_, id_.title(), kind, provider, "", g, 2024, "test", pue, "site", "")  # type: ignore[arg-type]


TABLE = ZoneTable(
    [
        _zone("WORLD", "world", 475.0),
        _zone("HOME", "country", 300.0),
        _zone("CLEAN", "country", 20.0),
        _zone("x:hydro", "cloud_region", 30.0, pue=1.5, provider="x"),  # 45 g per IT kWh
        _zone("x:coal", "cloud_region", 800.0, pue=1.1, provider="x"),  # 880
        _zone("gcp:solar", "cloud_region", 40.0, provider="gcp"),  # provider PUE
        _zone("y:wind", "cloud_region", 35.0, pue=1.2, provider="y"),  # 42
    ]
)
HOME = CarbonBasis("HOME", "Home", "given", 300.0, "test", 1.4, "test", 0.1, "EUR", "test")
GPU = HardwareEntry("Mid GPU", "gpu", 300.0, tflops_fp16=100.0)


def _job() -> object:
    return estimate(power_w=1000, hours=10, carbon=HOME)  # 10 kWh IT


def test_cloud_regions_rank_by_intensity_times_their_own_pue() -> None:
    rows = compare_regions(_job(), table=TABLE)  # type: ignore[arg-type]
    gcp = 40.0 * PROVIDER_PUE["gcp"].value
    expected = sorted(
        [("y:wind", 42.0), ("x:hydro", 45.0), ("gcp:solar", gcp), ("x:coal", 880.0),
         ("HOME", 300.0 * 1.4)],
        key=lambda p: p[1],
    )  # fmt: skip
    assert [r.zone for r in rows] == [z for z, _ in expected]
    assert [r.rank for r in rows] == list(range(1, len(rows) + 1))
    for row, (_, g_per_it_kwh) in zip(rows, expected, strict=True):
        assert row.co2e_g == pytest.approx(10 * g_per_it_kwh)
    home = next(r for r in rows if r.is_current)
    assert home.zone == "HOME" and home.pue == 1.4  # the estimate's own zone, always there
    assert sum(r.is_current for r in rows) == 1


def test_a_zone_without_its_own_pue_uses_the_provider_or_the_estimates() -> None:
    rows = {r.zone: r for r in compare_regions(_job(), kind="all", table=TABLE)}  # type: ignore[arg-type]
    assert rows["gcp:solar"].pue == PROVIDER_PUE["gcp"].value
    assert rows["CLEAN"].pue == 1.4 and "as the estimate" in rows["CLEAN"].pue_source
    assert "WORLD" not in rows
    assert min(rows.values(), key=lambda r: r.co2e_g).zone == "CLEAN"  # 20 × 1.4 = 28


def test_named_zones_and_provider_filters() -> None:
    rows = compare_regions(_job(), zones=["x:coal", "CLEAN"], table=TABLE)  # type: ignore[arg-type]
    assert [r.zone for r in rows] == ["CLEAN", "HOME", "x:coal"]
    rows = compare_regions(_job(), provider="x", table=TABLE)  # type: ignore[arg-type]
    assert {r.zone for r in rows} == {"x:hydro", "x:coal", "HOME"}
    with pytest.raises(ConfigError, match="no cloud zones of provider 'nope'"):
        compare_regions(_job(), provider="nope", table=TABLE)  # type: ignore[arg-type]
    with pytest.raises(UnknownZoneError):
        compare_regions(_job(), zones=["ATLANTIS"], table=TABLE)  # type: ignore[arg-type]


def test_the_range_follows_the_estimate() -> None:
    est = estimate(hardware=GPU, hours=10, carbon=HOME)
    rows = compare_regions(est, table=TABLE)
    best = rows[0]
    assert best.co2e_low_g == pytest.approx(est.it_energy_low_kwh * best.pue * 35.0)
    assert best.co2e_low_g < best.co2e_g < best.co2e_high_g


def test_the_packaged_table_ranks_every_cloud_region() -> None:
    from wattwise.carbon import load_zones

    rows = compare_regions(_job())  # type: ignore[arg-type]
    clouds = [z for z in load_zones() if z.kind == "cloud_region"]
    assert len(rows) == len(clouds) + 1  # and HOME, which the packaged table lacks
    assert next(r for r in rows if r.is_current).year == 0
    assert all(a.co2e_g <= b.co2e_g for a, b in itertools.pairwise(rows))


# -- hardware -------------------------------------------------------------------------------

ENTRIES = [
    HardwareEntry("Hot GPU", "gpu", 400.0, tflops_fp16=50.0),  # 8 W per TFLOP/s
    HardwareEntry("Cool GPU", "gpu", 300.0, tflops_fp16=150.0),  # 2
    HardwareEntry("Old GPU", "gpu", 250.0, tflops_fp32=10.0),  # 25, fp32 only
    HardwareEntry("Blind GPU", "gpu", 250.0),  # no peak: left out
    HardwareEntry("A CPU", "cpu", 100.0, tflops_fp32=1.0),  # not an accelerator
]


def test_accelerators_rank_by_energy_for_the_same_flops() -> None:
    est = estimate(flops=1e21, hardware=GPU, count=4, carbon=HOME)  # 3 W per TFLOP/s
    rows = compare_hardware(est, entries=ENTRIES)
    assert [r.name for r in rows] == ["Cool GPU", "Mid GPU", "Hot GPU", "Old GPU"]
    cool = rows[0]
    hours = 1e21 / (4 * 150e12 * MFU.central) / 3600
    assert cool.hours == pytest.approx(hours)
    assert cool.it_energy_kwh == pytest.approx(4 * 300 * POWER_FRACTION.central * hours / 1000)
    assert rows[1].is_current and not cool.is_current
    assert rows[3].precision == "fp32"  # no fp16 figure: its fp32 peak, said
    assert cool.it_energy_low_kwh < cool.it_energy_kwh < cool.it_energy_high_kwh


def test_hardware_and_hours_give_the_flops_to_compare() -> None:
    est = estimate(hardware=GPU, count=2, hours=10, mfu=None, carbon=HOME)
    rows = {r.name: r for r in compare_hardware(est, entries=ENTRIES)}
    # on its own hardware the job takes its own hours back
    assert rows["Mid GPU"].hours == pytest.approx(10.0)
    assert rows["Cool GPU"].hours == pytest.approx(10.0 * 100 / 150)


def test_comparing_hardware_needs_hardware() -> None:
    with pytest.raises(ConfigError, match="needs an estimate from hardware or FLOPs"):
        compare_hardware(_job())  # type: ignore[arg-type]
