"""Life cycle energy: training plus inference, shares, and the parity point."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from wattwise.exceptions import ConfigError
from wattwise.lifecycle import PARITY_SOURCE, lifecycle, query_energy_from_run
from wattwise.testing.records import make_footprint, make_record


def test_shares_and_parity_by_hand() -> None:
    lc = lifecycle(1000.0, energy_per_query_wh=0.5, queries_per_day=10_000, days=365)
    inference = 10_000 * 0.5 * 365 / 1000  # 1,825 kWh
    assert lc.inference_kwh == pytest.approx(inference)
    assert lc.total_kwh == pytest.approx(1000 + inference)
    assert lc.training_share == pytest.approx(1000 / (1000 + inference))
    assert lc.inference_share == pytest.approx(inference / (1000 + inference))
    assert lc.training_share + lc.inference_share == pytest.approx(1.0)
    # parity: 1,000 kWh = 1,000,000 Wh of training / 0.5 Wh per query
    assert lc.parity_queries == pytest.approx(2_000_000)
    assert lc.parity_days == pytest.approx(200)
    assert lc.total_queries == pytest.approx(3_650_000) and lc.parity_reached
    assert lc.energy_basis == "facility" and lc.query_energy_source == "given by the user"


def test_at_the_parity_point_inference_equals_training() -> None:
    """Luccioni et al.'s parity: the number of inferences whose energy equals training's."""
    first = lifecycle(250.0, energy_per_query_wh=3.0, queries_per_day=1_000, days=1)
    assert first.parity_queries is not None and first.parity_days is not None
    at = lifecycle(250.0, energy_per_query_wh=3.0, queries_per_day=1_000, days=first.parity_days)
    assert at.inference_kwh == pytest.approx(at.training_kwh)
    assert at.training_share == pytest.approx(0.5) and at.inference_share == pytest.approx(0.5)
    assert at.total_queries == pytest.approx(first.parity_queries)
    assert first.parity_queries == pytest.approx(250.0 * 1000 / 3.0)


def test_lines_say_whether_parity_is_reached() -> None:
    reached = lifecycle(1000.0, energy_per_query_wh=0.5, queries_per_day=10_000, days=365)
    text = "\n".join(reached.lines())
    assert "training: 1,000 kWh (35.4%)" in text
    assert "10,000 queries/day × 0.5 Wh/query × 365 days" in text
    assert "2,000,000 queries, reached on day 200 of 365" in text
    assert "facility energy" in text and "Luccioni, Jernite & Strubell 2024" in text

    short = lifecycle(1000.0, energy_per_query_wh=0.5, queries_per_day=10_000, days=100)
    assert not short.parity_reached
    assert "200 days at this rate: not reached in 100 days" in "\n".join(short.lines())

    idle = lifecycle(1000.0, energy_per_query_wh=0.5, queries_per_day=0, days=100)
    assert idle.parity_days is None and idle.inference_kwh == 0 and idle.training_share == 1.0
    assert "never reached" in "\n".join(idle.lines())

    free = lifecycle(1000.0, energy_per_query_wh=0.0, queries_per_day=10, days=100)
    assert free.parity_queries is None and free.parity_days is None
    assert "parity: none" in "\n".join(free.lines())


def test_to_dict_is_json() -> None:
    lc = lifecycle(10.0, energy_per_query_wh=2.0, queries_per_day=100, days=30, energy_basis="it")
    doc = json.loads(json.dumps(lc.to_dict()))
    assert doc["energy_basis"] == "it"
    assert doc["inference_kwh"] == pytest.approx(100 * 2.0 * 30 / 1000)
    assert doc["parity_queries"] == pytest.approx(10 * 1000 / 2.0)
    assert doc["parity_reached"] is False and doc["parity_source"] == PARITY_SOURCE


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"training_kwh": -1.0}, "training_kwh"),
        ({"training_kwh": math.nan}, "training_kwh"),
        ({"energy_per_query_wh": math.inf}, "energy_per_query_wh"),
        ({"energy_per_query_wh": -0.1}, "energy_per_query_wh"),
        ({"queries_per_day": -5}, "queries_per_day"),
        ({"days": math.nan}, "days"),
        ({"days": True}, "days"),
        ({"days": "30"}, "days"),
        ({"energy_basis": "wall"}, "energy_basis"),
    ],
)
def test_bad_numbers_are_one_line_config_errors(kwargs: dict[str, Any], name: str) -> None:
    args: dict[str, Any] = {
        "training_kwh": 1.0,
        "energy_per_query_wh": 1.0,
        "queries_per_day": 1.0,
        "days": 1.0,
    }
    args.update(kwargs)
    training = args.pop("training_kwh")
    with pytest.raises(ConfigError, match=name) as info:
        lifecycle(training, **args)
    assert "\n" not in str(info.value)


def test_nothing_to_compare() -> None:
    with pytest.raises(ConfigError, match="both 0"):
        lifecycle(0.0, energy_per_query_wh=1.0, queries_per_day=0, days=10)


def test_query_energy_from_a_measured_run() -> None:
    # 7,200 J at the IT level, PUE 1.5: 10,800 J = 3 Wh facility, over 100 queries
    fp = make_footprint(7200.0, pue=1.5, facility_energy_j=10_800.0)
    record = make_record(name="serve", machine=fp)
    wh, source = query_energy_from_run(record, 100)
    assert wh == pytest.approx(10_800 / 3600 / 100)  # 0.03 Wh
    assert record.id in source and "facility energy" in source and "PUE 1.5" in source
    assert "100 queries" in source and "measured" in source and "'serve'" in source
    it_wh, it_source = query_energy_from_run(record, 100, basis="it")
    assert it_wh == pytest.approx(7200 / 3600 / 100)  # 0.02 Wh
    assert "IT energy (no PUE)" in it_source and "PUE 1.5" not in it_source
    lc = lifecycle(
        1.0, energy_per_query_wh=wh, queries_per_day=1000, days=10, query_energy_source=source
    )
    assert lc.parity_queries == pytest.approx(1000 / 0.03)
    assert source in "\n".join(lc.lines())


def test_query_energy_uses_the_headline_footprint() -> None:
    record = make_record(headline="process")  # process footprint: 600 J at PUE 1
    wh, source = query_energy_from_run(record, 10)
    assert wh == pytest.approx(600 / 3600 / 10)
    assert "process facility energy" in source


def test_query_energy_refuses_bad_input() -> None:
    record = make_record()
    for queries in (0, -3, 2.5, True):
        with pytest.raises(ConfigError, match="queries"):
            query_energy_from_run(record, queries)  # type: ignore[arg-type]
    empty = make_record(machine=make_footprint(0.0, facility_energy_j=0.0, method="none"))
    with pytest.raises(ConfigError, match="no facility energy"):
        query_energy_from_run(empty, 10)
    with pytest.raises(ConfigError, match="energy_basis"):
        query_energy_from_run(record, 10, basis="wall")  # type: ignore[arg-type]
