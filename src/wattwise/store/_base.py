"""The run-store contract. Backends: SQL (SQLite, PostgreSQL, any SQLAlchemy URL), memory."""

from __future__ import annotations

import abc
import dataclasses
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import psutil

from wattwise.record import RunRecord
from wattwise.series import SeriesPoint

__all__ = ["RunFilter", "RunStore", "settle_status"]

STALE_AFTER_CHECKPOINTS = 3
"""A running record not updated for this many checkpoint intervals is interrupted."""
MIN_STALE_S = 30.0


@dataclass(frozen=True)
class RunFilter:
    """Which runs :meth:`RunStore.list_runs` returns (all when every field is None)."""

    name: str | None = None
    tag: tuple[str, str | None] | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None


def settle_status(record: RunRecord, now: datetime | None = None) -> RunRecord:
    """A ``running`` record whose writer is gone becomes ``interrupted``.

    The writer is gone when its process no longer exists on this host, or when the record
    has not been checkpointed for ``STALE_AFTER_CHECKPOINTS`` intervals (any host).
    """
    if record.status != "running":
        return record
    now = now or datetime.now(timezone.utc)
    stale_s = max(STALE_AFTER_CHECKPOINTS * record.checkpoint_s, MIN_STALE_S)
    last = record.updated_at or record.started_at
    gone = (now - last).total_seconds() > stale_s
    if not gone and record.pid is not None and record.host.hostname == socket.gethostname():
        gone = record.pid != os.getpid() and not psutil.pid_exists(record.pid)
    if not gone:
        return record
    note = "interrupted: the tracking process stopped before the run ended; figures are up to "
    note += f"the last checkpoint at {last.isoformat()}"
    return dataclasses.replace(
        record, status="interrupted", ended_at=last, events=(*record.events, note)
    )


class RunStore(abc.ABC):
    """Where run records live. Safe for several writer processes at once.

    ``save_run`` is an upsert keyed by ``record.id`` (the tracker checkpoints through it).
    Reads settle the status of dead running records (see :func:`settle_status`).
    """

    url: str

    @abc.abstractmethod
    def save_run(
        self,
        record: RunRecord,
        series: Sequence[SeriesPoint] | None = None,
        columns: Sequence[str] = (),
    ) -> None:
        """Insert or replace a run; ``series`` (if given) replaces its power series."""

    @abc.abstractmethod
    def get_run(self, run_id: str) -> RunRecord:
        """The run with this id or unique id prefix (≥ 4 characters); RunNotFoundError."""

    @abc.abstractmethod
    def list_runs(self, where: RunFilter | None = None) -> list[RunRecord]:
        """Runs newest first."""

    @abc.abstractmethod
    def get_series(self, run_id: str) -> tuple[tuple[str, ...], list[SeriesPoint]]:
        """(columns, points) of a run's power series."""

    @abc.abstractmethod
    def delete_run(self, run_id: str) -> None:
        """Delete a run and its series; RunNotFoundError when absent."""

    def close(self) -> None:  # noqa: B027 - optional
        """Release connections. Idempotent."""

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def matches(record: RunRecord, where: RunFilter) -> bool:
    """Whether ``record`` passes ``where`` (used by backends that filter in Python)."""
    if where.name is not None and where.name.lower() not in record.name.lower():
        return False
    if where.status is not None and record.status != where.status:
        return False
    if where.tag is not None:
        key, value = where.tag
        if key not in record.tags or (value is not None and record.tags[key] != value):
            return False
    if where.since is not None and record.started_at < where.since:
        return False
    return not (where.until is not None and record.started_at > where.until)
