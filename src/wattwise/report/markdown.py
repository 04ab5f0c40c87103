"""An "Energy and carbon" section in Markdown, for a model card or a paper's appendix.

In the spirit of Strubell et al. (2019) and Henderson et al. (2020): what ran, where, how
it was measured (measured or estimated, per component, with the model), the energy in kWh
at the IT equipment and the facility (PUE), the intensity with its zone, year and source,
the emissions with their range, and what is *not* included (embodied emissions). Every
user-given string is escaped, so a run name cannot inject Markdown or HTML.
"""

from __future__ import annotations

import re

from wattwise.embodied import EmbodiedInputs
from wattwise.equivalents import equivalents, household_and_flight
from wattwise.record import DomainRecord, RunRecord
from wattwise.summary import fmt_duration

__all__ = ["markdown_report", "md_escape"]

# what can start markup inline: emphasis, code, links/images, HTML, table cells, strike
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def md_escape(text: str) -> str:
    """Escape Markdown (and inline HTML) in a user-given string; newlines become spaces."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _kwh(energy_j: float) -> str:
    kwh = energy_j / 3.6e6
    return f"{kwh:.3g} kWh"


def _method(d: DomainRecord) -> str:
    if d.method == "measured":
        return f"measured ({md_escape(d.kind)} from {md_escape(d.key.split(':')[0])})"
    model = str(d.model.get("model", "the estimation model"))
    formula = d.model.get("formula")
    return f"estimated ({md_escape(model)}{': ' + md_escape(str(formula)) if formula else ''})"


def markdown_report(
    record: RunRecord,
    *,
    heading: str = "## Energy and carbon",
    embodied: EmbodiedInputs | None = None,
) -> str:
    """The run as a Markdown section (GitHub-flavoured tables).

    ``embodied`` (the hardware's manufacturing emissions) adds SCI's embodied term as its
    own row; without it the section says embodied emissions are not included.
    """
    r = record
    fp = r.footprint
    c = r.carbon
    h = r.host
    scope = "the whole machine" if r.headline == "machine" else "the tracked processes' share"
    end = r.ended_at.strftime("%Y-%m-%d %H:%M UTC") if r.ended_at else "still running"
    gpus = ", ".join(md_escape(g) for g in h.gpus) if h.gpus else "no GPU counted"
    # no code span: escapes do not work inside one, and a command may hold backticks
    what = md_escape(r.command) if r.command else md_escape(r.name)
    status: str = r.status
    if r.training is not None and r.training.stop_kind:
        status += f" ({md_escape(r.training.stop_kind.replace('_', ' '))})"
    lines = [
        heading,
        "",
        f"{what} (run {r.id[:8]}, {status}) ran for {fmt_duration(r.duration_s)}, from "
        f"{r.started_at.strftime('%Y-%m-%d %H:%M UTC')} to {end}, on "
        f"{md_escape(h.cpu_model)} ({h.logical_cpus} logical CPUs, "
        f"{h.memory_bytes / 2**30:.0f} GiB RAM, {gpus}). It used **{_kwh(fp.energy_j)}** of "
        f"electricity at the IT equipment ({scope}; {fp.method}), "
        f"{_kwh(fp.facility_energy_j)} at the facility with a PUE of {c.pue:g}, and emitted "
        f"**{fp.co2_g:.3g} gCO2e** at {c.intensity_g_per_kwh:.0f} gCO2e/kWh.",
        "",
        "| | |",
        "| --- | --- |",
        f"| Energy, IT | {_kwh(fp.energy_j)} ({fp.energy_j:,.0f} J), range "
        f"{_kwh(fp.energy_low_j)} – {_kwh(fp.energy_high_j)} |",
        "| Energy by component | "
        + ", ".join(f"{md_escape(k)} {_kwh(v)}" for k, v in sorted(fp.by_component_j.items()))
        + " |",
        "| How it was obtained | "
        + "; ".join(f"{md_escape(d.label)}: {_method(d)}" for d in r.domains)
        + " |",
        f"| Facility energy | {_kwh(fp.facility_energy_j)} (PUE {c.pue:g}: "
        f"{md_escape(c.pue_source)}) |",
        f"| Carbon intensity | {c.intensity_g_per_kwh:.0f} gCO2e/kWh, {md_escape(c.zone)} "
        f"({md_escape(c.zone_name)}), {c.intensity_year or 'year n/a'}, "
        f"{md_escape(c.intensity_kind)}; source: {md_escape(c.intensity_source)} |",
        f"| Emissions (operational, E × I) | {fp.co2_g:.3g} gCO2e, range "
        f"{fp.co2_low_g:.3g} – {fp.co2_high_g:.3g} |",
        "| Embodied emissions (SCI's M) | "
        + (
            f"{embodied.co2e_g(r.duration_s):.3g} gCO2e, not in the figure above: "
            f"{md_escape(embodied.formula(r.duration_s, r.headline))}; "
            f"TE: {md_escape(embodied.source)} |"
            if embodied is not None
            else "not included: no embodied figures for this hardware |"
        ),
        f"| Cost | {fp.cost:.3g} {md_escape(c.currency)} at {c.price_per_kwh:g} "
        f"{md_escape(c.currency)}/kWh ({md_escape(c.price_source)}) |",
    ]
    t = r.training
    if t is not None:
        planned = f" of {t.planned_epochs} planned" if t.planned_epochs else ""
        row = f"| Training | {t.epoch_offset + t.epochs} epochs{planned}, {t.steps:,} steps"
        if t.samples:
            row += f", {t.samples:,} samples"
        if t.energy_per_sample_j is not None:
            row += f", {t.energy_per_sample_j:.3g} J per sample"
        if t.energy_per_token_j is not None:
            row += f", {t.energy_per_token_j:.3g} J per token"
        lines.append(row + " |")
        errors = t.forecast_errors()
        if t.forecasts:
            first = t.forecasts[0]
            score = (
                f", {errors[first.after_epochs]:+.1%} against the actual"
                if first.after_epochs in errors
                else ""
            )
            lines.append(
                f"| Forecast after epoch {first.after_epochs} | {_kwh(first.energy_j)} for "
                f"{first.planned_epochs} epochs{score} |"
            )
        if t.stop_reason:
            lines.append(f"| Stopped | {md_escape(t.stop_reason)} |")
    eq = [*equivalents(fp.energy_j, fp.co2_g), *household_and_flight(fp.energy_j, fp.co2_g)]
    lines.append("| About as much as | " + "; ".join(str(e) for e in eq) + " |")
    lines += [
        "",
        f"Measured with wattwise {md_escape(r.wattwise_version)}; every constant and its "
        "source is in wattwise's docs/methodology.md. Equivalents: "
        + "; ".join(f"{e.unit}: {md_escape(e.assumption)}" for e in eq)
        + ".",
        "",
    ]
    return "\n".join(lines)
