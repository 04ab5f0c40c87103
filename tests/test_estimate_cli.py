"""`wattwise estimate` and its planner options, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from wattwise.cli import main
from wattwise.store import get_store
from wattwise.testing.records import make_footprint, make_record


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, ["estimate", *args])


def _json(*args: str) -> dict[str, object]:
    result = _cli(*args, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert isinstance(doc, dict)
    return doc


def test_the_issues_example_prints_figures_range_and_assumptions() -> None:
    result = _cli("--gpu", "A100 SXM4 80 GB", "--count", "8", "--hours", "72", "--zone", "FRA")
    assert result.exit_code == 0, result.output
    out = result.output
    # 8 × 400 W × 0.8 × 72 h = 184.32 kWh; range 0.6-1.0 of TDP: 138-230 kWh
    assert "184 kWh" in out and "138 kWh" in out and "230 kWh" in out
    assert "× PUE 1.58" in out and "FRA" in out
    for name in ("TDP", "utilisation", "hours", "host power", "PUE", "carbon intensity", "price"):
        assert f"- {name}:" in out


def test_json_has_the_central_value_and_range() -> None:
    doc = _json("--gpu", "A100 SXM4 80 GB", "--count", "8", "--hours", "72", "--zone", "FRA")
    it = doc["it_energy_kwh"]
    assert it == pytest.approx({"central": 184.32, "low": 138.24, "high": 230.4})  # type: ignore[arg-type]
    assert doc["carbon"]["pue"] == 1.58  # type: ignore[index]


def test_days_power_per_device_and_units() -> None:
    doc = _json(
        "--device-power-w", "330", "--count", "10000", "--days", "14.8", "--pue", "1.1",
        "--intensity", "0.429 kg/kWh", "--zone", "USA",
    )  # fmt: skip
    assert doc["hours"]["central"] == pytest.approx(355.2)  # type: ignore[index]
    assert doc["co2e_g"]["central"] / 1e6 == pytest.approx(553.14, abs=0.01)  # type: ignore[index]


def test_flops_and_compare_hardware() -> None:
    doc = _json(
        "--params", "7e9", "--tokens", "2e12", "--gpu", "A100 SXM4 80 GB", "--count", "64",
        "--zone", "FRA", "--compare-hardware",
    )  # fmt: skip
    assert doc["flops"] == pytest.approx(8.4e22)
    options = doc["hardware_options"]
    assert isinstance(options, list) and len(options) > 10
    energies = [o["it_energy_kwh"] for o in options]
    assert energies == sorted(energies)
    assert sum(o["is_current"] for o in options) == 1
    mine = next(o for o in options if o["is_current"])
    assert mine["it_energy_kwh"] == pytest.approx(doc["it_energy_kwh"]["central"])  # type: ignore[index]


def test_compare_regions_table_and_json() -> None:
    args = ("--gpu", "A100 SXM4 80 GB", "--hours", "10", "--zone", "POL", "--compare-regions")
    result = _cli(*args, "--top", "3")
    assert result.exit_code == 0, result.output
    assert "lowest emissions first" in result.output and "POL (yours)" in result.output
    doc = _json(*args, "--provider", "gcp")
    rows = doc["regions"]
    assert isinstance(rows, list)
    assert {r["provider"] for r in rows if not r["is_current"]} == {"gcp"}
    assert [r["co2e_g"] for r in rows] == sorted(r["co2e_g"] for r in rows)
    doc = _json(*args, "--regions", "FRA,SWE")
    assert {r["zone"] for r in doc["regions"]} == {"FRA", "SWE", "POL"}  # type: ignore[union-attr]


def test_from_a_stored_run(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    record = make_record(duration_s=3600.0, machine=make_footprint(3.6e6))
    get_store(db).save_run(record)
    doc = _json("--from-run", record.id[:8], "--store", db, "--scale-epochs", "3", "--pue", "1")
    assert doc["method"] == "run"
    assert doc["it_energy_kwh"]["central"] == pytest.approx(3.0)  # type: ignore[index]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--gpu", "H200 SXM", "--hours", "1"), "unknown hardware 'H200 SXM'; closest: H100"),
        (("--gpu", "h100", "--hours", "1"), "ambiguous"),
        (("--gpu", "A100 SXM4 80 GB", "--hours", "-3"), "hours must be a finite number > 0"),
        (("--gpu", "A100 SXM4 80 GB", "--hours", "1", "--days", "1"), "--hours or --days"),
        (("--power-w", "100", "--hours", "1", "--intensity", "lots"), "cannot read the intensity"),
        (("--power-w", "100", "--hours", "1", "--zone", "Atlantis"), "unknown zone"),
        (("--power-w", "100", "--hours", "1", "--pue", "9"), "PUE must be between"),
        ((), "nothing to estimate from"),
    ],
)
def test_user_errors_exit_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    assert message in _one_line_error(_cli(*args))


def _one_line_error(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert lines[0].startswith("wattwise: error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--power-w", "100", "--hours", "5", "--count", "8"), "count does not apply"),
        (("--power-w", "100", "--hours", "5", "--mfu", "0.3"), "mfu does not apply"),
        (("--power-w", "100", "--hours", "5", "--provider", "gcp"), "--provider goes with"),
        (("--power-w", "100", "--hours", "5", "--regions", "FRA"), "--regions goes with"),
        (("--power-w", "100", "--hours", "5", "--top", "3"), "--top goes with"),
        (("--power-w", "100", "--hours", "5", "--currency", "EUR"), "give the price"),
        (("--params", "1e200", "--tokens", "1e200", "--gpu", "H100 SXM"), "overflows"),
        (("--power-w", "100", "--hours", "1e308", "--pue", "1"), "no finite result"),
        (("--power-w", "100", "--hours", "1", "--embodied-lifetime-years", "5"), "goes with"),
    ],
)
def test_options_that_would_be_ignored_or_overflow_are_refused(
    args: tuple[str, ...], message: str
) -> None:
    assert message in _one_line_error(_cli(*args))


def test_your_own_embodied_figure_per_device() -> None:
    doc = _json("--power-w", "1000", "--hours", "10", "--zone", "FRA", "--embodied-kgco2e",
                "1000", "--embodied-lifetime-years", "4")  # fmt: skip
    # the SCI worked example's device, reserved for 10 hours
    assert doc["embodied"]["co2e_g"] == pytest.approx(1e6 * 10 / (4 * 365.25 * 24))  # type: ignore[index]


def test_markup_in_names_is_printed_as_text(tmp_path: Path) -> None:
    hw = tmp_path / "hw.csv"
    hw.write_text("name,kind,tdp_w\nMyChip [/b],gpu,100\n", encoding="utf-8")
    result = _cli("--gpu", "MyChip [/b]", "--hours", "2", "--file", str(hw), "--zone", "FRA")
    assert result.exit_code == 0, result.output
    assert "MyChip [/b]" in result.output
    found = CliRunner().invoke(main, ["hardware", "search", "mychip", "--file", str(hw)])
    assert found.exit_code == 0 and "MyChip [/b]" in found.output


def test_an_unknown_run_is_a_user_error(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    get_store(db).save_run(make_record())
    result = _cli("--from-run", "feedbeef", "--store", db)
    assert result.exit_code == 2 and "feedbeef" in result.output


def test_embodied_is_shown_apart_with_its_formula() -> None:
    args = ("--gpu", "A100 SXM4 80 GB", "--count", "8", "--hours", "72", "--zone", "FRA")
    doc = _json(*args, "--embodied")
    embodied = doc["embodied"]
    assert isinstance(embodied, dict) and embodied["included_in_co2e"] is False
    # SCI: 8 cards × 150 kgCO2e × 72 h / (6 years of 365.25 days)
    expected = 8 * 150e3 * 72 / (6 * 365.25 * 24)
    assert embodied["co2e_g"] == pytest.approx(expected)
    assert embodied["co2e_low_g"] <= embodied["co2e_g"] < embodied["co2e_high_g"]
    plain = _json(*args)
    assert plain["co2e_g"] == doc["co2e_g"]  # never added to the operational figure
    text = _cli(*args, "--embodied").output
    assert "embodied (SCI M)" in text and "not in the emissions" in text
    failed = _cli("--power-w", "100", "--hours", "1", "--embodied")
    assert failed.exit_code == 2 and "no embodied default for no hardware" in failed.output


def test_lifecycle_from_a_user_figure_and_from_a_run(tmp_path: Path) -> None:
    args = ("--power-w", "1000", "--hours", "10", "--pue", "1.5", "--zone", "FRA")
    doc = _json(*args, "--queries-per-day", "1000", "--query-wh", "3", "--serve-days", "100")
    life = doc["lifecycle"]
    assert isinstance(life, dict)
    assert life["training_kwh"] == pytest.approx(15.0)  # facility: 10 kWh × 1.5
    assert life["inference_kwh"] == pytest.approx(1000 * 3 * 100 / 1000)
    assert life["parity_queries"] == pytest.approx(15.0 * 1000 / 3)
    assert life["parity_days"] == pytest.approx(5.0)
    db = str(tmp_path / "runs.db")
    served = make_record(machine=make_footprint(7200.0, facility_energy_j=7200.0))  # 2 Wh
    get_store(db).save_run(served)
    doc = _json(*args, "--queries-per-day", "10", "--query-run", served.id[:8],
                "--run-queries", "4", "--store", db)  # fmt: skip
    assert doc["lifecycle"]["energy_per_query_wh"] == pytest.approx(0.5)  # type: ignore[index]
    text = _cli(*args, "--queries-per-day", "1000", "--query-wh", "3").output
    assert "Lifecycle" in text and "parity" in text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--query-wh", "3"), "give --queries-per-day"),
        (("--queries-per-day", "5"), "--query-wh or --query-run"),
        (("--queries-per-day", "5", "--query-wh", "1", "--query-run", "x"), "one of them"),
        (("--queries-per-day", "5", "--query-run", "x"), "give --run-queries"),
        (
            (
                "--run-queries",
                "5",
            ),
            "--run-queries goes with --query-run",
        ),
        (("--queries-per-day", "-5", "--query-wh", "1"), "queries_per_day"),
    ],
)
def test_lifecycle_option_errors(extra: tuple[str, ...], message: str) -> None:
    result = _cli("--power-w", "100", "--hours", "1", *extra)
    assert result.exit_code == 2, result.output
    assert message in result.output
