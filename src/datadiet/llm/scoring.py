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

from datadiet.adapters import CAUSAL_LM, TaskAdapter
from datadiet.llm.tokenization import CausalLMCollator
from datadiet.scores.inputs import IGNORE_INDEX
from datadiet.scores.registry import get_score
from datadiet.scores.tokens import gold_token_logprobs
from datadiet.scoring_pass import length_buckets, model_device, score_examples

__all__ = ["PolicyScores", "mean_token_nll", "score_policy"]


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


def score_policy(
    model,
    examples: Sequence[dict[str, Any]],
    collator: Callable | None = None,
    *,
    tokenizer=None,
    batch_size: int = 8,
    progress: bool = False,
) -> PolicyScores:
    """P3 scoring pass: policy-driven difficulty and pooled features of every example.

    ``examples`` are :func:`~datadiet.llm.tokenization.tokenize_pair` outputs. This is the
    library's scoring pass (:func:`~datadiet.scoring_pass.score_examples`, the one
    :meth:`DataDiet.p3 <datadiet.diet.DataDiet.p3>` runs) over a plain list: one forward pass
    per length-bucketed batch gives the logits (for
    :func:`~datadiet.scores.policy.policy_difficulty`) and the last hidden state (mean-pooled
    over the attention mask, for the DPP). The model is put in eval mode and restored after.
    """
    if collator is None:
        collator = CausalLMCollator(tokenizer)
    n = len(examples)
    result = score_examples(
        model, examples, np.arange(n), collator, TaskAdapter(CAUSAL_LM), get_score("policy_difficulty"),
        batch_size=batch_size, lengths=_lengths(examples), want_features=True, progress=progress,
    )
    order = np.argsort(result.ids, kind="stable")  # back to input order
    ids = np.array([int(e.get("example_id", i)) for i, e in enumerate(examples)], dtype=np.int64)
    return PolicyScores(result.scores[order], result.features[order], ids, result.seconds)


def _lengths(examples: Sequence[dict[str, Any]]) -> np.ndarray:
    return np.fromiter((len(e["input_ids"]) for e in examples), dtype=np.int64, count=len(examples))


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
    device = model_device(model)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    per_example = np.full(len(examples), np.nan)
    try:
        for idx in length_buckets(np.arange(len(examples)), _lengths(examples), batch_size):
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
