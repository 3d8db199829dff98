"""P3's scoring pass over a plain list of tokenized (prompt, solution) examples: policy-driven
difficulty and pooled features, in the input order (the library's scoring pass, bucketed by length).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from datadiet.adapters import CAUSAL_LM, TaskAdapter
from datadiet.llm.tokenization import CausalLMCollator, token_lengths
from datadiet.scores.registry import get_score
from datadiet.scoring_pass import score_examples

__all__ = ["PolicyScores", "score_policy"]


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
        batch_size=batch_size, lengths=token_lengths(examples), want_features=True, progress=progress,
    )
    order = np.argsort(result.ids, kind="stable")  # back to input order
    ids = np.array([int(e.get("example_id", i)) for i, e in enumerate(examples)], dtype=np.int64)
    return PolicyScores(result.scores[order], result.features[order], ids, result.seconds)


