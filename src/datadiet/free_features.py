"""Diversity features from the training forward pass, for free.

A strategy that selects on features (P3's DPP) reads a causal LM's last hidden state, mean-pooled
over each example's attended tokens. The training step's forward already computes that hidden
state: it is the input of the LM head, i.e. the backbone's ``last_hidden_state`` (what Hugging Face
returns as ``hidden_states[-1]``). :func:`pooled_last_hidden` holds a forward hook on the backbone
for one forward and pools inside the hook, so only a ``(B, h)`` float32 copy outlives it: no
hidden-state tuple is asked for and no ``(B, T, h)`` copy is kept after the batch.

The backbone is hooked rather than the LM head because a fused head (TRL's ``SFTTrainer``) reads
``lm_head.weight`` directly and never calls the head module; both read the same tensor.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager, nullcontext
from typing import Any, Iterator

import numpy as np
import torch

from datadiet.adapters import mean_pool

logger = logging.getLogger("datadiet")


def causal_lm_backbone(model: torch.nn.Module) -> torch.nn.Module:
    """The module whose output's ``last_hidden_state`` feeds a causal LM's head (``get_decoder()``),
    through data-parallel (``.module``) and PEFT (``get_base_model()``) wrappers."""
    base = getattr(model, "module", model)
    if hasattr(base, "get_base_model"):  # peft.PeftModel
        base = base.get_base_model()
    get_decoder = getattr(base, "get_decoder", None)
    backbone = get_decoder() if callable(get_decoder) else None
    if not isinstance(backbone, torch.nn.Module) or backbone is base:
        prefix = getattr(base, "base_model_prefix", None)
        backbone = getattr(base, prefix, None) if prefix else None
    if not isinstance(backbone, torch.nn.Module):
        raise ValueError(f"cannot find the backbone of a {type(base).__name__} (no get_decoder() or base_model_prefix "
                         "module): free features need the module whose last_hidden_state feeds the LM head")
    return backbone


def _last_hidden_state(output: Any) -> torch.Tensor:
    hidden = output.get("last_hidden_state") if isinstance(output, dict) else getattr(output, "last_hidden_state", None)
    return hidden if hidden is not None else output[0]


@contextmanager
def pooled_last_hidden(model: torch.nn.Module, attention_mask: torch.Tensor | None) -> Iterator[dict]:
    """Within the block, each forward of ``model`` leaves in the yielded dict ``"features"``: the
    ``(B, h)`` float32, detached mean of the backbone's last hidden state over ``attention_mask``
    (the same :func:`~datadiet.adapters.mean_pool` a scoring pass applies to ``hidden_states[-1]``).
    The last forward wins; the hook is removed on leaving the block, also on an error."""
    captured: dict[str, torch.Tensor] = {}

    def hook(module, args, output):
        with torch.no_grad():
            hidden = _last_hidden_state(output).detach()
            mask = None if attention_mask is None else attention_mask.to(hidden.device)
            captured["features"] = mean_pool(hidden, mask)

    handle = causal_lm_backbone(model).register_forward_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()


def capture_context(enabled: bool, model: torch.nn.Module, batch: dict):
    """:func:`pooled_last_hidden` for ``batch`` when ``enabled``, else a block that captures nothing."""
    return pooled_last_hidden(model, batch.get("attention_mask")) if enabled else nullcontext({})


class FeatureStore:
    """The latest diversity features of every example: an ``(N, d)`` float32 array (``array``),
    allocated (zeros) at the first write, None before it."""

    def __init__(self, num_examples: int) -> None:
        self.num_examples = int(num_examples)
        self.array: np.ndarray | None = None

    def update(self, ids: np.ndarray, features: np.ndarray) -> None:
        """Write ``features`` (rows aligned with ``ids``)."""
        features = np.asarray(features, dtype=np.float32)
        if self.array is None:
            self.array = np.zeros((self.num_examples, features.shape[1]), np.float32)
        elif features.shape[1:] != self.array.shape[1:]:
            raise ValueError(f"features of width {features.shape[1:]} cannot enter a store of width "
                             f"{self.array.shape[1:]}")
        self.array[np.asarray(ids, dtype=np.int64)] = features

    def load(self, array: np.ndarray | None) -> None:
        """Replace the store by a saved ``array`` (None: empty)."""
        self.array = None if array is None else np.asarray(array, np.float32).copy()


def warn_missing_features(method: str) -> None:
    """Say that training batches come without features, so their free scores are not recorded (a
    score is recorded only with features from the same pass); the diet says it once."""
    logger.warning(
        "%s selects on features, but a training batch came without them: its free scores are not recorded and its "
        "examples are re-scored by passes when stale. Train with DataDietTrainer, or wrap the forward in "
        "`with diet.capture_features(model, batch) as f:` and pass `features=f.get('features')` to weighted_loss "
        "(or use rescore='all')", method)
