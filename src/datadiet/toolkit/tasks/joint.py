"""Joint intent detection and slot filling on a pretrained encoder (JointBERT: Chen, Zhuo and Wang
2019, "BERT for Joint Intent Classification and Slot Filling", arXiv:1902.10909).

An intent head reads the first token's ([CLS]) hidden state, a slot head reads every token's. The
loss is ``0.5 * CE(intent) + 0.5 * CE(slots)``, the slot term averaged over the batch's valid
tokens (label ``-100`` ignored), the equal weighting used by NLU on Data Diets (Attendu & Corbeil 2023).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedModel
from transformers.utils import ModelOutput

from datadiet.integrations.compat import PreTrainedConfig

from datadiet.toolkit.tasks.models import MINILM, load_pretrained

IGNORE_INDEX = -100


class JointIntentSlotConfig(PreTrainedConfig):
    """Configuration of :class:`JointIntentSlotModel`.

    Attributes:
        encoder: the encoder's own config (any ``AutoModel`` architecture; a dict is turned into one).
        num_intents, num_slots: sizes of the two heads (taken from the name lists when those are given).
        intent_names, slot_names: label names in id order, saved with the model.
        classifier_dropout: dropout before both heads; ``None`` uses the encoder's ``hidden_dropout_prob``
            (0.1 if it has none).
    """

    model_type = "datadiet_joint_intent_slot"
    sub_configs = {"encoder": AutoConfig}
    # Trainer.evaluate gathers every output except these, so predictions are (intent_logits, slot_logits).
    keys_to_ignore_at_inference: ClassVar[list[str]] = ["pooled", "hidden_states", "attentions"]

    # A classic ``__init__`` (not transformers 5's dataclass fields), so the same class works with
    # transformers 4.57 and 5.x.
    def __init__(self, encoder: PreTrainedConfig | dict | None = None, num_intents: int | None = None,
                 num_slots: int | None = None, intent_names: Sequence[str] | None = None,
                 slot_names: Sequence[str] | None = None, classifier_dropout: float | None = None,
                 **kwargs: Any) -> None:
        if encoder is None:
            encoder = AutoConfig.for_model("bert")
        elif isinstance(encoder, dict):
            encoder = dict(encoder)
            encoder = AutoConfig.for_model(encoder.pop("model_type", "bert"), **encoder)
        self.encoder = encoder
        self.classifier_dropout = classifier_dropout
        for kind, names, size in (("intent", intent_names, num_intents), ("slot", slot_names, num_slots)):
            if names is not None:
                names = [str(n) for n in names]
                if size is not None and size != len(names):
                    raise ValueError(f"num_{kind}s={size} but {len(names)} {kind}_names were given; pass one of them")
                size = len(names)
            elif size is None:
                size = 2
            if size < 1:
                raise ValueError(f"num_{kind}s must be >= 1, got {size}")
            setattr(self, f"{kind}_names", names)
            setattr(self, f"num_{kind}s", size)
        super().__init__(**kwargs)

    @property
    def hidden_size(self) -> int:
        """The encoder's hidden size (width of ``pooled``)."""
        return self.encoder.hidden_size


@dataclass
class JointIntentSlotOutput(ModelOutput):
    """Output of :class:`JointIntentSlotModel` (B = batch, T = tokens).

    Attributes:
        loss: ``0.5 * CE(intent) + 0.5 * CE(slots)`` when both label tensors are given.
        intent_logits: ``(B, num_intents)``.
        slot_logits: ``(B, T, num_slots)``.
        pooled: ``(B, hidden)``: the first token's last hidden state (diversity features).
        hidden_states, attentions: the encoder's, when asked for.
    """

    loss: torch.Tensor | None = None
    intent_logits: torch.Tensor | None = None
    slot_logits: torch.Tensor | None = None
    pooled: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


def _build_encoder(config: PreTrainedConfig) -> PreTrainedModel:
    """A randomly initialised encoder from its config, without a pooler layer where the architecture
    allows it (the model reads the first token, so a pooler would be unused parameters under DDP)."""
    try:
        return AutoModel.from_config(config, add_pooling_layer=False)
    except TypeError:
        return AutoModel.from_config(config)


def _masked_mean_ce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy averaged over positions whose label is not -100; 0 (with a graph) if there are none."""
    total = F.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1).long(),
        ignore_index=IGNORE_INDEX, reduction="sum",
    )
    return total / (labels != IGNORE_INDEX).sum().clamp(min=1)


class JointIntentSlotModel(PreTrainedModel):
    """Encoder + intent head on the first token + slot head on every token.

    Build it from a pretrained encoder with :meth:`from_encoder`; reload a fine-tuned one with
    ``JointIntentSlotModel.from_pretrained(folder)``. ``forward`` takes the batch of
    :class:`~datadiet.toolkit.tasks.collate.JointNLUCollator` and ignores keys it does not use
    (such as ``example_id``).
    """

    config_class = JointIntentSlotConfig
    config: JointIntentSlotConfig
    base_model_prefix = "encoder"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    # The loss is a mean over the batch; Trainer must not pass num_items_in_batch or skip its
    # gradient-accumulation scaling because forward takes **kwargs.
    accepts_loss_kwargs = False
    datadiet_task = "joint_intent_slot"

    def __init__(self, config: JointIntentSlotConfig):
        super().__init__(config)
        self.encoder = _build_encoder(config.encoder)
        dropout = config.classifier_dropout
        if dropout is None:
            dropout = getattr(config.encoder, "hidden_dropout_prob", None)
        self.dropout = nn.Dropout(0.1 if dropout is None else dropout)
        self.intent_head = nn.Linear(config.encoder.hidden_size, config.num_intents)
        self.slot_head = nn.Linear(config.encoder.hidden_size, config.num_slots)
        self.post_init()

    @classmethod
    def from_encoder(
        cls,
        encoder: str | os.PathLike = MINILM,
        *,
        intent_names: Sequence[str] | None = None,
        slot_names: Sequence[str] | None = None,
        num_intents: int | None = None,
        num_slots: int | None = None,
        num_hidden_layers: int | None = None,
        classifier_dropout: float | None = None,
        local_files_only: bool | None = None,
    ) -> "JointIntentSlotModel":
        """A joint model whose encoder weights are copied from a pretrained encoder; heads are random.

        Args:
            encoder: :data:`~datadiet.toolkit.tasks.models.MINILM` (default), a local folder or a hub name.
            intent_names, slot_names: label names in id order (or only their counts, ``num_*``).
            num_hidden_layers: keep only the first n encoder layers.
            classifier_dropout: see :class:`JointIntentSlotConfig`.
            local_files_only: see :func:`~datadiet.toolkit.tasks.models.load_pretrained`.

        Raises:
            ValueError: the pretrained checkpoint lacks weights the encoder needs.
        """
        pretrained = load_pretrained(
            encoder, num_hidden_layers=num_hidden_layers, local_files_only=local_files_only, with_tokenizer=False
        )
        config = JointIntentSlotConfig(
            encoder=pretrained.config, intent_names=list(intent_names) if intent_names is not None else None,
            slot_names=list(slot_names) if slot_names is not None else None, num_intents=num_intents,
            num_slots=num_slots, classifier_dropout=classifier_dropout,
        )
        model = cls(config)
        missing, unexpected = model.encoder.load_state_dict(pretrained.state_dict(), strict=False)
        unexpected = [k for k in unexpected if not k.startswith("pooler.")]
        if missing or unexpected:
            raise ValueError(f"{encoder}: the pretrained encoder does not fit the joint model's encoder "
                             f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
        return model

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        intent_labels: torch.Tensor | None = None,
        slot_labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> JointIntentSlotOutput:
        """Logits of both heads, and the loss when ``intent_labels`` (B,) and ``slot_labels`` (B, T) are given.

        Of ``kwargs`` only ``position_ids``, ``inputs_embeds``, ``output_hidden_states`` and
        ``output_attentions`` reach the encoder; others (``example_id``, ``return_dict``, ...) are ignored.
        """
        if (intent_labels is None) != (slot_labels is None):
            raise ValueError("the joint loss needs both intent_labels and slot_labels (or neither, for logits only)")
        encoder_kwargs = {k: kwargs[k] for k in ("position_ids", "inputs_embeds", "output_hidden_states",
                                                  "output_attentions") if k in kwargs}
        if token_type_ids is not None:
            encoder_kwargs["token_type_ids"] = token_type_ids
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, return_dict=True, **encoder_kwargs)
        hidden = out.last_hidden_state
        pooled = hidden[:, 0]
        intent_logits = self.intent_head(self.dropout(pooled))
        slot_logits = self.slot_head(self.dropout(hidden))

        loss = None
        if intent_labels is not None:
            if slot_labels.shape != slot_logits.shape[:2]:
                raise ValueError(f"slot_labels has shape {tuple(slot_labels.shape)} but the input has "
                                 f"{tuple(slot_logits.shape[:2])} tokens; pad labels with the inputs (JointNLUCollator)")
            loss = 0.5 * _masked_mean_ce(intent_logits, intent_labels) + 0.5 * _masked_mean_ce(slot_logits, slot_labels)
        return JointIntentSlotOutput(
            loss=loss, intent_logits=intent_logits, slot_logits=slot_logits, pooled=pooled,
            hidden_states=getattr(out, "hidden_states", None), attentions=getattr(out, "attentions", None),
        )
