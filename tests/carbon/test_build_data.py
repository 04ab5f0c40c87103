"""scripts/build_data.py reproduces the committed data tables byte for byte."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
DATA = REPO / "src" / "wattwise" / "data"
TZDATA = Path("/usr/share/zoneinfo")
TABLES = ("zones.csv", "cpu_tdp.csv", "gpus.csv", "instances.csv")


def _tz_version(readme: str) -> str | None:
    match = re.search(r"tz database version (\S+?) \|", readme)
    return match.group(1) if match else None


def _machine_tz_version() -> str | None:
    zi = TZDATA / "tzdata.zi"
    if not zi.is_file():
        return None
    first = zi.read_text(encoding="utf-8").splitlines()[0]
    return first.split()[-1] if first.startswith("# version ") else None


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"no shared reference data at {SHARED}")
    pytest.importorskip("pycountry")
    if not (TZDATA / "zone.tab").is_file():
        pytest.skip("no tz database at /usr/share/zoneinfo")
    out = tmp_path_factory.mktemp("data")
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "build_data.py"),
            "--shared",
            str(SHARED),
            "--out",
            str(out),
            "--tzdata",
            str(TZDATA),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.parametrize("name", TABLES)
def test_tables_are_reproduced_byte_for_byte(built: Path, name: str) -> None:
    assert (built / name).read_bytes() == (DATA / name).read_bytes(), (
        f"src/wattwise/data/{name} is stale: run scripts/build_data.py"
    )


def test_timezone_table_and_readme_match_when_tzdata_does(built: Path) -> None:
    committed = (DATA / "README.md").read_text(encoding="utf-8")
    if _tz_version(committed) != _machine_tz_version():
        pytest.skip("this machine's tz database differs from the one the tables were built with")
    for name in ("tz_countries.csv", "README.md"):
        assert (built / name).read_bytes() == (DATA / name).read_bytes(), name


def test_egrid_conversion(built: Path) -> None:
    import json

    states = json.loads((SHARED / "usa_states_2016.json").read_text(encoding="utf-8"))
    lbs = states["california"]["emissions"]
    row = next(
        line for line in (built / "zones.csv").read_text().splitlines() if line.startswith("US-CA,")
    )
    assert f",{round(lbs * 453.59237 / 1000, 3):g}," in row


def test_missing_shared_folder_is_a_clear_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "build_data.py"),
            "--shared",
            str(tmp_path / "absent"),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "no shared data folder" in proc.stderr
