"""Forward-only passes over tokenized (prompt, solution) examples: P3 scoring and test NLL.

Both run the model in eval mode under ``torch.inference_mode`` with batches bucketed by length
(examples sorted by token count, so little compute goes to padding), and return results in the
input order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

from datadiet.llm.tokenization import CausalLMCollator, causal_lm_score_inputs
from datadiet.scores.inputs import IGNORE_INDEX
from datadiet.scores.policy import gold_token_logprobs, policy_difficulty

__all__ = ["PolicyScores", "length_buckets", "mean_token_nll", "score_policy"]


@dataclass
class PolicyScores:
    """Result of :func:`score_policy`, aligned with the input examples.

    Attributes:
        difficulty: ``(N,)`` float64 policy-driven difficulty (``+inf``: no action).
        features: ``(N, h)`` float32 mean of the last hidden state over each example's tokens
            (prompt and solution), the default DPP features.
        example_ids: ``(N,)`` int64 ``example_id`` of each example (its position if absent).
        seconds: wall-clock time of the pass.
    """

    difficulty: np.ndarray
    features: np.ndarray
    example_ids: np.ndarray
    seconds: float


def length_buckets(examples: Sequence[dict[str, Any]], batch_size: int) -> list[list[int]]:
    """Batches of example positions, sorted by length (longest first), ``batch_size`` each."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(examples)), key=lambda i: -len(examples[i]["input_ids"]))
    return [order[s : s + batch_size] for s in range(0, len(order), batch_size)]


def _device_of(model) -> torch.device:
    return next(model.parameters()).device


@torch.inference_mode()
def score_policy(
    model,
    examples: Sequence[dict[str, Any]],
    collator: Callable | None = None,
    *,
    tokenizer=None,
    batch_size: int = 8,
) -> PolicyScores:
    """P3 scoring pass: policy-driven difficulty and pooled features of every example.

    ``examples`` are :func:`~datadiet.llm.tokenization.tokenize_pair` outputs. One forward pass
    per batch gives the logits (for :func:`~datadiet.scores.policy.policy_difficulty`) and the
    last hidden state (mean-pooled over the attention mask, for the DPP). The model is put in
    eval mode and restored to its previous mode afterwards.
    """
    import time

    start = time.perf_counter()
    if collator is None:
        collator = CausalLMCollator(tokenizer)
    device = _device_of(model)
    was_training = model.training
    model.eval()
    n = len(examples)
    difficulty = np.empty(n, dtype=np.float64)
    features: np.ndarray | None = None
    try:
        for idx in length_buckets(examples, batch_size):
            batch = collator([examples[i] for i in idx])
            ids = batch["input_ids"].to(device)
            mask = batch["attention_mask"].to(device)
            out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
            hidden = out.hidden_states[-1]
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = ((hidden * m).sum(1) / m.sum(1).clamp(min=1)).float().cpu().numpy()
            inputs = causal_lm_score_inputs(out.logits, batch["labels"].to(device), batch["action_ids"].to(device))
            d = policy_difficulty(inputs).double().cpu().numpy()
            if features is None:
                features = np.empty((n, pooled.shape[1]), dtype=np.float32)
            difficulty[idx] = d
            features[idx] = pooled
    finally:
        model.train(was_training)
    ids = np.array([int(e.get("example_id", i)) for i, e in enumerate(examples)], dtype=np.int64)
    if features is None:
        features = np.zeros((0, 0), dtype=np.float32)
    return PolicyScores(difficulty, features, ids, time.perf_counter() - start)


@torch.inference_mode()
def mean_token_nll(
    model,
    examples: Sequence[dict[str, Any]],
    collator: Callable | None = None,
    *,
    tokenizer=None,
    batch_size: int = 8,
) -> dict[str, Any]:
    """Negative log-likelihood of the labelled tokens (the solutions), teacher-forced.

    Returns ``{"nll": token-weighted mean over all labelled tokens, "tokens": their count,
    "per_example": (N,) mean NLL of each example (NaN if it has no labelled token)}``.
    """
    if collator is None:
        collator = CausalLMCollator(tokenizer)
    device = _device_of(model)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    per_example = np.full(len(examples), np.nan)
    try:
        for idx in length_buckets(examples, batch_size):
            batch = collator([examples[i] for i in idx])
            logits = model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device)).logits
            labels = batch["labels"].to(device)[:, 1:]
            valid = labels != IGNORE_INDEX
            rows, _, logp = gold_token_logprobs(logits[:, :-1], labels, valid)
            sums = torch.zeros(labels.shape[0], dtype=torch.float64, device=device)
            sums.index_add_(0, rows, -logp.double())
            sums = sums.cpu().numpy()
            counts = valid.sum(1).cpu().numpy()
            total += float(sums.sum())
            count += int(counts.sum())
            with np.errstate(invalid="ignore", divide="ignore"):
                per_example[idx] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    finally:
        model.train(was_training)
    return {"nll": total / max(count, 1), "tokens": count, "per_example": per_example}
