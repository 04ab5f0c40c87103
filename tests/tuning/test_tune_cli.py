"""``wattwise tune`` / ``tune show`` / ``tune compare`` on real searches of a cheap objective.

Every search runs ``wattwise.testing.objectives:quadratic`` (metric ``score``, best at
x = 0.3) with the estimate sensors at a 0.1 s interval in zone FRA; conftest points the
default run store and study journal into the test's own folder.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from wattwise.cli import _TUNE_PRUNERS, _TUNE_STRATEGIES, main
from wattwise.tuning import search
from wattwise.tuning.show import default_storage_path
from wattwise.tuning.strategies import PRUNERS, STRATEGIES

OBJECTIVE = "wattwise.testing.objectives:quadratic"
FAST = ["--metric", "score", "--zone", "FRA", "--interval", "0.1"]
SPACE = "x: {low: 0.0, high: 1.0, grid: [0.1, 0.3, 0.5, 0.9]}\nw: [1]\n"
# a database URL with a password, on a port where nothing listens
SECRET_URL = "postgresql://user:secret@127.0.0.1:1/db"
HIDDEN_URL = "postgresql://user:***@127.0.0.1:1/db"


def tune(*args: str) -> Result:
    return CliRunner().invoke(main, ["tune", *args], prog_name="wattwise")


@pytest.fixture
def space(tmp_path: Path) -> str:
    path = tmp_path / "space.yaml"
    path.write_text(SPACE, encoding="utf-8")
    return str(path)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def one_line_error(result: Result) -> str:
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output and result.stdout == "", result.output
    assert lines[0].startswith("wattwise: error: "), lines
    return lines[0]


def test_choices_are_the_strategies_and_pruners_of_the_package() -> None:
    assert tuple(STRATEGIES) == _TUNE_STRATEGIES
    assert PRUNERS == _TUNE_PRUNERS


def test_help_lists_the_commands_and_the_default() -> None:
    out = ok(tune("--help")).stdout
    for command in ("run", "show", "compare"):
        assert f"\n  {command} " in out, out
    text = " ".join(out.split())  # as wrapped to the width
    assert (
        "'wattwise tune MODULE:OBJECTIVE --space FILE [OPTIONS]' is short for "
        "'wattwise tune run MODULE:OBJECTIVE ...'" in text
    )
    run_help = ok(tune("run", "--help")).stdout
    tune_group = main.commands["tune"]
    assert isinstance(tune_group, click.Group)
    default = next(p.default for p in tune_group.commands["run"].params if p.name == "strategy")
    assert f"[default: {default}]" in run_help and "--zone" in run_help
    text = " ".join(run_help.split())
    for fragment in (
        "Trials to run in this call (all workers together); a grid stops when every point has run.",
        "Whether a higher metric is better [default: maximize].",
        "Each worker stops starting trials after this many seconds.",
        "Stop the study when its energy reaches this (a continued study counts its earlier trials)",
        "when its emissions reach this (a continued study counts its earlier trials)",
    ):
        assert fragment in text, fragment


@pytest.mark.parametrize(
    ("strategy", "form"), [("grid", "short"), ("random", "run"), ("bayes", "options-first")]
)
def test_a_search_prints_its_trials_and_writes_json(
    strategy: str, form: str, space: str, tmp_path: Path
) -> None:
    out_json = tmp_path / "result.json"
    opts = ["--space", space, "--strategy", strategy, "--n-trials", "6", "--seed", "1"]
    opts += ["--storage", "memory", "--json", str(out_json), *FAST]
    args = {
        "short": [OBJECTIVE, *opts],
        "run": ["run", OBJECTIVE, *opts],
        "options-first": [*opts, OBJECTIVE],
    }[form]
    result = ok(tune(*args))
    doc = json.loads(out_json.read_text(encoding="utf-8"))
    trials = doc["trials"]
    # the grid has 4 points and stops there; the others run every trial asked for
    assert len(trials) == (4 if strategy == "grid" else 6)
    if strategy == "grid":
        assert sorted(t["params"]["x"] for t in trials) == [0.1, 0.3, 0.5, 0.9]
    assert doc["strategy"] == strategy and doc["metric"] == "score" and doc["maximize"]
    assert all(t["state"] == "complete" and t["energy_j"] > 0 for t in trials)
    # one progress line per trial on stderr, as each ended
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("trial ")]
    assert len(lines) == len(trials), result.stderr
    first = trials[0]
    assert lines[0].startswith(f"trial 0 complete  x={first['params']['x']:.4g} w=1  score ")
    assert lines[0].endswith("J (estimated)")
    # the printed account is the result's
    best = max(trials, key=lambda t: t["value"])
    assert doc["best_trial"] == best["number"]
    out = result.stdout
    assert f"best        trial {best['number']}: score {best['value']:.4g}" in out, out
    assert "★ best" in out and f"{len(trials)}: {len(trials)} complete" in out
    assert "in memory only (not saved)" in out
    assert math.isclose(doc["total_energy_j"], sum(t["energy_j"] for t in trials))
    # the first line names the study (generated here: none was given), to show it again
    name = doc["study_name"]
    assert name.startswith(f"{strategy}-") and len(name.split("-")) == 4
    assert result.stderr.startswith(f"wattwise tune: study {name}, {strategy} search, 6 trials")


def test_json_to_stdout_leaves_stdout_pure_json(space: str) -> None:
    result = ok(tune(OBJECTIVE, "--space", space, "--n-trials", "3", "--json", "-", *FAST))
    doc = json.loads(result.stdout)
    assert len(doc["trials"]) == 3
    assert "★ best" in result.stderr  # the table went to stderr


def test_a_budget_stops_the_study_and_says_so(space: str, tmp_path: Path) -> None:
    out_json = tmp_path / "r.json"
    args = [OBJECTIVE, "--space", space, "--strategy", "random", "--n-trials", "30"]
    args += ["--budget-kwh", "1e-6", "--storage", "memory", "--json", str(out_json), *FAST]
    result = ok(tune(*args))
    doc = json.loads(out_json.read_text(encoding="utf-8"))
    assert doc["stopped"].startswith("budget: ")
    assert 1 <= len(doc["trials"]) < 30
    assert doc["total_energy_j"] >= 3.6  # 1e-6 kWh = 3.6 J: it stopped once that was spent
    assert "1e-06 kWh (" in result.stdout
    assert "it stopped the study (budget: " in result.stdout


def test_pareto_prints_the_front_instead_of_a_best(space: str) -> None:
    args = [OBJECTIVE, "--space", space, "--strategy", "pareto", "--n-trials", "4"]
    result = ok(tune(*args, "--storage", "memory", "--json", "-", *FAST))
    doc = json.loads(result.stdout)
    assert doc["pareto"] and doc["front"]
    err = result.stderr
    assert "Pareto front" in err and "✓ front" in err
    assert "★ best" not in err and "\nbest " not in err
    for number in doc["front"]:
        assert f"trial {number}: score " in err


def test_show_lists_and_shows_a_study_from_the_default_journal(space: str) -> None:
    args = [OBJECTIVE, "--space", space, "--strategy", "bayes", "--n-trials", "3"]
    ran = ok(tune(*args, "--study", "first", *FAST, "--json", "-"))
    assert ran.stderr.startswith("wattwise tune: study first, bayes search, 3 trials over x, w")
    journal = default_storage_path()
    assert journal.is_file() and str(journal).startswith(os.environ["XDG_DATA_HOME"])
    assert "see it again: wattwise tune show --study first" in ran.stderr
    ok(tune(*args[:-2], "--n-trials", "2", "--study", "second", *FAST))
    listed = ok(tune("show")).stdout
    assert "studies in" in listed and "(2)" in listed
    rows = [ln for ln in listed.splitlines() if " first " in ln or " second " in ln]
    assert len(rows) == 2 and "3 (3 complete)" in rows[0] and "2 (2 complete)" in rows[1]
    shown = ok(tune("show", "--study", "first", "--json", "-"))
    again, before = json.loads(shown.stdout), json.loads(ran.stdout)
    assert [t["run_id"] for t in again["trials"]] == [t["run_id"] for t in before["trials"]]
    assert again["total_energy_j"] == pytest.approx(before["total_energy_j"])
    assert "★ best" in shown.stderr
    # a study continued under its name adds trials
    ok(tune(*args[:-2], "--n-trials", "2", "--study", "first", *FAST))
    doc = json.loads(ok(tune("show", "--study", "first", "--json", "-")).stdout)
    assert len(doc["trials"]) == 5


def test_show_with_a_named_storage(space: str, tmp_path: Path) -> None:
    journal = str(tmp_path / "elsewhere" / "s.journal")
    args = [OBJECTIVE, "--space", space, "--strategy", "bayes", "--n-trials", "2", "--study", "s"]
    ran = ok(tune(*args, "--storage", journal, *FAST))
    assert f"wattwise tune show --study s --storage {journal}" in ran.stdout
    assert not default_storage_path().exists()
    out = ok(tune("show", "--study", "s", "--storage", journal)).stdout
    assert "study s · bayes · 2 trials" in out
    assert "no study 'nope'" in one_line_error(
        tune("show", "--study", "nope", "--storage", journal)
    )


class Storages:
    """Spies on the study storages opened and closed (``wattwise.tuning.search``'s own
    functions, which the CLI and tune() look up there); ``SECRET_URL`` opens ``journal``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, journal: Path) -> None:
        self.opened: list[Any] = []
        self.closed: list[Any] = []
        real_open, real_close = search.open_storage, search.close_storage

        def open_storage(storage: Any) -> Any:
            st = real_open(journal if storage == SECRET_URL else storage)
            self.opened.append(st)
            return st

        def close_storage(storage: Any) -> None:
            self.closed.append(storage)
            real_close(storage)

        monkeypatch.setattr(search, "open_storage", open_storage)
        monkeypatch.setattr(search, "close_storage", close_storage)

    def all_closed(self) -> bool:
        return bool(self.opened) and all(any(c is st for c in self.closed) for st in self.opened)


def test_a_database_password_is_never_printed(
    space: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # nothing listens there: each command fails at once, naming the URL without its password
    for args in (
        [OBJECTIVE, "--space", space, *FAST],
        ["compare", OBJECTIVE, "--space", space, "--target", "0.9", *FAST],
        ["show"],
    ):
        line = one_line_error(tune(*args, "--storage", SECRET_URL))
        assert f"cannot open the study storage {HIDDEN_URL}: " in line and "secret" not in line
    # the URL opening a journal instead: what a reachable database would print
    storages = Storages(monkeypatch, tmp_path / "db.journal")
    args = [OBJECTIVE, "--space", space, "--strategy", "bayes", "--n-trials", "2", "--study", "s"]
    ran = ok(tune(*args, "--storage", SECRET_URL, *FAST))
    listed = ok(tune("show", "--storage", SECRET_URL, "--json", "-"))
    shown = ok(tune("show", "--storage", SECRET_URL, "--study", "s", "--json", "-"))
    assert storages.all_closed()  # the check before the search, the search, each show
    assert [d["storage"] for d in json.loads(listed.stdout)] == [HIDDEN_URL]
    assert json.loads(shown.stdout)["storage"] == HIDDEN_URL
    assert f"studies in {HIDDEN_URL}" in listed.stderr
    assert f"show one: wattwise tune show --study NAME --storage '{HIDDEN_URL}'" in listed.stderr
    # interrupted: the command to see what ran names the study and hides the password
    (tmp_path / "interrupting.py").write_text(
        "def objective(trial):\n    raise KeyboardInterrupt\n", encoding="utf-8"
    )
    args = ["interrupting.py:objective", "--space", space, "--study", "i"]
    stopped = tune(*args, "--storage", SECRET_URL, *FAST)
    assert stopped.exit_code == 130, (stopped.output, stopped.exception)
    assert stopped.stderr.splitlines()[-1] == (
        "interrupted after the trials that ended: they are kept, see wattwise tune show "
        f"--study i --storage '{HIDDEN_URL}'"
    )
    for result in (ran, listed, shown, stopped):
        assert "secret" not in result.output


def test_show_opens_an_existing_sqlite_database_only_and_closes_it(
    space: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    absolute = tmp_path / "a" / "b.db"
    for url, file in (("sqlite:///typo.db", "typo.db"), (f"sqlite:///{absolute}", absolute)):
        line = one_line_error(tune("show", "--storage", url))
        assert line.endswith(
            f"no studies in {url}: {file} does not exist (wattwise tune writes it)"
        )
    assert not (tmp_path / "typo.db").exists() and not (tmp_path / "a").exists()
    url = "sqlite:///studies.db"
    args = [OBJECTIVE, "--space", space, "--strategy", "bayes", "--n-trials", "2", "--study", "q"]
    ok(tune(*args, "--storage", url, *FAST))
    storages = Storages(monkeypatch, tmp_path / "unused.journal")
    out = ok(tune("show", "--storage", url)).stdout
    assert "q " in out and "2 (2 complete)" in out
    assert len(storages.opened) == 1 and type(storages.opened[0]).__name__ == "RDBStorage"
    assert storages.all_closed()


def test_compare_recommends_a_strategy_and_writes_html(space: str, tmp_path: Path) -> None:
    html, out_json = tmp_path / "cmp.html", tmp_path / "cmp.json"
    args = ["compare", OBJECTIVE, "--space", space, "--strategies", "grid,bayes", "--seeds", "0"]
    args += ["--n-trials", "3", "--target", "0.9", "--html", str(html), "--json", str(out_json)]
    result = ok(tune(*args, *FAST))
    doc = json.loads(out_json.read_text(encoding="utf-8"))
    assert [s["strategy"] for s in doc["strategies"]] == ["grid", "bayes"]
    assert doc["recommended"] in ("grid", "bayes")
    assert f"recommended: {doc['recommended']}, median energy-to-target" in result.stdout
    assert "[1/2] grid seed 0: 3 trials" in result.stderr
    assert "[2/2] bayes seed 0: 3 trials" in result.stderr
    page = html.read_text(encoding="utf-8")
    assert page.lower().startswith("<!doctype html>") and "wattwise tune comparison" in page
    assert f"wrote {html}" in result.stderr


def test_compare_against_a_baseline_not_compared_states_no_saving(space: str) -> None:
    args = ["compare", OBJECTIVE, "--space", space, "--strategies", "bayes", "--seeds", "0"]
    args += ["--n-trials", "2", "--target", "0.0", "--baseline", "random", "--json", "-"]
    result = ok(tune(*args, *FAST))
    doc = json.loads(result.stdout)
    assert doc["baseline"] == "random" and doc["recommended"] == "bayes"
    assert doc["saving_vs_baseline"] is None
    assert "no saving stated: the baseline random was not compared" in result.stderr


def test_an_objective_in_the_current_directory_or_a_file(space: str, tmp_path: Path) -> None:
    code = (
        "def objective(trial):\n"
        "    for epoch in trial.epochs(2):\n"
        "        trial.log(acc=1 - abs(trial.params['x'] - 0.5))\n"
        "    return 1 - abs(trial.params['x'] - 0.5)\n"
    )
    (tmp_path / "my_cwd_train.py").write_text(code, encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "my_file_train.py").write_text(code, encoding="utf-8")
    path_before = list(sys.path)
    opts = ["--space", space, "--n-trials", "2", "--storage", "memory", "--json", "-"]
    opts += ["--metric", "acc", "--zone", "FRA", "--interval", "0.1"]
    for objective in ("my_cwd_train:objective", "sub/my_file_train.py:objective"):
        doc = json.loads(ok(tune(objective, *opts)).stdout)
        assert [t["state"] for t in doc["trials"]] == ["complete", "complete"]
        assert all(t["value"] == 1 - abs(t["params"]["x"] - 0.5) for t in doc["trials"])
    assert sys.path == path_before and "PYTHONPATH" not in os.environ


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ([OBJECTIVE.replace("quadratic", "nope")], "has no 'nope'"),
        (["no_such_module_xyz:objective"], "cannot import 'no_such_module_xyz'"),
        (["run", "no_colon"], "must be MODULE:FUNCTION or FILE.py:FUNCTION, not 'no_colon'"),
        (["shwo"], "no command or objective 'shwo': give MODULE:FUNCTION, FILE.py:FUNCTION"),
        (["missing.py:objective"], "no such file: missing.py"),
        (["broken_mod:objective"], "cannot import broken_mod: SyntaxError"),
        ([OBJECTIVE, "--strategy", "annealing"], "Invalid value for '--strategy'"),
        ([OBJECTIVE, "--workers", "0"], "Invalid value for '--workers'"),
        ([OBJECTIVE, "--budget-kwh", "-1"], "Invalid value for '--budget-kwh'"),
        ([OBJECTIVE, "--target", "nan"], "--target must be a finite number"),
        ([OBJECTIVE, "--zone", "Atlantis"], "unknown zone 'Atlantis'"),
        ([OBJECTIVE, "--store", "blocker/x.db"], "cannot open run store"),
        ([OBJECTIVE, "--storage", "nosuchdb://x"], "cannot open the study storage"),
    ],
)
def test_user_errors_are_one_line(
    args: list[str], fragment: str, space: str, tmp_path: Path
) -> None:
    (tmp_path / "broken_mod.py").write_text("def objective(:\n", encoding="utf-8")
    (tmp_path / "blocker").write_text("", encoding="utf-8")  # a file where a folder must be
    # the objective (or command) first, then the options of the case (the last one wins)
    result = tune(*args[:1], *FAST, "--space", space, "--storage", "memory", *args[1:])
    assert fragment in one_line_error(result)


@pytest.mark.parametrize(
    ("space_text", "fragment"),
    [
        (None, "cannot read the space file"),
        ("x: [1, 2\n", "cannot parse the space file"),
        ("x: {low: 1, high: 0}\n", "low (1) must be below high (0)"),
    ],
)
def test_bad_space_files_are_one_line(
    space_text: str | None, fragment: str, tmp_path: Path
) -> None:
    path = tmp_path / "s.yaml"
    if space_text is not None:
        path.write_text(space_text, encoding="utf-8")
    assert fragment in one_line_error(tune(OBJECTIVE, "--space", str(path), *FAST))


def test_missing_options_and_storages_are_one_line(space: str, tmp_path: Path) -> None:
    assert "Missing option '--space'" in one_line_error(tune(OBJECTIVE))
    compare = ["compare", OBJECTIVE, "--space", space]
    assert "Missing option '--target'" in one_line_error(tune(*compare))
    assert "unknown strategy 'sa'" in one_line_error(
        tune(*compare, "--target", "0.9", "--strategies", "grid,sa")
    )
    assert "unknown --baseline 'gird': choose from grid, random," in one_line_error(
        tune(*compare, "--target", "0.9", "--baseline", "gird")
    )
    assert "does not exist" in one_line_error(tune("show"))  # nothing stored yet
    assert "in memory" in one_line_error(tune("show", "--storage", "memory"))
    assert not default_storage_path().exists()  # looking created nothing


@pytest.mark.slow
def test_two_workers_run_every_trial_of_an_objective_in_the_cwd(space: str, tmp_path: Path) -> None:
    """The console script (its sys.path lacks the cwd) with spawned workers that import
    the user's module from the current directory."""
    script = Path(sys.executable).parent / "wattwise"
    if not script.is_file():
        pytest.skip("the wattwise console script is not installed next to this Python")
    (tmp_path / "worker_train.py").write_text(
        "from wattwise.testing.objectives import quadratic as objective\n", encoding="utf-8"
    )
    args = [str(script), "tune", "worker_train:objective", "--space", space, "--workers", "2"]
    args += ["--strategy", "random", "--n-trials", "4", "--storage", str(tmp_path / "w.journal")]
    proc = subprocess.run(
        [*args, "--json", "-", *FAST],
        capture_output=True,
        text=True,
        timeout=100,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["workers"] == 2 and len(doc["trials"]) == 4
    assert all(t["state"] == "complete" for t in doc["trials"])
    assert any("2 local workers" in n for n in doc["notes"])
    assert "2 workers" in proc.stderr and "trial 0 complete" not in proc.stderr
