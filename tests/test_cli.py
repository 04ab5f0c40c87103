"""``wattwise`` end to end, on real subprocesses."""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wattwise.store import get_store
from wattwise.testing.records import make_record

WW = [sys.executable, "-m", "wattwise"]


def ww(
    *args: str, input: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*WW, *args], capture_output=True, text=True, input=input, timeout=timeout
    )


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "runs.db")


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_run_passes_exit_code_and_output_through(store: str) -> None:
    code = "import sys; print(input().upper()); sys.exit(3)"
    proc = ww(
        "run",
        "--store",
        store,
        "--zone",
        "FRA",
        "--interval",
        "0.1",
        "--",
        sys.executable,
        "-c",
        code,
        input="hello\n",
    )
    assert proc.returncode == 3
    assert proc.stdout == "HELLO\n"
    assert "wattwise" in proc.stderr and "gCO2e" in proc.stderr
    (rec,) = get_store(store).list_runs()
    assert rec.status == "failed" and rec.exit_code == 3
    assert rec.command is not None and rec.command.endswith("sys.exit(3)'")


def test_run_tracks_a_child_that_forks(store: str) -> None:
    burn = "import time\nt=time.process_time()\nwhile time.process_time()-t<0.8: pass"
    code = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {burn!r}])"
    proc = ww(
        "run",
        "--store",
        store,
        "--zone",
        "FRA",
        "--interval",
        "0.1",
        "-q",
        "--",
        sys.executable,
        "-c",
        code,
    )
    assert proc.returncode == 0, proc.stderr
    (rec,) = get_store(store).list_runs()
    assert rec.status == "completed"
    assert 0.8 <= rec.process_cpu_s < 2.5  # the grandchild's burn is counted, once
    assert rec.process.energy_j > 0


def test_run_forwards_sigterm_to_the_command(store: str, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    code = (
        "import signal, sys, time, pathlib\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))\n"
        f"pathlib.Path({str(ready)!r}).touch()\n"
        "time.sleep(30)\n"
    )
    proc = subprocess.Popen(
        [*WW, "run", "--store", store, "--zone", "FRA", "-q", "--", sys.executable, "-c", code]
    )
    deadline = time.time() + 20
    while not ready.exists() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 7
    (rec,) = get_store(store).list_runs()
    assert rec.exit_code == 7 and rec.status == "failed"


def test_run_reports_a_signal_death_as_128_plus_n(store: str) -> None:
    code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    proc = ww("run", "--store", store, "--zone", "FRA", "-q", "--", sys.executable, "-c", code)
    assert proc.returncode == 128 + 9
    (rec,) = get_store(store).list_runs()
    assert rec.status == "interrupted" and any("SIGKILL" in e for e in rec.events)


@pytest.mark.slow
def test_kill_9_of_wattwise_leaves_a_readable_partial_record(store: str, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    code = (
        "import os, time, pathlib; "
        f"pathlib.Path({str(pidfile)!r}).write_text(str(os.getpid())); time.sleep(60)"
    )
    proc = subprocess.Popen(
        [
            *WW,
            "run",
            "--store",
            store,
            "--zone",
            "FRA",
            "--checkpoint",
            "1",
            "--interval",
            "0.2",
            "-q",
            "--",
            sys.executable,
            "-c",
            code,
        ]
    )
    try:
        deadline = time.time() + 30
        partial = None
        while time.time() < deadline:
            time.sleep(0.3)
            if not Path(store).exists():
                continue
            runs = get_store(store).list_runs()
            if runs and runs[0].machine.energy_j > 0 and runs[0].duration_s > 1:
                partial = runs[0]
                break
        assert partial is not None and partial.status == "running"
        proc.kill()
        proc.wait(timeout=10)
    finally:
        if pidfile.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
    shown = ww("runs", "show", partial.id[:8], "--store", store, "--json")
    assert shown.returncode == 0, shown.stderr
    rec = json.loads(shown.stdout)
    assert rec["status"] == "interrupted"
    assert rec["machine"]["energy_j"] >= partial.machine.energy_j > 0
    listed = ww("runs", "list", "--store", store, "--status", "interrupted")
    assert partial.id[:8] in listed.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", "--zone", "Atlantis", "--", "true"], "unknown zone 'Atlantis'"),
        (["run", "--pue", "0.2", "--", "true"], "PUE must be between 1.0 and 3.0"),
        (["run", "--interval", "0", "--", "true"], "interval_s"),
        (["run", "--price", "-3", "--", "true"], "price_per_kwh"),
        (["run", "--zone", "FRA", "--", "no-such-program-xyz"], "cannot run 'no-such-program-xyz'"),
        (["run", "--tag", "novalue", "--zone", "FRA", "--", "true"], "KEY=VALUE"),
        (["runs", "show", "deadbeef"], "no run 'deadbeef'"),
        (["runs", "list", "--since", "yesterday"], "invalid --since"),
        (["zones", "qqqqqqq"], "no zone matches"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(args: list[str], fragment: str, store: str) -> None:
    if args[0] in ("run", "runs") and "show" not in args and "list" not in args:
        args = [args[0], "--store", store, *args[1:]]
    elif args[0] == "runs":
        args = [*args, "--store", store]
    assert fragment in one_line_error(ww(*args))


def test_corrupt_config_and_unwritable_store(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("zone = [")
    assert "corrupt config file" in one_line_error(ww("run", "--config", str(bad), "--", "true"))
    blocker = tmp_path / "f"
    blocker.write_text("")
    assert "cannot open run store" in one_line_error(
        ww("run", "--zone", "FRA", "--store", str(blocker / "x.db"), "--", "true")
    )


def test_missing_command_is_a_usage_error() -> None:
    proc = ww("run")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_runs_list_show_export(store: str, tmp_path: Path) -> None:
    for name in ("alpha", "beta"):
        assert (
            ww(
                "run",
                "--store",
                store,
                "--zone",
                "DEU",
                "-n",
                name,
                "-t",
                "team=x",
                "-q",
                "--",
                sys.executable,
                "-c",
                "pass",
            ).returncode
            == 0
        )
    listed = ww("runs", "list", "--store", store, "--name", "alp")
    assert "alpha" in listed.stdout and "beta" not in listed.stdout
    tagged = ww("runs", "list", "--store", store, "--tag", "team=x")
    assert "alpha" in tagged.stdout and "beta" in tagged.stdout
    rid = get_store(store).list_runs()[0].id
    shown = ww("runs", "show", rid[:8], "--store", store)
    assert "gCO2e" in shown.stdout and "DEU" in shown.stdout
    out = tmp_path / "run.json"
    assert ww("runs", "export", rid, "--store", store, "-o", str(out)).returncode == 0
    doc = json.loads(out.read_text())
    assert doc["id"] == rid and doc["series"]["columns"][:2] == ["t0_s", "t1_s"]


def test_sensors_explains_this_machine() -> None:
    proc = ww("sensors")
    assert proc.returncode == 0
    for name in ("rapl", "perf", "hwmon", "nvml", "amdsmi", "estimate"):
        assert name in proc.stdout


def test_zones_search() -> None:
    proc = ww("zones", "france")
    assert proc.returncode == 0 and "FRA" in proc.stdout
    assert "aws:us-east-1" in ww("zones", "us-east-1").stdout


# -- summary.py / cli.py: names and events are text, not rich markup -----------------------
def test_summary_prints_brackets_literally() -> None:
    from rich.console import Console

    from wattwise.summary import print_summary

    rec = make_record(name="[/x] run", events=("failed: ValueError: shape [batch, 3] bad",))
    out = io.StringIO()
    print_summary(rec, Console(file=out, width=200))
    text = out.getvalue()
    assert "[/x] run" in text and "shape [batch, 3] bad" in text


def test_runs_list_prints_brackets_literally(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from wattwise.cli import main

    path = str(tmp_path / "runs.db")
    with get_store(path) as st:
        st.save_run(make_record(name="[/x] [bold]run"))
    result = CliRunner().invoke(main, ["runs", "list", "--store", path])
    assert result.exit_code == 0, result.output
    assert "[/x] [bold]run" in result.output


# -- cli.py: Ctrl-C at a terminal reaches the command once, whatever stdin is ---------------
@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform != "linux", reason="needs a pty")
def test_ctrl_c_at_a_terminal_reaches_the_command_once(tmp_path: Path) -> None:
    import pty

    ready, count = tmp_path / "ready", tmp_path / "count"
    code = (
        "import pathlib, signal, time\n"
        "got = []\n"
        "signal.signal(signal.SIGINT, lambda *a: got.append(1))\n"
        f"pathlib.Path({str(ready)!r}).touch()\n"
        "t = time.time()\n"
        "while not got and time.time() - t < 20: time.sleep(0.01)\n"
        "time.sleep(0.5)\n"
        f"pathlib.Path({str(count)!r}).write_text(str(len(got)))\n"
    )
    argv = [sys.executable, "-m", "wattwise", "run", "--store", str(tmp_path / "runs.db")]
    argv += ["--zone", "FRA", "--interval", "0.1", "-q", "--", sys.executable, "-c", code]
    pid, master = pty.fork()
    if pid == 0:  # pragma: no cover - the child: stdin redirected, the pty stays its terminal
        try:
            fd = os.open(os.devnull, os.O_RDONLY)
            os.dup2(fd, 0)
            os.execv(sys.executable, argv)
        finally:
            os._exit(127)
    try:
        deadline = time.time() + 30
        while not ready.exists() and time.time() < deadline:
            time.sleep(0.05)
        assert ready.exists()
        os.write(master, b"\x03")  # Ctrl-C: the terminal signals its foreground group
        deadline = time.time() + 30
        while time.time() < deadline:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if select.select([master], [], [], 0.05)[0]:  # keep the terminal drained
                try:
                    os.read(master, 4096)
                except OSError:
                    time.sleep(0.05)
        else:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
    finally:
        os.close(master)
    assert count.read_text() == "1"


def test_sigint_sent_to_wattwise_outside_a_terminal_reaches_the_command(tmp_path: Path) -> None:
    ready, count = tmp_path / "ready", tmp_path / "count"
    code = (
        "import pathlib, signal, time\n"
        "got = []\n"
        "signal.signal(signal.SIGINT, lambda *a: got.append(1))\n"
        f"pathlib.Path({str(ready)!r}).touch()\n"
        "t = time.time()\n"
        "while not got and time.time() - t < 20: time.sleep(0.01)\n"
        "time.sleep(0.5)\n"
        f"pathlib.Path({str(count)!r}).write_text(str(len(got)))\n"
    )
    argv = [sys.executable, "-m", "wattwise", "run", "--store", str(tmp_path / "runs.db")]
    argv += ["--zone", "FRA", "--interval", "0.1", "-q", "--", sys.executable, "-c", code]
    proc = subprocess.Popen(argv, start_new_session=True, stdin=subprocess.DEVNULL)
    deadline = time.time() + 30
    while not ready.exists() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # as a supervisor would: to wattwise only
    assert proc.wait(timeout=30) == 0
    assert count.read_text() == "1"
