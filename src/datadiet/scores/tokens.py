"""Per-token statistics of large-vocabulary outputs without ``(B, T, V)`` temporaries.

A causal LM's logits are ``(B, T, V)`` with V in the tens of thousands: a softmax or a one-hot of
that size costs gigabytes. The functions here read only the labelled positions, a chunk of rows at
a time, so their extra memory is bounded whatever B, T and V are.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import torch

from datadiet.scores.inputs import IGNORE_INDEX

__all__ = ["GoldTokenStats", "gold_row_stats", "gold_token_logprobs", "gold_token_stats", "labelled_rows"]

CHUNK_ELEMENTS = 1 << 24
"""Logits elements (64 MiB in float32) read at a time."""


class GoldTokenStats(NamedTuple):
    """Statistics of the selected positions, in row-major order."""

    rows: torch.Tensor
    """``(P,)`` batch index of each position."""
    cols: torch.Tensor
    """``(P,)`` time index of each position."""
    logp: torch.Tensor
    """``(P,)`` float32 ``log softmax(token_logits[b, t])[label]``."""
    is_argmax: torch.Tensor
    """``(P,)`` bool: the label is the arg-max of the logits (the first one on ties)."""


def gold_token_stats(
    token_logits: torch.Tensor,
    token_labels: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    chunk_elements: int = CHUNK_ELEMENTS,
) -> GoldTokenStats:
    """Gold-token log-probability and arg-max agreement at the positions in ``mask``.

    Only the selected positions are read, ``chunk_elements // V`` rows at a time, so no
    ``(B, T, V)`` temporary is made even when ``token_logits`` is a non-contiguous (shifted) view.
    Computed in float32 whatever the logits' dtype.

    Args:
        token_logits: ``(B, T, V)`` logits; position t predicts ``token_labels[:, t]``.
        token_labels: ``(B, T)`` gold token ids.
        mask: ``(B, T)`` bool, positions to compute; default ``token_labels != -100``.
        chunk_elements: logits elements read at a time (memory bound).
    """
    if mask is None:
        mask = token_labels != IGNORE_INDEX
    rows, cols = mask.nonzero(as_tuple=True)
    logp = torch.empty(rows.shape[0], dtype=torch.float32, device=token_logits.device)
    is_argmax = torch.empty(rows.shape[0], dtype=torch.bool, device=token_logits.device)
    for part, lg, label in labelled_rows(token_logits, token_labels, (rows, cols), chunk_elements=chunk_elements):
        logp[part], is_argmax[part] = gold_row_stats(lg, label)
    return GoldTokenStats(rows, cols, logp, is_argmax)


def gold_row_stats(logit_rows: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log softmax(row)[label], label == argmax(row))`` of each float32 ``(k, V)`` logit row and
    its ``(k,)`` label: the one place the gold token's log-probability is computed."""
    gold = logit_rows.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    return gold - torch.logsumexp(logit_rows, dim=-1), logit_rows.argmax(-1) == labels


def labelled_rows(
    logits: torch.Tensor,
    labels: torch.Tensor,
    index: tuple[torch.Tensor, ...],
    *,
    chunk_elements: int = CHUNK_ELEMENTS,
) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor]]:
    """The logit rows at ``index`` (a ``nonzero(as_tuple=True)`` of ``labels``' shape), at most
    ``chunk_elements`` logits at a time: ``(part, rows, row_labels)`` with ``part`` the slice of
    ``index`` covered, ``rows`` a float32 ``(k, V)`` copy and ``row_labels`` the ``(k,)`` int64 labels."""
    vocab = logits.shape[-1]
    chunk = max(1, chunk_elements // max(1, vocab))
    for s in range(0, index[0].shape[0], chunk):
        part = slice(s, s + chunk)
        at = tuple(i[part] for i in index)
        yield part, logits[at].float(), labels[at].long()


def gold_token_logprobs(token_logits: torch.Tensor, token_labels: torch.Tensor, mask: torch.Tensor | None = None):
    """``(rows, cols, logp)`` of :func:`gold_token_stats`: ``log p(label_t)`` at the positions in ``mask``."""
    stats = gold_token_stats(token_logits, token_labels, mask)
    return stats.rows, stats.cols, stats.logp
