"""Run stores: where every tracked run is saved.

``get_store(None)`` opens the per-user SQLite file; a string is a SQLAlchemy URL
(``postgresql+psycopg://...``), a SQLite file path, ``local`` for ``./.wattwise/runs.db``
or ``memory`` for an in-process store.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from wattwise.store._base import RunFilter, RunStore, settle_status
from wattwise.store._memory import MemoryStore
from wattwise.store._sql import SqlStore

__all__ = [
    "MemoryStore",
    "RunFilter",
    "RunStore",
    "SqlStore",
    "default_store_path",
    "get_store",
    "settle_status",
]


def default_store_path(environ: Mapping[str, str] | None = None) -> Path:
    """The per-user data file: ``$XDG_DATA_HOME/wattwise/runs.db`` on Linux (and the
    platform's usual data folder on macOS and Windows)."""
    env = os.environ if environ is None else environ
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    elif sys.platform == "win32":
        base = Path(env.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "wattwise" / "runs.db"


def get_store(target: str | os.PathLike[str] | RunStore | None = None) -> RunStore:
    """Open a store from a URL/path/keyword, or pass an open one through."""
    if isinstance(target, RunStore):
        return target
    if isinstance(target, os.PathLike):
        return SqlStore(target)
    if target is None or target == "":
        return SqlStore(str(default_store_path()))
    if target == "memory":
        return MemoryStore()
    if target == "local":
        return SqlStore(str(Path.cwd() / ".wattwise" / "runs.db"))
    return SqlStore(target)
