"""SCI's embodied term: the arithmetic, its checks, and how every report shows it apart."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from wattwise.embodied import EMBODIED_DEFAULTS, EmbodiedInputs, embodied_default
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


# -- the SCI specification's worked example ----------------------------------------------------
def test_sci_worked_example() -> None:
    """SCI (ISO/IEC 21031), Embodied emissions: a device of 1000 kg, an expected lifespan of
    four years, reserved for one hour: "1000 * 1/(4*365*24) or around 28g". The spec counts
    365-day years; wattwise counts Julian years (365.25 days), 0.07 % less."""
    spec_g = 1000 * 1 / (4 * 365 * 24) * 1000  # the spec's arithmetic, kg -> g
    assert math.floor(spec_g) == 28  # "around 28g", as the spec prints it
    m_g = EmbodiedInputs(1000.0, lifetime_years=4.0, share=1.0).co2e_g(3600.0)
    assert f"{m_g:.3g}" == f"{spec_g:.3g}" == "28.5"  # the 28.5 g
    assert m_g / spec_g == pytest.approx(365 / 365.25)
    assert EmbodiedInputs(1000.0, 4.0, share=0.5).co2e_g(3600.0) == pytest.approx(m_g / 2)


# -- defaults per device class ---------------------------------------------------------------
def test_every_default_is_sourced_and_ordered() -> None:
    assert set(EMBODIED_DEFAULTS) == {
        "gpu",
        "gpu-server-host",
        "cpu-server",
        "laptop",
        "desktop",
        "smartphone",
    }
    for key, d in EMBODIED_DEFAULTS.items():
        assert d.device_class == key
        assert 0 < d.low_kgco2e <= d.total_kgco2e <= d.high_kgco2e
        assert 0 < d.lifetime_years <= 30
        assert "http" in d.source and d.description
        assert json.loads(json.dumps(d.to_dict()))["total_kgco2e"] == d.total_kgco2e


def test_default_figures_follow_their_sources() -> None:
    # BLOOM (Luccioni, Viguier & Ligozat): 150 kg per A100, 2,500 kg per node, 6 years
    gpu, host = embodied_default("gpu"), embodied_default("gpu-server-host")
    assert (gpu.total_kgco2e, gpu.high_kgco2e, gpu.lifetime_years) == (150.0, 181.0, 6.0)
    assert (host.total_kgco2e, host.lifetime_years) == (2500.0, 6.0)
    # Dell PowerEdge R740: 1,356.48 kg outside the use phase; PowerEdge range 1,162-1,946
    server = embodied_default("cpu-server")
    assert (server.low_kgco2e, server.total_kgco2e, server.high_kgco2e) == (
        1162.10,
        1356.48,
        1946.00,
    )
    # PCF total × (1 - use-phase share)
    laptop = embodied_default("laptop")
    assert laptop.total_kgco2e == pytest.approx(276 * 0.82)  # ThinkPad E14, 18 % use
    assert laptop.low_kgco2e == pytest.approx(174 * 0.85)  # MacBook Air 2020, 15 % use
    assert laptop.high_kgco2e == pytest.approx(394 * 0.81)  # 16-inch MacBook Pro, 19 %
    assert embodied_default("desktop").total_kgco2e == pytest.approx(491 * 0.49)
    phone = embodied_default("smartphone")
    assert phone.total_kgco2e == pytest.approx(79 * 0.83)  # iPhone X: 17 % use
    assert phone.low_kgco2e == pytest.approx(43.9 * 0.75)  # Fairphone 2: > 3/4 production
    assert phone.lifetime_years == 3.0


def test_lookup_is_case_insensitive_and_names_the_classes() -> None:
    assert embodied_default(" GPU ") is EMBODIED_DEFAULTS["gpu"]
    with pytest.raises(ConfigError, match="no embodied default for device class 'tpu'") as e:
        embodied_default("tpu")
    assert "gpu, gpu-server-host, cpu-server, laptop, desktop, smartphone" in str(e.value)


def test_inputs_from_a_default() -> None:
    gpu = embodied_default("gpu")
    eight = gpu.inputs(share=0.5, count=8)
    assert (eight.total_kgco2e, eight.lifetime_years, eight.share) == (1200.0, 6.0, 0.5)
    # one hour of half of 8 GPUs: 1,200 kg × 3,600 s / 6 years × 0.5
    assert eight.co2e_g(3600.0) == pytest.approx(1200e3 * 3600 / (6 * YEAR_S) * 0.5)
    assert eight.source.startswith("8 × gpu default (central: 150 kgCO2e each, 6-year life)")
    assert gpu.inputs(bound="high").total_kgco2e == 181.0
    assert embodied_default("laptop").inputs(bound="low").total_kgco2e == pytest.approx(147.9)
    with pytest.raises(ConfigError, match="count"):
        gpu.inputs(count=0)
    with pytest.raises(ConfigError, match="bound"):
        gpu.inputs(bound="median")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="share"):
        gpu.inputs(share=1.5)
