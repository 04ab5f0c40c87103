"""The Markdown "Energy and carbon" section, from real tracked runs."""

from __future__ import annotations

import time

from wattwise.equivalents import (
    FLIGHT_G_PER_PASSENGER_KM,
    HOUSEHOLD_KWH_PER_DAY,
    household_and_flight,
)
from wattwise.report.markdown import markdown_report, md_escape
from wattwise.testing.fake import SyntheticSensor
from wattwise.tracking import Tracker


def _sensor() -> SyntheticSensor:
    return SyntheticSensor(lambda t: 100.0, lambda a, b: 100.0 * (b - a), kind="counter")


def test_the_section_says_what_where_how_much_and_how_it_was_obtained() -> None:
    with Tracker("resnet-tiny", store=False, sensors=[_sensor()], zone="FRA", live="off") as run:
        for _ in run.epochs(2):
            time.sleep(0.05)
            run.step(samples=8)
    md = markdown_report(run.result)
    r = run.result
    assert md.startswith("## Energy and carbon\n")
    assert f"{r.energy_kwh:.3g} kWh" in md
    assert f"{r.co2_g:.3g} gCO2e" in md
    assert "PUE" in md and "FRA" in md and "source:" in md
    assert "synthetic cpu: measured" in md
    assert "Embodied emissions (SCI's M) | not included" in md
    assert "2 epochs of 2 planned" in md and "Forecast after epoch 1" in md
    assert "household" in md and "long-haul flight" in md
    # every table row has the two columns
    rows = [x for x in md.splitlines() if x.startswith("| ") and "---" not in x]
    assert all(x.count(" | ") >= 1 and x.endswith("|") for x in rows)


def test_user_strings_cannot_inject_markdown_or_html() -> None:
    name = "<script>alert(1)</script> | *bold* [x](y)"
    with Tracker(name, store=False, sensors=[_sensor()], zone="FRA", live="off") as run:
        time.sleep(0.02)
    md = markdown_report(run.result)
    assert "<script>" not in md and "\\<script\\>" in md
    assert "\\| \\*bold\\* \\[x\\](y)" in md


def test_md_escape_flattens_newlines() -> None:
    assert md_escape("a\nb|c") == "a b\\|c"


def test_household_and_flight_follow_their_constants() -> None:
    household, flight = household_and_flight(
        3.6e6 * HOUSEHOLD_KWH_PER_DAY * 2, FLIGHT_G_PER_PASSENGER_KM * 5
    )
    assert household.value == 2.0 and household.unit.startswith("days")
    assert flight.value == 5.0 and flight.unit.startswith("km")
    small_h, small_f = household_and_flight(3.6e6 * 0.01, 1.0)
    assert small_h.unit.startswith("minutes") and small_f.unit.startswith("metres")
