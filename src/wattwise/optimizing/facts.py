"""What a model is, read off the model itself: parameters, zeros, weight dtypes,
quantized layers, size on disk, and the dtype its layers compute in.

Recipes are checked against these facts, never against a flag they set: a quantized
variant must have int8 weights, a pruned one zeros, a shrunk one fewer parameters.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["ModelFacts", "compute_dtype", "model_facts", "size_bytes"]

_QUANTIZED = ("torch.ao.nn.quantized", "torch.ao.nn.intrinsic.quantized")


@dataclass(frozen=True)
class ModelFacts:
    """Counted from the weights.

    Attributes:
        parameters: weight and bias elements (quantized ones included).
        nonzero: of which not exactly zero (a quantized zero counts as zero).
        size_bytes: ``torch.save(model.state_dict())`` in bytes (dense: zeros take room).
        weight_dtypes: dtype → number of weight tensors (``qint8``, ``float32``, ...).
        quantized_layers: modules from ``torch.ao.nn.quantized`` (static or dynamic).
    """

    parameters: int
    nonzero: int
    size_bytes: int
    weight_dtypes: dict[str, int]
    quantized_layers: int

    @property
    def sparsity(self) -> float:
        """Share of the parameters that are zero."""
        return 1.0 - self.nonzero / self.parameters if self.parameters else 0.0

    def weights_text(self) -> str:
        """``qint8 ×3, float32 ×2``: the weight tensors by dtype."""
        return ", ".join(f"{k} ×{v}" for k, v in sorted(self.weight_dtypes.items()))


def size_bytes(model: Any) -> int:
    """Bytes of the model's saved ``state_dict``."""
    import torch

    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return len(buf.getvalue())


def _tensors(model: Any) -> Iterator[tuple[str, Any]]:
    """(kind, tensor) for every weight and bias, quantized modules through their
    ``weight()``/``bias()`` methods."""
    for module in model.modules():
        w = getattr(module, "weight", None)
        if callable(w) and type(module).__module__.startswith("torch.ao.nn"):
            yield "weight", w()
            b = getattr(module, "bias", None)
            bias = b() if callable(b) else None
            if bias is not None:
                yield "bias", bias
            continue
        for name, p in module.named_parameters(recurse=False):
            yield ("weight" if "weight" in name else "other"), p


def model_facts(model: Any) -> ModelFacts:
    """Count the model's parameters, zeros and weight dtypes, and save it to measure
    its size."""
    import torch

    params = nonzero = 0
    dtypes: Counter[str] = Counter()
    seen: set[int] = set()
    alive: list[Any] = []  # quantized weight() makes a new tensor per call: keep ids unique
    for kind, t in _tensors(model):
        if id(t) in seen:  # a parameter shared between modules counts once
            continue
        seen.add(id(t))
        alive.append(t)
        params += int(t.numel())
        dense = t.dequantize() if t.is_quantized else t.detach()
        nonzero += int(torch.count_nonzero(dense))
        if kind == "weight":
            dtypes[str(t.dtype).removeprefix("torch.")] += 1
    quantized = sum(
        1
        for m in model.modules()
        if type(m).__module__.startswith(
            ("torch.ao.nn.quantized", "torch.ao.nn.intrinsic.quantized")
        )
        and callable(getattr(m, "weight", None))
    )
    return ModelFacts(params, nonzero, size_bytes(model), dict(dtypes), quantized)


def compute_dtype(model: Any, x: Any, autocast: str | None = None) -> str:
    """The dtype the first layer with parameters outputs for ``x`` (under
    ``torch.autocast`` at ``autocast`` when given): what the variant computes in."""
    import contextlib

    import torch

    seen: list[str] = []

    def hook(_m: Any, _i: Any, out: Any) -> None:
        if not seen and hasattr(out, "dtype"):
            seen.append(str(out.dtype).removeprefix("torch."))

    handles = []
    for m in model.modules():
        if any(True for _ in m.parameters(recurse=False)) or callable(getattr(m, "weight", None)):
            handles.append(m.register_forward_hook(hook))
    ctx = (
        torch.autocast(x.device.type, dtype=getattr(torch, autocast))
        if autocast
        else contextlib.nullcontext()
    )
    try:
        model.eval()
        with torch.inference_mode(), ctx:
            model(x[:1])
    finally:
        for h in handles:
            h.remove()
    return seen[0] if seen else "unknown"
