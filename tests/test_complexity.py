"""wattwise.complexity: the 2×2×2 digits CNNs, their training, the factor analysis, the
study end to end (small) and ``wattwise demo profile`` as a subprocess."""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from wattwise.complexity import (
    CONV_CHANNELS,
    FACTORS,
    HIDDEN,
    digits_data,
    evaluate_digits,
    factor_shares,
    make_model,
    print_study,
    run_study,
    train_digits,
)
from wattwise.exceptions import ConfigError
from wattwise.testing.fake import SyntheticSensor
from wattwise.tracking import Tracker

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

DESIGN = [
    dict(zip(FACTORS, levels, strict=True)) for levels in itertools.product(*FACTORS.values())
]


def _expected_parameters(conv: int, linear: int) -> int:
    c, h = CONV_CHANNELS, HIDDEN
    convs = (1 * c * 9 + c) + (conv - 1) * (c * c * 9 + c)
    linears = (c * 64 * h + h) + (linear - 2) * (h * h + h) + (h * 10 + 10)
    return convs + linears


@pytest.mark.parametrize("params", DESIGN, ids=lambda p: "-".join(map(str, p.values())))
def test_every_variant_maps_digits_to_ten_logits(params: dict[str, Any]) -> None:
    model = make_model(**params)
    out = model(torch.zeros(2, 1, 8, 8))
    assert tuple(out.shape) == (2, 10)
    n = sum(p.numel() for p in model.parameters())
    assert n == _expected_parameters(params["conv_layers"], params["linear_layers"])
    kinds = [type(m).__name__ for m in model]
    assert kinds.count("Conv2d") == params["conv_layers"]
    assert kinds.count("Linear") == params["linear_layers"]
    # a ReLU after every layer but the output one, or none
    relus = params["conv_layers"] + params["linear_layers"] - 1
    assert kinds.count("ReLU") == (relus if params["relu"] else 0)


def test_more_layers_mean_more_parameters_and_relu_adds_none() -> None:
    def count(**p: Any) -> int:
        return sum(x.numel() for x in make_model(**p).parameters())

    assert count(conv_layers=1, linear_layers=3, relu=False) < count(
        conv_layers=4, linear_layers=3, relu=False
    )
    assert count(conv_layers=1, linear_layers=3, relu=True) < count(
        conv_layers=1, linear_layers=7, relu=True
    )
    assert count(conv_layers=4, linear_layers=7, relu=False) == count(
        conv_layers=4, linear_layers=7, relu=True
    )
    with pytest.raises(ConfigError, match="conv_layers"):
        make_model(0, 3, True)
    with pytest.raises(ConfigError, match="linear_layers"):
        make_model(1, True, True)  # type: ignore[arg-type]


def _energies(fn: Any, repeats: int = 1) -> list[tuple[dict[str, Any], float]]:
    return [(p, fn(p, r)) for r in range(repeats) for p in DESIGN]


def test_one_factor_that_matters_gets_all_the_variance() -> None:
    shares = factor_shares(_energies(lambda p, r: 10.0 + 50.0 * (p["conv_layers"] == 4)))
    assert shares.main["conv_layers"] == pytest.approx(1.0)
    assert shares.main["linear_layers"] == pytest.approx(0.0, abs=1e-12)
    assert shares.main["relu"] == pytest.approx(0.0, abs=1e-12)
    assert shares.other == pytest.approx(0.0, abs=1e-12)
    assert list(shares.main) == ["conv_layers", "linear_layers", "relu"]
    assert shares.scale == "energy" and shares.observations == 8


def test_shares_add_up_to_one_with_interactions_and_replicate_noise() -> None:
    def energy(p: dict[str, Any], r: int) -> float:
        conv = 40.0 * (p["conv_layers"] == 4)
        linear = 10.0 * (p["linear_layers"] == 7)
        both = 5.0 * (p["conv_layers"] == 4 and p["relu"])
        return 20.0 + conv + linear + both + (1.0 if r else -1.0) * (1 + p["relu"])

    shares = factor_shares(_energies(energy, repeats=2))
    total = sum(shares.main.values()) + sum(shares.interactions.values()) + shares.residual
    assert total == pytest.approx(1.0)
    assert shares.main["conv_layers"] > shares.main["linear_layers"] > shares.main["relu"]
    assert shares.interactions["conv_layers×relu"] > 0.0
    assert shares.interactions["conv_layers×linear_layers"] == pytest.approx(0.0, abs=1e-12)
    assert set(shares.interactions) == {
        "conv_layers×linear_layers",
        "conv_layers×relu",
        "linear_layers×relu",
        "conv_layers×linear_layers×relu",
    }
    assert shares.residual > 0.0 and shares.observations == 16
    # by hand: SS_conv = N·(effect/2)² with the mean effect of conv = 40 + 5/2
    mean = sum(e for _, e in _energies(energy, 2)) / 16
    ss_total = sum((e - mean) ** 2 for _, e in _energies(energy, 2))
    assert shares.main["conv_layers"] == pytest.approx(16 * (42.5 / 2) ** 2 / ss_total)


def test_log_scale_turns_multiplicative_effects_into_main_effects() -> None:
    def energy(p: dict[str, Any], r: int) -> float:
        return 3.0 * (4.0 if p["conv_layers"] == 4 else 1.0) * (2.0 if p["relu"] else 1.0)

    raw = factor_shares(_energies(energy))
    log = factor_shares(_energies(energy), log=True)
    assert raw.interactions["conv_layers×relu"] > 0.01  # a product interacts on the J scale
    assert log.other == pytest.approx(0.0, abs=1e-12) and log.scale == "log energy"
    assert log.main["conv_layers"] == pytest.approx(4 / 5)  # (ln 4)² : (ln 2)² = 4 : 1
    assert log.main["relu"] == pytest.approx(1 / 5)


@pytest.mark.parametrize(
    ("observations", "message"),
    [
        ([], "no observations"),
        (_energies(lambda p, r: 1.0), "do not vary"),
        (_energies(lambda p, r: float(p["conv_layers"]))[:-1], "balanced full factorial"),
        (
            [*_energies(lambda p, r: 1.0 + p["relu"]), ({**DESIGN[0], "conv_layers": 2}, 1.0)],
            "3 levels",
        ),
        (_energies(lambda p, r: math.inf), "cannot analyse"),
    ],
)
def test_a_design_that_is_not_a_2k_factorial_is_refused(
    observations: list[tuple[dict[str, Any], float]], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        factor_shares(observations)


def test_the_log_scale_needs_positive_energies() -> None:
    with pytest.raises(ConfigError, match="cannot analyse"):
        factor_shares(_energies(lambda p, r: 0.0 + p["relu"]), log=True)


def _options() -> dict[str, Any]:
    sensor = SyntheticSensor(lambda t: 50.0, lambda t0, t1: 50.0 * (t1 - t0), kind="counter")
    return {"sensors": [sensor], "store": False, "zone": "FRA", "interval_s": 0.1, "live": "off"}


def test_train_digits_drives_the_run_s_epochs_and_steps() -> None:
    torch.manual_seed(0)
    data = digits_data(0)
    assert len(data.y_train) == 1438 and len(data.y_test) == 359
    assert float(data.x_train.max()) <= 1.0
    model = make_model(1, 3, True)
    opts = _options()
    with Tracker("t", sensors=opts.pop("sensors"), **opts) as run:
        train_digits(model, run, epochs=2, batch_size=32, limit=96, data=data)
    record = run.result
    assert record.training is not None
    assert record.training.epochs == 2 and record.training.steps == 2 * 3
    assert record.training.samples == 2 * 96
    epochs = [p for p in record.phases if p.kind == "epoch"]
    assert "train_loss" in epochs[0].metrics and "val_accuracy" not in epochs[0].metrics
    assert epochs[1].metrics["val_accuracy"] == pytest.approx(evaluate_digits(model, data))
    assert 0.0 <= evaluate_digits(model, data) <= 1.0


def test_a_small_study_gives_eight_networks_shares_and_the_ratio() -> None:
    seen: list[str] = []
    result = run_study(
        epochs=1,
        batch_size=64,
        limit=64,
        repeats=2,
        tracker_options=_options(),
        on_variant=lambda i, n, v: seen.append(f"{i + 1}/{n} {v.label}"),
    )
    assert len(seen) == 16 and seen[0] == "1/16 conv_layers=1 linear_layers=3 relu=False"
    assert seen[8] == "9/16 conv_layers=4 linear_layers=7 relu=True"  # repeat 2: reversed
    assert [v.params for v in result.variants] == DESIGN
    assert all(v.method == "measured" and len(v.run_ids) == 2 for v in result.variants)
    assert all(v.energy_j > 0 and 0.0 <= v.accuracy <= 1.0 for v in result.variants)
    s = result.shares
    total = sum(s.main.values()) + sum(s.interactions.values()) + s.residual
    assert total == pytest.approx(1.0) and s.observations == 16
    assert result.smallest.params == {"conv_layers": 1, "linear_layers": 3, "relu": False}
    assert result.largest.params == {"conv_layers": 4, "linear_layers": 7, "relu": True}
    assert result.energy_ratio == pytest.approx(result.smallest.energy_j / result.largest.energy_j)
    assert any(v.on_front for v in result.variants)
    assert result.threads == 1 and torch.get_num_threads() >= 1
    data = json.loads(json.dumps(result.to_dict()))
    assert data["variants"][0]["conv_layers"] == 1 and len(data["variants"]) == 8
    assert data["shares"]["main"]["conv_layers"] == pytest.approx(s.main["conv_layers"])
    console = Console(record=True, width=160)
    print_study(result, console)
    text = console.export_text()
    assert "share of the energy's variance: conv" in text
    assert "interactions + residual" in text and "mean of 2 seeds" in text
    with pytest.raises(ConfigError, match="repeats"):
        run_study(repeats=0)


WW = [sys.executable, "-m", "wattwise"]


@pytest.mark.slow
def test_demo_profile_runs_the_study_and_saves_eight_runs(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    proc = subprocess.run(
        [*WW, "demo", "profile", "--epochs", "1", "--store", db, "--zone", "FRA", "--json"],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    study = json.loads(proc.stdout)
    assert len(study["variants"]) == 8 and study["epochs"] == 1
    assert study["method"] in ("measured", "estimated", "mixed")
    assert sum(study["shares"]["main"].values()) + study["shares"][
        "interactions_and_residual"
    ] == pytest.approx(1.0)
    assert proc.stderr.count("] conv_layers=") == 8 and "[8/8]" in proc.stderr
    # one step of the largest and the smallest network, by layer type (time share)
    big, small = study["layer_profiles"]
    assert big["network"] == [4, 7, True] and small["network"] == [1, 3, False]
    for p in (big, small):
        total = sum(c["energy_j"] for c in p["categories"])
        assert total == pytest.approx(p["step_energy_j"])
    shares = {c["category"]: c["share"] for c in big["categories"]}
    assert shares["convolution"] > shares.get("activation", 0.0)
    listed = subprocess.run(
        [*WW, "runs", "list", "--store", db, "--tag", "sweep=complexity-seed0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert listed.returncode == 0, listed.stderr
    assert "8 shown" in listed.stdout or listed.stdout.count("complexity-seed0") == 8


def test_demo_options_before_profile_are_refused_with_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [*WW, "demo", "--epochs", "2", "profile"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--epochs is an option of 'wattwise demo'" in proc.stderr
    bad = subprocess.run(
        [*WW, "demo", "profile", "--repeats", "0"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
