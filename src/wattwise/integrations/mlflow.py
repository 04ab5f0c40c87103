"""MLflow: a run's energy, emissions and cost, with its reports, in an MLflow run.

Log a run into the MLflow run you are in::

    import mlflow
    from wattwise import Tracker
    from wattwise.integrations.mlflow import log_run

    with mlflow.start_run():
        with Tracker("bert") as run:
            for epoch in run.epochs(3):
                ...
                run.log(accuracy=acc)
        log_run(run)            # or log_run(record, run_id=...) for another MLflow run

or export past runs, each as a new MLflow run (``wattwise runs export ID... --mlflow``)::

    from wattwise.integrations.mlflow import export_run
    from wattwise.store import get_store

    with get_store("runs.db") as store:
        record = store.get_run("1c2ee4d8")
        columns, points = store.get_series(record.id)
        export_run(record, columns=columns, points=points, tracking_uri="sqlite:///mlflow.db")

What MLflow receives (names after ``prefix``, ``wattwise/`` by default; headline scope,
see :attr:`~wattwise.record.RunRecord.headline`):

* metrics at step 0: ``energy_kwh``, ``energy_j``, ``energy_low_j``, ``energy_high_j``,
  ``facility_energy_kwh``, ``co2e_g``, ``co2e_low_g``, ``co2e_high_g``, ``cost``,
  ``duration_s``, ``mean_power_w``, ``{component}_energy_kwh`` (``cpu``, ``ram``,
  ``gpu`` ...) and, for training runs, ``epochs``, ``steps``, ``samples``, ``tokens``,
  ``energy_per_sample_j``, ``energy_per_token_j`` (those that apply) and
  ``saved_energy_kwh``, ``saved_co2e_g`` when stopping early saved energy (a forecast);
* one value per epoch, at step = the epoch's 0-based index: ``epoch_energy_j``,
  ``epoch_co2e_g``, ``epoch_duration_s``, ``epoch_power_w``, ``epoch_samples_per_s``,
  ``epoch_energy_per_sample_j``, ``epoch_energy_per_token_j`` (those that apply); with
  ``epoch_metrics=True`` (the default of :func:`export_run`) also the metrics logged with
  each epoch (``run.log(accuracy=...)``) under their own names, made valid for MLflow
  (characters other than letters, digits, ``_ - . / space`` become ``_``; a name that
  would clash with wattwise's is left out);
* params: ``zone``, ``pue``, ``intensity_g_per_kwh``, ``intensity_kind``,
  ``intensity_source``, ``intensity_year``, ``method``, ``headline_scope``,
  ``interval_s``, ``wattwise_version``, ``cpu_model``, ``gpu_count``, ``gpus``,
  ``currency``, ``price_per_kwh``, ``planned_epochs`` (those known);
* tags (fixed names, whatever the prefix): ``wattwise.run_id``, ``wattwise.run_name``,
  ``wattwise.status``, ``wattwise.method``, and the run's own tags as ``wattwise.tag.KEY``;
* artifacts: ``wattwise/report.json`` (the run report, see
  :func:`wattwise.report.build_report`) and ``wattwise/report.html`` (the self-contained
  HTML report), unless ``artifacts=False``.

Non-finite values are left out. Metrics and params go in batches
(``MlflowClient.log_batch``), so a run of hundreds of epochs takes a few calls. MLflow
params cannot change once logged: logging a different wattwise run into the same MLflow
run raises :class:`~wattwise.exceptions.IntegrationError` if a param differs.

``mlflow`` (``pip install 'wattwise[mlflow]'``, ``mlflow-skinny`` is enough) is imported
when a function here is called, not when this module is imported.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wattwise.exceptions import ConfigError, IntegrationError, StoreError
from wattwise.record import RunRecord
from wattwise.units import J_PER_KWH

if TYPE_CHECKING:
    from wattwise.series import SeriesPoint
    from wattwise.tracking import Tracker

__all__ = [
    "MLFLOW_STATUS",
    "RUN_ID_TAG",
    "AlreadyExportedError",
    "MlflowData",
    "export_run",
    "find_exported",
    "log_run",
    "mlflow_data",
]

#: the tag that ties an MLflow run to the wattwise run it holds
RUN_ID_TAG = "wattwise.run_id"

#: the MLflow run status each wattwise status is exported with: a run wattwise stopped
#: (budget, early stopping) ended as planned, so FINISHED; an interrupted one, KILLED
MLFLOW_STATUS = {
    "completed": "FINISHED",
    "stopped": "FINISHED",
    "failed": "FAILED",
    "interrupted": "KILLED",
}

_INSTALL = "MLflow integration needs mlflow: pip install 'wattwise[mlflow]'"

# MLflow's limits (mlflow.utils.validation), kept here so no import is needed to check
_MAX_KEY = 250
_MAX_PARAM_VALUE = 6000
_MAX_TAG_VALUE = 8000
_MAX_METRICS_PER_BATCH = 1000
_MAX_PARAMS_TAGS_PER_BATCH = 100
_MAX_ENTITIES_PER_BATCH = 1000

_BAD_CHARS = re.compile(r"[^\w.\- /]")

#: what the training session records with each epoch itself: these become
#: ``epoch_{key}`` metrics (the counts are left out), never user metrics
_SESSION_EPOCH_KEYS = {
    "samples_per_s": True,
    "energy_per_sample_j": True,
    "energy_per_token_j": True,
    "steps": False,
    "samples": False,
    "tokens": False,
}


class AlreadyExportedError(IntegrationError):
    """The wattwise run is already in that MLflow experiment (an active MLflow run tagged
    ``wattwise.run_id``); delete that MLflow run to export it again.

    Attributes:
        run_id: the wattwise run id.
        mlflow_run_id: the MLflow run that holds it.
        experiment_id: the MLflow experiment searched.
    """

    def __init__(self, run_id: str, mlflow_run_id: str, experiment_id: str) -> None:
        super().__init__(
            f"run {run_id} is already in MLflow experiment {experiment_id} as run "
            f"{mlflow_run_id}; delete that MLflow run to export it again"
        )
        self.run_id = run_id
        self.mlflow_run_id = mlflow_run_id
        self.experiment_id = experiment_id


@dataclass(frozen=True)
class MlflowData:
    """What a run sends to MLflow, before any MLflow call.

    Attributes:
        metrics: the run's totals, by metric name.
        epoch_metrics: ``(name, value, step, timestamp_ms)`` for every epoch value.
        params: param values as MLflow stores them (strings, cut to MLflow's length).
        tags: tag values, likewise.
        timestamp_ms: when the totals were reached (the run's end, or last update).
    """

    metrics: Mapping[str, float]
    epoch_metrics: tuple[tuple[str, float, int, int], ...]
    params: Mapping[str, str]
    tags: Mapping[str, str]
    timestamp_ms: int


# -- names --------------------------------------------------------------------------------
def _valid_name(name: str) -> str:
    """``name`` as a valid MLflow metric, param or tag key: other characters become
    ``_``, empty, ``.`` and ``..`` path segments are dropped, at most 250 characters."""
    clean = _BAD_CHARS.sub("_", name)
    parts = [p for p in clean.split("/") if p not in ("", ".", "..")]
    return "/".join(parts)[:_MAX_KEY].rstrip("/") or "_"


def _check_prefix(prefix: object) -> str:
    if not isinstance(prefix, str) or (prefix and _valid_name(prefix) != prefix):
        raise ConfigError(
            f"invalid prefix={prefix!r}: use letters, digits, '_', '-', '.', ' ' and '/' "
            "between non-empty parts, or '' for none"
        )
    return prefix


def _ms(dt: datetime) -> int:
    aware = dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)
    return max(0, round(aware.timestamp() * 1000))


def _finite(value: float | int | None) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


# -- what is logged -----------------------------------------------------------------------
def mlflow_data(
    record: RunRecord, *, prefix: str = "wattwise", epoch_metrics: bool = False
) -> MlflowData:
    """The metrics, per-epoch metrics, params and tags :func:`log_run` sends for
    ``record`` (see the module's docstring for the names). No MLflow import.

    Raises:
        ConfigError: ``prefix`` is not a valid MLflow name.
    """
    prefix = _check_prefix(prefix)

    def key(name: str) -> str:
        return f"{prefix}/{name}" if prefix else name

    fp = record.footprint
    c = record.carbon
    t = record.training
    end = record.ended_at or record.updated_at or record.started_at
    ts = _ms(end)

    totals: dict[str, float | int | None] = {
        "energy_kwh": fp.energy_kwh,
        "energy_j": fp.energy_j,
        "energy_low_j": fp.energy_low_j,
        "energy_high_j": fp.energy_high_j,
        "facility_energy_kwh": fp.facility_energy_kwh,
        "co2e_g": fp.co2_g,
        "co2e_low_g": fp.co2_low_g,
        "co2e_high_g": fp.co2_high_g,
        "cost": fp.cost,
        "duration_s": record.duration_s,
        "mean_power_w": fp.energy_j / record.duration_s if record.duration_s > 0 else None,
    }
    for component, energy_j in fp.by_component_j.items():
        totals[f"{_valid_name(str(component))}_energy_kwh"] = energy_j / J_PER_KWH
    if t is not None:
        totals["epochs"] = t.epoch_offset + t.epochs
        totals["steps"] = t.steps
        if t.samples:
            totals["samples"] = t.samples
            totals["energy_per_sample_j"] = t.energy_per_sample_j
        if t.tokens:
            totals["tokens"] = t.tokens
            totals["energy_per_token_j"] = t.energy_per_token_j
        if t.saved is not None:
            totals["saved_energy_kwh"] = float(t.saved.get("saved_energy_j", 0.0)) / J_PER_KWH
            totals["saved_co2e_g"] = t.saved.get("saved_co2_g")
    metrics = {key(k): f for k, raw in totals.items() if (f := _finite(raw)) is not None}

    per_epoch: list[tuple[str, float, int, int]] = []
    reserved = set(metrics)
    epochs = [p for p in record.phases if p.kind == "epoch"]
    for ordinal, phase in enumerate(epochs):
        step = phase.index if phase.index is not None else ordinal
        pfp = phase.machine if record.headline == "machine" else phase.process
        at = _ms(phase.ended_at)
        figures: dict[str, float | None] = {
            key("epoch_energy_j"): pfp.energy_j,
            key("epoch_co2e_g"): pfp.co2_g,
            key("epoch_duration_s"): phase.duration_s,
            key("epoch_power_w"): pfp.energy_j / phase.duration_s if phase.duration_s > 0 else None,
        }
        for own, logged in _SESSION_EPOCH_KEYS.items():
            if logged and own in phase.metrics:
                figures[key(f"epoch_{own}")] = phase.metrics[own]
        reserved.update(figures)
        if epoch_metrics:
            for user_key, user_value in phase.metrics.items():
                mkey = _valid_name(str(user_key))
                if user_key in _SESSION_EPOCH_KEYS or mkey in reserved:
                    continue
                if not (prefix and mkey.startswith(prefix + "/")):
                    figures.setdefault(mkey, user_value)
        for name, raw_value in figures.items():
            value = _finite(raw_value)
            if value is not None:
                per_epoch.append((name, value, int(step), at))

    params: dict[str, object] = {
        "zone": c.zone,
        "pue": c.pue,
        "intensity_g_per_kwh": c.intensity_g_per_kwh,
        "intensity_kind": c.intensity_kind,
        "intensity_source": c.intensity_source,
        "intensity_year": c.intensity_year,
        "method": fp.method,
        "headline_scope": record.headline,
        "interval_s": record.interval_s,
        "wattwise_version": record.wattwise_version or None,
        "cpu_model": record.host.cpu_model or None,
        "gpu_count": len(record.host.gpus),
        "gpus": ", ".join(record.host.gpus) or None,
        "currency": c.currency,
        "price_per_kwh": c.price_per_kwh,
        "planned_epochs": t.planned_epochs if t is not None else None,
    }
    tags: dict[str, object] = {
        RUN_ID_TAG: record.id,
        "wattwise.run_name": record.name,
        "wattwise.status": record.status,
        "wattwise.method": fp.method,
    }
    for tag, tag_value in record.tags.items():
        tags.setdefault(f"wattwise.tag.{_valid_name(str(tag))}", tag_value)
    return MlflowData(
        metrics=metrics,
        epoch_metrics=tuple(per_epoch),
        params={
            key(k): str(v)[:_MAX_PARAM_VALUE]
            for k, v in params.items()
            if v is not None and not (isinstance(v, float) and not math.isfinite(v))
        },
        tags={k[:_MAX_KEY]: str(v)[:_MAX_TAG_VALUE] for k, v in tags.items()},
        timestamp_ms=ts,
    )


def _batches(
    metrics: Sequence[Any], params: Sequence[Any], tags: Sequence[Any]
) -> Iterator[tuple[list[Any], list[Any], list[Any]]]:
    """Split into ``log_batch`` calls within MLflow's limits (params and tags first)."""
    m, p, t = list(metrics), list(params), list(tags)
    while m or p or t:
        bp, p = p[:_MAX_PARAMS_TAGS_PER_BATCH], p[_MAX_PARAMS_TAGS_PER_BATCH:]
        bt, t = t[:_MAX_PARAMS_TAGS_PER_BATCH], t[_MAX_PARAMS_TAGS_PER_BATCH:]
        room = min(_MAX_METRICS_PER_BATCH, _MAX_ENTITIES_PER_BATCH - len(bp) - len(bt))
        bm, m = m[:room], m[room:]
        yield bm, bp, bt


# -- MLflow -------------------------------------------------------------------------------
def _import_mlflow() -> Any:
    try:
        import mlflow
    except ImportError:
        raise IntegrationError(_INSTALL) from None
    return mlflow


def _mlflow_error(mlflow: Any) -> type[Exception]:
    error: type[Exception] = mlflow.exceptions.MlflowException
    return error


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc)
    return " ".join(text.split())


def _client(mlflow: Any, tracking_uri: str | None) -> Any:
    try:
        return mlflow.MlflowClient(tracking_uri=tracking_uri)
    except _mlflow_error(mlflow) as exc:
        raise IntegrationError(f"cannot open the MLflow tracking store: {_one_line(exc)}") from exc
    except ImportError as exc:  # mlflow-skinny opens database stores with alembic
        missing = (exc.name or "").partition(".")[0] or "?"
        raise IntegrationError(
            f"cannot open the MLflow tracking store: it needs {missing}: pip install {missing}"
        ) from exc


def _resolve(run: RunRecord | Tracker) -> tuple[RunRecord, Any]:
    """The record, and the store its series can be read from (None when unknown)."""
    if isinstance(run, RunRecord):
        return run, None
    from wattwise.tracking import Tracker

    if not isinstance(run, Tracker):
        raise ConfigError(f"invalid run={run!r}: must be a RunRecord or a Tracker")
    return run.result, run.store


def _log(
    client: Any,
    mlflow_run_id: str,
    record: RunRecord,
    *,
    columns: Sequence[str],
    points: Sequence[SeriesPoint],
    prefix: str,
    artifacts: bool,
    epoch_metrics: bool,
) -> None:
    from mlflow.entities import Metric, Param, RunTag

    data = mlflow_data(record, prefix=prefix, epoch_metrics=epoch_metrics)
    metric_rows = [Metric(k, v, data.timestamp_ms, 0) for k, v in data.metrics.items()]
    metric_rows += [Metric(k, v, ts, step) for k, v, step, ts in data.epoch_metrics]
    params = [Param(k, v) for k, v in data.params.items()]
    tags = [RunTag(k, v) for k, v in data.tags.items()]
    for bm, bp, bt in _batches(metric_rows, params, tags):
        client.log_batch(mlflow_run_id, metrics=bm, params=bp, tags=bt, synchronous=True)
    if not artifacts:
        return
    from wattwise.report.html import html_report
    from wattwise.report.json import build_report

    document = build_report(record)
    html = html_report(record, columns, points)
    with tempfile.TemporaryDirectory(prefix="wattwise-mlflow-") as tmp:
        folder = Path(tmp)
        (folder / "report.json").write_text(
            json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        (folder / "report.html").write_text(html, encoding="utf-8")
        client.log_artifacts(mlflow_run_id, tmp, artifact_path=prefix or None)


def log_run(
    run: RunRecord | Tracker,
    *,
    columns: Sequence[str] = (),
    points: Sequence[SeriesPoint] = (),
    run_id: str | None = None,
    tracking_uri: str | None = None,
    prefix: str = "wattwise",
    artifacts: bool = True,
    epoch_metrics: bool = False,
) -> str:
    """Log a wattwise run into an MLflow run: the active one (``mlflow.start_run()``), or
    ``run_id``. Returns the MLflow run id.

    Args:
        run: a finished run's record, or the :class:`~wattwise.tracking.Tracker` that
            measured it (its record, and its power series from the tracker's store for the
            HTML report's chart).
        columns, points: the power series for the HTML report (``store.get_series(id)``);
            with a record and no series the report has no power chart.
        run_id: the MLflow run to log into instead of the active one (e.g.
            ``MLFlowLogger.run_id`` in Lightning); it is not ended.
        tracking_uri: where ``run_id`` lives (default: MLflow's, as ``mlflow`` uses).
        prefix: put before every metric and param name and as the artifacts' folder
            (``""``: none).
        artifacts: also log ``report.json`` and ``report.html``.
        epoch_metrics: also log the metrics recorded with each epoch (accuracy, loss)
            under their own names, one value per epoch; off by default because you
            usually log them yourself.

    Raises:
        IntegrationError: mlflow is not installed, there is no active MLflow run and no
            ``run_id``, or MLflow refused the data (a param logged before with another
            value, an unknown run).
        ConfigError: an invalid ``prefix``.
    """
    prefix = _check_prefix(prefix)
    record, store = _resolve(run)
    mlflow = _import_mlflow()
    if store is not None and not columns and not points:
        try:
            columns, points = store.get_series(record.id)
        except StoreError:
            columns, points = (), ()
    if run_id is None:
        active = mlflow.active_run()
        if active is None:
            raise IntegrationError(
                "no active MLflow run: call log_run inside `with mlflow.start_run():`, "
                "or pass run_id="
            )
        run_id = str(active.info.run_id)
        client = _client(mlflow, tracking_uri or mlflow.get_tracking_uri())
    else:
        client = _client(mlflow, tracking_uri)
    try:
        _log(
            client,
            run_id,
            record,
            columns=columns,
            points=points,
            prefix=prefix,
            artifacts=artifacts,
            epoch_metrics=epoch_metrics,
        )
    except _mlflow_error(mlflow) as exc:
        raise IntegrationError(
            f"cannot log run {record.id} to MLflow run {run_id}: {_one_line(exc)}"
        ) from exc
    return run_id


def _experiment_id(client: Any, experiment: str | None) -> str:
    """The id of ``experiment`` (a name; created when missing), or of MLflow's default:
    ``MLFLOW_EXPERIMENT_ID``, ``MLFLOW_EXPERIMENT_NAME``, else experiment 0."""
    name = experiment
    if name is None:
        env_id = os.environ.get("MLFLOW_EXPERIMENT_ID")
        if env_id:
            return env_id
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or None
        if name is None:
            return "0"
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage != "active":
            raise IntegrationError(
                f"MLflow experiment {name!r} is deleted: restore it or choose another name"
            )
        return str(found.experiment_id)
    return str(client.create_experiment(name))


def _find(client: Any, experiment_id: str, run_id: str) -> str | None:
    # wattwise run ids are hex uuids; quote anyway so that no id can break the filter
    safe = run_id.replace("\\", "\\\\").replace("'", "\\'")
    found = client.search_runs(
        [experiment_id], filter_string=f"tags.`{RUN_ID_TAG}` = '{safe}'", max_results=1
    )
    return str(found[0].info.run_id) if found else None


def find_exported(
    record: RunRecord | str, *, tracking_uri: str | None = None, experiment: str | None = None
) -> str | None:
    """The MLflow run (active, not deleted) that holds this wattwise run in the
    experiment, or None. ``record``: a run record or a full wattwise run id."""
    mlflow = _import_mlflow()
    client = _client(mlflow, tracking_uri)
    wid = record if isinstance(record, str) else record.id
    try:
        experiment_id = _experiment_id(client, experiment)
        return _find(client, experiment_id, wid)
    except _mlflow_error(mlflow) as exc:
        raise IntegrationError(f"cannot search MLflow: {_one_line(exc)}") from exc


def export_run(
    record: RunRecord,
    *,
    columns: Sequence[str] = (),
    points: Sequence[SeriesPoint] = (),
    tracking_uri: str | None = None,
    experiment: str | None = None,
    prefix: str = "wattwise",
    artifacts: bool = True,
    epoch_metrics: bool = True,
) -> str:
    """Create a new MLflow run for a past wattwise run and log it there (see
    :func:`log_run`); returns the new MLflow run id.

    The MLflow run is named like the wattwise run, starts and ends when it did, is
    tagged ``wattwise.run_id`` (and ``mlflow.source.git.commit``/``branch`` when the
    record knows them) and ends as :data:`MLFLOW_STATUS` says: ``completed`` and
    ``stopped`` (by a budget or early stopping) as FINISHED, ``failed`` as FAILED,
    ``interrupted`` as KILLED. It goes through ``MlflowClient(tracking_uri)``: the
    process's MLflow settings (tracking URI, active run) are left alone.

    Args:
        record: a run that has ended.
        columns, points: its power series, for the HTML report's chart.
        tracking_uri: the MLflow tracking store (default: ``MLFLOW_TRACKING_URI`` or
            MLflow's own default).
        experiment: an experiment name, created when missing (default:
            ``MLFLOW_EXPERIMENT_ID``/``MLFLOW_EXPERIMENT_NAME``, else MLflow's default
            experiment).
        prefix, artifacts: as for :func:`log_run`.
        epoch_metrics: also log the metrics recorded with each epoch (on by default: the
            export is the MLflow run's only source of them).

    Raises:
        AlreadyExportedError: an active MLflow run in that experiment already holds this
            wattwise run (its id is in the error); nothing is logged.
        IntegrationError: mlflow is not installed, the record is still running, or MLflow
            refused the data (then the half-made MLflow run is deleted).
        ConfigError: an invalid ``prefix``.
    """
    prefix = _check_prefix(prefix)
    if record.status not in MLFLOW_STATUS:
        raise IntegrationError(
            f"run {record.id} is still {record.status}: export it once it has ended"
        )
    mlflow = _import_mlflow()
    from mlflow.utils.mlflow_tags import MLFLOW_GIT_BRANCH, MLFLOW_GIT_COMMIT

    client = _client(mlflow, tracking_uri)
    error = _mlflow_error(mlflow)
    try:
        experiment_id = _experiment_id(client, experiment)
        existing = _find(client, experiment_id, record.id)
    except error as exc:
        raise IntegrationError(f"cannot export run {record.id}: {_one_line(exc)}") from exc
    if existing is not None:
        raise AlreadyExportedError(record.id, existing, experiment_id)
    tags = {RUN_ID_TAG: record.id}
    if record.code.get("git_commit"):
        tags[MLFLOW_GIT_COMMIT] = record.code["git_commit"]
    if record.code.get("git_branch"):
        tags[MLFLOW_GIT_BRANCH] = record.code["git_branch"]
    ended = record.ended_at or record.updated_at
    start_ms = _ms(record.started_at)
    end_ms = _ms(ended) if ended is not None else start_ms + round(record.duration_s * 1000)
    try:
        created = client.create_run(
            experiment_id,
            start_time=start_ms,
            tags=tags,
            run_name=record.name,
        )
    except error as exc:
        raise IntegrationError(f"cannot export run {record.id}: {_one_line(exc)}") from exc
    mlflow_run_id = str(created.info.run_id)
    try:
        _log(
            client,
            mlflow_run_id,
            record,
            columns=columns,
            points=points,
            prefix=prefix,
            artifacts=artifacts,
            epoch_metrics=epoch_metrics,
        )
        client.set_terminated(mlflow_run_id, MLFLOW_STATUS[record.status], end_time=end_ms)
    except BaseException as exc:
        # a half-made run would block the next try as a duplicate; the first error matters
        with contextlib.suppress(Exception):
            client.delete_run(mlflow_run_id)
        if isinstance(exc, error):
            raise IntegrationError(f"cannot export run {record.id}: {_one_line(exc)}") from exc
        raise
    return mlflow_run_id
