"""In-memory run store: for tests, notebooks, and as the reference backend."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from wattwise.exceptions import RunNotFoundError
from wattwise.record import RunRecord
from wattwise.series import SeriesPoint
from wattwise.store._base import RunFilter, RunStore, matches, settle_status

__all__ = ["MemoryStore"]


class MemoryStore(RunStore):
    """Runs kept in this process only."""

    url = "memory://"

    def __init__(self) -> None:
        self._runs: dict[str, RunRecord] = {}
        self._series: dict[str, tuple[tuple[str, ...], list[SeriesPoint]]] = {}
        self._lock = threading.Lock()

    def save_run(
        self,
        record: RunRecord,
        series: Sequence[SeriesPoint] | None = None,
        columns: Sequence[str] = (),
    ) -> None:
        with self._lock:
            self._runs[record.id] = record
            if series is not None:
                self._series[record.id] = (tuple(columns), list(series))

    def _find(self, run_id: str) -> RunRecord:
        if run_id in self._runs:
            return self._runs[run_id]
        hits = [r for k, r in self._runs.items() if len(run_id) >= 4 and k.startswith(run_id)]
        if len(hits) == 1:
            return hits[0]
        if hits:
            raise RunNotFoundError(f"run id prefix {run_id!r} is ambiguous: give more characters")
        raise RunNotFoundError(f"no run {run_id!r} in {self.url}")

    def get_run(self, run_id: str) -> RunRecord:
        with self._lock:
            return settle_status(self._find(run_id))

    def list_runs(self, where: RunFilter | None = None) -> list[RunRecord]:
        where = where or RunFilter()
        with self._lock:
            records = sorted(self._runs.values(), key=lambda r: r.started_at, reverse=True)
        out = [r for r in map(settle_status, records) if matches(r, where)]
        return out[: where.limit] if where.limit is not None else out

    def get_series(self, run_id: str) -> tuple[tuple[str, ...], list[SeriesPoint]]:
        with self._lock:
            return self._series.get(self._find(run_id).id, ((), []))

    def delete_run(self, run_id: str) -> None:
        with self._lock:
            rid = self._find(run_id).id
            del self._runs[rid]
            self._series.pop(rid, None)
