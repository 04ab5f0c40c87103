"""wattwise.sweep: every grid point trained under its own run, the front and the choice.

The sensor is a synthetic counter on a clock the fake training loop advances, so a
variant's energy is exactly 100 W × the seconds its loop says it took.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from rich.console import Console

from wattwise.exceptions import ConfigError, StoreError
from wattwise.store import MemoryStore
from wattwise.sweeping import SweepResult, SweepVariant, grid_variants, print_sweep, sweep
from wattwise.testing.fake import SyntheticSensor
from wattwise.tracking import Tracker

POWER_W = 100.0


class Clock:
    """A clock that moves only when the fake training says so."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def options(clock: Clock) -> dict[str, Any]:
    sensor = SyntheticSensor(
        lambda t: POWER_W, lambda t0, t1: POWER_W * (t1 - t0), kind="counter", clock=clock
    )
    return {"sensors": [sensor], "zone": "FRA", "interval_s": 0.1, "live": "off"}


def _trainer(clock: Clock, fail_at: object = None) -> Callable[[Any, Tracker], None]:
    """Two epochs that together 'take' ``size`` seconds; raises for ``fail_at``."""

    def train(model: Any, run: Tracker) -> None:
        for _ in run.epochs(2):
            if model.size == fail_at:
                raise RuntimeError("out of memory\nsecond line")
            clock.t += model.size / 2
            run.step(samples=8)

    return train


class Model:
    """Something with PyTorch's parameters(): ``size`` tensors of ``size`` numbers."""

    class _P:
        def __init__(self, n: int) -> None:
            self.n = n

        def numel(self) -> int:
            return self.n

    def __init__(self, size: int, act: str = "relu") -> None:
        self.size = size
        self.act = act

    def parameters(self) -> list[Model._P]:
        return [self._P(self.size)] * self.size


ACCURACY = {1: 0.90, 2: 0.95, 3: 0.96, 4: 0.94}


def test_sweep_trains_the_grid_in_order_each_in_its_own_tagged_run(
    clock: Clock, options: dict[str, Any]
) -> None:
    store = MemoryStore()
    seen: list[tuple[int, int, str]] = []
    result = sweep(
        Model,
        {"size": [1, 2], "act": ["relu", "tanh"]},
        train=_trainer(clock),
        evaluate=lambda m: ACCURACY[m.size],
        tracker_options={**options, "tags": {"team": "vision"}},
        store=store,
        name="mlp",
        on_variant=lambda i, n, v: seen.append((i, n, v.label)),
    )
    labels = ["size=1 act=relu", "size=1 act=tanh", "size=2 act=relu", "size=2 act=tanh"]
    assert [v.label for v in result.variants] == labels
    assert seen == [(i, 4, label) for i, label in enumerate(labels)]
    assert [v.energy_j for v in result.variants] == pytest.approx([100, 100, 200, 200])
    assert [v.parameters for v in result.variants] == [1, 1, 4, 4]
    assert all(v.method == "measured" and v.ok for v in result.variants)
    runs = {r.id: r for r in store.list_runs()}
    assert set(runs) == {v.run_id for v in result.variants}  # one store for all
    first = runs[result.variants[0].run_id or ""]
    assert first.name == "mlp size=1 act=relu" and first.status == "completed"
    assert first.tags == {"team": "vision", "size": "1", "act": "relu", "sweep": "mlp"}
    assert first.training is not None and first.training.epochs == 2
    assert result.variants[0].co2_g == pytest.approx(first.co2_g)
    assert options["sensors"][0].closed == 0  # the caller's sensor stays open for reuse
    assert grid_variants({"a": [1, 2], "b": ["x"]}) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]


def test_front_best_and_cheapest_within_an_absolute_tolerance(
    clock: Clock, options: dict[str, Any]
) -> None:
    result = sweep(
        Model,
        {"size": [4, 3, 2, 1]},
        train=_trainer(clock),
        evaluate=lambda m: ACCURACY[m.size],
        tracker_options={**options, "store": False},
        tolerance=0.01,
        metric_name="accuracy",
    )
    by_size = {v.params["size"]: v for v in result.variants}
    assert [v.params["size"] for v in result.variants] == [4, 3, 2, 1]  # the grid's order
    assert [v.params["size"] for v in result.front] == [1, 2, 3]  # 4: beaten by 3 on both
    assert not by_size[4].on_front
    assert result.best is by_size[3]
    # 0.96 - 0.01 is 0.9500000000000001 in floating point: 0.95 must still be accepted
    assert result.cheapest_within_tolerance is by_size[2]
    assert result.energy_saving == pytest.approx(1 - 200 / 300)
    console = Console(record=True, width=140)
    print_sweep(result, console)
    text = console.export_text()
    rows = [line for line in text.splitlines() if line.startswith("│")]
    assert [r.split("│")[1].strip() for r in rows] == ["1", "2", "3", "4"]  # by energy
    assert "★" in rows[1] and "best" in rows[2] and sum("✓" in r for r in rows) == 3
    assert "size=2, 200.0 J, accuracy 0.95" in text and "33% less energy" in text
    data = json.loads(json.dumps(result.to_dict()))
    assert data["best"] == 1 and data["cheapest_within_tolerance"] == 2
    assert [v["on_front"] for v in data["variants"]] == [False, True, True, True]


def _choice(tolerance: float, maximize: bool = True) -> SweepResult:
    from wattwise.sweeping import _choose

    def v(size: int, metric: float) -> SweepVariant:
        return SweepVariant({"size": size}, 100.0 * size, 0.0, 1.0, metric, None, "measured", 1)

    metrics = ACCURACY if maximize else {k: 1 - a for k, a in ACCURACY.items()}
    variants = [v(s, m) for s, m in metrics.items()]
    return _choose(variants, "t", tolerance, maximize, "m", "memory")


@pytest.mark.parametrize(
    ("tolerance", "maximize", "chosen"),
    [(0.0, True, 3), (0.01, True, 2), (0.059, True, 2), (0.06, True, 1), (0.01, False, 2)],
)
def test_the_tolerance_is_absolute_in_the_metric_s_units(
    tolerance: float, maximize: bool, chosen: int
) -> None:
    result = _choice(tolerance, maximize)
    assert result.best is not None and result.best.params["size"] == 3
    assert result.cheapest_within_tolerance is not None
    assert result.cheapest_within_tolerance.params["size"] == chosen
    assert [v.params["size"] for v in result.front] == [1, 2, 3]


def test_a_failing_variant_is_recorded_and_the_sweep_goes_on(
    clock: Clock, options: dict[str, Any]
) -> None:
    def factory(size: int) -> Model:
        if size == 5:
            raise ValueError("no such size")
        return Model(size)

    def evaluate(m: Model) -> float:
        if m.size == 2:
            return math.nan  # a diverged model: kept, but off the front
        if m.size == 4:
            raise KeyError("labels")
        return ACCURACY[m.size]

    store = MemoryStore()
    result = sweep(
        factory,
        {"size": [1, 2, 3, 4, 5]},
        train=_trainer(clock, fail_at=3),
        evaluate=evaluate,
        tracker_options=options,
        store=store,
    )
    v1, v2, v3, v4, v5 = result.variants
    assert v3.error == "RuntimeError: out of memory" and v3.metric is None
    assert v3.record is not None and v3.record.status == "failed"  # its energy so far
    assert v3.energy_j == pytest.approx(0.0) and v3.run_id is not None
    assert v4.error == "KeyError: 'labels'" and v4.energy_j == pytest.approx(400)
    assert v5.error == "ValueError: no such size" and v5.run_id is None and v5.record is None
    assert v2.error is None and math.isnan(v2.metric or 0.0) and not v2.ok
    assert result.failed == (v2, v3, v4, v5)
    assert [v for v in result.variants if v.on_front] == [v1]
    assert result.best is v1 and result.cheapest_within_tolerance is v1
    assert len(store.list_runs()) == 4  # the factory's failure never started a run
    assert json.loads(json.dumps(result.to_dict()))["variants"][1]["metric"] is None
    console = Console(record=True, width=160)
    print_sweep(result, console)
    assert "RuntimeError: out of memory" in console.export_text()


def test_on_error_raise_stops_at_the_first_error(clock: Clock, options: dict[str, Any]) -> None:
    store = MemoryStore()
    with pytest.raises(RuntimeError, match="out of memory"):
        sweep(
            Model,
            {"size": [1, 3, 4]},
            train=_trainer(clock, fail_at=3),
            evaluate=lambda m: 0.5,
            tracker_options=options,
            store=store,
            on_error="raise",
        )
    assert sorted(r.status for r in store.list_runs()) == ["completed", "failed"]


def test_a_store_that_refuses_the_run_ends_the_sweep(clock: Clock, options: dict[str, Any]) -> None:
    class Refusing(MemoryStore):
        def save_run(self, *args: Any, **kwargs: Any) -> None:
            raise StoreError("disk full")

    trained: list[int] = []

    def train(model: Model, run: Tracker) -> None:
        trained.append(model.size)

    with pytest.raises(StoreError, match="disk full"):  # not recorded 3 times over
        sweep(
            Model,
            {"size": [1, 2, 3]},
            train=train,
            evaluate=lambda m: 0.5,
            tracker_options=options,
            store=Refusing(),
        )
    assert trained == []


def test_nothing_succeeded_means_no_choice(clock: Clock, options: dict[str, Any]) -> None:
    result = sweep(
        Model,
        {"size": [3]},
        train=_trainer(clock, fail_at=3),
        evaluate=lambda m: 0.5,
        tracker_options={**options, "store": False},
    )
    assert result.best is None and result.cheapest_within_tolerance is None
    assert result.energy_saving is None and result.front == ()
    console = Console(record=True, width=160)
    print_sweep(result, console)
    assert "no variant trained and evaluated without error" in console.export_text()


@pytest.mark.parametrize(
    ("grid", "kwargs", "message"),
    [
        ({}, {}, "non-empty grid"),
        ({"size": 3}, {}, "must be a list"),
        ({"size": "abc"}, {}, "must be a list"),
        ({"size": []}, {}, "has no values"),
        ({"size": [1, 2, 1]}, {}, "twice"),
        ({"not a name": [1]}, {}, "keyword argument"),
        ({"size": [1]}, {"tolerance": -0.1}, "tolerance"),
        ({"size": [1]}, {"tolerance": math.nan}, "tolerance"),
        ({"size": [1]}, {"tolerance": True}, "tolerance"),
        ({"size": [1]}, {"name": " "}, "name"),
        ({"size": [1]}, {"on_error": "ignore"}, "on_error"),
        ({"size": [1]}, {"store": False, "tracker_options": {"store": False}}, "store once"),
    ],
)
def test_bad_input_is_a_config_error_before_anything_runs(
    grid: Any, kwargs: dict[str, Any], message: str
) -> None:
    def train(model: Any, run: Tracker) -> None:
        raise AssertionError("must not train")

    with pytest.raises(ConfigError, match=message):
        sweep(Model, grid, train=train, evaluate=lambda m: 0.0, **kwargs)


def test_importing_the_module_loads_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "import wattwise.sweeping\n"
        "heavy = {'sqlalchemy', 'rich', 'psutil', 'click', 'torch', 'wattwise.tracking'}\n"
        "assert not heavy & set(sys.modules), heavy & set(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
