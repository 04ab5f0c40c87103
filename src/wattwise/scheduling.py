"""Carbon-aware scheduling: when, before a deadline, a job of known length emits least.

The model, stated so a reader can check it (docs/methodology.md, "Carbon-aware
scheduling"):

* the grid's intensity is a step function: each point's value holds from its time until
  the next point's; the last point holds for the series' typical step (the median spacing
  of its points; one hour for a single point);
* the job runs for ``duration`` and draws its energy evenly over it, so its emissions are
  energy × the time-weighted mean intensity over its window, integrated exactly over the
  steps (no hourly sampling);
* the mean over a window starting at ``s`` is piecewise linear in ``s``, with corners
  where ``s`` or ``s + duration`` crosses a point's time. Its minimum over
  ``[now, deadline - duration]`` is therefore at one of those corners or at an end of the
  range: those are the candidates, so the answer is the exact optimum over every start
  time, not a grid search. With ``step``, starts are instead restricted to
  ``now + k × step``;
* nothing is assumed beyond the series: windows that run past its end are not considered
  (the schedule's ``note`` says so when the deadline is later), a series that ends before
  ``now + duration`` is refused, and so is one that starts after now, except that its
  first value may stand for up to one step before its time (a forecast that begins at the
  next 5-minute or hourly mark);
* a gap — two consecutive points at least :data:`GAP_FACTOR` × the typical step apart
  and more than :data:`GAP_MIN` (one hour) apart — is an error naming both times (and the
  CSV line of the point after the gap), never filled in, when a window could reach into
  it: the point before a gap holds for one typical step (like the last point), and only
  what lies beyond that and before ``min(deadline, series end)`` is missing;
* ties go to the earliest start (less waiting): a later start must be better by more than
  :data:`TIE_TOLERANCE` (relative).

Cost: O(n log n) for n points in ``[now, deadline]`` (one sort of the candidates, then
one sweep with two pointers), a few milliseconds for a year of hourly points.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from wattwise.carbon._hourly import HourlyCsvIntensity, parse_timestamp
from wattwise.carbon._intensity import MAX_G_PER_KWH, check_g_per_kwh
from wattwise.carbon._live import IntensityForecast
from wattwise.exceptions import ConfigError

__all__ = [
    "GAP_FACTOR",
    "GAP_MIN",
    "MAX_DURATION",
    "TIE_TOLERANCE",
    "IntensitySeries",
    "Schedule",
    "describe_deadline",
    "format_duration",
    "format_time",
    "greenest_start",
    "parse_deadline",
    "parse_duration",
]

GAP_FACTOR = 1.5
"""A spacing of at least this many typical steps is a gap (an error, not filled in), if it is
also longer than :data:`GAP_MIN`. A chosen threshold, not a measured constant: one missing
row in an hourly series (2 steps) is a gap, a jitter of a few minutes is not."""
GAP_MIN = timedelta(hours=1)
"""A spacing of at most this is never a gap: a sub-hourly series (30-min, 15-min, 5-min) may
thin out to hourly points, the resolution of most published intensity data (Electricity Maps,
hourly CSVs), without error; no value is held for longer than the larger of an hour and
(just under) :data:`GAP_FACTOR` typical steps. A chosen threshold, not a measured constant."""
MAX_DURATION = timedelta(days=36_525)
"""The longest duration, step or relative deadline accepted: 100 years (of 365.25 days), far
beyond any schedule, well inside what :class:`datetime` can add (to the year 9999)."""
TIE_TOLERANCE = 1e-9
"""A later start must lower the window's emissions by more than this fraction to win."""
MAX_CANDIDATES = 2_000_000
"""Most start times one schedule may weigh (a ``step`` far too small for the horizon)."""
_US = timedelta(microseconds=1)
_DEFAULT_SOURCE = "intensity series"
_HOUR = timedelta(hours=1)


def _utc(at: datetime) -> datetime:
    """``at`` in UTC; a naive time is taken to be UTC already."""
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


def format_time(at: datetime) -> str:
    """A short UTC time for messages, to the second (minutes only when seconds are 0)."""
    at = (_utc(at) + timedelta(microseconds=500_000)).replace(microsecond=0)
    return at.strftime("%Y-%m-%dT%H:%M:%SZ" if at.second else "%Y-%m-%dT%H:%MZ")


_iso = format_time


def format_duration(span: timedelta) -> str:
    """``span`` in words, to the second: ``2 h 05 min``, ``45 min``, ``3 d 4 h``, ``12 s``."""
    total = round(span.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        text = f"{days} d {hours} h" if hours else f"{days} d"
        if minutes:
            text += f" {minutes:02d} min"
    elif hours:
        text = f"{hours} h {minutes:02d} min"
    elif minutes:
        text = f"{minutes} min {seconds:02d} s" if seconds else f"{minutes} min"
    else:
        text = f"{seconds} s"
    return sign + text


@dataclass(frozen=True)
class IntensitySeries:
    """Grid intensities over time: ``(time, gCO2e/kWh)`` points, each holding until the next.

    Built from a list of pairs (times naive → UTC; sorted here), from a CSV
    (:meth:`from_csv`) or a provider's forecast (:meth:`from_forecast`). The last point
    holds for ``step``, the median spacing of the points (one hour for a single point).
    ``locations``, when given, name each point's origin (``file.csv:12``) in errors.
    ``marginal`` says the values are marginal emission rates, not average intensities.
    Construction raises ConfigError for no points, a bad value or a repeated time.
    """

    points: tuple[tuple[datetime, float], ...]
    source: str = _DEFAULT_SOURCE
    locations: tuple[str, ...] | None = None
    marginal: bool = False
    step: timedelta = field(init=False)

    def __post_init__(self) -> None:
        if not self.points:
            raise ConfigError(f"the intensity series is empty ({self.source})")
        if self.locations is not None and len(self.locations) != len(self.points):
            raise ConfigError("IntensitySeries: one location per point is needed")
        rows = []
        for k, point in enumerate(self.points):
            try:
                at, value = point
            except (TypeError, ValueError):
                raise ConfigError(
                    f"{self._where(k)}not a (time, gCO2e/kWh) pair: {point!r}"
                ) from None
            if not isinstance(at, datetime):
                raise ConfigError(f"{self._where(k)}not a datetime: {at!r}")
            if at.tzinfo is not timezone.utc:
                at = _utc(at)
            if not (type(value) is float and 0.0 <= value <= MAX_G_PER_KWH):  # NaN included
                value = check_g_per_kwh(value, f"{self._where(k)}bad intensity at {_iso(at)}")
            rows.append((at, value, k))
        rows.sort(key=lambda r: r[0])
        for (a, _, _), (b, _, k) in itertools.pairwise(rows):
            if a == b:
                raise ConfigError(f"{self._where(k)}time {_iso(b)} appears twice in the series")
        locations = self.locations
        if locations is not None:
            locations = tuple(locations[k] for _, _, k in rows)
        spacings = [(b[0] - a[0]) // _US for a, b in itertools.pairwise(rows)]
        step = _US * statistics.median_low(spacings) if spacings else _HOUR
        object.__setattr__(self, "points", tuple((at, value) for at, value, _ in rows))
        object.__setattr__(self, "locations", locations)
        object.__setattr__(self, "step", step)

    def _where(self, k: int) -> str:
        return f"{self.locations[k]}: " if self.locations is not None else ""

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str]) -> IntensitySeries:
        """The rows of an hourly-intensity CSV (as :class:`~wattwise.carbon.HourlyCsvIntensity`
        reads it); errors, gaps included, name ``file:line``."""
        csv = HourlyCsvIntensity(path)
        locations = tuple(f"{path}:{line}" for line in csv.line_numbers)
        return cls(tuple(csv.series()), f"hourly CSV {Path(path).name}", locations)

    @classmethod
    def from_forecast(cls, forecast: IntensityForecast) -> IntensitySeries:
        """A live provider's forecast (``forecast()`` of a live provider)."""
        return cls(forecast.points, forecast.source, None, forecast.marginal)

    @property
    def start(self) -> datetime:
        """The first point's time."""
        return self.points[0][0]

    @property
    def end(self) -> datetime:
        """When the last point stops holding: its time + ``step``."""
        return self.points[-1][0] + self.step

    def __len__(self) -> int:
        return len(self.points)


@dataclass(frozen=True)
class Schedule:
    """The greenest start for a job before its deadline, and what it saves.

    Attributes:
        start, end: the best window (UTC).
        now, deadline: what was asked (UTC).
        duration: the job's length; wait: ``start - now``.
        intensity_g_per_kwh: time-weighted mean intensity over the best window.
        now_intensity_g_per_kwh: the same, starting now.
        energy_kwh: the job's energy, when given (spread evenly over its duration).
        co2e_g, now_co2e_g: emissions of the best window and of starting now (None
            without ``energy_kwh``).
        saved_g: ``now_co2e_g - co2e_g`` (None without ``energy_kwh``).
        saved_pct: the relative saving, from the mean intensities (energy cancels).
        source: the series, in words; marginal: its values are marginal rates.
        candidates: how many start times were weighed.
        note: what the series did not cover and what was assumed ("" when nothing).
    """

    start: datetime
    end: datetime
    now: datetime
    deadline: datetime
    duration: timedelta
    wait: timedelta
    intensity_g_per_kwh: float
    now_intensity_g_per_kwh: float
    energy_kwh: float | None
    co2e_g: float | None
    now_co2e_g: float | None
    saved_g: float | None
    saved_pct: float
    source: str
    marginal: bool
    candidates: int
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ISO 8601 times, durations in seconds."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "now": self.now.isoformat(),
            "deadline": self.deadline.isoformat(),
            "duration_s": self.duration.total_seconds(),
            "wait_s": self.wait.total_seconds(),
            "intensity_g_per_kwh": self.intensity_g_per_kwh,
            "now_intensity_g_per_kwh": self.now_intensity_g_per_kwh,
            "energy_kwh": self.energy_kwh,
            "co2e_g": self.co2e_g,
            "now_co2e_g": self.now_co2e_g,
            "saved_g": self.saved_g,
            "saved_pct": self.saved_pct,
            "source": self.source,
            "marginal": self.marginal,
            "candidates": self.candidates,
            "note": self.note,
        }

    def summary_line(self) -> str:
        """One line: when the job starts, and why."""
        unit = "gCO2/kWh marginal" if self.marginal else "gCO2e/kWh"
        mean = f"{self.intensity_g_per_kwh:.0f} {unit}"
        if self.wait <= timedelta(0):
            return (
                f"starting now ({_iso(self.start)}) is the greenest before the deadline "
                f"{_iso(self.deadline)}: window mean {mean}"
            )
        saved = f"; {self.saved_g:.0f} gCO2e saved" if self.saved_g is not None else ""
        return (
            f"starting at {_iso(self.start)}, in {format_duration(self.wait)}: window mean "
            f"{mean} vs {self.now_intensity_g_per_kwh:.0f} starting now "
            f"({self.saved_pct:.1f}% less{saved})"
        )


def greenest_start(
    series: IntensitySeries | Sequence[tuple[datetime, float]],
    *,
    duration: timedelta,
    deadline: datetime,
    energy_kwh: float | None = None,
    now: datetime,
    step: timedelta | None = None,
) -> Schedule:
    """The start time in ``[now, deadline - duration]`` with the least emissions.

    See the module's docstring for the model. ``series`` is an :class:`IntensitySeries`
    or ``(time, gCO2e/kWh)`` pairs; naive times (here and in ``now``/``deadline``) are
    UTC. ConfigError, one line, for a duration ≤ 0 or over :data:`MAX_DURATION`, a
    deadline the job cannot meet, a negative energy, a series that does not cover now and
    now + duration, a gap, or times that run out of the calendar (past the year 9999).
    """
    try:
        return _greenest_start(
            series,
            duration=duration,
            deadline=deadline,
            energy_kwh=energy_kwh,
            now=now,
            step=step,
        )
    except OverflowError:
        raise ConfigError(
            f"the schedule's times are out of range (years 1-9999 only): a "
            f"{format_duration(duration)} job, now {now.isoformat()}, deadline "
            f"{deadline.isoformat()}"
        ) from None


def _greenest_start(
    series: IntensitySeries | Sequence[tuple[datetime, float]],
    *,
    duration: timedelta,
    deadline: datetime,
    energy_kwh: float | None,
    now: datetime,
    step: timedelta | None,
) -> Schedule:
    """:func:`greenest_start`, raising OverflowError where datetime arithmetic does."""
    if not isinstance(series, IntensitySeries):
        series = IntensitySeries(tuple(series))
    now, deadline = _utc(now), _utc(deadline)
    if duration <= timedelta(0):
        raise ConfigError(f"the job's duration must be positive, not {duration}")
    if duration > MAX_DURATION:
        raise ConfigError(
            f"the job's duration must be at most 100 years, not {format_duration(duration)}"
        )
    if energy_kwh is not None and not (math.isfinite(energy_kwh) and energy_kwh >= 0):
        raise ConfigError(f"the job's energy must be ≥ 0 kWh, not {energy_kwh!r}")
    if step is not None and step <= timedelta(0):
        raise ConfigError(f"the step between start times must be positive, not {step}")
    if deadline < now + duration:
        raise ConfigError(
            f"the job cannot finish by the deadline: {format_duration(duration)} from now "
            f"({_iso(now)}) ends at {_iso(now + duration)}, after {_iso(deadline)}"
        )
    first, end = series.start, series.end
    if end <= now:
        raise ConfigError(
            f"{_named(series)} ends at {_iso(end)}, before now "
            f"({_iso(now)}): all its times are in the past"
        )
    notes = []
    if first > now:
        if first - now > series.step:
            raise ConfigError(
                f"{_named(series)} starts at {_iso(first)}, "
                f"{format_duration(first - now)} after now ({_iso(now)}): it cannot tell "
                "what starting now would emit"
            )
        notes.append(f"the series' first value is taken to hold from now ({_iso(now)})")
    if now + duration > end:
        raise ConfigError(
            f"{_named(series)} ends at {_iso(end)}: it does not "
            f"cover a {format_duration(duration)} job starting now ({_iso(now)})"
        )
    horizon = min(deadline, end)
    if deadline > end:
        notes.append(
            f"the series ends at {_iso(end)}, before the deadline {_iso(deadline)}: starts "
            f"after {_iso(end - duration)} were not considered (nothing is assumed beyond it)"
        )
    xs, vs = _steps(series, now, horizon)
    d_us = duration // _US
    latest = (horizon - now) // _US - d_us  # ≥ 0: checked above
    if step is None:
        corners = {x for x in xs[1:] if 0 < x <= latest}
        corners.update(x - d_us for x in xs[1:] if 0 < x - d_us <= latest)
        corners.update((0, latest))
        starts: Sequence[int] = sorted(corners)
    else:
        step_us = max(step // _US, 1)
        if latest // step_us + 1 > MAX_CANDIDATES:
            raise ConfigError(
                f"a step of {format_duration(step)} gives more than {MAX_CANDIDATES:,} start "
                "times before the deadline: use a longer step"
            )
        starts = range(0, latest + 1, step_us)
        notes.append(f"starts restricted to now + k × {format_duration(step)}")
    best_s, best_w, now_w = _sweep(xs, vs, starts, d_us)
    best_mean, now_mean = best_w / d_us, now_w / d_us
    co2e = now_co2e = saved = None
    if energy_kwh is not None:
        co2e, now_co2e = energy_kwh * best_mean, energy_kwh * now_mean
        saved = now_co2e - co2e
    start = now + best_s * _US
    return Schedule(
        start=start,
        end=start + duration,
        now=now,
        deadline=deadline,
        duration=duration,
        wait=start - now,
        intensity_g_per_kwh=best_mean,
        now_intensity_g_per_kwh=now_mean,
        energy_kwh=None if energy_kwh is None else float(energy_kwh),
        co2e_g=co2e,
        now_co2e_g=now_co2e,
        saved_g=saved,
        saved_pct=100.0 * (now_mean - best_mean) / now_mean if now_mean > 0 else 0.0,
        source=series.source,
        marginal=series.marginal,
        candidates=len(starts),
        note="; ".join(notes),
    )


def _steps(
    series: IntensitySeries, now: datetime, horizon: datetime
) -> tuple[list[int], list[float]]:
    """The step function over ``[now, horizon]``: boundaries (µs after now; the first is 0,
    the last the end of the last step that starts before ``horizon``, ≥ ``horizon``) and
    the m values. A point before a gap holds for one typical step; ConfigError when
    ``horizon`` is later than that (a window could use what the gap lacks)."""
    points = series.points
    # The point that holds at now (the first one when the series starts a little later).
    lo = 0
    hi = len(points)
    while lo < hi:  # bisect on the times, without building a list of them
        mid = (lo + hi) // 2
        if points[mid][0] <= now:
            lo = mid + 1
        else:
            hi = mid
    i0 = max(lo - 1, 0)
    xs = [0]
    vs: list[float] = []
    limit = max(series.step * GAP_FACTOR, GAP_MIN + _US)
    k = i0
    while k < len(points) and points[k][0] < horizon:
        vs.append(points[k][1])
        if k + 1 < len(points):
            after = points[k + 1][0]
            if after - points[k][0] >= limit:
                after = points[k][0] + series.step  # it holds this long, no longer
                if after < horizon:
                    _gap(series, k + 1)
        else:
            after = series.end
        xs.append((after - now) // _US)
        k += 1
    return xs, vs


def _named(series: IntensitySeries) -> str:
    """``the intensity series``, with its source in brackets when it has one of its own."""
    plain = series.source == _DEFAULT_SOURCE
    return "the intensity series" + ("" if plain else f" ({series.source})")


def _gap(series: IntensitySeries, k: int) -> None:
    """ConfigError for the gap before point ``k``: its line (for a CSV), else the source."""
    before, after = series.points[k - 1][0], series.points[k][0]
    span = (
        f"between {_iso(before)} and {_iso(after)} ({format_duration(after - before)}, where "
        f"points are {format_duration(series.step)} apart)"
    )
    if series.locations is not None:
        raise ConfigError(f"{series.locations[k]}: gap in the intensity series: no row {span}")
    raise ConfigError(f"gap in {_named(series)}: no value {span}")


def _sweep(
    xs: list[int], vs: list[float], starts: Sequence[int], d_us: int
) -> tuple[int, float, float]:
    """(best start, its window integral, the integral of the first start) over ``starts``
    (sorted, the first being 0); integrals in gCO2e/kWh × µs, exact for the step function.

    ``cum[k]`` is the integral from 0 to ``xs[k]``; a window's integral is the difference
    of the integral up to its end and to its start, each found by a pointer that only
    moves forward (starts and ends both increase), so the sweep is O(len(xs) + len(starts)).
    """
    cum = [0.0]
    for k, value in enumerate(vs):
        cum.append(cum[-1] + value * (xs[k + 1] - xs[k]))
    last = len(vs) - 1
    i = j = 0
    best_s, best_w = starts[0], math.nan
    first_w = math.nan
    for s in starts:
        e = s + d_us
        while i < last and xs[i + 1] <= s:
            i += 1
        while j < last and xs[j + 1] <= e:
            j += 1
        w = (cum[j] - cum[i]) + vs[j] * (e - xs[j]) - vs[i] * (s - xs[i])
        if math.isnan(first_w):
            first_w = best_w = w
        elif w < best_w - TIE_TOLERANCE * abs(best_w):
            best_s, best_w = s, w
    return best_s, best_w, first_w


_NUMBER = r"\d+(?:\.\d*)?|\.\d+"
_DURATION = re.compile(
    rf"(?:(?P<d>{_NUMBER})\s*d(?:ays?)?)?\s*"
    rf"(?:(?P<h>{_NUMBER})\s*h(?:ours?|rs?)?)?\s*"
    rf"(?:(?P<m>{_NUMBER})\s*m(?:ins?|inutes?)?)?\s*"
    rf"(?:(?P<s>{_NUMBER})\s*s(?:ecs?|econds?)?)?",
    re.IGNORECASE,
)
_SECONDS = {"d": 86_400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_EXAMPLES = "90m, 90min, 3h, 2 hours, 1.5h, 2h30m, 1d, 45s"


def _seconds_in(text: str) -> float | None:
    """The seconds ``text`` spells (a number, or amounts with units), None if not one."""
    raw = text.strip()
    try:
        return float(raw)
    except ValueError:
        pass
    match = _DURATION.fullmatch(raw)
    if not raw or match is None or not any(match.groupdict().values()):
        return None
    return sum(float(v) * _SECONDS[k] for k, v in match.groupdict().items() if v)


def _span(seconds: float, text: str, what: str) -> timedelta:
    """``seconds`` as a timedelta in ``(0, MAX_DURATION]``, else ConfigError naming ``text``."""
    if seconds <= 0:
        raise ConfigError(f"invalid {what} {text!r}: it must be positive")
    if seconds > MAX_DURATION.total_seconds():
        raise ConfigError(f"invalid {what} {text!r}: at most 100 years ({MAX_DURATION.days:,} d)")
    try:
        span = timedelta(seconds=seconds)
    except (OverflowError, ValueError):  # not reached below the cap; kept for safety
        raise ConfigError(f"invalid {what} {text!r}: out of range") from None
    if span <= timedelta(0):
        raise ConfigError(f"invalid {what} {text!r}: shorter than a microsecond (the resolution)")
    return span


def parse_duration(text: str, *, what: str = "duration") -> timedelta:
    """``90m``, ``90min``, ``3h``, ``2 hours``, ``3 hrs``, ``1.5h``, ``2h30m``, ``1d``, ``1day``,
    ``45s``, ``45sec`` or plain seconds (``5400``); units in that order (d, h, m, s), each at
    most once, any case.

    ConfigError for anything else, a duration that is not positive, or one over
    :data:`MAX_DURATION` (100 years).
    """
    seconds = _seconds_in(text)
    if seconds is None or not math.isfinite(seconds):
        raise ConfigError(f"invalid {what} {text!r}: use e.g. {_EXAMPLES} or a number of seconds")
    return _span(seconds, text, what)


def parse_deadline(text: str, now: datetime) -> datetime:
    """An ISO 8601 time (naive → UTC; ``Z`` accepted) or a duration from ``now`` (``12h``).

    ConfigError for anything else, a duration that :func:`parse_duration` refuses, or a time
    outside the calendar (after the year 9999) once in UTC.
    """
    try:
        at = parse_timestamp(text)
    except ValueError:
        pass
    else:
        try:
            return _utc(at)
        except OverflowError:
            raise ConfigError(
                f"invalid deadline {text!r}: out of range (years 1-9999) in UTC"
            ) from None
    seconds = _seconds_in(text)
    if seconds is None or not math.isfinite(seconds):
        raise ConfigError(
            f"invalid deadline {text!r}: use an ISO time (2024-06-01T18:00Z) or a duration "
            "from now (12h, 2h30m, 2 days)"
        )
    span = _span(seconds, text, "deadline")
    try:
        return _utc(now) + span
    except OverflowError:
        raise ConfigError(
            f"invalid deadline {text!r}: {format_duration(span)} from now is after the year 9999"
        ) from None


def describe_deadline(text: str, deadline: datetime) -> str:
    """How ``text`` was read as ``deadline`` (from :func:`parse_deadline`), for output:
    ``2024-06-02T08:00Z (read as UTC: no offset given)``, ``2024-06-02T06:00Z
    (2024-06-02T08:00+02:00)``, ``2024-06-01T12:00Z (12h from now)`` or just the UTC time."""
    raw = text.strip()
    try:
        given = parse_timestamp(raw)
    except ValueError:
        unit = " s" if re.fullmatch(r"[\d.eE+]+", raw) else ""  # plain seconds
        return f"{_iso(deadline)} ({raw}{unit} from now)"
    if not raw.endswith(("Z", "z")) and datetime.fromisoformat(raw).tzinfo is None:
        return f"{_iso(deadline)} (read as UTC: no offset given)"
    if given.utcoffset() == timedelta(0):
        return _iso(deadline)
    return f"{_iso(deadline)} ({raw})"
