"""Build plausible run records for tests of stores and reports."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from wattwise.record import CarbonInfo, DomainRecord, Footprint, HostInfo, RunRecord

__all__ = ["make_footprint", "make_record"]


def make_footprint(energy_j: float = 1000.0, **overrides: Any) -> Footprint:
    """A measured footprint of ``energy_j`` at PUE 1 and 100 gCO2e/kWh."""
    base = Footprint(
        energy_j=energy_j,
        energy_low_j=energy_j,
        energy_high_j=energy_j,
        by_component_j={"cpu": energy_j * 0.8, "ram": energy_j * 0.2},
        method="measured",
        pue=1.0,
        facility_energy_j=energy_j,
        co2_g=energy_j / 3.6e6 * 100,
        co2_low_g=energy_j / 3.6e6 * 100,
        co2_high_g=energy_j / 3.6e6 * 100,
        cost=energy_j / 3.6e6 * 0.2,
    )
    return dataclasses.replace(base, **overrides)


def make_record(**overrides: Any) -> RunRecord:
    """A completed one-minute run; any field can be overridden."""
    started = overrides.pop("started_at", datetime(2026, 1, 1, 12, tzinfo=timezone.utc))
    base = RunRecord(
        id=uuid.uuid4().hex,
        name="test-run",
        status="completed",
        started_at=started,
        ended_at=started + timedelta(seconds=60),
        duration_s=60.0,
        headline="machine",
        machine=make_footprint(1000.0),
        process=make_footprint(600.0),
        domains=(
            DomainRecord(
                "rapl:package-0",
                "cpu",
                "CPU package 0",
                "measured",
                "counter",
                {},
                800.0,
                800.0,
                800.0,
                480.0,
            ),
            DomainRecord(
                "rapl:dram-0",
                "ram",
                "DRAM 0",
                "measured",
                "counter",
                {},
                200.0,
                200.0,
                200.0,
                120.0,
            ),
        ),
        carbon=CarbonInfo(
            "FRA",
            "France",
            "argument",
            "given",
            100.0,
            "static",
            "test",
            2022,
            1.0,
            "own machine",
            0.2,
            "USD",
            "user",
        ),
        host=HostInfo("testhost", "Linux", "3.11", "Test CPU", 8, 16 << 30, None, None, False),
        tags={"team": "a"},
        updated_at=started + timedelta(seconds=60),
    )
    return dataclasses.replace(base, **overrides)
