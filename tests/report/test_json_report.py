"""The JSON run report: reports of real tracked runs validate against the published schema."""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
import json
import math
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from wattwise import ReportError
from wattwise.budget import Budget
from wattwise.record import DomainRecord, RunRecord
from wattwise.report import (
    REPORT_SCHEMA_ID,
    REPORT_SCHEMA_VERSION,
    build_report,
    schema,
    validate_report,
)
from wattwise.report import _schema as schema_module
from wattwise.store import get_store
from wattwise.testing.fake import SyntheticSensor
from wattwise.testing.records import make_footprint, make_record
from wattwise.tracking import Tracker
from wattwise.training import BudgetWarning

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

jsonschema = pytest.importorskip("jsonschema")

SHA = "0123456789abcdef0123456789abcdef01234567"
NASTY = '<script>alert("x")</script> & ü \\ "quoted"\n'


def _sensor() -> SyntheticSensor:
    return SyntheticSensor(lambda t: 100.0, lambda a, b: 100.0 * (b - a), kind="counter")


def _tracker(name: str = "run", **kw: Any) -> Tracker:
    kw.setdefault("store", False)
    return Tracker(name, sensors=[_sensor()], zone="FRA", interval_s=0.1, live="off", **kw)


def _valid(record: RunRecord) -> dict[str, Any]:
    """Build, validate, and check the report is plain JSON (no NaN, no tuples)."""
    report = build_report(record)
    validate_report(report)
    assert json.loads(json.dumps(report, allow_nan=False)) == report
    return report


@pytest.fixture
def in_git_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    git = tmp_path / "checkout" / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/exp/lr-sweep\n")
    (git / "refs" / "heads" / "exp").mkdir()
    (git / "refs" / "heads" / "exp" / "lr-sweep").write_text(SHA + "\n")
    monkeypatch.chdir(git.parent)
    yield git.parent


# -- the schema itself ----------------------------------------------------------------------
def _objects(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def test_schema_is_a_valid_draft_2020_12_schema_with_documented_closed_objects() -> None:
    s = schema()
    jsonschema.Draft202012Validator.check_schema(s)
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert s["$id"] == REPORT_SCHEMA_ID
    # the objects the schema defines (if/then refinements have no "type")
    defined = [o for o in _objects(s) if o.get("type") == "object" and "properties" in o]
    assert len(defined) > 20
    for obj in defined:
        assert obj.get("additionalProperties") is False, sorted(obj["properties"])
        # every property is required, but those a minor version added (1.0 reports lack them)
        added = {n for n, p in obj["properties"].items() if p["description"].startswith("Since")}
        assert set(obj["required"]) == set(obj["properties"]) - added
        for name, prop in obj["properties"].items():
            assert prop.get("description"), name
    schema()["title"] = "changed"  # a copy: the cached schema is not affected
    assert schema()["title"] != "changed"


def test_schema_file_ships_as_package_data() -> None:
    ref = resources.files("wattwise.report") / "schema" / "run-report-1.json"
    assert ref.is_file()
    assert json.loads(ref.read_text("utf-8")) == schema()
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    patterns = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-data"]
    assert any(fnmatch.fnmatch("report/schema/run-report-1.json", p) for p in patterns["wattwise"])


# -- reports of real runs -------------------------------------------------------------------
def test_completed_run_report_has_every_section_and_matches_the_record(
    in_git_checkout: Path,
) -> None:
    with _tracker(NASTY, tags={"team": NASTY, "lr": "0.1"}) as run:
        with run.phase("load") as ph:
            time.sleep(0.05)
            ph.log(rows=10.0, weird=float("nan"))
        time.sleep(0.1)
    rec = run.result
    report = _valid(rec)
    assert report["schema"] == f"https://wattwise.dev/schemas/run-report/{REPORT_SCHEMA_VERSION}"
    r = report["run"]
    assert r["id"] == rec.id and r["status"] == "completed" and r["stop"] is None
    assert r["name"] == NASTY and r["tags"] == {"team": NASTY, "lr": "0.1"}  # verbatim
    assert r["code"] == {"git_commit": SHA, "git_branch": "exp/lr-sweep"}
    assert r["command"] is None
    when = report["when"]
    for key in ("started_at", "ended_at"):
        assert when[key].endswith("Z")
    started = datetime.fromisoformat(when["started_at"].replace("Z", "+00:00"))
    assert started == rec.started_at and started.utcoffset() is not None
    assert when["duration_s"] == pytest.approx(rec.duration_s)
    e = report["energy"]
    assert e["headline_scope"] == rec.headline == "machine"
    assert e["it_energy_j"] == pytest.approx(rec.energy_j) and rec.energy_j > 10
    assert e["it_energy_kwh"] == pytest.approx(rec.energy_j / 3.6e6)
    assert e["facility_energy_j"] == pytest.approx(rec.energy_j * rec.carbon.pue)
    assert e["process"]["it_energy_j"] == pytest.approx(rec.process.energy_j)
    assert e["method"] == "measured" and e["it_energy_low_j"] == e["it_energy_high_j"]
    (cpu,) = e["components"]
    assert cpu["component"] == "cpu" and cpu["domains"] == ["synthetic:cpu"]
    assert cpu["machine_energy_j"] == pytest.approx(rec.energy_j)
    (dom,) = e["domains"]
    assert dom["method"] == "measured" and dom["estimate"] is None
    i = report["intensity"]
    assert i["unit"] == "gCO2e/kWh" and i["zone"] == "FRA" and i["kind"] == "static"
    assert i["value_g_per_kwh"] == rec.carbon.intensity_g_per_kwh and i["year"]
    assert report["emissions"]["co2e_g"] == pytest.approx(rec.co2_g)
    assert report["emissions"]["co2e_g"] == pytest.approx(
        e["facility_energy_kwh"] * i["value_g_per_kwh"]
    )
    assert report["embodied"]["included"] is False and report["embodied"]["co2e_g"] is None
    assert "SCI" in report["embodied"]["reason"]
    c = report["cost"]
    assert c["currency"] == rec.carbon.currency and c["cost"] == pytest.approx(rec.cost)
    (load,) = report["phases"]
    assert load["name"] == "load" and load["metrics"] == {"rows": 10.0, "weird": None}
    assert load["headline"] == load["machine"] and load["machine"]["it_energy_j"] > 0
    assert report["training"] is None
    assert report["software"]["wattwise"] == rec.wattwise_version
    assert report["software"]["python"] == rec.host.python
    assert report["location"]["zone_chosen_by"] == "argument"


def test_failed_run_report() -> None:
    t = _tracker("fails")
    with pytest.raises(ValueError), t:
        time.sleep(0.05)
        raise ValueError("boom")
    report = _valid(t.result)
    assert report["run"]["status"] == "failed"
    assert "failed: ValueError: boom" in report["events"]


_WRITER = textwrap.dedent(
    """
    import os, sys, time
    from wattwise.testing.fake import SyntheticSensor
    from wattwise.tracking import Tracker
    sensor = SyntheticSensor(lambda t: 100.0, lambda a, b: 100.0 * (b - a), kind="counter")
    t = Tracker("killed", store=sys.argv[1], sensors=[sensor], zone="FRA", interval_s=0.1,
                checkpoint_s=1, live="off").start()
    session = t.training(planned_epochs=5)
    session.begin_epoch()
    for _ in range(3):
        time.sleep(0.03)
        session.step(samples=4)
    session.end_epoch(loss=0.5)
    session.begin_epoch()
    time.sleep(1.4)  # past one checkpoint
    print(t.id, flush=True)
    os._exit(1)  # the writer dies: no stop(), no final save
    """
)


def test_interrupted_run_read_back_from_the_store(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    proc = subprocess.run(
        [sys.executable, "-c", _WRITER, db], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1, proc.stderr
    store = get_store(db)
    try:
        rec = store.get_run(proc.stdout.strip())
    finally:
        store.close()
    assert rec.status == "interrupted" and rec.energy_j > 0
    report = _valid(rec)
    assert report["run"]["status"] == "interrupted"
    assert report["when"]["ended_at"] == report["when"]["updated_at"]
    assert any(ev.startswith("interrupted") for ev in report["events"])
    training = report["training"]
    assert training["planned_epochs"] == 5 and training["epochs_completed"] == 1
    assert training["completed_plan"] is False
    assert [p["name"] for p in report["phases"]] == ["epoch 0"]


def test_run_stopped_by_budget_with_training_session() -> None:
    with _tracker("budget") as run:
        session = run.training(planned_epochs=10, budget=Budget(kwh=1e-5))
        with pytest.warns(BudgetWarning):
            for epoch in range(10):
                session.begin_epoch()
                for _ in range(3):
                    time.sleep(0.03)
                    session.step(samples=4)
                session.end_epoch(loss=1.0 / (epoch + 1))
                if session.should_stop:
                    break
    rec = run.result
    report = _valid(rec)
    assert report["run"]["status"] == "stopped"
    assert report["run"]["stop"]["kind"] == "budget" and "budget" in report["run"]["stop"]["reason"]
    t = report["training"]
    assert t["stop"] == report["run"]["stop"]
    assert t["budget"]["energy_kwh"] == 1e-5 and t["budget"]["co2e_g"] is None
    assert t["budget"]["warning"]
    assert t["epochs_completed"] < 10 and t["completed_plan"] is False
    assert t["saved"]["basis"] == "forecast" and t["saved"]["saved_energy_j"] > 0
    assert all(f["energy_error_relative"] is None for f in t["forecasts"])  # plan not run
    assert t["steps"] == 3 * t["epochs_completed"] and t["samples"] == 4 * t["steps"]


def test_demo_like_run_with_epochs_forecasts_and_framework_versions() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    w = np.zeros(8)
    with _tracker("numpy-regression", tags={"model": "linear"}) as run:
        for epoch in run.epochs(3):
            for _ in range(4):
                x = rng.normal(size=(16, 8))
                w -= 0.01 * x.T @ (x @ w - 1.0) / 16
                time.sleep(0.02)
                run.step(samples=16)
            run.log(val_loss=float(np.mean((x @ w - 1.0) ** 2)), epoch_seen=float(epoch))
    rec = run.result
    report = _valid(rec)
    assert report["run"]["status"] == "completed"
    epochs = [p for p in report["phases"] if p["kind"] == "epoch"]
    assert [p["index"] for p in epochs] == [0, 1, 2]
    for p in epochs:
        assert p["metrics"]["samples"] == 64 and p["metrics"]["val_loss"] is not None
        assert p["metrics"]["energy_per_sample_j"] > 0 and p["duration_s"] > 0
        assert p["machine"]["co2e_g"] > 0
    t = report["training"]
    assert t["planned_epochs"] == 3 and t["completed_plan"] is True
    assert t["samples"] == 192 and t["energy_per_sample_j"] > 0
    errors = [f["energy_error_relative"] for f in t["forecasts"]]
    assert len(errors) == 3 and all(isinstance(x, float) and abs(x) < 1 for x in errors)
    assert t["trained_energy_j"] <= t["total_energy_j"] + 1e-9
    assert report["software"]["frameworks"]["numpy"] == np.__version__


# -- hand-made records: estimates, a running run ----------------------------------------------
def test_estimated_domain_shows_model_and_constants_and_running_report() -> None:
    est = DomainRecord(
        key="estimate:cpu",
        component="cpu",
        label="CPU (x, 2 usable CPUs)",
        method="estimated",
        kind="counter",
        model={
            "model": "cpu-per-logical",
            "formula": "P_max * (idle + (1 - idle) * u)",
            "w_per_cpu": (2.0, 4.0, 8.0),
            "reason": "virtual machine: host topology hidden",
        },
        energy_j=80.0,
        energy_low_j=40.0,
        energy_high_j=160.0,
        process_energy_j=20.0,
    )
    fp = make_footprint(100.0, energy_low_j=60.0, energy_high_j=180.0, method="mixed", pue=1.5)
    fp = dataclasses.replace(fp, facility_energy_j=150.0)
    rec = make_record(
        status="running", ended_at=None, domains=(est,), machine=fp, headline="machine"
    )
    report = _valid(rec)
    (d,) = report["energy"]["domains"]
    assert d["estimate"] == {
        "model": "cpu-per-logical",
        "formula": "P_max * (idle + (1 - idle) * u)",
        "constants": {
            "w_per_cpu": [2.0, 4.0, 8.0],
            "reason": "virtual machine: host topology hidden",
        },
    }
    e = report["energy"]
    assert e["method"] == "mixed"
    assert e["facility_energy_low_j"] == pytest.approx(90.0)
    assert e["facility_energy_high_kwh"] == pytest.approx(270.0 / 3.6e6)
    cpu = next(c for c in e["components"] if c["component"] == "cpu")
    assert cpu["method"] == "estimated"
    assert (cpu["machine_energy_low_j"], cpu["machine_energy_high_j"]) == (40.0, 160.0)
    assert report["run"]["status"] == "running" and report["when"]["ended_at"] is None
    fixed = build_report(rec, generated_at=datetime(2026, 5, 1, tzinfo=timezone.utc))
    assert fixed["generated_at"] == "2026-05-01T00:00:00Z"


# -- invalid reports ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def good() -> dict[str, Any]:
    return build_report(make_record())


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda r: r["run"].update(status="exploded"), "$.run.status"),
        (lambda r: r["energy"].update(it_energy_watts=1.0), "$.energy"),
        (lambda r: r["embodied"].update(included=True), "$.embodied.co2e_g"),
        (lambda r: r.update(schema="https://wattwise.dev/schemas/run-report/2.0"), "$.schema"),
        (lambda r: r["when"].update(started_at="2026-01-01 12:00"), "$.when.started_at"),
        (lambda r: r["intensity"].update(unit="g/kWh"), "$.intensity.unit"),
        (lambda r: r["run"].update(status="stopped"), "$.run.stop"),
        (lambda r: r["phases"].append({"name": "x"}), "$.phases[0]"),
        (lambda r: r.pop("software"), "$"),
    ],
)
def test_invalid_reports_are_rejected_naming_the_path(
    good: dict[str, Any], mutate: Any, path: str
) -> None:
    validate_report(good)
    bad = copy.deepcopy(good)
    mutate(bad)
    with pytest.raises(ReportError) as info:
        validate_report(bad)
    message = str(info.value)
    assert "\n" not in message and len(message) < 300
    assert f"invalid at {path}:" in message, message


def test_validating_without_jsonschema_is_a_report_error(
    good: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    schema_module._validator.cache_clear()
    monkeypatch.setitem(sys.modules, "jsonschema", None)
    try:
        with pytest.raises(ReportError, match=r"jsonschema.*wattwise\[report\]"):
            validate_report(good)
    finally:
        schema_module._validator.cache_clear()
    monkeypatch.undo()
    validate_report(good)


def test_non_finite_numbers_never_reach_the_report() -> None:
    rec = make_record()
    rec = dataclasses.replace(rec, duration_s=math.inf)
    report = _valid(rec)
    assert report["when"]["duration_s"] == 0.0
