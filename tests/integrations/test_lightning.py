"""EnergyCallback on real Lightning fits (CPU, a tiny model, a 100 W synthetic sensor)."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pl = pytest.importorskip("lightning.pytorch")
torch = pytest.importorskip("torch")

from lightning.pytorch.callbacks import EarlyStopping as LightningEarlyStopping  # noqa: E402
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar  # noqa: E402
from lightning.pytorch.loggers import CSVLogger, Logger  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from wattwise import EarlyStopping, Tracker, get_store  # noqa: E402
from wattwise.exceptions import ConfigError  # noqa: E402
from wattwise.integrations.lightning import EnergyCallback, infer_batch_size  # noqa: E402
from wattwise.record import RunRecord  # noqa: E402
from wattwise.testing.fake import SyntheticSensor  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*does not have many workers"),
    pytest.mark.filterwarnings("ignore:The number of training batches"),
    pytest.mark.filterwarnings("ignore:.*LeafSpec.*is deprecated"),
    pytest.mark.filterwarnings("ignore:Checkpoint directory .* exists and is not empty"),
]

POWER_W = 100.0
BATCHES = 4  # per training epoch
BATCH = 8


def sensor() -> SyntheticSensor:
    return SyntheticSensor(lambda t: POWER_W, lambda a, b: POWER_W * (b - a), kind="counter")


def options(store: str | bool = False) -> dict[str, Any]:
    """Tracker options for a test run: exact 100 W, in memory, fixed zone, fast sampling."""
    return {"sensors": [sensor()], "store": store, "zone": "FRA", "interval_s": 0.1}


class Tiny(pl.LightningModule):  # type: ignore[misc]
    """A linear model on random tensors; ``val_loss(epoch)`` is what validation logs."""

    def __init__(
        self,
        val_loss: Callable[[int], float] = lambda epoch: 1.0 / (epoch + 1),
        *,
        fail_at_step: int | None = None,
        error: type[BaseException] = RuntimeError,
        step_sleep_s: float = 0.0,
    ) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.val_loss = val_loss
        self.fail_at_step = fail_at_step
        self.error = error
        self.step_sleep_s = step_sleep_s
        g = torch.Generator().manual_seed(0)
        self.x, self.y = torch.randn(BATCHES * BATCH, 4, generator=g), torch.randn(32, 1)

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        if self.fail_at_step is not None and self.global_step == self.fail_at_step:
            raise self.error("boom in training_step")
        if self.step_sleep_s:
            time.sleep(self.step_sleep_s)
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss, on_epoch=True, on_step=False)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.log("val_loss", self.val_loss(self.current_epoch))

    def test_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("test_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=0.01)

    def _loader(self, n: int) -> Any:
        return DataLoader(TensorDataset(self.x[:n], self.y[:n]), batch_size=BATCH)

    def train_dataloader(self) -> Any:
        return self._loader(BATCHES * BATCH)

    def val_dataloader(self) -> Any:
        return self._loader(2 * BATCH)

    def test_dataloader(self) -> Any:
        return self._loader(2 * BATCH)


def trainer(tmp_path: Path, callbacks: Sequence[Any], max_epochs: int = 2, **kw: Any) -> Any:
    settings: dict[str, Any] = {
        "max_epochs": max_epochs,
        "accelerator": "cpu",
        "devices": 1,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "default_root_dir": str(tmp_path),
    }
    settings.update(kw)
    return pl.Trainer(callbacks=list(callbacks), **settings)


def epochs_of(record: RunRecord) -> list[Any]:
    return [p for p in record.phases if p.kind == "epoch"]


class Recording(Logger):
    """A logger that keeps what it is sent."""

    def __init__(self) -> None:
        super().__init__()
        self.metrics: list[dict[str, float]] = []

    @property
    def name(self) -> str:
        return "recording"

    @property
    def version(self) -> int:
        return 0

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.metrics.append(dict(metrics))

    def names(self) -> set[str]:
        return {k for m in self.metrics for k in m}


def quiet_bar(lines: list[str]) -> Any:
    """A progress bar whose ``print`` appends to ``lines``."""
    bar = TQDMProgressBar()
    bar.print = lambda *args, **kwargs: lines.append(" ".join(map(str, args)))  # type: ignore[method-assign]
    return bar


def test_fit_records_epochs_validation_and_logs_metrics(tmp_path: Path) -> None:
    energy = EnergyCallback(
        "tiny", live="off", log_every_n_steps=2, tokens_fn=lambda b: 3 * len(b[0]), **options()
    )
    t = trainer(tmp_path, [energy], logger=CSVLogger(tmp_path))
    model = Tiny()
    t.fit(model)
    record = energy.result

    assert record.name == "tiny" and record.status == "completed"
    tr = record.training
    assert tr is not None
    assert (tr.planned_epochs, tr.epochs, tr.epoch_offset, tr.stop_kind) == (2, 2, 0, None)
    assert (tr.steps, tr.samples, tr.tokens) == (2 * BATCHES, 2 * BATCHES * BATCH, 6 * 32)
    assert len(tr.step_table) == 2 * BATCHES and set(tr.step_table.samples) == {BATCH}
    assert len(tr.forecasts) == 2

    epochs = epochs_of(record)
    assert [(p.name, p.index) for p in epochs] == [("epoch 0", 0), ("epoch 1", 1)]
    # the sanity check is not recorded: one validation per epoch, inside it
    vals = [p for p in record.phases if p.kind == "validation"]
    assert [(p.name, p.index) for p in vals] == [("validation 0", 0), ("validation 1", 1)]
    for ep, val in zip(epochs, vals, strict=True):
        m = ep.metrics
        assert (m["steps"], m["samples"], m["tokens"]) == (BATCHES, BATCHES * BATCH, 3 * 32)
        assert m["val_loss"] == pytest.approx(1.0 / (ep.index + 1))
        assert "train_loss" in m
        assert ep.started_at <= val.started_at <= val.ended_at <= ep.ended_at
        assert val.machine.energy_j > 0
        assert m["validation_energy_j"] == pytest.approx(val.machine.energy_j)
        assert m["train_energy_j"] + m["validation_energy_j"] == pytest.approx(ep.machine.energy_j)
        assert 0 < m["train_energy_j"] < ep.machine.energy_j

    # the trainer's logger got per-epoch summaries and live totals
    (csv_path,) = tmp_path.glob("lightning_logs/version_*/metrics.csv")
    with csv_path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    epoch_rows = [r for r in rows if r.get("energy/epoch_j")]
    assert len(epoch_rows) == 2
    assert [int(r["step"]) for r in epoch_rows] == [BATCHES, 2 * BATCHES]
    for r, ep in zip(epoch_rows, epochs, strict=True):
        assert float(r["energy/epoch_j"]) == pytest.approx(ep.machine.energy_j)
        assert float(r["energy/train_epoch_j"]) == pytest.approx(ep.metrics["train_energy_j"])
        assert float(r["energy/j_per_sample"]) > 0
        assert float(r["energy/forecast_kwh"]) > 0
    live = [r for r in rows if r.get("energy/power_w") and not r.get("energy/epoch_j")]
    assert len(live) == BATCHES  # every 2 of 8 batches
    assert all(float(r["energy/power_w"]) == pytest.approx(POWER_W) for r in live)
    totals = [float(r["energy/total_j"]) for r in live]
    assert totals == sorted(totals) and totals[-1] <= record.energy_j

    # a later trainer.test() is a run of its own with a ``test`` phase
    t.test(model, verbose=False)
    test_run = energy.result
    assert test_run.id != record.id and test_run.status == "completed"
    assert test_run.training is None
    assert [p.name for p in test_run.phases] == ["test"]
    assert test_run.phases[0].kind == "test" and test_run.phases[0].machine.energy_j > 0


def test_gradient_accumulation_counts_optimizer_steps(tmp_path: Path) -> None:
    energy = EnergyCallback(live="off", **options())
    trainer(tmp_path, [energy], max_epochs=1, accumulate_grad_batches=2).fit(Tiny())
    tr = energy.result.training
    assert tr is not None
    assert energy.result.name == "Tiny"  # the module's class by default
    assert (tr.steps, tr.samples) == (BATCHES // 2, BATCHES * BATCH)
    assert set(tr.step_table.samples) == {2 * BATCH}


def test_resumed_fit_continues_the_count(tmp_path: Path) -> None:
    ckpt_dir = tmp_path / "ckpt"

    def checkpoint() -> Any:
        return ModelCheckpoint(dirpath=ckpt_dir, save_last=True)

    db = str(tmp_path / "runs.db")
    first = EnergyCallback("resume", live="off", **options(db))
    trainer(tmp_path, [first, checkpoint()], max_epochs=2, enable_checkpointing=True).fit(Tiny())
    before = first.result
    assert before.training is not None and before.training.epochs == 2

    second = EnergyCallback("resume", live="off", **options(db))
    t = trainer(tmp_path, [second, checkpoint()], max_epochs=4, enable_checkpointing=True)
    t.fit(Tiny(), ckpt_path=str(ckpt_dir / "last.ckpt"))
    after = second.result
    tr = after.training
    assert tr is not None
    assert (tr.planned_epochs, tr.epoch_offset, tr.epochs) == (4, 2, 2)
    assert [p.name for p in epochs_of(after)] == ["epoch 2", "epoch 3"]
    carried = tr.carried
    assert carried["epochs"] == 2
    # saved at the last epoch's checkpoint: most of the first fit's energy
    assert 0.5 * before.energy_j < carried["energy_j"] <= before.energy_j
    assert carried["steps"] == 2 * BATCHES and carried["duration_s"] > 0
    assert tr.total_energy_j == pytest.approx(carried["energy_j"] + after.energy_j, rel=0.05)
    assert tr.total_energy_j > after.energy_j
    assert tr.forecasts[-1].planned_epochs == 4
    # after the last planned epoch the forecast is what the epochs used (the fit's tail aside)
    assert carried["energy_j"] < tr.forecasts[-1].energy_j <= tr.total_energy_j
    assert tr.stop_kind is None and after.status == "completed"
    # the checkpoint of the resumed fit holds the grown totals
    state = torch.load(ckpt_dir / "last.ckpt", weights_only=True)["callbacks"]
    assert state["EnergyCallback"]["epochs"] == 4
    assert state["EnergyCallback"]["energy_j"] > carried["energy_j"]
    # both segments are in the store, the second with its carried totals and epoch figures
    store = get_store(db)
    try:
        saved = store.get_run(after.id)
        assert store.get_run(before.id).training == before.training
    finally:
        store.close()
    assert saved.training == tr and saved.phases == after.phases
    assert saved.phase("epoch 3").metrics["train_energy_j"] > 0


def test_budget_stops_the_fit(tmp_path: Path) -> None:
    # 1e-6 kWh = 3.6 J: 36 ms at 100 W, well within the first epoch (0.4 s of steps)
    energy = EnergyCallback(budget_kwh=1e-6, live="off", **options())
    t = trainer(tmp_path, [energy], max_epochs=5)
    t.fit(Tiny(step_sleep_s=0.1))
    record = energy.result
    tr = record.training
    assert tr is not None
    assert record.status == "stopped"
    assert tr.stop_kind == "budget" and "budget" in (tr.stop_reason or "")
    assert tr.budget == {"kwh": 1e-6}
    assert tr.epochs == 1 and t.current_epoch == 1
    assert tr.steps < BATCHES  # stopped within the epoch, after the step that saw it
    assert tr.total_energy_j >= 3.6


def test_epochs_without_validation_carry_no_stale_validation_metrics(tmp_path: Path) -> None:
    # validation after epochs 1 and 3 only; val_loss improves at every validation. A stale
    # val_loss on epoch 2 (epoch 1's) would count as no improvement and stop the fit there
    energy = EnergyCallback(
        early_stopping=EarlyStopping("val_loss", patience=1), live="off", **options()
    )
    t = trainer(tmp_path, [energy], max_epochs=4, check_val_every_n_epoch=2)
    t.fit(Tiny())
    record = energy.result
    tr = record.training
    assert tr is not None
    assert (record.status, tr.stop_kind, tr.epochs, t.current_epoch) == ("completed", None, 4, 4)
    epochs = epochs_of(record)
    assert [("val_loss" in p.metrics) for p in epochs] == [False, True, False, True]
    assert [("validation_energy_j" in p.metrics) for p in epochs] == [False, True, False, True]
    assert [p.metrics["val_loss"] for p in epochs[1::2]] == pytest.approx([1 / 2, 1 / 4])
    assert all("train_loss" in p.metrics for p in epochs)  # updated every epoch: kept
    assert tr.early_stopping is not None and tr.early_stopping["best_epoch"] == 3


def test_single_process_budget_stop_is_mid_epoch_and_local(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bool, bool]] = []
    energy = EnergyCallback(budget_kwh=1e-6, live="off", **options())
    t = trainer(tmp_path, [energy], max_epochs=3)
    real = t.strategy.reduce_boolean_decision

    def reduce(decision: bool, all: bool = True) -> bool:
        calls.append((decision, all))
        return bool(real(decision, all))

    monkeypatch.setattr(t.strategy, "reduce_boolean_decision", reduce)
    t.fit(Tiny(step_sleep_s=0.05))
    tr = energy.result.training
    assert tr is not None and tr.stop_kind == "budget"
    assert tr.steps < BATCHES and tr.epochs == 1  # right after the step that crossed it
    assert calls == []  # no collective in a single process


@pytest.mark.filterwarnings("ignore::wattwise.BudgetWarning")
def test_distributed_stop_is_decided_at_the_epoch_end_by_every_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With world_size > 1 (a stub strategy here) a budget stops the fit at the epoch's
    end, through a collective every process calls, never in the middle of an epoch."""

    def fit(others_stop_at: int | None, **kwargs: Any) -> tuple[Any, list[tuple[bool, bool]]]:
        calls: list[tuple[bool, bool]] = []

        def reduce(decision: bool, all: bool = True) -> bool:
            calls.append((decision, all))
            epoch = t.current_epoch
            return decision or (others_stop_at is not None and epoch >= others_stop_at)

        energy = EnergyCallback(live="off", **kwargs, **options())
        t = trainer(tmp_path, [energy], max_epochs=4)
        monkeypatch.setattr(t.strategy, "world_size", 2, raising=False)
        monkeypatch.setattr(t.strategy, "reduce_boolean_decision", reduce)
        assert t.world_size == 2
        t.fit(Tiny(step_sleep_s=0.05))
        return energy.result, calls

    # this process reaches its budget in epoch 0: it finishes the epoch, then all stop
    record, calls = fit(None, budget_kwh=1e-6)
    tr = record.training
    assert tr is not None
    assert (record.status, tr.stop_kind, tr.epochs, tr.steps) == ("stopped", "budget", 1, BATCHES)
    assert calls == [(True, False), (True, False)]  # stop? then: a budget stop?

    # another process reached its budget in epoch 1: this one stops with it
    record, calls = fit(1)
    tr = record.training
    assert tr is not None
    assert (record.status, tr.stop_kind, tr.epochs) == ("stopped", "budget", 2)
    assert "another process" in (tr.stop_reason or "")
    assert calls == [(False, False), (False, False), (False, False)]


def test_energy_aware_early_stopping(tmp_path: Path) -> None:
    energy = EnergyCallback(
        early_stopping=EarlyStopping("val_loss", patience=1), live="off", **options()
    )
    t = trainer(tmp_path, [energy], max_epochs=5)
    t.fit(Tiny(val_loss=lambda epoch: 1.0 + epoch))  # gets worse every epoch
    record = energy.result
    tr = record.training
    assert tr is not None
    assert record.status == "stopped" and tr.stop_kind == "early_stopping"
    assert t.current_epoch == 2 and tr.epochs == 2
    assert tr.early_stopping is not None
    assert (tr.early_stopping["best_epoch"], tr.early_stopping["stopped_epoch"]) == (0, 1)
    assert tr.saved is not None
    assert tr.saved["planned_epochs"] == 5 and tr.saved["saved_energy_j"] > 0


def test_lightning_early_stopping_is_a_host_stop(tmp_path: Path) -> None:
    lines: list[str] = []
    bar = quiet_bar(lines)
    energy = EnergyCallback(**options())  # live="auto": lines through the progress bar
    stopper = LightningEarlyStopping("val_loss", patience=1, mode="min")
    t = trainer(tmp_path, [energy, stopper, bar], max_epochs=5, enable_progress_bar=True)
    t.fit(Tiny(val_loss=lambda epoch: 1.0 + epoch))
    record = energy.result
    tr = record.training
    assert tr is not None
    assert t.current_epoch == 2 and tr.epochs == 2
    assert tr.stop_kind == "host" and "EarlyStopping" in (tr.stop_reason or "")
    assert record.status == "completed"  # wattwise did not stop it
    assert tr.saved is not None and tr.saved["saved_energy_j"] > 0
    epoch_lines = [x for x in lines if x.startswith("wattwise Tiny")]
    assert len(epoch_lines) == 2 and "2/5 epochs" in epoch_lines[-1]
    assert any("stopping: EarlyStopping" in x for x in lines)


def test_wattwise_live_off_prints_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WATTWISE_LIVE", "off")
    lines: list[str] = []
    energy = EnergyCallback(**options())  # live=None: the config's, from the environment
    t = trainer(tmp_path, [energy, quiet_bar(lines)], max_epochs=2, enable_progress_bar=True)
    t.fit(Tiny())
    assert energy.result.training is not None and energy.result.training.epochs == 2
    captured = capsys.readouterr()
    assert lines == [] and "wattwise" not in captured.out + captured.err


def test_printer_prefix_none_and_tokens_per_sample(tmp_path: Path) -> None:
    lines: list[str] = []
    bar_lines: list[str] = []
    logger = Recording()
    energy = EnergyCallback(
        live="plain", printer=lines.append, prefix=None, tokens_per_sample=5, **options()
    )
    bar = quiet_bar(bar_lines)
    t = trainer(tmp_path, [energy, bar], max_epochs=1, logger=logger, enable_progress_bar=True)
    t.fit(Tiny())
    tr = energy.result.training
    assert tr is not None and (tr.samples, tr.tokens) == (BATCHES * BATCH, BATCHES * BATCH * 5)
    assert epochs_of(energy.result)[0].metrics["energy_per_token_j"] > 0
    assert len(lines) == 1 and lines[0].startswith("wattwise Tiny") and bar_lines == []
    assert "train_loss" in logger.names()  # Lightning's own logs still go through
    assert not any(k.startswith("energy") for k in logger.names())


def test_budget_used_is_logged_live(tmp_path: Path) -> None:
    logger = Recording()
    energy = EnergyCallback(budget_kwh=1.0, log_every_n_steps=2, live="off", **options())
    trainer(tmp_path, [energy], max_epochs=1, logger=logger).fit(Tiny())
    live = [m for m in logger.metrics if "energy/power_w" in m]
    assert len(live) == BATCHES // 2
    assert all(0 < m["energy/budget_used"] < 1e-3 for m in live)


def test_other_ranks_log_and_show_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(pl.Trainer, "is_global_zero", property(lambda self: False))
    lines: list[str] = []
    logger = Recording()
    energy = EnergyCallback(live="plain", printer=lines.append, log_every_n_steps=1, **options())
    trainer(tmp_path, [energy], max_epochs=2, logger=logger).fit(Tiny())
    record = energy.result
    assert record.training is not None and record.training.epochs == 2  # still measured
    assert "train_loss" in logger.names()
    assert not any(k.startswith("energy/") for k in logger.names())
    captured = capsys.readouterr()
    assert lines == [] and "wattwise" not in captured.out + captured.err


def test_exception_in_training_marks_the_run_failed(tmp_path: Path) -> None:
    energy = EnergyCallback(live="off", **options())
    with pytest.raises(RuntimeError, match="boom in training_step"):
        trainer(tmp_path, [energy], max_epochs=3).fit(Tiny(fail_at_step=BATCHES + 2))
    record = energy.result
    assert record.status == "failed"
    assert any("RuntimeError: boom in training_step" in e for e in record.events)
    assert energy.tracker is not None and not energy.tracker.running
    tr = record.training
    assert tr is not None and tr.steps == BATCHES + 2
    # the interrupted epoch is kept up to the failure
    assert [p.metrics["steps"] for p in epochs_of(record)] == [BATCHES, 2]


def test_ctrl_c_marks_the_run_interrupted(tmp_path: Path) -> None:
    energy = EnergyCallback(live="off", **options())
    sigint = signal.getsignal(signal.SIGINT)
    try:  # Lightning shuts down gracefully: it ignores SIGINT, then exits with status 1
        with pytest.raises(SystemExit):
            trainer(tmp_path, [energy]).fit(Tiny(fail_at_step=1, error=KeyboardInterrupt))
    finally:
        signal.signal(signal.SIGINT, sigint)
    record = energy.result
    assert record.status == "interrupted"
    assert "interrupted by KeyboardInterrupt" in record.events
    assert record.training is not None and record.training.steps == 1


def test_a_running_tracker_is_used_and_left_running(tmp_path: Path) -> None:
    tracker = Tracker("outer", **options()).start()
    try:
        energy = EnergyCallback(tracker=tracker, live="off")
        t = trainer(tmp_path, [energy], max_epochs=2)
        model = Tiny()
        t.fit(model)
        assert tracker.running
        t.validate(model, verbose=False)
        t.test(model, verbose=False)
        assert tracker.running
        assert energy.session is not None and energy.session.epochs_completed == 2
    finally:
        record = tracker.stop()
    assert record.name == "outer" and record.status == "completed"
    assert record.training is not None and record.training.epochs == 2
    assert [p.name for p in record.phases] == [
        "validation 0",
        "epoch 0",
        "validation 1",
        "epoch 1",
        "validation",
        "test",
    ]
    assert [p.kind for p in record.phases][-2:] == ["validation", "test"]


@dataclass
class _Pair:
    inputs: Any
    labels: Any


class _Sized:
    batch_size = 5


@pytest.mark.parametrize(
    ("batch", "expected"),
    [
        ((torch.zeros(7, 3), torch.zeros(7)), 7),
        ([torch.zeros(()), {"x": torch.zeros(6, 2)}], 6),
        ({"input_ids": torch.zeros(3, 10), "labels": torch.zeros(3)}, 3),
        (_Pair(["a", "b"], torch.zeros(4)), 4),
        (_Sized(), 5),
        ((["text", "more"], 1), None),
        (None, None),
    ],
)
def test_infer_batch_size(batch: Any, expected: int | None) -> None:
    assert infer_batch_size(batch) == expected


def test_bad_arguments() -> None:
    tracker = Tracker("x", store=False)
    with pytest.raises(ConfigError, match="cannot be combined"):
        EnergyCallback(tracker=tracker, zone="FRA")
    with pytest.raises(ConfigError, match=r"unknown tracker option\(s\): zoen"):
        EnergyCallback(zoen="FRA")
    with pytest.raises(ConfigError, match="live"):
        EnergyCallback(live="loud")
    with pytest.raises(ConfigError, match="prefix"):
        EnergyCallback(prefix=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="printer"):
        EnergyCallback(printer="stderr")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="tokens_per_sample"):
        EnergyCallback(tokens_per_sample=0)
    with pytest.raises(ConfigError, match="not both"):
        EnergyCallback(tokens_per_sample=2, tokens_fn=len)
    with pytest.raises(ConfigError, match="log_every_n_steps"):
        EnergyCallback(log_every_n_steps=0)
    with pytest.raises(ConfigError, match=r"wattwise\.EarlyStopping"):
        EnergyCallback(early_stopping=LightningEarlyStopping("val_loss"))
    with pytest.raises(ConfigError, match="budget"):
        EnergyCallback(budget_kwh=-1.0)


def test_checkpoint_state_round_trips_before_a_fit() -> None:
    energy = EnergyCallback()
    assert energy.state_dict() == {}
    energy.load_state_dict({"energy_j": 12.5, "epochs": 3})
    assert energy.state_dict() == {"energy_j": 12.5, "epochs": 3.0}


def test_import_wattwise_does_not_import_lightning() -> None:
    code = (
        "import sys, wattwise, wattwise.integrations\n"
        "wattwise.Tracker, wattwise.EarlyStopping, wattwise.TrainingSession\n"
        "bad = [m for m in ('lightning', 'pytorch_lightning', 'torch') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
