"""Task adapters: turn a model's output and its batch into the :class:`ScoreInputs` scores read.

Four tasks are built in: sequence classification, token classification, joint intent + slot, and
causal LM. A model can name its task with a ``datadiet_task`` attribute; otherwise the adapter is
inferred from its Hugging Face architecture name.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F

from datadiet.scores.inputs import IGNORE_INDEX, ScoreInputs
from datadiet.scores.registry import get_score
from datadiet.validation import UnknownName

SEQUENCE, TOKEN, JOINT, CAUSAL_LM = "sequence_classification", "token_classification", "joint_intent_slot", "causal_lm"

ON_REQUEST = ("features", "head_inputs")
"""``ScoreInputs`` fields a forward pass gives only when asked (hidden states cost memory; the
head's input needs a forward hook), so a score that needs one is computed in scoring passes rather
than free from training."""


def may_be_free(score_name: str) -> bool:
    """Whether training can record the score named ``score_name`` while the task is not yet known:
    ``"auto"`` (each task's default is free) or a score that needs no :data:`ON_REQUEST` field."""
    return score_name == "auto" or not set(get_score(score_name).requires) & set(ON_REQUEST)

HEAD_NAMES = ("classifier", "score", "intent_head")
"""Submodule names of a sequence-level classification head (Hugging Face models and the joint
intent+slot model); the head's input is the input of the last ``nn.Linear`` inside it."""


def head_linear(model: torch.nn.Module) -> torch.nn.Linear:
    """The last linear layer of a model's sequence-level classification head."""
    base = getattr(model, "module", model)
    for name in HEAD_NAMES:
        head = getattr(base, name, None)
        if isinstance(head, torch.nn.Module):
            linears = [m for m in head.modules() if isinstance(m, torch.nn.Linear)]
            if linears:
                return linears[-1]
    raise ValueError(f"cannot find the classification head of a {type(base).__name__}: head_inputs need a "
                     f"submodule named one of {', '.join(HEAD_NAMES)} that holds an nn.Linear")


@contextmanager
def capture_on_request(model: torch.nn.Module, fields: tuple[str, ...]):
    """Within the block, forward passes of ``model`` also record the :data:`ON_REQUEST` fields
    that need a hook (``head_inputs``): yields the dict the caller reads them from after each
    forward. ``features`` need no hook: pass ``output_hidden_states=True`` to the model."""
    captured: dict[str, torch.Tensor] = {}
    handles = []
    if "head_inputs" in fields:
        handles.append(head_linear(model).register_forward_hook(
            lambda module, inputs, output: captured.__setitem__("head_inputs", inputs[0].detach())))
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()


def _get(outputs: Any, name: str):
    if isinstance(outputs, Mapping):
        return outputs.get(name)
    return getattr(outputs, name, None)


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """``(B, h)`` float32 mean of ``hidden`` ``(B, T, h)`` over the tokens the attention mask keeps
    (all tokens without a mask). Summed in float32 whatever the model's dtype, so the scoring pass
    and the training pass (:mod:`datadiet.free_features`) pool identically."""
    hidden = hidden.float()
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


def _token_mean_ce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    ce = F.cross_entropy(logits.float().transpose(1, 2), labels.long(), ignore_index=IGNORE_INDEX, reduction="none")
    return ce.sum(-1) / (labels != IGNORE_INDEX).sum(-1).clamp(min=1)


@dataclass(frozen=True)
class TaskOutputs:
    """How one task's model outputs and batch become :class:`ScoreInputs` (a registry entry).

    Attributes:
        read: ``(outputs, batch) -> ScoreInputs`` without features.
        per_example_loss: ``(outputs, batch) -> (B,)`` differentiable training loss per example.
        provides: the ``ScoreInputs`` fields ``read`` fills from a plain forward pass.
        default_score: the score ``score="auto"`` means for this task.
    """

    read: Callable[[Any, Mapping[str, torch.Tensor]], ScoreInputs]
    per_example_loss: Callable[[Any, Mapping[str, torch.Tensor]], torch.Tensor]
    provides: tuple[str, ...]
    default_score: str


_TASKS: dict[str, TaskOutputs] = {}


def register_task(name: str, outputs: TaskOutputs) -> None:
    """Add a task adapter by name (raises if the name is taken)."""
    if name in _TASKS:
        raise ValueError(f"a task named {name!r} is already registered")
    _TASKS[name] = outputs


def available_tasks() -> tuple[str, ...]:
    return tuple(_TASKS)


@dataclass(frozen=True)
class TaskAdapter:
    """Reads one registered task's outputs (``task``: one of :func:`available_tasks`)."""

    task: str

    def __post_init__(self) -> None:
        if self.task not in _TASKS:
            raise UnknownName("task", self.task, _TASKS)

    @property
    def _entry(self) -> TaskOutputs:
        return _TASKS[self.task]

    @property
    def default_score(self) -> str:
        return self._entry.default_score

    @property
    def provides(self) -> tuple[str, ...]:
        """Fields every forward pass gives; :data:`ON_REQUEST` fields come when asked for."""
        return self._entry.provides

    def provides_free(self, score) -> bool:
        """Whether a training forward pass alone gives what ``score`` needs."""
        return set(score.requires) <= set(self.provides)

    def check_supports(self, score) -> None:
        """Raise at set-up if this task's outputs can never give what ``score`` needs."""
        can = set(self.provides) | set(ON_REQUEST)
        missing = [r for r in score.requires if r not in can]
        if missing:
            fits = sorted(name for name, s in _registered().items() if set(s.requires) <= can)
            raise ValueError(
                f"score {score.name!r} needs {', '.join(missing)}, which a {self.task} model does not output; "
                f"scores that fit this task: {', '.join(fits)}"
            )

    def score_inputs(self, outputs: Any, batch: Mapping[str, torch.Tensor],
                     captured: Mapping[str, torch.Tensor] | None = None) -> ScoreInputs:
        """Detached score inputs of one batch: features when the outputs carry hidden states, and
        what :func:`capture_on_request` ``captured`` during the forward."""
        inp = self._entry.read(outputs, batch)
        inp.features = _pooled_features(outputs, batch, self.task)
        if captured:
            inp.head_inputs = captured.get("head_inputs")
        return inp.detach()

    def per_example_loss(self, outputs: Any, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Differentiable per-example training loss, for loss weights (InfoBatch's rescaling).

        Sequence: CE; token / causal LM: mean CE over valid tokens; joint: 0.5 CE_intent +
        0.5 mean_t CE_slot. The batch mean of these equals the model's own loss up to how tokens
        are averaged (per example here, per batch in most models).
        """
        return self._entry.per_example_loss(outputs, batch)


register_task(SEQUENCE, TaskOutputs(
    read=lambda o, b: ScoreInputs(logits=_get(o, "logits"), labels=b.get("labels")),
    per_example_loss=lambda o, b: F.cross_entropy(_get(o, "logits").float(), b["labels"].long(),
                                                  ignore_index=IGNORE_INDEX, reduction="none"),
    provides=("logits", "labels"), default_score="el2n"))
register_task(TOKEN, TaskOutputs(
    read=lambda o, b: ScoreInputs(token_logits=_get(o, "logits"), token_labels=b.get("labels")),
    per_example_loss=lambda o, b: _token_mean_ce(_get(o, "logits"), b["labels"]),
    provides=("token_logits", "token_labels"), default_score="token_el2n"))
register_task(JOINT, TaskOutputs(
    read=lambda o, b: ScoreInputs(logits=_get(o, "intent_logits"), labels=b.get("intent_labels"),
                                  token_logits=_get(o, "slot_logits"), token_labels=b.get("slot_labels")),
    per_example_loss=lambda o, b: 0.5 * F.cross_entropy(_get(o, "intent_logits").float(), b["intent_labels"].long(),
                                                        reduction="none")
    + 0.5 * _token_mean_ce(_get(o, "slot_logits"), b["slot_labels"]),
    provides=("logits", "labels", "token_logits", "token_labels"), default_score="joint_el2n"))
register_task(CAUSAL_LM, TaskOutputs(
    read=lambda o, b: causal_lm_score_inputs(_get(o, "logits"), b.get("labels"), b.get("action_ids")),
    per_example_loss=lambda o, b: _token_mean_ce(_get(o, "logits")[:, :-1], b["labels"][:, 1:]),
    provides=("token_logits", "token_labels", "action_ids"), default_score="token_nll"))

TASKS = available_tasks()
"""The built-in tasks (more can be added with :func:`register_task`)."""


def _registered():
    from datadiet.scores.registry import _SCORES

    return _SCORES


def infer_task(model: Any) -> str:
    """The task of a model: its ``datadiet_task`` attribute, else the name of its class or of one of
    its base classes (a subclass of ``BertForSequenceClassification`` is a sequence classifier), else
    its config's ``architectures``."""
    base = getattr(model, "module", model)  # DDP / accelerate wrappers
    task = getattr(base, "datadiet_task", None)
    if task is not None:
        return task
    names = [cls.__name__ for cls in type(base).__mro__]
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
        f"cannot tell the task of a {type(base).__name__}: neither it nor a base class is named ...ForSequenceClassification, "
        f"...ForTokenClassification or ...ForCausalLM; pass task= one of {', '.join(available_tasks())} "
        "or give the model a `datadiet_task` attribute"
    )
