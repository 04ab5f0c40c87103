"""``wattwise report`` end to end, on a real stored run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wattwise.testing.fake import SyntheticSensor
from wattwise.tracking import Tracker

WW = [sys.executable, "-m", "wattwise"]


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    db = str(tmp_path_factory.mktemp("report") / "runs.db")
    sensor = SyntheticSensor(lambda t: 100.0, lambda a, b: 100.0 * (b - a), kind="counter")
    with Tracker("<b>bert</b>", store=db, sensors=[sensor], zone="FRA", live="off") as run:
        for _ in run.epochs(2):
            time.sleep(0.05)
            run.step(samples=8)
    return db, run.result.id


def _report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WW, "report", *args], capture_output=True, text=True, timeout=60)


def test_markdown_and_json_on_stdout(stored: tuple[str, str]) -> None:
    db, run_id = stored
    md = _report(run_id[:8], "--store", db, "--md")
    assert md.returncode == 0, md.stderr
    assert md.stdout.startswith("## Energy and carbon") and "\\<b\\>bert\\</b\\>" in md.stdout
    js = _report(run_id, "--store", db, "--json")
    assert js.returncode == 0, js.stderr
    document = json.loads(js.stdout)
    assert "run-report" in document["schema"]
    assert json.dumps(document).count(run_id) >= 1


def test_output_file_and_terminal_summary(stored: tuple[str, str], tmp_path: Path) -> None:
    db, run_id = stored
    out = tmp_path / "ENERGY.md"
    proc = _report(run_id, "--store", db, "--md", "-o", str(out))
    assert proc.returncode == 0 and proc.stdout == ""
    assert out.read_text().startswith("## Energy and carbon")
    summary = _report(run_id, "--store", db)
    assert summary.returncode == 0 and "training: 2/2 epochs" in summary.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--json", "--md"],
        ["-o", "x.md"],
    ],
)
def test_bad_combinations_exit_2(stored: tuple[str, str], args: list[str]) -> None:
    db, run_id = stored
    proc = _report(run_id, "--store", db, *args)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_unknown_run_and_unwritable_output_exit_2(stored: tuple[str, str]) -> None:
    db, run_id = stored
    proc = _report("ffffffff", "--store", db)
    assert proc.returncode == 2 and "no run" in proc.stderr and "Traceback" not in proc.stderr
    proc = _report(run_id, "--store", db, "--md", "-o", "/nonexistent/dir/x.md")
    assert proc.returncode == 2 and "cannot write" in proc.stderr
