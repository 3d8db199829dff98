"""A scoring pass that runs out of memory on a batch retries it in halves.

The pass's batches hold at most ``scoring_tokens_per_batch`` padded tokens (see
:func:`~datadiet.scoring_pass.length_buckets`), which bounds a forward's activations, but not what
else the device holds (the optimizer's state, another process's tensors, fragmentation). On an
out-of-memory error (``torch.cuda.OutOfMemoryError``, or the ``RuntimeError`` that CPU and MPS
allocators raise) :class:`HalvingForward` frees the cached blocks and forwards the two halves of
the batch instead, recursively down to one row; one row that does not fit raises
:class:`ScoringOutOfMemoryError` saying what to change. Once a batch has failed, later batches
larger (in padded tokens) than the largest that has fit since are split before they are tried, so
the pass does not pay a failed forward per batch.

Splitting is refused under an engine that shards parameters (ZeRO-3, FSDP): there every forward is
a collective, so a rank that split a batch alone would run more forwards than the others and
desynchronise them (and the failed forward may already have left the others waiting inside one).
The error then asks for a smaller ``scoring_tokens_per_batch``, which every rank applies alike.
Under DDP (and ZeRO-1/2) a rank splits on its own: the pass runs the unwrapped module, whose
forwards join no collective, and the results are gathered once at the end of the pass.
"""

from __future__ import annotations

import gc
from typing import Any, Callable, Iterator

import numpy as np
import torch

__all__ = ["HalvingForward", "ScoringOutOfMemoryError", "is_out_of_memory"]

_OOM_PHRASES = ("out of memory", "can't allocate memory", "cannot allocate memory")
"""How the CUDA, MPS and CPU allocators word a failed allocation."""


class ScoringOutOfMemoryError(RuntimeError):
    """A scoring pass's batch does not fit in memory and cannot be split further (or may not be)."""


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is a failed allocation (CUDA's ``OutOfMemoryError``, or a ``RuntimeError``
    of the CPU or MPS allocator), not another error a forward can raise."""
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and any(p in str(error).lower() for p in _OOM_PHRASES)


def release_cached_memory() -> None:
    """Give the allocator's cached blocks back, so the halves of a failed batch can use them."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if mps is not None and torch.backends.mps.is_available():
        mps.empty_cache()


class HalvingForward:
    """Calls ``forward(batch_ids)``, splitting a batch in halves on an out-of-memory error.

    Args:
        forward: one batch of ids to the pass's score inputs.
        lengths: token count per example (None: a batch's size is its number of rows).
        may_split: False under an engine that shards parameters (see the module's docstring).
        describe_engine: the engine, for the message when splitting is refused.
    """

    def __init__(self, forward: Callable[[np.ndarray], Any], lengths: np.ndarray | None = None, *,
                 may_split: bool = True, describe_engine: str = "") -> None:
        self.forward = forward
        self.lengths = lengths
        self.may_split = may_split
        self.describe_engine = describe_engine
        self.failed_size: int | None = None  # the smallest batch (padded tokens or rows) that ran out of memory
        self.fitted_size = 0  # the largest batch that ran since the first failure (0: none yet)
        self.splits = 0  # batches split so far

    def size(self, batch_ids: np.ndarray) -> int:
        """Padded tokens of a batch (rows x its longest row), or its rows without lengths."""
        if self.lengths is None or not len(batch_ids):
            return len(batch_ids)
        return len(batch_ids) * int(self.lengths[batch_ids].max())

    def __call__(self, batch_ids: np.ndarray) -> Iterator[tuple[np.ndarray, Any]]:
        """``(ids, score inputs)`` of ``batch_ids``, in order: one pair, or one per part it was split into."""
        batch_ids = np.asarray(batch_ids, dtype=np.int64)
        size = self.size(batch_ids)
        if self.may_split and len(batch_ids) > 1 and self._too_large(size):
            yield from self._halves(batch_ids)  # larger than what fits: do not pay a failed forward again
            return
        try:
            inputs = self.forward(batch_ids)
        except RuntimeError as error:  # torch.cuda.OutOfMemoryError is a RuntimeError
            if not is_out_of_memory(error):
                raise
            self._refuse_if_final(batch_ids, error)
            inputs = None  # the error (and the frames holding its tensors) is dropped before retrying
        if inputs is not None:
            if self.failed_size is not None:
                self.fitted_size = max(self.fitted_size, size)
            yield batch_ids, inputs
            return
        self.failed_size = size if self.failed_size is None else min(self.failed_size, size)
        release_cached_memory()
        yield from self._halves(batch_ids)

    def _too_large(self, size: int) -> bool:
        """Whether a batch of ``size`` is known not to fit: as large as one that failed, or larger than
        every one that has fit since the first failure."""
        if self.failed_size is None:
            return False
        return size >= self.failed_size or (self.fitted_size > 0 and size > self.fitted_size)

    def _halves(self, batch_ids: np.ndarray) -> Iterator[tuple[np.ndarray, Any]]:
        self.splits += 1
        half = (len(batch_ids) + 1) // 2  # the longest rows first: the first half is the larger one
        yield from self(batch_ids[:half])
        yield from self(batch_ids[half:])

    def _refuse_if_final(self, batch_ids: np.ndarray, error: BaseException) -> None:
        longest = "" if self.lengths is None else f" (longest row: {int(self.lengths[batch_ids].max())} tokens)"
        if not self.may_split:
            raise ScoringOutOfMemoryError(
                f"a scoring-pass batch of {len(batch_ids)} examples{longest} ran out of memory under "
                f"{self.describe_engine}, whose forwards are collectives over every rank, so the batch cannot be "
                "split on one rank alone: give the diet a smaller scoring_tokens_per_batch (and/or "
                "scoring_batch_size), e.g. DataDiet(..., scoring_tokens_per_batch=4096), which every rank applies alike"
            ) from error
        if len(batch_ids) == 1:
            raise ScoringOutOfMemoryError(
                f"one example alone (id {int(batch_ids[0])}{longest}) does not fit in memory for a scoring pass's "
                "forward, after halving its batch down to one row: shorten the longest examples (truncate to a "
                "max_length), score in lower precision (bf16=True / autocast=torch.bfloat16) or free the device "
                "memory that other tensors hold"
            ) from error
