"""Live display of a training run: a rich line in a terminal, plain lines elsewhere.

``auto`` picks a notebook display inside Jupyter, a rich live line when standard error is
a terminal, and one plain line per epoch otherwise (CI logs, files). ``off`` shows
nothing. The rich line refreshes on its own thread (rich's), from figures the session
keeps current; that thread stops with the session.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from wattwise.exceptions import ConfigError
from wattwise.summary import fmt_duration, fmt_energy

if TYPE_CHECKING:
    from wattwise.training import EpochSummary

__all__ = ["LiveFigures", "LiveView", "format_line", "make_view"]

MODES = ("auto", "rich", "plain", "notebook", "off")


@dataclass(frozen=True)
class LiveFigures:
    """What a live display shows at one moment."""

    name: str
    epoch: int
    planned_epochs: int | None
    steps: int
    power_w: float
    energy_j: float
    co2_g: float
    cost: float
    currency: str
    elapsed_s: float
    method: str
    forecast_energy_j: float | None
    forecast_co2_g: float | None
    forecast_duration_s: float | None
    budget_used: float | None
    stop_reason: str | None


def format_line(f: LiveFigures) -> str:
    """One line: epoch, power, energy, emissions, elapsed, forecast and budget."""
    epoch = f"{f.epoch}/{f.planned_epochs} epochs" if f.planned_epochs else f"{f.epoch} epochs"
    parts = [
        f"wattwise {f.name}",
        epoch,
        f"{f.power_w:.1f} W",
        fmt_energy(f.energy_j),
        f"{f.co2_g:.3g} gCO2e",
        fmt_duration(f.elapsed_s),
    ]
    if f.method == "estimated":
        parts[2] += " (est.)"
    if f.forecast_energy_j is not None:
        fc = f"forecast {fmt_energy(f.forecast_energy_j)}"
        if f.forecast_co2_g is not None:
            fc += f", {f.forecast_co2_g:.3g} gCO2e"
        if f.forecast_duration_s is not None:
            fc += f", {fmt_duration(f.forecast_duration_s)}"
        parts.append(fc)
    if f.budget_used is not None:
        parts.append(f"budget {f.budget_used:.0%}")
    return " · ".join(parts)


class LiveView(Protocol):
    """A display the session drives: started once, told of epochs and messages, stopped."""

    def start(self, figures: Callable[[], LiveFigures]) -> None: ...
    def epoch_end(self, figures: LiveFigures, summary: EpochSummary) -> None: ...
    def message(self, text: str) -> None: ...
    def stop(self, figures: LiveFigures) -> None: ...


class OffView:
    """Shows nothing."""

    def start(self, figures: Callable[[], LiveFigures]) -> None:
        """Nothing to start."""

    def epoch_end(self, figures: LiveFigures, summary: EpochSummary) -> None:
        """Nothing to show."""

    def message(self, text: str) -> None:
        """Nothing to show."""

    def stop(self, figures: LiveFigures) -> None:
        """Nothing to stop."""


class PlainView(OffView):
    """One line per epoch and per message, through ``printer`` (default: stderr)."""

    def __init__(self, printer: Callable[[str], None] | None = None) -> None:
        self.printer = printer or _to_stderr

    def epoch_end(self, figures: LiveFigures, summary: EpochSummary) -> None:
        """Print the epoch's line."""
        line = format_line(figures)
        line += f" · this epoch {fmt_energy(summary.energy_j)} in {summary.duration_s:.1f}s"
        if summary.energy_per_sample_j is not None:
            line += f", {summary.energy_per_sample_j:.3g} J/sample"
        self.printer(line)

    def message(self, text: str) -> None:
        """Print a message line."""
        self.printer(f"wattwise: {text}")


class RichView(PlainView):
    """A rich live line on standard error, refreshed twice a second."""

    def __init__(self, printer: Callable[[str], None] | None = None) -> None:
        super().__init__(printer)
        self._live: Any = None
        self._console: Any = None

    def start(self, figures: Callable[[], LiveFigures]) -> None:
        """Start the live line (rich's refresh thread)."""
        from rich.console import Console
        from rich.live import Live
        from rich.text import Text

        self._console = Console(stderr=True)

        class _Line:
            def __rich__(self) -> Text:
                # one row, whatever the width: a wrapped live line would eat the rows above
                return Text(
                    format_line(figures()), style="green", no_wrap=True, overflow="ellipsis"
                )

        # rich prints what the program writes meanwhile above the live line (and restores
        # sys.stdout / sys.stderr when it stops), so a print() is never overwritten
        self._live = Live(
            _Line(),
            console=self._console,
            refresh_per_second=2,
            transient=True,
            redirect_stdout=True,
            redirect_stderr=True,
        )
        self._live.start()

    def epoch_end(self, figures: LiveFigures, summary: EpochSummary) -> None:
        """Print the epoch's line above the live one."""
        if self._console is not None:
            line = format_line(figures)
            line += f" · epoch took {fmt_energy(summary.energy_j)}, {summary.duration_s:.1f}s"
            self._console.print(line, highlight=False, markup=False)

    def message(self, text: str) -> None:
        """Print a message above the live line."""
        if self._console is not None:
            self._console.print(f"wattwise: {text}", style="yellow", highlight=False, markup=False)

    def stop(self, figures: LiveFigures) -> None:
        """Stop the refresh thread and clear the line (idempotent)."""
        if self._live is not None:
            # rich only signals its refresh thread to end; wait for it, so none outlives us
            thread = getattr(self._live, "_refresh_thread", None)
            self._live.stop()
            self._live = None
            if isinstance(thread, threading.Thread) and thread is not threading.current_thread():
                thread.join(timeout=2.0)


class NotebookView(PlainView):
    """A display cell updated in place in Jupyter (IPython's display ids)."""

    def __init__(self) -> None:
        super().__init__()
        self._handle: Any = None
        self._figures: Callable[[], LiveFigures] | None = None
        self._lines: list[str] = []

    def start(self, figures: Callable[[], LiveFigures]) -> None:
        """Open the display cell."""
        from IPython.display import display

        self._figures = figures
        self._handle = display(self._render(format_line(figures())), display_id=True)

    def _render(self, head: str) -> Any:
        from html import escape

        from IPython.display import HTML

        body = "".join(f"<div>{escape(x)}</div>" for x in self._lines[-20:])
        return HTML(f"<div style='font-family:monospace'><b>{escape(head)}</b>{body}</div>")

    def _update(self, head: str) -> None:
        if self._handle is not None:
            self._handle.update(self._render(head))

    def epoch_end(self, figures: LiveFigures, summary: EpochSummary) -> None:
        """Add the epoch's line and refresh the header."""
        self._lines.append(
            f"epoch {summary.epoch}: {fmt_energy(summary.energy_j)}, {summary.duration_s:.1f}s"
        )
        self._update(format_line(figures))

    def message(self, text: str) -> None:
        """Add a message line."""
        self._lines.append(f"wattwise: {text}")
        if self._figures is not None:
            self._update(format_line(self._figures()))

    def stop(self, figures: LiveFigures) -> None:
        """Leave the final figures in the cell."""
        self._update(format_line(figures))


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    try:
        ip = shell.get_ipython()
    except Exception:
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def make_view(mode: str, *, printer: Callable[[str], None] | None = None) -> LiveView:
    """The display for ``mode`` (``auto`` decides from where it runs)."""
    if mode not in MODES:
        raise ConfigError(f"invalid live={mode!r}: must be one of {', '.join(MODES)}")
    if mode == "auto":
        if printer is not None:
            mode = "plain"
        elif _in_notebook():
            mode = "notebook"
        elif sys.stderr is not None and sys.stderr.isatty():
            mode = "rich"
        else:
            mode = "plain"
    if mode == "off":
        return OffView()
    if mode == "rich":
        return RichView(printer)
    if mode == "notebook":
        return NotebookView()
    return PlainView(printer)
