"""Carbon-aware scheduling: the greenest start before a deadline, on constructed series."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from wattwise.carbon._live import IntensityForecast
from wattwise.exceptions import ConfigError
from wattwise.scheduling import (
    MAX_DURATION,
    IntensitySeries,
    describe_deadline,
    format_duration,
    format_time,
    greenest_start,
    parse_deadline,
    parse_duration,
)

T0 = datetime(2024, 6, 1, tzinfo=timezone.utc)
H = timedelta(hours=1)


def hourly(values: list[float], start: datetime = T0) -> list[tuple[datetime, float]]:
    return [(start + i * H, v) for i, v in enumerate(values)]


def window_mean(series: list[tuple[datetime, float]], start: datetime, end: datetime) -> float:
    """Reference integral, minute by minute (every series here steps on whole minutes)."""
    minute = timedelta(minutes=1)
    total, at, n = 0.0, start, 0
    while at < end:
        value = [v for t, v in series if t <= at][-1]
        total, at, n = total + value, at + minute, n + 1
    return total / n


# -- the best window -----------------------------------------------------------------------


def test_known_best_window_and_its_emissions() -> None:
    series = hourly([300, 300, 200, 100, 100, 100, 250, 300])
    plan = greenest_start(
        series, duration=3 * H, deadline=T0 + 8 * H, energy_kwh=2.0, now=T0 + timedelta(minutes=0)
    )
    assert (plan.start, plan.end, plan.wait) == (T0 + 3 * H, T0 + 6 * H, 3 * H)
    assert plan.intensity_g_per_kwh == pytest.approx(100.0)
    assert plan.now_intensity_g_per_kwh == pytest.approx((300 + 300 + 200) / 3)
    assert plan.co2e_g == pytest.approx(200.0)  # 2 kWh × 100 g/kWh
    assert plan.now_co2e_g == pytest.approx(2.0 * 800 / 3)
    assert plan.saved_g == pytest.approx(2.0 * 800 / 3 - 200.0)
    assert plan.saved_pct == pytest.approx(62.5)
    assert plan.note == "" and plan.candidates >= 6


def test_exact_integration_across_boundaries_finds_a_start_between_points() -> None:
    # 1.5 h job: the best window is 01:30-03:00 (half of the 100 hour, all of the 50 hour),
    # a start that is no point's time: its end meets one.
    series = hourly([500, 100, 50, 500, 500])
    plan = greenest_start(series, duration=timedelta(hours=1.5), deadline=T0 + 5 * H, now=T0)
    assert plan.start == T0 + timedelta(hours=1.5)
    assert plan.intensity_g_per_kwh == pytest.approx((100 * 0.5 + 50 * 1.0) / 1.5)
    assert plan.now_intensity_g_per_kwh == pytest.approx((500 + 100 * 0.5) / 1.5)
    # Starting at 00:17 (not on a point): both windows integrated exactly.
    later = greenest_start(
        series,
        duration=timedelta(minutes=100),
        deadline=T0 + 5 * H,
        now=T0 + timedelta(minutes=17),
    )
    assert later.now_intensity_g_per_kwh == pytest.approx(
        window_mean(series, later.now, later.now + timedelta(minutes=100))
    )
    assert later.intensity_g_per_kwh == pytest.approx(window_mean(series, later.start, later.end))


def test_matches_a_brute_force_search_on_random_series() -> None:
    rng = random.Random(7)
    for _ in range(20):
        series = hourly([rng.choice([50, 120, 200, 330, 480]) for _ in range(12)])
        duration = timedelta(minutes=rng.randrange(30, 240, 10))
        now = T0 + timedelta(minutes=rng.randrange(0, 60, 10))
        deadline = now + duration + timedelta(minutes=rng.randrange(0, 360, 10))
        plan = greenest_start(series, duration=duration, deadline=deadline, now=now)
        # Every start on a 10-minute grid (a superset of nothing: just a check).
        grid = []
        at = now
        while at + duration <= deadline:
            grid.append(window_mean(series, at, at + duration))
            at += timedelta(minutes=10)
        assert plan.intensity_g_per_kwh <= min(grid) + 1e-9
        assert plan.intensity_g_per_kwh == pytest.approx(window_mean(series, plan.start, plan.end))
        assert plan.now_intensity_g_per_kwh == pytest.approx(grid[0])
        assert now <= plan.start and plan.end <= deadline


def test_now_is_best_gives_zero_saving() -> None:
    series = hourly([50, 100, 200, 300])
    plan = greenest_start(series, duration=H, deadline=T0 + 4 * H, energy_kwh=1.0, now=T0)
    assert plan.start == T0 and plan.wait == timedelta(0)
    assert plan.saved_g == 0.0 and plan.saved_pct == 0.0
    assert plan.co2e_g == plan.now_co2e_g == pytest.approx(50.0)
    assert plan.summary_line().startswith("starting now (2024-06-01T00:00Z) is the greenest")


def test_ties_go_to_the_earliest_start() -> None:
    flat = hourly([120.0] * 48)
    plan = greenest_start(flat, duration=5 * H, deadline=T0 + 40 * H, now=T0 + timedelta(minutes=3))
    assert plan.wait == timedelta(0) and plan.saved_pct == 0.0
    twin = hourly([300, 80, 300, 80, 300])
    assert greenest_start(twin, duration=H, deadline=T0 + 5 * H, now=T0).start == T0 + H


def test_deadline_too_tight() -> None:
    series = hourly([100] * 10)
    with pytest.raises(ConfigError, match="the job cannot finish by the deadline"):
        greenest_start(series, duration=3 * H, deadline=T0 + 2 * H, now=T0)
    # Exactly enough: the only start is now.
    plan = greenest_start(series, duration=3 * H, deadline=T0 + 3 * H, now=T0)
    assert plan.start == T0 and plan.candidates == 1


def test_the_latest_start_is_a_candidate() -> None:
    # Falling all along: the best start is as late as the deadline allows (not a point).
    series = hourly([500, 400, 300, 200, 100, 50])
    deadline = T0 + timedelta(hours=4, minutes=20)
    plan = greenest_start(series, duration=H, deadline=deadline, now=T0)
    assert plan.end == deadline
    assert plan.intensity_g_per_kwh == pytest.approx((200 * 40 + 100 * 20) / 60)


def test_step_restricts_starts_to_a_grid() -> None:
    series = hourly([500, 100, 50, 500, 500])
    plan = greenest_start(
        series, duration=timedelta(hours=1.5), deadline=T0 + 5 * H, now=T0, step=H
    )
    assert plan.start == T0 + H and "now + k × 1 h 00 min" in plan.note
    assert plan.candidates == 4  # 00:00 ... 03:00 (03:30 would end at 05:00: 3.5 h > 3)
    with pytest.raises(ConfigError, match="step"):
        greenest_start(series, duration=H, deadline=T0 + 5 * H, now=T0, step=timedelta(0))


def test_naive_times_are_utc() -> None:
    naive = [(t.replace(tzinfo=None), v) for t, v in hourly([300, 100, 200])]
    plan = greenest_start(
        naive, duration=H, deadline=datetime(2024, 6, 1, 3), now=datetime(2024, 6, 1)
    )
    assert plan.start == T0 + H and plan.start.tzinfo is not None
    paris = timezone(timedelta(hours=2))
    other = greenest_start(
        hourly([300, 100, 200]), duration=H, deadline=T0 + 3 * H, now=T0.astimezone(paris)
    )
    assert other.start == plan.start and other.now == T0


# -- what the series covers ----------------------------------------------------------------


def test_deadline_after_the_series_end_is_noted_and_nothing_assumed() -> None:
    series = hourly([300, 200, 250, 40])  # ends 04:00; the 40 hour is its last
    plan = greenest_start(series, duration=2 * H, deadline=T0 + 10 * H, now=T0)
    assert plan.end <= T0 + 4 * H  # no window past the end of the series
    assert plan.start == T0 + 2 * H
    assert "the series ends at 2024-06-01T04:00Z, before the deadline" in plan.note
    assert "nothing is assumed beyond it" in plan.note


def test_series_in_the_past_or_too_short() -> None:
    series = hourly([100, 200])
    with pytest.raises(ConfigError, match=r"ends at 2024-06-01T02:00Z, before now.*past"):
        greenest_start(series, duration=H, deadline=T0 + 9 * H, now=T0 + 5 * H)
    with pytest.raises(ConfigError, match="does not cover a 3 h 00 min job starting now"):
        greenest_start(series, duration=3 * H, deadline=T0 + 9 * H, now=T0)


def test_series_starting_after_now() -> None:
    series = hourly([100, 50, 200], start=T0 + H)
    with pytest.raises(ConfigError, match="starts at 2024-06-01T01:00Z, 1 h 01 min after now"):
        greenest_start(series, duration=H, deadline=T0 + 4 * H, now=T0 - timedelta(minutes=1))
    # Within one step: the first value stands for the minutes before it, and it says so.
    plan = greenest_start(series, duration=H, deadline=T0 + 4 * H, now=T0 + timedelta(minutes=55))
    assert plan.now_intensity_g_per_kwh == pytest.approx((100 * 60 + 0) / 60)
    assert "first value is taken to hold from now" in plan.note
    assert plan.start == T0 + 2 * H


def test_last_point_holds_for_the_typical_step() -> None:
    five = [(T0 + timedelta(minutes=5 * i), 100.0 + i) for i in range(12)]
    series = IntensitySeries(tuple(five))
    assert series.step == timedelta(minutes=5) and series.end == T0 + H
    assert IntensitySeries(((T0, 1.0),)).end == T0 + H  # a single point: one hour


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"duration": timedelta(0)}, "duration must be positive"),
        ({"duration": -H}, "duration must be positive"),
        ({"energy_kwh": -1.0}, "energy must be ≥ 0"),
        ({"energy_kwh": float("nan")}, "energy must be ≥ 0"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"duration": H, "deadline": T0 + 3 * H, "now": T0, **kwargs}
    with pytest.raises(ConfigError, match=message):
        greenest_start(hourly([1, 2, 3]), **args)  # type: ignore[arg-type]


def test_bad_series() -> None:
    with pytest.raises(ConfigError, match="empty"):
        greenest_start([], duration=H, deadline=T0 + 3 * H, now=T0)
    with pytest.raises(ConfigError, match="appears twice"):
        IntensitySeries(((T0, 1.0), (T0, 2.0)))
    with pytest.raises(ConfigError, match="0-3000"):
        IntensitySeries(((T0, -5.0),))
    with pytest.raises(ConfigError, match="not a datetime"):
        IntensitySeries((("2024-06-01", 5.0),))  # type: ignore[arg-type]


def test_gap_in_a_plain_series_names_the_times() -> None:
    series = hourly([100, 100, 100]) + hourly([50, 50], start=T0 + 6 * H)
    with pytest.raises(ConfigError) as info:
        greenest_start(series, duration=H, deadline=T0 + 8 * H, now=T0)
    message = str(info.value)
    assert "gap in the intensity series" in message
    assert "between 2024-06-01T02:00Z and 2024-06-01T06:00Z (4 h 00 min" in message
    assert "\n" not in message


def test_csv_with_a_gap_names_the_line(tmp_path: Path) -> None:
    rows = ["timestamp,intensity"]
    rows += [f"2024-06-01T{h:02d}:00Z,{100 + h}" for h in (0, 1, 2, 3)]
    rows += ["", "2024-06-01T07:00Z,90", "2024-06-01T08:00Z,95"]  # a blank line, then a gap
    path = tmp_path / "grid.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    series = IntensitySeries.from_csv(path)
    assert series.source == "hourly CSV grid.csv" and len(series) == 6
    with pytest.raises(ConfigError, match=rf"^{path}:7: gap in the intensity series: no row"):
        greenest_start(series, duration=H, deadline=T0 + 9 * H, now=T0)
    # A gap after the deadline is not looked at.
    plan = greenest_start(series, duration=H, deadline=T0 + 3 * H, now=T0)
    assert plan.start == T0


def test_a_missing_hour_in_an_hourly_csv_is_a_gap(tmp_path: Path) -> None:
    # 02:00 is missing: 01:00's value would be held for two hours. Line 4 is the 03:00 row.
    path = tmp_path / "hourly.csv"
    hours = (0, 1, 3, 4, 5)
    rows = [f"2024-06-01T{h:02d}:00Z,{100 + h}" for h in hours]
    path.write_text("timestamp,intensity\n" + "\n".join(rows) + "\n", encoding="utf-8")
    series = IntensitySeries.from_csv(path)
    assert series.step == H
    with pytest.raises(ConfigError) as info:
        greenest_start(series, duration=H, deadline=T0 + 5 * H, now=T0)
    assert str(info.value) == (
        f"{path}:4: gap in the intensity series: no row between 2024-06-01T01:00Z and "
        "2024-06-01T03:00Z (2 h 00 min, where points are 1 h 00 min apart)"
    )
    # Windows that end before the hole (01:00's value holds until 02:00) are fine.
    assert greenest_start(series, duration=H, deadline=T0 + 2 * H, now=T0).start == T0


def test_gap_threshold_for_coarse_and_sub_hourly_series() -> None:
    # Two-hourly points with one missing (4 h apart): a gap (1.5 × the 2 h step).
    two_hourly = [(T0 + 2 * k * H, 100.0) for k in (0, 1, 3, 4, 5)]
    with pytest.raises(ConfigError, match=r"gap in the intensity series: .*\(4 h 00 min"):
        greenest_start(two_hourly, duration=H, deadline=T0 + 9 * H, now=T0)
    # A half-hourly series that turns hourly is not a gap: no value held over an hour.
    half = timedelta(minutes=30)
    mixed = [(T0 + k * half, 200.0 - k) for k in range(8)]
    mixed += [(T0 + 4 * H + k * H, 50.0) for k in range(3)]
    plan = greenest_start(mixed, duration=H, deadline=T0 + 7 * H, now=T0)
    assert plan.start == T0 + 4 * H and plan.intensity_g_per_kwh == pytest.approx(50.0)
    # ... but a hole of more than an hour in it is (90 min: 3 × its 30 min step).
    holed = [(at, v) for at, v in mixed[:6]] + [(T0 + 4 * H, 10.0), (T0 + 5 * H, 10.0)]
    with pytest.raises(ConfigError, match=r"between 2024-06-01T02:30Z and 2024-06-01T04:00Z"):
        greenest_start(holed, duration=H, deadline=T0 + 6 * H, now=T0)


def test_a_gap_after_the_horizon_is_not_an_error() -> None:
    # Points 00:00-05:00, then 20:00. 05:00's value holds until 06:00 (one step), so
    # windows ending by 06:00 do not need what the gap lacks.
    series = [*hourly([300, 300, 300, 300, 200, 50]), (T0 + 20 * H, 80.0)]
    plan = greenest_start(series, duration=H, deadline=T0 + timedelta(hours=5.5), now=T0)
    assert plan.start == T0 + timedelta(hours=4.5)
    assert plan.intensity_g_per_kwh == pytest.approx((200 + 50) / 2)
    plan = greenest_start(series, duration=H, deadline=T0 + 6 * H, now=T0)
    assert plan.start == T0 + 5 * H and plan.intensity_g_per_kwh == pytest.approx(50.0)
    with pytest.raises(ConfigError, match=r"between 2024-06-01T05:00Z and 2024-06-01T20:00Z"):
        greenest_start(series, duration=H, deadline=T0 + timedelta(hours=6, minutes=1), now=T0)


def test_out_of_range_times_are_config_errors() -> None:
    series = hourly([100, 200, 300])
    with pytest.raises(ConfigError, match="at most 100 years"):
        greenest_start(series, duration=timedelta(days=999_999_999), deadline=T0, now=T0)
    # Points at the end of the calendar: the last one's hour would end after 9999.
    late = datetime(9999, 12, 31, 20, tzinfo=timezone.utc)
    with pytest.raises(ConfigError, match="out of range") as info:
        greenest_start(
            hourly([1, 2, 3, 4], start=late),
            duration=H,
            deadline=late + 3 * H + timedelta(minutes=59),
            now=late,
        )
    assert "\n" not in str(info.value)


def test_csv_bad_rows_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,intensity\n2024-06-01T00:00Z,100\n2024-06-01T01:00Z,lots\n")
    with pytest.raises(ConfigError, match=rf"{path}:3: bad intensity"):
        IntensitySeries.from_csv(path)


# -- sources, output, parsing --------------------------------------------------------------


def test_forecast_series_keeps_marginal_and_source() -> None:
    forecast = IntensityForecast(tuple(hourly([400, 300])), "CAISO_NORTH", "WattTime MOER", True)
    series = IntensitySeries.from_forecast(forecast)
    plan = greenest_start(series, duration=H, deadline=T0 + 2 * H, now=T0)
    assert plan.marginal and plan.source == "WattTime MOER"
    assert "gCO2/kWh marginal" in plan.summary_line()


def test_to_dict_is_json_ready() -> None:
    plan = greenest_start(
        hourly([300, 100, 200]), duration=H, deadline=T0 + 3 * H, now=T0, energy_kwh=1
    )
    doc = json.loads(json.dumps(plan.to_dict()))
    assert doc["start"] == "2024-06-01T01:00:00+00:00" and doc["wait_s"] == 3600.0
    assert doc["co2e_g"] == pytest.approx(100.0) and doc["saved_g"] == pytest.approx(200.0)
    assert doc["energy_kwh"] == 1.0 and doc["marginal"] is False
    line = plan.summary_line()
    assert "starting at 2024-06-01T01:00Z, in 1 h 00 min" in line and "200 gCO2e saved" in line
    no_energy = greenest_start(hourly([300, 100, 200]), duration=H, deadline=T0 + 3 * H, now=T0)
    assert no_energy.co2e_g is None and no_energy.saved_g is None
    assert no_energy.saved_pct == pytest.approx(100 * 2 / 3)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90m", 5400),
        ("3h", 10800),
        ("1.5h", 5400),
        ("2h30m", 9000),
        ("2h 30min", 9000),
        ("5400", 5400),
        ("45s", 45),
        ("1d", 86400),
        ("1D2H", 93600),
        ("90min", 5400),
        ("90mins", 5400),
        ("90 minutes", 5400),
        ("2hours", 7200),
        ("3 hrs", 10800),
        ("1hr", 3600),
        ("1day", 86400),
        ("2 days", 172800),
        ("45sec", 45),
        ("45secs", 45),
        ("2 hours 30 mins", 9000),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize(
    "text", ["", "h", "3x", "-2h", "0", "inf", "2h30", "m30", "3 horas", "1mo", "2hourss", "5 y"]
)
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ConfigError, match="invalid duration") as info:
        parse_duration(text)
    assert "\n" not in str(info.value)


def test_parse_duration_lists_examples() -> None:
    with pytest.raises(ConfigError, match=r"use e\.g\. 90m, 90min, 3h, 2 hours, 1\.5h, 2h30m"):
        parse_duration("ninety")


@pytest.mark.parametrize("text", ["1e15", "1e13", "9999999d", "36526d", "876601h"])
def test_parse_duration_caps_at_100_years(text: str) -> None:
    with pytest.raises(ConfigError, match=rf"invalid step '{text}': at most 100 years"):
        parse_duration(text, what="step")
    assert parse_duration("36525d") == MAX_DURATION


def test_parse_deadline_out_of_range() -> None:
    with pytest.raises(ConfigError, match="invalid deadline '9999999d': at most 100 years"):
        parse_deadline("9999999d", T0)
    with pytest.raises(ConfigError, match="invalid deadline '1e13': at most 100 years"):
        parse_deadline("1e13", T0)
    near_end = datetime(9990, 1, 1, tzinfo=timezone.utc)
    with pytest.raises(ConfigError, match=r"invalid deadline '36000d': .*after the year 9999"):
        parse_deadline("36000d", near_end)
    with pytest.raises(ConfigError, match=r"invalid deadline .*out of range"):
        parse_deadline("9999-12-31T23:59-01:00", T0)


def test_parse_deadline() -> None:
    assert parse_deadline("12h", T0) == T0 + 12 * H
    assert parse_deadline("2024-06-02T06:00Z", T0) == T0 + 30 * H
    assert parse_deadline("2024-06-02T08:00+02:00", T0) == T0 + 30 * H
    assert parse_deadline("2024-06-02 06:00", T0) == T0 + 30 * H  # naive: UTC
    with pytest.raises(ConfigError, match="invalid deadline 'soon'"):
        parse_deadline("soon", T0)


def test_describe_deadline_says_how_it_was_read() -> None:
    naive = "2024-06-02T08:00"
    assert describe_deadline(naive, parse_deadline(naive, T0)) == (
        "2024-06-02T08:00Z (read as UTC: no offset given)"
    )
    assert describe_deadline("2024-06-02 08:00", T0 + 32 * H).endswith("no offset given)")
    assert describe_deadline("2024-06-02T08:00Z", T0 + 32 * H) == "2024-06-02T08:00Z"
    aware = "2024-06-02T08:00+02:00"
    assert describe_deadline(aware, parse_deadline(aware, T0)) == (
        "2024-06-02T06:00Z (2024-06-02T08:00+02:00)"
    )
    assert describe_deadline(" 12h ", T0 + 12 * H) == "2024-06-01T12:00Z (12h from now)"
    assert describe_deadline("5400", T0 + 1.5 * H) == "2024-06-01T01:30Z (5400 s from now)"


def test_formatting() -> None:
    assert format_duration(timedelta(hours=2, minutes=5)) == "2 h 05 min"
    assert format_duration(timedelta(minutes=45)) == "45 min"
    assert format_duration(timedelta(days=3, hours=4)) == "3 d 4 h"
    assert format_duration(timedelta(seconds=12)) == "12 s"
    assert format_time(T0 + timedelta(seconds=30.4)) == "2024-06-01T00:00:30Z"
    assert format_time(T0) == "2024-06-01T00:00Z"


# -- a year of hourly points ---------------------------------------------------------------


def test_a_year_of_hourly_points_agrees_with_a_naive_scan() -> None:
    """Speed sanity (the benchmark times it): 8,760 points, week and year deadlines."""
    rng = random.Random(3)
    values = [rng.uniform(20, 600) for _ in range(8760)]
    series = IntensitySeries(tuple(hourly(values)))
    for hours in (24 * 7, 8760):
        plan = greenest_start(series, duration=3 * H, deadline=T0 + hours * H, now=T0)
        sums = [sum(values[k : k + 3]) / 3 for k in range(hours - 2)]
        best = min(range(len(sums)), key=sums.__getitem__)
        assert plan.start == T0 + best * H
        assert plan.intensity_g_per_kwh == pytest.approx(sums[best])
