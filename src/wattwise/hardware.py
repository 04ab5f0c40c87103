"""Packaged hardware catalogue lookups: CPU TDP by model name, GPU specs by name.

Tables are built by ``scripts/build_data.py`` into ``wattwise/data`` and read on first use.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from dataclasses import dataclass
from importlib import resources

__all__ = ["CpuSpec", "GpuSpec", "find_cpu", "find_gpu", "normalise_model"]

_NOISE = re.compile(
    r"\((r|tm|c)\)|\bcpu\b|\bprocessor\b|@.*$|\bwith\b.*$|\b\d+-core\b|\bgraphics\b",
    re.IGNORECASE,
)


def normalise_model(name: str) -> tuple[str, ...]:
    """Lower-case tokens of a CPU/GPU model name with trademarks and clock speed removed."""
    cleaned = _NOISE.sub(" ", name.lower())
    return tuple(t for t in re.split(r"[\s,]+", cleaned) if t)


@dataclass(frozen=True)
class CpuSpec:
    """A CPU model from the catalogue: thermal design power per socket (W)."""

    name: str
    tdp_w: float


@dataclass(frozen=True)
class GpuSpec:
    """An accelerator from the catalogue."""

    name: str
    tdp_w: float
    tflops_fp32: float | None
    tflops_fp16: float | None
    memory_gb: float | None
    source: str


def _rows(filename: str) -> list[dict[str, str]]:
    text = (
        resources.files("wattwise").joinpath("data").joinpath(filename).read_text(encoding="utf-8")
    )
    return list(csv.DictReader(io.StringIO(text)))


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


@functools.lru_cache(maxsize=1)
def _cpu_rows() -> tuple[tuple[str, str, float], ...]:
    """(lower-cased name, name, TDP W) of every catalogue CPU."""
    out = []
    for row in _rows("cpu_tdp.csv"):
        tdp = _float(row.get("tdp_w"))
        if tdp is not None:
            out.append((row["name"].lower(), row["name"], tdp))
    return tuple(out)


def _contains(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def find_cpu(model: str) -> CpuSpec | None:
    """The catalogue entry whose name best matches ``model`` (longest token match).

    A match needs the entry's model-number tokens (those with a digit) to appear whole
    in ``model``, so ``i7-12700`` never matches an ``i7-12700K``.
    """
    tokens = normalise_model(model)
    keys = [t for t in tokens if any(c.isdigit() for c in t)]
    if not keys:
        return None
    best: tuple[int, CpuSpec] | None = None
    for lower, name, tdp in _cpu_rows():
        if not any(k in lower for k in keys):  # cheap pre-filter before tokenising
            continue
        entry = normalise_model(name)
        if not any(any(c.isdigit() for c in t) for t in entry):
            continue
        if _contains(tokens, entry) and (best is None or len(entry) > best[0]):
            best = (len(entry), CpuSpec(name, tdp))
    return best[1] if best else None


@functools.lru_cache(maxsize=1)
def _gpus() -> list[GpuSpec]:
    out = []
    for row in _rows("gpus.csv"):
        tdp = _float(row.get("tdp_w"))
        if tdp is None or row.get("kind") == "cpu":
            continue
        out.append(
            GpuSpec(
                row["name"],
                tdp,
                _float(row.get("tflops_fp32")),
                _float(row.get("tflops_fp16")),
                _float(row.get("memory_gb")),
                row.get("source", ""),
            )
        )
    return out


def find_gpu(name: str) -> GpuSpec | None:
    """The catalogue GPU whose tokens best overlap ``name`` (e.g. NVML's device name)."""

    def tokens_of(text: str) -> set[str]:
        return {t for tok in normalise_model(text) for t in tok.split("-") if t}

    wanted = tokens_of(name.lower().replace("nvidia", "").replace("amd", ""))
    best: tuple[float, GpuSpec] | None = None
    for spec in _gpus():
        tokens = tokens_of(spec.name)
        digits = {t for t in tokens if any(c.isdigit() for c in t)}
        if digits and not digits & wanted:
            continue
        score = len(tokens & wanted) / max(len(tokens), 1)
        if score > 0 and (best is None or score > best[0]):
            best = (score, spec)
    return best[1] if best else None
