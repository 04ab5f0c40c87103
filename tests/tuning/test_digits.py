"""wattwise.tuning.digits: the bundled CNN-on-digits objective, driven by a real tracker
through a minimal trial, and by the real search."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from wattwise.exceptions import ConfigError
from wattwise.testing.fake import SyntheticSensor
from wattwise.tracking import Tracker
from wattwise.tuning import digits
from wattwise.tuning.digits import METRIC, SPACE, TARGET, make_cnn, objective

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

TRAIN_IMAGES = 1438  # digits_data(0): 1,797 images, a fifth held out


@pytest.fixture(scope="module", autouse=True)
def _data() -> None:
    """Load the digits once (scikit-learn's import and the file read), outside the tests."""
    from wattwise.complexity import digits_data

    assert len(digits_data(digits.DATA_SEED).y_train) == TRAIN_IMAGES


def _sensor() -> SyntheticSensor:
    return SyntheticSensor(lambda t: 50.0, lambda t0, t1: 50.0 * (t1 - t0), kind="counter")


class _FakeTrial:
    """The part of wattwise.tuning.Trial the objective uses, on a real tracker."""

    def __init__(self, run: Tracker, number: int, params: Mapping[str, Any]) -> None:
        self.run = run
        self.number = number
        self.params = dict(params)
        self.steps = 0

    def epochs(self, epochs: int, /) -> Iterator[Any]:
        return self.run.epochs(epochs)

    def step(self, samples: int | None = None) -> None:
        self.steps += 1
        self.run.step(samples=samples)

    def log(self, **metrics: float) -> None:
        self.run.log(**metrics)


def _run(number: int, **params: Any) -> tuple[float, _FakeTrial, Tracker]:
    with Tracker(
        "digits", store=False, sensors=[_sensor()], zone="FRA", interval_s=0.1, live="off"
    ) as run:
        trial = _FakeTrial(run, number, params)
        value = objective(trial)
    return value, trial, run


def test_make_cnn_maps_digits_to_ten_logits_with_width_channels() -> None:
    for width in (4, 32):
        model = make_cnn(width)
        assert tuple(model(torch.zeros(3, 1, 8, 8)).shape) == (3, 10)
        convs = [m for m in model if type(m).__name__ == "Conv2d"]
        assert [c.out_channels for c in convs] == [width, width]
    small = sum(p.numel() for p in make_cnn(4).parameters())
    assert small == (9 * 4 + 4) + (4 * 4 * 9 + 4) + (4 * 16 * 10 + 10)
    for bad in (0, True, 2.5):
        with pytest.raises(ConfigError, match="width"):
            make_cnn(bad)  # type: ignore[arg-type]


def test_the_space_parses_to_a_bounded_grid_and_the_spec_string_loads() -> None:
    from wattwise.tuning.search import load_objective
    from wattwise.tuning.space import parse_space

    space = parse_space(SPACE)
    assert space.names == ("lr", "beta1", "beta2", "batch_size", "width")
    assert space.grid_size == 162
    assert {p.name: p.kind for p in space.params}["width"] == "int"
    assert load_objective("wattwise.tuning.digits:objective") is objective
    assert METRIC == "val_accuracy" and 0.1 < TARGET < 1.0


def test_objective_trains_logs_accuracy_each_epoch_and_counts_every_batch() -> None:
    value, trial, run = _run(0, lr=2e-2, beta1=0.9, beta2=0.999, batch_size=128, width=8)
    record = run.result
    batches = math.ceil(TRAIN_IMAGES / 128)
    assert record.training is not None
    assert record.training.epochs == digits.EPOCHS
    assert trial.steps == record.training.steps == digits.EPOCHS * batches
    assert record.training.samples == digits.EPOCHS * TRAIN_IMAGES
    epochs = [p for p in record.phases if p.kind == "epoch"]
    assert len(epochs) == digits.EPOCHS
    accuracies = [p.metrics["val_accuracy"] for p in epochs]
    assert all(0.0 <= a <= 1.0 for a in accuracies)
    assert all(p.metrics["train_loss"] > 0 for p in epochs)
    assert value == accuracies[-1]
    assert value > 0.5  # well above chance (0.1) with a good learning rate
    assert epochs[-1].metrics["train_loss"] < epochs[0].metrics["train_loss"]


def test_objective_is_reproducible_per_trial_number_and_leaves_the_global_rng(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(digits, "EPOCHS", 1)
    params = dict(lr=3e-3, beta1=0.9, beta2=0.99, batch_size=128, width=4)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first, _, _ = _run(5, **params)
    assert torch.equal(torch.get_rng_state(), state)
    again, _, _ = _run(5, **params)
    other, _, _ = _run(6, **params)
    assert first == again
    assert other != first  # another number: other initial weights and batch order


def test_objective_scores_a_diverging_learning_rate_near_chance() -> None:
    value, _, run = _run(0, lr=0.3, beta1=0.5, beta2=0.9, batch_size=128, width=4)
    assert value < 0.3
    assert len([p for p in run.result.phases if p.kind == "epoch"]) == digits.EPOCHS


def test_the_real_search_runs_two_complete_trials(monkeypatch: pytest.MonkeyPatch) -> None:
    from wattwise.tuning.search import tune

    monkeypatch.setattr(digits, "EPOCHS", 2)
    result = tune(
        objective,
        SPACE,
        strategy="random",
        n_trials=2,
        metric=METRIC,
        tracker_options=dict(sensors=[_sensor()], zone="FRA", interval_s=0.1, live="off"),
        store=False,
        seed=0,
    )
    assert [t.state for t in result.trials] == ["complete", "complete"]
    for t in result.trials:
        assert set(t.params) == set(SPACE)
        assert t.value is not None and 0.0 <= t.value <= 1.0
        assert sorted(t.intermediate) == [0, 1]  # val_accuracy reported at each epoch end
        assert t.intermediate[1] == t.value
        assert t.energy_j > 0
