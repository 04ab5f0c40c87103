from __future__ import annotations

import pytest

from wattwise.hardware import find_cpu, find_gpu, normalise_model


@pytest.mark.parametrize(
    ("model", "name", "tdp"),
    [
        ("Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz", "Intel Xeon Gold 6130", 125.0),
        ("AMD EPYC 7763 64-Core Processor", "AMD EPYC 7763", 280.0),
        ("Intel(R) Core(TM) i7-12700K", "Intel Core i7-12700K", 190.0),
        ("AMD Ryzen 9 5950X 16-Core Processor", "AMD Ryzen 9 5950X", 105.0),
    ],
)
def test_find_cpu(model: str, name: str, tdp: float) -> None:
    spec = find_cpu(model)
    assert spec is not None and spec.name == name and spec.tdp_w == tdp


def test_model_numbers_match_whole() -> None:
    spec = find_cpu("Intel(R) Core(TM) i7-12700 CPU")
    assert spec is None or spec.name.endswith("12700")
    assert find_cpu("Intel(R) Xeon(R) Processor") is None


def test_find_gpu_from_nvml_names() -> None:
    a100 = find_gpu("NVIDIA A100-SXM4-80GB")
    assert a100 is not None and a100.tdp_w == 400.0
    h100 = find_gpu("NVIDIA H100 80GB HBM3")
    assert h100 is not None and h100.name.startswith("H100")
    assert find_gpu("Matrox G200") is None


def test_normalise() -> None:
    assert normalise_model("Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz") == (
        "intel",
        "xeon",
        "gold",
        "6130",
    )
