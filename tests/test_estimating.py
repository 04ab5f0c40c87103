"""wattwise.estimating: each input form, its range, its assumptions and its errors."""

from __future__ import annotations

import dataclasses

import pytest

from wattwise.catalogue import HardwareEntry, UnknownHardwareError, lookup
from wattwise.estimating import (
    MFU,
    POWER_FRACTION,
    SCALING_EFFICIENCY,
    CarbonBasis,
    Estimate,
    carbon_basis,
    estimate,
    parse_intensity,
    transformer_flops,
)
from wattwise.exceptions import ConfigError
from wattwise.testing.records import make_footprint, make_record

BASIS = CarbonBasis(
    zone="TST",
    zone_name="Testland",
    zone_detail="given",
    intensity_g_per_kwh=200.0,
    intensity_source="test",
    pue=1.5,
    pue_source="test",
    price_per_kwh=0.1,
    currency="EUR",
    price_source="test",
)
GPU = HardwareEntry("Test GPU", "gpu", 400.0, tflops_fp32=20.0, tflops_fp16=100.0)


def _names(est: Estimate) -> list[str]:
    return [a.name for a in est.assumptions]


# -- hardware × count × hours × utilisation -------------------------------------------------


def test_hardware_form_uses_tdp_times_the_default_utilisation_and_spans_its_range() -> None:
    est = estimate(hardware=GPU, count=8, hours=72, carbon=BASIS)
    assert est.method == "hardware"
    assert est.it_energy_kwh == pytest.approx(8 * 400 * POWER_FRACTION.central * 72 / 1000)
    assert est.it_energy_low_kwh == pytest.approx(8 * 400 * POWER_FRACTION.low * 72 / 1000)
    assert est.it_energy_high_kwh == pytest.approx(8 * 400 * POWER_FRACTION.high * 72 / 1000)
    assert est.facility_energy_kwh == pytest.approx(est.it_energy_kwh * 1.5)
    assert est.co2e_g == pytest.approx(est.it_energy_kwh * 1.5 * 200)
    assert est.cost == pytest.approx(est.it_energy_kwh * 1.5 * 0.1)
    assert est.co2e_low_g < est.co2e_g < est.co2e_high_g
    assert est.given == ()
    assert {"TDP", "utilisation", "hours", "host power", "PUE", "carbon intensity"} <= set(
        _names(est)
    )


def test_a_given_utilisation_is_exact_so_the_range_collapses() -> None:
    est = estimate(hardware=GPU, count=2, hours=10, utilisation=0.5, carbon=BASIS)
    assert est.it_energy_kwh == est.it_energy_low_kwh == est.it_energy_high_kwh
    assert est.it_energy_kwh == pytest.approx(2 * 400 * 0.5 * 10 / 1000)
    assert est.given == ("utilisation",)


def test_host_power_adds_to_the_devices() -> None:
    bare = estimate(hardware=GPU, hours=10, utilisation=1.0, carbon=BASIS)
    hosted = estimate(hardware=GPU, hours=10, utilisation=1.0, host_power_w=100, carbon=BASIS)
    assert hosted.it_energy_kwh - bare.it_energy_kwh == pytest.approx(1.0)


def test_a_cloud_instance_counts_as_its_accelerators() -> None:
    est = estimate(hardware="p3.16xlarge", count=2, hours=1, utilisation=1.0, carbon=BASIS)
    v100 = lookup("Tesla V100-SXM2-16GB")
    assert est.count == 16 and est.hardware == v100
    assert v100.tdp_w is not None
    assert est.it_energy_kwh == pytest.approx(16 * v100.tdp_w / 1000)
    assert "p3.16xlarge" in est.description


def test_a_fuzzy_name_resolves_through_the_catalogue() -> None:
    est = estimate(hardware="a100 sxm4 80gb", hours=1, carbon=BASIS)
    assert est.hardware is not None and est.hardware.name == "A100 SXM4 80 GB"


# -- average power × hours ------------------------------------------------------------------


def test_power_form_is_power_times_hours() -> None:
    est = estimate(power_w=1415.78, hours=12, carbon=BASIS)
    assert est.method == "power"
    assert est.it_energy_kwh == pytest.approx(16.98936)
    assert est.it_energy_low_kwh == est.it_energy_high_kwh == est.it_energy_kwh


def test_power_per_device_times_count() -> None:
    est = estimate(device_power_w=310, count=512, hours=480, carbon=BASIS)
    assert est.it_energy_kwh == pytest.approx(512 * 310 * 480 / 1000)
    assert est.count == 512 and "512 × 310 W" in est.description


def test_power_per_device_with_hardware_replaces_tdp_times_utilisation() -> None:
    est = estimate(hardware=GPU, device_power_w=300, count=4, hours=2, carbon=BASIS)
    assert est.method == "hardware"
    assert est.it_energy_kwh == pytest.approx(4 * 300 * 2 / 1000)
    assert est.utilisation == pytest.approx(0.75)


# -- FLOPs ----------------------------------------------------------------------------------


def test_flops_form_turns_compute_into_hours_at_the_peak_and_mfu() -> None:
    flops = 1e21
    est = estimate(flops=flops, hardware=GPU, count=4, carbon=BASIS)
    hours = flops / (4 * 100e12 * MFU.central) / 3600
    assert est.method == "flops" and est.precision == "fp16"
    assert est.hours == pytest.approx(hours)
    # more MFU, fewer hours: the range's low end pairs high MFU with low power
    assert est.hours_low == pytest.approx(flops / (4 * 100e12 * MFU.high) / 3600)
    assert est.hours_high == pytest.approx(flops / (4 * 100e12 * MFU.low) / 3600)
    assert est.it_energy_kwh == pytest.approx(4 * 400 * POWER_FRACTION.central * hours / 1000)
    assert est.it_energy_low_kwh == pytest.approx(
        4 * 400 * POWER_FRACTION.low * est.hours_low / 1000
    )
    assert est.it_energy_low_kwh < est.it_energy_kwh < est.it_energy_high_kwh


def test_params_and_tokens_give_six_n_d() -> None:
    assert transformer_flops(7e9, 2e12) == pytest.approx(8.4e22)
    est = estimate(params=7e9, tokens=2e12, hardware=GPU, mfu=0.5, utilisation=1, carbon=BASIS)
    assert est.flops == pytest.approx(8.4e22)
    assert est.hours == pytest.approx(8.4e22 / (100e12 * 0.5) / 3600)
    assert est.it_energy_kwh == est.it_energy_high_kwh  # everything uncertain was given
    assert est.given == ("utilisation", "mfu")
    assert any("6 ×" in a.value for a in est.assumptions)


def test_fp32_and_a_missing_precision_falls_back_and_says_so() -> None:
    est = estimate(flops=1e18, hardware=GPU, precision="fp32", carbon=BASIS)
    assert est.hours == pytest.approx(1e18 / (20e12 * MFU.central) / 3600)
    only32 = dataclasses.replace(GPU, name="Old GPU", tflops_fp16=None)
    est = estimate(flops=1e18, hardware=only32, carbon=BASIS)
    assert est.precision == "fp32"
    assert any("no fp16 figure" in a.value for a in est.assumptions)


def test_flops_need_a_peak() -> None:
    blind = HardwareEntry("Blind GPU", "gpu", 250.0)
    with pytest.raises(ConfigError, match="no peak FLOP/s for 'Blind GPU'"):
        estimate(flops=1e18, hardware=blind, carbon=BASIS)


# -- a measured run, scaled -----------------------------------------------------------------


def test_a_run_scales_with_data_and_epochs() -> None:
    run = make_record(duration_s=3600.0, machine=make_footprint(3.6e6))  # 1 kWh in 1 h
    est = estimate(run=run, scale_data=2, scale_epochs=5, carbon=BASIS)
    assert est.method == "run"
    assert est.it_energy_kwh == pytest.approx(10.0)
    assert est.hours == pytest.approx(10.0)
    assert est.count == 1


def test_a_run_on_more_devices_loses_to_scaling_efficiency() -> None:
    run = make_record(duration_s=3600.0, machine=make_footprint(3.6e6))
    est = estimate(run=run, devices=4, carbon=BASIS)
    assert est.it_energy_kwh == pytest.approx(1 / SCALING_EFFICIENCY.central)
    assert est.it_energy_low_kwh == pytest.approx(1 / SCALING_EFFICIENCY.high)
    assert est.it_energy_high_kwh == pytest.approx(1 / SCALING_EFFICIENCY.low)
    assert est.hours == pytest.approx(1 / 4 / SCALING_EFFICIENCY.central)
    exact = estimate(run=run, devices=4, scaling_efficiency=1.0, carbon=BASIS)
    assert exact.it_energy_kwh == pytest.approx(1.0) and exact.hours == pytest.approx(0.25)


def test_a_run_keeps_its_measured_range_and_says_when_it_was_estimated() -> None:
    footprint = make_footprint(3.6e6, energy_low_j=1.8e6, energy_high_j=7.2e6, method="estimated")
    run = make_record(duration_s=3600.0, machine=footprint)
    est = estimate(run=run, carbon=BASIS)
    assert (est.it_energy_low_kwh, est.it_energy_high_kwh) == pytest.approx((0.5, 2.0))
    assert est.notes and "estimate" in est.notes[0]


# -- carbon basis ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "g_per_kwh"),
    [
        ("432.7", 432.7),
        (432.7, 432.7),
        ("0.954 lbs/kWh", 0.954 * 453.59237),
        ("0.954lb/kWh", 0.954 * 453.59237),
        ("0.429 kg/kWh", 429.0),
        ("0.4 t/MWh", 400.0),
        ("56 gCO2e/kWh", 56.0),
    ],
)
def test_intensity_units(text: str | float, g_per_kwh: float) -> None:
    assert parse_intensity(text) == pytest.approx(g_per_kwh)


@pytest.mark.parametrize("text", ["lots", "-3", "5000", "1 kg/day", ""])
def test_bad_intensity(text: str) -> None:
    with pytest.raises(ConfigError, match="intensity"):
        parse_intensity(text)


def test_carbon_basis_a_cloud_region_brings_its_pue_and_a_country_a_data_centre() -> None:
    cloud = carbon_basis(zone="gcp:europe-west1", environ={})
    assert cloud.pue != 1.58 and cloud.zone == "gcp:europe-west1"
    country = carbon_basis(zone="FRA", environ={})
    assert country.pue == 1.58 and "Uptime" in country.pue_source
    local = carbon_basis(zone="FRA", setting="local", environ={})
    assert local.pue == 1.0
    mine = carbon_basis(zone="FRA", pue=1.2, intensity="0.1 kg/kWh", price_per_kwh=0.3,
                        currency="EUR", environ={})  # fmt: skip
    assert (mine.pue, mine.intensity_g_per_kwh, mine.price_per_kwh) == (1.2, 100.0, 0.3)
    assert mine.pue_source == "given by the user" and mine.currency == "EUR"


def test_to_dict_is_json_ready_and_complete() -> None:
    import json

    est = estimate(hardware=GPU, count=2, hours=3, carbon=BASIS)
    doc = json.loads(json.dumps(est.to_dict()))
    assert doc["facility_energy_kwh"]["central"] == pytest.approx(est.facility_energy_kwh)
    assert doc["co2e_g"]["low"] == pytest.approx(est.co2e_low_g)
    assert doc["hardware"]["name"] == "Test GPU"
    assert doc["embodied"] is None
    assert len(doc["assumptions"]) == len(est.assumptions)


# -- bad inputs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hardware": GPU, "hours": -3}, "hours must be a finite number > 0"),
        ({"hardware": GPU, "hours": float("nan")}, "hours must be a finite number > 0"),
        ({"hardware": GPU}, "give the hours"),
        ({"power_w": 100}, "give the hours"),
        ({"power_w": -1, "hours": 1}, "power_w must be a finite number > 0"),
        ({}, "nothing to estimate from"),
        ({"power_w": 100, "hours": 1, "flops": 1e18}, "not both"),
        ({"power_w": 100, "hardware": GPU, "hours": 1}, "hardware does not apply"),
        ({"flops": 1e18, "hardware": GPU, "hours": 3}, "hours does not apply .* FLOPs"),
        ({"power_w": 100, "hours": 5, "count": 8}, "count does not apply .* device_power_w"),
        ({"power_w": 100, "hours": 5, "utilisation": 0.5, "mfu": 0.3}, "utilisation and mfu do"),
        ({"hardware": GPU, "hours": 5, "mfu": 0.3}, "mfu does not apply .* hardware and hours"),
        ({"hardware": GPU, "hours": 5, "scale_data": 2.0}, "scale_data does not apply"),
        ({"hardware": GPU, "hours": 5, "devices": 4}, "devices does not apply"),
        ({"params": 1e200, "tokens": 1e200, "hardware": GPU}, "overflows"),
        ({"flops": 1e22, "hardware": GPU, "mfu": 1e-320}, "no finite result"),
        ({"hardware": GPU, "hours": 1e308, "count": 8}, "no finite result"),
        ({"flops": 1e18}, "give the hardware"),
        ({"params": 1e9, "hardware": GPU}, "give both params and tokens"),
        ({"flops": 1e18, "params": 1e9, "tokens": 1e9, "hardware": GPU}, "not both"),
        ({"hardware": GPU, "hours": 1, "utilisation": 2}, "utilisation must be in"),
        ({"flops": 1e18, "hardware": GPU, "mfu": 1.5}, "mfu must be in"),
        ({"hardware": GPU, "hours": 1, "count": 0}, "count must be an integer"),
        ({"hardware": GPU, "hours": 1, "host_power_w": -5}, "host_power_w"),
        ({"run": "abc"}, "run must be a RunRecord"),
    ],
)
def test_bad_inputs_raise_one_clear_line(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        estimate(carbon=BASIS, **kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_unknown_hardware_lists_the_closest_names() -> None:
    with pytest.raises(UnknownHardwareError, match=r"closest: .*H100"):
        estimate(hardware="H200 SXM", hours=1, carbon=BASIS)


def test_hardware_without_a_tdp_asks_for_the_power() -> None:
    with pytest.raises(ConfigError, match="no TDP"):
        estimate(hardware=HardwareEntry("Mystery", "gpu", None), hours=1, carbon=BASIS)


def test_a_run_refuses_inputs_it_would_ignore() -> None:
    run = make_record(duration_s=3600.0, machine=make_footprint(3.6e6))
    with pytest.raises(ConfigError, match=r"hardware and hours do not apply .* a measured run"):
        estimate(run=run, hardware=GPU, hours=3, carbon=BASIS)
    with pytest.raises(ConfigError, match="scaling_efficiency applies when devices differs"):
        estimate(run=run, scaling_efficiency=0.8, carbon=BASIS)


def test_tpu_rows_are_measured_averages_not_tdp() -> None:
    est = estimate(hardware="TPUv3 Chip", count=4, hours=10, carbon=BASIS)
    tpu = lookup("TPUv3 Chip")
    assert tpu.tdp_w is not None
    assert est.it_energy_kwh == est.it_energy_high_kwh == pytest.approx(4 * tpu.tdp_w * 10 / 1000)
    assert any("measured average" in a.source for a in est.assumptions)


def test_embodied_range_follows_the_hours_range() -> None:
    from wattwise.embodied import embodied_default

    est = estimate(flops=1e21, hardware=GPU, count=2, carbon=BASIS, embodied=True)
    gpu = embodied_default("gpu")
    low, high = gpu.inputs(bound="low"), gpu.inputs(bound="high")
    assert est.embodied_low_g == pytest.approx(2 * low.co2e_g(est.hours_low * 3600))
    assert est.embodied_high_g == pytest.approx(2 * high.co2e_g(est.hours_high * 3600))
    assert est.embodied_low_g < est.embodied_g < est.embodied_high_g  # type: ignore[operator]
    assert est.co2e_g == estimate(flops=1e21, hardware=GPU, count=2, carbon=BASIS).co2e_g


def test_a_currency_needs_its_price() -> None:
    with pytest.raises(ConfigError, match="give the price"):
        carbon_basis(zone="FRA", currency="EUR", environ={})


def test_a_user_file_reaches_the_instances_that_carry_its_device(tmp_path: object) -> None:
    from pathlib import Path

    from wattwise.catalogue import catalogue

    path = Path(str(tmp_path)) / "hw.csv"
    path.write_text("name,kind,tdp_w,tflops_fp16\nTesla V100-SXM2-16GB,gpu,333,125\n")
    mine = {e.name: e for e in catalogue(path)}
    assert mine["p3.16xlarge"].tdp_w == pytest.approx(8 * 333)
    est = estimate(hardware="p3.16xlarge", hours=1, utilisation=1.0, carbon=BASIS,
                   hardware_file=str(path))  # fmt: skip
    assert est.it_energy_kwh == pytest.approx(8 * 333 / 1000)
