"""EarlyStopping: patience and min-delta on a monitored metric."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from wattwise.early_stopping import EarlyStopping, EarlyStoppingState
from wattwise.exceptions import ConfigError


def feed(rule: EarlyStopping, values: Sequence[float]) -> tuple[EarlyStoppingState, int | None]:
    """Feed values epoch by epoch (0-based) until the rule fires; the epoch it fired at."""
    state = EarlyStoppingState(rule)
    for epoch, value in enumerate(values):
        if state.update(epoch, value):
            return state, epoch
    return state, None


def test_min_mode_stops_after_patience_epochs_without_improvement() -> None:
    state, fired = feed(EarlyStopping("val_loss", patience=2), [1.0, 0.5, 0.75, 0.625, 0.25])
    assert fired == 3
    assert state.best == 0.5 and state.best_epoch == 1
    assert state.stopped_epoch == 3 and state.wait == 2
    assert state.seen == [1.0, 0.5, 0.75, 0.625]


def test_an_improvement_resets_the_wait() -> None:
    state, fired = feed(EarlyStopping("loss", patience=2), [1.0, 1.5, 0.5, 0.75, 0.25, 2.0])
    assert fired is None
    assert state.best == 0.25 and state.best_epoch == 4 and state.wait == 1
    assert state.stopped_epoch is None


def test_max_mode_for_an_accuracy() -> None:
    rule = EarlyStopping("val_acc", mode="max", patience=1)
    state, fired = feed(rule, [0.5, 0.75, 0.875, 0.75])
    assert fired == 3 and state.best == 0.875 and state.best_epoch == 2
    # a falling loss would be "no improvement" in max mode
    state, fired = feed(rule, [1.0, 0.5])
    assert fired == 1 and state.best == 1.0


def test_min_delta_ignores_small_improvements() -> None:
    rule = EarlyStopping("loss", patience=2, min_delta=0.25)
    # 1.0 -> 0.875 -> 0.75: each better, but not by more than 0.25
    state, fired = feed(rule, [1.0, 0.875, 0.75])
    assert fired == 2 and state.best == 1.0
    # an improvement of exactly min_delta is not more than it
    state, fired = feed(rule, [1.0, 0.75, 0.875])
    assert fired == 2 and state.best == 1.0
    # more than min_delta counts
    state, fired = feed(rule, [1.0, 0.5, 0.125])
    assert fired is None and state.best == 0.125


def test_min_delta_in_max_mode() -> None:
    rule = EarlyStopping("acc", mode="max", patience=1, min_delta=0.125)
    assert feed(rule, [0.5, 0.5625])[1] == 1
    assert feed(rule, [0.5, 0.75])[1] is None


def test_nan_counts_as_no_improvement() -> None:
    state, fired = feed(EarlyStopping("loss", patience=2), [1.0, math.nan, math.nan])
    assert fired == 2 and state.best == 1.0 and state.best_epoch == 0
    # a NaN does not become the best either
    state, fired = feed(EarlyStopping("loss", patience=3), [math.nan, 2.0, 1.0])
    assert fired is None and state.best == 1.0 and state.best_epoch == 2 and state.wait == 0


def test_reason_names_the_metric_the_rule_and_the_best() -> None:
    state, fired = feed(EarlyStopping("val_loss", patience=2, min_delta=0.01), [0.5, 0.6, 0.7])
    assert fired == 2
    assert state.reason() == (
        "early stopping: val_loss did not improve by more than 0.01 for 2 epoch(s) "
        "(best 0.5 at epoch 0)"
    )


def test_reason_when_every_value_was_nan() -> None:
    state, fired = feed(EarlyStopping("loss", patience=1), [math.nan])
    assert fired == 0 and state.best is None
    assert "every value was NaN" in state.reason()


def test_values_are_taken_as_floats() -> None:
    state, fired = feed(EarlyStopping("loss", patience=1), [3, 2, 2])
    assert fired == 2 and state.best == 2.0 and isinstance(state.best, float)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"monitor": ""}, "monitor"),
        ({"monitor": None}, "monitor"),
        ({"monitor": "loss", "mode": "avg"}, "mode"),
        ({"monitor": "loss", "patience": 0}, "patience"),
        ({"monitor": "loss", "patience": -1}, "patience"),
        ({"monitor": "loss", "patience": 1.5}, "patience"),
        ({"monitor": "loss", "patience": True}, "patience"),
        ({"monitor": "loss", "min_delta": -0.1}, "min_delta"),
        ({"monitor": "loss", "min_delta": "0.1"}, "min_delta"),
        ({"monitor": "loss", "min_delta": math.nan}, "min_delta"),
        ({"monitor": "loss", "min_delta": True}, "min_delta"),
    ],
)
def test_invalid_arguments_are_config_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=f"invalid early stopping {match}="):
        EarlyStopping(**kwargs)  # type: ignore[arg-type]


def test_defaults() -> None:
    rule = EarlyStopping("val_loss")
    assert (rule.mode, rule.patience, rule.min_delta) == ("min", 3, 0.0)
