"""Live providers against a real HTTP server on 127.0.0.1 (no outside network)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from wattwise.carbon import (
    ElectricityMapsIntensity,
    FallbackIntensity,
    IntensityFallbackWarning,
    StaticIntensity,
    WattTimeIntensity,
    electricitymaps_zone,
    live_provider_from_env,
    load_zones,
)
from wattwise.exceptions import ConfigError, IntensityError

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)
Reply = tuple[int, Any]  # status, JSON body (bytes are sent as they are)


@dataclass
class FakeApi:
    """Routes path -> handler(request) -> (status, body); records every request."""

    url: str
    routes: dict[str, Callable[[BaseHTTPRequestHandler], Reply]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def count(self, prefix: str) -> int:
        return sum(1 for path, _ in self.requests if path.startswith(prefix))


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def api() -> Iterator[FakeApi]:
    state: dict[str, FakeApi] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fake = state["api"]
            fake.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            route = fake.routes.get(self.path.split("?", 1)[0])
            status, body = route(self) if route else (404, {"error": "no route"})
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (the timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["api"] = FakeApi(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state["api"]
    finally:
        state["api"].release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def _em_ok(request: BaseHTTPRequestHandler) -> Reply:
    return 200, {
        "zone": "FR",
        "carbonIntensity": 48,
        "datetime": "2024-06-01T11:00:00.000Z",
        "updatedAt": "2024-06-01T11:20:00.000Z",
        "emissionFactorType": "lifecycle",
        "isEstimated": True,
    }


# -- Electricity Maps ----------------------------------------------------------------------


def test_electricitymaps_success_and_cache(api: FakeApi) -> None:
    api.routes["/v3/carbon-intensity/latest"] = _em_ok
    provider = ElectricityMapsIntensity("FR", "secret-token", base_url=api.url + "/")
    value = provider.intensity_at(NOW)
    assert value.g_per_kwh == 48 and value.kind == "live" and value.zone == "FR"
    assert value.year == 2024
    assert value.source == (
        "Electricity Maps live, zone FR (2024-06-01T11:00Z, lifecycle, estimated)"
    )
    path, headers = api.requests[0]
    assert path == "/v3/carbon-intensity/latest?zone=FR"
    assert headers["auth-token"] == "secret-token"
    assert provider.intensity_at(NOW) == value
    assert api.count("/v3/") == 1  # the second answer came from the cache
    assert "FR" in repr(provider)


def test_electricitymaps_cache_expires(api: FakeApi) -> None:
    api.routes["/v3/carbon-intensity/latest"] = _em_ok
    provider = ElectricityMapsIntensity("FR", "t", base_url=api.url, cache_s=0.0)
    provider.intensity_at(NOW)
    provider.intensity_at(NOW)
    assert api.count("/v3/") == 2


def test_electricitymaps_401(api: FakeApi) -> None:
    api.routes["/v3/carbon-intensity/latest"] = lambda r: (401, {"message": "bad token"})
    provider = ElectricityMapsIntensity("FR", "wrong", base_url=api.url)
    with pytest.raises(IntensityError, match="HTTP 401") as info:
        provider.intensity_at(NOW)
    assert "authentication failed" in str(info.value)
    assert "wrong" not in str(info.value)  # never print the token


def test_electricitymaps_unknown_zone_hint(api: FakeApi) -> None:
    provider = ElectricityMapsIntensity("XX", "t", base_url=api.url)
    with pytest.raises(IntensityError, match=r"HTTP 404.*WATTWISE_LIVE_ZONE"):
        provider.intensity_at(NOW)


def test_electricitymaps_timeout_is_bounded(api: FakeApi) -> None:
    def slow(request: BaseHTTPRequestHandler) -> Reply:
        api.release.wait(10)
        return _em_ok(request)

    api.routes["/v3/carbon-intensity/latest"] = slow
    provider = ElectricityMapsIntensity("FR", "t", base_url=api.url)
    assert provider.timeout_s == 2.0
    start = time.monotonic()
    with pytest.raises(IntensityError, match="within the time limit"):
        provider.intensity_at(NOW)
    assert time.monotonic() - start < 3.0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>oops</html>", "not JSON"),
        ([], "unexpected answer"),
        ({"datetime": "2024-06-01T11:00:00Z"}, "no intensity value"),
        ({"carbonIntensity": None, "datetime": "2024-06-01T11:00:00Z"}, "no intensity value"),
        ({"carbonIntensity": 99999, "datetime": "2024-06-01T11:00:00Z"}, "0-3000"),
        ({"carbonIntensity": 10}, "no valid time"),
    ],
)
def test_electricitymaps_bad_answers(api: FakeApi, body: Any, message: str) -> None:
    api.routes["/v3/carbon-intensity/latest"] = lambda r: (200, body)
    with pytest.raises(IntensityError, match=message):
        ElectricityMapsIntensity("FR", "t", base_url=api.url).intensity_at(NOW)


def test_unreachable_server() -> None:
    provider = ElectricityMapsIntensity("FR", "t", base_url="http://127.0.0.1:9")
    with pytest.raises(IntensityError, match=r"cannot reach 127\.0\.0\.1:9"):
        provider.intensity_at(NOW)


def test_fallback_to_static_warns_once(api: FakeApi) -> None:
    api.routes["/v3/carbon-intensity/latest"] = lambda r: (401, {"message": "no"})
    fra = load_zones().get("FRA")
    provider = FallbackIntensity(
        ElectricityMapsIntensity("FR", "t", base_url=api.url), StaticIntensity(fra), retry_s=0
    )
    with pytest.warns(IntensityFallbackWarning, match="Electricity Maps.*HTTP 401"):
        value = provider.intensity_at(NOW)
    assert value.kind == "static" and value.g_per_kwh == fra.intensity_g_per_kwh
    assert provider.intensity_at(NOW) == value  # second failure: no second warning
    assert api.count("/v3/") == 2


# -- WattTime ------------------------------------------------------------------------------


def _watttime(api: FakeApi, units: str = "lbs_co2_per_mwh", value: float = 1000.0) -> None:
    expected = "Basic " + base64.b64encode(b"ada:pw").decode()

    def login(request: BaseHTTPRequestHandler) -> Reply:
        if request.headers.get("Authorization") != expected:
            return 401, {"error": "bad credentials"}
        return 200, {"token": f"tok{api.count('/login')}"}

    def forecast(request: BaseHTTPRequestHandler) -> Reply:
        if not str(request.headers.get("Authorization", "")).startswith("Bearer tok"):
            return 401, {"error": "bad token"}
        return 200, {
            "data": [{"point_time": "2024-06-01T12:00:00+00:00", "value": value}],
            "meta": {"region": "CAISO_NORTH", "signal_type": "co2_moer", "units": units},
        }

    api.routes["/login"] = login
    api.routes["/v3/forecast"] = forecast


def test_watttime_success_converts_lbs_per_mwh(api: FakeApi) -> None:
    _watttime(api)
    provider = WattTimeIntensity("ada", "pw", "CAISO_NORTH", base_url=api.url, cache_s=0)
    value = provider.intensity_at(NOW)
    assert value.g_per_kwh == pytest.approx(453.59237)
    assert value.kind == "live" and value.zone == "CAISO_NORTH" and value.year == 2024
    assert "marginal" in value.source and "CO2 only" in value.source
    path, headers = api.requests[-1]
    assert path.startswith("/v3/forecast?") and "region=CAISO_NORTH" in path
    assert "signal_type=co2_moer" in path and "horizon_hours=0" in path
    assert headers["authorization"] == "Bearer tok1"
    provider.intensity_at(NOW)
    assert api.count("/login") == 1  # token reused
    assert "CAISO_NORTH" in repr(provider)


def test_watttime_kg_per_mwh_is_g_per_kwh(api: FakeApi) -> None:
    _watttime(api, units="kg_co2_per_mwh", value=300.0)
    provider = WattTimeIntensity("ada", "pw", "DE", base_url=api.url)
    assert provider.intensity_at(NOW).g_per_kwh == 300.0


def test_watttime_percentile_is_refused(api: FakeApi) -> None:
    _watttime(api, units="percentile", value=50.0)
    with pytest.raises(IntensityError, match="unsupported units 'percentile'"):
        WattTimeIntensity("ada", "pw", "DE", base_url=api.url).intensity_at(NOW)


def test_watttime_bad_credentials(api: FakeApi) -> None:
    _watttime(api)
    with pytest.raises(IntensityError, match="WattTime login: HTTP 401"):
        WattTimeIntensity("ada", "nope", "DE", base_url=api.url).intensity_at(NOW)


def test_watttime_logs_in_again_when_the_token_is_refused(api: FakeApi) -> None:
    _watttime(api)
    provider = WattTimeIntensity("ada", "pw", "DE", base_url=api.url, cache_s=0)
    provider.intensity_at(NOW)
    refused = {"done": False}
    good = api.routes["/v3/forecast"]

    def once_401(request: BaseHTTPRequestHandler) -> Reply:
        if not refused["done"]:
            refused["done"] = True
            return 401, {"error": "expired"}
        return good(request)

    api.routes["/v3/forecast"] = once_401
    assert provider.intensity_at(NOW).g_per_kwh == pytest.approx(453.59237)
    assert api.count("/login") == 2


@pytest.mark.parametrize(
    "body",
    [{"meta": {}}, {"data": [], "meta": {}}, {"data": ["x"]}, {"token": None}, []],
)
def test_watttime_bad_answers(api: FakeApi, body: Any) -> None:
    _watttime(api)
    api.routes["/v3/forecast"] = lambda r: (200, body)
    with pytest.raises(IntensityError):
        WattTimeIntensity("ada", "pw", "DE", base_url=api.url).intensity_at(NOW)


def test_watttime_login_without_token(api: FakeApi) -> None:
    api.routes["/login"] = lambda r: (200, {"nothing": 1})
    with pytest.raises(IntensityError, match="no token"):
        WattTimeIntensity("ada", "pw", "DE", base_url=api.url).intensity_at(NOW)


# -- from the environment ------------------------------------------------------------------


def test_no_key_no_provider() -> None:
    assert live_provider_from_env(load_zones().get("FRA"), {}) is None


def test_default_environ_is_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("ELECTRICITYMAPS_API_KEY", "WATTTIME_USERNAME", "WATTTIME_PASSWORD"):
        monkeypatch.delenv(key, raising=False)
    assert live_provider_from_env(load_zones().get("FRA")) is None
    monkeypatch.setenv("ELECTRICITYMAPS_API_KEY", "k")
    assert isinstance(live_provider_from_env(load_zones().get("FRA")), ElectricityMapsIntensity)


@pytest.mark.parametrize("key", ["ELECTRICITYMAPS_API_KEY", "WATTWISE_ELECTRICITYMAPS_TOKEN"])
def test_electricitymaps_from_env(key: str) -> None:
    provider = live_provider_from_env(load_zones().get("FRA"), {key: "k"})
    assert isinstance(provider, ElectricityMapsIntensity) and provider.zone_code == "FR"
    cloud = live_provider_from_env(load_zones().get("gcp:europe-west1"), {key: "k"})
    assert isinstance(cloud, ElectricityMapsIntensity) and cloud.zone_code == "BE"


def test_live_zone_override_and_us_states() -> None:
    env = {"ELECTRICITYMAPS_API_KEY": "k", "WATTWISE_LIVE_ZONE": "US-CAL-CISO"}
    provider = live_provider_from_env(load_zones().get("US-CA"), env)
    assert isinstance(provider, ElectricityMapsIntensity)
    assert provider.zone_code == "US-CAL-CISO"
    with pytest.raises(ConfigError, match="WATTWISE_LIVE_ZONE"):
        live_provider_from_env(load_zones().get("US-CA"), {"ELECTRICITYMAPS_API_KEY": "k"})
    with pytest.raises(ConfigError, match="WATTWISE_LIVE_ZONE"):
        live_provider_from_env(load_zones().world(), {"ELECTRICITYMAPS_API_KEY": "k"})


def test_watttime_from_env() -> None:
    fra = load_zones().get("FRA")
    creds = {"WATTTIME_USERNAME": "ada", "WATTTIME_PASSWORD": "pw"}
    with pytest.raises(ConfigError, match="WattTime needs a region"):
        live_provider_from_env(fra, creds)
    provider = live_provider_from_env(fra, {**creds, "WATTWISE_LIVE_ZONE": "FR"})
    assert isinstance(provider, WattTimeIntensity) and provider.region == "FR"
    # Electricity Maps is preferred when both are configured.
    both = live_provider_from_env(fra, {**creds, "ELECTRICITYMAPS_API_KEY": "k"})
    assert isinstance(both, ElectricityMapsIntensity)


def test_electricitymaps_zone_codes() -> None:
    table = load_zones()
    assert electricitymaps_zone(table.get("DEU")) == "DE"
    assert electricitymaps_zone(table.get("azure:westeurope")) == "NL"
    assert electricitymaps_zone(table.get("US-TX")) is None
    assert electricitymaps_zone(table.world()) is None


# -- forecasts -----------------------------------------------------------------------------


def _em_forecast(request: BaseHTTPRequestHandler) -> Reply:
    return 200, {
        "zone": "DE",
        "forecast": [
            {"carbonIntensity": 310, "datetime": "2024-06-01T13:00:00.000Z"},
            {"carbonIntensity": 290, "datetime": "2024-06-01T12:00:00.000Z"},
            {"carbonIntensity": 150, "datetime": "2024-06-01T14:00:00.000Z"},
            {"carbonIntensity": 120, "datetime": "2024-06-01T15:00:00.000Z"},
        ],
        "updatedAt": "2024-06-01T11:45:00.000Z",
    }


def test_electricitymaps_forecast(api: FakeApi) -> None:
    api.routes["/v3/carbon-intensity/forecast"] = _em_forecast
    provider = ElectricityMapsIntensity("DE", "secret-token", base_url=api.url)
    forecast = provider.forecast()
    hour = timedelta(hours=1)
    assert forecast.points == (
        (NOW, 290.0),
        (NOW + hour, 310.0),
        (NOW + 2 * hour, 150.0),
        (NOW + 3 * hour, 120.0),
    )
    assert forecast.zone == "DE" and not forecast.marginal
    assert forecast.source == (
        "Electricity Maps forecast, zone DE (average intensity, updated 2024-06-01T11:45:00.000Z)"
    )
    path, headers = api.requests[-1]
    assert path == "/v3/carbon-intensity/forecast?zone=DE"
    assert headers["auth-token"] == "secret-token"
    # Up to a deadline: the first point at or past it closes the last period.
    assert len(provider.forecast(NOW + hour + timedelta(minutes=1)).points) == 3
    assert len(provider.forecast(NOW + hour).points) == 2
    assert api.count("/v3/carbon-intensity/forecast") == 3  # never cached


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "unexpected answer"),
        ({"forecast": []}, "no forecast"),
        ({"forecast": ["x"]}, "unexpected forecast entry"),
        ({"forecast": [{"carbonIntensity": 5}]}, "no valid time"),
        ({"forecast": [{"datetime": "2024-06-01T12:00Z"}]}, "no intensity value"),
        ({"forecast": [{"datetime": "2024-06-01T12:00Z", "carbonIntensity": -1}]}, "0-3000"),
    ],
)
def test_electricitymaps_forecast_bad_answers(api: FakeApi, body: Any, message: str) -> None:
    api.routes["/v3/carbon-intensity/forecast"] = lambda r: (200, body)
    with pytest.raises(IntensityError, match=message):
        ElectricityMapsIntensity("DE", "t", base_url=api.url).forecast()


def test_electricitymaps_forecast_http_error(api: FakeApi) -> None:
    api.routes["/v3/carbon-intensity/forecast"] = lambda r: (403, {"message": "plan"})
    with pytest.raises(IntensityError, match=r"Electricity Maps forecast \(zone DE\): HTTP 403"):
        ElectricityMapsIntensity("DE", "t", base_url=api.url).forecast()


def test_watttime_forecast_converts_and_says_marginal(api: FakeApi) -> None:
    _watttime(api)
    minutes = [0, 5, 10]

    def forecast(request: BaseHTTPRequestHandler) -> Reply:
        if not str(request.headers.get("Authorization", "")).startswith("Bearer tok"):
            return 401, {"error": "bad token"}
        return 200, {
            "data": [
                {"point_time": f"2024-06-01T12:{m:02d}:00+00:00", "value": 1000.0 + m}
                for m in minutes
            ],
            "meta": {
                "region": "CAISO_NORTH",
                "signal_type": "co2_moer",
                "units": "lbs_co2_per_mwh",
                "generated_at": "2024-06-01T11:55:00+00:00",
            },
        }

    api.routes["/v3/forecast"] = forecast
    provider = WattTimeIntensity("ada", "pw", "CAISO_NORTH", base_url=api.url)
    result = provider.forecast()
    assert [p[0].minute for p in result.points] == minutes
    assert result.points[1][1] == pytest.approx(1005.0 * 0.45359237)
    assert result.marginal and result.zone == "CAISO_NORTH"
    assert "marginal not average" in result.source and "CO2 only" in result.source
    assert "generated 2024-06-01T11:55:00+00:00" in result.source
    path, headers = api.requests[-1]
    assert path == "/v3/forecast?region=CAISO_NORTH&signal_type=co2_moer"
    assert headers["authorization"] == "Bearer tok1"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"meta": {}}, "no data point"),
        ({"data": ["x"], "meta": {}}, "unexpected data point"),
        (
            {"data": [{"point_time": "2024-06-01T12:00Z", "value": 1}], "meta": {"units": "%"}},
            "unsupported units",
        ),
        ({"data": [{"point_time": "2024-06-01T12:00Z", "value": True}]}, "no intensity value"),
    ],
)
def test_watttime_forecast_bad_answers(api: FakeApi, body: Any, message: str) -> None:
    _watttime(api)
    api.routes["/v3/forecast"] = lambda r: (200, body)
    with pytest.raises(IntensityError, match=message):
        WattTimeIntensity("ada", "pw", "DE", base_url=api.url).forecast()
