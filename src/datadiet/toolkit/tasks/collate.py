"""Batch tokenized joint NLU examples, padding to the longest sequence in the batch (never a global
maximum: padding is wasted compute)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import torch

IGNORE_INDEX = -100
_MASK_PAD = {"attention_mask": 0, "special_tokens_mask": 1}


@dataclass
class JointNLUCollator:
    """Pad a list of examples from :func:`~datadiet.toolkit.tasks.preprocess.tokenize_joint_intent_slot` into tensors.

    Per-token keys are padded to the batch's longest sequence (rounded up to ``pad_to_multiple_of``)
    on the tokenizer's padding side: ``input_ids`` with the pad token, ``attention_mask`` with 0,
    ``token_type_ids`` with the pad type id, ``slot_labels`` (and any key ending in ``labels``) with
    -100. Scalar keys (``intent_labels``, ``example_id``) are stacked into ``(B,)`` tensors.

    Example:
        >>> collate = JointNLUCollator(tokenizer)                           # doctest: +SKIP
        >>> batch = collate([train[0], train[1]])                            # doctest: +SKIP
        >>> batch["slot_labels"].shape == batch["input_ids"].shape           # doctest: +SKIP
        True
    """

    tokenizer: Any
    pad_to_multiple_of: int | None = None
    pad_values: Mapping[str, int] = field(default_factory=dict)

    def _pad_value(self, key: str) -> int:
        if key in self.pad_values:
            return self.pad_values[key]
        if key == "input_ids":
            if self.tokenizer.pad_token_id is None:
                raise ValueError("the tokenizer has no pad token; set tokenizer.pad_token before batching")
            return self.tokenizer.pad_token_id
        if key == "token_type_ids":
            return getattr(self.tokenizer, "pad_token_type_id", 0)
        if key.endswith("labels"):
            return IGNORE_INDEX
        if key in _MASK_PAD:
            return _MASK_PAD[key]
        raise ValueError(f"no padding value known for per-token column {key!r}; pass pad_values={{{key!r}: ...}}")

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        if not features:
            raise ValueError("cannot collate an empty batch")
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        batch: dict[str, torch.Tensor] = {}
        for key in features[0]:
            values = [f[key] for f in features]
            first = values[0]
            if isinstance(first, str) or (isinstance(first, (list, tuple)) and first and isinstance(first[0], str)):
                raise TypeError(f"column {key!r} holds text; remove it before batching "
                                f"(tokenize_joint_intent_slot drops raw columns)")
            if isinstance(first, (list, tuple)) or (torch.is_tensor(first) and first.dim() == 1):
                batch[key] = self._pad([torch.as_tensor(v) for v in values], self._pad_value(key), left)
            else:
                batch[key] = torch.as_tensor(values)
        return batch

    def _pad(self, rows: list[torch.Tensor], value: int, left: bool) -> torch.Tensor:
        length = max(len(r) for r in rows)
        if self.pad_to_multiple_of:
            length = -(-length // self.pad_to_multiple_of) * self.pad_to_multiple_of
        out = torch.full((len(rows), length), value, dtype=torch.long)
        for i, row in enumerate(rows):
            if left:
                out[i, length - len(row):] = row
            else:
                out[i, : len(row)] = row
        return out
