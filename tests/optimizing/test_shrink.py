"""Structured channel pruning that rebuilds smaller layers: sizes read off the modules,
outputs equal to the original with the dropped channels zeroed, L1-norm choice, errors."""

from __future__ import annotations

import copy
import itertools
from typing import Any, cast

import pytest

from wattwise.exceptions import ConfigError
from wattwise.optimizing.shrink import shrink
from wattwise.tuning.digits import make_cnn

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402


def _seeded(model: Any, seed: int = 0) -> Any:
    """Re-draw every parameter and BN statistic from a seeded generator (distinct norms)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                assert m.running_mean is not None and m.running_var is not None
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.3)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
    return model.eval()


def _bn_cnn() -> Any:
    """Convs with BatchNorm2d, a global pool, then a Linear → BatchNorm1d → ReLU → Linear
    head (weighted layers at 0, 3, 8, 11)."""
    return _seeded(
        nn.Sequential(
            nn.Conv2d(3, 8, 3),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 6, 3, padding=1),
            nn.BatchNorm2d(6),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(6, 16),
            nn.BatchNorm1d(16),
            nn.ReLU(),
            nn.Linear(16, 4),
        ),
        seed=1,
    )


def _mlp() -> Any:
    return _seeded(nn.Sequential(nn.Linear(5, 12), nn.ReLU(), nn.Linear(12, 3)), seed=2)


def _weighted(model: Any) -> list[int]:
    return [i for i, m in enumerate(model) if isinstance(m, (nn.Conv2d, nn.Linear))]


def _params(model: Any) -> int:
    return sum(int(p.numel()) for p in model.parameters())


def _kept_channels(original: Any, shrunk: Any) -> dict[int, list[int]]:
    """Which of the original output channels each hidden weighted layer kept: found by
    matching the shrunk layer's bias against the original's (biases are distinct)."""
    out: dict[int, list[int]] = {}
    for i in _weighted(original)[:-1]:
        full, small = original[i].bias.tolist(), shrunk[i].bias.tolist()
        out[i] = [full.index(b) for b in small]
    return out


def _masked_original(model: Any, kept: dict[int, list[int]]) -> Any:
    """The original model with the dropped output channels of every hidden layer zeroed
    (weight rows and bias), and the BatchNorm weight and bias of those channels zeroed
    so they output exactly 0."""
    masked = copy.deepcopy(model)
    layers = list(masked)
    weighted = _weighted(masked)
    with torch.no_grad():
        for a, b in itertools.pairwise(weighted):
            layer = layers[a]
            drop = [c for c in range(layer.weight.shape[0]) if c not in kept[a]]
            layer.weight[drop] = 0.0
            layer.bias[drop] = 0.0
            for mid in layers[a + 1 : b]:
                if isinstance(mid, (nn.BatchNorm1d, nn.BatchNorm2d)):
                    mid.weight[drop] = 0.0
                    mid.bias[drop] = 0.0
    return masked.eval()


# -- sizes ------------------------------------------------------------------------------


def test_digits_cnn_loses_half_its_channels() -> None:
    model = _seeded(make_cnn(8))
    small = shrink(model, 0.5)
    assert isinstance(cast(object, small), nn.Sequential)
    assert [type(m) for m in small] == [type(m) for m in model]
    assert (small[0].in_channels, small[0].out_channels) == (1, 4)
    assert (small[2].in_channels, small[2].out_channels) == (4, 4)
    assert (small[6].in_features, small[6].out_features) == (4 * 4 * 4, 10)
    assert tuple(small[0].weight.shape) == (4, 1, 3, 3)
    assert tuple(small[2].weight.shape) == (4, 4, 3, 3)
    assert tuple(small[6].weight.shape) == (10, 64)
    # conv 1→4: 36 + 4; conv 4→4: 144 + 4; linear 64→10: 640 + 10
    assert _params(small) == 40 + 148 + 650
    assert _params(model) == 80 + 584 + 1290
    assert small(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


@pytest.mark.parametrize(("amount", "kept"), [(0.25, 6), (0.3, 6), (0.5, 4), (0.7, 2)])
def test_kept_count_follows_ln_structured_rounding(amount: float, kept: int) -> None:
    # ln_structured prunes round(amount × channels) of them
    small = shrink(_seeded(make_cnn(8)), amount)
    assert small[0].out_channels == kept
    assert small[2].out_channels == kept
    assert small[6].in_features == kept * 16
    assert small[6].out_features == 10


def test_bn_cnn_shrinks_every_hidden_layer_and_its_norm() -> None:
    model = _bn_cnn()
    small = shrink(model, 0.5)
    assert (small[0].out_channels, small[3].in_channels, small[3].out_channels) == (4, 4, 3)
    assert small[1].num_features == 4
    assert tuple(small[1].running_mean.shape) == (4,)
    assert small[4].num_features == 3
    assert (small[8].in_features, small[8].out_features) == (3, 8)
    assert small[9].num_features == 8
    assert tuple(small[9].running_var.shape) == (8,)
    assert (small[11].in_features, small[11].out_features) == (8, 4)
    assert _params(small) < _params(model)
    for i in (1, 4, 9):
        assert small[i].eps == model[i].eps
        assert small[i].momentum == model[i].momentum
        assert int(small[i].num_batches_tracked) == int(model[i].num_batches_tracked)


def test_mlp_shrinks_its_hidden_units() -> None:
    model = _mlp()
    small = shrink(model, 0.25)
    assert (small[0].in_features, small[0].out_features) == (5, 9)
    assert (small[2].in_features, small[2].out_features) == (9, 3)
    assert _params(small) == 5 * 9 + 9 + 9 * 3 + 3


# -- outputs equal the masked original ---------------------------------------------------


@pytest.mark.parametrize(
    ("build", "x_shape"),
    [
        (lambda: _seeded(make_cnn(8)), (5, 1, 8, 8)),
        (_bn_cnn, (5, 3, 7, 7)),
        (_mlp, (5, 5)),
    ],
    ids=["digits-cnn", "bn-cnn", "mlp"],
)
@pytest.mark.parametrize("amount", [0.25, 0.5])
def test_output_equals_the_original_with_dropped_channels_zeroed(
    build: Any, x_shape: tuple[int, ...], amount: float
) -> None:
    model = build()
    small = shrink(model, amount).eval()
    kept = _kept_channels(model, small)
    for i, channels in kept.items():
        assert channels == sorted(channels)  # kept in their original order
        assert len(channels) < model[i].weight.shape[0]
    x = torch.randn(x_shape, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = _masked_original(model, kept)(x)
        got = small(x)
        unmasked = model(x)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(got, unmasked, atol=1e-3)  # the pruning did something


def test_kept_weights_are_the_original_ones() -> None:
    model = _bn_cnn()
    small = shrink(model, 0.5)
    kept = _kept_channels(model, small)
    k0, k3, k8 = kept[0], kept[3], kept[8]
    assert torch.equal(small[0].weight, model[0].weight[k0])
    assert torch.equal(small[1].weight, model[1].weight[k0])
    assert torch.equal(small[1].running_mean, model[1].running_mean[k0])
    assert torch.equal(small[3].weight, model[3].weight[k3][:, k0])
    assert torch.equal(small[8].weight, model[8].weight[k8][:, k3])
    assert torch.equal(small[11].weight, model[11].weight[:, k8])
    assert torch.equal(small[11].bias, model[11].bias)


def test_flatten_cuts_the_channel_major_features() -> None:
    model = _seeded(make_cnn(8))
    small = shrink(model, 0.5)
    k2 = _kept_channels(model, small)[2]
    # Flatten of C×4×4 maps: channel c owns features 16c .. 16c + 15
    cols = [16 * c + j for c in k2 for j in range(16)]
    assert torch.equal(small[6].weight, model[6].weight[:, cols])
    assert torch.equal(small[6].bias, model[6].bias)


# -- which channels -----------------------------------------------------------------------


def _top_l1(weight: Any, keep: int) -> list[int]:
    norms = weight.reshape(weight.shape[0], -1).abs().sum(1)
    return sorted(int(i) for i in torch.topk(norms, keep).indices)


def test_first_layer_keeps_the_channels_of_largest_l1_norm() -> None:
    model = _seeded(make_cnn(8))
    with torch.no_grad():  # make the L1 order unmistakable: channel c scaled by (c·7 mod 8)+1
        for c in range(8):
            model[0].weight[c] *= (c * 7 % 8) + 1
    small = shrink(model, 0.5)
    kept = _kept_channels(model, small)[0]
    assert kept == _top_l1(model[0].weight, 4)
    assert torch.equal(small[0].weight, model[0].weight[kept])


def test_later_layers_rank_by_the_l1_norm_of_their_remaining_weights() -> None:
    # a hidden layer after a pruned one is ranked on the weights it keeps (its inputs
    # from dropped channels are cut first), i.e. on the shrunk layer's own weights
    model = _bn_cnn()
    small = shrink(model, 0.5)
    kept = _kept_channels(model, small)
    for i, prev in ((3, kept[0]), (8, kept[3])):
        remaining = model[i].weight[:, prev]
        assert kept[i] == _top_l1(remaining, len(kept[i])), f"layer {i}"


def test_classifier_keeps_its_outputs() -> None:
    for model in (_seeded(make_cnn(8)), _bn_cnn(), _mlp()):
        small = shrink(model, 0.5)
        last = _weighted(model)[-1]
        assert small[last].out_features == model[last].out_features
        assert torch.equal(small[last].bias, model[last].bias)


def test_the_input_model_is_not_modified() -> None:
    model = _bn_cnn()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    layers = list(model)
    shrink(model, 0.5)
    assert list(model) == layers  # the same module objects
    after = model.state_dict()
    assert after.keys() == before.keys()
    for k, v in before.items():
        assert torch.equal(after[k], v), k
    assert model[0].out_channels == 8


def test_result_shares_no_tensors_with_the_input() -> None:
    model = _mlp()
    small = shrink(model, 0.5)
    originals = {id(p) for p in model.parameters()}
    assert not any(id(p) in originals for p in small.parameters())
    with torch.no_grad():
        small[2].bias.add_(1.0)
    assert not torch.equal(small[2].bias, model[2].bias)


def test_shape_keeping_layers_are_passed_through() -> None:
    model = _seeded(
        nn.Sequential(
            nn.Conv2d(2, 8, 3, padding=1),
            nn.GELU(),
            nn.Dropout2d(0.1),
            nn.AvgPool2d(2),
            nn.Identity(),
            nn.Conv2d(8, 4, 1),
            nn.Hardswish(),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
            nn.Linear(4, 2),
        )
    )
    small = shrink(model, 0.5)
    assert (small[0].out_channels, small[5].in_channels, small[5].out_channels) == (4, 4, 2)
    assert small[9].in_features == 2
    assert small(torch.zeros(1, 2, 6, 6)).shape == (1, 2)


def test_a_large_amount_keeps_one_channel_per_layer() -> None:
    # round(0.95 × 8) = 8 would drop every channel of an 8-wide layer: one is kept
    model = _seeded(make_cnn(8))
    small = shrink(model, 0.95)
    widths = [small[i].weight.shape[0] for i in _weighted(small)[:-1]]
    assert widths == [1, 1]
    assert small[6].in_features == 16
    kept = _kept_channels(model, small)
    assert kept[0] == _top_l1(model[0].weight, 1)
    assert small(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_a_tiny_amount_prunes_nothing() -> None:
    # round(0.05 × 8) = 0: no channel to drop, the same sizes and weights
    model = _seeded(make_cnn(8))
    small = shrink(model, 0.05)
    assert _params(small) == _params(model)
    for a, b in zip(model.parameters(), small.parameters(), strict=True):
        assert torch.equal(a, b)


# -- errors -------------------------------------------------------------------------------


class _Custom(nn.Module):
    def forward(self, x: Any) -> Any:
        return x


def test_refuses_a_model_that_is_not_sequential() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(2, 4)
            self.b = nn.Linear(4, 2)

    with pytest.raises(ConfigError, match=r"nn\.Sequential model, not Net"):
        shrink(Net(), 0.5)
    with pytest.raises(ConfigError, match="not ModuleList"):
        shrink(nn.ModuleList([nn.Linear(2, 4), nn.Linear(4, 2)]), 0.5)


@pytest.mark.parametrize("amount", [0, 0.0, 1, 1.0, -0.2, 1.5, float("nan")])
def test_refuses_an_amount_outside_zero_one(amount: float) -> None:
    with pytest.raises(ConfigError, match="strictly between 0 and 1"):
        shrink(_mlp(), amount)


def test_refuses_a_grouped_convolution() -> None:
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3), nn.Conv2d(4, 4, 3, groups=2), nn.Flatten(), nn.Linear(4, 2)
    )
    with pytest.raises(ConfigError, match=r"cannot pass layer 1 \(Conv2d\)"):
        shrink(model, 0.5)


@pytest.mark.parametrize(
    ("odd", "name"),
    [(nn.LSTM(4, 4), "LSTM"), (_Custom(), "_Custom"), (nn.Conv1d(4, 4, 1), "Conv1d")],
)
def test_refuses_an_unknown_layer_by_index_and_name(odd: Any, name: str) -> None:
    model = nn.Sequential(nn.Linear(3, 4), odd, nn.Linear(4, 2))
    with pytest.raises(ConfigError, match=rf"cannot pass layer 1 \({name}\)"):
        shrink(model, 0.5)


@pytest.mark.parametrize(
    "model",
    [
        nn.Sequential(nn.Flatten(), nn.Linear(4, 2)),
        nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()),
        nn.Sequential(nn.ReLU()),
    ],
    ids=["one-linear", "one-conv", "no-weights"],
)
def test_refuses_a_model_with_no_hidden_weighted_layer(model: Any) -> None:
    with pytest.raises(ConfigError, match="at least one hidden"):
        shrink(model, 0.5)


def test_refuses_a_linear_whose_inputs_do_not_split_into_the_channels() -> None:
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.Flatten(), nn.Linear(10, 2))
    with pytest.raises(ConfigError, match="10 inputs, not a multiple of the 3 channels"):
        shrink(model, 0.5)


# -- BatchNorm1d after a Flatten, and the model's device ----------------------------------


def _bn_after_flatten() -> Any:
    """A conv of 4 channels on 8×8 maps, flattened (channel c owns features 64c ..
    64c + 63), then BatchNorm1d over the 256 features and the classifier."""
    return _seeded(
        nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.BatchNorm1d(4 * 8 * 8),
            nn.Linear(256, 10),
        ),
        seed=4,
    )


def test_batchnorm1d_after_a_flatten_keeps_the_kept_channels_features() -> None:
    model = _bn_after_flatten()
    with torch.no_grad():
        model[3].num_batches_tracked.fill_(5)
    small = shrink(model, 0.5).eval()
    kept = _kept_channels(model, small)[0]
    assert len(kept) == 2 and kept == sorted(kept)
    cols = [64 * c + j for c in kept for j in range(64)]
    norm = small[3]
    assert isinstance(norm, nn.BatchNorm1d) and norm.num_features == 128
    for key in ("weight", "bias", "running_mean", "running_var"):
        assert torch.equal(getattr(norm, key), getattr(model[3], key)[cols]), key
    assert int(small[3].num_batches_tracked) == 5
    assert (norm.eps, norm.momentum) == (model[3].eps, model[3].momentum)
    assert (small[4].in_features, small[4].out_features) == (128, 10)
    assert torch.equal(small[4].weight, model[4].weight[:, cols])
    # the original with the dropped channels zeroed, and their features' BN weight and
    # bias zeroed too (so those features leave the BN as exactly 0)
    drop = [c for c in range(4) if c not in kept]
    drop_cols = [64 * c + j for c in drop for j in range(64)]
    masked = copy.deepcopy(model)
    with torch.no_grad():
        masked[0].weight[drop] = 0.0
        masked[0].bias[drop] = 0.0
        masked[3].weight[drop_cols] = 0.0
        masked[3].bias[drop_cols] = 0.0
    x = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        got, expected, unmasked = small(x), masked.eval()(x), model(x)
    assert got.shape == (5, 10)
    assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(got, unmasked, atol=1e-3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("build", [lambda: _seeded(make_cnn(8)), _bn_after_flatten, _bn_cnn])
def test_shrink_follows_a_cuda_model(build: Any) -> None:
    model = build()
    on_cpu = shrink(model, 0.5).eval()
    small = shrink(copy.deepcopy(model).cuda(), 0.5).eval()
    assert {t.device.type for t in [*small.parameters(), *small.buffers()]} == {"cuda"}
    shape = (5, 3, 7, 7) if small[0].in_channels == 3 else (5, 1, 8, 8)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.allclose(small(x.cuda()).cpu(), on_cpu(x), atol=1e-4)


@pytest.mark.xfail(
    raises=NotImplementedError,
    strict=True,
    reason="a meta model cannot be shrunk: ln_structured's mask needs torch.nonzero (data-"
    "dependent) and the kept weights are copied out of the source, which a meta tensor "
    "cannot give; the new layers are built on the source's device, so CUDA works",
)
def test_shrink_on_the_meta_device_keeps_the_result_there() -> None:
    small = shrink(_bn_after_flatten().to("meta"), 0.5)
    assert {t.device.type for t in [*small.parameters(), *small.buffers()]} == {"meta"}
