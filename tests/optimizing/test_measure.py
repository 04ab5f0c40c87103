"""Inference energy and latency measured in timed tracker phases, on a constant-power
synthetic counter whose true energy is known (40 W × time)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

import pytest

from wattwise.exceptions import ConfigError
from wattwise.optimizing.measure import (
    MAX_WINDOW_S,
    REPEAT_TOLERANCE,
    WARMUP_PASSES,
    Subject,
    batch_of,
    check_batch_sizes,
    measure_inference,
    measure_side_by_side,
)
from wattwise.optimizing.result import InferenceFigures
from wattwise.testing.fake import SyntheticSensor
from wattwise.tracking import Tracker

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

POWER_W = 40.0


def _tracker(**kw: Any) -> Tracker:
    sensor = SyntheticSensor(lambda t: POWER_W, lambda a, b: POWER_W * (b - a), kind="counter")
    return Tracker("t", store=False, sensors=[sensor], zone="FRA", interval_s=0.1, live="off", **kw)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One intra-op thread: with torch's default (one per core) a tiny forward pass waits
    for every core, and on a machine where another process keeps a core busy it takes a
    scheduler tick (~15 ms instead of 0.07 ms), so timings would swing 100×."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def run() -> Iterator[Tracker]:
    with _tracker() as tracker:
        yield tracker


def _model(seed: int = 0) -> Any:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))


def _x(n: int = 10) -> Any:
    return torch.randn(n, 16, generator=torch.Generator().manual_seed(0))


class _Recorder(nn.Module):
    """Counts forward passes per batch size and what the context was."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(16, 4)
        self.calls: dict[int, int] = {}
        self.inference_mode: set[bool] = set()
        self.autocast: set[bool] = set()
        self.training_seen: set[bool] = set()
        self.limit: int | None = None

    def forward(self, x: Any) -> Any:
        self.calls[len(x)] = self.calls.get(len(x), 0) + 1
        self.inference_mode.add(torch.is_inference_mode_enabled())
        self.autocast.add(torch.is_autocast_enabled("cpu"))
        self.training_seen.add(self.training)
        if self.limit is not None and sum(self.calls.values()) > self.limit:
            raise RuntimeError(f"more than {self.limit} forward passes")
        return self.linear(x)


# -- batch sizes and inputs ---------------------------------------------------------------


def test_check_batch_sizes_sorts_and_deduplicates() -> None:
    assert check_batch_sizes([8, 1, 8, 4]) == (1, 4, 8)
    assert check_batch_sizes((3,)) == (3,)
    assert check_batch_sizes(iter([2, 1])) == (1, 2)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("sizes", "match"),
    [
        ([], "at least one"),
        ([0], "not 0"),
        ([4, -1], "not -1"),
        ([True], "not True"),
        ([2.0], "not 2.0"),
        (["8"], "not '8'"),
    ],
)
def test_check_batch_sizes_refuses(sizes: list[Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        check_batch_sizes(sizes)


def test_batch_of_takes_the_first_inputs() -> None:
    x = torch.arange(5).reshape(5, 1)
    assert torch.equal(batch_of(x, 2), x[:2])
    assert torch.equal(batch_of(x, 5), x)


def test_batch_of_repeats_the_inputs_beyond_their_length() -> None:
    x = torch.arange(3).reshape(3, 1)
    assert batch_of(x, 7).flatten().tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert batch_of(x, 6).flatten().tolist() == [0, 1, 2, 0, 1, 2]
    assert batch_of(torch.ones(1, 2), 4).shape == (4, 2)


# -- the figures ----------------------------------------------------------------------------


def test_energy_per_1000_is_power_times_time_per_sample(run: Tracker) -> None:
    figures = measure_inference(_model(), _x(), run, batch_sizes=[16, 1], repeats=3, window_s=0.2)
    assert [f.batch_size for f in figures] == [1, 16]  # smallest batch first
    for f in figures:
        assert isinstance(f, InferenceFigures)
        assert f.repeats == 3
        assert f.samples > 0 and f.samples % f.batch_size == 0
        assert f.energy_min_j <= f.energy_per_1000_j <= f.energy_max_j
        # a window's energy is 40 W × its time: per 1,000 samples 40 × latency / batch
        # (latency per pass in ms); the phase also spans the tracker's own readings at
        # its ends (a few ms of 200), hence a few % more
        from_latency = POWER_W * f.latency_ms / f.batch_size
        assert f.energy_per_1000_j == pytest.approx(from_latency, rel=0.05)
        assert f.energy_per_1000_j >= from_latency * 0.999
        # the throughput over all windows is a mean of theirs: within the windows' range
        from_throughput = POWER_W * 1000.0 / f.samples_per_s
        assert f.energy_min_j * 0.95 <= from_throughput <= f.energy_max_j * 1.001
    # a 16-sample batch costs less per sample than 16 single passes
    assert figures[1].energy_per_1000_j < figures[0].energy_per_1000_j


def test_figures_of_one_window_are_its_phase(run: Tracker) -> None:
    (f,) = measure_inference(_model(), _x(), run, batch_sizes=[4], repeats=1, window_s=0.05)
    (phase,) = run.phases
    assert phase.name == "inference b4 #1"
    assert phase.kind == "inference"
    # the counter is exact: the phase energy is 40 W × its duration
    assert phase.machine.energy_j == pytest.approx(POWER_W * phase.duration_s, rel=1e-3)
    expected = phase.machine.energy_j / f.samples * 1000.0
    assert f.energy_per_1000_j == pytest.approx(expected, rel=1e-12)
    assert f.energy_min_j == f.energy_max_j == f.energy_per_1000_j
    # one window: latency = window time / passes, throughput = samples / window time
    assert f.latency_ms == pytest.approx(4 * 1000.0 / f.samples_per_s, rel=1e-9)
    window_s = f.samples / f.samples_per_s
    assert 0.05 <= window_s < phase.duration_s


def test_process_headline_uses_the_process_energy() -> None:
    with _tracker(headline="process") as run:
        (f,) = measure_inference(_model(), _x(), run, batch_sizes=[4], repeats=1, window_s=0.05)
        (phase,) = run.phases
    expected = phase.process.energy_j / f.samples * 1000.0
    assert f.energy_per_1000_j == pytest.approx(expected, rel=1e-12)
    assert phase.process.energy_j <= phase.machine.energy_j * (1 + 1e-9)


def test_median_min_and_max_over_the_windows(run: Tracker) -> None:
    (f,) = measure_inference(_model(), _x(), run, batch_sizes=[2], repeats=5, window_s=0.05)
    assert f.repeats == 5
    assert len(run.phases) == 5
    assert f.energy_min_j <= f.energy_per_1000_j <= f.energy_max_j
    assert f.spread == pytest.approx((f.energy_max_j - f.energy_min_j) / f.energy_per_1000_j)
    # every window's energy is the counter's 40 W × its duration
    for phase in run.phases:
        assert phase.machine.energy_j == pytest.approx(POWER_W * phase.duration_s, rel=1e-3)
    # the windows' mean time per sample lies within the reported extremes (as energy)
    per_sample_j = POWER_W * sum(p.duration_s for p in run.phases) / f.samples * 1000.0
    assert f.energy_min_j * (1 - 1e-9) <= per_sample_j <= f.energy_max_j * (1 + 1e-9)


def test_warmup_eval_mode_inference_mode_and_pass_counts(run: Tracker) -> None:
    model = _Recorder().train()
    figures = measure_inference(model, _x(3), run, batch_sizes=[2, 5], repeats=2, window_s=0.02)
    assert not model.training
    assert model.training_seen == {False}
    assert model.inference_mode == {True}
    assert model.autocast == {False}
    for f in figures:
        timed = f.samples // f.batch_size
        assert timed >= f.repeats  # at least one pass per window
        assert model.calls[f.batch_size] == WARMUP_PASSES + timed


def test_autocast_subject_runs_under_autocast(run: Tracker) -> None:
    model = _Recorder()
    (f,) = measure_inference(
        model, _x(), run, batch_sizes=[2], repeats=1, window_s=0.02, autocast="bfloat16"
    )
    assert model.autocast == {True}
    assert f.samples > 0


# -- phases, rounds, labels -------------------------------------------------------------------


def test_phases_interleave_subjects_round_by_round(run: Tracker) -> None:
    rounds: list[tuple[int, int]] = []
    subjects = [Subject("a", _model(0), _x()), Subject("b", _model(1), _x(4))]
    out = measure_side_by_side(
        subjects,
        run,
        batch_sizes=[3, 1],
        repeats=2,
        window_s=0.01,
        on_round=lambda r, n: rounds.append((r, n)),
    )
    names = [p.name for p in run.phases]
    assert names == [
        "a b1 #1", "b b1 #1", "a b3 #1", "b b3 #1",
        "b b1 #2", "a b1 #2", "b b3 #2", "a b3 #2",  # round 2 starts one subject later
    ]  # fmt: skip
    assert {p.kind for p in run.phases} == {"inference"}
    assert rounds == [(1, 2), (2, 2)]
    assert len(out) == 2
    assert [[f.batch_size for f in figs] for figs in out] == [[1, 3], [1, 3]]
    phases = run.phases
    assert all(a.ended_at <= b.started_at for a, b in itertools.pairwise(phases))


def test_phases_are_saved_in_the_run_record() -> None:
    with _tracker() as run:
        measure_side_by_side(
            [Subject("x", _model(), _x()), Subject("y", _model(), _x())],
            run,
            batch_sizes=[2],
            repeats=2,
            window_s=0.01,
        )
    record = run.result
    assert record is not None
    assert [p.name for p in record.phases] == ["x b2 #1", "y b2 #1", "y b2 #2", "x b2 #2"]


def test_measure_inference_default_label(run: Tracker) -> None:
    measure_inference(_model(), _x(), run, batch_sizes=[1], repeats=2, window_s=0.01)
    assert [p.name for p in run.phases] == ["inference b1 #1", "inference b1 #2"]
    measure_inference(
        _model(), _x(), run, batch_sizes=[1], repeats=1, window_s=0.01, label="int8 static"
    )
    assert run.phases[-1].name == "int8 static b1 #1"


def test_inputs_are_repeated_up_to_the_batch(run: Tracker) -> None:
    model = _Recorder()
    measure_inference(model, _x(3), run, batch_sizes=[8], repeats=1, window_s=0.01)
    assert set(model.calls) == {8}


def test_duplicate_labels_are_refused(run: Tracker) -> None:
    subjects = [Subject("same", _model(), _x()), Subject("same", _model(1), _x())]
    with pytest.raises(ConfigError, match="distinct labels"):
        measure_side_by_side(subjects, run, batch_sizes=[1], window_s=0.01)
    assert run.phases == ()


@pytest.mark.parametrize("repeats", [0, -1, True, 1.5, "3"])
def test_bad_repeats_are_refused(run: Tracker, repeats: Any) -> None:
    with pytest.raises(ConfigError, match="repeats"):
        measure_inference(_model(), _x(), run, batch_sizes=[1], repeats=repeats, window_s=0.01)


@pytest.mark.parametrize(
    "window_s", [0, 0.0, -0.1, math.nan, "0.1", None, MAX_WINDOW_S + 1, MAX_WINDOW_S * 10]
)
def test_bad_windows_are_refused(run: Tracker, window_s: Any) -> None:
    with pytest.raises(ConfigError, match="window_s"):
        measure_inference(_model(), _x(), run, batch_sizes=[1], window_s=window_s)


def test_an_endless_window_is_refused(run: Tracker) -> None:
    # window_s = inf would time forever; the model stops the loop after 2,000 passes
    model = _Recorder()
    model.limit = 2000
    with pytest.raises(ConfigError, match="window_s"):
        measure_inference(model, _x(), run, batch_sizes=[1], repeats=1, window_s=math.inf)


def test_bad_batch_sizes_are_refused_before_running(run: Tracker) -> None:
    model = _Recorder()
    with pytest.raises(ConfigError, match="batch size"):
        measure_inference(model, _x(), run, batch_sizes=[], window_s=0.01)
    with pytest.raises(ConfigError, match="not 0"):
        measure_inference(model, _x(), run, batch_sizes=[4, 0], window_s=0.01)
    assert model.calls == {}


# -- repeatability ----------------------------------------------------------------------------


def test_two_measurements_of_one_model_agree_within_the_stated_tolerance() -> None:
    # what a study does for its noise floor: one model and its copy, side by side
    import copy

    model, x = _model(), _x(32)
    subjects = [Subject("a", model, x), Subject("b", copy.deepcopy(model), x)]
    with _tracker() as run:
        figures = measure_side_by_side(subjects, run, batch_sizes=[32], repeats=5, window_s=0.15)
    a, b = (f[0].energy_per_1000_j for f in figures)
    relative = abs(a - b) / min(a, b)
    assert relative <= REPEAT_TOLERANCE, f"{a:.4g} vs {b:.4g} J/1,000: {relative:.1%} apart"
