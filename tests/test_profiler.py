"""The training-step profiler: attribution by time share, FLOPs, layer types, saved runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wattwise.exceptions import ConfigError
from wattwise.profiler import LAYER_TYPES, ProfileResult, layer_type, profile
from wattwise.store import get_store
from wattwise.testing.fake import SyntheticSensor
from wattwise.tracking import Tracker

torch = pytest.importorskip("torch")
nn = torch.nn

POWER_W = 100.0


def _sensor() -> SyntheticSensor:
    return SyntheticSensor(lambda t: POWER_W, lambda a, b: POWER_W * (b - a), kind="counter")


def _options(**kw: Any) -> dict[str, Any]:
    return {"sensors": [_sensor()], "store": False, "zone": "FRA", "interval_s": 0.1, **kw}


def _small() -> tuple[Any, tuple[Any, Any], Any]:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(144, 10)
    )
    batch = (torch.randn(2, 1, 8, 8), torch.randint(0, 10, (2,)))
    return model, batch, torch.optim.SGD(model.parameters(), lr=0.01)


@pytest.fixture(scope="module")
def small_profile() -> tuple[ProfileResult, Any]:
    model, batch, opt = _small()
    result = profile(
        model,
        batch,
        loss_fn=nn.functional.cross_entropy,
        optimizer=opt,
        steps=5,
        warmup=1,
        min_measure_s=0.3,
        **_options(),
    )
    return result, model


def test_flops_of_conv_and_linear_match_hand_counts(small_profile: Any) -> None:
    result, _ = small_profile
    mods = {m.name: m for m in result.modules}
    # conv: 2 samples × 4 channels × 6×6 outputs × (1×3×3) MACs × 2 FLOPs per MAC
    assert mods["0"].forward_flops == 2 * 4 * 36 * 9 * 2 == 5184
    # its input needs no gradient: backward computes the weight gradient only
    assert mods["0"].backward_flops == 5184
    # linear: 2 × 144 × 10 MACs forward; backward: input and weight gradients
    assert mods["3"].forward_flops == 2 * 2 * 144 * 10
    assert mods["3"].backward_flops == 2 * (2 * 2 * 144 * 10)
    assert mods["1"].forward_flops == 0  # ReLU: no multiply-adds
    assert result.forward_flops_per_step == 5184 + 5760
    assert result.train_flops_per_step == 5184 + 5760 + 5184 + 11520
    assert result.inference_flops_per_sample == pytest.approx((5184 + 5760) / 2)
    assert result.training_flops(100) == 100 * result.train_flops_per_step


def test_attributions_sum_to_the_measured_step_energy(small_profile: Any) -> None:
    result, _ = small_profile
    assert result.method == "measured" and result.scope == "machine"
    # a constant 100 W synthetic sensor: one step's energy is 100 W × the step's time
    assert result.step_energy_j == pytest.approx(POWER_W * result.step_s, rel=0.25)
    assert sum(c.energy_j for c in result.categories) == pytest.approx(result.step_energy_j)
    parts = {c.category for c in result.categories}
    assert {"convolution", "linear", "activation", "loss", "optimizer", "framework"} <= parts
    modules_j = sum(m.energy_j for m in result.modules)
    rest = sum(result.category(k).energy_j for k in ("loss", "optimizer", "framework"))
    assert modules_j + rest == pytest.approx(result.step_energy_j)
    assert all(m.forward_energy_j >= 0 and m.backward_energy_j >= 0 for m in result.modules)
    assert [m.energy_j for m in result.modules] == sorted(
        (m.energy_j for m in result.modules), reverse=True
    )
    assert sum(c.share for c in result.categories) == pytest.approx(1.0)
    assert "time" in result.attribution and "FLOPs" in result.attribution


def test_the_model_is_left_as_it_was_found(small_profile: Any) -> None:
    _, model = small_profile
    assert model[1].inplace is True  # switched out of place only while profiled
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks
        assert not m._backward_hooks and not m._backward_pre_hooks


def test_a_conv_heavy_model_ranks_convolution_first() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(8, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 10),
    )
    batch = (torch.randn(16, 8, 24, 24), torch.randint(0, 10, (16,)))
    result = profile(
        model,
        batch,
        loss_fn=nn.functional.cross_entropy,
        steps=3,
        warmup=1,
        min_measure_s=0.3,
        **_options(),
    )
    layers = [c for c in result.categories if c.category in LAYER_TYPES]
    assert layers[0].category == "convolution"
    assert result.category("convolution").flops > 100 * result.category("linear").flops
    assert "optimizer" not in {c.category for c in result.categories}  # none was given


def test_layer_types() -> None:
    cases = {
        "convolution": [nn.Conv1d(1, 1, 1), nn.Conv2d(1, 1, 1), nn.ConvTranspose2d(1, 1, 1)],
        "linear": [nn.Linear(1, 1), nn.Bilinear(1, 1, 1)],
        "normalisation": [nn.BatchNorm2d(1), nn.LayerNorm(4), nn.GroupNorm(1, 2)],
        "activation": [nn.ReLU(), nn.GELU(), nn.Sigmoid(), nn.Softmax(dim=1)],
        "pooling": [nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1)],
        "attention": [nn.MultiheadAttention(4, 2)],
        "embedding": [nn.Embedding(5, 2)],
        "other": [nn.Dropout(), nn.Flatten(), nn.Identity()],
    }
    for kind, modules in cases.items():
        for m in modules:
            assert layer_type(m) == kind, type(m).__name__


def test_attention_is_one_atomic_module_and_embeddings_count() -> None:
    class Tiny(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(20, 8)
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
            self.head = nn.Linear(8, 20)

        def forward(self, tokens: Any) -> Any:
            x = self.emb(tokens)
            x, _ = self.attn(x, x, x)
            return self.head(x).mean(dim=1)

    batch = (torch.randint(0, 20, (4, 6)), torch.randint(0, 20, (4,)))
    result = profile(
        Tiny(),
        batch,
        loss_fn=nn.functional.cross_entropy,
        steps=2,
        warmup=1,
        min_measure_s=0.2,
        **_options(),
    )
    names = {m.name: m.layer_type for m in result.modules}
    assert names == {"emb": "embedding", "attn": "attention", "head": "linear"}
    assert result.category("attention").flops > 0


def test_saved_with_the_run_and_round_trips(tmp_path: Path) -> None:
    model, batch, opt = _small()
    db = str(tmp_path / "runs.db")
    result = profile(
        model,
        batch,
        loss_fn=nn.functional.cross_entropy,
        optimizer=opt,
        steps=2,
        warmup=0,
        min_measure_s=0.1,
        name="cnn profile",
        **_options(store=db),
    )
    assert result.run_id is not None
    with get_store(db) as store:
        record = store.get_run(result.run_id)
    assert record.name == "cnn profile" and len(record.profiles) == 1
    again = ProfileResult.from_dict(record.profiles[0])
    assert again == result
    assert record.phase("profile: measured steps").kind == "profile"


def test_into_a_running_tracker_and_bad_arguments() -> None:
    model, batch, opt = _small()
    with Tracker("mine", live="off", **_options()) as run:
        result = profile(
            model,
            batch,
            loss_fn=nn.functional.cross_entropy,
            optimizer=opt,
            steps=1,
            warmup=0,
            min_measure_s=0.1,
            tracker=run,
        )
        with pytest.raises(ConfigError, match="tracker options"):
            profile(model, batch, loss_fn=nn.functional.cross_entropy, tracker=run, zone="DEU")
    assert run.result.profiles[0]["step_energy_j"] == result.step_energy_j
    with pytest.raises(ConfigError, match="steps"):
        profile(model, batch, loss_fn=nn.functional.cross_entropy, steps=0)
    with pytest.raises(ConfigError, match="warmup"):
        profile(model, batch, loss_fn=nn.functional.cross_entropy, warmup=-1)


def test_reports_show_a_saved_profile(tmp_path: Path) -> None:
    pytest.importorskip("jsonschema")
    from wattwise.report import build_report, validate_report
    from wattwise.report.html import html_report

    model, batch, opt = _small()
    with Tracker("with a profile", live="off", **_options()) as run:
        for _ in run.epochs(1):
            profile(
                model,
                batch,
                loss_fn=nn.functional.cross_entropy,
                optimizer=opt,
                steps=1,
                warmup=0,
                min_measure_s=0.1,
                tracker=run,
            )
            run.step(samples=1000)
    doc = build_report(run.result)
    validate_report(doc)
    assert doc["profiles"][0]["categories"][0]["energy_j"] > 0
    html = html_report(run.result)
    assert 'data-chart="profile-0"' in html and "by layer type" in html
    # 1,000 samples at the profiled batch's (5184 + 5760 + 5184 + 11520) FLOPs per 2 samples
    assert "This run's training (1,000 samples): about 13.8 MFLOP" in html


@pytest.mark.slow
def test_cli_profiles_a_factory_and_rejects_bad_targets(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    from click.testing import CliRunner

    from wattwise.cli import main

    pytest.importorskip("sklearn")
    example = Path(__file__).resolve().parents[1] / "examples" / "profile_cnn.py"
    db = str(tmp_path / "runs.db")
    ww = [sys.executable, "-m", "wattwise", "profile"]
    opts = ["--steps", "1", "--warmup", "0", "--min-seconds", "0.2", "--store", db]
    proc = subprocess.run(
        [*ww, f"{example}:make", *opts, "--zone", "FRA", "--json"],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["model"] == "Sequential" and data["categories"][0]["category"] == "convolution"
    with get_store(db) as store:
        assert store.get_run(data["run_id"]).profiles[0]["model"] == "Sequential"
    for target, message in (
        ("nope", "invalid target"),
        (str(tmp_path / "missing.py") + ":make", "no such file"),
        ("json:nothing_here", "no callable"),
        ("json:JSONDecoder", "must return a dict"),
        ("json:dumps", "failed: TypeError"),
    ):
        bad = CliRunner().invoke(main, ["profile", target, *opts])  # in-process: quicker
        assert bad.exit_code == 2 and message in bad.output, bad.output
        assert bad.exception is None or isinstance(bad.exception, SystemExit)


def _run(model: Any, batch: Any, **kw: Any) -> ProfileResult:
    kw.setdefault("steps", 2)
    kw.setdefault("warmup", 1)
    kw.setdefault("min_measure_s", 0.1)
    return profile(model, batch, loss_fn=nn.functional.cross_entropy, **kw, **_options())


def _sums_to_step(result: ProfileResult) -> None:
    assert sum(c.energy_j for c in result.categories) == pytest.approx(result.step_energy_j)


def test_without_an_optimizer_zero_grad_is_framework_and_all_adds_up() -> None:
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    result = _run(model, (torch.randn(8, 16), torch.randint(0, 4, (8,))))
    _sums_to_step(result)
    assert "optimizer" not in {c.category for c in result.categories}


def test_a_resnet_block_with_in_place_addition_is_profiled_forward_only() -> None:
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(4)
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 36, 3))

        def forward(self, x: Any) -> Any:
            out = self.bn(self.conv(x))
            out += x  # what torchvision's BasicBlock does
            return self.head(out)

    model = Block()
    result = _run(model, (torch.randn(4, 4, 6, 6), torch.randint(0, 3, (4,))))
    _sums_to_step(result)
    assert any("in place" in n for n in result.notes)
    assert all(m.backward_energy_j == 0 for m in result.modules)
    assert all(not m._backward_hooks for m in model.modules())


def test_a_module_shared_by_two_parents_is_timed_once() -> None:
    shared = nn.Linear(8, 8)
    model = nn.Sequential(nn.Sequential(shared, nn.ReLU()), nn.Sequential(shared), nn.Linear(8, 2))
    result = _run(model, (torch.randn(4, 8), torch.randint(0, 2, (4,))))
    names = [m.name for m in result.modules]
    assert names.count("0.0") + names.count("1.0") == 1
    assert result.category("linear").modules == 2
    assert any("more than once per step" in n for n in result.notes)
    _sums_to_step(result)


def test_eval_mode_is_restored_and_bad_inputs_are_config_errors() -> None:
    model = nn.Sequential(nn.Linear(4, 2)).eval()
    batch = (torch.randn(2, 4), torch.randint(0, 2, (2,)))
    _run(model, batch)
    assert model.training is False
    with torch.no_grad():  # profile() turns gradients on for its steps
        _sums_to_step(_run(model, batch))
    with pytest.raises(ConfigError, match="trainable"):
        _run(nn.Sequential(nn.ReLU()), batch)
    frozen = nn.Linear(4, 2).requires_grad_(False)
    with pytest.raises(ConfigError, match="trainable"):
        _run(frozen, batch)
    with pytest.raises(ConfigError, match="inputs, targets"):
        _run(model, [batch[0], batch[1], batch[1]])
    with pytest.raises(ConfigError, match=r"nn\.Module"):
        _run(lambda x: x, batch)  # type: ignore[arg-type]


def test_a_failing_model_leaves_a_failed_run_and_no_open_phase(tmp_path: Path) -> None:
    class Boom(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(4, 2)
            self.calls = 0

        def forward(self, x: Any) -> Any:
            self.calls += 1
            if self.calls > 3:
                raise ValueError("diverged")
            return self.lin(x)

    batch = (torch.randn(2, 4), torch.randint(0, 2, (2,)))
    db = str(tmp_path / "runs.db")
    with pytest.raises(ValueError, match="diverged"):
        profile(
            Boom(),
            batch,
            loss_fn=nn.functional.cross_entropy,
            steps=4,
            warmup=1,
            min_measure_s=0.1,
            **_options(store=db),
        )
    with get_store(db) as store:
        (record,) = store.list_runs()
    assert record.status == "failed" and any("diverged" in e for e in record.events)
    with Tracker("mine", live="off", **_options()) as run:
        with pytest.raises(ValueError):
            profile(
                Boom(),
                batch,
                loss_fn=nn.functional.cross_entropy,
                steps=4,
                warmup=1,
                min_measure_s=0.1,
                tracker=run,
            )
        # nothing left open: a second profile in the same run works
        profile(
            nn.Linear(4, 2),
            batch,
            loss_fn=nn.functional.cross_entropy,
            steps=1,
            warmup=0,
            min_measure_s=0.1,
            tracker=run,
        )
    assert len(run.result.profiles) == 1
