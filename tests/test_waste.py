"""The waste finder on real torch loops (a deliberately slow loader, a fast one), on a
fake clock where exact figures are known, and with a tracker whose power is exactly 100 W.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict, defaultdict
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, NamedTuple

import pytest

torch = pytest.importorskip("torch")

from rich.console import Console  # noqa: E402
from torch.utils.data import (  # noqa: E402
    BatchSampler,
    DataLoader,
    Dataset,
    SequentialSampler,
    TensorDataset,
)

import wattwise.waste as waste  # noqa: E402
from wattwise.testing.fake import SyntheticSensor  # noqa: E402
from wattwise.tracking import Tracker  # noqa: E402
from wattwise.waste import (  # noqa: E402
    DATA_WAIT_FLAG_SHARE,
    WasteFinder,
    WasteReport,
    print_waste,
    suggest,
)

SLEEP_S = 0.005  # per sample in the slow data set


class SlowDataset(Dataset[tuple[Any, Any]]):
    """A data set whose every sample takes ``SLEEP_S`` to load (decoding, a slow disk)."""

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.n = n
        self.fail_at = fail_at

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        if i == self.fail_at:
            raise ValueError(f"corrupt sample {i}")
        time.sleep(SLEEP_S)
        return torch.full((8,), float(i)), torch.tensor(i % 2)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread: on a small shared CPU, spinning OpenMP threads make step
    times erratic; restored afterwards. A first optimiser step warms torch up (its first
    call imports much of torch, seconds that would land in one test's compute)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    model = torch.nn.Linear(8, 2)
    model(torch.zeros(1, 8)).sum().backward()
    torch.optim.SGD(model.parameters(), lr=0.01).step()
    yield
    torch.set_num_threads(before)


def train(finder: WasteFinder, loader: Any, features: int, hidden: int) -> int:
    """A real training loop instrumented by ``finder``; returns the steps taken."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(features, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2)
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    steps = 0
    for x, y in finder.loader(loader):
        x, y = finder.to_device((x, y), "cpu")
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        finder.step()
        steps += 1
    return steps


def fast_loader(batches: int, features: int, batch_size: int = 64) -> DataLoader[Any]:
    """In memory, one tensor index per batch (a batch sampler over a TensorDataset)."""
    n = batches * batch_size
    ds = TensorDataset(torch.randn(n, features), torch.randint(0, 2, (n,)))
    sampler = BatchSampler(SequentialSampler(ds), batch_size, drop_last=False)
    return DataLoader(ds, batch_size=None, sampler=sampler)


def shares_sum(r: WasteReport) -> float:
    return r.data_wait_share + r.copy_share + r.sync_share + r.compute_share


# -- real loops -------------------------------------------------------------------------------
def test_slow_loader_is_flagged_with_a_workers_suggestion() -> None:
    loader = DataLoader(SlowDataset(24), batch_size=4, num_workers=0)
    finder = WasteFinder()
    steps = train(finder, loader, features=8, hidden=16)
    r = finder.stop()

    assert steps == r.steps == r.batches == 6 and r.passes == 1
    assert r.flagged
    assert r.data_wait_share > 0.5
    assert r.data_wait_median_s is not None and r.data_wait_median_s >= 4 * SLEEP_S
    assert r.data_wait_p95_s is not None and r.data_wait_p95_s >= r.data_wait_median_s
    assert r.data_wait_s >= 24 * SLEEP_S
    assert shares_sum(r) == pytest.approx(1.0, abs=1e-9)
    assert r.device == "cpu" and r.sync_s == 0.0
    assert r.loader_settings == {
        "batch_size": 4,
        "num_workers": 0,
        "pin_memory": False,
        "persistent_workers": False,
    }
    assert any("num_workers=0" in s and "set num_workers=" in s for s in r.suggestions)
    assert r.idle_energy_j is None and r.window_energy_j is None  # no tracker


def test_fast_in_memory_loader_is_not_flagged() -> None:
    loader = fast_loader(batches=16, features=512)
    finder = WasteFinder()
    steps = train(finder, loader, features=512, hidden=1024)
    r = finder.stop()

    assert steps == r.steps == 16
    assert r.data_wait_share < DATA_WAIT_FLAG_SHARE
    assert not r.flagged
    assert not [s for s in r.suggestions if "data" in s or "worker" in s]
    assert shares_sum(r) == pytest.approx(1.0, abs=1e-9)
    assert r.compute_s > r.data_wait_s


def test_timed_loader_keeps_len_and_each_pass_is_counted() -> None:
    loader = fast_loader(batches=3, features=4)
    finder = WasteFinder()
    wrapped = finder.loader(loader)
    assert len(wrapped) == len(loader) == 3
    for _ in range(2):
        for _batch in wrapped:
            finder.step()
    r = finder.report()
    assert (r.passes, r.batches, r.steps) == (2, 6, 6)


def test_a_loader_error_propagates_and_timing_goes_on() -> None:
    finder = WasteFinder()
    with pytest.raises(ValueError, match="corrupt sample 5"):
        for _batch in finder.loader(DataLoader(SlowDataset(8, fail_at=5), batch_size=2)):
            finder.step()
    assert finder.report().batches == 2  # samples 0-3; the batch with sample 5 failed
    before = finder.data_wait_s
    for _batch in finder.loader(DataLoader(SlowDataset(4), batch_size=2)):
        finder.step()
    r = finder.report()
    assert r.batches == 4 and r.passes == 2
    assert r.data_wait_s - before >= 4 * SLEEP_S  # the second pass was timed
    assert not r.notes


class Pair(NamedTuple):
    x: Any
    label: str


def test_to_device_moves_nested_tensors_and_keeps_the_rest() -> None:
    finder = WasteFinder()
    t = torch.ones(3)
    counts: defaultdict[str, Any] = defaultdict(int, {"n": torch.zeros(2)})
    batch = {
        "a": t,
        "b": [t, (t, 3)],
        "c": Pair(t, "keep"),
        "d": OrderedDict(z=t),
        "e": counts,
        "f": None,
    }
    moved = finder.to_device(batch, "meta")  # a real device move, no GPU needed

    assert moved["a"].device.type == "meta"
    assert isinstance(moved["b"], list) and moved["b"][0].device.type == "meta"
    assert isinstance(moved["b"][1], tuple) and moved["b"][1][1] == 3
    assert moved["b"][1][0].device.type == "meta"
    assert isinstance(moved["c"], Pair) and moved["c"].label == "keep"
    assert moved["c"].x.device.type == "meta"
    assert type(moved["d"]) is OrderedDict and moved["d"]["z"].device.type == "meta"
    assert type(moved["e"]) is defaultdict and moved["e"]["missing"] == 0
    assert moved["f"] is None
    assert batch["a"].device.type == "cpu"  # the input is left as it was
    r = finder.report()
    assert r.device == "meta" and r.copy_s > 0


def test_copies_to_cpu_cost_about_nothing_and_say_so() -> None:
    finder = WasteFinder()
    x = torch.ones(4)
    assert finder.to_device(x, "cpu") is x  # already there: torch returns it as is
    r = finder.report()
    assert r.device == "cpu" and r.copy_s < 0.01
    assert any("no-ops" in n for n in r.notes)


# -- exact figures on a fake clock ------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return self.t


class FakeLoader:
    """Batches whose fetch advances the fake clock by the given seconds."""

    def __init__(self, clock: FakeClock, waits: list[float], **attrs: Any) -> None:
        self.clock = clock
        self.waits = waits
        for k, v in attrs.items():
            setattr(self, k, v)

    def __iter__(self) -> Iterator[int]:
        for i, w in enumerate(self.waits):
            self.clock.t += w
            yield i

    def __len__(self) -> int:
        return len(self.waits)


def run_fake(
    finder: WasteFinder, clock: FakeClock, loader: FakeLoader, copy_s: float, compute_s: float
) -> int:
    n = 0
    for _ in finder.loader(loader):
        with finder.copying():
            clock.t += copy_s
        clock.t += compute_s
        finder.step()
        n += 1
    return n


def test_exact_accounting_on_a_fake_clock() -> None:
    clock = FakeClock()
    finder = WasteFinder(clock=clock)
    waits = [0.05, 0.01, 0.01, 0.03, 0.01]
    n = run_fake(finder, clock, FakeLoader(clock, waits), copy_s=0.004, compute_s=0.02)
    r = finder.stop()
    clock.t += 1.0  # after stop(): not counted
    assert finder.report() == r  # frozen

    assert n == r.steps == 5
    assert r.wall_s == pytest.approx(sum(waits) + 5 * 0.024)
    assert r.data_wait_s == pytest.approx(0.11)
    assert r.copy_s == pytest.approx(0.02)
    assert r.compute_s == pytest.approx(0.10)
    assert r.sync_s == 0.0
    assert r.startup_wait_s == pytest.approx(0.05)
    # the first batch's wait is the pass's start-up; the steady batches: .01 .01 .03 .01
    assert r.data_wait_median_s == pytest.approx(0.01)
    assert r.data_wait_p95_s == pytest.approx(0.027)  # sorted .01 .01 .01 .03, at 2.85
    assert r.waste_share == pytest.approx(0.13 / 0.23)
    assert shares_sum(r) == pytest.approx(1.0)
    assert r.flagged and r.device == "cpu"
    # no loader settings known: the advice is generic
    assert r.suggestions and "background worker processes" in r.suggestions[0]
    finder.step()  # after stop: ignored
    assert finder.report().steps == 5


def test_waiting_block_counts_as_data_wait() -> None:
    clock = FakeClock()
    finder = WasteFinder(clock=clock)
    for _ in range(4):
        with finder.waiting():
            clock.t += 0.03
        clock.t += 0.01
        finder.step()
    r = finder.report()
    assert (r.batches, r.steps) == (4, 4)
    assert r.data_wait_share == pytest.approx(0.75)


def test_cuda_sync_is_timed_as_work_not_waste(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    syncs: list[float] = []

    def synchronize() -> None:
        syncs.append(clock.t)
        clock.t += 0.05  # the device finishing the step's kernels

    monkeypatch.setattr(waste, "_cuda_in_use", lambda: True)
    monkeypatch.setattr(waste, "_cuda_synchronize", synchronize)
    finder = WasteFinder(clock=clock, device="cuda:0")
    run_fake(finder, clock, FakeLoader(clock, [0.01] * 4), copy_s=0.0, compute_s=0.01)
    r = finder.stop()
    assert len(syncs) == 4
    assert r.sync_s == pytest.approx(0.2) and r.sync_share == pytest.approx(0.2 / 0.28)
    assert r.waste_share == pytest.approx(0.04 / 0.28)
    assert r.device == "cuda"

    off = WasteFinder(clock=clock, sync=False)
    run_fake(off, clock, FakeLoader(clock, [0.01] * 2), copy_s=0.0, compute_s=0.01)
    assert len(syncs) == 4 and off.report().sync_s == 0.0


def test_nested_blocks_are_not_counted_twice() -> None:
    clock = FakeClock()
    finder = WasteFinder(clock=clock)
    with finder.waiting():
        clock.t += 0.02
        with finder.copying():
            clock.t += 0.01
    r = finder.report()
    assert r.data_wait_s == pytest.approx(0.03) and r.copy_s == 0.0
    assert r.compute_s == pytest.approx(0.0)


# -- timing faults never reach the loop -----------------------------------------------------
class BrokenClock:
    def __init__(self, good_calls: int, backwards: bool = False) -> None:
        self.left = good_calls
        self.backwards = backwards
        self.t = 0.0

    def __call__(self) -> float:
        self.left -= 1
        if self.left < 0:
            if self.backwards:
                return -1.0
            raise OSError("clock source lost")
        self.t += 0.001
        return self.t


@pytest.mark.parametrize("backwards", [False, True])
def test_a_failing_clock_does_not_break_training(backwards: bool) -> None:
    loader = DataLoader(TensorDataset(torch.randn(40, 8), torch.randint(0, 2, (40,))), 4)
    finder = WasteFinder(clock=BrokenClock(good_calls=9, backwards=backwards))
    steps = train(finder, loader, features=8, hidden=16)
    assert steps == 10  # every batch trained
    r = finder.stop()
    assert r.steps == 10
    assert any("clock" in n and "timing stopped" in n for n in r.notes)
    assert r.wall_s > 0 and shares_sum(r) == pytest.approx(1.0)
    json.dumps(r.as_dict())


def test_a_clock_failing_at_once_gives_an_empty_report() -> None:
    finder = WasteFinder(clock=BrokenClock(good_calls=0))
    for _ in finder.loader([1, 2, 3]):
        finder.step()
    r = finder.stop()
    assert r.wall_s == 0.0 and r.steps == 3 and r.data_wait_share == 0.0
    assert r.notes


# -- energy ---------------------------------------------------------------------------------
def hundred_watts() -> SyntheticSensor:
    return SyntheticSensor(lambda t: 100.0, lambda a, b: 100.0 * (b - a), kind="counter")


def test_idle_energy_is_the_wait_share_of_the_window_energy() -> None:
    with Tracker(
        "waste", sensors=[hundred_watts()], zone="FRA", store=False, live="off", interval_s=0.1
    ) as run:
        finder = WasteFinder(tracker=run)
        train(finder, DataLoader(SlowDataset(16), batch_size=4), features=8, hidden=16)
        r = finder.stop()

    assert r.window_energy_j is not None and r.idle_energy_j is not None
    assert r.energy_window_s is not None and r.mean_power_w is not None
    # the tracker's window is the finder's, give or take the two readings
    assert r.energy_window_s == pytest.approx(r.wall_s, abs=0.05)
    assert r.mean_power_w == pytest.approx(100.0, rel=1e-3)
    assert r.idle_energy_j == pytest.approx(r.waste_share * r.window_energy_j, rel=0.25)
    assert r.idle_energy_j == pytest.approx(100.0 * r.waste_s, rel=1e-3)
    assert r.idle_energy_j > 0.5 * r.window_energy_j
    assert r.idle_co2_g is not None and r.idle_co2_g > 0
    assert "time share" in r.method
    assert r.window_energy_j < run.result.energy_j


def test_a_report_after_the_tracker_stopped_uses_its_final_record() -> None:
    with Tracker(
        "waste", sensors=[hundred_watts()], zone="FRA", store=False, live="off", interval_s=0.1
    ) as run:
        finder = WasteFinder(tracker=run)
        train(finder, DataLoader(SlowDataset(8), batch_size=4), features=8, hidden=16)
    r = finder.report()  # outside the `with`: the run has ended
    assert r.window_energy_j is not None and r.idle_energy_j is not None
    assert r.mean_power_w == pytest.approx(100.0, rel=1e-3)
    assert r.idle_energy_j == pytest.approx(100.0 * r.waste_s, rel=1e-3)
    assert not [n for n in r.notes if "energy" in n]


def test_a_stopped_tracker_gives_a_note_not_an_error() -> None:
    run = Tracker(
        "off", sensors=[hundred_watts()], zone="FRA", store=False, live="off", interval_s=0.1
    )
    finder = WasteFinder(tracker=run)  # never started
    for _ in finder.loader([1, 2]):
        finder.step()
    r = finder.report()
    assert r.idle_energy_j is None
    assert any("tracker could not be read" in n for n in r.notes)


# -- suggestions ----------------------------------------------------------------------------
def report(**kw: Any) -> WasteReport:
    base: dict[str, Any] = {
        "wall_s": 10.0,
        "steps": 100,
        "batches": 100,
        "passes": 1,
        "data_wait_s": 0.0,
        "copy_s": 0.0,
        "sync_s": 0.0,
        "compute_s": 10.0,
        "startup_wait_s": 0.0,
        "data_wait_median_s": 0.001,
        "data_wait_p95_s": 0.001,
        "device": "cpu",
    }
    base.update(kw)
    return WasteReport(**base)


def test_no_waste_no_advice() -> None:
    assert suggest(report(loader_settings={"num_workers": 0, "batch_size": 4}), cpus=8) == []


def test_workers_advice_follows_the_cpus() -> None:
    r = report(data_wait_s=3.0, compute_s=7.0, loader_settings={"num_workers": 0})
    assert "set num_workers=4" in suggest(r, cpus=16)[0]
    assert "set num_workers=2" in suggest(r, cpus=2)[0]
    assert "only 1 CPU" in suggest(r, cpus=1)[0]
    more = report(data_wait_s=3.0, compute_s=7.0, loader_settings={"num_workers": 2})
    assert "try num_workers=4" in suggest(more, cpus=8)[0]
    assert "all 2 usable CPUs" in suggest(more, cpus=2)[0]


def test_persistent_workers_and_prefetch_advice() -> None:
    r = report(
        data_wait_s=3.0,
        compute_s=7.0,
        passes=3,
        startup_wait_s=2.4,
        data_wait_median_s=0.001,
        data_wait_p95_s=0.02,
        loader_settings={"num_workers": 4, "persistent_workers": False, "prefetch_factor": 2},
    )
    out = suggest(r, cpus=8)
    assert len(out) == 2
    assert "persistent_workers=True" in out[0]
    assert "prefetch_factor (now 2) to 4" in out[1]
    # restarts and a steady wait as well (2.4 s of 10 s past the starts): more workers too
    both = replace(r, data_wait_s=6.0, startup_wait_s=3.6, compute_s=4.0)
    out = suggest(both, cpus=8)
    assert "persistent_workers=True" in out[0]
    assert "still waits 24% of the time with num_workers=4: try num_workers=8" in out[1]


def test_pinned_memory_advice_only_on_cuda() -> None:
    settings: dict[str, int | bool] = {"pin_memory": False, "num_workers": 4}
    cuda = report(copy_s=1.0, compute_s=9.0, device="cuda", loader_settings=settings)
    assert any("pin_memory=True" in s for s in suggest(cuda, cpus=8))
    cpu = report(copy_s=1.0, compute_s=9.0, device="cpu", loader_settings=settings)
    assert suggest(cpu, cpus=8) == []


def test_larger_batch_advice_for_short_steps_with_small_batches() -> None:
    settings: dict[str, int | bool] = {"batch_size": 8, "num_workers": 4}
    short = report(wall_s=0.5, data_wait_s=0.1, compute_s=0.4, loader_settings=settings)
    assert any("batch_size=32" in s for s in suggest(short, cpus=2))
    long = report(wall_s=50.0, data_wait_s=10.0, compute_s=40.0, loader_settings=settings)
    assert not any("batch_size" in s for s in suggest(long, cpus=2))


# -- output ---------------------------------------------------------------------------------
def test_text_json_and_rich_output() -> None:
    clock = FakeClock()
    finder = WasteFinder(clock=clock)
    run_fake(finder, clock, FakeLoader(clock, [0.03] * 4, num_workers=0), 0.0, 0.01)
    r = finder.stop()

    d = json.loads(json.dumps(r.as_dict()))
    assert d["flagged"] is True and d["steps"] == 4
    assert d["data_wait_share"] == pytest.approx(0.75)
    assert d["loader_settings"] == {"num_workers": 0}
    assert d["suggestions"] == list(r.suggestions) and d["idle_energy_j"] is None

    text = str(r)
    assert "75.0% waiting (flagged" in text and "suggestion: " in text

    console = Console(record=True, width=140, color_system=None)
    print_waste(r, console)
    out = console.export_text()
    assert "waiting for data" in out and "75.0%" in out and "suggestion:" in out
