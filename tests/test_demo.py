"""``wattwise demo`` end to end, as a subprocess, and the pieces it prints."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from wattwise.equivalents import CAR_G_PER_KM, PHONE_CHARGE_KWH, equivalents

pytest.importorskip("torch")
pytest.importorskip("sklearn")

WW = [sys.executable, "-m", "wattwise"]


def _demo(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*WW, "demo", "--store", str(tmp_path / "runs.db"), "--zone", "FRA", *args],
        capture_output=True,
        text=True,
        timeout=110,
        env={**os.environ, **(env or {})},
        cwd=tmp_path,
    )


@pytest.mark.slow
def test_demo_trains_forecasts_saves_and_prints_the_result_table(tmp_path: Path) -> None:
    proc = _demo(tmp_path, "--epochs", "3", "--batch-size", "64")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for expected in (
        "test accuracy",
        "energy per sample",
        "forecast after epoch 1",
        "that is about",
        "smartphone charges",
        "saved to",
    ):
        assert expected in out, out
    # the printed command writes the HTML report of this very run
    line = next(x for x in out.splitlines() if x.startswith("with plots: "))
    html = subprocess.run(
        [*WW, *shlex.split(line.removeprefix("with plots: wattwise "))],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert html.returncode == 0, html.stderr
    assert "Energy per epoch" in (tmp_path / "energy.html").read_text(encoding="utf-8")
    # plain live lines (stderr is a pipe): one per epoch, with the forecast from epoch 1
    lines = [x for x in proc.stderr.splitlines() if x.startswith("wattwise demo · ")]
    assert len(lines) == 3 and all("forecast" in x for x in lines), proc.stderr
    run_id = out.split("see it again: wattwise report ")[1].split()[0]
    shown = subprocess.run(
        [*WW, "runs", "export", run_id, "--store", str(tmp_path / "runs.db")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    training = record["training"]
    assert record["status"] == "completed"
    assert training["epochs"] == 3 and training["planned_epochs"] == 3
    assert len(training["forecasts"]) == 3
    assert training["samples"] == 3 * 1438
    assert len(training["step_table"]["epoch"]) == training["steps"] == 3 * 23
    epochs = [p for p in record["phases"] if p["kind"] == "epoch"]
    assert [p["index"] for p in epochs] == [0, 1, 2]
    assert all(0.0 <= p["metrics"]["val_accuracy"] <= 1.0 for p in epochs)
    assert epochs[-1]["metrics"]["val_accuracy"] > 0.5  # it does learn the digits
    assert record["machine"]["energy_j"] > 0


@pytest.mark.slow
def test_demo_budget_stops_the_run_and_records_why(tmp_path: Path) -> None:
    proc = _demo(tmp_path, "--epochs", "5", "--batch-size", "128", "--budget-kwh", "1e-9", "--json")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert record["status"] == "stopped"
    assert record["training"]["stop_kind"] == "budget"
    assert record["training"]["epochs"] < 5
    assert "budget" in record["training"]["stop_reason"]


def test_demo_without_torch_is_a_one_line_user_error(tmp_path: Path) -> None:
    fake = tmp_path / "site" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no torch here', name='torch')\n")
    proc = _demo(tmp_path, env={"PYTHONPATH": str(tmp_path / "site")})
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "pip install 'wattwise[demo]'" in proc.stderr and "Traceback" not in proc.stderr


def test_demo_rejects_bad_options_with_exit_2(tmp_path: Path) -> None:
    proc = _demo(tmp_path, "--epochs", "0")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = _demo(tmp_path, "--budget-kwh", "-1")
    assert proc.returncode == 2 and "budget" in proc.stderr and "Traceback" not in proc.stderr


def test_equivalents_follow_their_stated_constants() -> None:
    phone, bulb, car = equivalents(3.6e6 * PHONE_CHARGE_KWH * 2, CAR_G_PER_KM * 3)
    assert phone.value == pytest.approx(2.0) and phone.unit == "smartphone charges"
    assert bulb.unit.startswith("hours") and bulb.value == pytest.approx(0.03 * 3.6e6 / 10 / 3600)
    assert car.unit == "km by car" and car.value == pytest.approx(3.0)
    _, small_bulb, small_car = equivalents(5.0, 0.001)
    assert small_bulb.unit.startswith("seconds") and small_bulb.value == pytest.approx(0.5)
    assert small_car.unit == "millimetres by car"
    assert str(phone) == "2 smartphone charges"
