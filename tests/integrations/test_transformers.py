"""The Hugging Face EnergyCallback on real ``Trainer.train()`` runs (CPU, a tiny BERT).

The model is built from a config (no download), the data are synthetic, and the sensor is
an exact counter, so every energy below is a known power times a measured time.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from transformers import (  # noqa: E402
    BertConfig,
    BertForSequenceClassification,
    EarlyStoppingCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)

from wattwise import ConfigError, EarlyStopping  # noqa: E402
from wattwise.integrations import transformers as hf  # noqa: E402
from wattwise.integrations.transformers import EnergyCallback  # noqa: E402
from wattwise.record import PhaseRecord, RunRecord  # noqa: E402
from wattwise.store import get_store  # noqa: E402
from wattwise.testing.fake import SyntheticSensor  # noqa: E402
from wattwise.tracking import Tracker  # noqa: E402

N, SEQ, BATCH = 32, 8, 8
STEPS = N // BATCH  # optimizer steps per epoch
OPTIONS: dict[str, Any] = {"zone": "FRA", "interval_s": 0.1}


Dataset: Any = torch.utils.data.Dataset


class Synthetic(Dataset):  # type: ignore[misc]
    """Fixed random token sequences with binary labels."""

    def __init__(self, n: int = N, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randint(1, 64, (n, SEQ), generator=g)
        self.y = torch.randint(0, 2, (n,), generator=g)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict[str, Any]:
        x = self.x[i]
        return {"input_ids": x, "attention_mask": torch.ones_like(x), "labels": self.y[i]}


def sensor(power_w: float = 100.0) -> SyntheticSensor:
    """A counter with exactly ``power_w`` watts."""
    return SyntheticSensor(lambda t: power_w, lambda a, b: power_w * (b - a), kind="counter")


def energy_cb(power_w: float = 100.0, **kwargs: Any) -> EnergyCallback:
    kwargs.setdefault("store", False)
    kwargs.setdefault("live", "off")
    return EnergyCallback("hf-test", sensors=[sensor(power_w)], **OPTIONS, **kwargs)


def make_trainer(
    out: Path, callbacks: list[Any], *, eval_data: bool | str = False, **overrides: Any
) -> Trainer:
    """A tiny BERT on 32 samples; ``eval_data="two"`` evaluates on two datasets, a and b."""
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=64,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=SEQ,
    )
    options: dict[str, Any] = {
        "output_dir": str(out),
        "report_to": [],
        "use_cpu": True,
        "num_train_epochs": 2,
        "per_device_train_batch_size": BATCH,
        "per_device_eval_batch_size": 16,
        "logging_steps": 2,
        "save_strategy": "no",
        "disable_tqdm": True,
        "seed": 0,
    }
    options.update(overrides)
    return Trainer(
        model=BertForSequenceClassification(config),
        args=TrainingArguments(**options),
        train_dataset=Synthetic(),
        eval_dataset=(
            {"a": Synthetic(16, seed=1), "b": Synthetic(16, seed=2)}
            if eval_data == "two"
            else Synthetic(16, seed=1)
            if eval_data
            else None
        ),
        callbacks=callbacks,
    )


def epochs_of(run: RunRecord, kind: str = "epoch") -> list[PhaseRecord]:
    return [p for p in run.phases if p.kind == kind]


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """One intra-op thread: on a small shared CPU, more threads only wait for each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, EnergyCallback]:
    """Two epochs saved at each epoch's end: the last checkpoint and the callback."""
    out = tmp_path_factory.mktemp("first")
    cb = energy_cb()
    make_trainer(out, [cb], save_strategy="epoch").train()
    return out / f"checkpoint-{2 * STEPS}", cb


def test_import_wattwise_does_not_import_transformers() -> None:
    code = (
        "import sys, wattwise, wattwise.integrations; wattwise.Tracker; wattwise.EarlyStopping; "
        "import wattwise.training; assert 'transformers' not in sys.modules, 'imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_epochs_steps_tokens_evaluation_and_logs(tmp_path: Path) -> None:
    lines: list[str] = []
    cb = energy_cb(store=str(tmp_path / "runs.db"), live="plain", printer=lines.append)
    trainer = make_trainer(
        tmp_path / "out",
        [cb],
        eval_data=True,
        eval_strategy="epoch",
        include_num_input_tokens_seen="all",
    )
    trainer.train()
    run = cb.result
    assert (run.name, run.status) == ("hf-test", "completed")
    tr = run.training
    assert tr is not None
    assert (tr.planned_epochs, tr.epochs, tr.steps) == (2, 2, 2 * STEPS)
    assert (tr.samples, tr.tokens) == (2 * N, 2 * N * SEQ)
    assert tr.stop_kind is None and tr.saved is None
    assert [f.after_epochs for f in tr.forecasts] == [1, 2]
    assert set(tr.step_table.samples) == {BATCH} and set(tr.step_table.tokens) == {BATCH * SEQ}

    history = trainer.state.log_history
    evals = [h for h in history if "eval_loss" in h]
    epochs, phases = epochs_of(run), epochs_of(run, "eval")
    assert [(p.name, p.index) for p in epochs] == [("epoch 0", 0), ("epoch 1", 1)]
    assert [p.name for p in phases] == ["eval 0", "eval 1"]
    for p, ev, e in zip(epochs, phases, evals, strict=True):
        assert p.metrics["steps"] == STEPS
        assert (p.metrics["samples"], p.metrics["tokens"]) == (N, N * SEQ)
        assert p.metrics["energy_per_sample_j"] == pytest.approx(p.machine.energy_j / N)
        assert p.machine.energy_j == pytest.approx(100.0 * p.duration_s, rel=0.05)
        # the epoch ends after its evaluation, whose metrics it carries
        assert p.metrics["eval_loss"] == pytest.approx(e["eval_loss"])
        assert "loss" in p.metrics
        assert p.started_at <= ev.started_at <= ev.ended_at <= p.ended_at
        assert ev.metrics["eval_loss"] == pytest.approx(e["eval_loss"])
        assert 0 < ev.machine.energy_j < p.machine.energy_j

    # every log, in log_history too, carries the live figures; each epoch's once
    assert all("energy/total_j" in h and "energy/power_w" in h for h in history)
    assert all("energy/co2_g" in h for h in history)
    summaries = [h for h in history if "energy/epoch_j" in h]
    assert [h["energy/epoch_j"] for h in summaries] == pytest.approx(
        [p.machine.energy_j for p in epochs]
    )
    assert "energy/forecast_kwh" in summaries[0] and "energy/j_per_token" in summaries[0]
    assert "train_runtime" in summaries[-1]  # the last epoch's reach the final log
    totals = [h["energy/total_j"] for h in history]
    assert totals == sorted(totals) and 0 < totals[-1] <= run.machine.energy_j
    assert history[-1]["energy/power_w"] == pytest.approx(100.0)

    assert len(lines) == 2 and all(line.startswith("wattwise hf-test") for line in lines)
    assert "2/2 epochs" in lines[-1]
    store = cb.tracker.store
    assert store is not None and store.get_run(run.id).training is not None

    # an evaluation after train() is no business of the finished run
    trainer.evaluate()
    assert cb.result is run and not cb.tracker.running


def test_max_steps_accumulation_step_evaluations_and_a_given_tracker(tmp_path: Path) -> None:
    tracker = Tracker("mine", sensors=[sensor()], store=False, live="off", **OPTIONS).start()
    cb = EnergyCallback(tracker=tracker, tokens_per_sample=SEQ)
    # 4 samples × 2 accumulated = 8 per optimizer step: 4 steps an epoch; 6 steps = 2 epochs
    trainer = make_trainer(
        tmp_path,
        [cb],
        per_device_train_batch_size=4,
        gradient_accumulation_steps=2,
        max_steps=6,
        eval_data=True,
        eval_strategy="steps",
        eval_steps=3,
        eval_on_start=True,
    )
    trainer.train()
    assert tracker.running  # the caller's: left running
    run = tracker.stop()
    tr = run.training
    assert tr is not None
    assert (tr.planned_epochs, tr.epochs, tr.steps) == (2, 2, 6)
    epochs, evals = epochs_of(run), epochs_of(run, "eval")
    assert [p.metrics["steps"] for p in epochs] == [4, 2]
    assert (tr.samples, tr.tokens) == (6 * 8, 6 * 8 * SEQ)
    assert tr.stop_kind is None  # max_steps is the plan, not a stop
    # evaluations at the start (outside any epoch), at step 3 (epoch 0) and step 6 (epoch 1)
    logged = [h["eval_loss"] for h in trainer.state.log_history if "eval_loss" in h]
    assert [p.name for p in evals] == ["eval 0", "eval 1", "eval 2"]
    assert [p.metrics["eval_loss"] for p in evals] == pytest.approx(logged)
    assert evals[0].ended_at <= epochs[0].started_at
    assert [p.metrics["eval_loss"] for p in epochs] == pytest.approx(logged[1:])
    for p, ev in zip(epochs, evals[1:], strict=True):
        assert p.started_at <= ev.started_at <= ev.ended_at <= p.ended_at


def test_budget_stops_training_after_the_step_that_reached_it(tmp_path: Path) -> None:
    # 1 GW: the budget is over by the first step; the Trainer must stop right there
    cb = energy_cb(1e9, budget_kwh=1e-3)
    trainer = make_trainer(tmp_path, [cb], num_train_epochs=3)
    trainer.train()
    run = cb.result
    tr = run.training
    assert tr is not None
    assert run.status == "stopped"
    assert tr.stop_kind == "budget" and tr.stop_reason is not None
    assert "budget" in tr.stop_reason
    assert trainer.state.global_step == 1
    assert (tr.epochs, tr.steps) == (1, 1)
    assert tr.budget == {"kwh": 1e-3}


@pytest.mark.parametrize(
    ("monitor", "eval_data"), [("eval_loss", True), ("eval_b_loss", "two")], ids=["one", "two"]
)
def test_energy_aware_early_stopping_on_eval_loss(
    tmp_path: Path, monitor: str, eval_data: bool | str
) -> None:
    # nothing improves by 1e9: patience 1 stops after epoch 1, deterministically. With two
    # evaluation datasets the epoch closes with the first; the second's loss still counts
    rule = EarlyStopping(monitor, patience=1, min_delta=1e9)
    cb = energy_cb(early_stopping=rule)
    trainer = make_trainer(
        tmp_path, [cb], eval_data=eval_data, eval_strategy="epoch", num_train_epochs=5
    )
    trainer.train()
    run = cb.result
    tr = run.training
    assert tr is not None
    assert (run.status, tr.stop_kind) == ("stopped", "early_stopping")
    assert trainer.state.global_step == 2 * STEPS
    assert (tr.planned_epochs, tr.epochs) == (5, 2)
    assert tr.early_stopping is not None
    assert (tr.early_stopping["best_epoch"], tr.early_stopping["stopped_epoch"]) == (0, 1)
    assert tr.saved is not None and tr.saved["saved_energy_j"] > 0


def test_transformers_early_stopping_is_a_host_stop(tmp_path: Path) -> None:
    cb = energy_cb()
    trainer = make_trainer(
        tmp_path,
        [cb, EarlyStoppingCallback(early_stopping_patience=1, early_stopping_threshold=1e9)],
        eval_data=True,
        eval_strategy="epoch",
        metric_for_best_model="eval_loss",
        num_train_epochs=4,
    )
    trainer.train()
    run = cb.result
    tr = run.training
    assert tr is not None
    assert trainer.state.global_step == 2 * STEPS
    assert tr.stop_kind == "host" and tr.stop_reason is not None
    assert f"step {2 * STEPS} of {4 * STEPS}" in tr.stop_reason
    assert run.status == "completed"  # wattwise did not stop it
    assert tr.epochs == 2 and tr.saved is not None


def test_checkpoints_carry_the_totals(checkpoint: tuple[Path, EnergyCallback]) -> None:
    path, first = checkpoint
    saved = json.loads((path / "trainer_state.json").read_text())
    totals = saved["stateful_callbacks"]["EnergyCallback"]["attributes"]["wattwise_checkpoint"]
    assert totals["epochs"] == 2 and totals["steps"] == 2 * STEPS
    assert 0 < totals["energy_j"] <= first.result.machine.energy_j


@pytest.mark.parametrize("restore", [False, True])
def test_resume_from_checkpoint_continues_the_count(
    checkpoint: tuple[Path, EnergyCallback], tmp_path: Path, restore: bool
) -> None:
    path, _ = checkpoint
    saved = json.loads((path / "trainer_state.json").read_text())
    carried = saved["stateful_callbacks"]["EnergyCallback"]["attributes"]["wattwise_checkpoint"]
    cb = energy_cb()
    trainer = make_trainer(
        tmp_path, [cb], num_train_epochs=3, restore_callback_states_from_checkpoint=restore
    )
    trainer.train(resume_from_checkpoint=str(path))
    if restore:  # the Trainer swapped in a copy built from the checkpoint; it forwards to cb
        copies = [c for c in trainer.callback_handler.callbacks if isinstance(c, EnergyCallback)]
        assert len(copies) == 1 and copies[0] is not cb
    run = cb.result
    tr = run.training
    assert tr is not None
    assert (tr.planned_epochs, tr.epoch_offset, tr.epochs, tr.steps) == (3, 2, 1, STEPS)
    assert [p.name for p in epochs_of(run)] == ["epoch 2"]
    assert tr.carried["energy_j"] == pytest.approx(carried["energy_j"]) and carried["energy_j"] > 0
    assert tr.total_energy_j == pytest.approx(carried["energy_j"] + run.machine.energy_j)
    assert [f.after_epochs for f in tr.forecasts] == [3]
    assert tr.forecasts[0].energy_j == pytest.approx(tr.total_energy_j, rel=0.05)
    log = trainer.state.log_history[-1]  # resumed logs count from the start of the fit
    assert log["energy/total_j"] > carried["energy_j"]


def test_attach_lets_the_loggers_see_the_figures(tmp_path: Path) -> None:
    class Logger(TrainerCallback):
        def __init__(self) -> None:
            self.logs: list[dict[str, float]] = []

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            self.logs.append(dict(logs))

    late, early = Logger(), Logger()
    cb = energy_cb()
    trainer = make_trainer(tmp_path, [late, cb], max_steps=2)
    trainer.train()  # as passed, the callback comes after `late`: it logged without energy
    assert late.logs and not any("energy/total_j" in log for log in late.logs)

    cb2 = energy_cb()
    trainer = make_trainer(tmp_path, [early], max_steps=2)
    assert cb2.attach(trainer) is cb2
    names = [type(c).__name__ for c in trainer.callback_handler.callbacks]
    assert names[:2] == ["DefaultFlowCallback", "EnergyCallback"]
    trainer.train()
    assert early.logs and all("energy/total_j" in log for log in early.logs)
    assert cb2.result.training is not None and cb2.result.training.steps == 2
    cb2.attach(trainer)  # moving it again does not add it twice
    assert sum(c is cb2 for c in trainer.callback_handler.callbacks) == 1


class Boom(TrainerCallback):
    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == 2:
            raise RuntimeError("boom")


def test_failures_crash_and_context_manager(tmp_path: Path) -> None:
    cb = energy_cb(store=str(tmp_path / "runs.db"))
    with pytest.raises(RuntimeError, match="boom"):
        make_trainer(tmp_path / "a", [cb, Boom()]).train()
    assert cb.tracker.running  # no exception event in the Trainer: the run is left open
    crashed = cb.tracker.id
    make_trainer(tmp_path / "b", [cb], max_steps=1).train()  # the next train() closes it
    assert cb.result.status == "completed"
    store = cb.tracker.store
    assert store is not None and crashed is not None
    assert store.get_run(crashed).status == "interrupted"

    with pytest.raises(RuntimeError, match="boom"), cb:
        make_trainer(tmp_path / "c", [cb, Boom()]).train()
    assert not cb.tracker.running
    assert cb.result.status == "failed" and "boom" in " ".join(cb.result.events)
    runs = get_store(str(tmp_path / "runs.db")).list_runs()
    assert sorted(r.status for r in runs) == ["completed", "failed", "interrupted"]
    assert not [t for t in threading.enumerate() if t.name == "wattwise-sampler"]


class _Terminal(io.StringIO):
    """Standard error as a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("disable_tqdm", [False, True])
def test_live_auto_at_a_terminal_is_plain_beside_the_progress_bar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, disable_tqdm: bool
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    cb = energy_cb(live="auto")
    views: list[str] = []

    class Probe(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            assert cb.session is not None
            views.append(type(cb.session._view).__name__)

    trainer = make_trainer(tmp_path, [cb, Probe()], max_steps=2, disable_tqdm=disable_tqdm)
    trainer.train()
    assert cb.result.training is not None and cb.result.training.steps == 2
    if disable_tqdm:  # no bar to share the row with: the rich line, as anywhere else
        assert set(views) == {"RichView"}
        return
    # the Trainer's tqdm bar is drawn on that terminal: no rich line fighting it for the
    # row, but plain lines written above the bar
    assert set(views) == {"PlainView"}
    out = terminal.getvalue()
    assert "it/s]" in out or "%|" in out  # the bar was drawn there
    lines = [line for line in out.splitlines() if line.startswith("wattwise hf-test")]
    assert len(lines) == 1 and "1/1 epochs" in lines[0]


def test_wattwise_live_off_prints_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WATTWISE_LIVE", "off")
    cb = energy_cb(live=None)  # the config's live, from the environment
    make_trainer(tmp_path, [cb], max_steps=2).train()
    assert cb.result.training is not None and cb.result.training.steps == 2
    captured = capsys.readouterr()
    assert "wattwise" not in captured.out + captured.err


def test_invalid_arguments() -> None:
    with pytest.raises(ConfigError, match="live"):
        EnergyCallback(live="loud", store=False)
    with pytest.raises(ConfigError, match="tokens_per_sample"):
        EnergyCallback(tokens_per_sample=0, store=False)
    with pytest.raises(ConfigError, match="early_stopping"):
        EnergyCallback(early_stopping="eval_loss", store=False)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="budget"):
        EnergyCallback(budget_kwh=-1, store=False)
    with pytest.raises(ConfigError, match="zone"):
        EnergyCallback(tracker=Tracker(store=False), zone="FRA")


def test_stop_decision_is_shared_across_processes(tmp_path: Path) -> None:
    dist = torch.distributed
    if not dist.is_available():
        pytest.skip("torch.distributed is not available")
    args = SimpleNamespace(world_size=2, device="cpu")
    assert hf._any_process(True, args) is True  # not initialised: its own flag
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        assert hf._any_process(True, args) is True
        assert hf._any_process(False, args) is False
    finally:
        dist.destroy_process_group()
