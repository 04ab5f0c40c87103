"""The tracked process tree: its CPU time and resident memory, for attribution.

A process tree is a root PID and all its descendants, found again at every sample so
forked workers (DataLoader, ``make -j``) are counted. A process's CPU time is its own
plus that of the children it has reaped (the kernel adds those to ``children_user`` /
``children_system``). When a tracked process exits, its last-seen time is kept unless
its parent is still in the tree, or vanished with it and an ancestor still in the tree
reaped them both (that ancestor's reaped-children time takes it over), so nothing is
counted twice and only the last interval of an orphaned child can be missed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil

__all__ = ["ProcessSample", "ProcessTree"]


@dataclass(frozen=True)
class ProcessSample:
    """CPU-seconds used by the tree since tracking began, and its resident memory now."""

    cpu_s: float
    rss_bytes: int
    pids: frozenset[int]


class ProcessTree:
    """Cumulative CPU time and current RSS of a root process and its descendants.

    Args:
        root_pid: the root (default: this process).
        from_start: count the root's CPU time since it started, not since now (for a
            command launched just before tracking it).
    """

    def __init__(self, root_pid: int | None = None, *, from_start: bool = False) -> None:
        self.root_pid = os.getpid() if root_pid is None else root_pid
        self._from_start = from_start
        self._procs: dict[int, psutil.Process] = {}
        self._last_cpu: dict[int, float] = {}
        self._parent: dict[int, int] = {}
        self._dead_cpu_s = 0.0
        self._base_cpu_s: float | None = None
        self._offset_s = 0.0
        self._last_total = 0.0
        self._reaped_s: float | None = None

    def retarget(self, root_pid: int) -> None:
        """Follow another tree from now on, counted from its start; keeps the total so far."""
        self._offset_s = self._last_total
        self.root_pid = root_pid
        self._procs = {}
        self._last_cpu = {}
        self._parent = {}
        self._dead_cpu_s = 0.0
        self._base_cpu_s = 0.0
        self._reaped_s = None

    def reaped(self, cpu_s: float) -> None:
        """The root was waited for and the kernel's rusage says it and its reaped
        descendants used ``cpu_s``: the exact figure for the tree, closing the gap of the
        last interval between samples."""
        self._reaped_s = cpu_s

    def _members(self) -> list[psutil.Process]:
        try:
            root = self._procs.get(self.root_pid) or psutil.Process(self.root_pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return []
        out = []
        for p in procs:
            known = self._procs.get(p.pid)
            # reuse the object we hold: it remembers create_time, so PID reuse shows
            out.append(known if known is not None and known.is_running() else p)
        return out

    def _reaped_in_tree(self, pid: int, alive: dict[int, float]) -> bool:
        """Whether a vanished ``pid``'s time is now in the reaped-children time of a
        process still in the tree: its parent, or, when the parent vanished too (``sh -c``
        that exits right after its command), the nearest ancestor still alive. A process
        still running left the tree as an orphan: nobody in the tree will reap it."""
        parent = self._parent.get(pid)
        if parent in alive:
            return True
        known = self._procs.get(pid)
        if known is not None and known.is_running():
            return False
        seen = {pid}
        while parent is not None and parent not in seen:
            if parent in alive:
                return True
            seen.add(parent)
            parent = self._parent.get(parent)  # None once outside the last sample's tree
        return False

    def sample(self) -> ProcessSample:
        """Read the tree now. Never raises for processes that vanish meanwhile."""
        alive: dict[int, psutil.Process] = {}
        cpu_now: dict[int, float] = {}
        parents: dict[int, int] = {}
        rss = 0
        for p in self._members():
            try:
                with p.oneshot():
                    t = p.cpu_times()
                    cpu_now[p.pid] = t.user + t.system + t.children_user + t.children_system
                    rss += p.memory_info().rss
                    parents[p.pid] = p.ppid()
                alive[p.pid] = p
            except psutil.Error:
                continue
        for pid, last in self._last_cpu.items():
            if pid not in cpu_now and not self._reaped_in_tree(pid, cpu_now):
                self._dead_cpu_s += last
        self._procs = alive
        self._last_cpu = cpu_now
        self._parent = parents
        tree = self._dead_cpu_s + sum(cpu_now.values())
        if self._reaped_s is not None:
            tree = max(tree, self._reaped_s)
        if self._base_cpu_s is None:
            self._base_cpu_s = 0.0 if self._from_start else tree
        self._last_total = self._offset_s + tree - self._base_cpu_s
        return ProcessSample(self._last_total, rss, frozenset(alive))
