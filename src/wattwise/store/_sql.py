"""SQL run store on SQLAlchemy: a SQLite file by default, any URL (PostgreSQL) for teams.

SQLite runs in WAL mode with a busy timeout so several processes can write at once.
Records are kept as JSON beside a few indexed columns for filtering.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from wattwise.exceptions import RunNotFoundError, StoreError
from wattwise.record import RunRecord
from wattwise.series import SeriesPoint
from wattwise.store._base import RunFilter, RunStore, matches, settle_status

__all__ = ["SqlStore"]

SCHEMA_VERSION = 1
_CREATE_ATTEMPTS = 5
"""Each race lost to another process creating the schema (one per table, then the version
row) costs one attempt."""
_LOCKED_RETRIES = 12
"""Back-offs (20 ms doubling, at most 1 s: about 7 s in all) when SQLite reports the new
database locked by another process creating it."""

_meta = sa.MetaData()
runs = sa.Table(
    "wattwise_runs",
    _meta,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, index=True),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("started_at", sa.Float, nullable=False, index=True),
    sa.Column("updated_at", sa.Float, nullable=True),
    sa.Column("hostname", sa.String(255), nullable=False),
    sa.Column("energy_j", sa.Float, nullable=False),
    sa.Column("co2_g", sa.Float, nullable=False),
    sa.Column("record", sa.Text, nullable=False),
)
series = sa.Table(
    "wattwise_series",
    _meta,
    sa.Column(
        "run_id",
        sa.String(32),
        sa.ForeignKey("wattwise_runs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("columns", sa.Text, nullable=False),
    sa.Column("points", sa.Text, nullable=False),
)
info = sa.Table(
    "wattwise_meta",
    _meta,
    sa.Column("key", sa.String(50), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _url_of(target: str) -> str:
    if "://" in target:
        return target
    return f"sqlite:///{Path(target).expanduser().resolve()}"


class SqlStore(RunStore):
    """Runs in a SQL database. ``target``: a SQLAlchemy URL or a SQLite file path."""

    def __init__(self, target: str | os.PathLike[str]) -> None:
        self.url = _url_of(os.fspath(target))
        self._lock = threading.Lock()
        safe = sa.engine.make_url(self.url).render_as_string(hide_password=True)
        try:
            if self.url.startswith("sqlite:///"):
                path = Path(self.url.removeprefix("sqlite:///"))
                path.parent.mkdir(parents=True, exist_ok=True)
                self.engine: Engine = sa.create_engine(
                    self.url, connect_args={"timeout": 30}, pool_pre_ping=False
                )
                event.listen(self.engine, "connect", _sqlite_pragmas)
            else:
                self.engine = sa.create_engine(self.url, pool_pre_ping=True)
            self._create()
        except (SQLAlchemyError, OSError, ImportError, ValueError) as exc:
            raise StoreError(f"cannot open run store {safe}: {_short(exc)}") from exc

    def _create(self) -> None:
        attempt = locked = 0
        while True:  # several processes may create it at once
            try:
                _meta.create_all(self.engine, checkfirst=True)
                with self.engine.begin() as conn:
                    have = conn.execute(
                        sa.select(info.c.value).where(info.c.key == "schema_version")
                    ).scalar()
                    if have is None:
                        conn.execute(
                            info.insert().values(key="schema_version", value=str(SCHEMA_VERSION))
                        )
                    elif int(have) > SCHEMA_VERSION:
                        raise StoreError(
                            f"run store schema {have} is newer than this wattwise "
                            f"({SCHEMA_VERSION}): upgrade wattwise"
                        )
                return
            except (sa.exc.IntegrityError, sa.exc.ProgrammingError):
                attempt += 1
                if attempt == _CREATE_ATTEMPTS:
                    raise
            except sa.exc.OperationalError as exc:
                if "database is locked" in str(exc) and locked < _LOCKED_RETRIES:
                    # SQLite answers "locked" at once, without its busy wait, when two
                    # connections would deadlock upgrading read locks to write locks (as
                    # schema creation does): back off and try again
                    time.sleep(min(1.0, 0.02 * 2**locked))
                    locked += 1
                    continue
                attempt += 1  # SQLite: "table ... already exists"
                if attempt == _CREATE_ATTEMPTS or "already exists" not in str(exc):
                    raise

    # -- writes -------------------------------------------------------------------------
    def save_run(
        self,
        record: RunRecord,
        series_points: Sequence[SeriesPoint] | None = None,
        columns: Sequence[str] = (),
    ) -> None:
        row = {
            "id": record.id,
            "name": record.name[:200],  # the column is for filtering; the record keeps it all
            "status": record.status,
            "started_at": record.started_at.timestamp(),
            "updated_at": record.updated_at.timestamp() if record.updated_at else None,
            "hostname": record.host.hostname,
            "energy_j": record.energy_j,
            "co2_g": record.co2_g,
            "record": json.dumps(record.to_dict()),
        }
        try:
            with self._lock, self.engine.begin() as conn:
                done = conn.execute(runs.update().where(runs.c.id == record.id).values(**row))
                if done.rowcount == 0:
                    conn.execute(runs.insert().values(**row))
                if series_points is not None:
                    conn.execute(series.delete().where(series.c.run_id == record.id))
                    conn.execute(
                        series.insert().values(
                            run_id=record.id,
                            columns=json.dumps(list(columns)),
                            points=json.dumps([[p.t0_s, p.t1_s, *p.values] for p in series_points]),
                        )
                    )
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot write run {record.id} to {self._safe()}: {_short(exc)}"
            ) from exc

    def delete_run(self, run_id: str) -> None:
        record = self.get_run(run_id)
        try:
            with self._lock, self.engine.begin() as conn:
                conn.execute(series.delete().where(series.c.run_id == record.id))
                conn.execute(runs.delete().where(runs.c.id == record.id))
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot delete run {record.id}: {_short(exc)}") from exc

    # -- reads --------------------------------------------------------------------------
    def _settled(self, raw: str) -> RunRecord:
        record = RunRecord.from_dict(json.loads(raw))
        settled = settle_status(record)
        if settled is not record:
            try:
                with self._lock, self.engine.begin() as conn:
                    conn.execute(
                        runs.update()
                        .where((runs.c.id == record.id) & (runs.c.status == "running"))
                        .values(status=settled.status, record=json.dumps(settled.to_dict()))
                    )
            except SQLAlchemyError:
                pass  # a read-only store still reports the settled status
        return settled

    def get_run(self, run_id: str) -> RunRecord:
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(runs.c.id, runs.c.record).where(runs.c.id == run_id)
                ).all()
                if not rows and len(run_id) >= 4:
                    rows = conn.execute(
                        sa.select(runs.c.id, runs.c.record)
                        .where(runs.c.id.startswith(run_id, autoescape=True))
                        .limit(2)
                    ).all()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read {self._safe()}: {_short(exc)}") from exc
        if not rows:
            raise RunNotFoundError(f"no run {run_id!r} in {self._safe()}")
        if len(rows) > 1:
            raise RunNotFoundError(f"run id prefix {run_id!r} is ambiguous: give more characters")
        return self._settled(rows[0].record)

    def list_runs(self, where: RunFilter | None = None) -> list[RunRecord]:
        where = where or RunFilter()
        q = sa.select(runs.c.record).order_by(runs.c.started_at.desc())
        if where.status is not None and where.status != "interrupted":
            q = q.where(runs.c.status == where.status)
        if where.since is not None:
            q = q.where(runs.c.started_at >= where.since.timestamp())
        if where.until is not None:
            q = q.where(runs.c.started_at <= where.until.timestamp())
        try:
            with self.engine.connect() as conn:
                raws = conn.execute(q).scalars().all()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read {self._safe()}: {_short(exc)}") from exc
        out = []
        for raw in raws:
            rec = self._settled(raw)
            if matches(rec, where):
                out.append(rec)
                if where.limit is not None and len(out) >= where.limit:
                    break
        return out

    def get_series(self, run_id: str) -> tuple[tuple[str, ...], list[SeriesPoint]]:
        record = self.get_run(run_id)
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    sa.select(series.c.columns, series.c.points).where(series.c.run_id == record.id)
                ).first()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read {self._safe()}: {_short(exc)}") from exc
        if row is None:
            return (), []
        cols = tuple(json.loads(row.columns))
        pts = [SeriesPoint(p[0], p[1], tuple(p[2:])) for p in json.loads(row.points)]
        return cols, pts

    def close(self) -> None:
        self.engine.dispose()

    def _safe(self) -> str:
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
