"""Live intensity from Electricity Maps and WattTime: time-boxed, cached, errors translated.

Only used when the user asks for live intensity and has set a key; plain ``urllib``, so
no extra dependency and the usual ``*_PROXY`` variables apply.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from wattwise._version import __version__
from wattwise.carbon._hourly import parse_timestamp
from wattwise.carbon._intensity import Intensity, IntensityProvider, check_g_per_kwh
from wattwise.carbon._zones import Zone
from wattwise.exceptions import ConfigError, IntensityError

__all__ = [
    "ElectricityMapsIntensity",
    "IntensityForecast",
    "WattTimeIntensity",
    "electricitymaps_zone",
    "live_provider_from_env",
]

ELECTRICITYMAPS_URL = "https://api.electricitymap.org"
WATTTIME_URL = "https://api.watttime.org"
G_PER_KWH_PER_LB_PER_MWH = 0.45359237
"""1 lb/MWh = 453.59237 g / 1000 kWh."""
_MAX_BODY = 1_000_000
FORECAST_TIMEOUT_S = 10.0
"""Time limit of one forecast download, all requests included (a forecast is asked for
once, before a job is scheduled, so it may take longer than a "latest" figure)."""


@dataclass(frozen=True)
class IntensityForecast:
    """A provider's intensity forecast: ``(time, gCO2e/kWh)`` points, sorted by time.

    Each value holds from its time until the next point's. ``marginal`` is True for a
    marginal emission rate (WattTime's MOER: the CO2 of the plant that answers a change in
    demand), False for an average intensity of the grid's mix; ``source`` says which, in
    words. A forecast is a prediction: the intensity that happens may differ.
    """

    points: tuple[tuple[datetime, float], ...]
    zone: str
    source: str
    marginal: bool


class _HttpStatusError(IntensityError):
    """An HTTP error answer; ``status`` is its code."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class _Cache:
    """One value kept for ``ttl_s`` seconds (monotonic clock)."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._value: Intensity | None = None
        self._at = 0.0

    def get(self) -> Intensity | None:
        if self._value is not None and time.monotonic() - self._at < self.ttl_s:
            return self._value
        return None

    def put(self, value: Intensity) -> None:
        self._value, self._at = value, time.monotonic()


def _get_json(url: str, headers: Mapping[str, str], deadline: float, what: str) -> Any:
    """GET ``url`` and parse JSON, all before ``deadline``; IntensityError on any failure."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise IntensityError(f"{what}: no answer within the time limit")
    request = urllib.request.Request(
        url,
        headers={"Accept": "application/json", "User-Agent": f"wattwise/{__version__}", **headers},
    )
    host = urllib.parse.urlsplit(url).netloc
    try:
        # A fresh opener reads the *_PROXY variables now, not at the first call in the process.
        opener = urllib.request.build_opener()
        with opener.open(request, timeout=remaining) as response:
            chunks: list[bytes] = []
            size = 0
            while chunk := response.read(65536):
                size += len(chunk)
                if size > _MAX_BODY:
                    raise IntensityError(f"{what}: the answer is larger than expected")
                if time.monotonic() > deadline:
                    raise IntensityError(f"{what}: no complete answer within the time limit")
                chunks.append(chunk)
    except urllib.error.HTTPError as exc:
        exc.close()
        message = f"{what}: HTTP {exc.code} from {host}{_hint(exc.code)}"
        raise _HttpStatusError(message, exc.code) from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise IntensityError(f"{what}: no answer from {host} within the time limit") from exc
        raise IntensityError(f"{what}: cannot reach {host}: {exc.reason}") from exc
    except TimeoutError as exc:
        raise IntensityError(f"{what}: no answer from {host} within the time limit") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise IntensityError(f"{what}: connection to {host} failed: {exc}") from exc
    try:
        return json.loads(b"".join(chunks))
    except ValueError as exc:
        raise IntensityError(f"{what}: the answer from {host} is not JSON") from exc


def _hint(code: int) -> str:
    if code in (401, 403):
        return " (authentication failed: check the key or credentials)"
    if code == 404:
        return " (unknown zone or region: set WATTWISE_LIVE_ZONE to the provider's code)"
    if code == 429:
        return " (rate limited)"
    return ""


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IntensityError(f"{what}: the answer has no intensity value")
    try:
        return check_g_per_kwh(float(value), what)
    except ConfigError as exc:
        raise IntensityError(str(exc)) from None


def _time(value: object, what: str) -> datetime:
    try:
        return parse_timestamp(str(value))
    except ValueError:
        raise IntensityError(f"{what}: the answer has no valid time ({value!r})") from None


class ElectricityMapsIntensity(IntensityProvider):
    """Latest carbon intensity of an Electricity Maps zone (``FR``, ``DE``, ``US-CAL-CISO``).

    Calls ``GET /v3/carbon-intensity/latest?zone=...`` with the ``auth-token`` header, at
    most once per ``cache_s`` seconds, each call within ``timeout_s`` seconds in all. The
    latest value is returned whatever ``at`` (the tracker asks about the present).
    """

    def __init__(
        self,
        zone_code: str,
        token: str,
        *,
        base_url: str = ELECTRICITYMAPS_URL,
        timeout_s: float = 2.0,
        cache_s: float = 900.0,
    ) -> None:
        self.zone_code = zone_code
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._token = token
        self._cache = _Cache(cache_s)
        self._lock = threading.Lock()

    def intensity_at(self, at: datetime) -> Intensity:
        """The zone's latest live figure (cached)."""
        with self._lock:
            cached = self._cache.get()
            if cached is None:
                cached = self._fetch(time.monotonic() + self.timeout_s)
                self._cache.put(cached)
            return cached

    def _fetch(self, deadline: float) -> Intensity:
        what = f"Electricity Maps (zone {self.zone_code})"
        query = urllib.parse.urlencode({"zone": self.zone_code})
        url = f"{self.base_url}/v3/carbon-intensity/latest?{query}"
        data = _get_json(url, {"auth-token": self._token}, deadline, what)
        if not isinstance(data, dict):
            raise IntensityError(f"{what}: unexpected answer")
        value = _number(data.get("carbonIntensity"), what)
        at = _time(data.get("datetime"), what)
        details = [f"{at:%Y-%m-%dT%H:%MZ}"]
        if data.get("emissionFactorType"):
            details.append(str(data["emissionFactorType"]))
        if data.get("isEstimated"):
            details.append("estimated")
        source = f"Electricity Maps live, zone {self.zone_code} ({', '.join(details)})"
        return Intensity(value, self.zone_code, at.year, source, "live")

    def forecast(
        self, deadline: datetime | None = None, *, timeout_s: float = FORECAST_TIMEOUT_S
    ) -> IntensityForecast:
        """The zone's intensity forecast (``GET /v3/carbon-intensity/forecast?zone=...``).

        Average intensity of the zone's electricity (lifecycle emission factors unless the
        answer says otherwise), hourly, as far ahead as the account's plan allows (typically
        24-72 h: https://docs.electricitymaps.com). Points after ``deadline`` are dropped,
        except the first one, which closes the last period. Not cached; IntensityError on
        failure.
        """
        what = f"Electricity Maps forecast (zone {self.zone_code})"
        query = urllib.parse.urlencode({"zone": self.zone_code})
        url = f"{self.base_url}/v3/carbon-intensity/forecast?{query}"
        data = _get_json(url, {"auth-token": self._token}, time.monotonic() + timeout_s, what)
        if not isinstance(data, dict):
            raise IntensityError(f"{what}: unexpected answer")
        rows = data.get("forecast")
        if not isinstance(rows, list) or not rows:
            raise IntensityError(f"{what}: the answer has no forecast")
        points = []
        for row in rows:
            if not isinstance(row, dict):
                raise IntensityError(f"{what}: unexpected forecast entry {row!r}")
            points.append(
                (_time(row.get("datetime"), what), _number(row.get("carbonIntensity"), what))
            )
        details = ["average intensity"]
        factor = data.get("emissionFactorType") or rows[0].get("emissionFactorType")
        if factor:
            details.append(str(factor))
        if isinstance(data.get("updatedAt"), str):
            details.append(f"updated {data['updatedAt']}")
        source = f"Electricity Maps forecast, zone {self.zone_code} ({', '.join(details)})"
        return IntensityForecast(_until(points, deadline), self.zone_code, source, False)

    def __repr__(self) -> str:
        return f"ElectricityMapsIntensity({self.zone_code!r})"


class WattTimeIntensity(IntensityProvider):
    """WattTime's current marginal CO2 rate (``co2_moer``) for a region (``CAISO_NORTH``).

    Logs in with ``GET /login`` (basic auth; the token is kept 25 minutes, WattTime's
    last 30), then reads ``GET /v3/forecast?signal_type=co2_moer&horizon_hours=0``,
    converting lbs/MWh to g/kWh. A marginal rate counts CO2 only and is not an average
    intensity; ``source`` says so. (``/v3/signal-index`` gives only a percentile.)
    """

    token_ttl_s = 25 * 60.0

    def __init__(
        self,
        username: str,
        password: str,
        region: str,
        *,
        base_url: str = WATTTIME_URL,
        timeout_s: float = 2.0,
        cache_s: float = 300.0,
    ) -> None:
        self.region = region
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._basic = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._token: str | None = None
        self._token_at = 0.0
        self._cache = _Cache(cache_s)
        self._lock = threading.Lock()

    def intensity_at(self, at: datetime) -> Intensity:
        """The region's current marginal rate (cached)."""
        with self._lock:
            cached = self._cache.get()
            if cached is None:
                cached = self._fetch(time.monotonic() + self.timeout_s)
                self._cache.put(cached)
            return cached

    def _login(self, deadline: float) -> str:
        if self._token and time.monotonic() - self._token_at < self.token_ttl_s:
            return self._token
        what = "WattTime login"
        data = _get_json(
            f"{self.base_url}/login", {"Authorization": f"Basic {self._basic}"}, deadline, what
        )
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise IntensityError(f"{what}: the answer has no token")
        self._token, self._token_at = token, time.monotonic()
        return token

    def _get_forecast(self, params: Mapping[str, object], deadline: float, what: str) -> Any:
        """``GET /v3/forecast`` with the token, logging in again once if it was refused."""
        query = urllib.parse.urlencode({"region": self.region, "signal_type": "co2_moer", **params})
        url = f"{self.base_url}/v3/forecast?{query}"
        token = self._login(deadline)
        try:
            data = _get_json(url, {"Authorization": f"Bearer {token}"}, deadline, what)
        except _HttpStatusError as exc:
            if exc.status != 401:
                raise
            self._token = None  # expired early: log in again, once
            token = self._login(deadline)
            data = _get_json(url, {"Authorization": f"Bearer {token}"}, deadline, what)
        if not isinstance(data, dict):
            raise IntensityError(f"{what}: unexpected answer")
        return data

    def _fetch(self, deadline: float) -> Intensity:
        what = f"WattTime (region {self.region})"
        data = self._get_forecast({"horizon_hours": 0}, deadline, what)
        points = data.get("data")
        meta = data.get("meta")
        if not isinstance(meta, dict):
            meta = {}
        if not isinstance(points, list) or not points or not isinstance(points[0], dict):
            raise IntensityError(f"{what}: the answer has no data point")
        value = _moer(points[0].get("value"), str(meta.get("units", "lbs_co2_per_mwh")), what)
        at = _time(points[0].get("point_time"), what)
        source = (
            f"WattTime marginal CO2 rate (co2_moer; CO2 only, marginal not average), "
            f"region {self.region} ({at:%Y-%m-%dT%H:%MZ})"
        )
        return Intensity(value, self.region, at.year, source, "live")

    def forecast(
        self, deadline: datetime | None = None, *, timeout_s: float = FORECAST_TIMEOUT_S
    ) -> IntensityForecast:
        """The region's marginal CO2 rate forecast (``GET /v3/forecast?signal_type=co2_moer``).

        WattTime's whole forecast horizon (24-72 h depending on the region, 5-minute points:
        https://docs.watttime.org), lbs/MWh converted to g/kWh. A marginal rate, CO2 only,
        not an average intensity: ``marginal`` is True and ``source`` says so. Points after
        ``deadline`` are dropped, except the first one, which closes the last period. Not
        cached; IntensityError on failure.
        """
        what = f"WattTime forecast (region {self.region})"
        data = self._get_forecast({}, time.monotonic() + timeout_s, what)
        rows = data.get("data")
        meta = data.get("meta")
        if not isinstance(meta, dict):
            meta = {}
        if not isinstance(rows, list) or not rows:
            raise IntensityError(f"{what}: the answer has no data point")
        units = str(meta.get("units", "lbs_co2_per_mwh"))
        points = []
        for row in rows:
            if not isinstance(row, dict):
                raise IntensityError(f"{what}: unexpected data point {row!r}")
            points.append(
                (_time(row.get("point_time"), what), _moer(row.get("value"), units, what))
            )
        generated = meta.get("generated_at")
        details = f", generated {generated}" if isinstance(generated, str) and generated else ""
        source = (
            f"WattTime marginal CO2 rate forecast (co2_moer; CO2 only, marginal not average), "
            f"region {self.region}{details}"
        )
        return IntensityForecast(_until(points, deadline), self.region, source, True)

    def __repr__(self) -> str:
        return f"WattTimeIntensity({self.region!r})"


def _moer(raw: object, units: str, what: str) -> float:
    """A WattTime value in g/kWh: lbs/MWh × 0.45359237; kg/MWh is g/kWh already."""
    if units == "lbs_co2_per_mwh" and isinstance(raw, int | float) and not isinstance(raw, bool):
        raw = raw * G_PER_KWH_PER_LB_PER_MWH
    elif units not in ("lbs_co2_per_mwh", "kg_co2_per_mwh", "g_co2_per_kwh"):
        raise IntensityError(f"{what}: unsupported units {units!r}")
    return _number(raw, what)


def _until(
    points: list[tuple[datetime, float]], deadline: datetime | None
) -> tuple[tuple[datetime, float], ...]:
    """Sorted ``points``, without those after the first one at or past ``deadline``."""
    points = sorted(points, key=lambda p: p[0])
    if deadline is None:
        return tuple(points)
    if deadline.tzinfo is None:
        deadline = deadline.replace(tzinfo=timezone.utc)
    kept = [p for p in points if p[0] < deadline]
    kept.extend(p for p in points[len(kept) :][:1])
    return tuple(kept)


def electricitymaps_zone(zone: Zone) -> str | None:
    """The Electricity Maps zone code for a zone: its country's ISO2, where that is simple.

    None for US states and the world (Electricity Maps splits the US by grid operator:
    set ``WATTWISE_LIVE_ZONE``, e.g. ``US-CAL-CISO``).
    """
    if zone.kind in ("country", "cloud_region") and zone.iso2:
        return zone.iso2
    return None


def live_provider_from_env(
    zone: Zone, environ: Mapping[str, str] | None = None
) -> IntensityProvider | None:
    """A live provider configured by environment variables, or None when no key is set.

    ``ELECTRICITYMAPS_API_KEY`` (or ``WATTWISE_ELECTRICITYMAPS_TOKEN``) selects Electricity
    Maps, for the zone's country code or ``WATTWISE_LIVE_ZONE``. Otherwise
    ``WATTTIME_USERNAME`` and ``WATTTIME_PASSWORD`` select WattTime, for the region in
    ``WATTWISE_LIVE_ZONE`` (required). A key without a usable zone raises ConfigError.
    """
    env = os.environ if environ is None else environ
    live_zone = env.get("WATTWISE_LIVE_ZONE", "").strip()
    token = (
        env.get("ELECTRICITYMAPS_API_KEY", "").strip()
        or env.get("WATTWISE_ELECTRICITYMAPS_TOKEN", "").strip()
    )
    if token:
        code = live_zone or electricitymaps_zone(zone)
        if not code:
            raise ConfigError(
                f"Electricity Maps has no simple zone code for {zone.id}: set "
                "WATTWISE_LIVE_ZONE to its zone code (e.g. US-CAL-CISO)"
            )
        return ElectricityMapsIntensity(code, token)
    username = env.get("WATTTIME_USERNAME", "").strip()
    password = env.get("WATTTIME_PASSWORD", "")
    if username and password:
        if not live_zone:
            raise ConfigError("WattTime needs a region: set WATTWISE_LIVE_ZONE (e.g. CAISO_NORTH)")
        return WattTimeIntensity(username, password, live_zone)
    return None
