"""Comparing strategies: figures over seeds, the recommendation, the table and the page."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator, Sequence
from html.parser import HTMLParser
from typing import Any

import pytest
from rich.console import Console

from wattwise.exceptions import ConfigError
from wattwise.testing.fake import SyntheticSensor
from wattwise.testing.objectives import quadratic
from wattwise.tuning.accounting import TrialSummary, TuneResult
from wattwise.tuning.compare import (
    StrategyComparison,
    StrategyStats,
    compare_strategies,
    html_tune_comparison,
    print_comparison,
)

TARGET = 0.9


def study(
    strategy: str,
    seed: int,
    trials: Sequence[tuple[float | None, float]],
    *,
    maximize: bool = True,
    target: float | None = TARGET,
) -> TuneResult:
    """A study whose trials ended in order, each (metric or None for failed, energy J)."""
    rows = tuple(
        TrialSummary(
            number=i,
            state="complete" if value is not None else "failed",
            params={"x": i / 10},
            value=value,
            energy_j=energy,
            co2_g=energy / 1e4,
            duration_s=1.0,
            method="measured",
        )
        for i, (value, energy) in enumerate(trials)
    )
    return TuneResult(
        study_name=f"compare-{strategy}-s{seed}",
        strategy=strategy,
        metric="acc",
        maximize=maximize,
        trials=rows,
        target=target,
        seed=seed,
    )


def stats(strategy: str, *studies: Sequence[tuple[float | None, float]]) -> StrategyStats:
    return StrategyStats(strategy, tuple(study(strategy, i, t) for i, t in enumerate(studies)))


HIT_AFTER_30 = [(0.5, 10.0), (0.95, 20.0), (0.97, 40.0)]  # reaches 0.9 at 30 J, 2 trials
MISS = [(0.5, 10.0), (None, 5.0), (0.8, 10.0)]  # best 0.8, 25 J in all
HIT_AT_5 = [(0.92, 5.0), (0.99, 50.0)]  # reaches it at once


def comparison(*strategies: StrategyStats, baseline: str = "grid") -> StrategyComparison:
    return StrategyComparison("acc", True, TARGET, 3, tuple(strategies), baseline=baseline)


# -- figures over seeds ---------------------------------------------------------------------
def test_a_missed_seed_counts_as_infinite_in_the_median() -> None:
    s = stats("bayes", HIT_AFTER_30, MISS, HIT_AT_5)
    assert s.seeds == (0, 1, 2)
    assert s.energy_to_target_j == (30.0, None, 5.0)
    assert s.reached == 2
    assert s.energy_to_target_median_j == 30.0  # of (5, 30, +inf)
    assert s.energy_to_target_range_j == (5.0, 30.0)
    assert s.trials_to_target == (2, None, 1)
    assert s.trials_to_target_median == 2.0
    assert s.best_values == (0.97, 0.8, 0.99)
    assert s.best_median == 0.97
    assert s.total_energies_j == (70.0, 25.0, 55.0)
    assert s.total_energy_j == 150.0
    assert s.total_energy_j_median == 55.0
    assert s.median_seed is s.results[0]  # by energy-to-target: 5, 30, missed


def test_no_median_when_half_or_more_of_the_seeds_missed() -> None:
    half = stats("random", HIT_AT_5, MISS)
    assert half.energy_to_target_median_j is None  # (5 + inf) / 2
    assert half.trials_to_target_median is None
    assert half.energy_to_target_range_j == (5.0, 5.0)  # the seed that reached it
    assert half.reached == 1
    most = stats("random", MISS, HIT_AFTER_30, MISS)
    assert most.energy_to_target_median_j is None
    none = stats("grid", MISS, [(None, 3.0)])
    assert none.energy_to_target_range_j is None
    assert none.best_values == (0.8, None)
    assert none.best_median == 0.8  # over the seeds that completed a trial
    empty = StrategyStats("gp", ())
    assert empty.energy_to_target_median_j is None
    assert empty.total_energy_j_median == 0.0
    assert empty.best_median is None
    assert empty.median_seed is None


def test_minimizing_reaches_a_target_from_above() -> None:
    results = (
        study("bayes", 0, [(0.5, 10.0), (0.05, 10.0)], maximize=False, target=0.1),
        study("bayes", 1, [(0.08, 4.0)], maximize=False, target=0.1),
        study("bayes", 2, [(0.3, 1.0)], maximize=False, target=0.1),
    )
    s = StrategyStats("bayes", results)
    assert s.energy_to_target_j == (20.0, 4.0, None)
    assert s.best_values == (0.05, 0.08, 0.3)
    assert s.best_median == 0.08
    assert s.energy_to_target_median_j == 20.0
    assert s.median_seed is results[0]


def test_recommends_the_lowest_median_and_measures_the_saving_against_the_baseline() -> None:
    grid = stats("grid", HIT_AFTER_30, [(0.1, 10.0), (0.91, 50.0)], HIT_AFTER_30)  # 30, 60, 30
    bayes = stats("bayes", HIT_AT_5, HIT_AT_5, MISS)  # 5, 5, missed -> median 5
    random = stats("random", MISS, MISS, HIT_AT_5)  # no median
    c = comparison(grid, random, bayes)
    assert grid.energy_to_target_median_j == 30.0
    assert c.recommended is bayes
    assert c.saving_vs_baseline("bayes") == pytest.approx(1 - 5 / 30)
    assert c.saving_vs_baseline(bayes) == c.saving_vs_baseline("bayes")
    assert c.saving_vs_baseline("grid") == 0.0
    assert c.saving_vs_baseline("random") is None  # no median
    assert c.saving_vs_baseline("gp") is None  # not compared
    # against another baseline: more energy is a negative saving
    assert comparison(grid, bayes, baseline="bayes").saving_vs_baseline("grid") == -5.0
    # a baseline that was not compared, or has no median: no saving at all
    assert comparison(bayes, random, baseline="grid").saving_vs_baseline("bayes") is None
    assert comparison(random, bayes, baseline="random").saving_vs_baseline("bayes") is None


def test_ties_go_to_more_seeds_reached_then_less_energy_then_the_order_given() -> None:
    two_of_three = stats("random", HIT_AT_5, HIT_AT_5, MISS)
    three_of_three = stats("bayes", HIT_AT_5, HIT_AT_5, HIT_AFTER_30)
    assert two_of_three.energy_to_target_median_j == three_of_three.energy_to_target_median_j
    assert comparison(two_of_three, three_of_three).recommended is three_of_three
    cheap = stats("gp", HIT_AT_5)  # 55 J in all
    dear = stats("halving", [(0.92, 5.0), (0.5, 500.0)])
    assert comparison(dear, cheap).recommended is cheap
    first, second = stats("random", HIT_AT_5), stats("bayes", HIT_AT_5)
    assert comparison(first, second).recommended is first
    assert comparison(stats("grid", MISS), stats("bayes", MISS)).recommended is None


def test_to_dict_is_json_safe_and_complete() -> None:
    grid = stats("grid", HIT_AFTER_30, MISS)
    bayes = stats("bayes", HIT_AT_5, [(None, 2.0)])  # a seed with no complete trial
    doc = comparison(grid, bayes).to_dict()
    back = json.loads(json.dumps(doc, allow_nan=False))
    assert back["recommended"] is None  # both missed half their seeds
    assert back["saving_vs_baseline"] is None
    assert back["target"] == TARGET and back["baseline"] == "grid" and back["n_trials"] == 3
    g, b = back["strategies"]
    assert g["strategy"] == "grid" and g["seeds"] == [0, 1]
    assert g["energy_to_target_j"] == [30.0, None]
    assert g["energy_to_target_median_j"] is None
    assert g["energy_to_target_range_j"] == [30.0, 30.0]
    assert g["trials_to_target"] == [2, None]
    assert g["saving_vs_baseline"] is None
    assert b["best_values"] == [0.99, None]
    assert [row["study_name"] for row in b["studies"]] == ["compare-bayes-s0", "compare-bayes-s1"]
    assert b["studies"][1]["failed"] == 1 and b["studies"][1]["best_value"] is None
    curve = g["studies"][0]["curve"]
    assert [p["energy_j"] for p in curve] == [10.0, 30.0, 70.0]
    assert [p["best"] for p in curve] == [0.5, 0.95, 0.97]
    ok = comparison(stats("grid", HIT_AFTER_30), stats("bayes", HIT_AT_5)).to_dict()
    assert ok["recommended"] == "bayes"
    assert ok["saving_vs_baseline"] == pytest.approx(1 - 5 / 30)


# -- running it -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": None}, "needs a target"),
        ({"target": math.nan}, "finite number"),
        ({"strategies": ()}, "at least one strategy"),
        ({"strategies": ("grid", "simplex")}, "unknown strategy 'simplex'"),
        ({"strategies": ("bayes", "grid", "bayes")}, "more than once: bayes"),
        ({"strategies": "bayes"}, "list of names"),
        ({"seeds": ()}, "at least one seed"),
        ({"seeds": (0, True)}, "integer, not True"),
        ({"seeds": (0, "1")}, "integer, not '1'"),
        ({"seeds": (1, 2, 1)}, "more than once: 1"),
        ({"n_trials": 0}, "n_trials"),
        ({"direction": "up"}, "direction"),
        ({"baseline": "gird"}, "unknown strategy 'gird'"),
    ],
)
def test_bad_options_fail_before_any_study_runs(kwargs: dict[str, Any], message: str) -> None:
    ran: list[Any] = []

    def objective(trial: Any) -> float:
        ran.append(trial)
        return 1.0

    options: dict[str, Any] = {"target": TARGET, **kwargs}
    with pytest.raises(ConfigError, match=message):
        compare_strategies(objective, {"x": [1, 2]}, store=False, **options)
    assert ran == []


SPACE = {"x": {"low": 0.0, "high": 1.0, "grid": [0.0, 0.1, 0.9, 1.0, 0.5, 0.3]}}


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StrategyComparison, Any]]:
    """2 strategies × 2 seeds × 6 trials of ``quadratic``, every run in one SQLite store."""
    folder = tmp_path_factory.mktemp("compare")
    calls: list[tuple[str, int, TuneResult]] = []
    sensor = SyntheticSensor(lambda t: 100.0, lambda a, b: 100.0 * (b - a), kind="counter")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_DATA_HOME", str(folder / "xdg-data"))
        mp.setenv("XDG_CONFIG_HOME", str(folder / "xdg-config"))
        result = compare_strategies(
            quadratic,
            SPACE,
            strategies=("grid", "bayes"),
            seeds=(0, 1),
            n_trials=6,
            metric="score",
            target=TARGET,
            tracker_options={"sensors": [sensor], "zone": "FRA", "interval_s": 0.1},
            store=folder / "runs.db",
            on_study=lambda name, seed, r: calls.append((name, seed, r)),
        )
    yield result, (calls, folder / "runs.db")


@pytest.mark.slow
def test_runs_every_strategy_and_seed_with_the_same_options(
    real: tuple[StrategyComparison, Any],
) -> None:
    c, (calls, db) = real
    assert (c.metric, c.maximize, c.target, c.n_trials, c.baseline) == (
        "score",
        True,
        0.9,
        6,
        "grid",
    )
    # seed by seed, every strategy within a seed, the order rotating with each seed
    assert [(name, seed) for name, seed, _ in calls] == [
        ("grid", 0),
        ("bayes", 0),
        ("bayes", 1),
        ("grid", 1),
    ]
    assert [s.strategy for s in c.strategies] == ["grid", "bayes"]
    for s in c.strategies:
        assert s.seeds == (0, 1)
        assert [r.study_name for r in s.results] == [
            f"compare-{s.strategy}-s0",
            f"compare-{s.strategy}-s1",
        ]
        assert [r for name, _, r in calls if name == s.strategy] == list(s.results)
        for r in s.results:
            assert r.strategy == s.strategy and r.metric == "score" and r.target == TARGET
            assert len(r.trials) == 6 and r.count("complete") == 6
            assert r.total_energy_j > 0
        # energy-to-target is each study's own accounting
        assert s.energy_to_target_j == tuple(
            None if r.target_hit is None else r.target_hit.energy_j for r in s.results
        )
    grid = c.get("grid")
    assert grid is not None
    # the grid holds x = 0.3, where the score is 1.0 after the last epoch
    assert grid.best_values == (1.0, 1.0) and grid.reached == 2
    json.dumps(c.to_dict(), allow_nan=False)
    from wattwise.store import get_store

    with get_store(db) as store:
        studies = sorted(r.tags["study"] for r in store.list_runs())
    assert len(studies) == 24
    assert set(studies) == {f"compare-{n}-s{s}" for n in ("grid", "bayes") for s in (0, 1)}


# -- the terminal table ---------------------------------------------------------------------
def printed(c: StrategyComparison) -> str:
    console = Console(record=True, width=160, color_system=None)
    print_comparison(c, console)
    return console.export_text()


def test_the_table_names_every_strategy_and_the_recommendation() -> None:
    grid = stats("grid", HIT_AFTER_30, [(0.1, 10.0), (0.91, 50.0)], HIT_AFTER_30)
    bayes = stats("bayes", HIT_AT_5, HIT_AT_5, MISS)
    random = stats("random", MISS, MISS, HIT_AT_5)
    text = printed(comparison(grid, random, bayes))
    for name in ("grid", "random", "bayes ★"):
        assert name in text
    assert "acc ≥ 0.9" in text
    assert "30.0 J [30.0 J–60.0 J]" in text  # grid's median and range
    assert "missed [5.0 J–5.0 J]" in text  # random: one seed reached it
    assert "83% less" in text and "baseline" in text
    assert "★ recommended: bayes, median energy-to-target 5.0 J (2/3 seeds reached" in text
    assert "83% less energy than grid" in text


def test_the_table_is_honest_when_nothing_reached_the_target() -> None:
    text = printed(comparison(stats("grid", MISS), stats("bayes", MISS, HIT_AT_5)))
    assert "no strategy reached acc ≥ 0.9 in at least half of its seeds: no recommendation" in text
    assert "★" not in text


def test_the_line_says_when_the_baseline_cannot_give_a_saving() -> None:
    text = printed(comparison(stats("grid", MISS, MISS, HIT_AT_5), stats("bayes", HIT_AT_5)))
    assert "grid reached the target in only 1/3 seeds" in text
    assert "One seed: no spread" in text
    text = printed(comparison(stats("bayes", HIT_AT_5), stats("random", HIT_AFTER_30)))
    assert "the baseline grid was not compared" in text


def test_the_notes_of_the_page_are_printed_after_the_table() -> None:
    grid = study("grid", 0, HIT_AT_5)  # 2 of the 3 trials asked: a short grid
    grid = dataclasses.replace(
        grid,
        trials=tuple(dataclasses.replace(t, method="estimated") for t in grid.trials),
        notes=("2 local workers: [b]overlap[/b]",),
    )
    lines = printed(comparison(StrategyStats("grid", (grid,)), stats("bayes", MISS))).splitlines()
    notes = [ln for ln in lines if ln.startswith("note: ")]
    assert notes == [
        "note: some trials' energy was estimated, not measured: the ranking holds for the "
        "estimate's model of the machine, not necessarily for its meter.",
        "note: compare-grid-s0: 2 local workers: [b]overlap[/b].",  # markup printed as text
        "note: grid studies with fewer trials than asked (compare-grid-s0): the grid has "
        "fewer points, and a grid study ends when every point has run.",
    ]
    table_end = max(i for i, ln in enumerate(lines) if ln.startswith("└"))
    assert lines.index(notes[0]) == table_end + 1
    assert lines[-1].startswith("★ recommended: grid")
    assert "note: " not in printed(comparison(stats("bayes", HIT_AT_5)))


def test_markup_in_a_name_is_printed_as_text() -> None:
    text = printed(comparison(stats("[red]grid[/red]", HIT_AT_5)))
    assert "[red]grid[/red]" in text


# -- the HTML page --------------------------------------------------------------------------
class Tags(HTMLParser):
    """Start tags with their attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Tags:
    parser = Tags()
    parser.feed(page)
    parser.close()
    return parser


EVIL = '<img src=x onerror="alert(1)">'


def test_the_page_has_both_charts_the_tables_and_no_script() -> None:
    grid = stats("grid", HIT_AFTER_30, [(0.1, 10.0), (0.91, 50.0)], HIT_AFTER_30)
    bayes = stats(EVIL, HIT_AT_5, HIT_AT_5, MISS)
    random = stats("random", MISS, MISS, HIT_AT_5)
    page = html_tune_comparison(comparison(grid, random, bayes))
    doc = parse(page)
    names = [t for t, _ in doc.tags]
    assert "script" not in names
    assert "img" not in names  # the name was escaped, not markup
    assert EVIL in "".join(doc.text)
    charts = [a.get("data-chart") for t, a in doc.tags if t == "svg"]
    assert charts == ["energy-to-target", "best-vs-energy"]
    # a bar and a whisker per strategy with a median; random is named instead of drawn
    assert sum(1 for t, a in doc.tags if t == "rect" and a.get("class") == "bar") == 2
    assert sum(1 for t, a in doc.tags if t == "path" and a.get("class") == "whisker") == 2
    text = " ".join(doc.text)
    assert "No median, not drawn" in text and "random (1/3 seeds reached it" in text
    # one line per strategy (its median seed) and the target, dashed
    assert "median seed 0" in text and "target 0.9" in text
    assert any(t == "polyline" and a.get("stroke-dasharray") for t, a in doc.tags)
    assert "Recommended:" in text and "83% less energy than grid" in text
    assert "compare-grid-s1" in text  # the studies table
    assert "Grid studies with fewer trials than asked (compare-grid-s1)" in text  # 2 of 3
    assert any(
        t == "meta" and a.get("http-equiv") == "Content-Security-Policy" for t, a in doc.tags
    )


def test_the_page_renders_when_nothing_reached_the_target() -> None:
    page = html_tune_comparison(comparison(stats("grid", MISS), stats("bayes", MISS)))
    doc = parse(page)
    text = " ".join(doc.text)
    assert "no recommendation" in text
    assert "no data" in text  # no bar to draw
    assert [a.get("data-chart") for t, a in doc.tags if t == "svg"] == ["best-vs-energy"]
