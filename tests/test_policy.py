"""Policy-driven difficulty (P3) against a per-example, per-action hand computation."""

import doctest
import math

import numpy as np
import pytest
import torch
from lm_helpers import tiny_causal_lm

import datadiet.scores.policy as policy_module
from datadiet.llm.tokenization import causal_lm_score_inputs
from datadiet.scores.inputs import IGNORE_INDEX, ScoreInputs
from datadiet.scores.policy import POLICY_REQUIRES, difficulty_with_trend, policy_difficulty
from datadiet.scores.tokens import gold_token_logprobs, gold_token_stats
from datadiet.scores.registry import Score

VOCAB = 37


@pytest.fixture(scope="module")
def tiny_lm():
    return tiny_causal_lm(VOCAB, hidden_size=32, layers=2, heads=4).eval()


# Each example: prompt ids, solution ids, the action of each solution token (-1: none).
EXAMPLES = [
    ([1, 5, 6], [7, 8, 9, 10, 11, 12], [0, 0, -1, 1, 1, 1]),
    ([1, 4], [13, 14, 15, 16], [0, 1, 2, 2]),
    ([1, 2, 3, 4, 5], [20, 21, 22], [0, 0, 0]),
    ([1, 9, 9], [30, 31], [-1, -1]),  # no action at all
]


def _batch():
    width = max(len(p) + len(s) for p, s, _ in EXAMPLES)
    ids = torch.zeros(len(EXAMPLES), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    labels = torch.full_like(ids, IGNORE_INDEX)
    actions = torch.full_like(ids, -1)
    for b, (p, s, a) in enumerate(EXAMPLES):
        n = len(p) + len(s)
        ids[b, :n] = torch.tensor(p + s)
        mask[b, :n] = 1
        labels[b, len(p) : n] = torch.tensor(s)
        actions[b, len(p) : n] = torch.tensor(a)
    return ids, mask, labels, actions


def _reference_difficulty(model):
    """One unpadded forward per example; log p per token; pi per action by explicit loops."""
    out = []
    for prompt, solution, acts in EXAMPLES:
        ids = torch.tensor([prompt + solution])
        with torch.no_grad():
            logp = torch.log_softmax(model(ids).logits[0].double(), -1)
        per_action = {}
        for k, (tok, a) in enumerate(zip(solution, acts)):
            if a < 0:
                continue
            pos = len(prompt) + k - 1  # logits at pos predict the token at pos + 1
            per_action.setdefault(a, []).append(logp[pos, tok].item())
        if not per_action:
            out.append(math.inf)
            continue
        pis = [math.exp(sum(v) / len(v)) for v in per_action.values()]
        out.append(1.0 - sum(pis) / len(pis))
    return np.array(out)


def test_policy_difficulty_matches_hand_computation(tiny_lm):
    ids, mask, labels, actions = _batch()
    with torch.no_grad():
        logits = tiny_lm(input_ids=ids, attention_mask=mask).logits
    d = policy_difficulty(causal_lm_score_inputs(logits, labels, actions))
    assert d.shape == (4,) and d.dtype == torch.float32
    want = _reference_difficulty(tiny_lm)
    assert math.isinf(d[3].item()) and d[3].item() > 0
    np.testing.assert_allclose(d[:3].numpy(), want[:3], rtol=1e-4, atol=1e-6)
    assert np.all((d[:3].numpy() > 0) & (d[:3].numpy() < 1))


def test_chunked_token_stats_give_the_same_result(tiny_lm):
    ids, mask, labels, actions = _batch()
    with torch.no_grad():
        logits = tiny_lm(input_ids=ids, attention_mask=mask).logits
    inputs = causal_lm_score_inputs(logits, labels, actions)
    whole = gold_token_stats(inputs.token_logits, inputs.token_labels)
    chunked = gold_token_stats(inputs.token_logits, inputs.token_labels, chunk_elements=2 * VOCAB)  # 2 positions a chunk
    for a, b in zip(whole, chunked):
        torch.testing.assert_close(a, b)


def test_bfloat16_logits_are_scored_in_float32(tiny_lm):
    ids, mask, labels, actions = _batch()
    with torch.no_grad():
        logits = tiny_lm(input_ids=ids, attention_mask=mask).logits
    d32 = policy_difficulty(causal_lm_score_inputs(logits, labels, actions))
    d16 = policy_difficulty(causal_lm_score_inputs(logits.bfloat16(), labels, actions))
    assert d16.dtype == torch.float32
    torch.testing.assert_close(d16[:3], d32[:3], atol=2e-2, rtol=0)


def test_gold_token_stats_equal_log_softmax_and_argmax():
    torch.manual_seed(1)
    logits = torch.randn(2, 5, 11)
    labels = torch.randint(0, 11, (2, 5))
    labels[0, :2] = IGNORE_INDEX
    labels[1, 3] = logits[1, 3].argmax()  # at least one position where the label is the arg-max
    rows, cols, lp, is_argmax = gold_token_stats(logits, labels)
    want = torch.log_softmax(logits, -1)[rows, cols].gather(-1, labels[rows, cols].unsqueeze(-1)).squeeze(-1)
    assert len(rows) == 8
    torch.testing.assert_close(lp, want)
    assert is_argmax.tolist() == [bool(logits[r, c].argmax() == labels[r, c]) for r, c in zip(rows, cols)]
    assert is_argmax.any()
    torch.testing.assert_close(gold_token_logprobs(logits, labels)[2], lp)


def test_hand_numbers_on_fixed_logits():
    # V = 2. Example 0: action 0 has tokens with p = 0.5, 0.5 -> pi = 0.5; action 1 one token
    # with p = sigmoid(2) -> d = 1 - (0.5 + sigmoid(2)) / 2. Example 1: labels all -100 -> inf.
    logits = torch.tensor([[[0.0, 0.0], [0.0, 0.0], [0.0, 2.0]], [[0.0, 0.0]] * 3])
    labels = torch.tensor([[0, 1, 1], [IGNORE_INDEX] * 3])
    actions = torch.tensor([[0, 0, 1], [0, 0, 0]])
    d = policy_difficulty(ScoreInputs(token_logits=logits, token_labels=labels, action_ids=actions))
    s = 1 / (1 + math.exp(-2))
    assert d[0].item() == pytest.approx(1 - (0.5 + s) / 2, abs=1e-6)
    assert d[1].item() == math.inf


def test_long_actions_do_not_underflow():
    # One action of 400 tokens, each with p = 1/10. The product-then-root form of the authors'
    # code underflows (1e-400 is 0 in float64) and would report pi = 0, d = 1; log space gives 0.1.
    T, V = 400, 10
    x = ScoreInputs(token_logits=torch.zeros(1, T, V), token_labels=torch.zeros(1, T, dtype=torch.long),
                    action_ids=torch.zeros(1, T, dtype=torch.long))
    assert policy_difficulty(x).item() == pytest.approx(0.9, abs=1e-6)
    assert torch.prod(torch.full((T,), 0.1, dtype=torch.float64)).item() ** (1 / T) == 0.0


def test_no_action_anywhere_in_the_batch():
    x = ScoreInputs(
        token_logits=torch.zeros(2, 3, 4), token_labels=torch.ones(2, 3, dtype=torch.long),
        action_ids=torch.full((2, 3), -1),
    )
    assert torch.isinf(policy_difficulty(x)).all()


def test_missing_fields_are_reported_by_the_registry_contract():
    score = Score("policy_difficulty", policy_difficulty, POLICY_REQUIRES)
    with pytest.raises(ValueError, match="action_ids"):
        score.check_inputs(ScoreInputs(token_logits=torch.zeros(1, 2, 3), token_labels=torch.zeros(1, 2)))


def test_shape_mismatch_raises():
    x = ScoreInputs(token_logits=torch.zeros(1, 3, 4), token_labels=torch.zeros(1, 3, dtype=torch.long),
                    action_ids=torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="must agree"):
        policy_difficulty(x)


def test_trend_term():
    now = np.array([0.5, 0.5, 0.4, np.inf, 0.3])
    prev = np.array([0.4, 0.6, np.nan, 0.2, np.inf])
    got = difficulty_with_trend(now, prev, alpha=0.1)
    np.testing.assert_allclose(got, [0.51, 0.49, 0.4, np.inf, 0.3])
    t = difficulty_with_trend(torch.tensor(now, dtype=torch.float32), torch.tensor(prev), alpha=0.5)
    assert t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), [0.55, 0.45, 0.4, np.inf, 0.3], rtol=1e-6)
    np.testing.assert_array_equal(difficulty_with_trend(now, None), now)


def test_docstring_examples():
    assert doctest.testmod(policy_module).failed == 0
