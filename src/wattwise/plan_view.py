"""Terminal views of an estimate and its comparisons (``wattwise estimate``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.markup import escape

from wattwise.estimating import Estimate
from wattwise.planning import HardwareOption, RegionOption
from wattwise.units import significant

__all__ = ["print_estimate", "print_hardware", "print_lifecycle", "print_regions"]


def _kwh(value: float) -> str:
    if value >= 1e3:
        return f"{value / 1e3:,.3g} MWh"
    return f"{value:,.3g} kWh"


def _co2(grams: float) -> str:
    if grams >= 1e6:
        return f"{grams / 1e6:,.3g} tCO2e"
    if grams >= 1e3:
        return f"{grams / 1e3:,.3g} kgCO2e"
    return f"{grams:,.3g} gCO2e"


def _span(central: str, low: str, high: str) -> str:
    return central if low == high else f"{central}  (range {low} – {high})"


def _num(value: float) -> str:
    """3 significant digits, thousands separated: 0.123, 45.6, 1,228, 37,977."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _hours(h: float) -> str:
    return f"{_num(h)} h" + (f" ({_num(h / 24)} days)" if h >= 48 else "")


def print_estimate(est: Estimate, console: Any) -> None:
    """The estimate, its range and every assumption."""
    c = est.carbon
    console.print(f"[bold]Estimate[/bold] ({est.method}): {escape(est.description)}")
    rows = [
        ("duration", _span(_hours(est.hours), _hours(est.hours_low), _hours(est.hours_high))),
        ("average IT power", f"{_num(est.power_w)} W"),
        (
            "IT energy",
            _span(
                _kwh(est.it_energy_kwh), _kwh(est.it_energy_low_kwh), _kwh(est.it_energy_high_kwh)
            ),
        ),
        (
            "facility energy",
            _span(
                _kwh(est.facility_energy_kwh),
                _kwh(est.facility_energy_low_kwh),
                _kwh(est.facility_energy_high_kwh),
            )
            + f"  × PUE {c.pue:g}",
        ),
        (
            "emissions",
            _span(_co2(est.co2e_g), _co2(est.co2e_low_g), _co2(est.co2e_high_g))
            + f"  at {c.intensity_g_per_kwh:.4g} g/kWh ({escape(c.zone)}, {escape(c.zone_name)})",
        ),
        ("cost", f"{est.cost:,.2f} {c.currency} at {c.price_per_kwh:g} {c.currency}/kWh"),
    ]
    if est.embodied_g is not None:
        low, high = est.embodied_low_g or est.embodied_g, est.embodied_high_g or est.embodied_g
        span = _span(_co2(est.embodied_g), _co2(low), _co2(high))
        rows.append(("embodied (SCI M)", f"{span}  apart: not in the emissions"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        console.print(f"  {key:<{width}}  {value}", highlight=False)
    if est.embodied_formula:
        console.print(f"  [dim]{escape(est.embodied_formula)}[/dim]", highlight=False)
    console.print("[bold]Assumptions[/bold]")
    for a in est.assumptions:
        line = f"  - {escape(a.name)}: {escape(a.value)}  [dim]{escape(a.source)}[/dim]"
        console.print(line, highlight=False)
    for note in est.notes:
        console.print(f"  [yellow]note[/yellow]: {escape(note)}", highlight=False)


def print_regions(options: Sequence[RegionOption], top: int, console: Any) -> None:
    """The best ``top`` zones, and the estimate's own zone wherever it ranks."""
    from rich.table import Table

    current = next((o for o in options if o.is_current), None)
    table = Table(title=f"the same job in {len(options)} zones, lowest emissions first")
    for col in ("#", "zone", "name", "g/kWh", "year", "PUE", "facility", "emissions", "vs yours"):
        table.add_column(col, justify="left" if col in ("zone", "name") else "right")
    shown = [o for o in options if o.rank <= top or o.is_current]
    for o in shown:
        ratio = (
            "-"
            if current is None or current.co2e_g == 0
            else f"{significant(o.co2e_g / current.co2e_g, 2)}×"
        )
        style = "bold" if o.is_current else None
        table.add_row(
            str(o.rank),
            escape(o.zone) + (" (yours)" if o.is_current else ""),
            escape(o.zone_name),
            f"{o.intensity_g_per_kwh:.4g}",
            str(o.year),
            f"{o.pue:g}",
            _kwh(o.facility_energy_kwh),
            _co2(o.co2e_g),
            ratio,
            style=style,
        )
    console.print(table)
    console.print(
        "  [dim]annual-average intensities; cloud regions at their own or their provider's "
        "PUE, other zones at the estimate's PUE[/dim]"
    )


def print_hardware(options: Sequence[HardwareOption], top: int, console: Any) -> None:
    """The best ``top`` accelerators for the job's FLOPs, and the estimate's own."""
    from rich.table import Table

    table = Table(title=f"the same FLOPs on {len(options)} accelerators, lowest energy first")
    for col in ("#", "accelerator", "TDP W", "peak TFLOP/s", "hours", "IT energy", "emissions"):
        table.add_column(col, justify="left" if col == "accelerator" else "right")
    for o in options:
        if o.rank > top and not o.is_current:
            continue
        table.add_row(
            str(o.rank),
            escape(o.name) + (" (yours)" if o.is_current else ""),
            f"{o.tdp_w:g}",
            f"{o.peak_tflops:g} {o.precision}",
            _num(o.hours),
            _kwh(o.it_energy_kwh),
            _co2(o.co2e_g),
            style="bold" if o.is_current else None,
        )
    console.print(table)
    console.print(
        "  [dim]first order: the same device count, MFU and share of TDP on every "
        "accelerator; the catalogue's peak FLOP/s (dense; tensor cores where listed)[/dim]"
    )


def print_lifecycle(lines: Sequence[str], console: Any) -> None:
    """Training and inference over the model's life (``Lifecycle.lines()``)."""
    console.print("[bold]Lifecycle[/bold] (training + inference)")
    for line in lines:
        console.print(f"  {escape(line)}", highlight=False)
