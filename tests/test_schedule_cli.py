"""``wattwise schedule`` and ``wattwise run --when-greenest``, with a fake clock and sleep."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import wattwise.carbon
from wattwise import cli
from wattwise.carbon import ElectricityMapsIntensity
from wattwise.store import get_store

T0 = datetime(2024, 6, 1, tzinfo=timezone.utc)
VALUES = [300, 300, 200, 100, 100, 100, 250, 300, 300, 300, 300, 300]


class Clock:
    """A wall clock that moves only when the command sleeps."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.slept: list[float] = []

    def time(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock(T0 + timedelta(minutes=10))
    monkeypatch.setattr(cli, "_now", fake.time)
    monkeypatch.setattr(cli, "_sleep", fake.sleep)
    return fake


@pytest.fixture
def grid(tmp_path: Path) -> Path:
    path = tmp_path / "grid.csv"
    rows = [f"{(T0 + timedelta(hours=i)).isoformat()},{v}" for i, v in enumerate(VALUES)]
    path.write_text("timestamp,intensity\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli.main, list(args))


def one_line_error(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert lines[0].startswith("wattwise: error: ")
    return lines[0]


# -- schedule ------------------------------------------------------------------------------


def test_schedule_text(clock: Clock, grid: Path) -> None:
    result = invoke(
        "schedule",
        "--duration",
        "3h",
        "--deadline",
        "2024-06-01T10:00Z",
        "--intensity-csv",
        str(grid),
        "--energy-kwh",
        "2",
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == ("greenest start  2024-06-01T03:00Z (in 2 h 50 min; ends 2024-06-01T06:00Z)")
    # Starting now (00:10): 50 min at 300, 60 at 300, 60 at 200, 10 at 100.
    now_mean = (300 * 110 + 200 * 60 + 100 * 10) / 180
    assert lines[1] == (
        f"mean intensity  100.0 gCO2e/kWh in that window, {now_mean:.1f} starting now "
        f"({100 * (now_mean - 100) / now_mean:.1f}% less)"
    )
    saved = 2 * now_mean - 200  # 2 kWh at each window's mean
    assert lines[2] == (
        f"emissions       200 gCO2e vs {2 * now_mean:.1f} starting now: {saved:.1f} g saved "
        "(2 kWh, drawn evenly)"
    )
    assert lines[3].startswith("series          hourly CSV grid.csv; ")
    assert clock.slept == []  # schedule only says when


def test_schedule_json_and_durations(clock: Clock, grid: Path) -> None:
    result = invoke(
        "schedule", "--duration", "90m", "--deadline", "9h", "--intensity-csv", str(grid), "--json"
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["start"] == "2024-06-01T03:00:00+00:00" and doc["duration_s"] == 5400
    assert doc["deadline"] == "2024-06-01T09:10:00+00:00"
    assert doc["intensity_g_per_kwh"] == pytest.approx(100.0) and doc["co2e_g"] is None
    assert doc["note"] == ""


def test_schedule_note_when_the_series_ends_before_the_deadline(clock: Clock, grid: Path) -> None:
    result = invoke(
        "schedule", "--duration", "1h", "--deadline", "48h", "--intensity-csv", str(grid)
    )
    assert result.exit_code == 0, result.output
    assert "note            the series ends at 2024-06-01T12:00Z, before the deadline" in (
        result.stdout
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give one intensity series: --intensity-csv FILE or --live"),
        (["--live", "--intensity-csv", "x.csv"], "--intensity-csv and --live are exclusive"),
        (["--intensity-csv", "absent.csv"], "absent.csv: cannot read the intensity CSV"),
    ],
)
def test_schedule_needs_one_series(clock: Clock, args: list[str], message: str) -> None:
    result = invoke("schedule", "--duration", "1h", "--deadline", "4h", *args)
    assert message in one_line_error(result)


@pytest.mark.parametrize(
    ("duration", "deadline", "message"),
    [
        ("3x", "4h", "invalid duration '3x'"),
        ("5h", "4h", "the job cannot finish by the deadline"),
        ("1h", "tomorrow", "invalid deadline 'tomorrow'"),
        ("1h", "2024-05-01T00:00Z", "the job cannot finish by the deadline"),
    ],
)
def test_schedule_bad_times(
    clock: Clock, grid: Path, duration: str, deadline: str, message: str
) -> None:
    result = invoke(
        "schedule", "--duration", duration, "--deadline", deadline, "--intensity-csv", str(grid)
    )
    assert message in one_line_error(result)


def test_schedule_csv_with_a_gap_names_the_line(clock: Clock, tmp_path: Path) -> None:
    path = tmp_path / "gappy.csv"
    path.write_text(
        "timestamp,intensity\n2024-06-01T00:00Z,100\n2024-06-01T01:00Z,90\n"
        "2024-06-01T05:00Z,80\n2024-06-01T06:00Z,70\n"
    )
    result = invoke(
        "schedule", "--duration", "1h", "--deadline", "6h", "--intensity-csv", str(path)
    )
    assert f"{path}:4: gap in the intensity series" in one_line_error(result)


def test_schedule_csv_missing_an_hour_names_the_line(clock: Clock, tmp_path: Path) -> None:
    path = tmp_path / "hourly.csv"
    path.write_text(
        "timestamp,intensity\n2024-06-01T00:00Z,100\n2024-06-01T01:00Z,90\n"
        "2024-06-01T03:00Z,80\n2024-06-01T04:00Z,70\n2024-06-01T05:00Z,60\n"
    )
    result = invoke(
        "schedule", "--duration", "1h", "--deadline", "4h", "--intensity-csv", str(path)
    )
    assert one_line_error(result) == (
        f"wattwise: error: {path}:4: gap in the intensity series: no row between "
        "2024-06-01T01:00Z and 2024-06-01T03:00Z (2 h 00 min, where points are 1 h 00 min apart)"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--duration", "1e15", "--deadline", "4h"], "invalid duration '1e15': at most 100 years"),
        (["--duration", "1e13", "--deadline", "4h"], "invalid duration '1e13': at most 100 years"),
        (["--duration", "1h", "--deadline", "4h", "--step", "1e15"], "invalid step '1e15'"),
        (["--duration", "1h", "--deadline", "9999999d"], "invalid deadline '9999999d': at most"),
        (["--duration", "1h", "--deadline", "9999-12-31T23:59-01:00"], "out of range"),
    ],
)
def test_schedule_huge_times_are_one_line_errors(
    clock: Clock, grid: Path, args: list[str], message: str
) -> None:
    result = invoke("schedule", *args, "--intensity-csv", str(grid))
    assert message in one_line_error(result)


def test_schedule_accepts_spelled_out_units(clock: Clock, grid: Path) -> None:
    result = invoke(
        "schedule", "--duration", "90mins", "--deadline", "9 hours", "--intensity-csv", str(grid),
        "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["duration_s"] == 5400 and doc["deadline"] == "2024-06-01T09:10:00+00:00"


def test_schedule_energy_help_says_which_kwh() -> None:
    result = invoke("schedule", "--help")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "facility kWh" in text and "wattwise estimate" in text
    assert "PUE is not applied" in text


def test_schedule_echoes_the_deadline_and_how_it_was_read(clock: Clock, grid: Path) -> None:
    def deadline_line(deadline: str) -> str:
        result = invoke(
            "schedule", "--duration", "1h", "--deadline", deadline, "--intensity-csv", str(grid)
        )
        assert result.exit_code == 0, result.output
        (line,) = [x for x in result.stdout.splitlines() if x.startswith("deadline ")]
        return line

    assert deadline_line("2024-06-01T08:00") == (
        "deadline        2024-06-01T08:00Z (read as UTC: no offset given)"
    )
    assert deadline_line("2024-06-01T08:00Z") == "deadline        2024-06-01T08:00Z"
    assert deadline_line("2024-06-01T10:00+02:00") == (
        "deadline        2024-06-01T08:00Z (2024-06-01T10:00+02:00)"
    )
    assert deadline_line("8h") == "deadline        2024-06-01T08:10Z (8h from now)"


def test_schedule_csv_in_the_past(clock: Clock, grid: Path) -> None:
    clock.now = T0 + timedelta(days=30)
    result = invoke(
        "schedule", "--duration", "1h", "--deadline", "6h", "--intensity-csv", str(grid)
    )
    assert "all its times are in the past" in one_line_error(result)


def test_schedule_live_without_a_key(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("ELECTRICITYMAPS_API_KEY", "WATTTIME_USERNAME", "WATTTIME_PASSWORD"):
        monkeypatch.delenv(key, raising=False)
    result = invoke("schedule", "--duration", "1h", "--deadline", "6h", "--live", "--zone", "FRA")
    assert "no live intensity provider is configured" in one_line_error(result)


@pytest.fixture
def forecast_server() -> Iterator[str]:
    body = json.dumps(
        {
            "zone": "FR",
            "forecast": [
                {"carbonIntensity": v, "datetime": (T0 + timedelta(hours=i)).isoformat()}
                for i, v in enumerate(VALUES)
            ],
        }
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.path == "/v3/carbon-intensity/forecast?zone=FR"
            self.send_response(200 if ok else 404)
            self.send_header("Content-Length", str(len(body) if ok else 0))
            self.end_headers()
            if ok:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_schedule_live_forecast(
    clock: Clock, forecast_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    zones: list[str] = []

    def provider(zone: Any, environ: Any = None) -> ElectricityMapsIntensity:
        zones.append(zone.id)
        return ElectricityMapsIntensity("FR", "t", base_url=forecast_server)

    monkeypatch.setattr(wattwise.carbon, "live_provider_from_env", provider)
    result = invoke(
        "schedule", "--duration", "3h", "--deadline", "10h", "--live", "--zone", "FRA", "--json"
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["start"] == "2024-06-01T03:00:00+00:00"
    assert doc["source"].startswith("Electricity Maps forecast, zone FR")
    assert zones == ["FRA"]


# -- run --when-greenest -------------------------------------------------------------------


def _run(tmp_path: Path, *extra: str) -> tuple[Result, Path, str]:
    marker = tmp_path / "ran.txt"
    store = str(tmp_path / "runs.db")
    code = f"open({str(marker)!r}, 'w').write('ran')"
    result = invoke(
        "run", "--store", store, "--zone", "FRA", "--interval", "0.1", "-q",
        *extra, "--", sys.executable, "-c", code,
    )  # fmt: skip
    return result, marker, store


def test_run_when_greenest_waits_then_runs_and_tags(
    clock: Clock, grid: Path, tmp_path: Path
) -> None:
    result, marker, store = _run(
        tmp_path,
        "--when-greenest",
        "--deadline", "12h", "--duration", "2h", "--intensity-csv", str(grid),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "wattwise: starting at 2024-06-01T03:00Z, in 2 h 50 min: window mean 100" in (
        result.stderr
    )
    assert sum(clock.slept) == pytest.approx(170 * 60) and max(clock.slept) <= 60
    assert clock.now == T0 + timedelta(hours=3)
    assert marker.read_text() == "ran"
    (record,) = get_store(store).list_runs()
    assert record.tags["scheduled_start"] == "2024-06-01T03:00:00+00:00"
    assert float(record.tags["scheduled_saved_pct"]) > 50


def test_run_when_greenest_interrupted_runs_nothing(
    clock: Clock, grid: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def ctrl_c(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_sleep", ctrl_c)
    result, marker, store = _run(
        tmp_path,
        "--when-greenest",
        "--deadline", "12h", "--duration", "2h", "--intensity-csv", str(grid),
    )  # fmt: skip
    assert result.exit_code == 130, result.output
    assert "interrupted before the scheduled start; nothing was run" in result.stderr
    assert not marker.exists()
    assert get_store(store).list_runs() == []


def test_run_when_greenest_now_starts_at_once(clock: Clock, tmp_path: Path) -> None:
    path = tmp_path / "falling.csv"
    rows = [f"{(T0 + timedelta(hours=i)).isoformat()},{50 + 10 * i}" for i in range(12)]
    path.write_text("timestamp,intensity\n" + "\n".join(rows) + "\n")
    result, marker, _ = _run(
        tmp_path,
        "--when-greenest", "--deadline", "8h", "--duration", "1h", "--intensity-csv", str(path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "starting now (2024-06-01T00:10Z) is the greenest" in result.stderr
    assert clock.slept == [] and marker.exists()


def test_run_when_greenest_notes_a_naive_deadline(clock: Clock, grid: Path, tmp_path: Path) -> None:
    result, marker, _ = _run(
        tmp_path,
        "--when-greenest", "--deadline", "2024-06-01T08:00", "--duration", "2h",
        "--intensity-csv", str(grid),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        "wattwise: note: deadline 2024-06-01T08:00Z (read as UTC: no offset given)"
        in result.stderr.splitlines()
    )
    assert marker.exists()
    # With an offset, no note about the deadline.
    result, _, _ = _run(
        tmp_path,
        "--when-greenest", "--deadline", "2024-06-01T08:00Z", "--duration", "2h",
        "--intensity-csv", str(grid),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "read as UTC" not in result.stderr


def test_run_when_greenest_huge_duration_is_one_line(
    clock: Clock, grid: Path, tmp_path: Path
) -> None:
    result, marker, _ = _run(
        tmp_path,
        "--when-greenest", "--deadline", "4h", "--duration", "1e15", "--intensity-csv", str(grid),
    )  # fmt: skip
    assert "invalid duration '1e15': at most 100 years" in one_line_error(result)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--when-greenest", "--deadline", "4h", "--duration", "1h"], "needs an intensity series"),
        (["--when-greenest", "--deadline", "4h"], "needs --deadline and --duration"),
        (["--deadline", "4h", "--duration", "1h"], "go with --when-greenest"),
    ],
)
def test_run_when_greenest_usage_errors(
    clock: Clock, tmp_path: Path, extra: list[str], message: str
) -> None:
    result, marker, _ = _run(tmp_path, *extra)
    assert message in one_line_error(result)
    assert not marker.exists()


def test_ctrl_c_while_waiting_in_a_real_process(tmp_path: Path) -> None:
    """The real clock and sleep: SIGINT during the wait ends wattwise with 130 at once."""
    import signal
    import subprocess

    hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    path = tmp_path / "grid.csv"
    rows = [f"{(hour + timedelta(hours=i)).isoformat()},{v}" for i, v in enumerate(VALUES)]
    path.write_text("timestamp,intensity\n" + "\n".join(rows) + "\n")
    marker = tmp_path / "ran.txt"
    argv = [
        sys.executable, "-m", "wattwise", "run", "--store", str(tmp_path / "runs.db"),
        "--zone", "FRA", "--when-greenest", "--deadline", "8h", "--duration", "1h",
        "--intensity-csv", str(path), "--", sys.executable, "-c",
        f"open({str(marker)!r}, 'w').write('ran')",
    ]  # fmt: skip
    with subprocess.Popen(argv, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stderr is not None
            line = proc.stderr.readline()  # printed before the wait begins
            assert line.startswith("wattwise: starting at "), line
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 130
            assert "interrupted before the scheduled start" in proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
    assert not marker.exists()
    assert get_store(str(tmp_path / "runs.db")).list_runs() == []
