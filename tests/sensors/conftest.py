"""Fixtures for the Linux sensor tests: fixture roots and file readers that deny access.

The tree builders themselves live in :mod:`wattwise.testing.sysfs` so other tests can
use them too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from wattwise.sensors.rapl import read_text

Reader = Callable[[Path], str]


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    """An empty fixture sysfs root."""
    root = tmp_path / "sys"
    root.mkdir()
    return root


@pytest.fixture
def proc(tmp_path: Path) -> Path:
    """An empty fixture procfs root."""
    root = tmp_path / "proc"
    root.mkdir()
    return root


@pytest.fixture
def denying_reader() -> Callable[[str], Reader]:
    """``denying_reader("energy_uj")``: a reader that raises ``PermissionError`` (as an
    unprivileged process gets from a 0400 sysfs file) for files with that name.

    Works the same when the tests run as root, where ``chmod`` would not stop reads.
    """

    def make(*names: str) -> Reader:
        def read(path: Path) -> str:
            if path.name in names:
                raise PermissionError(13, "Permission denied", str(path))
            return read_text(path)

        return read

    return make


@pytest.fixture
def modes_enforced(tmp_path: Path) -> None:
    """Skip unless a mode-000 file really cannot be read here (it can by root, or with
    CAP_DAC_OVERRIDE); the injected-reader tests cover the permission path there."""
    probe = tmp_path / "mode-000"
    probe.write_text("x")
    probe.chmod(0o000)
    try:
        probe.read_text()
    except PermissionError:
        return
    finally:
        probe.chmod(0o600)
    pytest.skip("file modes do not stop reads here (root or CAP_DAC_OVERRIDE)")
