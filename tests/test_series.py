from __future__ import annotations

import pytest

from wattwise.series import DownsamplingSeries


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
