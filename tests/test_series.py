from __future__ import annotations

import itertools
import random

import pytest

from wattwise.series import DownsamplingSeries, SeriesPoint, downsample


def test_memory_is_bounded_and_energy_preserved() -> None:
    s = DownsamplingSeries(["w"], capacity=16)
    true_j = 0.0
    for i in range(10_000):  # a "week" at coarse scale
        p = float(i % 7)
        s.append(float(i), float(i + 1), [p])
        true_j += p
    pts = s.all_points()
    assert len(s.points) < 16
    assert pts[0].t0_s == 0.0 and pts[-1].t1_s == 10_000.0
    assert sum(p.values[0] * (p.t1_s - p.t0_s) for p in pts) == pytest.approx(true_j)


def test_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        DownsamplingSeries(["a"], capacity=5)
    s = DownsamplingSeries(["a", "b"], capacity=4)
    with pytest.raises(ValueError):
        s.append(0, 1, [1.0])


def _energy(points: list[SeriesPoint], column: int) -> float:
    return sum(p.values[column] * (p.t1_s - p.t0_s) for p in points)


def _gap_free(n: int, seed: int = 7) -> list[SeriesPoint]:
    """``n`` back-to-back intervals of uneven length with two columns of power."""
    rng = random.Random(seed)
    out, t = [], 1.7e9
    for _ in range(n):
        span = rng.uniform(0.5, 1.5)
        out.append(SeriesPoint(t, t + span, (rng.uniform(0, 300), rng.uniform(0, 30))))
        t += span
    return out


@pytest.mark.parametrize("max_points", [1, 7, 64, 100, 999])
def test_downsample_keeps_energy_and_bounds_the_length(max_points: int) -> None:
    points = _gap_free(1000)
    thin = downsample(points, max_points)
    assert len(thin) <= max_points
    assert thin[0].t0_s == points[0].t0_s and thin[-1].t1_s == points[-1].t1_s
    for a, b in itertools.pairwise(thin):  # still back to back, in order
        assert b.t0_s == a.t1_s
    for column in (0, 1):
        assert _energy(thin, column) == pytest.approx(_energy(points, column), rel=1e-12)


def test_downsample_returns_a_copy_of_a_short_series() -> None:
    points = _gap_free(5)
    for max_points in (5, 6, 1000):
        thin = downsample(points, max_points)
        assert thin == points and thin is not points
    assert downsample(tuple(points), 10) == points
    assert downsample([], 3) == []


def test_downsample_never_merges_across_a_gap() -> None:
    before = [SeriesPoint(float(t), t + 1.0, (100.0,)) for t in range(15)]
    after = [SeriesPoint(float(t), t + 1.0, (200.0,)) for t in range(100, 115)]
    thin = downsample(before + after, 3)
    for p in thin:  # each point lies wholly on one side of the gap, its values unmixed
        assert p.t1_s <= 15.0 or p.t0_s >= 100.0
        assert p.values == ((100.0,) if p.t1_s <= 15.0 else (200.0,))
    ends = {p.t1_s for p in thin}
    starts = {p.t0_s for p in thin}
    assert {0.0, 100.0} <= starts and {15.0, 115.0} <= ends
    assert _energy(thin, 0) == pytest.approx(15 * 100.0 + 15 * 200.0, rel=1e-12)
    assert len(thin) < len(before + after)


@pytest.mark.parametrize("max_points", [0, -1])
def test_downsample_needs_at_least_one_point(max_points: int) -> None:
    with pytest.raises(ValueError, match="max_points"):
        downsample(_gap_free(3), max_points)
