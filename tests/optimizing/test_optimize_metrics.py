"""Quality figures of the optimize study: accuracy, softmax, expected calibration error
(checked against hand-computed cases), the seeded noise corruption and ``scores``."""

from __future__ import annotations

import math
from typing import Any

import pytest

from wattwise.exceptions import ConfigError
from wattwise.optimizing.metrics import (
    ECE_BINS,
    NOISE_FRACTION,
    Scores,
    accuracy,
    add_noise,
    default_noise_std,
    expected_calibration_error,
    scores,
    softmax,
)

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

# -- accuracy ---------------------------------------------------------------------------


def test_accuracy_is_the_share_of_matches() -> None:
    assert accuracy([0, 1, 2, 2], [0, 1, 1, 2]) == 0.75
    assert accuracy([3], [3]) == 1.0
    assert accuracy([1, 1], [0, 0]) == 0.0


def test_accuracy_compares_as_integers() -> None:
    assert accuracy([1.0, 2.0], [1, 3]) == 0.5  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("predicted", "labels", "match"),
    [([], [], "no labels"), ([0, 1], [0], "2 predictions for 1 labels"), ([0], [0, 1], "1 pred")],
)
def test_accuracy_refuses_empty_or_mismatched(
    predicted: list[int], labels: list[int], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        accuracy(predicted, labels)


# -- softmax ----------------------------------------------------------------------------


def test_softmax_hand_values() -> None:
    # e^ln3 / (e^0 + e^ln3) = 3/4
    assert softmax([0.0, math.log(3.0)]) == pytest.approx([0.25, 0.75])
    assert softmax([1.0, 1.0, 1.0, 1.0]) == pytest.approx([0.25] * 4)
    # 1, 2, 4 after subtracting ln 4 as the maximum: 1/7, 2/7, 4/7
    assert softmax([0.0, math.log(2.0), math.log(4.0)]) == pytest.approx([1 / 7, 2 / 7, 4 / 7])


def test_softmax_does_not_overflow_on_huge_logits() -> None:
    assert softmax([1000.0, 1000.0]) == pytest.approx([0.5, 0.5])
    probs = softmax([-1000.0, 1000.0])
    assert probs == pytest.approx([0.0, 1.0])
    assert all(math.isfinite(p) for p in probs)


def test_softmax_refuses_an_empty_row() -> None:
    with pytest.raises(ConfigError, match="empty"):
        softmax([])


# -- expected calibration error -----------------------------------------------------------


def _row(conf: float, predicted: int, classes: int = 2) -> list[float]:
    """A probability row whose top class is ``predicted`` with probability ``conf``."""
    rest = (1.0 - conf) / (classes - 1)
    return [conf if k == predicted else rest for k in range(classes)]


def test_ece_four_samples_in_known_bins() -> None:
    # 15 bins, bin k = (k/15, (k+1)/15]:
    #   0.95 → 0.95·15 = 14.25 → bin 14;  0.90 → 13.5 → bin 13;  0.70 → 10.5 → bin 10.
    # bin 14: samples A (0.95, right) and B (0.95, wrong): |1 − 1.90| = 0.90
    # bin 13: sample C (0.90, right): |1 − 0.90| = 0.10
    # bin 10: sample D (0.70, wrong): |0 − 0.70| = 0.70
    # ECE = (0.90 + 0.10 + 0.70) / 4 = 0.425
    probs = [_row(0.95, 0), _row(0.95, 1), _row(0.90, 1), _row(0.70, 0)]
    labels = [0, 0, 1, 1]
    assert expected_calibration_error(probs, labels) == pytest.approx(0.425)


def test_ece_with_three_classes() -> None:
    # A: [0.6, 0.3, 0.1] label 0 → conf 0.6 (bin 8), right
    # B: [0.2, 0.2, 0.6] label 1 → conf 0.6 (bin 8), wrong
    # C: [0.1, 0.8, 0.1] label 1 → conf 0.8 (0.8·15 = 12 → bin 11), right
    # bin 8: |1 − 1.2| = 0.2;  bin 11: |1 − 0.8| = 0.2;  ECE = 0.4 / 3
    probs = [[0.6, 0.3, 0.1], [0.2, 0.2, 0.6], [0.1, 0.8, 0.1]]
    assert expected_calibration_error(probs, [0, 1, 1]) == pytest.approx(0.4 / 3)


def test_ece_is_zero_when_perfectly_calibrated() -> None:
    # four samples at confidence 0.75 (one bin), three right: accuracy 0.75 = confidence
    probs = [_row(0.75, 0)] * 4
    assert expected_calibration_error(probs, [0, 0, 0, 1]) == pytest.approx(0.0, abs=1e-12)
    # two bins, each calibrated: 0.5 with 1 of 2 right, 1.0 with 2 of 2 right
    probs = [_row(0.5, 0), _row(0.5, 0), _row(1.0, 1), _row(1.0, 0)]
    assert expected_calibration_error(probs, [0, 1, 1, 0]) == pytest.approx(0.0, abs=1e-12)


def test_ece_of_overconfident_all_wrong_predictions_is_their_mean_confidence() -> None:
    confs = [0.99, 0.9, 0.8, 0.7, 0.6]
    probs = [_row(c, 0) for c in confs]
    expected = sum(confs) / len(confs)  # every bin has accuracy 0: Σ conf / n
    assert expected_calibration_error(probs, [1] * len(confs)) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("other", "expected"),
    [
        # 0.65·15 = 9.75 → bin 9: 0.6 (bin 8, upper edge) and 0.65 are apart:
        # (|1 − 0.6| + |0 − 0.65|) / 2 = 0.525 (together they would give 0.125)
        (0.65, 0.525),
        # 0.55·15 = 8.25 → bin 8: shares the bin with 0.6:
        # |1 − (0.6 + 0.55)| / 2 = 0.075 (apart they would give 0.475)
        (0.55, 0.075),
    ],
)
def test_ece_confidence_on_a_bin_edge_goes_to_the_lower_bin(other: float, expected: float) -> None:
    # the doc: bin k holds (k/B, (k+1)/B]; 0.6 = 9/15 is the upper edge of bin 8
    probs = [_row(0.6, 0), _row(other, 0)]
    assert expected_calibration_error(probs, [0, 1]) == pytest.approx(expected)


def test_ece_confidence_of_one_is_in_the_last_bin() -> None:
    # 1.0 → bin 14 (1.0·15 − 1), with 0.95 (bin 14): |1 − 1.95| / 2 = 0.475
    probs = [_row(1.0, 0), _row(0.95, 0)]
    assert expected_calibration_error(probs, [0, 1]) == pytest.approx(0.475)
    # a lone right answer at confidence 1 is perfectly calibrated
    assert expected_calibration_error([[0.0, 1.0]], [1]) == 0.0
    assert expected_calibration_error([[0.0, 1.0]], [0]) == 1.0


def test_ece_confidence_zero_goes_to_the_first_bin() -> None:
    # a degenerate all-zero row: confidence 0 in bin 0, predicted class 0 (right): |1 − 0|
    assert expected_calibration_error([[0.0, 0.0]], [0]) == 1.0


def test_ece_with_one_bin_is_accuracy_minus_mean_confidence() -> None:
    confs = [0.95, 0.9, 0.7, 0.55, 0.6]
    predicted = [0, 1, 0, 1, 1]
    labels = [0, 0, 0, 1, 0]
    probs = [_row(c, p) for c, p in zip(confs, predicted, strict=True)]
    acc = accuracy(predicted, labels)  # 3/5
    mean_conf = sum(confs) / len(confs)  # 0.74
    expected = abs(acc - mean_conf)
    assert expected == pytest.approx(0.14)
    assert expected_calibration_error(probs, labels, bins=1) == pytest.approx(expected)
    # 15 bins separate them, and the figure is larger (no cancellation)
    assert expected_calibration_error(probs, labels) > expected


def test_ece_default_bins_are_the_papers_fifteen() -> None:
    assert ECE_BINS == 15
    probs = [_row(c, 0) for c in (0.95, 0.7, 0.52, 0.8)]
    labels = [0, 1, 0, 0]
    assert expected_calibration_error(probs, labels) == expected_calibration_error(
        probs, labels, bins=15
    )
    assert expected_calibration_error(probs, labels) != expected_calibration_error(
        probs, labels, bins=2
    )


def test_ece_ties_count_the_first_top_class_as_predicted() -> None:
    # [0.5, 0.5]: predicted 0 (first maximum), confidence 0.5
    assert expected_calibration_error([[0.5, 0.5]], [0]) == pytest.approx(0.5)
    assert expected_calibration_error([[0.5, 0.5]], [1]) == pytest.approx(0.5)
    assert expected_calibration_error([[0.5, 0.5], [0.5, 0.5]], [0, 1]) == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("probs", "labels", "kwargs", "match"),
    [
        ([], [], {}, "no labels"),
        ([[0.5, 0.5]], [0, 1], {}, "1 predictions for 2 labels"),
        ([[0.5, 0.5], [0.5, 0.5]], [0], {}, "2 predictions for 1 labels"),
        ([[0.5, 0.5]], [0], {"bins": 0}, "bins"),
        ([[0.5, 0.5]], [0], {"bins": -3}, "bins"),
        ([[0.5, 0.5]], [0], {"bins": True}, "bins"),
        ([[0.5, 0.5]], [0], {"bins": 2.0}, "bins"),
        ([[0.5, 0.5]], [2], {}, "label 2 is outside the 2 classes"),
        ([[0.5, 0.5]], [-1], {}, "label -1 is outside"),
        ([[]], [0], {}, "empty"),
        ([[1.5, -0.5]], [0], {}, r"0\.\.1"),
        ([[0.3, -0.2]], [0], {}, r"0\.\.1"),
        ([[2.0, 3.0]], [1], {}, r"0\.\.1"),
        ([[math.nan, 0.5]], [1], {}, r"0\.\.1"),
    ],
)
def test_ece_refuses_bad_input(
    probs: list[list[float]], labels: list[int], kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        expected_calibration_error(probs, labels, **kwargs)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_ece_refuses_non_finite_values_anywhere_in_a_row(bad: float) -> None:
    # NaN and infinities are not probabilities in 0..1, wherever they sit in the row
    for row in ([0.5, bad], [bad, 0.5], [0.2, bad, 0.3]):
        with pytest.raises(ConfigError, match=r"0\.\.1"):
            expected_calibration_error([row], [0])


def test_ece_tolerates_rounding_just_outside_zero_and_one() -> None:
    # softmax sums may exceed 1 by an ulp; within 1e-6 is accepted
    assert expected_calibration_error([[1.0 + 1e-9, -1e-9]], [0]) == pytest.approx(0.0, abs=1e-8)


# -- noise ------------------------------------------------------------------------------


def test_add_noise_is_seeded() -> None:
    x = torch.zeros(4, 3)
    a, b = add_noise(x, 0.5, seed=7), add_noise(x, 0.5, seed=7)
    assert torch.equal(a, b)
    assert not torch.equal(a, add_noise(x, 0.5, seed=8))
    assert not torch.equal(a, x)
    assert add_noise(x, 0.5).shape == x.shape


def test_add_noise_default_seed_is_zero() -> None:
    x = torch.ones(5)
    assert torch.equal(add_noise(x, 0.3), add_noise(x, 0.3, seed=0))


def test_add_noise_of_zero_std_leaves_the_inputs() -> None:
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
    assert torch.equal(add_noise(x, 0.0, seed=3), x)


def test_add_noise_does_not_modify_its_input() -> None:
    x = torch.zeros(10)
    add_noise(x, 1.0)
    assert torch.count_nonzero(x) == 0


def test_added_noise_has_the_requested_std() -> None:
    x = torch.full((200_000,), 3.0)
    noise = add_noise(x, 0.4, seed=11) - x
    # the sample std of 200,000 normal draws is within 1% of the true one (±~0.16%/σ)
    assert float(noise.std()) == pytest.approx(0.4, rel=0.01)
    assert abs(float(noise.mean())) < 0.01


def test_add_noise_keeps_the_dtype() -> None:
    x = torch.zeros(8, dtype=torch.float64)
    out = add_noise(x, 1.0, seed=2)
    assert out.dtype == torch.float64
    # the same draws as a float32 input (noise drawn in float32)
    assert torch.allclose(out.float(), add_noise(torch.zeros(8), 1.0, seed=2))


@pytest.mark.parametrize("std", [-0.1, math.nan, math.inf, -math.inf])
def test_add_noise_refuses_a_bad_std(std: float) -> None:
    with pytest.raises(ConfigError, match="noise_std"):
        add_noise(torch.zeros(2), std)


def test_default_noise_std_is_half_the_inputs_std() -> None:
    assert NOISE_FRACTION == 0.5
    x = torch.tensor([1.0, 3.0])  # sample std (n − 1) = √2
    assert default_noise_std(x) == pytest.approx(0.5 * math.sqrt(2.0))
    ints = torch.tensor([[0, 2], [4, 6]])  # integer inputs (token ids) get no noise
    assert default_noise_std(ints) == 0.0
    with pytest.raises(ConfigError, match="floating-point"):
        add_noise(ints, 0.5)


# -- scores on a hand-built model ---------------------------------------------------------

L3, L9 = math.log(3.0), math.log(9.0)


def _identity_model(dropout: bool = False) -> Any:
    """Logits = inputs: a 2→2 Linear with the identity weight and no bias."""
    linear = nn.Linear(2, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.eye(2))
        linear.bias.zero_()
    return nn.Sequential(linear, nn.Dropout(0.5)) if dropout else nn.Sequential(linear)


# logits → probabilities: [ln3, 0] → 0.75 on class 0; [ln9, 0] → 0.9 on class 0
X = [[L3, 0.0], [0.0, L3], [L9, 0.0], [0.0, L9]]
Y = [0, 0, 0, 1]
# predicted 0, 1, 0, 1 → right, wrong, right, right: accuracy 3/4
# bin 11 (0.75·15 = 11.25): A right, B wrong: |1 − 1.5| = 0.5
# bin 13 (0.9·15 = 13.5):  C, D right:      |2 − 1.8| = 0.2
# ECE = (0.5 + 0.2) / 4 = 0.175
HAND_ECE = 0.175


def test_scores_of_a_known_model() -> None:
    x, y = torch.tensor(X), torch.tensor(Y)
    got = scores(_identity_model(), x, y, noise_std=0.0)
    assert isinstance(got, Scores)
    assert got.accuracy == 0.75
    assert got.ece == pytest.approx(HAND_ECE, abs=1e-6)
    assert got.noise_accuracy == got.accuracy


def test_scores_do_not_depend_on_the_batch_size() -> None:
    x, y = torch.tensor(X), torch.tensor(Y)
    whole = scores(_identity_model(), x, y, noise_std=0.0)
    for batch_size in (1, 3):
        assert scores(_identity_model(), x, y, noise_std=0.0, batch_size=batch_size) == whole


def test_scores_run_the_model_in_eval_mode() -> None:
    model = _identity_model(dropout=True).train()
    x, y = torch.tensor(X), torch.tensor(Y)
    got = scores(model, x, y, noise_std=0.0)
    assert not model.training
    # dropout off: the same figures as without it
    assert got.accuracy == 0.75
    assert got.ece == pytest.approx(HAND_ECE, abs=1e-6)


def test_noise_accuracy_uses_the_seeded_corruption() -> None:
    x = torch.tensor([[0.2, 0.0], [0.0, 0.2]] * 50)
    y = torch.tensor([0, 1] * 50)
    clean = scores(_identity_model(), x, y, noise_std=0.0)
    assert clean.accuracy == 1.0
    for seed in (0, 5):
        noisy = scores(_identity_model(), x, y, noise_std=1.0, seed=seed)
        corrupted = add_noise(x, 1.0, seed=seed)  # logits = inputs
        expected = float((corrupted.argmax(1) == y).float().mean())
        assert noisy.accuracy == 1.0
        assert noisy.noise_accuracy == pytest.approx(expected)
        assert noisy.noise_accuracy is not None
        assert noisy.noise_accuracy < 0.9  # σ = 1 against a 0.2 margin flips many
    assert scores(_identity_model(), x, y, noise_std=1.0, seed=5) != scores(
        _identity_model(), x, y, noise_std=1.0, seed=0
    )


def test_scores_under_bfloat16_autocast() -> None:
    x, y = torch.tensor(X), torch.tensor(Y)
    got = scores(_identity_model(), x, y, noise_std=0.0, autocast="bfloat16")
    assert got.accuracy == 0.75
    # bfloat16 logits are rounded (8 bits of mantissa): the ECE only approximately
    assert got.ece == pytest.approx(HAND_ECE, abs=0.01)


# -- diverged outputs and token inputs ---------------------------------------------------


class _NanWhereFirstAbove(nn.Module):
    """Logits = inputs, except rows whose first input exceeds 0.5: all NaN."""

    def forward(self, x: Any) -> Any:
        return torch.where((x[:, 0] > 0.5)[:, None], torch.full_like(x, math.nan), x)


def test_diverged_rows_count_as_wrong_and_as_uniform_rows_in_the_ece() -> None:
    x = torch.tensor([[0.0, L3], [0.0, L9], [L3, 0.0], [L9, 0.0], [0.4, 0.0]])
    y = torch.tensor([1, 0, 0, 1, 0])
    got = scores(_NanWhereFirstAbove(), x, y, noise_std=0.0)
    # rows 2 and 3 diverge (wrong whatever their label); row 0 right, 1 wrong, 4 right
    assert got.diverged == 2
    assert got.accuracy == pytest.approx(2 / 5)
    assert got.noise_accuracy == pytest.approx(2 / 5)  # σ = 0: the same inputs
    rows = [softmax([0.0, L3]), softmax([0.0, L9]), [0.5, 0.5], [0.5, 0.5], softmax([0.4, 0.0])]
    # a diverged row is never correct, even where its uniform row's first class is the label
    predicted = [1, 1, -1, -1, 0]
    expected = expected_calibration_error(rows, [1, 0, 0, 1, 0], predicted=predicted)
    assert got.ece == pytest.approx(expected, abs=1e-9)
    assert got.ece > expected_calibration_error(rows, [1, 0, 0, 1, 0]) - 1e-9
    assert math.isfinite(got.ece) and 0 <= got.ece <= 1
    # without divergence nothing is counted
    assert scores(_identity_model(), torch.tensor(X), torch.tensor(Y), noise_std=0.0).diverged == 0


class _Bag(nn.Module):
    """Token ids → mean of their embeddings → 3 classes."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(20, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, x: Any) -> Any:
        return self.head(self.embed(x).mean(1))


def test_scores_of_token_inputs_have_no_noise_score() -> None:
    gen = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = _Bag()
    x = torch.randint(0, 20, (30, 5), generator=gen)
    y = torch.randint(0, 3, (30,), generator=gen)
    assert default_noise_std(x) == 0.0
    got = scores(model, x, y, noise_std=0.5, batch_size=7)
    assert got.noise_accuracy is None and got.diverged == 0
    with torch.no_grad():
        logits = model(x)
    assert got.accuracy == pytest.approx(float((logits.argmax(1) == y).float().mean()))
    probs = torch.softmax(logits, 1).tolist()
    assert got.ece == pytest.approx(expected_calibration_error(probs, y.tolist()), abs=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_add_noise_follows_the_inputs_device(dtype: str) -> None:
    x = torch.zeros(4, 3, device="meta", dtype=getattr(torch, dtype))
    out = add_noise(x, 0.5, seed=1)
    assert out.device.type == "meta"
    assert (tuple(out.shape), out.dtype) == ((4, 3), x.dtype)
