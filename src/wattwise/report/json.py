"""The run report as JSON: a stable, documented shape for papers, model cards and tools.

:func:`build_report` turns a :class:`~wattwise.record.RunRecord` into the document that
``schema/run-report-1.json`` describes (docs/report-schema.md). The report is not the
record's internal dict: its names carry their units (``it_energy_kwh``, ``co2e_g``), its
times are UTC, and it says what it leaves out (embodied emissions). The record may change
with the code; the report changes only under the schema's version policy.

User-given strings (run name, tags, metric names, events) are kept verbatim: escaping is
the job of whatever renders them (the HTML and Markdown reports do).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from wattwise.embodied import EmbodiedInputs
from wattwise.record import DomainRecord, Footprint, PhaseRecord, RunRecord, TrainingRecord
from wattwise.units import J_PER_KWH

__all__ = ["REPORT_SCHEMA_ID", "REPORT_SCHEMA_VERSION", "build_report"]

REPORT_SCHEMA_VERSION = "1.3"
"""``major.minor``: additive changes bump the minor, breaking ones the major."""
REPORT_SCHEMA_ID = "https://wattwise.dev/schemas/run-report/1"
"""The ``$id`` of the schema for every 1.x report (``schema/run-report-1.json``)."""

SCI_STANDARD = "SCI (ISO/IEC 21031:2024), term M"
EMBODIED_REASON = (
    "not computed: wattwise measures operational energy only; the embodied term M of "
    "SCI (ISO/IEC 21031:2024) needs the hardware's manufacturing emissions, lifespan and "
    "the share reserved, which the run does not record (give them to include it)"
)


def _finite(value: float | None) -> float | None:
    """A float for JSON, None for a missing, NaN or infinite value."""
    if value is None:
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def _num(value: float) -> float:
    """A number the schema requires: non-finite values become 0 (never seen in practice)."""
    v = float(value)
    return v if math.isfinite(v) else 0.0


def _kwh(energy_j: float) -> float:
    return _num(energy_j) / J_PER_KWH


def _utc(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    aware = dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)
    return aware.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    """Any value as plain JSON (tuples to lists, non-finite floats to None)."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        return _finite(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def _by_component(values: Mapping[str, float]) -> dict[str, float]:
    return {str(k): _num(v) for k, v in values.items()}


def _energy(fp: Footprint) -> dict[str, Any]:
    """IT and facility energy of a footprint, with its range, in J and kWh."""
    pue = _num(fp.pue)
    return {
        "method": fp.method,
        "it_energy_j": _num(fp.energy_j),
        "it_energy_kwh": _kwh(fp.energy_j),
        "it_energy_low_j": _num(fp.energy_low_j),
        "it_energy_low_kwh": _kwh(fp.energy_low_j),
        "it_energy_high_j": _num(fp.energy_high_j),
        "it_energy_high_kwh": _kwh(fp.energy_high_j),
        "facility_energy_j": _num(fp.facility_energy_j),
        "facility_energy_kwh": _kwh(fp.facility_energy_j),
        "facility_energy_low_j": _num(fp.energy_low_j) * pue,
        "facility_energy_low_kwh": _kwh(fp.energy_low_j) * pue,
        "facility_energy_high_j": _num(fp.energy_high_j) * pue,
        "facility_energy_high_kwh": _kwh(fp.energy_high_j) * pue,
        "by_component_j": _by_component(fp.by_component_j),
        "by_component_kwh": {k: v / J_PER_KWH for k, v in _by_component(fp.by_component_j).items()},
    }


def _co2(fp: Footprint) -> dict[str, float]:
    return {
        "co2e_g": _num(fp.co2_g),
        "co2e_low_g": _num(fp.co2_low_g),
        "co2e_high_g": _num(fp.co2_high_g),
    }


def _figures(fp: Footprint) -> dict[str, Any]:
    """A phase's footprint in one scope."""
    return {
        "method": fp.method,
        "it_energy_j": _num(fp.energy_j),
        "it_energy_kwh": _kwh(fp.energy_j),
        "it_energy_low_j": _num(fp.energy_low_j),
        "it_energy_high_j": _num(fp.energy_high_j),
        "facility_energy_j": _num(fp.facility_energy_j),
        "facility_energy_kwh": _kwh(fp.facility_energy_j),
        **_co2(fp),
        "cost": _num(fp.cost),
        "by_component_j": _by_component(fp.by_component_j),
    }


def _domain(d: DomainRecord) -> dict[str, Any]:
    model = dict(d.model)
    estimate = None
    details: dict[str, Any] = {}
    if d.method == "estimated":
        name = model.pop("model", None)
        formula = model.pop("formula", None)
        estimate = {
            "model": None if name is None else str(name),
            "formula": None if formula is None else str(formula),
            "constants": _plain(model),
        }
    else:
        details = _plain(model)
    return {
        "key": d.key,
        "component": d.component,
        "label": d.label,
        "method": d.method,
        "reading": d.kind,
        "machine_energy_j": _num(d.energy_j),
        "machine_energy_kwh": _kwh(d.energy_j),
        "machine_energy_low_j": _num(d.energy_low_j),
        "machine_energy_high_j": _num(d.energy_high_j),
        "process_energy_j": _num(d.process_energy_j),
        "process_energy_kwh": _kwh(d.process_energy_j),
        "estimate": estimate,
        "sensor_details": details,
    }


def _components(record: RunRecord) -> list[dict[str, Any]]:
    """Per component: energy in both scopes, range and method from its domains."""
    names: list[str] = []
    for source in (
        [d.component for d in record.domains],
        list(record.machine.by_component_j),
        list(record.process.by_component_j),
    ):
        names += [n for n in source if n not in names]
    out = []
    for name in names:
        doms = [d for d in record.domains if d.component == name]
        machine_j = _num(record.machine.by_component_j.get(name, 0.0))
        process_j = _num(record.process.by_component_j.get(name, 0.0))
        methods = {d.method for d in doms if d.energy_j > 0 or d.process_energy_j > 0}
        method = "none" if not methods else (methods.pop() if len(methods) == 1 else "mixed")
        low = sum(_num(d.energy_low_j) for d in doms) if doms else machine_j
        high = sum(_num(d.energy_high_j) for d in doms) if doms else machine_j
        out.append(
            {
                "component": name,
                "method": method,
                "machine_energy_j": machine_j,
                "machine_energy_kwh": machine_j / J_PER_KWH,
                "machine_energy_low_j": low,
                "machine_energy_high_j": high,
                "process_energy_j": process_j,
                "process_energy_kwh": process_j / J_PER_KWH,
                "domains": [d.key for d in doms],
            }
        )
    return out


def _metrics(metrics: Mapping[str, float]) -> dict[str, float | None]:
    return {str(k): _finite(v) for k, v in metrics.items()}


def _phase(p: PhaseRecord, headline: str) -> dict[str, Any]:
    return {
        "name": p.name,
        "kind": p.kind,
        "index": p.index,
        "started_at": _utc(p.started_at),
        "ended_at": _utc(p.ended_at),
        "duration_s": _num(p.duration_s),
        "headline": _figures(p.machine if headline == "machine" else p.process),
        "machine": _figures(p.machine),
        "process": _figures(p.process),
        "metrics": _metrics(p.metrics),
    }


def _stop(t: TrainingRecord | None) -> dict[str, Any] | None:
    if t is None or (t.stop_kind is None and t.stop_reason is None):
        return None
    return {"kind": t.stop_kind, "reason": t.stop_reason}


def _training(t: TrainingRecord) -> dict[str, Any]:
    errors = t.forecast_errors()
    budget = t.budget
    saved = t.saved
    es = t.early_stopping
    return {
        "planned_epochs": t.planned_epochs,
        "epochs_completed": t.epochs,
        "epoch_offset": t.epoch_offset,
        "completed_plan": t.completed_plan,
        "steps": t.steps,
        "samples": t.samples,
        "tokens": t.tokens,
        "energy_per_sample_j": _finite(t.energy_per_sample_j),
        "energy_per_token_j": _finite(t.energy_per_token_j),
        "total_energy_j": _num(t.total_energy_j),
        "total_energy_kwh": _kwh(t.total_energy_j),
        "total_co2e_g": _num(t.total_co2_g),
        "total_cost": _num(t.total_cost),
        "total_duration_s": _num(t.total_duration_s),
        "carried": {
            "energy_j": _num(t.carried.get("energy_j", 0.0)),
            "co2e_g": _num(t.carried.get("co2_g", 0.0)),
            "cost": _num(t.carried.get("cost", 0.0)),
            "duration_s": _num(t.carried.get("duration_s", 0.0)),
        },
        "trained_energy_j": _num(t.trained_energy_j),
        "trained_energy_kwh": _kwh(t.trained_energy_j),
        "forecasts": [
            {
                "after_epochs": f.after_epochs,
                "planned_epochs": f.planned_epochs,
                "rule": f.rule,
                "energy_j": _num(f.energy_j),
                "energy_kwh": _kwh(f.energy_j),
                "energy_low_j": _num(f.energy_low_j),
                "energy_high_j": _num(f.energy_high_j),
                "co2e_g": _num(f.co2_g),
                "cost": _num(f.cost),
                "duration_s": _num(f.duration_s),
                "energy_error_relative": _finite(errors.get(f.after_epochs)),
            }
            for f in t.forecasts
        ],
        "budget": {
            "energy_kwh": _finite(budget.get("kwh")),
            "co2e_g": _finite(budget.get("gco2e")),
            "cost": _finite(budget.get("cost")),
            "warning": t.budget_warning,
        },
        "stop": _stop(t),
        "early_stopping": None
        if es is None
        else {
            "monitor": str(es.get("monitor", "")),
            "mode": str(es.get("mode", "")),
            "patience": int(es.get("patience", 0)),
            "min_delta": _num(es.get("min_delta", 0.0)),
            "best": _finite(es.get("best")),
            "best_epoch": es.get("best_epoch"),
            "stopped_epoch": es.get("stopped_epoch"),
        },
        "saved": None
        if saved is None
        else {
            "basis": "forecast",
            "planned_epochs": int(saved.get("planned_epochs", 0)),
            "planned_energy_j": _num(saved.get("planned_energy_j", 0.0)),
            "planned_co2e_g": _num(saved.get("planned_co2_g", 0.0)),
            "planned_cost": _num(saved.get("planned_cost", 0.0)),
            "saved_energy_j": _num(saved.get("saved_energy_j", 0.0)),
            "saved_energy_kwh": _kwh(saved.get("saved_energy_j", 0.0)),
            "saved_co2e_g": _num(saved.get("saved_co2_g", 0.0)),
            "saved_cost": _num(saved.get("saved_cost", 0.0)),
        },
        "steps_recorded": len(t.step_table),
    }


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _embodied(embodied: EmbodiedInputs | None, duration_s: float, headline: str) -> dict[str, Any]:
    if embodied is None:
        return {
            "included": False,
            "co2e_g": None,
            "standard": SCI_STANDARD,
            "reason": EMBODIED_REASON,
            "inputs": None,
        }
    return {
        "included": True,
        "co2e_g": _num(embodied.co2e_g(duration_s)),
        "standard": SCI_STANDARD,
        "reason": embodied.formula(duration_s, headline),
        "inputs": embodied.as_dict(duration_s),
    }


def build_report(
    record: RunRecord,
    *,
    generated_at: datetime | None = None,
    embodied: EmbodiedInputs | None = None,
) -> dict[str, Any]:
    """The run report of ``record`` (schema :data:`REPORT_SCHEMA_VERSION`), plain JSON.

    Args:
        record: a finished, interrupted or running record.
        generated_at: when the report is made (default: now), for reproducible output.
        embodied: the hardware's manufacturing emissions, lifespan and share, to report
            SCI's embodied term beside (never inside) the operational emissions.
    """
    r = record
    c = r.carbon
    h = r.host
    t = r.training
    fp = r.footprint
    now = generated_at or datetime.now(timezone.utc)
    constant = c.intensity_kind in ("static", "user")
    return {
        "schema": f"https://wattwise.dev/schemas/run-report/{REPORT_SCHEMA_VERSION}",
        "generated_at": _utc(now),
        "run": {
            "id": r.id,
            "name": r.name,
            "status": r.status,
            "stop": _stop(t),
            "command": r.command,
            "tags": {str(k): str(v) for k, v in r.tags.items()},
            "code": {
                "git_commit": r.code.get("git_commit"),
                "git_branch": r.code.get("git_branch"),
            },
            "pid": _int_or_none(r.pid),
            "exit_code": _int_or_none(r.exit_code),
            "record_version": int(r.version),
        },
        "host": {
            "hostname": h.hostname,
            "os": h.os,
            "cpu_model": h.cpu_model,
            "logical_cpus": int(h.logical_cpus),
            "memory_bytes": int(h.memory_bytes),
            "virtualised": bool(h.virtualised),
            "gpus": list(h.gpus),
            "gpu_count": len(h.gpus),
            "container": {
                "cpu_quota_cpus": _finite(h.cpu_quota),
                "memory_limit_bytes": _int_or_none(h.memory_limit_bytes),
            },
        },
        "location": {
            "zone": c.zone,
            "zone_name": c.zone_name,
            "zone_chosen_by": c.zone_how,
            "zone_detail": c.zone_detail,
            "pue": _num(c.pue),
            "pue_source": c.pue_source,
        },
        "when": {
            "started_at": _utc(r.started_at),
            "ended_at": _utc(r.ended_at),
            "updated_at": _utc(r.updated_at),
            "duration_s": _num(r.duration_s),
            "sampling_interval_s": _num(r.interval_s),
            "checkpoint_interval_s": _num(r.checkpoint_s),
        },
        "energy": {
            "headline_scope": r.headline,
            "pue": _num(fp.pue),
            **_energy(fp),
            "machine": _energy(r.machine),
            "process": _energy(r.process),
            "process_cpu_s": _num(r.process_cpu_s),
            "components": _components(r),
            "domains": [_domain(d) for d in r.domains],
        },
        "intensity": {
            "value_g_per_kwh": _num(c.intensity_g_per_kwh),
            "unit": "gCO2e/kWh",
            "zone": c.zone,
            "year": c.intensity_year,
            "source": c.intensity_source,
            "kind": c.intensity_kind,
            "weighting": "constant" if constant else "energy-weighted mean over the run",
        },
        "emissions": {
            "scope": "operational",
            "headline_scope": r.headline,
            **_co2(fp),
            "machine": _co2(r.machine),
            "process": _co2(r.process),
        },
        "embodied": _embodied(embodied, r.duration_s, r.headline),
        "cost": {
            "headline_scope": r.headline,
            "cost": _num(fp.cost),
            "currency": c.currency,
            "price_per_kwh": _num(c.price_per_kwh),
            "price_source": c.price_source,
            "machine_cost": _num(r.machine.cost),
            "process_cost": _num(r.process.cost),
        },
        "phases": [_phase(p, r.headline) for p in r.phases],
        "training": None if t is None else _training(t),
        "events": list(r.events),
        "profiles": [_plain(p) for p in r.profiles],
        "software": {
            "wattwise": r.wattwise_version,
            "python": h.python,
            "os": h.os,
            "frameworks": {str(k): str(v) for k, v in r.software.items()},
        },
    }
