"""Zone resolution (argument, cloud hint, timezone, world) and PUE defaults."""

from __future__ import annotations

import math
import os
import socket
from pathlib import Path

import pytest

from wattwise.carbon import (
    DATACENTER_PUE,
    LOCAL_PUE,
    PROVIDER_PUE,
    ZoneChoice,
    resolve_pue,
    resolve_zone,
    timezone_country,
)
from wattwise.exceptions import ConfigError, UnknownZoneError


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    """An empty fake /etc."""
    root = tmp_path / "etc"
    root.mkdir()
    return root


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("zone resolution must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def _localtime(etc: Path, target: str) -> None:
    (etc / "localtime").symlink_to(target)


# -- an explicit zone ----------------------------------------------------------------------


@pytest.mark.parametrize("source", ["argument", "environment", "config"])
def test_given_zone_keeps_its_source(source: str, etc: Path) -> None:
    choice = resolve_zone(
        "fr", source=source, environ={"AWS_REGION": "us-east-1"}, etc_root=str(etc)
    )
    assert choice.zone.id == "FRA" and choice.how == source
    assert "'fr'" in choice.detail


def test_given_zone_with_unexpected_source_counts_as_argument(etc: Path) -> None:
    assert resolve_zone("DEU", source="default", etc_root=str(etc)).how == "argument"


def test_given_unknown_zone_raises(etc: Path) -> None:
    with pytest.raises(UnknownZoneError, match="Atlantis"):
        resolve_zone("Atlantis", environ={}, etc_root=str(etc))


def test_blank_zone_is_not_given(etc: Path) -> None:
    assert resolve_zone("  ", environ={}, etc_root=str(etc)).how == "world-average"


# -- cloud-region hints --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"AWS_REGION": "eu-west-3"}, "aws:eu-west-3"),
        ({"AWS_DEFAULT_REGION": "us-east-1"}, "aws:us-east-1"),
        ({"AWS_REGION": "eu-west-3", "AWS_DEFAULT_REGION": "us-east-1"}, "aws:eu-west-3"),
        ({"GOOGLE_CLOUD_REGION": "europe-west1"}, "gcp:europe-west1"),
        ({"CLOUDSDK_COMPUTE_REGION": "us-central1"}, "gcp:us-central1"),
        ({"FUNCTION_REGION": "europe-west9"}, "gcp:europe-west9"),
        ({"AZURE_REGION": "westeurope"}, "azure:westeurope"),
        ({"REGION_NAME": "West Europe"}, "azure:westeurope"),
    ],
)
def test_cloud_region_from_environment(env: dict[str, str], expected: str, etc: Path) -> None:
    choice = resolve_zone(None, environ={**env, "TZ": "Asia/Tokyo"}, etc_root=str(etc))
    assert choice.zone.id == expected and choice.how == "cloud-region"
    assert "guessed from" in choice.detail and "WATTWISE_ZONE" in choice.detail


def test_unknown_cloud_region_falls_through_to_timezone(etc: Path) -> None:
    choice = resolve_zone(
        None, environ={"AWS_REGION": "mars-north-1"}, etc_root=str(etc), tz="Europe/Paris"
    )
    assert choice.zone.id == "FRA" and choice.how == "timezone"
    assert "AWS_REGION=mars-north-1 is not a known aws region" in choice.detail


def test_unknown_cloud_region_and_nothing_else_gives_world(etc: Path) -> None:
    choice = resolve_zone(None, environ={"AWS_REGION": "mars-north-1"}, etc_root=str(etc))
    assert choice.zone.id == "WORLD" and choice.how == "world-average"
    assert "mars-north-1" in choice.detail


# -- timezone ------------------------------------------------------------------------------


def test_tz_argument_wins_over_environment_and_etc(etc: Path) -> None:
    (etc / "timezone").write_text("Asia/Tokyo\n")
    choice = resolve_zone(
        None, environ={"TZ": "America/New_York"}, etc_root=str(etc), tz="Europe/Berlin"
    )
    assert choice.zone.id == "DEU" and choice.how == "timezone"
    assert choice.detail.startswith("guessed from timezone Europe/Berlin")


@pytest.mark.parametrize(
    "value", ["Europe/Paris", ":Europe/Paris", "/usr/share/zoneinfo/Europe/Paris"]
)
def test_tz_environment_variable(value: str, etc: Path) -> None:
    (etc / "timezone").write_text("Asia/Tokyo\n")
    choice = resolve_zone(None, environ={"TZ": value}, etc_root=str(etc))
    assert choice.zone.id == "FRA" and "(TZ)" in choice.detail


def test_etc_timezone_file(etc: Path) -> None:
    (etc / "timezone").write_text("Asia/Tokyo\n")
    _localtime(etc, "/usr/share/zoneinfo/Europe/Paris")
    choice = resolve_zone(None, environ={}, etc_root=str(etc))
    assert choice.zone.id == "JPN"
    assert str(etc / "timezone") in choice.detail


@pytest.mark.parametrize(
    "target",
    [
        "/usr/share/zoneinfo/America/Sao_Paulo",
        "../usr/share/zoneinfo/America/Sao_Paulo",
        "/usr/share/zoneinfo/posix/America/Sao_Paulo",
        "/var/db/timezone/zoneinfo/America/Sao_Paulo",
    ],
)
def test_etc_localtime_link(target: str, etc: Path) -> None:
    _localtime(etc, target)
    choice = resolve_zone(None, environ={}, etc_root=str(etc))
    assert choice.zone.id == "BRA" and choice.how == "timezone"
    assert "America/Sao_Paulo" in choice.detail and str(etc / "localtime") in choice.detail


def test_legacy_timezone_name(etc: Path) -> None:
    assert resolve_zone(None, environ={"TZ": "US/Pacific"}, etc_root=str(etc)).zone.id == "USA"


def test_utc_timezone_gives_world_with_reason(etc: Path) -> None:
    _localtime(etc, "/usr/share/zoneinfo/Etc/UTC")
    choice = resolve_zone(None, environ={}, etc_root=str(etc))
    assert choice.zone.id == "WORLD" and choice.how == "world-average"
    assert "Etc/UTC" in choice.detail and "WATTWISE_ZONE" in choice.detail


def test_nothing_to_guess_from_gives_world(etc: Path) -> None:
    choice = resolve_zone(None, environ={}, etc_root=str(etc))
    assert choice.zone.id == "WORLD" and choice.how == "world-average"
    assert "no cloud region or timezone" in choice.detail


def test_default_environ_is_the_process_environment(
    monkeypatch: pytest.MonkeyPatch, etc: Path
) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_REGION", "europe-west9")
    assert resolve_zone(None, etc_root=str(etc)).zone.id == "gcp:europe-west9"


def test_timezone_country() -> None:
    assert timezone_country("Europe/Paris") == "FRA"
    assert timezone_country("Europe/Amsterdam") == "NLD"
    assert timezone_country("Asia/Calcutta") == "IND"
    assert timezone_country("Atlantic/Reykjavik") == "ISL"
    assert timezone_country("Iceland") is None  # a link to the multi-country Africa/Abidjan
    assert timezone_country("Etc/UTC") is None
    assert timezone_country("Not/A_Zone") is None


# -- PUE -----------------------------------------------------------------------------------


def _choice(zone: str) -> ZoneChoice:
    return resolve_zone(zone, environ={})


def test_user_pue_wins() -> None:
    pue = resolve_pue(1.3, zone_choice=_choice("gcp:europe-west1"), setting="local")
    assert (pue.value, pue.source) == (1.3, "user")


@pytest.mark.parametrize("bad", [0.99, 3.01, -1.0, math.nan, math.inf])
def test_user_pue_is_validated(bad: float) -> None:
    with pytest.raises(ConfigError, match=r"PUE must be between 1\.0 and 3\.0") as info:
        resolve_pue(bad, zone_choice=_choice("FRA"))
    assert "\n" not in str(info.value)


def test_pue_bounds_are_accepted() -> None:
    assert resolve_pue(1.0, zone_choice=_choice("FRA")).value == 1.0
    assert resolve_pue(3.0, zone_choice=_choice("FRA")).value == 3.0


def test_cloud_region_own_pue() -> None:
    pue = resolve_pue(None, zone_choice=_choice("gcp:europe-west1"), environ={})
    assert pue.value == 1.09 and "gcp:europe-west1" in pue.source


@pytest.mark.parametrize(
    ("zone", "provider"),
    [("aws:eu-west-3", "aws"), ("azure:westeurope", "azure"), ("gcp:europe-west9", "gcp")],
)
def test_cloud_region_provider_default(zone: str, provider: str) -> None:
    pue = resolve_pue(None, zone_choice=_choice(zone), environ={})
    assert pue == PROVIDER_PUE[provider]


def test_provider_figures_are_sourced() -> None:
    assert (
        PROVIDER_PUE["gcp"].value == 1.10
        and "2024 Environmental Report" in PROVIDER_PUE["gcp"].source
    )
    assert PROVIDER_PUE["aws"].value == 1.15 and "2023" in PROVIDER_PUE["aws"].source
    assert PROVIDER_PUE["azure"].value == 1.18 and "not confirmed" in PROVIDER_PUE["azure"].source
    assert DATACENTER_PUE.value == 1.58 and "Uptime Institute" in DATACENTER_PUE.source
    assert LOCAL_PUE.value == 1.0


def test_cloud_region_of_a_provider_without_figure() -> None:
    pue = resolve_pue(None, zone_choice=_choice("ovh:gra"), environ={})
    assert pue.value == DATACENTER_PUE.value and "ovh" in pue.source


def test_local_machine_default() -> None:
    assert resolve_pue(None, zone_choice=_choice("FRA"), environ={}) == LOCAL_PUE


@pytest.mark.parametrize("variable", ["SLURM_JOB_ID", "PBS_JOBID"])
def test_batch_job_counts_as_datacenter(variable: str) -> None:
    pue = resolve_pue(None, zone_choice=_choice("FRA"), environ={variable: "123"})
    assert pue.value == 1.58 and variable in pue.source


def test_settings() -> None:
    fra = _choice("FRA")
    env = {"SLURM_JOB_ID": "1"}
    assert resolve_pue(None, zone_choice=fra, setting="local", environ=env) == LOCAL_PUE
    assert resolve_pue(None, zone_choice=_choice("aws:eu-west-3"), setting="local") == LOCAL_PUE
    assert resolve_pue(None, zone_choice=fra, setting="datacenter", environ={}).value == 1.58
    assert resolve_pue(None, zone_choice=fra, setting="cloud", environ={}).value == 1.58
    cloud = resolve_pue(None, zone_choice=fra, setting="cloud", environ={"AWS_REGION": "x"})
    assert cloud == PROVIDER_PUE["aws"]
    assert (
        resolve_pue(None, zone_choice=_choice("aws:eu-west-3"), setting="datacenter")
        == PROVIDER_PUE["aws"]
    )
    with pytest.raises(ConfigError, match="setting"):
        resolve_pue(None, zone_choice=fra, setting="moon")  # type: ignore[arg-type]


def test_pue_default_environ_is_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PBS_JOBID", "7")
    assert "PBS_JOBID" in resolve_pue(None, zone_choice=_choice("FRA")).source
    monkeypatch.delenv("PBS_JOBID")
    for v in ("SLURM_JOB_ID", "LSB_JOBID"):
        if v in os.environ:
            monkeypatch.delenv(v)
    assert resolve_pue(None, zone_choice=_choice("FRA")) == LOCAL_PUE
