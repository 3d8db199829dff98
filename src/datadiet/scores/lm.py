"""Scores of a causal LM read from its gold-token log-probabilities: the completion's mean NLL.

A causal LM's scores need only ``log p(y_t | y_<t)`` at the labelled positions. These come from
the logits (``token_logits``, read a chunk of rows at a time) or, when the model's fused LM head
never built the logits (TRL's ``SFTTrainer``), straight from ``token_logprobs``:
:func:`labelled_token_logprobs` reads either, so every score here works with both.
"""

from __future__ import annotations

import torch

from datadiet.scores.inputs import IGNORE_INDEX, ScoreInputs
from datadiet.scores.tokens import gold_token_logprobs

__all__ = ["GOLD_LOGPROB_SCORES", "labelled_token_logprobs", "token_nll"]

GOLD_LOGPROB_SCORES = ("token_nll", "policy_difficulty")
"""The registered scores computed from gold-token log-probabilities alone (no logits): what a fused
LM head (TRL) or a scoring pass with the head at the labelled positions only
(:mod:`datadiet.labelled_head`) gives them."""


def labelled_token_logprobs(
    inputs: ScoreInputs, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(rows, cols, logp)`` of the positions in ``mask`` (default: ``token_labels != -100``), in
    row-major order: ``logp`` is the float32 log-probability of the gold token there, from
    ``inputs.token_logprobs`` when set, else from ``inputs.token_logits``."""
    labels = inputs.token_labels
    if labels is None or (inputs.token_logits is None and inputs.token_logprobs is None):
        raise ValueError("gold-token log-probabilities need token_labels and token_logits or token_logprobs")
    source = inputs.token_logprobs if inputs.token_logprobs is not None else inputs.token_logits
    if source.shape[:2] != labels.shape:
        raise ValueError(f"token log-probs / logits {tuple(source.shape)} and token_labels {tuple(labels.shape)} "
                         "must agree on (batch, time)")
    if mask is None:
        mask = labels != IGNORE_INDEX
    if inputs.token_logprobs is None:
        return gold_token_logprobs(inputs.token_logits, labels, mask)
    rows, cols = mask.nonzero(as_tuple=True)
    return rows, cols, inputs.token_logprobs[rows, cols].float()


def token_nll(inputs: ScoreInputs) -> torch.Tensor:
    """Mean negative log-likelihood of an example's labelled tokens, ``(B,)`` float32:
    ``-(1/|y|) sum_t log p(y_t | x, y_<t)`` over the positions whose label is not ``-100`` (the
    completion in supervised fine-tuning). The per-token mean makes long and short answers
    comparable; it is the loss the model trains on, per example. An example with no labelled
    token scores 0 (nothing to learn from it).

    Example:
        >>> import torch
        >>> x = ScoreInputs(token_labels=torch.tensor([[-100, 1, 2]]),
        ...                 token_logprobs=torch.tensor([[0.0, -1.0, -3.0]]))
        >>> token_nll(x)
        tensor([2.])
    """
    rows, _, logp = labelled_token_logprobs(inputs)
    batch = inputs.token_labels.shape[0]
    device = logp.device
    total = torch.zeros(batch, dtype=torch.float32, device=device).index_add_(0, rows, -logp)
    count = torch.bincount(rows, minlength=batch).clamp(min=1)
    return total / count
