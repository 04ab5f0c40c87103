"""Shared by the GPU sensors: which GPUs are visible, and how a GPU's energy is split.

Pure functions: no I/O, no vendor library. The sensors resolve each visibility entry
against the devices their library reports, and feed per-process figures to the share
functions.

Visibility
----------

CUDA (``CUDA_VISIBLE_DEVICES``, CUDA Programming Guide, "CUDA Environment Variables"):

* unset: every GPU; set but empty: no GPU;
* a comma-separated list of GPU indices, GPU UUIDs as ``nvidia-smi -L`` prints them
  (``GPU-8932f937-d72c-...``; any prefix, ``GPU-`` included, that names exactly one GPU),
  or MIG devices (``MIG-<uuid>``, or ``MIG-GPU-<uuid>/<gi>/<ci>`` before driver R470);
* devices are numbered in list order (``2,1``: ``cuda:0`` is GPU 2);
* the first invalid entry ends the list: ``0,2,-1,1`` makes GPUs 0 and 2 visible.

Index entries are CUDA ordinals, which follow ``CUDA_DEVICE_ORDER``. CUDA's default order
(``FASTEST_FIRST``) can differ from the PCI bus order NVML and ``nvidia-smi`` use; only with
``CUDA_DEVICE_ORDER=PCI_BUS_ID`` (or a single GPU, or UUID entries) is the match certain.

ROCm: ``ROCR_VISIBLE_DEVICES`` (indices or ``GPU-<uuid>``) filters first; then
``HIP_VISIBLE_DEVICES``, or ``CUDA_VISIBLE_DEVICES`` when that is unset, picks by index among
the devices ROCr left (ROCm docs "GPU isolation techniques"; PyTorch's HIP device count).

wattwise applies CUDA's "first invalid entry stops the list" rule to every variable, and
keeps a device named twice once (so its energy is never counted twice).

Process shares
--------------
:func:`busy_share` splits a GPU's energy by each process's busy time (SM utilisation,
engine nanoseconds); :func:`context_share` is the fallback from who holds a context and how
much memory each uses. Vendor tools report host PIDs, so in a container with its own PID
namespace none of them exists here: both then answer ``None`` (unknown), not 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = [
    "Selection",
    "busy_share",
    "context_share",
    "match_prefix",
    "parse_index",
    "select",
    "split_visible",
]

T = TypeVar("T", bound=Hashable)

_INDEX_RE = re.compile(r"^[0-9]+$")


def split_visible(value: str) -> list[str]:
    """The entries of a ``*_VISIBLE_DEVICES`` value, whitespace stripped; ``""`` gives ``[]``."""
    if not value.strip():
        return []
    return [part.strip() for part in value.split(",")]


def parse_index(entry: str, count: int) -> int | None:
    """The index an entry names when it is a plain non-negative integer below ``count``."""
    if not _INDEX_RE.match(entry):
        return None
    index = int(entry)
    return index if index < count else None


def match_prefix(entry: str, ids: Sequence[Sequence[str]]) -> int | None:
    """Position of the one device whose ids start with ``entry`` (case-insensitive).

    ``ids[i]`` lists the identifiers device ``i`` answers to (a UUID, a HIP UUID, ...).
    ``None`` when no device or more than one device matches: CUDA rejects an ambiguous prefix.
    """
    want = entry.lower()
    if not want:
        return None
    hits = {i for i, names in enumerate(ids) for name in names if name.lower().startswith(want)}
    return hits.pop() if len(hits) == 1 else None


@dataclass(frozen=True)
class Selection(Generic[T]):
    """The devices a visibility list names, in list order.

    Attributes:
        items: what each valid entry resolved to, each at most once.
        stopped_at: the first invalid entry, which ended the list (``None``: all valid).
        repeats: entries skipped because they named a device already selected.
    """

    items: tuple[T, ...]
    stopped_at: str | None = None
    repeats: tuple[str, ...] = ()


def select(entries: Sequence[str], resolve: Callable[[str], T | None]) -> Selection[T]:
    """Resolve ``entries`` in order until the first one ``resolve`` rejects (``None``)."""
    items: list[T] = []
    repeats: list[str] = []
    for entry in entries:
        item = resolve(entry)
        if item is None:
            return Selection(tuple(items), entry, tuple(repeats))
        if item in items:
            repeats.append(entry)
            continue
        items.append(item)
    return Selection(tuple(items), None, tuple(repeats))


def busy_share(
    busy: Mapping[int, float], pids: Collection[int], pid_exists: Callable[[int], bool]
) -> float | None:
    """Our share of the busy time: Σ ``busy`` of ``pids`` / Σ ``busy`` of every process.

    ``None`` when nobody was busy, or when none of ours was and none of the busy pids
    exists in this PID namespace (another namespace's pids: cannot tell).
    """
    active = {pid: value for pid, value in busy.items() if value > 0}
    total = sum(active.values())
    if total <= 0:
        return None
    ours = sum(value for pid, value in active.items() if pid in pids)
    if ours <= 0 and not any(pid_exists(pid) for pid in active):
        return None
    return min(ours / total, 1.0)


def context_share(
    memory: Mapping[int, int | None], pids: Collection[int], pid_exists: Callable[[int], bool]
) -> tuple[float | None, str]:
    """Our share from the processes holding a context on the GPU, and how it was found.

    ``memory`` maps each such pid to its GPU memory (bytes; ``None`` when unknown).
    1.0 (``sole-process``) when they are all ours; 0.0 (``other-processes``) when none is
    ours and they are local; else our memory / everyone's (``memory-share``). ``None``
    when nobody holds a context, memory is unknown, or the pids are another namespace's.
    """
    if not memory:
        return None, ""
    ours = [pid for pid in memory if pid in pids]
    if not ours:
        if any(pid_exists(pid) for pid in memory):
            return 0.0, "other-processes"
        return None, ""
    if len(ours) == len(memory):
        return 1.0, "sole-process"
    sizes = list(memory.values())
    if any(size is None for size in sizes):
        return None, ""
    total = sum(size for size in sizes if size is not None)
    if total <= 0:
        return None, ""
    return sum(memory[pid] or 0 for pid in ours) / total, "memory-share"
