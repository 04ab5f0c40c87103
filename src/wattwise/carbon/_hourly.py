"""Hourly (or finer) carbon intensities from a user's CSV file."""

from __future__ import annotations

import bisect
import csv
import itertools
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from wattwise.carbon._intensity import Intensity, IntensityProvider, check_g_per_kwh
from wattwise.exceptions import ConfigError

__all__ = ["HourlyCsvIntensity"]

TIMESTAMP_COLUMNS = ("timestamp", "datetime", "time", "date_time")
INTENSITY_COLUMNS = (
    "intensity",
    "gco2e_per_kwh",
    "carbon_intensity",
    "intensity_g_per_kwh",
    "gco2_per_kwh",
    "gco2eq_per_kwh",
)
_HOUR = timedelta(hours=1)


def _normal(header: str) -> str:
    return re.sub(r"[\s\-]+", "_", header.strip().lstrip("\ufeff").lower())


def _pick(headers: list[str], names: tuple[str, ...], what: str, where: str) -> int:
    """The index of the column named like one of ``names`` (exactly, else as a prefix)."""
    normal = [_normal(h) for h in headers]
    exact = [i for i, h in enumerate(normal) if h in names]
    found = exact or [i for i, h in enumerate(normal) if any(h.startswith(n + "_") for n in names)]
    if not found:
        raise ConfigError(f"{where}: no {what} column (expected one of {', '.join(names)})")
    if len(found) > 1:
        cols = ", ".join(repr(headers[i]) for i in found)
        raise ConfigError(f"{where}: several {what} columns ({cols}); rename the one to use")
    return found[0]


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 time (``Z`` accepted); naive times are UTC. ValueError if malformed."""
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    at = datetime.fromisoformat(text)
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at


class HourlyCsvIntensity(IntensityProvider):
    """Intensities from a CSV with a timestamp column and a gCO2e/kWh column.

    Column names are matched loosely: ``timestamp``/``datetime``/``time`` and
    ``intensity``/``gco2e_per_kwh``/``carbon_intensity`` (also as a prefix, e.g.
    ``Datetime (UTC)``). Times are ISO 8601, UTC when naive. A row holds from its time
    until the next row's (the last row for one hour). Outside the file's range the
    nearest row is used and the returned ``source`` says so. The file is read once, here;
    a bad file raises :class:`~wattwise.exceptions.ConfigError` naming file and line.
    """

    def __init__(self, path: str | os.PathLike[str], *, zone: str = "csv") -> None:
        self.path = Path(path)
        self.zone = zone
        self._times, self._values, self._lines = self._read()
        self._end = self._times[-1] + _HOUR

    def _read(self) -> tuple[list[datetime], list[float], list[int]]:
        name = str(self.path)
        try:
            with self.path.open(newline="", encoding="utf-8") as f:
                rows = list(csv.reader(f))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{name}: cannot read the intensity CSV: {exc}") from exc
        except csv.Error as exc:
            raise ConfigError(f"{name}: not a readable CSV: {exc}") from exc
        if not rows:
            raise ConfigError(f"{name}: the intensity CSV is empty")
        header = rows[0]
        t_col = _pick(header, TIMESTAMP_COLUMNS, "timestamp", f"{name}:1")
        v_col = _pick(header, INTENSITY_COLUMNS, "intensity", f"{name}:1")
        pairs: list[tuple[datetime, float, int]] = []
        for line, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            where = f"{name}:{line}"
            if len(row) <= max(t_col, v_col):
                raise ConfigError(f"{where}: expected {len(header)} columns, found {len(row)}")
            try:
                at = parse_timestamp(row[t_col])
            except ValueError:
                raise ConfigError(f"{where}: bad timestamp {row[t_col]!r}") from None
            value = check_g_per_kwh(row[v_col].strip(), f"{where}: bad intensity")
            pairs.append((at, value, line))
        if not pairs:
            raise ConfigError(f"{name}: the intensity CSV has a header but no rows")
        pairs.sort(key=lambda p: p[0])
        for (a, _, _), (b, _, line) in itertools.pairwise(pairs):
            if a == b:
                raise ConfigError(f"{name}:{line}: timestamp {b.isoformat()} appears twice")
        return [p[0] for p in pairs], [p[1] for p in pairs], [p[2] for p in pairs]

    @property
    def start(self) -> datetime:
        """The first row's time."""
        return self._times[0]

    @property
    def end(self) -> datetime:
        """One hour after the last row's time."""
        return self._end

    def series(self) -> list[tuple[datetime, float]]:
        """Every row as ``(time, gCO2e/kWh)``, sorted by time (a new list each call).

        Times are timezone-aware (naive ones were read as UTC). Each value holds until the
        next row's time; the rows' file lines are :attr:`line_numbers`, in the same order,
        so a caller that finds a problem (a gap, for scheduling) can name the line.
        """
        return list(zip(self._times, self._values, strict=True))

    @property
    def line_numbers(self) -> tuple[int, ...]:
        """The file line (1-based, header is line 1) of each row of :meth:`series`."""
        return tuple(self._lines)

    def intensity_at(self, at: datetime) -> Intensity:
        """The row whose period contains ``at``; the nearest row outside the range."""
        if at.tzinfo is None:
            at = at.replace(tzinfo=timezone.utc)
        i = bisect.bisect_right(self._times, at) - 1
        note = ""
        if i < 0 or at >= self._end:
            i = 0 if i < 0 else len(self._times) - 1
            span = f"{_iso(self.start)} to {_iso(self.end)}"
            note = f"; {_iso(at)} is outside the file's range {span}, nearest row used"
        row_at = self._times[i]
        source = f"hourly CSV {self.path.name}, row {_iso(row_at)}{note}"
        return Intensity(self._values[i], self.zone, row_at.year, source, "hourly-csv")

    def __repr__(self) -> str:
        return f"HourlyCsvIntensity({str(self.path)!r})"


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
