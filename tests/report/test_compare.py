"""Comparing runs: the Pareto front, metric direction, relative differences, the HTML page."""

from __future__ import annotations

import dataclasses
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from wattwise.exceptions import ConfigError
from wattwise.record import PhaseRecord, RunRecord
from wattwise.report.compare import (
    common_scope,
    compare_rows,
    comparison_notes,
    html_comparison,
    last_metric,
    lower_is_better,
    pareto_front,
)
from wattwise.testing.records import make_footprint, make_record

NS = "{http://www.w3.org/2000/svg}"
T0 = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
GENERATED = datetime(2026, 2, 1, tzinfo=timezone.utc)


def _phase(i: int, metrics: Mapping[str, float], kind: str = "epoch") -> PhaseRecord:
    return PhaseRecord(
        f"{kind} {i}",
        kind,
        i,
        T0 + timedelta(seconds=10 * i),
        T0 + timedelta(seconds=10 * (i + 1)),
        10.0,
        make_footprint(100.0),
        make_footprint(60.0),
        dict(metrics),
    )


def _run(
    energy_j: float,
    epochs: Sequence[Mapping[str, float]] = (),
    *,
    duration_s: float = 60.0,
    **overrides: Any,
) -> RunRecord:
    """A run of ``energy_j`` (headline) whose epochs logged ``epochs``' metrics."""
    phases = tuple(_phase(i, m) for i, m in enumerate(epochs, start=1))
    return make_record(
        machine=make_footprint(energy_j), duration_s=duration_s, phases=phases, **overrides
    )


# -- pareto_front -------------------------------------------------------------------------
def test_front_when_higher_is_better() -> None:
    energy = [2.0, 1.0, 3.0, 2.5]
    acc = [0.9, 0.5, 0.95, 0.8]  # run 3 uses more than run 0 for less: dominated
    assert pareto_front(energy, acc) == [1, 0, 2]


def test_front_when_lower_is_better() -> None:
    energy = [1.0, 2.0, 3.0, 0.5]
    loss = [3.0, 2.0, 2.5, 4.0]  # run 2 costs more than run 1 for a worse loss
    assert pareto_front(energy, loss, maximize=False) == [3, 0, 1]
    # read the other way round, the cheapest run also has the "best" (highest) value
    assert pareto_front(energy, loss, maximize=True) == [3]


def test_a_run_best_on_both_counts_is_the_whole_front() -> None:
    assert pareto_front([2.0, 1.0, 3.0], [0.9, 0.99, 0.95]) == [1]
    assert pareto_front([2.0, 1.0, 3.0], [0.9, 0.5, 0.95], maximize=False) == [1]


def test_identical_runs_are_both_kept() -> None:
    # neither is strictly better in anything, so neither dominates the other
    assert pareto_front([1.0, 1.0, 2.0], [0.5, 0.5, 0.4]) == [0, 1]
    assert pareto_front([1.0, 1.0, 2.0], [0.5, 0.5, 0.6]) == [0, 1, 2]


def test_ties_on_one_count_are_broken_by_the_other() -> None:
    assert pareto_front([1.0, 1.0], [0.5, 0.6]) == [1]  # same energy, better metric
    assert pareto_front([1.0, 1.0], [0.5, 0.6], maximize=False) == [0]
    assert pareto_front([2.0, 1.0], [0.5, 0.5]) == [1]  # same metric, less energy


def test_front_is_ordered_by_rising_energy() -> None:
    energy = [5.0, 1.0, 3.0, 2.0, 4.0]
    acc = [0.95, 0.1, 0.7, 0.5, 0.9]  # every run is on the front
    assert pareto_front(energy, acc) == [1, 3, 2, 4, 0]
    assert pareto_front([], []) == []
    with pytest.raises(ValueError):
        pareto_front([1.0, 2.0], [0.5])


# -- lower_is_better ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "val_loss",
        "loss",
        "error_rate",
        "perplexity",
        "val_ppl",
        "MSE",
        "test_rmse",
        "WER",
        "latency_ms",
        "epoch_time_s",
        "train/loss",
        "valloss",
        "top1_err",
        "cross_entropy",
        "val_ce",
        "fid",
        "kl_div",
        "errorRate",
        "duration_s",
    ],
)
def test_lower_is_better_for_losses_errors_and_times(name: str) -> None:
    assert lower_is_better(name)


@pytest.mark.parametrize(
    "name",
    [
        "accuracy",
        "f1",
        "val_acc",
        "auc",
        "bleu",
        "top5",
        "recall",
        "answer_f1",
        "certainty",
        "uptime",
    ],
)
def test_higher_is_better_for_scores(name: str) -> None:
    assert not lower_is_better(name)


# -- last_metric --------------------------------------------------------------------------
def test_last_metric_is_the_last_epoch_that_logged_it_even_if_not_finite() -> None:
    phases = (
        _phase(1, {"val_loss": 1.0, "acc": 0.5}),
        _phase(2, {"val_loss": 0.8}),
        _phase(3, {"val_loss": math.nan, "acc": 0.7}),
        _phase(4, {"val_loss": 0.1}, kind="phase"),  # not an epoch: a final test, say
    )
    record = make_record(phases=phases)
    # a run that diverged must not look like its last good epoch
    assert math.isnan(last_metric(record, "val_loss") or 0.0)
    assert last_metric(record, "acc") == 0.7
    assert last_metric(record, "f1") is None
    assert last_metric(make_record(), "acc") is None


def test_a_diverged_run_is_off_the_front_and_said_so() -> None:
    good = make_record(machine=make_footprint(2000.0), phases=(_phase(1, {"loss": 0.5}),))
    diverged = make_record(
        machine=make_footprint(500.0),
        phases=(_phase(1, {"loss": 0.9}), _phase(2, {"loss": math.nan})),
    )
    worse = make_record(machine=make_footprint(3000.0), phases=(_phase(1, {"loss": 0.7}),))
    rows = compare_rows([good, diverged, worse], "loss", maximize=False)
    assert [r.on_front for r in rows] == [True, False, False]
    notes = comparison_notes([good, diverged, worse], rows)
    assert any("non-finite" in n for n in notes)
    html = html_comparison([good, diverged, worse], "loss")
    assert "ended with a non-finite value" in html


def test_mixed_headline_scopes_are_compared_on_the_whole_machine() -> None:
    a = make_record(headline="machine")
    b = make_record(headline="process")  # the same machine energy, a smaller share
    rows = compare_rows([a, b])
    assert common_scope([a, b]) == "machine" and rows[1].energy_rel == 0.0
    assert rows[1].footprint == b.machine
    assert any("headline scopes differ" in n for n in comparison_notes([a, b], rows))
    assert compare_rows([b, b])[0].footprint == b.process  # a shared scope is kept
    html = html_comparison([a, b])
    assert "whole-machine scope" in html and "headline scopes differ" in html


def test_no_runs_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        compare_rows([])


# -- compare_rows -------------------------------------------------------------------------
def test_compare_rows_are_relative_to_the_first_run() -> None:
    records = [
        _run(1000.0, duration_s=60.0),
        _run(1500.0, duration_s=30.0),
        _run(500.0, duration_s=120.0),
    ]
    rows = compare_rows(records)
    assert [r.record for r in rows] == records
    first, second, third = rows
    assert (first.energy_rel, first.co2_rel, first.duration_rel) == (None, None, None)
    assert second.energy_rel == pytest.approx(0.5)
    assert second.co2_rel == pytest.approx(0.5)
    assert second.duration_rel == pytest.approx(-0.5)
    assert third.energy_rel == pytest.approx(-0.5)
    assert third.duration_rel == pytest.approx(1.0)
    assert all(r.metric is None and not r.on_front for r in rows)


def test_a_zero_reference_gives_no_relative_difference() -> None:
    rows = compare_rows([_run(0.0, duration_s=0.0), _run(100.0, duration_s=5.0)])
    assert (rows[1].energy_rel, rows[1].co2_rel, rows[1].duration_rel) == (None, None, None)


def test_compare_rows_mark_the_front_among_runs_that_logged_the_metric() -> None:
    records = [
        _run(1000.0, [{"acc": 0.5}, {"acc": 0.9}]),
        _run(2000.0, [{"acc": 0.8}]),  # dominated by run 0
        _run(3000.0, [{"acc": 0.95}]),
        _run(100.0, [{"loss": 1.0}]),  # never logged acc: no value, not on the front
    ]
    rows = compare_rows(records, "acc")
    assert [r.metric for r in rows] == [0.9, 0.8, 0.95, None]
    assert [r.on_front for r in rows] == [True, False, True, False]
    rows = compare_rows(records, "acc", maximize=False)  # lower is "better": run 2 dominated
    assert [r.on_front for r in rows] == [True, True, False, False]


def test_no_front_with_fewer_than_two_values() -> None:
    records = [_run(1000.0, [{"acc": 0.9}]), _run(500.0)]
    rows = compare_rows(records, "acc")
    assert [r.metric for r in rows] == [0.9, None]
    assert not any(r.on_front for r in rows)


# -- html_comparison ----------------------------------------------------------------------
def _svg(page: str, name: str) -> ET.Element:
    start = page.index(f'data-chart="{name}"')
    start = page.rindex("<svg", 0, start)
    return ET.fromstring(page[start : page.index("</svg>", start) + len("</svg>")])


def _table_rows(page: str) -> list[str]:
    return re.findall(r'<tr><td class="n">\d+</td>.*?</tr>', page)


def test_html_comparison_escapes_names_and_marks_the_front() -> None:
    evil = '<script>alert("run")</script>'
    metric = "<script>m</script>_acc"
    records = [
        _run(1000.0, [{metric: 0.9}], name=evil),
        _run(2000.0, [{metric: 0.8}], name="plain & simple"),
        _run(3000.0, [{metric: 0.95}], name="big"),
    ]
    page = html_comparison(records, metric, generated_at=GENERATED)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&quot;run&quot;)&lt;/script&gt;" in page
    assert "&lt;script&gt;m&lt;/script&gt;_acc" in page
    assert "plain &amp; simple" in page
    rows = _table_rows(page)
    assert len(rows) == 3
    assert ["Pareto" in row for row in rows] == [True, False, True]
    dots = [c for c in _svg(page, "pareto").iter(f"{NS}circle")]
    assert [c.get("class") for c in dots] == ["dot marked", "dot", "dot marked"]
    assert "2026-02-01T00:00:00+00:00" in page


@pytest.mark.parametrize(
    ("metric", "maximize", "expected"),
    [
        ("val_acc", None, "higher is better (guessed from its name)"),
        ("val_loss", None, "lower is better (guessed from its name)"),
        ("val_loss", True, "higher is better (as asked)"),
        ("val_acc", False, "lower is better (as asked)"),
    ],
)
def test_html_comparison_says_which_direction_it_assumed(
    metric: str, maximize: bool | None, expected: str
) -> None:
    records = [_run(1000.0, [{metric: 0.5}]), _run(2000.0, [{metric: 0.4}])]
    page = html_comparison(records, metric, maximize=maximize)
    assert expected in page
    better_high = "higher" in expected
    rows = _table_rows(page)
    # run 0 uses less energy; with a higher-is-better 0.5 it also scores better
    assert ["Pareto" in row for row in rows] == ([True, False] if better_high else [True, True])


def test_html_comparison_counts_runs_that_did_not_log_the_metric() -> None:
    records = [_run(1000.0, [{"acc": 0.5}]), _run(2000.0, [{"acc": 0.6}]), _run(500.0)]
    page = html_comparison(records, "acc")
    assert "1 run(s) did not log it or ended with a non-finite value." in page
    assert len(list(_svg(page, "pareto").iter(f"{NS}circle"))) == 2


def test_html_comparison_without_a_metric_has_no_scatter() -> None:
    records = [_run(1000.0, [{"acc": 0.5}]), _run(2000.0, [{"acc": 0.6}])]
    page = html_comparison(records)
    assert 'data-chart="pareto"' not in page and "Pareto" not in page
    assert 'data-chart="run-energy"' in page
    bars = [r for r in _svg(page, "run-energy").iter(f"{NS}rect") if r.get("class") == "bar"]
    assert len(bars) == 2
    heights = [float(b.get("height") or 0) for b in bars]
    assert heights[1] == pytest.approx(2 * heights[0], abs=0.2)


def test_html_comparison_notes_different_zones_and_methods() -> None:
    a = _run(1000.0)
    same = html_comparison([a, _run(2000.0)])
    assert "different zones" not in same and "different methods" not in same
    other_zone = _run(2000.0, carbon=dataclasses.replace(a.carbon, zone="DEU"))
    page = html_comparison([a, other_zone])
    assert "different zones" in page and "different methods" not in page
    estimated = _run(2000.0)
    estimated = dataclasses.replace(estimated, machine=make_footprint(2000.0, method="estimated"))
    page = html_comparison([a, estimated])
    assert "different methods" in page and "different zones" not in page
