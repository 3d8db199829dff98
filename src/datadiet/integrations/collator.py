"""A collator wrapper that carries ``example_id`` (and P3's ``action_ids``) past any collator.

Collators built for a model's inputs drop the keys they do not know: TRL's
``DataCollatorForLanguageModeling`` keeps only ``input_ids`` and ``labels``, so without help no
training batch would say which examples it holds and no free score could be recorded.
:class:`DietCollator` takes the diet's columns out of the rows, lets the wrapped collator build the
batch from the rest, and puts them back as tensors. With a token-class table it also derives each
token's action from the batch's ``input_ids`` and ``labels``
(:func:`~datadiet.llm.token_actions.token_action_ids`), so P3 needs no text and no extra column.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch

from datadiet.llm.token_actions import token_action_ids
from datadiet.scoring_pass import diet_columns
from datadiet.utils import EXAMPLE_ID_COLUMN, check_id_column

__all__ = ["DietCollator", "check_collated_rows", "row_offsets"]

PROBE_ROWS = 4
"""Rows :func:`check_collated_rows` collates."""


def row_offsets(batch_ids: torch.Tensor, rows: Sequence[Sequence[int]]) -> list[int]:
    """Where each row's ``input_ids`` sit in the collated ``(B, T)`` ``batch_ids``: 0 (right
    padding) or ``T - len`` (left padding). Raises ``ValueError`` if a row is found at neither,
    i.e. the collator reordered, merged or rewrote the examples."""
    if batch_ids.dim() != 2 or batch_ids.shape[0] != len(rows):
        raise ValueError(
            f"the collator turned {len(rows)} examples into input_ids of shape {tuple(batch_ids.shape)}, not one row "
            "per example (padding-free or packed batches mix examples, so no per-example score can be read): "
            "use a collator that pads each example to its own row (with TRL: padding_free=False, packing=False)"
        )
    width = batch_ids.shape[1]
    offsets = []
    for i, row in enumerate(rows):
        row = torch.as_tensor(list(row), dtype=batch_ids.dtype)
        n = len(row)
        if n <= width and torch.equal(batch_ids[i, :n].cpu(), row):
            offsets.append(0)
        elif n <= width and torch.equal(batch_ids[i, width - n :].cpu(), row):
            offsets.append(width - n)
        else:
            raise ValueError(
                f"row {i} of the collated batch is not example {i}'s input_ids padded left or right: the collator "
                "reorders, truncates or rewrites examples, so example ids would not match the rows. Use a collator "
                "that keeps the examples in order, one padded row each"
            )
    return offsets


class DietCollator:
    """Wraps ``collator`` so the batch keeps the diet's columns.

    ``example_id`` becomes an int64 ``(B,)`` tensor. ``action_ids`` present in the rows are padded
    with -1 to the batch's width on the side the collator padded; without them, and with
    ``token_classes`` given (:func:`~datadiet.llm.token_actions.token_classes` of the tokenizer),
    ``action_ids`` are computed from the collated ``input_ids`` and ``labels``.

    Args:
        collator: the collator that builds the model's inputs (TRL's, transformers', your own).
        token_classes: the tokenizer's token-class table, to derive actions; ``None``: do not.
        id_column: the rows' (and the batch's) id key, the diet's ``example_id_column``.
    """

    def __init__(self, collator: Callable[[list], dict], *, token_classes: np.ndarray | None = None,
                 id_column: str = EXAMPLE_ID_COLUMN) -> None:
        if isinstance(collator, DietCollator):
            collator = collator.collator
        if not callable(collator):
            raise TypeError(f"collator must be callable, got {type(collator).__name__}")
        self.collator = collator
        self.token_classes = None if token_classes is None else np.asarray(token_classes, dtype=np.int8)
        self.id_column = check_id_column(id_column)

    def __call__(self, features: Sequence[dict[str, Any]]) -> dict:
        features = list(features)
        columns = diet_columns(self.id_column)
        carried = {key: [f[key] for f in features] for key in columns if features and all(key in f for f in features)}
        batch = self.collator([{k: v for k, v in f.items() if k not in columns} for f in features])
        if self.id_column in carried:
            batch[self.id_column] = torch.as_tensor([int(i) for i in carried[self.id_column]], dtype=torch.long)
        if "action_ids" in carried:
            batch["action_ids"] = self._pad_actions(batch["input_ids"], [f["input_ids"] for f in features],
                                                    carried["action_ids"])
        elif self.token_classes is not None:
            if "labels" not in batch:
                raise ValueError("deriving actions from token ids needs `labels` in the collated batch")
            batch["action_ids"] = token_action_ids(batch["input_ids"], batch["labels"], self.token_classes)
        return batch

    @staticmethod
    def _pad_actions(batch_ids: torch.Tensor, rows: list, actions: list) -> torch.Tensor:
        out = torch.full(tuple(batch_ids.shape), -1, dtype=torch.long)
        for i, (offset, row) in enumerate(zip(row_offsets(batch_ids, rows), actions)):
            out[i, offset : offset + len(row)] = torch.as_tensor(list(row), dtype=torch.long)
        return out.to(batch_ids.device)

    def __repr__(self) -> str:
        derive = ", actions from token ids" if self.token_classes is not None else ""
        return f"DietCollator({self.collator!r}{derive})"


def check_collated_rows(dataset, collator: Callable[[list], dict], *, need_actions: bool = False,
                        num_rows: int = PROBE_ROWS, id_column: str = EXAMPLE_ID_COLUMN) -> None:
    """Collate the first ``num_rows`` rows of ``dataset`` and check, before any training, what
    the diet needs from every batch: ``example_id`` matching the rows, one row per example in order
    (:func:`row_offsets`), ``input_ids`` and ``labels``, and ``action_ids`` if ``need_actions``.
    Raises ``ValueError`` saying what to change."""
    rows = [dataset[i] for i in range(min(num_rows, len(dataset)))]
    batch = collator(rows)
    if id_column not in batch:
        named = "" if id_column == EXAMPLE_ID_COLUMN else f", id_column={id_column!r}"
        raise ValueError(f"the collator drops `{id_column}`, so no training batch would say which examples it holds: "
                         f"wrap it, data_collator=datadiet.integrations.collator.DietCollator(collator{named})")
    if "input_ids" not in batch or "labels" not in batch:
        raise ValueError(f"the collator's batches have {sorted(batch)}; scoring a causal LM needs input_ids and labels")
    row_offsets(batch["input_ids"], [r["input_ids"] for r in rows])
    if [int(i) for i in batch[id_column]] != [int(r[id_column]) for r in rows]:
        raise ValueError("the collated example_id do not match the rows: the collator reorders examples")
    if need_actions and "action_ids" not in batch:
        raise ValueError("the score needs action_ids, which the collated batches lack: give the rows an `action_ids` "
                         "column, or derive them from the token ids with "
                         "DietCollator(collator, token_classes=datadiet.llm.token_actions.token_classes(tokenizer))")
