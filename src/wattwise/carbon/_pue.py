"""Power usage effectiveness: the user's figure, the site's, a provider's, or a default."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from wattwise.carbon._resolve import CLOUD_REGION_VARIABLES, ZoneChoice
from wattwise.exceptions import ConfigError

__all__ = [
    "BATCH_JOB_VARIABLES",
    "DATACENTER_PUE",
    "LOCAL_PUE",
    "PROVIDER_PUE",
    "PueChoice",
    "PueSetting",
    "resolve_pue",
]

PueSetting = Literal["auto", "local", "datacenter", "cloud"]
"""Where the run's machine is: ``auto`` guesses from the zone and the environment."""


@dataclass(frozen=True)
class PueChoice:
    """The PUE a run uses and where that figure comes from."""

    value: float
    source: str


PROVIDER_PUE: Mapping[str, PueChoice] = MappingProxyType(
    {
        "gcp": PueChoice(
            1.10,
            "Google fleet average PUE 1.10 in 2023 (Google 2024 Environmental Report: "
            "https://blog.google/outreach-initiatives/sustainability/2024-environmental-report/)",
        ),
        "aws": PueChoice(
            1.15,
            "AWS global PUE 1.15 in 2023, first published at re:Invent 2024 "
            "(https://aws.amazon.com/sustainability/data-centers/; "
            "https://www.datacenterdynamics.com/en/news/aws-global-data-centers-achieved-pue-of-115-in-2023/)",
        ),
        "azure": PueChoice(
            1.18,
            "Microsoft fleet average PUE ~1.18 (newest designs ~1.12) as reported by "
            "DatacenterDynamics in 2024; not confirmed from a Microsoft primary source "
            "(see https://datacenters.microsoft.com/sustainability/efficiency/)",
        ),
    }
)
"""Fleet-wide PUE of the large cloud providers, used when a region has no figure."""

DATACENTER_PUE = PueChoice(
    1.58,
    "data-centre industry average PUE 1.58 in 2023 (Uptime Institute Global Data Center "
    "Survey: https://intelligence.uptimeinstitute.com/resource/"
    "large-data-centers-are-mostly-more-efficient-analysis-confirms)",
)
"""Used for ``setting="datacenter"`` and for batch jobs (SLURM, PBS, LSF)."""

LOCAL_PUE = PueChoice(1.0, "own machine: no facility overhead counted")
"""Used for a local machine."""

BATCH_JOB_VARIABLES: tuple[str, ...] = ("SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID")
"""Environment variables that mark a batch job on a cluster (so: in a data centre)."""


def resolve_pue(
    pue: float | None,
    *,
    zone_choice: ZoneChoice,
    setting: PueSetting = "auto",
    environ: Mapping[str, str] | None = None,
) -> PueChoice:
    """Choose the PUE for a run.

    1. ``pue`` when given (1.0-3.0, else :class:`~wattwise.exceptions.ConfigError`).
    2. ``setting="local"``: 1.0.
    3. A cloud zone's own published PUE, else its provider's fleet figure
       (:data:`PROVIDER_PUE`); with ``setting="cloud"`` and a non-cloud zone, the
       provider named by a cloud-region variable in the environment.
    4. ``setting="datacenter"`` or ``"cloud"`` (provider unknown), or ``auto`` inside a
       batch job (:data:`BATCH_JOB_VARIABLES`): the industry average (:data:`DATACENTER_PUE`).
    5. Otherwise 1.0, an own machine (:data:`LOCAL_PUE`).
    """
    if pue is not None:
        if not (math.isfinite(pue) and 1.0 <= pue <= 3.0):
            raise ConfigError(f"invalid pue={pue!r}: PUE must be between 1.0 and 3.0")
        return PueChoice(float(pue), "user")
    if setting not in ("auto", "local", "datacenter", "cloud"):
        raise ConfigError(
            f"invalid setting={setting!r}: must be one of auto, local, datacenter, cloud"
        )
    if setting == "local":
        return LOCAL_PUE
    env = os.environ if environ is None else environ
    zone = zone_choice.zone
    if zone.kind == "cloud_region":
        if zone.pue is not None:
            return PueChoice(zone.pue, f"{zone.id} site PUE: {zone.pue_source or zone.source}")
        if zone.provider in PROVIDER_PUE:
            return PROVIDER_PUE[zone.provider]
    elif setting == "cloud":
        for variable, provider in CLOUD_REGION_VARIABLES:
            if env.get(variable, "").strip():
                return PROVIDER_PUE[provider]
    if zone.kind == "cloud_region":
        return _with_reason(f"no PUE published here for {zone.provider}")
    if setting != "auto":
        return _with_reason(f"setting={setting}")
    for variable in BATCH_JOB_VARIABLES:
        if env.get(variable, "").strip():
            return _with_reason(f"batch job ({variable} is set)")
    return LOCAL_PUE


def _with_reason(reason: str) -> PueChoice:
    return PueChoice(DATACENTER_PUE.value, f"{reason}: {DATACENTER_PUE.source}")
