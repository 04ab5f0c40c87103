"""``wattwise optimize`` and ``wattwise demo optimize`` as a user runs them.

A tiny task (the 8-channel digits CNN, 200 training images, one epoch) keeps each study
to a couple of seconds; the estimate sensors at 0.1 s in zone FRA; conftest points the
default run store into the test's own folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from wattwise.cli import main
from wattwise.store import get_store

pytest.importorskip("torch")
pytest.importorskip("sklearn")

TASK_FILE = """
from wattwise.complexity import digits_data
from wattwise.optimizing.task import OptimizeTask
from wattwise.tuning.digits import make_cnn

d = digits_data(0)


def task():
    return OptimizeTask(
        make_model=lambda: make_cnn(8),
        x_train=d.x_train[:200], y_train=d.y_train[:200],
        x_test=d.x_test, y_test=d.y_test,
        epochs=1, batch_size=32, lr=3e-3, name="tiny",
    )


TASK = task()
not_a_task = 42


def raises():
    raise RuntimeError("no data here")


def wrong():
    return {"model": None}
"""
FAST = ["--zone", "FRA", "--interval", "0.1", "--repeats", "1", "--window", "0.05"]


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), prog_name="wattwise")


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def one_line_error(result: Result) -> str:
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output and result.stdout == "", result.output
    assert lines[0].startswith("wattwise: error: "), lines
    return lines[0]


@pytest.fixture(scope="module")
def task_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("opt") / "tiny_task.py"
    path.write_text(TASK_FILE, encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def study(task_file: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    out = tmp_path_factory.mktemp("opt-out")
    db = out / "runs.db"
    result = cli(
        "optimize",
        f"{task_file}:task",
        "--recipes",
        "quantize-dynamic,subset",
        "--store",
        str(db),
        "--json",
        str(out / "o.json"),
        "--html",
        str(out / "o.html"),
        "--name",
        "cli study",
        *FAST,
    )
    return result, out


def test_optimize_prints_the_table_and_writes_json_and_html(study: tuple[Result, Path]) -> None:
    result, out = study
    ok(result)
    err, table = result.stderr, result.stdout  # progress on stderr, the table on stdout
    assert "baseline + quantize-dynamic, subset" in err
    assert "inference round 1/1 measured" in err
    for name in ("baseline", "int8 dynamic", "subset 50%"):
        assert name in table
    assert "Recommended:" in table or "Keep the baseline" in table
    doc = json.loads((out / "o.json").read_text(encoding="utf-8"))
    assert doc["name"] == "cli study" and doc["tolerance"] == pytest.approx(0.01)
    assert [v["name"] for v in doc["variants"]] == ["baseline", "int8 dynamic", "subset 50%"]
    assert all(v["inference"][0]["batch_size"] == 1 for v in doc["variants"])
    assert all(v["inference"][-1]["batch_size"] == 256 for v in doc["variants"])
    assert "qint8" in doc["variants"][1]["facts"]["weights"]
    page = (out / "o.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "<svg" in page and "<script" not in page


def test_optimize_runs_are_in_the_store_and_linked_to_the_baseline(
    study: tuple[Result, Path],
) -> None:
    _, out = study
    doc = json.loads((out / "o.json").read_text(encoding="utf-8"))
    store = get_store(str(out / "runs.db"))
    try:
        base_id = doc["variants"][0]["train_run_ids"][0]
        runs = [r for r in store.list_runs() if r.tags.get("optimize") == "cli study"]
    finally:
        store.close()
    stages = sorted(r.tags["stage"] for r in runs)
    # baseline + subset trainings, three scores, one inference run
    assert stages == ["eval", "eval", "eval", "inference", "train", "train"]
    assert all(r.tags.get("baseline_run") == base_id for r in runs if r.id != base_id)
    inference = next(r for r in runs if r.tags["stage"] == "inference")
    assert inference.id == doc["inference_run_id"]
    # three models and the baseline's A/A copy, at two batch sizes, one round
    assert sum(p.kind == "inference" for p in inference.phases) == 4 * 2
    assert sorted(doc["noise"]) == ["1", "256"]


def test_a_task_object_works_as_well_as_a_factory(task_file: str, tmp_path: Path) -> None:
    result = ok(
        cli(
            "optimize",
            f"{task_file}:TASK",
            "--recipes",
            "quantize-dynamic",
            "--batch-sizes",
            "4",
            "--objective",
            "training",
            "--json",
            "-",
            *FAST,
        )
    )
    doc = json.loads(result.stdout)
    assert doc["objective"] == "training"
    assert [f["batch_size"] for f in doc["variants"][0]["inference"]] == [4]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["nomodule_xyz:task"], "cannot load nomodule_xyz"),
        (["{f}"], "invalid target"),
        (["{f}:missing"], "has no attribute 'missing'"),
        (["{f}:not_a_task"], "neither an OptimizeTask nor a function"),
        (["{f}:raises"], "RuntimeError: no data here"),
        (["{f}:wrong"], "must return a wattwise.OptimizeTask"),
        (["{f}:task", "--recipes", "prune,shrinkify"], "unknown recipe 'shrinkify'"),
        (["{f}:task", "--batch-sizes", "1,big"], "--batch-sizes must be integers"),
        (["{f}:task", "--batch-sizes", "0"], "batch sizes must be integers ≥ 1"),
        (["{f}:task", "--html", "-", "--json", "-"], "cannot both use standard output"),
        (["{f}:task", "--zone", "XX-NOWHERE"], "XX-NOWHERE"),
        (["{f}:task", "--name", " "], "--name must not be empty"),
    ],
)
def test_user_errors_are_one_line(task_file: str, args: list[str], needle: str) -> None:
    line = one_line_error(cli("optimize", *[a.format(f=task_file) for a in args]))
    assert needle in line


def test_tolerance_out_of_range_is_a_usage_error(task_file: str) -> None:
    result = cli("optimize", f"{task_file}:task", "--tolerance", "100")
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_demo_optimize_runs_the_digits_task(tmp_path: Path) -> None:
    result = ok(
        cli(
            "demo",
            "optimize",
            "--epochs",
            "1",
            "--recipes",
            "quantize-dynamic",
            "--batch-sizes",
            "64",
            "--store",
            str(tmp_path / "d.db"),
            "--json",
            "-",
            *FAST,
        )
    )
    doc = json.loads(result.stdout)  # the table goes to stderr when stdout holds the JSON
    assert "int8 dynamic" in result.stderr
    assert doc["name"] == "optimize digits-cnn"
    assert [v["name"] for v in doc["variants"]] == ["baseline", "int8 dynamic"]
    assert doc["variants"][0]["accuracy"] > 0.5  # one epoch of the 32-channel CNN learns
    assert "wattwise demo optimize (digits CNN)" in result.stderr
