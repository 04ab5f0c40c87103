"""The hardware catalogue: accelerators, CPUs and cloud instance types, searchable by
fuzzy name and extensible by a user file.

Rows come from the packaged tables that ``scripts/build_data.py`` builds from the
shared reference figures (``gpus.csv``: accelerators with TDP, peak TFLOPS fp32/fp16,
memory; ``cpu_tdp.csv``: CPU TDPs; ``instances.csv``: cloud instance types with the
catalogue accelerator they carry and how many), plus, when given, a user CSV with the
columns ``name,kind,tdp_w`` and optionally ``tflops_fp32,tflops_fp16,memory_gb,
accelerator,accelerator_count,source``. A user row replaces a packaged row of the same
name (case-insensitive).

Search scores every name against the query: 1.0 for the same normalised name, else the
best of token overlap (every query token found in the name) and a character-level
similarity (``difflib``), with model numbers weighted so that ``h100`` finds the H100s
before the A100s. :func:`lookup` returns one entry or raises
:class:`UnknownHardwareError` listing the closest names.
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from wattwise.exceptions import ConfigError

__all__ = [
    "KINDS",
    "HardwareEntry",
    "Match",
    "UnknownHardwareError",
    "catalogue",
    "load_user_file",
    "lookup",
    "search",
]

Kind = Literal["gpu", "tpu", "cpu", "instance"]
KINDS: tuple[Kind, ...] = ("gpu", "tpu", "cpu", "instance")
USER_COLUMNS = (
    "name",
    "kind",
    "tdp_w",
    "tflops_fp32",
    "tflops_fp16",
    "memory_gb",
    "accelerator",
    "accelerator_count",
    "source",
)


class UnknownHardwareError(ConfigError):
    """No catalogue entry matches a name; the message lists the closest ones."""


@dataclass(frozen=True)
class HardwareEntry:
    """One device or instance type.

    Attributes:
        name: the catalogue name.
        kind: ``gpu``, ``tpu``, ``cpu`` or ``instance``.
        tdp_w: thermal design power (W) of one device; for an instance, of its
            accelerators together (None when unknown).
        tflops_fp32, tflops_fp16: peak dense TFLOP/s of one device (instance: all of
            its accelerators), as the datasheet gives them.
        memory_gb: memory of one device (instance: all accelerators).
        accelerator: for an instance, the catalogue accelerator it carries.
        accelerator_count: for an instance, how many.
        provider: for an instance, the cloud (``aws``...).
        source: where the figures come from (a URL, or ``user file <path>``).
    """

    name: str
    kind: Kind
    tdp_w: float | None
    tflops_fp32: float | None = None
    tflops_fp16: float | None = None
    memory_gb: float | None = None
    accelerator: str | None = None
    accelerator_count: int | None = None
    provider: str | None = None
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "name": self.name,
            "kind": self.kind,
            "tdp_w": self.tdp_w,
            "tflops_fp32": self.tflops_fp32,
            "tflops_fp16": self.tflops_fp16,
            "memory_gb": self.memory_gb,
            "accelerator": self.accelerator,
            "accelerator_count": self.accelerator_count,
            "provider": self.provider,
            "source": self.source,
        }


@dataclass(frozen=True)
class Match:
    """A search hit and its score (0..1, 1 = the same name)."""

    entry: HardwareEntry
    score: float


def _table(filename: str) -> list[dict[str, str]]:
    text = (
        resources.files("wattwise").joinpath("data").joinpath(filename).read_text(encoding="utf-8")
    )
    return list(csv.DictReader(io.StringIO(text)))


def _num(value: str | None, what: str, where: str) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{where}: {what} must be a number, not {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise ConfigError(f"{where}: {what} must be a finite number ≥ 0, not {value!r}")
    return number


@functools.lru_cache(maxsize=1)
def _packaged() -> tuple[HardwareEntry, ...]:
    devices: dict[str, HardwareEntry] = {}
    for row in _table("gpus.csv"):
        kind = row["kind"] if row["kind"] in ("gpu", "tpu", "cpu") else "gpu"
        entry = HardwareEntry(
            name=row["name"],
            kind=kind,  # type: ignore[arg-type]
            tdp_w=_num(row["tdp_w"], "tdp_w", "gpus.csv"),
            tflops_fp32=_num(row["tflops_fp32"], "tflops_fp32", "gpus.csv"),
            tflops_fp16=_num(row["tflops_fp16"], "tflops_fp16", "gpus.csv"),
            memory_gb=_num(row["memory_gb"], "memory_gb", "gpus.csv"),
            source=row["source"],
        )
        devices[entry.name.casefold()] = entry
    out = list(devices.values())
    for row in _table("cpu_tdp.csv"):
        if row["name"].casefold() not in devices:
            out.append(HardwareEntry(row["name"], "cpu", _num(row["tdp_w"], "tdp_w", "cpu_tdp")))
    for row in _table("instances.csv"):
        out.append(_instance(row, devices, "instances.csv", row.get("source", "")))
    return tuple(out)


def _instance(
    row: dict[str, str], devices: dict[str, HardwareEntry], where: str, source: str
) -> HardwareEntry:
    """An instance row, its totals from its accelerator and count."""
    name = (row.get("accelerator") or "").strip()
    acc = devices.get(name.casefold())
    if acc is None:
        raise ConfigError(
            f"{where}: instance {row['name']!r} names an unknown accelerator {name!r}"
        )
    raw = (row.get("accelerator_count") or "").strip()
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{where}: accelerator_count must be an integer ≥ 1, not {raw!r}")
    n = int(raw)

    def times(value: float | None) -> float | None:
        return None if value is None else value * n

    return HardwareEntry(
        name=row["name"].strip(),
        kind="instance",
        tdp_w=times(acc.tdp_w),
        tflops_fp32=times(acc.tflops_fp32),
        tflops_fp16=times(acc.tflops_fp16),
        memory_gb=times(acc.memory_gb),
        accelerator=acc.name,
        accelerator_count=n,
        provider=(row.get("provider") or "").strip() or None,
        source=source,
    )


def load_user_file(path: str | os.PathLike[str]) -> tuple[HardwareEntry, ...]:
    """Entries from a user CSV (see the module doc). Errors name the line."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise ConfigError(f"cannot read hardware file {path}: {exc.strerror or exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in ("name", "kind", "tdp_w") if c not in header]
    if missing:
        raise ConfigError(f"{path}: the header needs {', '.join(missing)} (got {header})")
    unknown = [h for h in header if h not in USER_COLUMNS]
    if unknown:
        raise ConfigError(f"{path}: unknown column(s) {', '.join(unknown)}")
    devices = {e.name.casefold(): e for e in _packaged() if e.kind != "instance"}
    out: list[HardwareEntry] = []
    for line, raw in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if None in raw:
            raise ConfigError(f"{path}:{line}: more cells than columns")
        where = f"{path}:{line}"
        if not row.get("name"):
            raise ConfigError(f"{where}: empty name")
        kind = row.get("kind", "")
        if kind not in KINDS:
            raise ConfigError(f"{where}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
        source = row.get("source") or f"user file {os.fspath(path)}"
        if kind == "instance":
            out.append(_instance(row, devices, where, source))
            continue
        entry = HardwareEntry(
            name=row["name"],
            kind=kind,
            tdp_w=_num(row.get("tdp_w"), "tdp_w", where),
            tflops_fp32=_num(row.get("tflops_fp32"), "tflops_fp32", where),
            tflops_fp16=_num(row.get("tflops_fp16"), "tflops_fp16", where),
            memory_gb=_num(row.get("memory_gb"), "memory_gb", where),
            source=source,
        )
        if entry.tdp_w is None:
            raise ConfigError(f"{where}: tdp_w is required")
        devices[entry.name.casefold()] = entry  # later user instances may use it
        out.append(entry)
    return tuple(out)


def catalogue(user_file: str | os.PathLike[str] | None = None) -> tuple[HardwareEntry, ...]:
    """Every entry: the packaged ones, with a user file's rows replacing same-named ones
    (and the packaged instance types that carry a replaced accelerator recomputed)."""
    base = list(_packaged())
    if user_file is None:
        return tuple(base)
    mine = load_user_file(user_file)
    names = {e.name.casefold() for e in mine}
    kept = [e for e in base if e.name.casefold() not in names]
    # packaged instances carry the figures of their accelerator: rebuild them when the
    # user's file replaces that accelerator
    devices = {e.name.casefold(): e for e in [*kept, *mine] if e.kind != "instance"}
    rows = {r["name"].strip().casefold(): r for r in _table("instances.csv")}
    out = []
    for e in kept:
        if e.kind == "instance" and e.accelerator and e.accelerator.casefold() in names:
            e = _instance(rows[e.name.casefold()], devices, "instances.csv", e.source)
        out.append(e)
    return tuple(out + list(mine))


_SPLIT = re.compile(r"[^a-z0-9.]+")


@functools.lru_cache(maxsize=16384)
def _tokens(text: str) -> tuple[str, ...]:
    """Lower-case tokens split at separators and where a number meets a unit (``80gb`` →
    ``80 gb``, while ``a100`` and ``sxm4`` stay whole); vendor words dropped (``nvidia``,
    ``amd``, ``intel``, ``tesla``... carry no model)."""
    spaced = re.sub(r"(?<=\d)(?=[a-z])", " ", text.casefold())
    words = [w.strip(".") for w in _SPLIT.split(spaced)]
    return tuple(w for w in words if w and w not in _VENDOR)


def _weight(token: str) -> float:
    """Model names (letters and digits: ``a100``, ``hbm3``) weigh 3; plain numbers and
    words 1."""
    has_digit = any(c.isdigit() for c in token)
    has_alpha = any(c.isalpha() for c in token)
    return 3.0 if has_digit and has_alpha else 1.0


_VENDOR = frozenset({"nvidia", "amd", "intel", "tesla", "geforce", "the"})
CPU_FACTOR = 0.85
SIMILARITY_WEIGHT = 0.6


@functools.lru_cache(maxsize=16384)
def _plain(text: str) -> str:
    return " ".join(w for w in _SPLIT.split(text.casefold()) if w)


@dataclass(frozen=True)
class _Query:
    """A query prepared once per search: its tokens, their weights and joined forms."""

    raw: str
    plain: str
    tokens: tuple[str, ...]
    weights: tuple[float, ...]
    joined: str

    @classmethod
    def of(cls, text: str) -> _Query:
        tokens = _tokens(text)
        weights = tuple(_weight(t) for t in tokens)
        return cls(text, _plain(text), tokens, weights, " ".join(tokens))


def _overlap_score(query: _Query, name: str, kind: str) -> float:
    """1.0 for the same normalised name; 0.98 for the same name once vendor words are
    dropped; else 0.5 to 0.99 by token overlap (query tokens found in the name, model
    names counting triple, shorter names first), 0 when no token is found. A CPU's score
    is multiplied by :data:`CPU_FACTOR` (thousands of CPUs share model numbers with
    accelerators: a bare ``a100`` means the GPU, not the Atom A100; ``kind="cpu"`` finds
    the CPUs)."""
    if _plain(name) == query.plain:
        return 1.0  # the same name, case and separators aside
    name_tokens = _tokens(name)
    if not name_tokens:
        return 0.0
    joined = " ".join(name_tokens)
    factor = CPU_FACTOR if kind == "cpu" else 1.0
    if joined == query.joined:
        return 0.98 * factor
    weight = found = 0.0
    for q, w in zip(query.tokens, query.weights, strict=True):
        weight += w
        if q in name_tokens:
            found += w
        elif any(q in t for t in name_tokens):
            found += 0.8 * w
    if found == 0:
        return 0.0
    shortness = min(1.0, math.sqrt(len(query.joined) / len(joined)))
    return min(0.99, 0.5 + 0.49 * (found / weight) * (0.5 + 0.5 * shortness)) * factor


@functools.lru_cache(maxsize=16384)
def _joined_counts(name: str) -> tuple[str, dict[str, int]]:
    """A name's tokens joined, and how often each character occurs in them (cached:
    the catalogue's names are scored for every search)."""
    joined = " ".join(_tokens(name))
    counts: dict[str, int] = {}
    for ch in joined:
        counts[ch] = counts.get(ch, 0) + 1
    return joined, counts


def _similarity(
    matcher: difflib.SequenceMatcher[str], query: _Query, counts: dict[str, int], name: str,
    floor: float,
) -> float:  # fmt: skip
    """Character similarity of ``name`` to the query (held as the matcher's first
    sequence; ``counts``: its characters), × :data:`SIMILARITY_WEIGHT`; 0 when it cannot
    reach ``floor``. The cheap upper bounds first, as difflib's ``real_quick_ratio`` and
    ``quick_ratio`` (length ratio; characters in common), from cached character counts:
    most of the thousands of names are far off."""
    joined, theirs = _joined_counts(name)
    if not joined:
        return 0.0
    total = len(query.joined) + len(joined)
    if 2.0 * min(len(query.joined), len(joined)) / total * SIMILARITY_WEIGHT < floor:
        return 0.0
    common = sum(min(n, theirs.get(ch, 0)) for ch, n in counts.items())
    if 2.0 * common / total * SIMILARITY_WEIGHT < floor:
        return 0.0
    matcher.set_seq2(joined)
    return matcher.ratio() * SIMILARITY_WEIGHT


def _entry_score(query: _Query, entry: HardwareEntry) -> float:
    """An entry's overlap score; an instance also scores by its accelerator's name
    (× 0.9, so ``v100`` lists the V100s first, then the instances that carry them)."""
    own = _overlap_score(query, entry.name, entry.kind)
    if entry.accelerator:
        return max(own, 0.9 * _overlap_score(query, entry.accelerator, "gpu"))
    return own


def search(
    query: str,
    *,
    kind: Kind | Sequence[Kind] | None = None,
    limit: int = 10,
    entries: Iterable[HardwareEntry] | None = None,
    min_score: float = 0.3,
) -> list[Match]:
    """The best-matching entries for ``query``, best first (ties by name).

    ``kind`` restricts to one kind or several; ``entries`` searches a given catalogue
    (default: :func:`catalogue`). Raises ConfigError for an empty query or a bad kind.

    Two passes: every entry is scored by token overlap (cheap); then the character
    similarity (up to 0.6, :mod:`difflib`) is computed only for the entries with no
    overlap whose upper bound could still enter the top ``limit``.
    """
    prepared = _Query.of(query)
    if not prepared.tokens:
        raise ConfigError("give a hardware name to search for")
    kinds = _kinds(kind)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ConfigError(f"limit must be an integer ≥ 1, not {limit!r}")
    pool = [e for e in (catalogue() if entries is None else entries) if e.kind in kinds]
    scored = [(e, _entry_score(prepared, e)) for e in pool]
    found = sorted((s for _, s in scored if s > 0), reverse=True)
    floor = max(min_score, found[limit - 1] if len(found) >= limit else 0.0)
    if floor < SIMILARITY_WEIGHT:
        matcher: difflib.SequenceMatcher[str] = difflib.SequenceMatcher(None, autojunk=False)
        matcher.set_seq1(prepared.joined)
        counts = _joined_counts(prepared.raw)[1]
        for i, (entry, score) in enumerate(scored):
            if score == 0:
                similar = _similarity(matcher, prepared, counts, entry.name, floor)
                scored[i] = (entry, similar * CPU_FACTOR if entry.kind == "cpu" else similar)
    hits = [Match(e, round(s, 4)) for e, s in scored if s >= min_score and s > 0]
    hits.sort(key=lambda m: (-m.score, m.entry.name.casefold()))
    return hits[:limit]


@functools.lru_cache(maxsize=1)
def _by_plain_name() -> dict[str, tuple[HardwareEntry, ...]]:
    """The packaged entries by normalised name (an exact name is found without a scan)."""
    index: dict[str, list[HardwareEntry]] = {}
    for entry in _packaged():
        index.setdefault(_plain(entry.name), []).append(entry)
    return {key: tuple(group) for key, group in index.items()}


def lookup(
    name: str,
    *,
    kind: Kind | Sequence[Kind] | None = None,
    entries: Iterable[HardwareEntry] | None = None,
) -> HardwareEntry:
    """The entry called ``name`` (case and vendor words ignored), or the single best match
    when it is clearly ahead; otherwise UnknownHardwareError with the closest names."""
    pool = catalogue() if entries is None else tuple(entries)
    kinds = _kinds(kind)
    plain = _plain(name)
    same_name = _by_plain_name().get(plain, ()) if entries is None else pool
    exact = [e for e in same_name if e.kind in kinds and _plain(e.name) == plain]
    if len(exact) == 1:  # the same name: no need to score thousands of others
        return exact[0]
    hits = search(name, kind=kind, limit=5, entries=pool, min_score=0.0)
    if hits and hits[0].score == 1.0:
        return hits[0].entry
    same = [m for m in hits if " ".join(_tokens(m.entry.name)) == " ".join(_tokens(name))]
    rivals = [m for m in hits if m.entry.kind != "cpu" and m.score >= 0.8 and m not in same]
    if len(same) == 1 and not (same[0].entry.kind == "cpu" and rivals):
        return same[0].entry
    if hits and hits[0].score >= 0.8 and (len(hits) == 1 or hits[0].score - hits[1].score >= 0.05):
        return hits[0].entry
    if sum(m.score >= 0.8 for m in hits) > 1:
        raise UnknownHardwareError(
            f"hardware {name!r} is ambiguous; closest: {_closest(name, kind, pool)} "
            "(give the full name)"
        )
    raise UnknownHardwareError(f"unknown hardware {name!r}; closest: {_closest(name, kind, pool)}")


def _closest(name: str, kind: Kind | Sequence[Kind] | None, pool: Sequence[HardwareEntry]) -> str:
    """The five nearest names."""
    hits = search(name, kind=kind, limit=5, entries=pool, min_score=0.2)
    return ", ".join(m.entry.name for m in hits) or "none"


def _kinds(kind: Kind | Sequence[Kind] | None) -> tuple[str, ...]:
    if kind is None:
        return KINDS
    kinds = (kind,) if isinstance(kind, str) else tuple(kind)
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ConfigError(f"kind must be one of {', '.join(KINDS)}, not {', '.join(bad) or '∅'}")
    return kinds
