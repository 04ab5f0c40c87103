"""The options every framework callback shares, checked once, the same way for all.

Each ``EnergyCallback`` (Lightning, Hugging Face, Keras) takes the same budget,
early-stopping, live-display and logging options; :func:`check_options` validates them and
raises :class:`~wattwise.exceptions.ConfigError` with one line naming the option, so the
three report bad input alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from wattwise.budget import Budget
from wattwise.early_stopping import EarlyStopping
from wattwise.exceptions import ConfigError
from wattwise.live import MODES

__all__ = ["CallbackOptions", "check_options", "positive_int"]


@dataclass(frozen=True)
class CallbackOptions:
    """The checked shared options: ``budget`` is None when no limit is set."""

    budget: Budget | None
    early_stopping: EarlyStopping | None
    live: str | None
    printer: Callable[[str], None] | None
    prefix: str | None
    tokens_per_sample: int | None


def positive_int(name: str, value: object) -> int | None:
    """``value`` when it is None or an integer ≥ 1; else a ConfigError naming ``name``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"invalid {name}={value!r}: must be an integer ≥ 1")
    return value


def check_options(
    *,
    tracker: object,
    name: str | None,
    tracker_options: Mapping[str, Any],
    budget_kwh: float | None,
    budget_gco2e: float | None,
    budget_cost: float | None,
    early_stopping: object,
    live: str | None,
    printer: object,
    prefix: object,
    tokens_per_sample: object,
    host_early_stopping: str = "",
) -> CallbackOptions:
    """Check the shared options of a callback; ``host_early_stopping`` adds a hint on where
    the host's own early stopping goes."""
    from wattwise.tracking import Tracker

    if tracker is not None:
        if not isinstance(tracker, Tracker):
            raise ConfigError(f"invalid tracker={tracker!r}: must be a wattwise.Tracker")
        if name is not None or tracker_options:
            given = ["name"] * (name is not None) + sorted(tracker_options)
            raise ConfigError(
                "pass either a tracker or a name and tracker options, not both (those options "
                f"cannot be combined with tracker=: configure that tracker): {', '.join(given)}"
            )
    if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        raise ConfigError(
            f"invalid early_stopping={early_stopping!r}: must be a wattwise.EarlyStopping"
            + host_early_stopping
        )
    if live is not None and live not in MODES:
        raise ConfigError(f"invalid live={live!r}: must be one of {', '.join(MODES)}")
    if printer is not None and not callable(printer):
        raise ConfigError(f"invalid printer={printer!r}: must be a callable taking a line")
    if prefix is not None and not isinstance(prefix, str):
        raise ConfigError(f"invalid prefix={prefix!r}: must be a string or None")
    tokens = positive_int("tokens_per_sample", tokens_per_sample)
    budget = Budget(budget_kwh, budget_gco2e, budget_cost)
    return CallbackOptions(
        budget=budget if budget.active else None,
        early_stopping=early_stopping,
        live=live,
        printer=printer,
        prefix=prefix,
        tokens_per_sample=tokens,
    )
