"""token_nll (the causal-LM default score) and gold log-probs read from logits or a fused head."""

import doctest

import pytest
import torch
import torch.nn.functional as F

import datadiet.llm.token_actions as token_actions_module
import datadiet.scores.lm as lm_module
from datadiet.adapters import CAUSAL_LM, TaskAdapter
from datadiet.scores import get_score
from datadiet.scores.inputs import ScoreInputs
from datadiet.scores.lm import labelled_token_logprobs, token_nll
from datadiet.scores.policy import policy_difficulty


def batch(seed=0, b=3, t=7, v=11):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, t, v, generator=g)
    labels = torch.randint(0, v, (b, t), generator=g)
    labels[0, :3] = -100
    labels[1, 5:] = -100
    labels[2] = -100  # nothing to learn: scores 0
    return logits, labels


def test_token_nll_is_the_mean_cross_entropy_of_the_labelled_tokens():
    logits, labels = batch()
    got = token_nll(ScoreInputs(token_logits=logits, token_labels=labels))
    for i in range(2):
        valid = labels[i] != -100
        want = F.cross_entropy(logits[i][valid], labels[i][valid])  # brute force, per example
        assert got[i].item() == pytest.approx(want.item(), rel=1e-5)
    assert got[2].item() == 0.0


def test_gold_logprobs_from_logits_or_from_a_fused_head_agree():
    logits, labels = batch(1)
    gold = torch.log_softmax(logits, -1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    gold = gold.masked_fill(labels == -100, 0.0)  # what a fused head returns
    actions = (labels % 2).masked_fill(labels == -100, -1)
    from_logits = ScoreInputs(token_logits=logits, token_labels=labels, action_ids=actions)
    from_head = ScoreInputs(token_logprobs=gold, token_labels=labels, action_ids=from_logits.action_ids)
    for a, b in zip(labelled_token_logprobs(from_logits), labelled_token_logprobs(from_head)):
        torch.testing.assert_close(a.float(), b.float(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(token_nll(from_logits), token_nll(from_head), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(policy_difficulty(from_logits), policy_difficulty(from_head), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="token_logprobs"):
        token_nll(ScoreInputs(token_labels=labels))


def test_token_nll_is_the_causal_lm_default_and_needs_no_actions():
    adapter = TaskAdapter(CAUSAL_LM)
    assert adapter.default_score == "token_nll"
    score = get_score("token_nll")
    adapter.check_supports(score)
    assert "action_ids" not in score.requires


def test_docstring_examples():
    assert doctest.testmod(lm_module).failed == 0
    assert doctest.testmod(token_actions_module).failed == 0
