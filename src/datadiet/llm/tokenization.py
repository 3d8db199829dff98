"""Tokenizing (prompt, solution) pairs for supervised fine-tuning, with per-token action ids.

:func:`tokenize_pair` produces, for one example, the usual causal-LM fields plus the action of
every token; :class:`CausalLMCollator` pads a batch dynamically. The fields are *unshifted* (as a
Hugging Face causal LM expects: ``labels[t] == input_ids[t]`` where trained, the model shifts);
:func:`~datadiet.adapters.causal_lm_score_inputs` (re-exported here) shifts logits, labels and
action ids together for scoring.

Layout of one example: ``prompt tokens | solution tokens | EOS`` (EOS optional). The prompt is
tokenized with the tokenizer's special tokens (e.g. a BOS, once, at the very start), the solution
without, each separately, so the boundary is clean and a token never straddles prompt and
solution. Offsets of the solution tokens map them to actions (:mod:`datadiet.llm.actions`).
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np
import torch

from datadiet.llm.actions import Segmenter, TokenChunks, assign_tokens_to_actions, get_segmenter, segment_actions
from datadiet.adapters import causal_lm_score_inputs
from datadiet.scores.inputs import IGNORE_INDEX

__all__ = [
    "CausalLMCollator",
    "MODEL_INPUT_KEYS",
    "causal_lm_score_inputs",
    "model_inputs",
    "token_lengths",
    "tokenize_pair",
    "tokenize_pairs",
]

logger = logging.getLogger("datadiet.llm")

MODEL_INPUT_KEYS = ("input_ids", "attention_mask", "labels")
"""The collated fields a Hugging Face causal LM's ``forward`` accepts; ``action_ids`` and
``example_id`` are for scoring and bookkeeping and must be left out of ``model(**batch)``."""


def _check_fast(tokenizer) -> None:
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"{type(tokenizer).__name__} is not a fast tokenizer: mapping tokens to actions needs character "
            "offsets (return_offsets_mapping). Load it with AutoTokenizer.from_pretrained(..., use_fast=True)."
        )


def tokenize_pair(
    tokenizer,
    prompt: str,
    solution: str,
    *,
    segmenter: Segmenter = "lines",
    train_on_prompt: bool = False,
    max_length: int | None = None,
    add_eos: bool = True,
    example_id: int | None = None,
) -> dict[str, Any]:
    """Tokenize one (prompt, solution) pair for SFT and P3 scoring.

    Args:
        tokenizer: a fast Hugging Face tokenizer (offsets are needed).
        prompt: the text the model is conditioned on (include any separator/template yourself).
        solution: the target text; its actions come from ``segmenter``.
        segmenter: ``"lines"`` (default), ``"sentences"``, ``"chunks:N"`` / ``chunks(N)``, or a
            callable (see :mod:`datadiet.llm.actions`).
        train_on_prompt: also put the prompt tokens in ``labels`` (they never get an action).
        max_length: cut the whole sequence to this many tokens, from the right (the end of the
            solution goes first; actions cut off entirely then simply do not exist).
        add_eos: append the tokenizer's EOS token after the solution (trained, in no action), so
            the model learns to stop.
        example_id: kept as ``example_id`` when given.

    Returns:
        dict of python lists: ``input_ids``, ``attention_mask``, ``labels`` (``-100`` on the
        prompt unless ``train_on_prompt``), ``action_ids`` (``-1`` outside actions), plus
        ``num_actions`` (actions with at least one token left) and ``example_id`` if given.

    Example:
        >>> from transformers import AutoTokenizer              # doctest: +SKIP
        >>> enc = tokenize_pair(tok, "Q: 2+2?\\nA:\\n", "2+2 = 4\\n#### 4")   # doctest: +SKIP
        >>> enc["action_ids"]                                  # doctest: +SKIP
        [-1, -1, ..., 0, 0, 0, 0, -1, 1, 1, 1, -1]
    """
    _check_fast(tokenizer)
    seg = get_segmenter(segmenter)
    prompt_ids = list(tokenizer(prompt, add_special_tokens=True)["input_ids"]) if prompt else []
    enc = tokenizer(solution, add_special_tokens=False, return_offsets_mapping=True)
    sol_ids = list(enc["input_ids"])
    if isinstance(seg, TokenChunks):
        sol_actions = seg.action_ids(len(sol_ids))
    else:
        spans = segment_actions(solution, seg)
        sol_actions = assign_tokens_to_actions([tuple(o) for o in enc["offset_mapping"]], spans)
    if add_eos and tokenizer.eos_token_id is not None:
        sol_ids.append(int(tokenizer.eos_token_id))
        sol_actions = np.append(sol_actions, -1)

    input_ids = prompt_ids + sol_ids
    labels = (prompt_ids if train_on_prompt else [IGNORE_INDEX] * len(prompt_ids)) + sol_ids
    action_ids = [-1] * len(prompt_ids) + [int(a) for a in sol_actions]
    if max_length is not None:
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        input_ids, labels, action_ids = input_ids[:max_length], labels[:max_length], action_ids[:max_length]
    # Action ids stay as assigned: truncation removes a suffix, and an action whose only token was
    # given to a neighbour leaves a gap that scores ignore (they average over present actions).
    present = sorted({a for a, y in zip(action_ids, labels) if a >= 0 and y != IGNORE_INDEX})
    out: dict[str, Any] = {
        "input_ids": input_ids,
        "attention_mask": [1] * len(input_ids),
        "labels": labels,
        "action_ids": action_ids,
        "num_actions": len(present),
    }
    if example_id is not None:
        out["example_id"] = int(example_id)
    return out


def tokenize_pairs(
    tokenizer,
    prompts: Sequence[str],
    solutions: Sequence[str],
    example_ids: Sequence[int] | None = None,
    **kwargs,
) -> list[dict[str, Any]]:
    """:func:`tokenize_pair` over a dataset; logs the examples that have no action.

    ``example_ids`` defaults to ``0..N-1``. Examples with no action (an empty or whitespace-only
    solution, or one cut off entirely by ``max_length``) are kept, and a warning on the
    ``datadiet.llm`` logger lists their ids: they score ``+inf`` (infinitely hard) under
    :func:`datadiet.scores.policy.policy_difficulty`, so P3 never makes them eligible.
    The result is a list of dicts; ``datasets.Dataset.from_list`` turns it into a dataset.
    """
    if len(prompts) != len(solutions):
        raise ValueError(f"got {len(prompts)} prompts but {len(solutions)} solutions")
    ids = list(range(len(prompts))) if example_ids is None else [int(i) for i in example_ids]
    if len(ids) != len(prompts):
        raise ValueError(f"got {len(ids)} example_ids for {len(prompts)} examples")
    out = [tokenize_pair(tokenizer, p, s, example_id=i, **kwargs) for p, s, i in zip(prompts, solutions, ids)]
    empty = [e["example_id"] for e in out if e["num_actions"] == 0]
    if empty:
        shown = ", ".join(map(str, empty[:20])) + (", ..." if len(empty) > 20 else "")
        logger.warning(
            "%d example(s) have no action to score (empty solution, or cut off by max_length): example_id %s. "
            "They score +inf (infinitely hard) under policy difficulty.",
            len(empty),
            shown,
        )
    return out


def _resolve_pad_id(tokenizer, pad_token_id: int | None) -> int:
    if pad_token_id is not None:
        return int(pad_token_id)
    if tokenizer is None:
        raise ValueError("CausalLMCollator needs a tokenizer or an explicit pad_token_id")
    if tokenizer.pad_token_id is not None:
        return int(tokenizer.pad_token_id)
    if tokenizer.eos_token_id is not None:
        logger.warning(
            "the tokenizer has no pad token: padding with its EOS token (id %d). This is harmless here: padded "
            "positions have attention_mask 0, labels -100 and action_ids -1. Set tokenizer.pad_token or pass "
            "pad_token_id= to silence this.",
            tokenizer.eos_token_id,
        )
        return int(tokenizer.eos_token_id)
    raise ValueError(
        "the tokenizer has neither a pad nor an EOS token: pass CausalLMCollator(pad_token_id=...) or set "
        "tokenizer.pad_token"
    )


class CausalLMCollator:
    """Pads a list of :func:`tokenize_pair` outputs to the longest one in the batch (right padding).

    Padding values: ``input_ids`` the pad id, ``attention_mask`` 0, ``labels`` -100,
    ``action_ids`` -1. ``example_id`` becomes an int64 tensor; ``num_actions`` is dropped. The pad
    id is ``pad_token_id`` if given, else the tokenizer's pad token, else (with a warning logged
    when the collator is built) its EOS token; with none of them it raises ``ValueError``.

    Args:
        tokenizer: used only for its pad/EOS ids.
        pad_token_id: explicit pad id (overrides the tokenizer).
        pad_to_multiple_of: round the padded length up to a multiple of this.
    """

    def __init__(self, tokenizer=None, *, pad_token_id: int | None = None, pad_to_multiple_of: int | None = None):
        self.pad_token_id = _resolve_pad_id(tokenizer, pad_token_id)
        if pad_to_multiple_of is not None and pad_to_multiple_of < 1:
            raise ValueError(f"pad_to_multiple_of must be >= 1, got {pad_to_multiple_of}")
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, features: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        if len(features) == 0:
            raise ValueError("cannot collate an empty batch")
        length = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            m = self.pad_to_multiple_of
            length = (length + m - 1) // m * m
        fills = {"input_ids": self.pad_token_id, "attention_mask": 0, "labels": IGNORE_INDEX, "action_ids": -1}
        batch: dict[str, torch.Tensor] = {}
        for key, fill in fills.items():
            if key == "attention_mask" and not all(key in f for f in features):
                rows = [[1] * len(f["input_ids"]) for f in features]
            elif not all(key in f for f in features):
                continue
            else:
                rows = [list(f[key]) for f in features]
            out = torch.full((len(features), length), fill, dtype=torch.long)
            for i, row in enumerate(rows):
                out[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
            batch[key] = out
        if all("example_id" in f for f in features):
            batch["example_id"] = torch.as_tensor([int(f["example_id"]) for f in features], dtype=torch.long)
        return batch


def model_inputs(batch: dict[str, torch.Tensor], keys: Sequence[str] = MODEL_INPUT_KEYS) -> dict[str, torch.Tensor]:
    """The part of a collated batch that goes into ``model(**...)``."""
    return {k: batch[k] for k in keys if k in batch}


def token_lengths(examples: Sequence[dict[str, Any]]) -> np.ndarray:
    """Token count of every :func:`tokenize_pair` output (its ``input_ids``): what batches are bucketed by."""
    return np.fromiter((len(e["input_ids"]) for e in examples), dtype=np.int64, count=len(examples))
