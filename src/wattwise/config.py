"""One frozen configuration shared by the API, the decorator and the CLI.

Precedence, field by field: argument > environment (``WATTWISE_<FIELD>``) > config file >
default. The config file is TOML: ``$WATTWISE_CONFIG``, else ``./wattwise.toml``, else
``$XDG_CONFIG_HOME/wattwise/config.toml`` (``~/.config/...``); keys at the top level or
under ``[wattwise]``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args

from wattwise.exceptions import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["Headline", "Setting", "TrackerConfig", "config_file_path", "resolve_config"]

Live = Literal["auto", "rich", "plain", "notebook", "off"]
Headline = Literal["machine", "process"]
Setting = Literal["auto", "local", "datacenter", "cloud"]
Source = Literal["argument", "environment", "config", "default"]


@dataclass(frozen=True, kw_only=True)
class TrackerConfig:
    """How a run is measured and converted. Build it with :func:`resolve_config`.

    Attributes:
        interval_s: sampling interval, 0.1-60 s.
        zone: electricity zone id (``FRA``, ``US-CA``, ``aws:eu-west-3``); None: resolved.
        pue: power usage effectiveness, 1.0-3.0; None: default for the setting.
        setting: ``local`` machine, ``datacenter``, ``cloud``, or ``auto``-detected.
        intensity_g_per_kwh: a fixed intensity that overrides the zone's.
        intensity_csv: a CSV of hourly intensities (timestamp, gCO2e/kWh).
        live_intensity: query Electricity Maps / WattTime (keys from the environment).
        price_per_kwh: electricity price; None: the documented default.
        currency: currency of ``price_per_kwh``.
        store: SQLAlchemy URL or SQLite file path; None: the per-user default.
        headline: which energy the headline figures use: whole ``machine`` or the tracked
            ``process`` tree's attributed share.
        sensors: sensor names to use (None: every available one).
        checkpoint_s: how often a running record is saved, ≥ 1 s.
        strict: raise instead of falling back to the estimate when a sensor fails.
        sysfs_root: where sysfs is mounted (containers, tests).
        proc_root: where procfs is mounted.
        budget_kwh: stop training when the run's IT energy reaches this (kWh).
        budget_gco2e: stop training when the run's emissions reach this (gCO2e).
        budget_cost: stop training when the run's electricity cost reaches this.
        live: live display while training: ``auto`` (a rich line in a terminal, a
            notebook display in Jupyter, plain lines otherwise), ``rich``, ``plain``,
            ``notebook`` or ``off``.
        sources: where each field's value came from (argument/environment/config/default).
    """

    interval_s: float = 1.0
    zone: str | None = None
    pue: float | None = None
    setting: Setting = "auto"
    intensity_g_per_kwh: float | None = None
    intensity_csv: str | None = None
    live_intensity: bool = False
    price_per_kwh: float | None = None
    currency: str = "USD"
    store: str | None = None
    headline: Headline = "machine"
    sensors: tuple[str, ...] | None = None
    checkpoint_s: float = 10.0
    strict: bool = False
    sysfs_root: str = "/sys"
    proc_root: str = "/proc"
    budget_kwh: float | None = None
    budget_gco2e: float | None = None
    budget_cost: float | None = None
    live: Live = "auto"
    sources: Mapping[str, Source] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        _validate(self)

    def source_of(self, name: str) -> Source:
        """Where the value of field ``name`` came from."""
        return self.sources.get(name, "default")


_FIELDS = {f.name: f for f in fields(TrackerConfig) if f.name != "sources"}


def _fail(name: str, value: object, why: str) -> ConfigError:
    return ConfigError(f"invalid {name}={value!r}: {why}")


def _validate(c: TrackerConfig) -> None:
    def finite(name: str, v: float) -> None:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise _fail(name, v, "must be a finite number")

    finite("interval_s", c.interval_s)
    if not 0.1 <= c.interval_s <= 60:
        raise _fail("interval_s", c.interval_s, "must be between 0.1 and 60 seconds")
    if c.pue is not None:
        finite("pue", c.pue)
        if not 1.0 <= c.pue <= 3.0:
            raise _fail("pue", c.pue, "PUE must be between 1.0 and 3.0")
    if c.intensity_g_per_kwh is not None:
        finite("intensity_g_per_kwh", c.intensity_g_per_kwh)
        if not 0 <= c.intensity_g_per_kwh <= 3000:
            raise _fail("intensity_g_per_kwh", c.intensity_g_per_kwh, "must be 0-3000 gCO2e/kWh")
    if c.price_per_kwh is not None:
        finite("price_per_kwh", c.price_per_kwh)
        if not 0 <= c.price_per_kwh <= 10:
            raise _fail("price_per_kwh", c.price_per_kwh, "must be 0-10 per kWh")
    finite("checkpoint_s", c.checkpoint_s)
    if not 1 <= c.checkpoint_s <= 3600:
        raise _fail("checkpoint_s", c.checkpoint_s, "must be between 1 and 3600 seconds")
    for name in ("budget_kwh", "budget_gco2e", "budget_cost"):
        value = getattr(c, name)
        if value is not None:
            finite(name, value)
            if value <= 0:
                raise _fail(name, value, "a budget must be greater than 0")
    for name, allowed in (("setting", Setting), ("headline", Headline), ("live", Live)):
        if getattr(c, name) not in get_args(allowed):
            raise _fail(name, getattr(c, name), f"must be one of {', '.join(get_args(allowed))}")
    if c.zone is not None and (not isinstance(c.zone, str) or not c.zone.strip()):
        raise _fail("zone", c.zone, "must be a non-empty zone id")
    if not isinstance(c.currency, str) or not c.currency.isalpha() or len(c.currency) > 5:
        raise _fail("currency", c.currency, "must be a currency code such as USD or EUR")


def config_file_path(environ: Mapping[str, str] | None = None) -> Path | None:
    """The config file that applies, or None."""
    env = os.environ if environ is None else environ
    if env.get("WATTWISE_CONFIG"):
        return Path(env["WATTWISE_CONFIG"])
    local = Path("wattwise.toml")
    if local.is_file():
        return local
    base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    user = base / "wattwise" / "config.toml"
    return user if user.is_file() else None


def _load_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"corrupt config file {path}: {exc}") from None
    section = data.get("wattwise", data)
    if not isinstance(section, dict):
        raise ConfigError(f"corrupt config file {path}: [wattwise] must be a table")
    unknown = sorted(set(section) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"config file {path}: unknown key(s) {', '.join(unknown)}")
    return section


def _coerce(name: str, value: Any, origin: str) -> Any:
    """Convert a string (environment) or TOML value to the field's type."""
    if value is None:
        return None
    kind = str(_FIELDS[name].type)
    try:
        if "float" in kind:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind.startswith("bool"):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError
        if "tuple" in kind:
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(str(i).strip() for i in items if str(i).strip())
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"invalid {name}={value!r} from {origin}") from None


def resolve_config(
    *,
    environ: Mapping[str, str] | None = None,
    config_path: str | Path | None = None,
    base: TrackerConfig | None = None,
    **arguments: Any,
) -> TrackerConfig:
    """Build the configuration: ``arguments`` > environment > config file > defaults.

    ``None`` arguments count as not given. ``base`` (an existing config) replaces the
    defaults, so ``track(config=cfg, zone="FRA")`` changes only the zone.
    """
    env = os.environ if environ is None else environ
    unknown = sorted(set(arguments) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"unknown option(s): {', '.join(unknown)}")
    path = Path(config_path) if config_path is not None else config_file_path(env)
    from_file = _load_file(path) if path is not None else {}
    values: dict[str, Any] = {}
    sources: dict[str, Source] = dict(base.sources) if base is not None else {}
    for name in _FIELDS:
        env_key = f"WATTWISE_{name.upper()}"
        if arguments.get(name) is not None:
            values[name] = _coerce(name, arguments[name], "argument")
            sources[name] = "argument"
        elif env.get(env_key) not in (None, ""):
            values[name] = _coerce(name, env[env_key], f"environment variable {env_key}")
            sources[name] = "environment"
        elif name in from_file:
            values[name] = _coerce(name, from_file[name], f"config file {path}")
            sources[name] = "config"
        elif base is not None:
            values[name] = getattr(base, name)
    values["sources"] = sources
    return dataclasses.replace(base, **values) if base is not None else TrackerConfig(**values)
