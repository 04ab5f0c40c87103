"""The packaged zone table: countries, US states, cloud regions and the world average."""

from __future__ import annotations

import csv
import difflib
import functools
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Literal, cast

from wattwise.exceptions import UnknownZoneError

__all__ = ["Zone", "ZoneKind", "ZoneTable", "load_zones"]

ZoneKind = Literal["country", "us_state", "cloud_region", "world"]
"""What a zone is."""

_KINDS: tuple[ZoneKind, ...] = ("country", "us_state", "cloud_region", "world")


@dataclass(frozen=True)
class Zone:
    """An electricity zone and its annual-average grid carbon intensity.

    Attributes:
        id: ``FRA`` (ISO3), ``US-CA``, ``aws:us-east-1``, ``gcp:europe-west1``, ``WORLD``.
        name: English name.
        kind: ``country``, ``us_state``, ``cloud_region`` or ``world``.
        provider: cloud provider (``aws``, ``gcp``, ``azure``, ...); empty otherwise.
        country_iso3: ISO 3166-1 alpha-3 code of the zone's country; empty for WORLD.
        intensity_g_per_kwh: grid carbon intensity, gCO2e/kWh (CO2 only where the
            source says so).
        year: the year the figure describes (or, for undated compilations, was compiled).
        source: short name and URL of the figure's source.
        pue: the site's power usage effectiveness, when published.
        pue_source: where ``pue`` comes from.
        iso2: ISO 3166-1 alpha-2 code of the zone's country (Electricity Maps zone codes).
        aliases: other names a lookup accepts (official names, bare cloud region ids).
    """

    id: str
    name: str
    kind: ZoneKind
    provider: str
    country_iso3: str
    intensity_g_per_kwh: float
    year: int
    source: str
    pue: float | None
    pue_source: str | None
    iso2: str = ""
    aliases: tuple[str, ...] = ()


class ZoneTable:
    """Zones with case-insensitive lookup by id, ISO2, ISO3, English name or alias."""

    def __init__(self, zones: Sequence[Zone]) -> None:
        self._zones = tuple(zones)
        index: dict[str, Zone] = {}
        # Earlier keys win: ids, then country ISO2 codes, then names, then aliases.
        layers: list[list[tuple[str, Zone]]] = [
            [(z.id, z) for z in self._zones],
            [(z.iso2, z) for z in self._zones if z.kind == "country"],
            [(z.name, z) for z in self._zones],
            [(alias, z) for z in self._zones for alias in z.aliases],
        ]
        for layer in layers:
            for key, zone in layer:
                if key:
                    index.setdefault(key.casefold(), zone)
        self._index = index
        worlds = [z for z in self._zones if z.kind == "world"]
        if len(worlds) != 1:
            raise ValueError(f"the zone table needs one world zone, found {len(worlds)}")
        self._world = worlds[0]

    def __len__(self) -> int:
        return len(self._zones)

    def __iter__(self) -> Iterator[Zone]:
        return iter(self._zones)

    def __contains__(self, query: object) -> bool:
        return isinstance(query, str) and query.strip().casefold() in self._index

    def get(self, query: str) -> Zone:
        """The zone named by ``query``; :class:`UnknownZoneError` with suggestions if none."""
        zone = self._index.get(query.strip().casefold())
        if zone is None:
            raise UnknownZoneError(query, self._suggest(query))
        return zone

    def world(self) -> Zone:
        """The world-average zone."""
        return self._world

    def search(self, query: str | None, kind: str | None = None) -> list[Zone]:
        """Zones whose id, name, country or alias contains ``query``; else the closest.

        ``None`` or an empty query lists every zone (of ``kind``, when given).
        """
        if kind is not None and kind not in _KINDS:
            return []
        pool = [z for z in self._zones if kind is None or z.kind == kind]
        needle = (query or "").strip().casefold()
        if not needle:
            return pool
        found = [z for z in pool if any(needle in text.casefold() for text in _texts(z))]
        if found:
            return found
        keys = {k: z for k, z in self._index.items() if z in pool}
        close = difflib.get_close_matches(needle, list(keys), n=10, cutoff=0.6)
        return _unique(keys[k] for k in close)

    def _suggest(self, query: str) -> list[str]:
        close = difflib.get_close_matches(
            query.strip().casefold(), list(self._index), n=10, cutoff=0.6
        )
        return [z.id for z in _unique(self._index[k] for k in close)][:3]


def _texts(zone: Zone) -> tuple[str, ...]:
    return (zone.id, zone.name, zone.country_iso3, zone.iso2, *zone.aliases)


def _unique(zones: Iterator[Zone] | list[Zone]) -> list[Zone]:
    seen: set[str] = set()
    out = []
    for zone in zones:
        if zone.id not in seen:
            seen.add(zone.id)
            out.append(zone)
    return out


def _optional_float(text: str) -> float | None:
    return float(text) if text else None


def parse_zones(text: str) -> list[Zone]:
    """Zones from the text of ``zones.csv``."""
    zones = []
    for row in csv.DictReader(io.StringIO(text)):
        kind = row["kind"]
        if kind not in _KINDS:
            raise ValueError(f"zones.csv: zone {row['id']!r} has unknown kind {kind!r}")
        zones.append(
            Zone(
                id=row["id"],
                name=row["name"],
                kind=cast(ZoneKind, kind),  # checked against _KINDS above
                provider=row["provider"],
                country_iso3=row["country_iso3"],
                intensity_g_per_kwh=float(row["intensity_g_per_kwh"]),
                year=int(row["year"]),
                source=row["source"],
                pue=_optional_float(row["pue"]),
                pue_source=row["pue_source"] or None,
                iso2=row["iso2"],
                aliases=tuple(a for a in row["aliases"].split(";") if a),
            )
        )
    return zones


def read_data_file(name: str) -> str:
    """The text of a packaged data file (``wattwise/data/<name>``)."""
    return (resources.files("wattwise") / "data" / name).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def load_zones() -> ZoneTable:
    """The packaged zone table, read once on first use."""
    return ZoneTable(parse_zones(read_data_file("zones.csv")))
