"""The study's energy account on constructed histories: energy-to-target (sequential,
parallel pro-rata, no timestamps), the best-metric curve, totals and waste, the front,
overlap notes, and the JSON form."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from wattwise.tuning.accounting import (
    CurvePoint,
    TargetHit,
    TrialSummary,
    TuneResult,
    best_curve,
    best_trial,
    concurrency_notes,
    ended_order,
    energy_to_target,
    reaches,
)

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def trial(
    number: int,
    state: Any = "complete",
    value: float | None = None,
    energy_j: float = 100.0,
    *,
    start: float | None = None,
    end: float | None = None,
    co2_g: float | None = None,
    headline: str = "machine",
    host: str = "node-a",
    **kw: Any,
) -> TrialSummary:
    """A trial; ``start``/``end`` in seconds after T0 (None: no timestamps)."""
    duration = (end - start) if start is not None and end is not None else 10.0
    return TrialSummary(
        number=number,
        state=state,
        params={"x": number / 10},
        value=value,
        energy_j=energy_j,
        co2_g=energy_j / 100 if co2_g is None else co2_g,
        duration_s=kw.pop("duration_s", duration),
        started_at=at(start) if start is not None else None,
        ended_at=at(end) if end is not None else None,
        headline=headline,
        run_id=kw.pop("run_id", f"run-{number}"),
        host=host,
        **kw,
    )


def sequential(*rows: tuple[Any, float | None, float]) -> list[TrialSummary]:
    """Back-to-back 10 s trials from (state, value, energy_j) rows."""
    return [
        trial(i, state, value, energy, start=10.0 * i, end=10.0 * i + 10.0)
        for i, (state, value, energy) in enumerate(rows)
    ]


# -- reaches / ended_order -------------------------------------------------------------------
def test_reaches_is_at_or_beyond_in_the_direction() -> None:
    assert reaches(0.9, 0.9, True) and reaches(0.95, 0.9, True) and not reaches(0.89, 0.9, True)
    assert reaches(0.1, 0.1, False) and reaches(0.05, 0.1, False) and not reaches(0.2, 0.1, False)
    assert not reaches(None, 0.9, True)
    assert not reaches(math.nan, 0.9, True) and not reaches(math.inf, 0.9, True)


def test_ended_order_is_by_end_time_then_number_without_running_trials() -> None:
    rows = [
        trial(0, value=1.0, start=0, end=30),
        trial(1, value=1.0, start=0, end=10),
        trial(2, "running", start=5),
        trial(3, value=1.0, start=5, end=10),
        trial(4, "failed", energy_j=5.0),  # no timestamps: last
    ]
    assert [t.number for t in ended_order(rows)] == [1, 3, 0, 4]


# -- energy-to-target ------------------------------------------------------------------------
def test_sequential_energy_to_target_sums_up_to_and_including_the_hit() -> None:
    rows = sequential(
        ("complete", 0.50, 100.0),
        ("complete", 0.70, 120.0),
        ("complete", 0.91, 80.0),  # the hit
        ("complete", 0.99, 500.0),  # better, but later
    )
    hit = energy_to_target(rows, 0.9, maximize=True)
    assert hit == TargetHit(
        trial=2, energy_j=300.0, co2_g=3.0, trials_ended=3, elapsed_s=30.0, prorated_j=0.0
    )


def test_the_target_itself_counts_as_reached() -> None:
    rows = sequential(("complete", 0.5, 10.0), ("complete", 0.9, 20.0))
    hit = energy_to_target(rows, 0.9, maximize=True)
    assert hit is not None and hit.trial == 1 and hit.energy_j == 30.0


def test_minimize_counts_until_a_metric_at_or_below_the_target() -> None:
    rows = sequential(
        ("complete", 0.9, 10.0),
        ("complete", 0.05, 20.0),  # reaches 0.1 when minimizing
        ("complete", 0.01, 40.0),
    )
    hit = energy_to_target(rows, 0.1, maximize=False)
    assert hit is not None and (hit.trial, hit.energy_j, hit.trials_ended) == (1, 30.0, 2)
    # the same history maximizing: 0.9 ≥ 0.1 on the first trial
    first = energy_to_target(rows, 0.1, maximize=True)
    assert first is not None and (first.trial, first.energy_j) == (0, 10.0)


def test_not_reached_is_none() -> None:
    rows = sequential(("complete", 0.5, 10.0), ("complete", 0.8, 10.0))
    assert energy_to_target(rows, 0.9, maximize=True) is None
    assert energy_to_target([], 0.9, maximize=True) is None


def test_pruned_failed_and_budget_trials_count_but_cannot_be_the_hit() -> None:
    rows = sequential(
        ("pruned", 0.95, 30.0),  # a pruned trial with a good intermediate value
        ("failed", 0.99, 7.0),
        ("budget", 0.97, 11.0),
        ("complete", 0.60, 50.0),
        ("complete", 0.92, 25.0),  # the hit
        ("complete", 0.93, 1000.0),
    )
    hit = energy_to_target(rows, 0.9, maximize=True)
    assert hit is not None
    assert (hit.trial, hit.energy_j, hit.trials_ended) == (4, 123.0, 5)
    assert hit.co2_g == pytest.approx(1.23)


def test_parallel_trials_still_running_at_the_hit_count_pro_rata() -> None:
    rows = [
        # started at 0, ends at 10: 6 of its 10 s lie before the hit → 0.6 × 100 J
        trial(0, "complete", 0.50, 100.0, start=0, end=10, co2_g=1.0),
        # the hit ends at 6 (target 0.8)
        trial(1, "complete", 0.90, 40.0, start=2, end=6, co2_g=0.4),
        # started at 4, ends at 14: 2 of 10 s → 0.2 × 50 J; it reaches the target too, later
        trial(2, "complete", 0.95, 50.0, start=4, end=14, co2_g=0.5),
        # ended before the hit: in full
        trial(3, "pruned", None, 8.0, start=1, end=3, co2_g=0.08),
        # started after the hit: not counted
        trial(4, "complete", 0.99, 70.0, start=7, end=9, co2_g=0.7),
        # still running (no end): pro-rated over its duration so far, 5 s from 3 → 3 of 5 s
        trial(5, "running", None, 20.0, start=3, duration_s=5.0, co2_g=0.2),
    ]
    hit = energy_to_target(rows, 0.8, maximize=True)
    assert hit is not None
    expected_prorated = 0.6 * 100.0 + 0.2 * 50.0 + 0.6 * 20.0  # 82
    assert hit.trial == 1
    assert hit.trials_ended == 2  # trials 3 and 1
    assert hit.prorated_j == pytest.approx(expected_prorated)
    assert hit.energy_j == pytest.approx(40.0 + 8.0 + expected_prorated)  # 130
    assert hit.co2_g == pytest.approx(0.4 + 0.08 + 0.6 * 1.0 + 0.2 * 0.5 + 0.6 * 0.2)
    assert hit.elapsed_s == pytest.approx(6.0)


def test_the_hit_is_the_first_to_end_not_the_lowest_number() -> None:
    rows = [
        trial(0, "complete", 0.95, 100.0, start=0, end=20),
        trial(1, "complete", 0.91, 30.0, start=1, end=5),
    ]
    hit = energy_to_target(rows, 0.9, maximize=True)
    assert hit is not None and hit.trial == 1
    assert hit.energy_j == pytest.approx(30.0 + 100.0 * 5 / 20)


def test_without_timestamps_trials_count_in_number_order() -> None:
    rows = [
        trial(0, "complete", 0.5, 10.0, duration_s=3.0),
        trial(1, "failed", None, 4.0, duration_s=1.0),
        trial(2, "complete", 0.95, 20.0, duration_s=5.0),
        trial(3, "complete", 0.99, 40.0, duration_s=7.0),
    ]
    hit = energy_to_target(rows, 0.9, maximize=True)
    assert hit == TargetHit(2, 34.0, 0.34, 3, 9.0, 0.0)


# -- best-metric curve ----------------------------------------------------------------------
def test_best_curve_is_monotone_with_cumulative_energy_in_end_order() -> None:
    rows = [
        trial(0, "complete", 0.6, 10.0, start=0, end=10),
        trial(1, "complete", 0.8, 20.0, start=0, end=30),  # ends last
        trial(2, "failed", None, 5.0, start=10, end=12),
        trial(3, "complete", 0.5, 15.0, start=12, end=20),  # worse: best stays
        trial(4, "pruned", None, 1.0, start=20, end=25),
        trial(5, "running", None, 99.0, start=25),
    ]
    curve = best_curve(rows, maximize=True)
    assert curve == [
        CurvePoint(0, 10.0, 0.6),
        CurvePoint(2, 15.0, 0.6),
        CurvePoint(3, 30.0, 0.6),
        CurvePoint(4, 31.0, 0.6),
        CurvePoint(1, 51.0, 0.8),
    ]


def test_best_curve_minimizing_and_before_any_complete_trial() -> None:
    rows = sequential(
        ("failed", None, 1.0),
        ("complete", 3.0, 2.0),
        ("complete", 4.0, 3.0),
        ("complete", 1.0, 4.0),
        ("complete", math.nan, 5.0),  # not a usable metric
    )
    curve = best_curve(rows, maximize=False)
    assert [p.best_value for p in curve] == [None, 3.0, 3.0, 1.0, 1.0]
    assert [p.energy_j for p in curve] == [1.0, 3.0, 6.0, 10.0, 15.0]
    values = [p.best_value for p in curve if p.best_value is not None]
    assert values == sorted(values, reverse=True)


# -- TuneResult ----------------------------------------------------------------------------
@pytest.fixture
def history() -> TuneResult:
    rows = sequential(
        ("complete", 0.70, 100.0),
        ("pruned", None, 40.0),
        ("failed", None, 10.0),
        ("complete", 0.90, 120.0),  # best
        ("pruned", None, 30.0),
        ("complete", 0.85, 90.0),
        ("budget", None, 25.0),
    )
    rows[6] = dataclasses.replace(
        rows[6], partial_value=0.88, note="cut short by the study's budget"
    )
    return TuneResult(
        study_name="s",
        strategy="halving",
        metric="acc",
        maximize=True,
        trials=tuple(rows),
        target=0.8,
        budget_kwh=0.0001,
        stopped="budget: energy reached",
    )


def test_totals_pruned_wasted_and_after_best(history: TuneResult) -> None:
    assert history.total_energy_j == 415.0
    assert history.total_co2_g == pytest.approx(4.15)
    assert history.pruned_energy_j == 70.0
    assert history.wasted_energy_j == 35.0  # failed 10 + budget 25
    best = history.best
    assert best is not None and best.number == 3
    assert history.energy_after_best_j == 30.0 + 90.0 + 25.0
    assert history.count("complete") == 3 and history.count("pruned") == 2
    assert history.count("failed") == 1 and history.count("budget") == 1
    assert history.count("running") == 0
    hit = history.target_hit
    assert hit is not None and (hit.trial, hit.energy_j) == (3, 270.0)
    assert history.curve[-1] == CurvePoint(6, 415.0, 0.9)


def test_no_target_no_hit_and_no_complete_trial_no_best() -> None:
    rows = sequential(("failed", None, 5.0), ("pruned", None, 6.0))
    result = TuneResult("s", "bayes", "acc", True, tuple(rows))
    assert result.target_hit is None
    assert result.best is None
    assert result.energy_after_best_j == 0.0
    assert result.front == ()
    d = result.to_dict()
    assert d["best_trial"] is None and d["best_value"] is None and d["energy_to_target"] is None


def test_best_tie_goes_to_the_first_to_end() -> None:
    rows = [
        trial(0, "complete", 0.9, 10.0, start=0, end=50),
        trial(1, "complete", 0.9, 20.0, start=0, end=20),  # same value, ended first
        trial(2, "complete", 0.5, 30.0, start=20, end=40),
    ]
    result = TuneResult("s", "bayes", "acc", True, tuple(rows))
    best = result.best
    assert best is not None and best.number == 1
    assert result.energy_after_best_j == 30.0 + 10.0
    assert best_trial(rows, maximize=False) is not None
    assert best_trial(rows, maximize=False).number == 2  # type: ignore[union-attr]


def test_front_is_non_dominated_by_rising_energy() -> None:
    rows = sequential(
        ("complete", 0.80, 10.0),  # front
        ("complete", 0.70, 20.0),  # dominated by 0
        ("complete", 0.90, 30.0),  # front
        ("complete", 0.90, 40.0),  # dominated by 2 (same metric, more energy)
        ("complete", 0.95, 90.0),  # front
        ("pruned", None, 1.0),  # not complete: never on the front
        ("failed", None, 0.5),
    )
    result = TuneResult("s", "pareto", "acc", True, tuple(rows), pareto=True)
    assert [t.number for t in result.front] == [0, 2, 4]
    for t in result.front:
        assert t.value is not None
        for other in rows:
            if other.state != "complete" or other is t:
                continue
            assert other.value is not None
            dominates = (
                other.energy_j <= t.energy_j
                and other.value >= t.value
                and (other.energy_j < t.energy_j or other.value > t.value)
            )
            assert not dominates
    minimizing = TuneResult("s", "pareto", "loss", False, tuple(rows))
    assert [t.number for t in minimizing.front] == [0, 1]


# -- overlapping machine-headline trials ------------------------------------------------------
def test_overlapping_machine_headline_trials_on_one_host_are_flagged() -> None:
    rows = [
        trial(0, start=0, end=10),
        trial(1, start=5, end=15),  # overlaps 0
        trial(2, start=14, end=20),  # overlaps 1
        trial(3, start=30, end=40),  # alone
    ]
    notes = concurrency_notes(rows)
    assert len(notes) == 1
    assert notes[0].startswith("2 trial(s) on node-a overlapped others")
    assert "headline='process'" in notes[0]


def test_process_headlines_and_different_hosts_are_not_flagged() -> None:
    process = [
        trial(0, start=0, end=10, headline="process"),
        trial(1, start=5, end=15, headline="process"),
    ]
    hosts = [trial(0, start=0, end=10, host="a"), trial(1, start=5, end=15, host="b")]
    back_to_back = [trial(0, start=0, end=10), trial(1, start=10, end=20)]
    no_times = [trial(0), trial(1)]
    for rows in (process, hosts, back_to_back, no_times):
        assert concurrency_notes(rows) == []


def test_a_process_trial_overlapping_a_machine_trial_is_not_counted() -> None:
    rows = [
        trial(0, start=0, end=10),
        trial(1, start=5, end=15, headline="process"),
        trial(2, start=6, end=8, host="other"),
        trial(3, start=7, end=9, host="other"),
    ]
    assert concurrency_notes(rows) == [
        "1 trial(s) on other overlapped others while counting the whole machine's energy: "
        "the study total counts that energy more than once (run local workers with "
        "headline='process')"
    ]


def test_concurrency_notes_reach_the_result_through_its_caller() -> None:
    rows = (trial(0, start=0, end=10), trial(1, start=5, end=15))
    result = TuneResult("s", "bayes", "acc", True, rows, notes=tuple(concurrency_notes(rows)))
    assert result.to_dict()["notes"] == list(result.notes) and len(result.notes) == 1


# -- JSON ------------------------------------------------------------------------------------
def test_to_dict_is_plain_json(history: TuneResult) -> None:
    d = history.to_dict()
    text = json.dumps(d, allow_nan=False)
    back = json.loads(text)
    assert back["total_energy_j"] == 415.0
    assert back["pruned_energy_j"] == 70.0
    assert back["wasted_energy_j"] == 35.0
    assert back["energy_after_best_j"] == 145.0
    assert back["best_trial"] == 3 and back["best_value"] == 0.9
    assert back["energy_to_target"]["trial"] == 3
    assert back["energy_to_target"]["energy_j"] == 270.0
    assert [p["trial"] for p in back["curve"]] == [0, 1, 2, 3, 4, 5, 6]
    assert back["front"] == [5, 3]
    assert [t["number"] for t in back["trials"]] == list(range(7))
    assert back["trials"][6]["partial_value"] == 0.88
    assert back["trials"][0]["started_at"] == "2025-03-01T12:00:00+00:00"
    assert back["stopped"] == "budget: energy reached"


def test_front_of_the_history(history: TuneResult) -> None:
    # complete: 0 (100 J, 0.70), 3 (120 J, 0.90), 5 (90 J, 0.85) → 5 dominates 0
    assert [t.number for t in history.front] == [5, 3]
    assert history.to_dict()["front"] == [5, 3]


def test_non_finite_values_and_odd_params_become_json_safe() -> None:
    row = TrialSummary(
        number=0,
        state="complete",
        params={"lr": math.nan, "act": None, "flag": True, "obj": (1, 2), "width": 8},
        value=math.inf,
        energy_j=1.0,
        co2_g=0.01,
        duration_s=1.0,
        partial_value=math.nan,
    )
    d = row.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["value"] is None and d["partial_value"] is None
    assert d["params"] == {"lr": "nan", "act": None, "flag": True, "obj": "(1, 2)", "width": 8}
    result = TuneResult("s", "bayes", "acc", True, (row,))
    json.dumps(result.to_dict(), allow_nan=False)
    assert result.best is None  # an infinite metric is not a result


def test_a_nan_intermediate_value_stays_json_safe() -> None:
    row = trial(0, "pruned", None, 5.0, start=0, end=1, intermediate={0: 0.5, 1: math.nan})
    result = TuneResult("s", "halving", "acc", True, (row,))
    json.dumps(result.to_dict(), allow_nan=False)
