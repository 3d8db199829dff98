"""Each score against values computed by hand."""

import math

import pytest
import torch

from datadiet.scores import ScoreInputs, available_scores, get_score
from datadiet.scores.inputs import IGNORE_INDEX
from datadiet.scores.classification import el2n_errors, margin, true_class_probability

LN3 = math.log(3.0)


def test_el2n_hand_values_and_ignored_label():
    # p = [.5, .5], y = 0 -> ||(-.5, .5)|| = sqrt(.5); p = [.75, .25], y = 1 -> .75 * sqrt(2); y = -100 -> 0
    inputs = ScoreInputs(logits=torch.tensor([[0.0, 0.0], [LN3, 0.0], [5.0, 0.0]]), labels=torch.tensor([0, 1, -100]))
    got = get_score("el2n")(inputs)
    assert torch.allclose(got, torch.tensor([math.sqrt(0.5), 0.75 * math.sqrt(2), 0.0]), atol=1e-6)


def test_el2n_regression_head_is_abs_error_of_sigmoid():
    got = el2n_errors(torch.tensor([[0.0], [LN3]]), torch.tensor([1.0, 0.0]))
    assert torch.allclose(got, torch.tensor([0.5, 0.75]), atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_el2n_errors_read_in_chunks_equal_the_dense_formula(dtype):
    # a (B, T, V) output with ignored positions, read 3 rows at a time, against softmax - one-hot in float64
    g = torch.Generator().manual_seed(0)
    logits = (4 * torch.randn(3, 5, 11, generator=g)).to(dtype)
    labels = torch.randint(0, 11, (3, 5), generator=g)
    labels[0, 1] = labels[2, 4] = IGNORE_INDEX
    labels[1] = IGNORE_INDEX
    dense = torch.linalg.vector_norm(torch.softmax(logits.double(), -1) - torch.nn.functional.one_hot(
        labels.clamp(min=0), 11).double(), dim=-1) * (labels != IGNORE_INDEX)
    got = el2n_errors(logits, labels, chunk_elements=3 * 11)
    assert got.dtype == torch.float32 and got.shape == labels.shape
    assert torch.allclose(got.double(), dense, atol=1e-6)
    assert torch.equal(el2n_errors(logits, labels), got)
    # a near-certain correct prediction keeps its tiny error: p = (e^20, 1, 1) / Z, so
    # ||p - e_0|| = sqrt((2/Z)^2 + 2/Z^2) = sqrt(6)/Z, while 1 - p_0 rounds to 0 in float32
    z = math.exp(20) + 2
    assert el2n_errors(torch.tensor([[20.0, 0.0, 0.0]]), torch.tensor([0])).item() == pytest.approx(
        math.sqrt(6) / z, rel=1e-5)


def _joint_inputs():
    # intent: p=[.75,.25], y=0 -> e_I = .25*sqrt2 ; tokens: t0 p=[.5,.5] y=1 -> sqrt(.5); t1 ignored; t2 p=[.75,.25] y=1 -> .75 sqrt2
    return ScoreInputs(
        logits=torch.tensor([[LN3, 0.0]]), labels=torch.tensor([0]),
        token_logits=torch.tensor([[[0.0, 0.0], [9.0, 0.0], [LN3, 0.0]]]), token_labels=torch.tensor([[1, -100, 1]]),
    )


def test_token_el2n_is_mean_over_valid_tokens():
    expected = (math.sqrt(0.5) + 0.75 * math.sqrt(2)) / 2
    assert get_score("token_el2n")(_joint_inputs()).item() == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("name", ["joint_el2n", "joint_el2n_sum", "joint_el2n_mean"])
def test_joint_el2n_reductions(name):
    e_i, e_t = 0.25 * math.sqrt(2), [math.sqrt(0.5), 0.75 * math.sqrt(2)]
    expected = {
        "joint_el2n": math.sqrt(e_i**2 + sum(e * e for e in e_t)),
        "joint_el2n_sum": e_i + sum(e_t),
        "joint_el2n_mean": (e_i + sum(e_t) / 2) / 2,
    }[name]
    assert get_score(name)(_joint_inputs()).item() == pytest.approx(expected, abs=1e-6)


def test_loss_joint_is_half_intent_plus_half_summed_slot_ce():
    expected = 0.5 * -math.log(0.75) + 0.5 * (-math.log(0.5) - math.log(0.25))
    assert get_score("loss")(_joint_inputs()).item() == pytest.approx(expected, abs=1e-6)


def test_loss_sequence_only_and_entropy_margin():
    inputs = ScoreInputs(logits=torch.tensor([[LN3, 0.0], [0.0, 0.0]]), labels=torch.tensor([1, 0]))
    assert torch.allclose(get_score("loss")(inputs), torch.tensor([-math.log(0.25), math.log(2)]), atol=1e-6)
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert torch.allclose(get_score("entropy")(inputs), torch.tensor([h, math.log(2)]), atol=1e-6)
    assert torch.allclose(margin(inputs.logits, inputs.labels), torch.tensor([-0.5, 0.0]), atol=1e-6)
    assert torch.allclose(get_score("margin")(inputs), torch.tensor([0.5, 0.0]), atol=1e-6)  # higher = harder


def test_margin_three_classes_uses_max_other():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2]]))
    assert margin(logits, torch.tensor([2])).item() == pytest.approx(0.2 - 0.5, abs=1e-6)


def test_true_class_probability_joint():
    conf, correct = true_class_probability(_joint_inputs())
    assert conf.item() == pytest.approx((0.75 + (0.5 + 0.25) / 2) / 2, abs=1e-6)
    assert not correct.item()  # token 2 predicts class 0, gold 1


def test_true_class_probability_tokens_equals_brute_force():
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(4, 6, 9, generator=gen)
    labels = torch.randint(0, 9, (4, 6), generator=gen)
    labels[0, 4:] = IGNORE_INDEX
    labels[2] = IGNORE_INDEX  # nothing to predict: confidence 0, correct
    labels[3] = logits[3].argmax(-1)  # every token right
    conf, correct = true_class_probability(ScoreInputs(token_logits=logits, token_labels=labels))
    for b in range(4):
        valid = labels[b] != IGNORE_INDEX
        probs = torch.softmax(logits[b][valid], -1)
        gold = labels[b][valid]
        want_conf = probs[torch.arange(len(gold)), gold].mean().item() if valid.any() else 0.0
        assert conf[b].item() == pytest.approx(want_conf, abs=1e-6)
        assert bool(correct[b]) == bool((probs.argmax(-1) == gold).all())
    assert correct[2] and correct[3] and not correct[1]


def test_unknown_score_lists_valid_ones_and_missing_inputs_are_named():
    with pytest.raises(ValueError, match="valid scores: .*el2n"):
        get_score("el3n")
    with pytest.raises(ValueError, match="needs token_logits, token_labels"):
        get_score("token_el2n").check_inputs(ScoreInputs(logits=torch.zeros(1, 2), labels=torch.zeros(1)))
    assert "joint_el2n" in available_scores()
