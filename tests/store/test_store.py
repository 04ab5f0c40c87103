"""The shared store suite on every backend: memory, SQLite, and PostgreSQL when available.

PostgreSQL runs when WATTWISE_TEST_POSTGRES_URL is set (``.ci/run`` starts a server and
sets it); under CI a missing server is an error, not a skip.
"""

from __future__ import annotations

import multiprocessing
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from wattwise.exceptions import StoreError
from wattwise.store import MemoryStore, RunStore, SqlStore, get_store
from wattwise.testing.store_suite import StoreTestCase, write_runs

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
