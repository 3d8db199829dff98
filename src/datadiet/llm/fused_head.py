"""Scores from a fused LM head: per-token log-probabilities instead of logits.

TRL's ``SFTTrainer`` trains a causal LM through a fused LM head (``model(..., fused_lm_head=True)``)
that projects the hidden states onto the vocabulary in tiles and returns, for every position, the
log-probability of the next gold token (``log_probs``, ``(B, T - 1)``) without ever building the
``(B, T, V)`` logits. :class:`FusedLMHeadAdapter` reads these into
:class:`~datadiet.scores.inputs.ScoreInputs` ``token_logprobs``, so the scores that need only the
gold tokens' probabilities (:data:`FUSED_HEAD_SCORES`) come free with the training step; outputs
with logits (a scoring pass) are read as usual.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch

from datadiet.adapters import CAUSAL_LM, TaskAdapter
from datadiet.scores.inputs import IGNORE_INDEX, ScoreInputs
from datadiet.scores.lm import GOLD_LOGPROB_SCORES

__all__ = ["FUSED_HEAD_SCORES", "FusedLMHeadAdapter"]

FUSED_HEAD_SCORES = GOLD_LOGPROB_SCORES
"""The registered scores computed from gold-token log-probabilities alone (no logits)."""


def _field(outputs: Any, name: str):
    if isinstance(outputs, Mapping):
        return outputs.get(name)
    return getattr(outputs, name, None)


@dataclass(frozen=True)
class FusedLMHeadAdapter(TaskAdapter):
    """The causal-LM adapter, reading a fused LM head's ``log_probs`` when the outputs have them."""

    task: str = CAUSAL_LM

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.task != CAUSAL_LM:
            raise ValueError(f"a fused LM head belongs to a causal LM, not a {self.task} model")

    def _shifted(self, outputs: Any, batch: Mapping[str, torch.Tensor]):
        log_probs = _field(outputs, "log_probs")
        if log_probs is None:
            return None
        labels = batch["labels"][:, 1:]
        if tuple(log_probs.shape) != tuple(labels.shape):
            raise ValueError(
                f"the fused LM head returned log_probs of shape {tuple(log_probs.shape)} for labels "
                f"{tuple(batch['labels'].shape)}: expected one per next-token label ({tuple(labels.shape)}); "
                "pre-shifted labels (sequence parallelism) and prompt-learning adapters are not supported"
            )
        return log_probs, labels

    def score_inputs(self, outputs: Any, batch: Mapping[str, torch.Tensor],
                     captured: Mapping[str, torch.Tensor] | None = None) -> ScoreInputs:
        """``token_logprobs = log_probs``, ``token_labels = labels[:, 1:]`` (``action_ids[:, 1:]``) and,
        where the head computed it (``is_top1``), ``token_is_argmax``, from fused outputs (with it the
        training steps record the data map's confidence and correctness); the usual causal-LM inputs
        from outputs with logits."""
        shifted = self._shifted(outputs, batch)
        if shifted is None:
            return super().score_inputs(outputs, batch, captured)
        log_probs, labels = shifted
        actions = batch.get("action_ids")
        is_top1 = _field(outputs, "is_top1")  # TRL's SFTTrainer asks its fused head for it (token accuracy)
        if is_top1 is not None and tuple(is_top1.shape) != tuple(labels.shape):
            is_top1 = None
        return ScoreInputs(token_labels=labels, token_logprobs=log_probs,
                           token_is_argmax=None if is_top1 is None else is_top1.bool(),
                           action_ids=None if actions is None else actions[:, 1:]).detach()

    def per_example_loss(self, outputs: Any, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Differentiable mean NLL over each example's labelled tokens (as the base adapter's)."""
        shifted = self._shifted(outputs, batch)
        if shifted is None:
            return super().per_example_loss(outputs, batch)
        log_probs, labels = shifted
        valid = labels != IGNORE_INDEX
        return -(log_probs.float() * valid).sum(-1) / valid.sum(-1).clamp(min=1)
