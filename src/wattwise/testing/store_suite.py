"""A test suite every run store must pass; backends reuse it by overriding ``store``.

Usage in a test module::

    @pytest.fixture(params=["memory", "sqlite"])
    def store(request, tmp_path): ...

    class TestMyStore(StoreTestCase):
        pass
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import socket
from datetime import datetime, timedelta, timezone

import pytest

from wattwise.exceptions import RunNotFoundError
from wattwise.record import PhaseRecord
from wattwise.series import SeriesPoint
from wattwise.store import RunFilter, RunStore, get_store
from wattwise.testing.records import make_footprint, make_record

__all__ = ["StoreTestCase", "write_runs"]


def write_runs(url: str, worker: int, count: int) -> None:
    """Write ``count`` runs, each checkpointed three times (used from other processes)."""
    store = get_store(url)
    try:
        for i in range(count):
            rec = make_record(name=f"worker{worker}-{i}", status="running")
            for step in range(3):
                store.save_run(dataclasses.replace(rec, duration_s=float(step)))
            store.save_run(
                dataclasses.replace(rec, status="completed", duration_s=3.0),
                [SeriesPoint(0.0, 1.0, (1.0, 2.0))],
                ("cpu_w", "ram_w"),
            )
    finally:
        store.close()


class StoreTestCase:
    """Behaviour shared by every :class:`~wattwise.store.RunStore`.

    The using module provides a ``store`` fixture that yields a fresh, empty store.
    """

    def test_round_trip_is_lossless(self, store: RunStore) -> None:
        started = datetime(2026, 3, 1, tzinfo=timezone.utc)
        phase = PhaseRecord(
            "train",
            "epoch",
            0,
            started,
            started + timedelta(seconds=5),
            5.0,
            make_footprint(50.0),
            make_footprint(30.0),
            {"loss": 0.5},
        )
        rec = make_record(phases=(phase,), events=("note",), command="python x.py", exit_code=0)
        store.save_run(rec)
        assert store.get_run(rec.id) == rec

    def test_upsert_replaces(self, store: RunStore) -> None:
        rec = make_record(status="running")
        store.save_run(rec)
        done = dataclasses.replace(rec, status="completed", duration_s=99.0)
        store.save_run(done)
        assert store.get_run(rec.id).duration_s == 99.0
        assert len(store.list_runs()) == 1

    def test_prefix_lookup_and_missing(self, store: RunStore) -> None:
        rec = make_record()
        store.save_run(rec)
        assert store.get_run(rec.id[:6]).id == rec.id
        with pytest.raises(RunNotFoundError):
            store.get_run("ffffffffffff")

    def test_list_filters_and_order(self, store: RunStore) -> None:
        t0 = datetime(2026, 5, 1, tzinfo=timezone.utc)
        a = make_record(name="alpha", started_at=t0, tags={"team": "x"})
        b = make_record(name="beta", started_at=t0 + timedelta(days=1), status="failed", tags={})
        c = make_record(name="alphabet", started_at=t0 + timedelta(days=2), tags={"team": "y"})
        for r in (a, b, c):
            store.save_run(r)
        assert [r.id for r in store.list_runs()] == [c.id, b.id, a.id]
        assert {r.id for r in store.list_runs(RunFilter(name="alpha"))} == {a.id, c.id}
        assert [r.id for r in store.list_runs(RunFilter(status="failed"))] == [b.id]
        assert [r.id for r in store.list_runs(RunFilter(tag=("team", "y")))] == [c.id]
        assert len(store.list_runs(RunFilter(tag=("team", None)))) == 2
        assert [r.id for r in store.list_runs(RunFilter(since=t0 + timedelta(hours=1)))] == [
            c.id,
            b.id,
        ]
        assert [r.id for r in store.list_runs(RunFilter(until=t0 + timedelta(hours=1)))] == [a.id]
        assert len(store.list_runs(RunFilter(limit=2))) == 2

    def test_series_round_trip_and_delete(self, store: RunStore) -> None:
        rec = make_record()
        pts = [SeriesPoint(0.0, 1.0, (10.0, 2.0)), SeriesPoint(1.0, 2.0, (12.5, 2.0))]
        store.save_run(rec, pts, ("cpu_w", "ram_w"))
        assert store.get_series(rec.id) == (("cpu_w", "ram_w"), pts)
        store.delete_run(rec.id)
        with pytest.raises(RunNotFoundError):
            store.get_run(rec.id)

    def test_dead_running_record_reads_as_interrupted(self, store: RunStore) -> None:
        now = datetime.now(timezone.utc)
        proc = multiprocessing.get_context("spawn").Process(target=int)
        proc.start()
        proc.join()
        host = dataclasses.replace(make_record().host, hostname=socket.gethostname())
        rec = make_record(
            status="running", started_at=now, updated_at=now, ended_at=None, pid=proc.pid, host=host
        )
        store.save_run(rec)
        got = store.get_run(rec.id)
        assert got.status == "interrupted"
        assert got.machine == rec.machine  # the energy up to the checkpoint is kept
        assert any("interrupted" in e for e in got.events)
        stale = make_record(
            status="running",
            started_at=now - timedelta(hours=1),
            updated_at=now - timedelta(hours=1),
            ended_at=None,
            pid=None,
        )
        store.save_run(stale)
        assert store.get_run(stale.id).status == "interrupted"
        alive = make_record(
            status="running",
            started_at=now,
            updated_at=now,
            ended_at=None,
            host=host,
            pid=multiprocessing.current_process().pid,
        )
        store.save_run(alive)
        assert store.get_run(alive.id).status == "running"
