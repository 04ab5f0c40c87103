"""``wattwise runs compare / export --csv / delete`` on several real stored runs."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wattwise.store import get_store
from wattwise.testing.fake import SyntheticSensor
from wattwise.tracking import Tracker

WW = [sys.executable, "-m", "wattwise"]


def _ww(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*WW, *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )


def _run(db: str, name: str, power_w: float, accuracy: float) -> str:
    sensor = SyntheticSensor(lambda t: power_w, lambda a, b: power_w * (b - a), kind="counter")
    with Tracker(name, store=db, sensors=[sensor], zone="FRA", live="off") as run:
        for _ in run.epochs(1):
            time.sleep(0.1)
            run.step(samples=10)
        run.log(val_accuracy=accuracy)
    return run.result.id


@pytest.fixture()
def three(tmp_path: Path) -> tuple[str, list[str]]:
    db = str(tmp_path / "runs.db")
    return db, [_run(db, "small", 100.0, 0.9), _run(db, "big", 300.0, 0.95), _run(db, "x", 50, 0.5)]


def test_compare_shows_relative_differences_and_a_metric(three: tuple[str, list[str]]) -> None:
    db, ids = three
    proc = _ww("runs", "compare", ids[0][:8], ids[1][:8], "--store", db, "--metric", "val_accuracy")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "small" in out and "big" in out and "0.95" in out and "0.9" in out
    # the printed difference is the stored runs' own ratio
    st = get_store(db)
    e0, e1 = st.get_run(ids[0]).energy_j, st.get_run(ids[1]).energy_j
    pct = float(out.split("big")[1].split("J (")[1].split("%")[0])
    assert pct == pytest.approx((e1 / e0 - 1) * 100, abs=0.06), out
    assert pct > 50  # 300 W against 100 W


def _pareto_cells(stdout: str, ids: list[str]) -> list[str]:
    """The Pareto column of each run's row in the printed table, in ``ids`` order."""
    cells = []
    for run_id in ids:
        (line,) = [ln for ln in stdout.splitlines() if run_id[:8] in ln]
        cells.append(line.strip().strip("│").split("│")[-1].strip())
    return cells


def test_compare_html_and_the_pareto_column(three: tuple[str, list[str]], tmp_path: Path) -> None:
    db, ids = three  # small 100 W 0.9, big 300 W 0.95, x 50 W 0.5
    energy = [get_store(db).get_run(i).energy_j for i in ids]
    assert energy[2] < energy[0] < energy[1], energy  # what the expected fronts rest on
    html = tmp_path / "compare.html"
    args = ["runs", "compare", *ids, "--store", db, "--metric", "val_accuracy"]
    proc = _ww(*args, "--html", str(html))
    assert proc.returncode == 0, proc.stderr
    header = next(ln for ln in proc.stdout.splitlines() if "Pareto" in ln)
    assert "val_accuracy ↑" in header
    assert _pareto_cells(proc.stdout, ids) == ["✓", "✓", "✓"]  # more energy, better accuracy
    assert "higher is better (guessed from its name)" in proc.stdout
    page = html.read_text(encoding="utf-8")
    assert 'data-chart="pareto"' in page and page.count('class="dot marked"') == 3
    assert f"wrote {html}" in proc.stderr
    # lower accuracy "better": the cheapest run (x, also the lowest) dominates both others
    proc = _ww(*args, "--lower-is-better")
    assert proc.returncode == 0, proc.stderr
    assert _pareto_cells(proc.stdout, ids) == ["", "", "✓"]
    assert "lower is better (as asked)" in proc.stdout


def test_compare_user_errors(three: tuple[str, list[str]], tmp_path: Path) -> None:
    db, ids = three
    proc = _ww("runs", "compare", *ids[:2], "--store", db, "--lower-is-better")
    assert proc.returncode == 2 and "need --metric" in proc.stderr
    assert "Traceback" not in proc.stderr
    target = tmp_path / "no-such-dir" / "compare.html"
    proc = _ww("runs", "compare", *ids[:2], "--store", db, "--html", str(target))
    assert proc.returncode == 2 and "cannot write" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not target.exists()


def test_compare_needs_two_runs(three: tuple[str, list[str]]) -> None:
    db, ids = three
    proc = _ww("runs", "compare", ids[0], "--store", db)
    assert proc.returncode == 2 and "at least two" in proc.stderr


def test_export_csv_has_one_row_per_run(three: tuple[str, list[str]], tmp_path: Path) -> None:
    db, ids = three
    out = tmp_path / "runs.csv"
    proc = _ww("runs", "export", *ids, "--store", db, "--csv", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["id"] for r in rows] == ids
    assert rows[1]["name"] == "big" and float(rows[1]["energy_j"]) > float(rows[0]["energy_j"])
    assert '"val_accuracy": 0.95' in rows[1]["last_epoch_metrics"]
    proc = _ww("runs", "export", *ids, "--store", db)
    assert proc.returncode == 2 and "--csv" in proc.stderr


def test_delete_needs_yes_off_a_terminal_and_removes_the_runs(
    three: tuple[str, list[str]],
) -> None:
    db, ids = three
    proc = _ww("runs", "delete", ids[2], "--store", db)
    assert proc.returncode == 2 and "--yes" in proc.stderr
    proc = _ww("runs", "delete", ids[2][:8], ids[1], "--store", db, "--yes")
    assert proc.returncode == 0, proc.stderr
    left = [r.id for r in get_store(db).list_runs()]
    assert left == [ids[0]]
    proc = _ww("runs", "delete", "ffffffff", "--store", db, "--yes")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
