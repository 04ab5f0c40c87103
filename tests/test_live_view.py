"""The live display: its one-line format and how a mode picks a view.

(Named ``test_live_view`` because ``tests/carbon/test_live.py`` holds the basename.)
"""

from __future__ import annotations

import dataclasses
import io
import threading

import pytest

from wattwise.exceptions import ConfigError
from wattwise.live import (
    LiveFigures,
    NotebookView,
    OffView,
    PlainView,
    RichView,
    format_line,
    make_view,
)
from wattwise.training import EpochSummary, Totals

FIGURES = LiveFigures(
    name="mnist",
    epoch=3,
    planned_epochs=10,
    steps=120,
    power_w=142.26,
    energy_j=5400.0,
    co2_g=0.0812,
    cost=0.0003,
    currency="EUR",
    elapsed_s=75.0,
    method="measured",
    forecast_energy_j=18000.0,
    forecast_co2_g=0.27,
    forecast_duration_s=250.0,
    budget_used=0.3,
    stop_reason=None,
)

SUMMARY = EpochSummary(
    epoch=2,
    duration_s=25.04,
    energy_j=1800.0,
    co2_g=0.027,
    cost=0.0001,
    power_w=71.9,
    steps=40,
    samples=1280,
    tokens=0,
    samples_per_s=51.1,
    energy_per_sample_j=1.40625,
    energy_per_token_j=None,
    metrics={"loss": 0.3},
    forecast=None,
    totals=Totals(5400.0, 0.0812, 0.0003, 75.0),
)


def test_format_line_shows_every_figure() -> None:
    line = format_line(FIGURES)
    assert line == (
        "wattwise mnist · 3/10 epochs · 142.3 W · 5.40 kJ · 0.0812 gCO2e · 1m15s · "
        "forecast 18.00 kJ, 0.27 gCO2e, 4m10s · budget 30%"
    )


def test_format_line_without_plan_forecast_or_budget() -> None:
    f = dataclasses.replace(
        FIGURES,
        planned_epochs=None,
        forecast_energy_j=None,
        forecast_co2_g=None,
        forecast_duration_s=None,
        budget_used=None,
        elapsed_s=4.25,
        energy_j=12.0,
    )
    line = format_line(f)
    assert line == "wattwise mnist · 3 epochs · 142.3 W · 12.0 J · 0.0812 gCO2e · 4.2s"
    assert "forecast" not in line and "budget" not in line


def test_format_line_marks_estimated_power_and_a_partial_forecast() -> None:
    f = dataclasses.replace(FIGURES, method="estimated", forecast_co2_g=None, budget_used=1.25)
    line = format_line(f)
    assert "142.3 W (est.)" in line
    assert "forecast 18.00 kJ, 4m10s" in line
    assert line.endswith("budget 125%")


def test_plain_view_prints_one_line_per_epoch_and_message() -> None:
    lines: list[str] = []
    view = PlainView(lines.append)
    view.start(lambda: FIGURES)
    view.epoch_end(FIGURES, SUMMARY)
    view.message("stopping: budget reached")
    view.stop(FIGURES)
    assert len(lines) == 2
    assert lines[0].startswith(format_line(FIGURES))
    assert lines[0].endswith(" · this epoch 1.80 kJ in 25.0s, 1.41 J/sample")
    assert lines[1] == "wattwise: stopping: budget reached"


def test_plain_view_leaves_out_energy_per_sample_without_samples() -> None:
    lines: list[str] = []
    summary = dataclasses.replace(SUMMARY, samples=0, energy_per_sample_j=None)
    PlainView(lines.append).epoch_end(FIGURES, summary)
    assert lines[0].endswith("this epoch 1.80 kJ in 25.0s")


def test_plain_view_prints_to_stderr_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    PlainView().message("hello")
    out, err = capsys.readouterr()
    assert out == "" and err == "wattwise: hello\n"


def test_off_view_shows_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    view = OffView()
    view.start(lambda: FIGURES)
    view.epoch_end(FIGURES, SUMMARY)
    view.message("x")
    view.stop(FIGURES)
    assert capsys.readouterr() == ("", "")


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def test_make_view_rejects_an_unknown_mode() -> None:
    with pytest.raises(ConfigError, match="invalid live='fancy'"):
        make_view("fancy")


def test_make_view_explicit_modes() -> None:
    assert type(make_view("off")) is OffView
    assert type(make_view("plain")) is PlainView
    assert type(make_view("rich")) is RichView
    assert type(make_view("notebook")) is NotebookView
    printer = print
    view = make_view("plain", printer=printer)
    assert isinstance(view, PlainView) and view.printer is printer


def test_auto_is_plain_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", _Stream(tty=False))
    lines: list[str] = []
    view = make_view("auto", printer=lines.append)
    assert type(view) is PlainView
    view.message("x")
    assert lines == ["wattwise: x"]
    assert type(make_view("auto")) is PlainView


def test_auto_with_a_printer_is_plain_even_at_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", _Stream(tty=True))
    assert type(make_view("auto", printer=lambda line: None)) is PlainView


def test_auto_is_rich_at_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", _Stream(tty=True))
    assert type(make_view("auto")) is RichView


def test_auto_without_stderr_is_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", None)  # pythonw, some services
    assert type(make_view("auto")) is PlainView


def test_rich_view_refreshes_on_a_thread_it_stops(capsys: pytest.CaptureFixture[str]) -> None:
    before = set(threading.enumerate())
    view = RichView()
    view.message("before start: dropped")  # no console yet: nothing to print on
    view.start(lambda: FIGURES)
    try:
        assert set(threading.enumerate()) - before  # rich's refresh thread
        view.epoch_end(FIGURES, SUMMARY)
        view.message("a message")
    finally:
        view.stop(FIGURES)
    view.stop(FIGURES)  # idempotent
    assert set(threading.enumerate()) - before == set()
    err = capsys.readouterr().err
    assert "epoch took 1.80 kJ, 25.0s" in err
    assert "wattwise: a message" in err and "dropped" not in err


def test_rich_view_keeps_the_programs_output_above_the_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    monkeypatch.setenv("FORCE_COLOR", "1")  # rich treats the console as a terminal
    stdout, stderr = sys.stdout, sys.stderr
    view = RichView()
    view.start(lambda: FIGURES)
    try:
        # while live, what the program prints goes through rich, above the live line
        assert sys.stdout is not stdout and sys.stderr is not stderr
    finally:
        view.stop(FIGURES)
    assert sys.stdout is stdout and sys.stderr is stderr  # restored


def test_notebook_view_updates_one_cell_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    shown: list[str] = []
    updates: list[str] = []

    class HTML:
        def __init__(self, html: str) -> None:
            self.html = html

    class Handle:
        def update(self, obj: HTML) -> None:
            updates.append(obj.html)

    def display(obj: HTML, display_id: bool = False) -> Handle:
        assert display_id is True
        shown.append(obj.html)
        return Handle()

    fake = types.ModuleType("IPython.display")
    fake.HTML = HTML  # type: ignore[attr-defined]
    fake.display = display  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", types.ModuleType("IPython"))
    monkeypatch.setitem(sys.modules, "IPython.display", fake)
    view = NotebookView()
    view.start(lambda: FIGURES)
    view.epoch_end(FIGURES, SUMMARY)
    view.message("budget <soon>")
    view.stop(FIGURES)
    assert len(shown) == 1 and len(updates) == 3  # one cell, updated in place
    assert "3/10 epochs" in updates[-1]
    assert "epoch 2: 1.80 kJ, 25.0s" in updates[-1]
    assert "budget &lt;soon&gt;" in updates[-1]  # escaped, not markup
