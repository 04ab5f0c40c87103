"""Errors raised by wattwise.

Every error wattwise raises on purpose derives from :class:`WattwiseError`, so user code
can catch one root. The tree::

    WattwiseError
    ├── ConfigError            bad value or corrupt config file (also a ValueError)
    │   └── UnknownZoneError   zone not in the table; names the closest matches
    ├── SensorError            a sensor could not be read
    │   └── SensorPermissionError   readable only by root; the message says the fix
    ├── StoreError             the run store cannot be opened or written
    │   └── RunNotFoundError   no run with that id (also a KeyError)
    ├── IntensityError         a live or CSV intensity source failed
    ├── ReportError            a run report does not match its schema, or cannot be checked
    ├── IntegrationError       an integration's library is missing or refused the data
    └── TrackerStateError      misuse, e.g. a phase ended twice (also a RuntimeError)

Warnings: :class:`EstimatedEnergyWarning` when a figure falls back to the estimation
model, :class:`SensorDegradedWarning` when a sensor failed mid-run,
:class:`IntensityFallbackWarning` when a live intensity source failed and the table's
figure was used instead.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "EstimatedEnergyWarning",
    "IntegrationError",
    "IntensityError",
    "IntensityFallbackWarning",
    "ReportError",
    "RunNotFoundError",
    "SensorDegradedWarning",
    "SensorError",
    "SensorPermissionError",
    "StoreError",
    "TrackerStateError",
    "UnknownZoneError",
    "WattwiseError",
]


class WattwiseError(Exception):
    """Root of every error wattwise raises."""


class ConfigError(WattwiseError, ValueError):
    """A configuration value is invalid, or a config file cannot be parsed."""


class UnknownZoneError(ConfigError):
    """The zone is not in the packaged table."""

    def __init__(self, zone: str, suggestions: list[str]) -> None:
        self.zone = zone
        self.suggestions = suggestions
        hint = f"; closest: {', '.join(suggestions)}" if suggestions else ""
        super().__init__(f"unknown zone {zone!r}{hint} (see `wattwise zones`)")


class SensorError(WattwiseError):
    """A sensor could not be opened or read.

    Attributes:
        detail: what is wrong, in words.
        fix: the exact step that would make the sensor readable, when there is one.
    """

    def __init__(self, detail: str, fix: str | None = None) -> None:
        super().__init__(detail if fix is None else f"{detail}; fix: {fix}")
        self.detail = detail
        self.fix = fix


class SensorPermissionError(SensorError, PermissionError):
    """A sensor file or device is readable only with more privileges."""


class StoreError(WattwiseError):
    """The run store cannot be opened, read or written."""


class RunNotFoundError(StoreError, KeyError):
    """No run with that id is in the store."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "run not found"


class IntensityError(WattwiseError):
    """A carbon-intensity source (live provider, CSV) failed."""


class ReportError(WattwiseError):
    """A run report does not validate against its schema (the message names the
    failing path), or it cannot be validated because ``jsonschema`` is not installed."""


class IntegrationError(WattwiseError):
    """An integration cannot do its job: its optional library is not installed (the
    message names the extra to install), or that library refused the data (no active
    run, a bad tracking URI, a run already exported)."""


class TrackerStateError(WattwiseError, RuntimeError):
    """The tracker API was used in an invalid order."""


class EstimatedEnergyWarning(UserWarning):
    """A figure comes from the estimation model, not from a sensor."""


class SensorDegradedWarning(UserWarning):
    """A sensor failed during a run; its domain now uses the estimate."""


class IntensityFallbackWarning(UserWarning):
    """A live carbon-intensity source failed; the fallback's figure was used."""
