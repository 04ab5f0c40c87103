"""SCI's embodied term: the arithmetic, its checks, and how every report shows it apart."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wattwise.embodied import EmbodiedInputs
from wattwise.exceptions import ConfigError
from wattwise.report import build_report
from wattwise.report.html import html_report
from wattwise.report.markdown import markdown_report
from wattwise.store import get_store
from wattwise.testing.records import make_record

YEAR_S = 365.25 * 86_400


def test_m_is_amortised_over_the_lifespan_and_the_share() -> None:
    e = EmbodiedInputs(1000.0, lifetime_years=4.0)
    # a whole machine for one hour: 1,000 kg × 3,600 s / 4 years
    assert e.co2e_g(3600.0) == pytest.approx(1e6 * 3600 / (4 * YEAR_S))
    assert e.co2e_g(3600.0) == pytest.approx(28.52, abs=0.01)
    assert EmbodiedInputs(1000.0, 4.0, share=0.25).co2e_g(3600.0) == pytest.approx(
        e.co2e_g(3600.0) / 4
    )
    # the whole lifespan charges the whole footprint
    assert e.co2e_g(4 * YEAR_S) == pytest.approx(1e6)
    assert e.co2e_g(-5.0) == 0.0
    assert "28.5 gCO2e" in e.formula(3600.0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"total_kgco2e": 0.0}, "total_kgco2e"),
        ({"total_kgco2e": float("nan")}, "total_kgco2e"),
        ({"total_kgco2e": 10.0, "lifetime_years": 0.0}, "lifetime_years"),
        ({"total_kgco2e": 10.0, "share": 1.5}, "share"),
        ({"total_kgco2e": 10.0, "share": 0.0}, "share"),
    ],
)
def test_bad_inputs_are_config_errors(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        EmbodiedInputs(**kwargs)


def test_reports_keep_it_apart_from_the_operational_emissions() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from wattwise.report import validate_report

    assert jsonschema
    record = make_record(duration_s=3600.0)
    e = EmbodiedInputs(1000.0, 4.0, 0.5, source="vendor PCF <sheet>")
    doc = build_report(record, embodied=e)
    validate_report(doc)
    emb = doc["embodied"]
    assert emb["included"] is True
    assert emb["co2e_g"] == pytest.approx(e.co2e_g(3600.0))
    assert emb["inputs"]["time_reserved_s"] == 3600.0 and emb["inputs"]["share"] == 0.5
    assert doc["emissions"]["co2e_g"] == build_report(record)["emissions"]["co2e_g"]
    plain = build_report(record)
    validate_report(plain)
    assert plain["embodied"]["included"] is False and plain["embodied"]["inputs"] is None
    md = markdown_report(record, embodied=e)
    assert "| Embodied emissions (SCI's M) | 14.3 gCO2e, not in the figure above" in md
    assert "vendor PCF \\<sheet\\>" in md
    html = html_report(record, embodied=e)
    assert "14.3 gCO2e" in html and "vendor PCF &lt;sheet&gt;" in html


def test_cli_options(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    record = make_record(duration_s=3600.0)
    with get_store(db) as store:
        store.save_run(record)
    ww = [sys.executable, "-m", "wattwise", "report", record.id, "--store", db]
    ok = subprocess.run(
        [*ww, "--json", "--embodied-kgco2e", "1000", "--embodied-share", "0.5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["embodied"]["co2e_g"] == pytest.approx(14.26, abs=0.01)
    bad = subprocess.run(
        [*ww, "--json", "--embodied-kgco2e", "1000", "--embodied-share", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "share" in bad.stderr and "Traceback" not in bad.stderr
    bad = subprocess.run(
        [*ww, "--md", "--lifetime-years", "5"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "need --embodied-kgco2e" in bad.stderr


def test_a_1_0_report_without_inputs_still_validates() -> None:
    pytest.importorskip("jsonschema")
    from wattwise.report import validate_report

    doc = build_report(make_record())
    del doc["embodied"]["inputs"]  # what 1.0 wrote
    doc["schema"] = "https://wattwise.dev/schemas/run-report/1.0"
    validate_report(doc)


def test_whole_machine_m_beside_a_process_headline_says_so() -> None:
    e = EmbodiedInputs(1000.0)
    assert "RS = 1 charges the whole machine" in e.formula(3600.0, "process")
    assert "charges the whole machine" not in e.formula(3600.0, "machine")
    assert "charges" not in EmbodiedInputs(1000.0, share=0.5).formula(3600.0, "process")
    doc = build_report(make_record(headline="process"), embodied=e)
    assert "tracked processes' share" in doc["embodied"]["reason"]
