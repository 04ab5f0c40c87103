"""The shared store suite on every backend: memory, SQLite, and PostgreSQL when available.

PostgreSQL runs when WATTWISE_TEST_POSTGRES_URL is set (``.ci/run`` starts a server and
sets it); under CI a missing server is an error, not a skip.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from wattwise.exceptions import StoreError
from wattwise.store import MemoryStore, RunStore, SqlStore, get_store
from wattwise.testing.fake import SyntheticSensor
from wattwise.testing.records import make_record
from wattwise.testing.store_suite import StoreTestCase, write_runs
from wattwise.tracking import Tracker

PG_URL = os.environ.get("WATTWISE_TEST_POSTGRES_URL")


def _postgres_db() -> str:
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must set WATTWISE_TEST_POSTGRES_URL (see .ci/run)")
        pytest.skip("no PostgreSQL server: set WATTWISE_TEST_POSTGRES_URL")
    name = f"ww_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_URL.rsplit("/", 1)[0] + f"/{name}"


def _drop(url: str) -> None:
    assert PG_URL is not None
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "memory":
        yield "memory"
    elif request.param == "sqlite":
        yield str(tmp_path / "runs.db")
    else:
        url = _postgres_db()
        yield url
        _drop(url)


@pytest.fixture
def store(backend_url: str) -> Iterator[RunStore]:
    st = get_store(backend_url)
    yield st
    st.close()


class TestStore(StoreTestCase):
    """Runs the shared suite with the fixture above."""


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_several_processes_write_at_once_and_lose_nothing(kind: str, tmp_path: Path) -> None:
    url = str(tmp_path / "shared.db") if kind == "sqlite" else _postgres_db()
    try:
        get_store(url).close()  # create the schema once, as the first tracker would
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=write_runs, args=(url, w, 15)) for w in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=120)
            assert p.exitcode == 0
        st = get_store(url)
        runs = st.list_runs()
        assert len(runs) == 60
        assert all(r.status == "completed" and r.duration_s == 3.0 for r in runs)
        assert len({r.name for r in runs}) == 60
        st.close()
    finally:
        if kind == "postgres":
            _drop(url)


def test_unwritable_store_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open run store"):
        SqlStore(str(blocker / "sub" / "runs.db"))


def test_bad_url_is_a_store_error() -> None:
    with pytest.raises(StoreError):
        get_store("nosuchdialect://x/y")


def test_keywords(tmp_path: Path) -> None:
    assert isinstance(get_store("memory"), MemoryStore)
    local = get_store("local")
    assert isinstance(local, SqlStore) and local.url.endswith(".wattwise/runs.db")
    local.close()
    default = get_store(None)
    assert isinstance(default, SqlStore) and "xdg-data/wattwise/runs.db" in default.url
    default.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    SqlStore(str(path)).close()
    eng = sa.create_engine(f"sqlite:///{path}")
    with eng.begin() as conn:
        conn.execute(sa.text("UPDATE wattwise_meta SET value='99' WHERE key='schema_version'"))
    eng.dispose()
    with pytest.raises(StoreError, match="newer"):
        SqlStore(str(path))


def constant(power_w: float = 100.0) -> SyntheticSensor:
    return SyntheticSensor(lambda t: power_w, lambda a, b: power_w * (b - a), kind="counter")


def tracker(**kw: Any) -> Tracker:
    kw.setdefault("sensors", [constant()])
    kw.setdefault("store", MemoryStore())
    kw.setdefault("zone", "FRA")
    kw.setdefault("interval_s", 0.1)
    return Tracker("t", **kw)


# -- store/_sql.py: several processes opening a fresh SQLite store at once ----------------
def _open_store(path: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        SqlStore(path).close()
        results.put("ok")
    except Exception as exc:  # reported to the parent
        results.put(repr(exc))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_processes_creating_a_fresh_sqlite_store_at_once_all_succeed(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    for trial in range(4):
        path = str(tmp_path / f"fresh{trial}.db")
        barrier, results = ctx.Barrier(8), ctx.Queue()
        procs = [ctx.Process(target=_open_store, args=(path, barrier, results)) for _ in range(8)]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        assert outcomes == ["ok"] * 8


# -- store/_sql.py: a long run name on PostgreSQL (VARCHAR(200) column) ---------------------
@pytest.fixture(params=["sqlite", "postgres"])
def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunStore]:
    if request.param == "sqlite":
        st = get_store(str(tmp_path / "runs.db"))
        yield st
        st.close()
        return
    if not PG_URL:
        pytest.skip("no PostgreSQL server: set WATTWISE_TEST_POSTGRES_URL")
    import sqlalchemy as sa

    name = f"ww_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    st = get_store(PG_URL.rsplit("/", 1)[0] + f"/{name}")
    yield st
    st.close()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_a_long_run_name_is_saved_whole(sql_store: RunStore) -> None:
    rec = make_record(name="sweep " + "lr=0.001,bs=64," * 30)
    assert len(rec.name) > 200
    sql_store.save_run(rec)
    assert sql_store.get_run(rec.id).name == rec.name
    assert [r.id for r in sql_store.list_runs()] == [rec.id]


def test_a_path_object_opens_a_store(tmp_path: Path) -> None:
    st = get_store(tmp_path / "runs.db")
    assert isinstance(st, SqlStore)
    st.close()
    with tracker(store=tmp_path / "other.db") as run:
        time.sleep(0.1)
    assert get_store(tmp_path / "other.db").get_run(run.result.id).status == "completed"
