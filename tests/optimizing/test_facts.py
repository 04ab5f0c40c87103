"""Facts read off a model: parameters, zeros, weight dtypes, quantized layers, saved size
and the dtype it computes in, on fp32, pruned and (dynamic and FX static) int8 models."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from wattwise.optimizing.facts import ModelFacts, compute_dtype, model_facts, size_bytes
from wattwise.optimizing.measure import quiet_quantized
from wattwise.tuning.digits import make_cnn

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402


def _mlp(width: int = 5) -> Any:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(10, width), nn.ReLU(), nn.Linear(width, 2)).eval()


def _engine() -> str:
    engine = str(torch.backends.quantized.engine)
    return engine if engine in ("x86", "fbgemm", "qnnpack", "onednn") else "x86"


@pytest.fixture(scope="module")
def static_cnn() -> tuple[Any, Any]:
    """The digits CNN (width 4) and its FX static int8 version, calibrated on 32 inputs."""
    torch.manual_seed(1)
    model = make_cnn(4).eval()
    x = torch.randn(32, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    with quiet_quantized():
        from torch.ao.quantization import get_default_qconfig_mapping
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

        prepared = prepare_fx(
            copy.deepcopy(model), get_default_qconfig_mapping(_engine()), example_inputs=(x[:1],)
        )
        with torch.inference_mode():
            prepared(x)
        quantized = convert_fx(prepared)
    return model, quantized


def _dynamic(model: Any) -> Any:
    with quiet_quantized():
        from torch.ao import quantization

        quantize_dynamic: Any = quantization.quantize_dynamic
        return quantize_dynamic(copy.deepcopy(model), {nn.Linear}, dtype=torch.qint8)


# -- fp32 -------------------------------------------------------------------------------


def test_fp32_model_facts() -> None:
    model = _mlp()
    facts = model_facts(model)
    assert isinstance(facts, ModelFacts)
    numel = sum(int(p.numel()) for p in model.parameters())
    assert numel == 10 * 5 + 5 + 5 * 2 + 2
    assert facts.parameters == numel
    assert facts.nonzero == numel  # random weights: no exact zero
    assert facts.sparsity == 0.0
    assert facts.weight_dtypes == {"float32": 2}  # weights only, not biases
    assert facts.quantized_layers == 0
    assert facts.weights_text() == "float32 ×2"


def test_size_bytes_is_the_saved_state_dict() -> None:
    small, big = _mlp(5), _mlp(500)
    n_small = sum(int(p.numel()) for p in small.parameters())
    n_big = sum(int(p.numel()) for p in big.parameters())
    for model, n in ((small, n_small), (big, n_big)):
        facts = model_facts(model)
        assert facts.size_bytes == size_bytes(model)
        # 4 bytes per float32 element plus the zip container's overhead (a few KiB)
        assert 4 * n < facts.size_bytes < 4 * n + 4096
    # the overhead is fixed: 100× more parameters cost ~4 bytes each more
    grew = model_facts(big).size_bytes - model_facts(small).size_bytes
    assert grew == pytest.approx(4 * (n_big - n_small), rel=0.05)


def test_exact_zeros_are_counted() -> None:
    model = _mlp()
    with torch.no_grad():
        model[0].weight[0] = 0.0  # 10 zeros
        model[2].bias[1] = 0.0  # 1 zero
    facts = model_facts(model)
    assert facts.parameters == 67
    assert facts.nonzero == 67 - 11
    assert facts.sparsity == pytest.approx(11 / 67)


def test_tied_weights_are_counted_once() -> None:
    first, second = nn.Linear(4, 4), nn.Linear(4, 4, bias=False)
    second.weight = first.weight
    facts = model_facts(nn.Sequential(first, second))
    assert facts.parameters == 16 + 4
    assert facts.weight_dtypes == {"float32": 1}


def test_buffers_are_not_parameters() -> None:
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3))
    facts = model_facts(model)
    # conv 27 + 3, BN weight 3 + bias 3; running stats are buffers
    assert facts.parameters == 27 + 3 + 3 + 3
    assert facts.weight_dtypes == {"float32": 2}


def test_an_empty_model() -> None:
    facts = model_facts(nn.Sequential(nn.ReLU()))
    assert (facts.parameters, facts.nonzero, facts.weight_dtypes) == (0, 0, {})
    assert facts.sparsity == 0.0
    assert facts.weights_text() == ""


def test_other_float_dtypes_are_named() -> None:
    facts = model_facts(_mlp().double())
    assert facts.weight_dtypes == {"float64": 2}
    half = model_facts(_mlp().to(torch.bfloat16))
    assert half.weight_dtypes == {"bfloat16": 2}
    assert half.size_bytes < model_facts(_mlp()).size_bytes


# -- pruned -----------------------------------------------------------------------------


def test_magnitude_pruned_model_shows_its_sparsity() -> None:
    from torch.nn.utils import prune as _prune

    prune: Any = _prune

    model = _mlp()
    prune.l1_unstructured(model[0], "weight", amount=0.5)  # 25 of 50 weights
    prune.l1_unstructured(model[2], "weight", amount=0.3)  # round(0.3 × 10) = 3 of 10
    prune.remove(model[0], "weight")
    prune.remove(model[2], "weight")
    facts = model_facts(model)
    assert facts.parameters == 67
    assert facts.nonzero == 67 - 25 - 3
    assert facts.sparsity == pytest.approx(28 / 67)
    assert facts.weight_dtypes == {"float32": 2}
    # dense storage: the zeros still take their room
    assert facts.size_bytes == model_facts(_mlp()).size_bytes


def test_global_pruning_sparsity() -> None:
    from torch.nn.utils import prune as _prune

    prune: Any = _prune

    model = make_cnn(8)
    layers = [(m, "weight") for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]
    prune.global_unstructured(layers, pruning_method=prune.L1Unstructured, amount=0.6)
    for module, name in layers:
        prune.remove(module, name)
    weights = sum(int(m.weight.numel()) for m, _ in layers)
    facts = model_facts(model)
    assert facts.parameters - facts.nonzero == round(0.6 * weights)


# -- quantized --------------------------------------------------------------------------


def test_dynamic_int8_weights_are_counted() -> None:
    model = _mlp()
    q = _dynamic(model)
    facts = model_facts(q)
    assert facts.quantized_layers == 2
    assert facts.weight_dtypes == {"qint8": 2}
    assert facts.weights_text() == "qint8 ×2"
    assert facts.parameters == model_facts(model).parameters  # counted by element
    assert 0 < facts.nonzero <= facts.parameters


def test_every_quantized_layer_is_counted_in_a_deep_model() -> None:
    # quantized modules hand out a fresh tensor from weight()/bias() on each call: each
    # of the 20 layers must count once, however often the facts are read
    torch.manual_seed(0)
    model = nn.Sequential(*[nn.Linear(8, 8) for _ in range(20)]).eval()
    q = _dynamic(model)
    for _ in range(3):
        facts = model_facts(q)
        assert facts.quantized_layers == 20
        assert facts.weight_dtypes == {"qint8": 20}
        assert facts.parameters == 20 * (64 + 8)


def test_dynamic_int8_of_a_pruned_model_keeps_its_zeros() -> None:
    from torch.nn.utils import prune as _prune

    prune: Any = _prune

    model = _mlp()
    prune.l1_unstructured(model[0], "weight", amount=0.5)
    prune.remove(model[0], "weight")
    facts = model_facts(_dynamic(model))
    # a quantized zero is zero: at least the 25 pruned weights
    assert facts.parameters - facts.nonzero >= 25


def test_dynamic_int8_is_smaller_on_disk() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 256)).eval()
    fp32, int8 = model_facts(model), model_facts(_dynamic(model))
    # 131,072 weights: 4 bytes → 1 byte each (the 512 biases stay float)
    assert int8.size_bytes < 0.3 * fp32.size_bytes


def test_dynamic_quantization_leaves_other_layers_float() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 6 * 6, 3)).eval()
    facts = model_facts(_dynamic(model))
    assert facts.quantized_layers == 1
    assert facts.weight_dtypes == {"qint8": 1, "float32": 1}
    assert facts.weights_text() == "float32 ×1, qint8 ×1"


def test_fx_static_int8_facts(static_cnn: tuple[Any, Any]) -> None:
    model, quantized = static_cnn
    fp32 = model_facts(model)
    facts = model_facts(quantized)
    # two fused conv+ReLU and the linear layer
    assert facts.quantized_layers == 3
    assert facts.weight_dtypes == {"qint8": 3}
    assert facts.parameters == fp32.parameters == 40 + 148 + 650
    assert 0 < facts.nonzero <= facts.parameters
    assert facts.size_bytes > 0


def test_compute_dtype_of_quantized_models(static_cnn: tuple[Any, Any]) -> None:
    _model, quantized = static_cnn
    x = torch.randn(4, 1, 8, 8)
    with quiet_quantized():
        assert compute_dtype(quantized, x) == "quint8"
        # dynamic quantization computes in float (activations quantized on the fly)
        assert compute_dtype(_dynamic(_mlp()), torch.randn(3, 10)) == "float32"


# -- compute dtype ------------------------------------------------------------------------


def test_compute_dtype_plain_and_under_autocast() -> None:
    model, x = _mlp(), torch.randn(3, 10)
    assert compute_dtype(model, x) == "float32"
    assert compute_dtype(model, x, "bfloat16") == "bfloat16"
    assert compute_dtype(model, x, None) == "float32"
    assert compute_dtype(model.double(), x.double()) == "float64"


def test_compute_dtype_of_a_cnn_under_autocast() -> None:
    model = make_cnn(4)
    x = torch.randn(2, 1, 8, 8)
    assert compute_dtype(model, x) == "float32"
    assert compute_dtype(model, x, "bfloat16") == "bfloat16"


def test_compute_dtype_leaves_no_hooks_and_sets_eval() -> None:
    model = nn.Sequential(nn.Linear(10, 4), nn.Dropout(0.5)).train()
    compute_dtype(model, torch.randn(2, 10), "bfloat16")
    assert not model.training
    assert all(not m._forward_hooks for m in model.modules())
    assert model(torch.randn(2, 10)).dtype == torch.float32  # autocast did not stick


def test_compute_dtype_of_a_model_without_parameters() -> None:
    assert compute_dtype(nn.Sequential(nn.ReLU()), torch.randn(2, 3)) == "unknown"
