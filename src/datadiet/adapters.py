"""Task adapters: turn a model's output and its batch into the :class:`ScoreInputs` scores read.

Four tasks are built in: sequence classification, token classification, joint intent + slot, and
causal LM. A model can name its task with a ``datadiet_task`` attribute; otherwise the adapter is
inferred from its Hugging Face architecture name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch
import torch.nn.functional as F

from datadiet.scores.inputs import IGNORE_INDEX, ScoreInputs

SEQUENCE, TOKEN, JOINT, CAUSAL_LM = "sequence_classification", "token_classification", "joint_intent_slot", "causal_lm"
TASKS = (SEQUENCE, TOKEN, JOINT, CAUSAL_LM)

DEFAULT_SCORE = {SEQUENCE: "el2n", TOKEN: "token_el2n", JOINT: "joint_el2n", CAUSAL_LM: "token_nll"}

PROVIDES = {
    SEQUENCE: ("logits", "labels", "features"),
    TOKEN: ("token_logits", "token_labels", "features"),
    JOINT: ("logits", "labels", "token_logits", "token_labels", "features"),
    CAUSAL_LM: ("token_logits", "token_labels", "action_ids", "features"),
}
"""The ``ScoreInputs`` fields each task's adapter can fill (``action_ids`` if the batch has them)."""


def _get(outputs: Any, name: str):
    if isinstance(outputs, Mapping):
        return outputs.get(name)
    return getattr(outputs, name, None)


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """``(B, h)`` mean of ``hidden`` ``(B, T, h)`` over the tokens the attention mask keeps (all
    tokens without a mask)."""
    if attention_mask is None:
        return hidden.mean(1)
    m = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1)


def _pooled_features(outputs: Any, batch: Mapping[str, torch.Tensor], task: str) -> torch.Tensor | None:
    """Diversity features: the model's ``pooled`` output if it has one, else its last hidden state
    at the first token (an encoder's [CLS]) or, for a causal LM, whose first token sees nothing of
    the example, averaged over the attended tokens."""
    pooled = _get(outputs, "pooled")
    if pooled is not None:
        return pooled
    hidden = _get(outputs, "hidden_states")
    if hidden is None:
        return None
    if task == CAUSAL_LM:
        return mean_pool(hidden[-1], batch.get("attention_mask"))
    return hidden[-1][:, 0]


def causal_lm_score_inputs(
    logits: torch.Tensor | None,
    labels: torch.Tensor | None,
    action_ids: torch.Tensor | None = None,
    features: torch.Tensor | None = None,
) -> ScoreInputs:
    """Shift a causal LM's outputs into :class:`~datadiet.scores.inputs.ScoreInputs`.

    ``logits[:, t]`` predicts token ``t + 1``, so ``token_logits = logits[:, :-1]`` (a view, no
    copy), ``token_labels = labels[:, 1:]`` and ``action_ids = action_ids[:, 1:]``.
    """
    return ScoreInputs(
        token_logits=None if logits is None else logits[:, :-1],
        token_labels=None if labels is None else labels[:, 1:],
        action_ids=None if action_ids is None else action_ids[:, 1:],
        features=features,
    )


@dataclass(frozen=True)
class TaskAdapter:
    """Reads one task's outputs. ``task`` is one of :data:`TASKS`."""

    task: str

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; valid tasks: {', '.join(TASKS)}")

    @property
    def default_score(self) -> str:
        return DEFAULT_SCORE[self.task]

    def check_supports(self, score) -> None:
        """Raise at set-up if this task's outputs can never give what ``score`` needs."""
        missing = [r for r in score.requires if r not in PROVIDES[self.task]]
        if missing:
            fits = sorted(name for name, s in _registered().items() if set(s.requires) <= set(PROVIDES[self.task]))
            raise ValueError(
                f"score {score.name!r} needs {', '.join(missing)}, which a {self.task} model does not output; "
                f"scores that fit this task: {', '.join(fits)}"
            )

    def score_inputs(self, outputs: Any, batch: Mapping[str, torch.Tensor]) -> ScoreInputs:
        """Detached score inputs of one batch."""
        if self.task == JOINT:
            inp = ScoreInputs(
                logits=_get(outputs, "intent_logits"), labels=batch.get("intent_labels"),
                token_logits=_get(outputs, "slot_logits"), token_labels=batch.get("slot_labels"),
            )
        elif self.task == SEQUENCE:
            inp = ScoreInputs(logits=_get(outputs, "logits"), labels=batch.get("labels"))
        elif self.task == TOKEN:
            inp = ScoreInputs(token_logits=_get(outputs, "logits"), token_labels=batch.get("labels"))
        else:
            inp = causal_lm_score_inputs(_get(outputs, "logits"), batch.get("labels"), batch.get("action_ids"))
        inp.features = _pooled_features(outputs, batch, self.task)
        return inp.detach()

    def per_example_loss(self, outputs: Any, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Differentiable per-example training loss, for loss weights (InfoBatch's rescaling).

        Sequence: CE; token / causal LM: mean CE over valid tokens; joint: 0.5 CE_intent +
        0.5 mean_t CE_slot. The batch mean of these equals the model's own loss up to how tokens
        are averaged (per example here, per batch in most models).
        """
        def token_mean_ce(logits, labels):
            ce = F.cross_entropy(logits.float().transpose(1, 2), labels.long(), ignore_index=IGNORE_INDEX, reduction="none")
            return ce.sum(-1) / (labels != IGNORE_INDEX).sum(-1).clamp(min=1)

        if self.task == JOINT:
            intent = F.cross_entropy(_get(outputs, "intent_logits").float(), batch["intent_labels"].long(), reduction="none")
            return 0.5 * intent + 0.5 * token_mean_ce(_get(outputs, "slot_logits"), batch["slot_labels"])
        logits = _get(outputs, "logits")
        if self.task == SEQUENCE:
            return F.cross_entropy(logits.float(), batch["labels"].long(), ignore_index=IGNORE_INDEX, reduction="none")
        if self.task == TOKEN:
            return token_mean_ce(logits, batch["labels"])
        return token_mean_ce(logits[:, :-1], batch["labels"][:, 1:])


def _registered():
    from datadiet.scores.registry import _SCORES

    return _SCORES


def infer_task(model: Any) -> str:
    """The task of a model: its ``datadiet_task`` attribute, else its architecture's name."""
    base = getattr(model, "module", model)  # DDP / accelerate wrappers
    task = getattr(base, "datadiet_task", None)
    if task is not None:
        return task
    names = [type(base).__name__]
    config = getattr(base, "config", None)
    names += list(getattr(config, "architectures", None) or [])
    for name in names:
        if name.endswith("ForSequenceClassification"):
            return SEQUENCE
        if name.endswith("ForTokenClassification"):
            return TOKEN
        if name.endswith("ForCausalLM") or name.endswith("LMHeadModel"):
            return CAUSAL_LM
    raise ValueError(
        f"cannot tell the task of a {type(base).__name__}; pass task= one of {', '.join(TASKS)} "
        "or give the model a `datadiet_task` attribute"
    )
