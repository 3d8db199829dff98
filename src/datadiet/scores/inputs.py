"""What a score function receives: the model outputs of one batch, in a task-neutral shape.

A task adapter (:mod:`datadiet.adapters`) turns a model's output and its batch into a
:class:`ScoreInputs`; every score in :mod:`datadiet.scores` reads only these fields. A field a task
does not produce stays ``None``, and a score that needs it says so through ``Score.requires``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

IGNORE_INDEX = -100
"""Label value that marks a position no score (and no loss) looks at, as in Hugging Face."""


@dataclass
class ScoreInputs:
    """Per-batch model outputs that scores are computed from (B = batch size).

    Attributes:
        logits: ``(B, C)`` sequence-level logits (classification, or the intent head of a joint model).
        labels: ``(B,)`` gold class ids for ``logits``; ``-100`` marks an example without a label.
        token_logits: ``(B, T, C)`` per-token logits (slot head, token classifier, or a causal LM's
            logits already shifted so that position t predicts ``token_labels[:, t]``).
        token_labels: ``(B, T)`` gold ids per token; ``-100`` marks padding, special tokens,
            non-first sub-words and (causal LM) prompt tokens.
        action_ids: ``(B, T)`` causal LM only, aligned with ``token_labels``: the index (0, 1, ...)
            of the solution action (step) each token belongs to, ``-1`` for tokens in no action.
        features: ``(B, d)`` pooled hidden states, used as diversity features (DPP).
        head_inputs: ``(B, h)`` the input of the sequence-level classification head (its last
            linear layer), for last-layer gradient scores; given only on request.
        token_logprobs: ``(B, T)`` causal LM only, aligned with ``token_labels``: the log-probability
            of each gold token (0 where ignored), from a model whose fused LM head returns these
            instead of ``token_logits`` (TRL's ``SFTTrainer``), or from a scoring pass that applied
            the LM head at the labelled positions only (:mod:`datadiet.labelled_head`).
        token_is_argmax: ``(B, T)`` bool beside ``token_logprobs``: the gold token is the model's
            top prediction (False where ignored); with ``token_logprobs`` what training dynamics
            need when no logits are kept.
    """

    logits: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    token_logits: torch.Tensor | None = None
    token_labels: torch.Tensor | None = None
    action_ids: torch.Tensor | None = None
    features: torch.Tensor | None = None
    head_inputs: torch.Tensor | None = None
    token_logprobs: torch.Tensor | None = None
    token_is_argmax: torch.Tensor | None = None

    def available(self) -> set[str]:
        """Names of the fields that are set."""
        return {f.name for f in fields(self) if getattr(self, f.name) is not None}

    def detach(self) -> "ScoreInputs":
        """A copy whose tensors are detached from the autograd graph (scores never backpropagate)."""
        return ScoreInputs(
            **{
                f.name: (getattr(self, f.name).detach() if getattr(self, f.name) is not None else None)
                for f in fields(self)
            }
        )
