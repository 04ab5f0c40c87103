"""Structured channel pruning that really shrinks the layers.

``torch.nn.utils.prune.ln_structured`` ranks each hidden ``Conv2d``'s output channels
(each hidden ``Linear``'s output units) by the L1 norm of their weights and masks the
weakest ``amount``; :func:`shrink` then rebuilds the layer with only the kept channels,
and cuts the matching inputs of what follows: the next convolution's input channels, a
``BatchNorm2d``/``BatchNorm1d``'s statistics, or, through a ``Flatten``, the next linear
layer's input features (channel-major, ``C×H×W``). Layers are cut in order, so a later
layer's channels are ranked by the weights left after its inputs were cut (what the
smaller network will use), and each layer keeps at least one channel. The last weighted
layer (the classifier) keeps its outputs. The result is a smaller dense model: fewer parameters,
fewer FLOPs, faster dense kernels, unlike unstructured (masked) sparsity.

Supported: an ``nn.Sequential`` of ``Conv2d`` (``groups=1``), ``Linear``,
``BatchNorm1d/2d``, ``Flatten`` and shape-keeping layers (activations, pooling,
dropout, identity). Anything else raises :class:`~wattwise.exceptions.ConfigError`
naming the layer.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

from wattwise.exceptions import ConfigError

__all__ = ["PASS_THROUGH", "shrink"]

PASS_THROUGH = (
    "ReLU", "ReLU6", "LeakyReLU", "GELU", "SiLU", "Tanh", "Sigmoid", "ELU", "Hardswish",
    "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d", "Dropout", "Dropout2d", "Identity",
)  # fmt: skip
"""Layer types that keep channels where they are."""


def _kept(layer: Any, amount: float) -> Any:
    """Indices of the output channels ``ln_structured`` keeps (sorted); at least one is
    always kept."""
    import torch
    from torch.nn.utils import prune as _prune

    prune: Any = _prune
    probe = copy.deepcopy(layer)
    channels = int(probe.weight.shape[0])
    count = min(channels - 1, round(amount * channels))
    if count <= 0:
        return torch.arange(channels)
    prune.ln_structured(probe, "weight", amount=count, n=1, dim=0)
    mask = probe.weight_mask.reshape(channels, -1).sum(1) > 0
    return torch.nonzero(mask).flatten()


def shrink(model: Any, amount: float) -> Any:
    """A copy of ``model`` with ``amount`` (0 < amount < 1) of every hidden layer's
    output channels removed by L1 norm; weights of the kept channels are kept."""
    import torch
    from torch import nn

    if not isinstance(model, nn.Sequential):
        raise ConfigError(
            f"channel pruning needs an nn.Sequential model, not {type(model).__name__}"
        )
    if not 0 < amount < 1:
        raise ConfigError(f"the pruned share must lie strictly between 0 and 1, not {amount!r}")
    layers: list[Any] = [copy.deepcopy(m) for m in model]
    weighted = [i for i, m in enumerate(layers) if isinstance(m, (nn.Conv2d, nn.Linear))]
    if len(weighted) < 2:
        raise ConfigError("channel pruning needs at least one hidden Conv2d or Linear layer")
    for i, m in enumerate(layers):
        name = type(m).__name__
        ok = isinstance(m, (nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d, nn.Flatten))
        ok = ok or (isinstance(m, nn.Conv2d) and m.groups == 1) or name in PASS_THROUGH
        if not ok:
            raise ConfigError(f"channel pruning cannot pass layer {i} ({name})")
    with torch.no_grad():
        for a, b in itertools.pairwise(weighted):
            layer = layers[a]
            keep = _kept(layer, amount)
            layers[a] = _cut_out(layer, keep)
            channels = int(layer.weight.shape[0])
            nxt = layers[b]
            per = nxt.in_features // channels if isinstance(nxt, nn.Linear) else 1
            if isinstance(nxt, nn.Linear) and per * channels != nxt.in_features:
                raise ConfigError(
                    f"layer {b} has {nxt.in_features} inputs, not a multiple of the "
                    f"{channels} channels before it"
                )
            # after a Flatten every channel is `per` features, channel-major
            cols = (keep[:, None] * per + torch.arange(per, device=keep.device)[None, :]).flatten()
            flat = False
            for j in range(a + 1, b):
                mid = layers[j]
                if isinstance(mid, nn.Flatten):
                    flat = True
                elif isinstance(mid, (nn.BatchNorm1d, nn.BatchNorm2d)):
                    layers[j] = _cut_norm(mid, cols if flat else keep)
            layers[b] = _cut_in(nxt, cols if isinstance(nxt, nn.Linear) else keep)
    return nn.Sequential(*layers)


def _cut_out(layer: Any, keep: Any) -> Any:
    from torch import nn as _nn

    nn: Any = _nn

    if isinstance(layer, nn.Conv2d):
        new: Any = nn.Conv2d(
            layer.in_channels, len(keep), layer.kernel_size, layer.stride, layer.padding,
            layer.dilation, 1, layer.bias is not None, layer.padding_mode,
            device=layer.weight.device, dtype=layer.weight.dtype,
        )  # fmt: skip
    else:
        new = nn.Linear(
            layer.in_features, len(keep), layer.bias is not None,
            device=layer.weight.device, dtype=layer.weight.dtype,
        )  # fmt: skip
    new.weight.copy_(layer.weight[keep])
    if layer.bias is not None:
        new.bias.copy_(layer.bias[keep])
    return new.to(layer.weight.device)


def _cut_in(layer: Any, keep: Any) -> Any:
    from torch import nn as _nn

    nn: Any = _nn

    if isinstance(layer, nn.Conv2d):
        new: Any = nn.Conv2d(
            len(keep), layer.out_channels, layer.kernel_size, layer.stride, layer.padding,
            layer.dilation, 1, layer.bias is not None, layer.padding_mode,
            device=layer.weight.device, dtype=layer.weight.dtype,
        )  # fmt: skip
    else:
        new = nn.Linear(
            len(keep), layer.out_features, layer.bias is not None,
            device=layer.weight.device, dtype=layer.weight.dtype,
        )  # fmt: skip
    weight = layer.weight
    new.weight.copy_(weight[:, keep])
    if layer.bias is not None:
        new.bias.copy_(layer.bias)
    return new.to(weight.device)


def _cut_norm(norm: Any, keep: Any) -> Any:
    new = type(norm)(len(keep), norm.eps, norm.momentum, norm.affine, norm.track_running_stats)
    new = new.to(keep.device)
    if norm.affine:
        new.weight.copy_(norm.weight[keep])
        new.bias.copy_(norm.bias[keep])
    if norm.track_running_stats:
        new.running_mean.copy_(norm.running_mean[keep])
        new.running_var.copy_(norm.running_var[keep])
        new.num_batches_tracked.copy_(norm.num_batches_tracked)
    return new
