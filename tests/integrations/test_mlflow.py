"""The MLflow integration against real local MLflow stores (file store and SQLite).

A real tracked run (synthetic sensor, three epochs with ``run.log``) is logged into an
active MLflow run, into a given run id, and exported as a new MLflow run through the CLI
and the API; everything is read back with ``MlflowClient``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

mlflow = pytest.importorskip("mlflow")

from mlflow import MlflowClient  # noqa: E402

from wattwise.exceptions import ConfigError, IntegrationError  # noqa: E402
from wattwise.integrations.mlflow import (  # noqa: E402
    AlreadyExportedError,
    export_run,
    find_exported,
    log_run,
    mlflow_data,
)
from wattwise.record import PhaseRecord, RunRecord  # noqa: E402
from wattwise.report.json import build_report  # noqa: E402
from wattwise.testing.fake import SyntheticSensor  # noqa: E402
from wattwise.testing.records import make_footprint, make_record  # noqa: E402
from wattwise.tracking import Tracker  # noqa: E402

pytestmark = [
    # mlflow's SQL store (mlflow/store/tracking/sqlalchemy_store.py) still uses SQLAlchemy's
    # ``noload``, deprecated in SQLAlchemy 2.1
    pytest.mark.filterwarnings(
        "ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning"
    ),
]

WW = [sys.executable, "-m", "wattwise"]
NAME = "<b>bert</b> & co"
NO_SERIES = "No power series was stored for this run."


@dataclass(frozen=True)
class Stored:
    db: str
    tracker: Tracker
    record: RunRecord
    columns: tuple[str, ...]
    points: list[Any]


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Stored:
    db = str(tmp_path_factory.mktemp("mlflow-ww") / "runs.db")
    sensor = SyntheticSensor(lambda t: 100.0, lambda a, b: 100.0 * (b - a), kind="counter")
    tracker = Tracker(NAME, store=db, sensors=[sensor], zone="FRA", interval_s=0.1, live="off")
    with tracker as run:
        for epoch in run.epochs(3):
            time.sleep(0.06)
            run.step(samples=8)
            run.log(accuracy=0.5 + epoch / 10, **{"val loss (x)": 1.0 - epoch / 10})
    assert run.store is not None
    columns, points = run.store.get_series(run.result.id)
    assert points, "the run has a power series"
    return Stored(db, tracker, run.result, columns, points)


@pytest.fixture(autouse=True)
def _no_leaks() -> Iterator[None]:
    """No test may leave an active MLflow run or a global tracking URI behind."""
    yield
    leaked = mlflow.active_run()
    while mlflow.active_run() is not None:
        mlflow.end_run()
    assert leaked is None, "a test left an active MLflow run"
    # the integration never sets the process's tracking URI (export uses its own client)
    assert getattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", None) is None


@pytest.fixture
def file_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh MLflow file store, the process's tracking URI for this test only."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # maintenance mode in MLflow 3.x
    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def _ms(record_time: Any) -> int:
    return round(record_time.timestamp() * 1000)


def _epochs(record: RunRecord) -> list[Any]:
    return [p for p in record.phases if p.kind == "epoch"]


def _history(client: Any, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def _reports(client: Any, run_id: str, dest: Path, folder: str = "wattwise") -> tuple[Any, str]:
    names = sorted(f.path for f in client.list_artifacts(run_id, folder))
    assert names == [f"{folder}/report.html", f"{folder}/report.json"]
    local = Path(client.download_artifacts(run_id, folder, str(dest)))
    document = json.loads((local / "report.json").read_text(encoding="utf-8"))
    return document, (local / "report.html").read_text(encoding="utf-8")


def _check_figures(client: Any, run_id: str, record: RunRecord, prefix: str = "wattwise") -> None:
    run = client.get_run(run_id)
    m, p, t = run.data.metrics, run.data.params, run.data.tags
    fp = record.footprint
    approx = pytest.approx
    assert m[f"{prefix}/energy_kwh"] == approx(fp.energy_kwh, rel=1e-12)
    assert m[f"{prefix}/energy_j"] == approx(fp.energy_j, rel=1e-12)
    assert m[f"{prefix}/facility_energy_kwh"] == approx(fp.facility_energy_kwh, rel=1e-12)
    assert m[f"{prefix}/co2e_g"] == approx(fp.co2_g, rel=1e-12)
    assert m[f"{prefix}/co2e_low_g"] == approx(fp.co2_low_g, rel=1e-12)
    assert m[f"{prefix}/co2e_high_g"] == approx(fp.co2_high_g, rel=1e-12)
    assert m[f"{prefix}/cost"] == approx(fp.cost, rel=1e-12)
    assert m[f"{prefix}/duration_s"] == approx(record.duration_s, rel=1e-12)
    assert m[f"{prefix}/cpu_energy_kwh"] == approx(fp.by_component_j["cpu"] / 3.6e6, rel=1e-12)
    assert record.training is not None and record.training.energy_per_sample_j is not None
    assert m[f"{prefix}/energy_per_sample_j"] == approx(record.training.energy_per_sample_j)
    assert m[f"{prefix}/epochs"] == 3 and m[f"{prefix}/samples"] == 24
    epochs = _epochs(record)
    assert [e.index for e in epochs] == [0, 1, 2]
    assert _history(client, run_id, f"{prefix}/epoch_energy_j") == [
        (e.index, approx(e.machine.energy_j, rel=1e-12)) for e in epochs
    ]
    assert _history(client, run_id, f"{prefix}/epoch_co2e_g") == [
        (e.index, approx(e.machine.co2_g, rel=1e-12)) for e in epochs
    ]
    assert _history(client, run_id, f"{prefix}/epoch_duration_s") == [
        (e.index, approx(e.duration_s, rel=1e-12)) for e in epochs
    ]
    c = record.carbon
    assert p[f"{prefix}/zone"] == "FRA" and p[f"{prefix}/pue"] == str(c.pue)
    assert p[f"{prefix}/intensity_g_per_kwh"] == str(c.intensity_g_per_kwh)
    assert p[f"{prefix}/intensity_year"] == str(c.intensity_year)
    assert p[f"{prefix}/method"] == "measured" and p[f"{prefix}/headline_scope"] == "machine"
    assert p[f"{prefix}/interval_s"] == "0.1" and p[f"{prefix}/gpu_count"] == "0"
    assert p[f"{prefix}/wattwise_version"] == record.wattwise_version != ""
    assert p[f"{prefix}/currency"] == c.currency and p[f"{prefix}/planned_epochs"] == "3"
    assert t["wattwise.run_id"] == record.id and t["wattwise.status"] == "completed"
    assert t["wattwise.method"] == "measured" and t["wattwise.run_name"] == NAME


def test_log_run_into_the_active_run_of_a_file_store(
    stored: Stored, file_uri: str, tmp_path: Path
) -> None:
    with mlflow.start_run(run_name="training") as active:
        mlflow.log_metric("accuracy", 0.9)  # the user's own logging is left alone
        mlflow_id = log_run(stored.tracker)
    assert mlflow_id == active.info.run_id
    client = MlflowClient(file_uri)
    _check_figures(client, mlflow_id, stored.record)
    run = client.get_run(mlflow_id)
    assert run.info.run_name == "training" and run.info.status == "FINISHED"
    assert _history(client, mlflow_id, "accuracy") == [(0, 0.9)]  # no per-epoch user metrics
    assert "val loss _x_" not in run.data.metrics
    document, html = _reports(client, mlflow_id, tmp_path / "dl")
    expected = build_report(stored.record)
    for section in ("energy", "emissions", "cost", "phases", "training"):
        assert document[section] == expected[section]
    assert document["run"]["id"] == stored.record.id and document["run"]["name"] == NAME
    assert "&lt;b&gt;bert&lt;/b&gt; &amp; co" in html and "<b>bert</b>" not in html
    assert NO_SERIES not in html  # the power series came from the tracker's store


def test_log_run_needs_an_active_run_or_a_run_id(stored: Stored, file_uri: str) -> None:
    with pytest.raises(IntegrationError, match="no active MLflow run"):
        log_run(stored.record)
    assert MlflowClient(file_uri).search_runs(["0"]) == []


def test_log_run_into_a_given_run_with_prefix_and_epoch_metrics(
    stored: Stored, file_uri: str, tmp_path: Path
) -> None:
    client = MlflowClient(file_uri)
    target = client.create_run("0").info.run_id
    got = log_run(stored.record, run_id=target, prefix="energy", epoch_metrics=True)
    assert got == target and mlflow.active_run() is None
    _check_figures(client, target, stored.record, prefix="energy")
    assert _history(client, target, "accuracy") == [
        (0, 0.5),
        (1, pytest.approx(0.6)),
        (2, pytest.approx(0.7)),
    ]
    assert [s for s, _ in _history(client, target, "val loss _x_")] == [0, 1, 2]
    document, html = _reports(client, target, tmp_path / "dl", folder="energy")
    assert document["run"]["id"] == stored.record.id
    assert NO_SERIES in html  # a bare record and no series: the report says so
    assert client.get_run(target).info.status == "RUNNING"  # a given run is not ended
    # the same figures again are fine; a run with other params is refused in one line
    log_run(stored.record, run_id=target, prefix="energy", artifacts=False)
    other = replace(stored.record, carbon=replace(stored.record.carbon, zone="DEU"))
    with pytest.raises(IntegrationError, match=r"cannot log run \w+ to MLflow run"):
        log_run(other, run_id=target, prefix="energy", artifacts=False)
    with pytest.raises(ConfigError, match="invalid prefix"):
        log_run(stored.record, run_id=target, prefix="a//b")


def test_export_through_the_cli_once_then_skipped(
    stored: Stored, file_uri: str, tmp_path: Path
) -> None:
    args = [*WW, "runs", "export", stored.record.id[:8], "--store", stored.db, "--mlflow"]
    args += ["--mlflow-uri", file_uri, "--experiment", "energy"]
    first = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == ""
    lines = [x for x in first.stderr.splitlines() if x.startswith("exported ")]
    assert len(lines) == 1 and lines[0].startswith(f"exported {stored.record.id} -> MLflow run ")
    mlflow_id = lines[0].rsplit(" ", 1)[1]

    client = MlflowClient(file_uri)
    experiment = client.get_experiment_by_name("energy")
    assert experiment is not None
    run = client.get_run(mlflow_id)
    assert run.info.experiment_id == experiment.experiment_id
    assert run.info.run_name == NAME and run.info.status == "FINISHED"
    assert run.info.start_time == _ms(stored.record.started_at)
    assert run.info.end_time == _ms(stored.record.ended_at)
    _check_figures(client, mlflow_id, stored.record)
    # an export is the MLflow run's only source of the epoch's own metrics
    assert [s for s, _ in _history(client, mlflow_id, "accuracy")] == [0, 1, 2]
    _, html = _reports(client, mlflow_id, tmp_path / "dl")
    assert NO_SERIES not in html and "&lt;b&gt;bert&lt;/b&gt;" in html

    # again (in process, to save a start): the run is skipped, the prefix given twice too
    from click.testing import CliRunner

    from wattwise.cli import main

    again = CliRunner().invoke(main, [*args[3:], stored.record.id])
    assert again.exit_code == 0, again.output
    assert again.output == f"skipped {stored.record.id}: already in MLflow as run {mlflow_id}\n"
    assert len(client.search_runs([experiment.experiment_id])) == 1
    assert find_exported(stored.record, tracking_uri=file_uri, experiment="energy") == mlflow_id


def test_export_to_sqlite_maps_status_and_refuses_duplicates(
    stored: Stored, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    interrupted = replace(stored.record, status="interrupted")
    mlflow_id = export_run(
        interrupted, columns=stored.columns, points=stored.points, tracking_uri=uri
    )
    client = MlflowClient(uri)
    run = client.get_run(mlflow_id)
    assert run.info.experiment_id == "0" and run.info.status == "KILLED"
    assert run.info.end_time == _ms(stored.record.ended_at)
    assert run.data.tags["wattwise.status"] == "interrupted"
    assert run.data.metrics["wattwise/energy_j"] == pytest.approx(stored.record.energy_j)
    assert _history(client, mlflow_id, "wattwise/epoch_energy_j")[2][0] == 2
    document, _ = _reports(client, mlflow_id, tmp_path / "dl")
    assert document["energy"]["it_energy_kwh"] == pytest.approx(stored.record.energy_kwh)
    with pytest.raises(AlreadyExportedError, match=mlflow_id) as info:
        export_run(stored.record, tracking_uri=uri)
    assert info.value.mlflow_run_id == mlflow_id and info.value.run_id == stored.record.id
    assert len(client.search_runs(["0"])) == 1
    # a deleted MLflow run no longer counts: the run can be exported again
    client.delete_run(mlflow_id)
    again = export_run(replace(stored.record, status="failed"), tracking_uri=uri, artifacts=False)
    assert again != mlflow_id and client.get_run(again).info.status == "FAILED"


def test_cli_usage_errors_running_runs_and_missing_mlflow(
    stored: Stored, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from wattwise.cli import main
    from wattwise.store import get_store

    base = ["runs", "export", stored.record.id, "--store", stored.db]
    for extra in (["--mlflow", "--csv"], ["--mlflow", "-o", "x.json"], ["--experiment", "e"]):
        result = CliRunner().invoke(main, [*base, *extra])
        assert result.exit_code == 2 and "--mlflow" in result.output, extra
        assert result.exception is None or isinstance(result.exception, SystemExit)
    live = make_record(status="running", ended_at=None, pid=os.getpid())
    live = replace(
        live, started_at=datetime.now(timezone.utc), updated_at=datetime.now(timezone.utc)
    )
    db = str(tmp_path / "live.db")
    with get_store(db) as st:
        st.save_run(live)
    result = CliRunner().invoke(main, ["runs", "export", live.id, "--store", db, "--mlflow"])
    assert result.exit_code == 2 and "still running" in result.output
    assert not (tmp_path / "mlflow.db").exists()  # nothing was opened in MLflow
    monkeypatch.setitem(sys.modules, "mlflow", None)
    result = CliRunner().invoke(main, [*base, "--mlflow"])
    assert result.exit_code == 2
    assert result.output == (
        "wattwise: error: MLflow integration needs mlflow: pip install 'wattwise[mlflow]'\n"
    )


def test_a_running_record_is_not_exported(tmp_path: Path) -> None:
    record = make_record(status="running", ended_at=None)
    with pytest.raises(IntegrationError, match="still running"):
        export_run(record, tracking_uri=f"sqlite:///{tmp_path / 'never.db'}")
    assert not (tmp_path / "never.db").exists()


def test_missing_mlflow_is_one_clear_error(stored: Stored, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)
    message = "MLflow integration needs mlflow: pip install 'wattwise[mlflow]'"
    with pytest.raises(IntegrationError) as info:
        log_run(stored.record)
    assert str(info.value) == message
    with pytest.raises(IntegrationError, match="pip install 'wattwise\\[mlflow\\]'"):
        export_run(stored.record)
    assert mlflow_data(stored.record).tags["wattwise.run_id"] == stored.record.id


def test_names_are_made_valid_and_batches_stay_within_limits() -> None:
    from wattwise.integrations import mlflow as integration

    start = make_record().started_at
    user = {"acc@1": 0.5, "../up": 1.0, "wattwise/epoch_energy_j": 9.0, "nan": float("nan")}
    epochs = tuple(
        PhaseRecord(
            f"epoch {i}",
            "epoch",
            i,
            start,
            start,
            1.0,
            make_footprint(10.0),
            make_footprint(5.0),
            user,
        )
        for i in range(300)
    )
    record = make_record(tags={"a:b": "c"}, phases=epochs)
    data = mlflow_data(record, epoch_metrics=True)
    names = {name for name, *_ in data.epoch_metrics}
    assert {"acc_1", "up", "wattwise/epoch_energy_j"} <= names and "nan" not in names
    assert [v for n, v, *_ in data.epoch_metrics if n == "wattwise/epoch_energy_j"] == [10.0] * 300
    assert "wattwise.tag.a_b" in data.tags
    assert mlflow_data(record).epoch_metrics == tuple(
        row for row in data.epoch_metrics if row[0].startswith("wattwise/")
    )
    rows = list(range(len(data.epoch_metrics)))
    batches = list(integration._batches(rows, list(range(130)), list(range(5))))
    assert [x for m, _, _ in batches for x in m] == rows and len(rows) > 1000
    assert sum(len(p) for _, p, _ in batches) == 130
    assert all(len(m) + len(p) + len(t) <= 1000 and len(p) <= 100 for m, p, t in batches)


def test_importing_the_integration_does_not_import_mlflow() -> None:
    code = (
        "import sys\nimport wattwise.integrations.mlflow\n"
        "assert 'mlflow' not in sys.modules, 'mlflow imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
