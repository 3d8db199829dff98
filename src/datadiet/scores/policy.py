"""Policy-driven difficulty of a causal LM on (prompt, solution) pairs (P3, arXiv 2408.05541).

The solution y is split into actions ``a_1..a_m`` (by default its non-empty lines, see
:mod:`datadiet.llm.actions`). Under teacher forcing, conditioned on the prompt x and the gold
earlier actions, an action's probability is the per-token geometric mean
``pi(a_j) = exp(mean_{t in a_j} log p(t | x, a_<j, t_<))`` and the example's difficulty is
``d = 1 - (1/m) sum_j pi(a_j)`` in ``[0, 1]``; an example with no action is infinitely hard.

One teacher-forced forward pass over x + y gives every token's log-probability, so all actions of
all examples in a batch cost one pass. (The paper's code ran one call per action at batch size 1
and prepended a BOS token to each action; here the tokens keep their real context.)
"""

from __future__ import annotations

import numpy as np
import torch

from datadiet.scores.inputs import IGNORE_INDEX, ScoreInputs
from datadiet.scores.lm import labelled_token_logprobs
from datadiet.scores.tokens import gold_token_logprobs

__all__ = [
    "POLICY_REQUIRES",
    "action_probabilities",
    "difficulty_with_trend",
    "gold_token_logprobs",
    "policy_difficulty",
]

POLICY_REQUIRES = ("token_labels", "action_ids")
"""The :class:`~datadiet.scores.inputs.ScoreInputs` fields :func:`policy_difficulty` reads, with
``token_logits`` or ``token_logprobs``."""

def action_probabilities(inputs: ScoreInputs) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-action probability ``pi(a_j) = exp(mean log p)`` for every example and action id.

    Returns:
        ``(pi, present)``, both ``(B, M)`` with ``M = max(action_ids) + 1``: ``pi[b, j]`` (float64,
        0 where absent) and whether action j of example b has at least one scored token. Tokens
        with ``token_labels == -100`` or ``action_ids < 0`` belong to no action.
    """
    labels, actions = inputs.token_labels, inputs.action_ids
    per_token = inputs.token_logprobs if inputs.token_logprobs is not None else inputs.token_logits
    if per_token is None or labels is None or actions is None:
        raise ValueError("policy difficulty needs token_logits (or token_logprobs), token_labels and action_ids")
    if actions.shape != labels.shape or per_token.shape[:2] != labels.shape:
        raise ValueError(
            f"token_logits / token_logprobs {tuple(per_token.shape)}, token_labels {tuple(labels.shape)} and "
            f"action_ids {tuple(actions.shape)} must agree on (batch, time)"
        )
    batch = labels.shape[0]
    mask = (labels != IGNORE_INDEX) & (actions >= 0)
    num_actions = int(actions.max().item()) + 1 if actions.numel() and bool(mask.any()) else 0
    device = per_token.device
    if num_actions == 0:
        empty = torch.zeros(batch, 0, dtype=torch.float64, device=device)
        return empty, empty.bool()
    rows, cols, logp = labelled_token_logprobs(inputs, mask)
    key = rows * num_actions + actions[rows, cols].long()  # segment id (example, action)
    sums = torch.zeros(batch * num_actions, dtype=torch.float64, device=device)
    sums.index_add_(0, key, logp.double())
    counts = torch.bincount(key, minlength=batch * num_actions)
    present = counts > 0
    pi = torch.where(present, torch.exp(sums / counts.clamp(min=1)), torch.zeros_like(sums))
    return pi.view(batch, num_actions), present.view(batch, num_actions)


def policy_difficulty(inputs: ScoreInputs) -> torch.Tensor:
    """P3's policy-driven difficulty ``d = 1 - mean_j pi(a_j)`` per example, ``(B,)`` float32.

    ``inputs.token_logits`` are a causal LM's logits already shifted so that position t predicts
    ``token_labels[:, t]``; ``token_labels`` is ``-100`` on prompt tokens and padding;
    ``action_ids`` gives each solution token's action (``-1``: in no action). The mean is over the
    actions that have at least one scored token (an action cut off entirely by truncation does not
    count); an example with no such action scores ``+inf``. Range otherwise ``[0, 1]``.

    Example:
        >>> import torch
        >>> from datadiet.scores.inputs import ScoreInputs
        >>> logits = torch.zeros(1, 3, 4)                      # uniform: p = 1/4 for every token
        >>> x = ScoreInputs(token_logits=logits, token_labels=torch.tensor([[-100, 1, 2]]),
        ...                 action_ids=torch.tensor([[-1, 0, 1]]))
        >>> policy_difficulty(x)
        tensor([0.7500])
    """
    pi, present = action_probabilities(inputs)
    m = present.sum(-1)
    mean_pi = pi.sum(-1) / m.clamp(min=1)
    d = torch.where(m > 0, 1.0 - mean_pi, torch.full_like(mean_pi, float("inf")))
    return d.float()


def difficulty_with_trend(d_now, d_prev, alpha: float = 0.1):
    """P3's optional trend term ``d' = d_now + alpha (d_now - d_prev)``.

    An example whose difficulty rose since the last scoring (the model is forgetting it) gets
    harder still, one whose difficulty fell gets easier. Where there is no usable previous value
    (``d_prev`` is ``None``, NaN or infinite) or the current one is infinite, ``d_now`` is
    returned unchanged. Works on numpy arrays (returns float64) and torch tensors (same dtype and
    device as ``d_now``); pure.

    Example:
        >>> difficulty_with_trend(np.array([0.5, 0.5]), np.array([0.4, np.nan])).round(3).tolist()
        [0.51, 0.5]
    """
    if d_prev is None:
        return d_now.clone() if isinstance(d_now, torch.Tensor) else np.array(d_now, dtype=np.float64)
    if isinstance(d_now, torch.Tensor):
        prev = torch.as_tensor(d_prev, dtype=d_now.dtype, device=d_now.device)
        ok = torch.isfinite(prev) & torch.isfinite(d_now)
        return torch.where(ok, d_now + alpha * (d_now - prev), d_now)
    now = np.asarray(d_now, dtype=np.float64)
    prev = np.asarray(d_prev, dtype=np.float64)
    ok = np.isfinite(prev) & np.isfinite(now)
    with np.errstate(invalid="ignore"):
        return np.where(ok, now + alpha * (now - prev), now)
