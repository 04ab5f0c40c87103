from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wattwise.config import TrackerConfig, config_file_path, resolve_config
from wattwise.exceptions import ConfigError, WattwiseError


def test_precedence_argument_environment_file_default(tmp_path: Path) -> None:
    cfg_file = tmp_path / "w.toml"
    cfg_file.write_text('[wattwise]\nzone = "DEU"\npue = 1.3\ninterval_s = 2.0\n')
    env = {"WATTWISE_PUE": "1.2", "WATTWISE_CONFIG": str(cfg_file)}
    cfg = resolve_config(environ=env, zone="FRA")
    assert (cfg.zone, cfg.pue, cfg.interval_s, cfg.checkpoint_s) == ("FRA", 1.2, 2.0, 10.0)
    assert cfg.source_of("zone") == "argument"
    assert cfg.source_of("pue") == "environment"
    assert cfg.source_of("interval_s") == "config"
    assert cfg.source_of("checkpoint_s") == "default"


def test_local_and_user_config_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = tmp_path / "xdg-config" / "wattwise" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text('headline = "process"\n')
    assert config_file_path() == user
    assert resolve_config().headline == "process"
    (tmp_path / "wattwise.toml").write_text('headline = "machine"\n')
    assert resolve_config().headline == "machine"


def test_base_config_is_kept_and_overridden() -> None:
    base = resolve_config(environ={}, zone="FRA", pue=1.1)
    cfg = resolve_config(environ={}, base=base, pue=1.4)
    assert (cfg.zone, cfg.pue) == ("FRA", 1.4)
    assert cfg.source_of("zone") == "argument"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("pue", 0.5, "PUE must be between 1.0 and 3.0"),
        ("pue", 40.0, "PUE must be between"),
        ("interval_s", 0.01, "between 0.1 and 60"),
        ("interval_s", float("nan"), "finite"),
        ("price_per_kwh", -1.0, "0-10"),
        ("intensity_g_per_kwh", 9999.0, "0-3000"),
        ("headline", "both", "machine, process"),
        ("zone", " ", "empty"),
        ("checkpoint_s", 0.1, "between 1 and 3600"),
    ],
)
def test_bad_values_are_one_line_config_errors(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        resolve_config(environ={}, **{field: value})
    assert isinstance(info.value, WattwiseError)
    assert "\n" not in str(info.value)


def test_bad_environment_value() -> None:
    with pytest.raises(ConfigError, match="WATTWISE_PUE"):
        resolve_config(environ={"WATTWISE_PUE": "high"})
    with pytest.raises(ConfigError, match="WATTWISE_STRICT"):
        resolve_config(environ={"WATTWISE_STRICT": "perhaps"})
    assert resolve_config(environ={"WATTWISE_STRICT": "yes"}).strict is True
    assert resolve_config(environ={"WATTWISE_SENSORS": "rapl, nvml"}).sensors == ("rapl", "nvml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("zone = ", "corrupt config file"),
        ("wattwise = 3", "must be a table"),
        ('colour = "red"', "unknown key"),
    ],
)
def test_corrupt_config_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        resolve_config(environ={"WATTWISE_CONFIG": str(path)})


def test_missing_config_file_and_unknown_option(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_config(environ={"WATTWISE_CONFIG": str(tmp_path / "nope.toml")})
    with pytest.raises(ConfigError, match="unknown option"):
        resolve_config(environ={}, colour="red")


def test_config_is_frozen() -> None:
    cfg = TrackerConfig()
    with pytest.raises(AttributeError):
        cfg.pue = 2.0  # type: ignore[misc]


# -- config.py: wrong types are ConfigError, not TypeError ---------------------------------
@pytest.mark.parametrize(
    "field",
    [
        {"interval_s": "1"},
        {"pue": "1.2"},
        {"checkpoint_s": None},
        {"interval_s": True},
        {"currency": 5},
        {"zone": 5},
    ],
)
def test_config_with_a_wrong_type_is_a_config_error(field: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        TrackerConfig(**field)
