"""The planner: the same job in other zones and cloud regions, or on other accelerators.

``compare_regions`` keeps the job's IT energy and swaps the zone: each zone's annual
intensity and, for a cloud region, its own PUE (else its provider's fleet figure), for
any other zone the estimate's PUE. ``compare_hardware`` keeps the job's training compute
(FLOPs) and device count and swaps the accelerator: hours = FLOPs / (devices × peak
FLOP/s × MFU), energy = devices × TDP × utilisation × hours, so it ranks accelerators by
peak FLOP/s per watt at one MFU, a first-order comparison (real MFU differs between
accelerators and with the model).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wattwise.catalogue import HardwareEntry, catalogue
from wattwise.estimating import Estimate, Precision, estimate
from wattwise.exceptions import ConfigError

if TYPE_CHECKING:
    from wattwise.carbon import ZoneTable

__all__ = ["HardwareOption", "RegionOption", "compare_hardware", "compare_regions"]

REGION_KINDS = ("cloud", "country", "us_state", "all")


@dataclass(frozen=True)
class RegionOption:
    """The job in one zone."""

    rank: int
    zone: str
    zone_name: str
    kind: str
    provider: str
    intensity_g_per_kwh: float
    year: int
    pue: float
    pue_source: str
    facility_energy_kwh: float
    co2e_g: float
    co2e_low_g: float
    co2e_high_g: float
    is_current: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class HardwareOption:
    """The job's FLOPs on one accelerator."""

    rank: int
    name: str
    kind: str
    tdp_w: float
    peak_tflops: float
    precision: str
    hours: float
    it_energy_kwh: float
    it_energy_low_kwh: float
    it_energy_high_kwh: float
    co2e_g: float
    is_current: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return dict(self.__dict__)


def compare_regions(
    est: Estimate,
    *,
    zones: Sequence[str] | None = None,
    kind: str = "cloud",
    provider: str | None = None,
    table: ZoneTable | None = None,
) -> list[RegionOption]:
    """Every candidate zone for the job, lowest emissions first (ties by zone id).

    ``zones`` names the candidates (ids or names, as ``--zone`` takes them); else
    ``kind`` picks them: ``cloud`` (cloud regions, optionally of one ``provider``),
    ``country``, ``us_state`` or ``all``. The estimate's own zone is always included
    and flagged ``is_current``. A zone's intensity is its annual average; a user-given
    intensity applies only to the estimate's own zone. ``table`` replaces the packaged
    zone table.
    """
    from wattwise.carbon import PROVIDER_PUE, load_zones

    table = load_zones() if table is None else table
    if zones:
        candidates = [table.get(z) for z in zones]
    else:
        if kind not in REGION_KINDS:
            raise ConfigError(f"kind must be one of {', '.join(REGION_KINDS)}, not {kind!r}")
        wanted = {"cloud": "cloud_region"}.get(kind, kind)
        candidates = [
            z
            for z in table
            if ((kind == "all" and z.kind != "world") or z.kind == wanted)
            and (provider is None or z.provider == provider.lower())
        ]
        if not candidates:
            raise ConfigError(f"no {kind} zones{f' of provider {provider!r}' if provider else ''}")
    current = est.carbon.zone
    options: list[tuple[float, str, dict[str, Any]]] = []
    seen: set[str] = {current}
    for zone in candidates:
        if zone.id in seen:
            continue
        seen.add(zone.id)
        if zone.kind == "cloud_region" and zone.pue is not None:
            pue, pue_source = zone.pue, f"site PUE: {zone.pue_source or zone.source}"
        elif zone.kind == "cloud_region" and zone.provider in PROVIDER_PUE:
            pue, pue_source = PROVIDER_PUE[zone.provider].value, PROVIDER_PUE[zone.provider].source
        else:
            pue, pue_source = est.carbon.pue, f"as the estimate: {est.carbon.pue_source}"
        row = _region_row(est, pue, pue_source, zone.intensity_g_per_kwh, zone.year, False)
        row.update(zone=zone.id, zone_name=zone.name, kind=zone.kind, provider=zone.provider)
        options.append((row["co2e_g"], zone.id, row))
    # the estimate's own zone, with its own intensity and PUE, wherever it ranks
    c = est.carbon
    own = table.get(current) if current in table else None
    row = _region_row(est, c.pue, c.pue_source, c.intensity_g_per_kwh, own.year if own else 0, True)
    row.update(
        zone=current,
        zone_name=c.zone_name,
        kind=own.kind if own else "",
        provider=own.provider if own else "",
    )
    options.append((row["co2e_g"], current, row))
    options.sort(key=lambda item: (item[0], item[1]))
    return [RegionOption(rank=i, **row) for i, (_, _, row) in enumerate(options, start=1)]


def compare_hardware(
    est: Estimate,
    *,
    names: Sequence[str] | None = None,
    entries: Iterable[HardwareEntry] | None = None,
    precision: Precision | None = None,
) -> list[HardwareOption]:
    """Accelerators (GPUs and TPUs with a TDP and a peak FLOP/s) for the estimate's FLOPs,
    lowest energy first (ties by name).

    The estimate must know its FLOPs: one from training FLOPs, or from hardware and hours
    (its FLOPs are then devices × peak × MFU × hours, at the default MFU when none was
    given). ``names`` restricts the candidates (looked up fuzzily); the same device
    count, MFU, utilisation and host power apply to every candidate.
    """
    from wattwise.catalogue import lookup
    from wattwise.estimating import MFU, peak_tflops

    if est.hardware is None:
        raise ConfigError("comparing hardware needs an estimate from hardware or FLOPs")
    want: Precision = precision or est.precision or "fp16"
    mfu = est.mfu if est.mfu is not None else MFU.central
    flops = est.flops
    if flops is None:
        peak, _ = peak_tflops(est.hardware, want)
        flops = est.count * peak * 1e12 * mfu * est.hours * 3600
    pool = list(entries) if entries is not None else list(catalogue())
    if names:
        candidates = [lookup(n, kind=("gpu", "tpu"), entries=pool) for n in names]
    else:
        candidates = [e for e in pool if e.kind in ("gpu", "tpu")]
    candidates = [e for e in candidates if e.tdp_w and (e.tflops_fp16 or e.tflops_fp32)]
    if est.hardware.name not in {e.name for e in candidates}:
        candidates.append(est.hardware)
    rows: list[tuple[float, str, dict[str, Any]]] = []
    seen: set[str] = set()
    for entry in candidates:
        if entry.name in seen:
            continue
        seen.add(entry.name)
        each = estimate(
            hardware=entry,
            count=est.count,
            flops=flops,
            mfu=mfu if "mfu" in est.given or est.flops is None else None,
            precision=want,
            utilisation=est.utilisation if "utilisation" in est.given else None,
            host_power_w=est.host_power_w,
            carbon=est.carbon,
        )
        peak, used = peak_tflops(entry, want)
        row = {
            "name": entry.name,
            "kind": entry.kind,
            "tdp_w": float(entry.tdp_w or 0.0),
            "peak_tflops": peak,
            "precision": used,
            "hours": each.hours,
            "it_energy_kwh": each.it_energy_kwh,
            "it_energy_low_kwh": each.it_energy_low_kwh,
            "it_energy_high_kwh": each.it_energy_high_kwh,
            "co2e_g": each.co2e_g,
            "is_current": entry.name == est.hardware.name,
        }
        rows.append((each.it_energy_kwh, entry.name.casefold(), row))
    rows.sort(key=lambda item: (item[0], item[1]))
    return [HardwareOption(rank=i, **row) for i, (_, _, row) in enumerate(rows, start=1)]


def _region_row(
    est: Estimate, pue: float, pue_source: str, g: float, year: int, is_current: bool
) -> dict[str, Any]:
    facility = est.it_energy_kwh * pue
    return {
        "intensity_g_per_kwh": g,
        "year": year,
        "pue": pue,
        "pue_source": pue_source,
        "facility_energy_kwh": facility,
        "co2e_g": facility * g,
        "co2e_low_g": est.it_energy_low_kwh * pue * g,
        "co2e_high_g": est.it_energy_high_kwh * pue * g,
        "is_current": is_current,
    }
