"""The Keras 3 EnergyCallback on real ``model.fit`` runs (torch backend, tiny model)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported, here only
keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")

import wattwise  # noqa: E402
from wattwise import ConfigError, EarlyStopping  # noqa: E402
from wattwise.integrations.keras import EnergyCallback  # noqa: E402
from wattwise.testing.fake import SyntheticSensor  # noqa: E402

if keras.backend.backend() != "torch":  # keras was imported earlier with another backend
    pytest.skip("these tests run Keras on its torch backend", allow_module_level=True)

pytestmark = pytest.mark.filterwarnings(
    # Keras's torch backend reading a tensor into numpy (numpy 2); harmless, but as an
    # error Keras's log conversion leaves tensors in the logs and its progress bar fails
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

N, TRAIN, BATCH = 100, 80, 16  # validation_split=0.2 leaves 80 samples: 5 steps of 16
STEPS = TRAIN // BATCH
OPTIONS: dict[str, Any] = {"zone": "FRA", "interval_s": 0.1}


def sensor(power_w: float = 100.0) -> SyntheticSensor:
    """A counter with exactly ``power_w`` watts."""
    return SyntheticSensor(lambda t: power_w, lambda a, b: power_w * (b - a), kind="counter")


@pytest.fixture(scope="module")
def data() -> tuple[Any, Any]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]])).astype("float32")
    return x, y


def make_model(learning_rate: float = 0.01) -> Any:
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse")
    return model


def fit(
    data: tuple[Any, Any],
    callbacks: list[Any],
    *,
    model: Any = None,
    epochs: int = 3,
    verbose: int = 0,
    **kwargs: Any,
) -> Any:
    x, y = data
    return (model or make_model()).fit(
        x,
        y,
        epochs=epochs,
        batch_size=BATCH,
        validation_split=0.2,
        verbose=verbose,
        callbacks=callbacks,
        **kwargs,
    )


def energy_cb(power_w: float = 100.0, **kwargs: Any) -> EnergyCallback:
    kwargs.setdefault("store", False)
    kwargs.setdefault("live", "off")
    return EnergyCallback("keras-test", sensors=[sensor(power_w)], **OPTIONS, **kwargs)


def test_import_wattwise_does_not_import_keras() -> None:
    code = (
        "import sys, wattwise, wattwise.integrations; wattwise.Tracker; wattwise.EarlyStopping; "
        "import wattwise.training; assert 'keras' not in sys.modules, 'keras imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_epochs_steps_samples_and_history(data: tuple[Any, Any], tmp_path: Path) -> None:
    lines: list[str] = []
    cb = energy_cb(
        batch_size=BATCH,
        tokens_per_sample=10,
        store=str(tmp_path / "runs.db"),
        live="plain",
        printer=lines.append,
    )
    history = fit(data, [cb])
    run = cb.result
    assert run.name == "keras-test"
    assert run.status == "completed"
    tr = run.training
    assert tr is not None
    assert (tr.planned_epochs, tr.epochs, tr.steps) == (3, 3, 3 * STEPS)
    assert (tr.samples, tr.tokens) == (3 * TRAIN, 3 * TRAIN * 10)
    assert tr.stop_kind is None and tr.saved is None
    assert len(tr.step_table.epoch) == 3 * STEPS
    assert set(tr.step_table.samples) == {BATCH}
    assert [f.after_epochs for f in tr.forecasts] == [1, 2, 3]

    epochs = [p for p in run.phases if p.kind == "epoch"]
    assert [(p.name, p.index) for p in epochs] == [("epoch 0", 0), ("epoch 1", 1), ("epoch 2", 2)]
    for i, p in enumerate(epochs):
        assert p.metrics["steps"] == STEPS
        assert p.metrics["samples"] == TRAIN
        assert p.metrics["tokens"] == TRAIN * 10
        assert p.metrics["energy_per_sample_j"] == pytest.approx(p.machine.energy_j / TRAIN)
        # Keras's epoch logs, validation included, are the epoch's metrics
        assert p.metrics["loss"] == pytest.approx(history.history["loss"][i])
        assert p.metrics["val_loss"] == pytest.approx(history.history["val_loss"][i])
        assert p.machine.energy_j > 0 and p.duration_s > 0

    assert sum(p.machine.energy_j for p in epochs) <= run.machine.energy_j

    h = history.history
    assert h["energy/epoch_j"] == pytest.approx([p.machine.energy_j for p in epochs])
    assert all(len(h[k]) == 3 for k in h)  # every key has one value per epoch
    for key in ("energy/total_kwh", "energy/forecast_kwh", "energy/j_per_sample"):
        assert key in h
    assert "energy/j_per_token" in h
    totals = h["energy/total_j"]
    assert totals == sorted(totals) and totals[-1] <= run.machine.energy_j
    assert h["energy/forecast_kwh"][-1] == pytest.approx(totals[-1] / 3.6e6)

    assert len(lines) == 3 and all(line.startswith("wattwise keras-test") for line in lines)
    assert "3/3 epochs" in lines[-1]

    # the run is in the store with its training record
    assert cb.tracker.store is not None
    saved = cb.tracker.store.get_run(run.id)
    assert saved.status == "completed" and saved.training is not None
    assert saved.training.steps == 3 * STEPS


def test_without_batch_size_steps_are_counted_not_samples(data: tuple[Any, Any]) -> None:
    cb = energy_cb(prefix="ww_")
    history = fit(data, [cb], epochs=2)
    tr = cb.result.training
    assert tr is not None
    assert (tr.steps, tr.samples) == (2 * STEPS, 0)
    assert "ww_epoch_j" in history.history and "ww_j_per_sample" not in history.history
    assert not any(k.startswith("energy/") for k in history.history)
    assert cb.result.name == "keras-test"


def test_prefix_none_leaves_logs_alone_and_name_defaults_to_the_model(
    data: tuple[Any, Any],
) -> None:
    model = make_model()
    cb = EnergyCallback(sensors=[sensor()], store=False, live="off", prefix=None, **OPTIONS)
    history = fit(data, [cb], model=model, epochs=1)
    assert set(history.history) == {"loss", "val_loss"}
    assert cb.result.name == model.name


def test_budget_stops_mid_epoch(data: tuple[Any, Any]) -> None:
    # 1 GW: the budget is over at the first batch; Keras must break off the epoch
    cb = energy_cb(1e9, budget_kwh=1e-3, batch_size=BATCH)
    history = fit(data, [cb], epochs=5)
    run = cb.result
    tr = run.training
    assert tr is not None
    assert run.status == "stopped"
    assert tr.stop_kind == "budget" and tr.stop_reason is not None
    assert "budget" in tr.stop_reason
    assert tr.epochs == 1 and tr.steps == 1  # one batch of epoch 0, then Keras stopped
    assert len(history.history["loss"]) == 1 and "val_loss" in history.history
    assert tr.budget == {"kwh": 1e-3}


@pytest.mark.filterwarnings("ignore::wattwise.BudgetWarning")
def test_tiny_budget_stops_before_the_planned_epochs(data: tuple[Any, Any]) -> None:
    cb = energy_cb(budget_kwh=1e-6)  # 3.6 J: about 36 ms at 100 W
    history = fit(data, [cb], epochs=40)
    run = cb.result
    tr = run.training
    assert tr is not None
    assert (run.status, tr.stop_kind) == ("stopped", "budget")
    assert tr.epochs < 40 and len(history.history["loss"]) == tr.epochs
    assert tr.total_energy_j >= 3.6
    assert tr.saved is not None and tr.saved["saved_energy_j"] > 0


def test_energy_aware_early_stopping_on_val_loss(data: tuple[Any, Any]) -> None:
    # nothing improves by 1e9: patience 1 stops after epoch 1, deterministically
    rule = EarlyStopping("val_loss", patience=1, min_delta=1e9)
    cb = energy_cb(early_stopping=rule, batch_size=BATCH)
    history = fit(data, [cb], epochs=6)
    run = cb.result
    tr = run.training
    assert tr is not None
    assert (run.status, tr.stop_kind) == ("stopped", "early_stopping")
    assert tr.epochs == 2 and len(history.history["val_loss"]) == 2
    assert tr.early_stopping is not None
    assert tr.early_stopping["best_epoch"] == 0 and tr.early_stopping["stopped_epoch"] == 1
    assert tr.early_stopping["best"] == pytest.approx(history.history["val_loss"][0])
    assert tr.saved is not None
    assert tr.saved["planned_epochs"] == 6
    assert tr.saved["saved_energy_j"] > 0
    assert tr.saved["planned_energy_j"] > tr.total_energy_j


@pytest.mark.parametrize("keras_first", [False, True])
def test_keras_early_stopping_is_a_host_stop(data: tuple[Any, Any], keras_first: bool) -> None:
    # learning rate 0: the loss cannot improve by 1, so Keras stops after epoch 1
    stopper = keras.callbacks.EarlyStopping("loss", patience=1, min_delta=1.0)
    cb = energy_cb()
    callbacks = [stopper, cb] if keras_first else [cb, stopper]
    history = fit(data, callbacks, model=make_model(0.0), epochs=5)
    run = cb.result
    tr = run.training
    assert tr is not None
    assert len(history.history["loss"]) == 2
    assert run.status == "completed"  # Keras stopped it, not wattwise
    assert tr.stop_kind == "host"
    assert tr.stop_reason is not None and "after epoch 2 of 5" in tr.stop_reason
    assert tr.epochs == 2
    assert tr.saved is not None and tr.saved["saved_energy_j"] > 0


def test_stop_in_the_last_epoch_is_no_early_stop(data: tuple[Any, Any]) -> None:
    class StopAtEnd(keras.callbacks.Callback):  # type: ignore[misc]
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if epoch == 1:
                self.model.stop_training = True

    cb = energy_cb()
    fit(data, [cb, StopAtEnd()], epochs=2)
    tr = cb.result.training
    assert tr is not None
    assert tr.epochs == 2 and tr.stop_kind is None and cb.result.status == "completed"


def test_resumed_fit_with_initial_epoch(data: tuple[Any, Any]) -> None:
    model = make_model()
    first = energy_cb(batch_size=BATCH)
    fit(data, [first], model=model, epochs=2)
    state = first.state_dict()
    assert state["epochs"] == 2 and state["steps"] == 2 * STEPS
    assert state["energy_j"] == pytest.approx(first.result.machine.energy_j)

    second = energy_cb(batch_size=BATCH, resume_from=state)
    history = fit(data, [second], model=model, epochs=4, initial_epoch=2)
    assert history.epoch == [2, 3]
    run = second.result
    tr = run.training
    assert tr is not None
    assert run.status == "completed"
    assert (tr.planned_epochs, tr.epoch_offset, tr.epochs) == (4, 2, 2)
    assert [p.name for p in run.phases if p.kind == "epoch"] == ["epoch 2", "epoch 3"]
    assert tr.carried["energy_j"] == state["energy_j"]
    assert tr.total_energy_j == pytest.approx(state["energy_j"] + run.machine.energy_j)
    assert [f.after_epochs for f in tr.forecasts] == [3, 4]
    assert all(f.planned_epochs == 4 for f in tr.forecasts)
    assert tr.forecasts[-1].energy_j == pytest.approx(tr.total_energy_j, rel=0.05)
    # the totals in History include the first fit
    assert history.history["energy/total_j"][0] > state["energy_j"]
    assert second.state_dict()["epochs"] == 4

    # initial_epoch without resume_from: numbered from there, no carried energy
    third = energy_cb()
    fit(data, [third], model=model, epochs=5, initial_epoch=4)
    tr3 = third.result.training
    assert tr3 is not None
    assert (tr3.epoch_offset, tr3.epochs) == (4, 1)
    assert tr3.total_energy_j == pytest.approx(third.result.machine.energy_j)


class Boom(RuntimeError):
    pass


def raise_at(epoch: int, batch: int) -> Any:
    class Raiser(keras.callbacks.Callback):  # type: ignore[misc]
        def on_epoch_begin(self, e: int, logs: Any = None) -> None:
            self.epoch = e

        def on_train_batch_end(self, b: int, logs: Any = None) -> None:
            if self.epoch == epoch and b == batch:
                raise Boom("boom in a batch")

    return Raiser()


def test_exception_in_a_batch_leaves_the_run_open_until_closed(
    data: tuple[Any, Any], tmp_path: Path
) -> None:
    cb = energy_cb(store=str(tmp_path / "runs.db"), batch_size=BATCH)
    with pytest.raises(Boom):
        fit(data, [cb, raise_at(1, 2)], epochs=3)
    # Keras has no exception hook: no on_train_end, the tracker is still measuring
    assert cb.tracker.running
    store = cb.tracker.store
    assert store is not None
    run_id = cb.tracker.id
    assert run_id is not None
    assert store.get_run(run_id).status == "running"  # "interrupted" once the process is gone
    assert cb.session is not None and cb.session.epoch_open

    err = Boom("boom in a batch")
    cb.close(err)
    cb.close(err)  # idempotent
    assert not cb.tracker.running
    run = store.get_run(run_id)
    assert run.status == "failed"
    assert any("Boom: boom in a batch" in e for e in run.events)
    tr = run.training
    assert tr is not None
    # epoch 0 in full, and the 3 steps epoch 1 made before the exception
    assert tr.epochs == 2 and tr.steps == STEPS + 3
    assert [p.metrics["steps"] for p in run.phases if p.kind == "epoch"] == [STEPS, 3]


def test_next_fit_ends_a_run_left_open_as_interrupted(
    data: tuple[Any, Any], tmp_path: Path
) -> None:
    cb = energy_cb(store=str(tmp_path / "runs.db"))
    with pytest.raises(Boom):
        fit(data, [cb, raise_at(0, 1)], epochs=2)
    crashed = cb.tracker.id
    assert crashed is not None
    fit(data, [cb], epochs=1)
    store = cb.tracker.store
    assert store is not None
    assert store.get_run(crashed).status == "interrupted"
    assert cb.result.id != crashed and cb.result.status == "completed"
    assert cb.result.training is not None and cb.result.training.epochs == 1
    cb.close()  # nothing open: nothing changes
    assert store.get_run(cb.result.id).status == "completed"


def test_a_running_tracker_passed_in_is_left_running(data: tuple[Any, Any]) -> None:
    with wattwise.track("outer", sensors=[sensor()], store=False, live="off", **OPTIONS) as run:
        cb = EnergyCallback(tracker=run, batch_size=BATCH)
        fit(data, [cb], epochs=2)
        assert run.running  # the with block owns it
        assert cb.state_dict()["epochs"] == 2
    record = run.result
    assert record.name == "outer" and record.status == "completed"
    assert record.training is not None and record.training.epochs == 2
    assert record.training.samples == 2 * TRAIN


def test_live_auto_prints_after_keras_epoch_line(
    data: tuple[Any, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    printed: Callable[[str], None] = print  # to stdout, where Keras writes too
    cb = energy_cb(live="auto", printer=printed)
    fit(data, [cb], epochs=2, verbose=2)
    out = capsys.readouterr().out.splitlines()
    ours = [i for i, line in enumerate(out) if line.startswith("wattwise keras-test")]
    keras_lines = [i for i, line in enumerate(out) if "val_loss" in line]
    second = out.index("Epoch 2/2")
    assert len(ours) == 2 and len(keras_lines) == 2
    assert keras_lines[0] < ours[0] < second < keras_lines[1] < ours[1]


def test_live_auto_is_quiet_with_verbose_0(
    data: tuple[Any, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    cb = energy_cb(live="auto")
    fit(data, [cb], epochs=1)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_wattwise_live_off_prints_nothing(
    data: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WATTWISE_LIVE", "off")
    cb = energy_cb(live=None)  # the config's live, from the environment
    fit(data, [cb], epochs=1, verbose=2)  # auto would print a line after Keras's
    assert cb.result.training is not None and cb.result.training.epochs == 1
    captured = capsys.readouterr()
    assert "val_loss" in captured.out  # Keras's own epoch line
    assert "wattwise" not in captured.out + captured.err


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"live": "loud"}, "live"),
        ({"batch_size": 0}, "batch_size"),
        ({"tokens_per_sample": 1.5}, "tokens_per_sample"),
        ({"early_stopping": "val_loss"}, "early_stopping"),
        ({"budget_kwh": -1}, "budget"),
        ({"interval_s": -1}, "interval_s"),
        ({"tracker": "a running tracker", "zone": "FRA"}, "either a tracker"),
        ({"tracker": "a running tracker", "name": "x"}, "either a tracker"),
        ({"tracker": object()}, "tracker"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    if kwargs.get("tracker") == "a running tracker":
        kwargs = {**kwargs, "tracker": wattwise.Tracker("t")}
    with pytest.raises(ConfigError, match=match):
        EnergyCallback(**kwargs)
