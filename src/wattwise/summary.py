"""A short terminal summary of a run (rich), shown at the end of ``wattwise run``."""

from __future__ import annotations

from typing import Any

from wattwise.record import RunRecord
from wattwise.units import J_PER_KWH

__all__ = ["fmt_duration", "fmt_energy", "print_summary"]


def fmt_energy(energy_j: float) -> str:
    """Joules in the most readable unit (J, kJ, kWh)."""
    if abs(energy_j) < 1e3:
        return f"{energy_j:.1f} J"
    if abs(energy_j) < 3.6e5:
        return f"{energy_j / 1e3:.2f} kJ"
    return f"{energy_j / J_PER_KWH:.3f} kWh"


def fmt_duration(seconds: float) -> str:
    """Seconds as ``1h02m03s`` / ``4m05s`` / ``6.1s``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def _range(low: float, value: float, high: float) -> str:
    if high - low <= 1e-9 * max(abs(value), 1.0):
        return ""
    return f" (range {fmt_energy(low)}–{fmt_energy(high)})"


def print_summary(record: RunRecord, console: Any) -> None:
    """Print the run's energy per component with methods, emissions, cost and provenance."""
    from rich.markup import escape
    from rich.table import Table

    fp = record.footprint
    c = record.carbon
    title = (
        f"wattwise · {escape(record.name)} · {record.status} · {fmt_duration(record.duration_s)}"
        f" · run {record.id[:8]}"
    )
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column("domain")
    table.add_column("method")
    table.add_column("machine", justify="right")
    table.add_column("this run's share", justify="right")
    for d in record.domains:
        table.add_row(
            escape(d.label), d.method, fmt_energy(d.energy_j), fmt_energy(d.process_energy_j)
        )
    table.add_row(
        "[bold]total (IT)[/]",
        record.machine.method,
        f"[bold]{fmt_energy(record.machine.energy_j)}[/]",
        f"[bold]{fmt_energy(record.process.energy_j)}[/]",
    )
    console.print(table)
    scope = "whole machine" if record.headline == "machine" else "the tracked processes' share"
    console.print(
        f"headline ({scope}): [bold]{fmt_energy(fp.energy_j)}[/] = {fp.energy_kwh:.3g} kWh IT, "
        f"{fp.method}{_range(fp.energy_low_j, fp.energy_j, fp.energy_high_j)}; "
        f"× PUE {c.pue:g} = {fp.facility_energy_kwh:.3g} kWh facility"
    )
    console.print(
        f"emissions: [bold]{fp.co2_g:.3g} gCO2e[/]"
        + (
            f" (range {fp.co2_low_g:.3g}–{fp.co2_high_g:.3g})"
            if fp.co2_high_g > fp.co2_low_g
            else ""
        )
        + f" at {c.intensity_g_per_kwh:.0f} gCO2e/kWh ({c.intensity_kind}, "
        f"{escape(c.zone)} {escape(c.zone_name)}, {c.intensity_year or 'year n/a'}, "
        f"{escape(c.intensity_source.split(': ')[0])})"
    )
    console.print(f"zone {escape(c.zone)}: {escape(c.zone_detail)}")
    console.print(f"PUE {c.pue:g}: {escape(c.pue_source)}")
    console.print(
        f"cost: {fp.cost:.3g} {c.currency} at {c.price_per_kwh:g} {c.currency}/kWh"
        f" ({escape(c.price_source)})"
    )
    if record.training is not None:
        print_training(record, console)
    for event in record.events:
        console.print(f"[yellow]note:[/] {escape(event)}")


def print_training(record: RunRecord, console: Any) -> None:
    """Epochs, throughput, forecast against actual, and why training stopped."""
    from rich.markup import escape

    t = record.training
    if t is None:
        return
    planned = f"/{t.planned_epochs}" if t.planned_epochs else ""
    line = f"training: {t.epoch_offset + t.epochs}{planned} epochs, {t.steps:,} steps"
    if t.samples:
        line += f", {t.samples:,} samples"
    if t.energy_per_sample_j is not None:
        line += f", {t.energy_per_sample_j:.3g} J/sample"
    if t.energy_per_token_j is not None:
        line += f", {t.energy_per_token_j:.3g} J/token"
    if t.epoch_offset:
        line += (
            f"; resumed after epoch {t.epoch_offset}: "
            f"{fmt_energy(t.total_energy_j)} in all segments"
        )
    console.print(line)
    if t.forecasts:
        first = t.forecasts[0]
        errors = t.forecast_errors()
        score = (
            f" ({errors[first.after_epochs]:+.1%} against the actual "
            f"{fmt_energy(t.trained_energy_j)} at the last epoch's end)"
            if first.after_epochs in errors
            else ""
        )
        console.print(
            f"forecast after epoch {first.after_epochs}: {fmt_energy(first.energy_j)}, "
            f"{first.co2_g:.3g} gCO2e, {fmt_duration(first.duration_s)} for "
            f"{first.planned_epochs} epochs{score}"
        )
    if t.stop_reason:
        console.print(f"[yellow]stopped:[/] {escape(t.stop_reason)}")
    if t.saved:
        console.print(
            f"not spent, against the forecast of the planned epochs: "
            f"{fmt_energy(t.saved['saved_energy_j'])}, {t.saved['saved_co2_g']:.3g} gCO2e"
        )
