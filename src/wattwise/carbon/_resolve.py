"""Choosing a run's zone: the user's choice, else a documented guess, else the world average."""

from __future__ import annotations

import csv
import functools
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from wattwise.carbon._zones import Zone, ZoneTable, load_zones, read_data_file

__all__ = ["CLOUD_REGION_VARIABLES", "ZoneChoice", "ZoneHow", "resolve_zone", "timezone_country"]

ZoneHow = Literal["argument", "environment", "config", "cloud-region", "timezone", "world-average"]
"""How a zone was chosen."""

CLOUD_REGION_VARIABLES: tuple[tuple[str, str], ...] = (
    ("AWS_REGION", "aws"),
    ("AWS_DEFAULT_REGION", "aws"),
    ("GOOGLE_CLOUD_REGION", "gcp"),
    ("CLOUDSDK_COMPUTE_REGION", "gcp"),
    ("FUNCTION_REGION", "gcp"),
    ("AZURE_REGION", "azure"),
    ("REGION_NAME", "azure"),
)
"""Environment variables read, in order, as a cloud-region hint: (variable, provider)."""

_GIVEN: dict[str, tuple[ZoneHow, str]] = {
    "argument": ("argument", "given as an argument"),
    "environment": ("environment", "from the environment (WATTWISE_ZONE)"),
    "config": ("config", "from the config file"),
}
_ADVICE = "set WATTWISE_ZONE (or --zone) to be sure"


@dataclass(frozen=True)
class ZoneChoice:
    """The zone a run uses, how it was chosen, and that explanation in words."""

    zone: Zone
    how: ZoneHow
    detail: str


def resolve_zone(
    zone: str | None,
    *,
    source: str = "argument",
    environ: Mapping[str, str] | None = None,
    etc_root: str = "/etc",
    tz: str | None = None,
) -> ZoneChoice:
    """Choose the zone for a run. Never touches the network.

    1. ``zone``, when given, is looked up (:class:`~wattwise.exceptions.UnknownZoneError`
       if unknown); ``how`` is ``source``: ``argument``, ``environment`` or ``config``.
    2. A cloud-region hint from the environment, first set of: ``AWS_REGION``,
       ``AWS_DEFAULT_REGION`` (AWS); ``GOOGLE_CLOUD_REGION``, ``CLOUDSDK_COMPUTE_REGION``,
       ``FUNCTION_REGION`` (Google Cloud); ``AZURE_REGION``, ``REGION_NAME`` (Azure).
       A region missing from the table is noted in ``detail`` and the next step tried.
       No metadata endpoint is ever probed, so a laptop with ``AWS_REGION`` set counts
       as that region.
    3. The machine's timezone: ``tz``, else ``$TZ``, else ``<etc_root>/timezone``, else
       the target of the ``<etc_root>/localtime`` link, mapped to its country.
    4. The world average.
    """
    table = load_zones()
    env = os.environ if environ is None else environ
    if zone is not None and zone.strip():
        how, words = _GIVEN.get(source, _GIVEN["argument"])
        return ZoneChoice(table.get(zone), how, f"zone {zone.strip()!r} {words}")

    notes: list[str] = []
    choice = _from_cloud_env(table, env, notes) or _from_timezone(
        table, env, Path(etc_root), tz, notes
    )
    if choice is not None:
        return choice
    why = "; ".join(notes) if notes else "no cloud region or timezone to guess from"
    return ZoneChoice(table.world(), "world-average", f"world average used ({why}); {_ADVICE}")


def _from_cloud_env(
    table: ZoneTable, env: Mapping[str, str], notes: list[str]
) -> ZoneChoice | None:
    for variable, provider in CLOUD_REGION_VARIABLES:
        value = env.get(variable, "").strip()
        if not value:
            continue
        region = value.lower().replace(" ", "") if provider == "azure" else value.lower()
        zone_id = f"{provider}:{region}"
        if zone_id in table:
            zone = table.get(zone_id)
            return ZoneChoice(zone, "cloud-region", f"guessed from {variable}={value}; {_ADVICE}")
        notes.append(f"{variable}={value} is not a known {provider} region")
    return None


def _from_timezone(
    table: ZoneTable, env: Mapping[str, str], etc: Path, tz: str | None, notes: list[str]
) -> ZoneChoice | None:
    found = _machine_timezone(env, etc, tz)
    if found is None:
        return None
    name, where = found
    iso3 = timezone_country(name)
    if iso3 is None or iso3 not in table:
        notes.append(f"timezone {name} ({where}) maps to no zone in the table")
        return None
    earlier = "".join(f"{note}; " for note in notes)
    detail = f"guessed from timezone {name} ({where}); {earlier}{_ADVICE}"
    return ZoneChoice(table.get(iso3), "timezone", detail)


def _machine_timezone(env: Mapping[str, str], etc: Path, tz: str | None) -> tuple[str, str] | None:
    """The IANA timezone name and where it was read, or None."""
    if tz:
        return _tz_name(tz), "tz argument"
    if env.get("TZ", "").strip():
        return _tz_name(env["TZ"]), "TZ"
    try:
        text = (etc / "timezone").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        text = ""
    if text:
        return _tz_name(text.splitlines()[0]), str(etc / "timezone")
    try:
        target = os.readlink(etc / "localtime")
    except OSError:
        return None
    return _tz_name(target), str(etc / "localtime")


def _tz_name(text: str) -> str:
    """``Europe/Paris`` from ``:Europe/Paris``, ``/usr/share/zoneinfo/Europe/Paris``, ..."""
    text = text.strip().lstrip(":")
    if "zoneinfo/" in text:
        text = text.rsplit("zoneinfo/", 1)[1]
        for prefix in ("posix/", "right/"):
            text = text.removeprefix(prefix)
    return text


@functools.lru_cache(maxsize=1)
def _tz_countries() -> dict[str, str]:
    rows = csv.DictReader(io.StringIO(read_data_file("tz_countries.csv")))
    return {row["timezone"]: row["country_iso3"] for row in rows}


def timezone_country(name: str) -> str | None:
    """The ISO3 country of an IANA timezone name (``Europe/Paris`` → ``FRA``), or None."""
    return _tz_countries().get(_tz_name(name))
