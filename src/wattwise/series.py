"""A fixed-size time series that halves its resolution when full (bounded memory).

A week-long run at 1 s would be 604,800 samples; the buffer keeps at most ``capacity``
points by averaging neighbouring pairs whenever it fills, so memory stays constant and the
series still spans the whole run at an even (coarser) step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["DownsamplingSeries", "SeriesPoint", "downsample"]


@dataclass(frozen=True)
class SeriesPoint:
    """Mean values over ``[t0_s, t1_s]`` (wall-clock seconds since the epoch)."""

    t0_s: float
    t1_s: float
    values: tuple[float, ...]


class DownsamplingSeries:
    """Append-only series of equal-width value tuples with bounded length."""

    def __init__(self, columns: Sequence[str], capacity: int = 2048) -> None:
        if capacity < 4 or capacity % 2:
            raise ValueError("capacity must be an even number ≥ 4")
        self.columns = tuple(columns)
        self.capacity = capacity
        self.points: list[SeriesPoint] = []
        self.stride = 1  # raw samples per stored point
        self._pending: list[SeriesPoint] = []

    def append(self, t0_s: float, t1_s: float, values: Sequence[float]) -> None:
        """Add one interval's mean values."""
        if len(values) != len(self.columns):
            raise ValueError("value count differs from columns")
        self._pending.append(SeriesPoint(t0_s, t1_s, tuple(values)))
        if len(self._pending) < self.stride:
            return
        self.points.append(_merge(self._pending))
        self._pending = []
        if len(self.points) >= self.capacity:
            self.points = [_merge(self.points[i : i + 2]) for i in range(0, len(self.points), 2)]
            self.stride *= 2

    def all_points(self) -> list[SeriesPoint]:
        """Stored points plus the not yet merged tail."""
        return self.points + ([_merge(self._pending)] if self._pending else [])


def _merge(points: Sequence[SeriesPoint]) -> SeriesPoint:
    span = [p.t1_s - p.t0_s for p in points]
    total = sum(span)
    n = len(points[0].values)
    if total <= 0:
        values = tuple(sum(p.values[i] for p in points) / len(points) for i in range(n))
    else:  # time-weighted mean keeps energy (mean power × span) exact
        values = tuple(
            sum(p.values[i] * w for p, w in zip(points, span, strict=False)) / total
            for i in range(n)
        )
    return SeriesPoint(points[0].t0_s, points[-1].t1_s, values)


def downsample(points: Sequence[SeriesPoint], max_points: int) -> list[SeriesPoint]:
    """About ``max_points`` points, merging runs of neighbours (time-weighted means).

    Energy is kept: each merged point's mean power × its span equals the sum over the
    points it replaces. Points are never merged across a gap in time (a missing stretch
    stays missing), so a group ends early where the next point does not follow on and a
    series with many gaps may keep more points.
    """
    if max_points < 1:
        raise ValueError("max_points must be ≥ 1")
    if len(points) <= max_points:
        return list(points)
    size = -(-len(points) // max_points)  # ceil
    out: list[SeriesPoint] = []
    group: list[SeriesPoint] = []
    for p in points:
        if group and (len(group) >= size or not _follows(group[-1], p)):
            out.append(_merge(group))
            group = []
        group.append(p)
    if group:
        out.append(_merge(group))
    return out


def _follows(a: SeriesPoint, b: SeriesPoint) -> bool:
    """Whether ``b`` starts where ``a`` ends (within half of ``a``'s span)."""
    return b.t0_s - a.t1_s <= 0.5 * max(a.t1_s - a.t0_s, 1e-9)
