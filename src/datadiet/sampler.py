"""A ``torch.utils.data.Sampler`` over the current selection, sharded like ``DistributedSampler``."""

from __future__ import annotations

import math
from typing import Iterator, Protocol

import numpy as np
from torch.utils.data import Sampler

from datadiet.distributed import world
from datadiet.rng import epoch_rng
from datadiet.select.selection import Selection


class SelectionSource(Protocol):
    """What the sampler reads: the current epoch's selection, the epoch and the seed
    (a :class:`~datadiet.DataDiet` is one)."""

    selection: Selection
    epoch: int
    seed: int


MEGABATCH_BATCHES = 50
"""Batches per megabatch of :func:`length_grouped` (the Hugging Face Trainer's grouping uses 50 too)."""


def length_grouped(order: np.ndarray, lengths: np.ndarray, batch_size: int) -> np.ndarray:
    """``order`` rearranged so consecutive batches hold examples of similar length (less padding),
    still random at a larger scale: split into megabatches of ``MEGABATCH_BATCHES x batch_size``
    examples, each sorted longest first, and the longest example of all moved to the very first
    position (a batch too large for memory fails at the first step, not hours in)."""
    order = np.asarray(order, dtype=np.int64)
    if not len(order):
        return order
    size = MEGABATCH_BATCHES * batch_size
    parts = [part[np.argsort(-lengths[part], kind="stable")] for part in np.split(order, range(size, len(order), size))]
    grouped = np.concatenate(parts)
    longest = int(np.argmax(lengths[grouped]))
    grouped[[0, longest]] = grouped[[longest, 0]]
    return grouped


class DietSampler(Sampler[int]):
    """Yields the diet's current selection, shuffled by ``(seed, epoch)``, and this rank's shard of it.

    Sharding follows ``torch.utils.data.DistributedSampler``: the shuffled selection is padded by
    repeating its start to a multiple of ``num_replicas`` (or truncated with ``drop_last``) and rank
    r takes positions r, r + R, r + 2R, ... The selection changes when ``diet.begin_epoch`` runs;
    the sampler always reads the current one, so it never needs rebuilding.

    Args:
        diet: whose selection to yield (a :class:`~datadiet.DataDiet`, or any :class:`SelectionSource`).
        num_replicas, rank: the data-parallel world; default: the default process group's, or 1 / 0.
            Pass ``num_replicas=1`` where something else shards the batches (accelerate does, inside
            the Hugging Face Trainer).
        shuffle: shuffle the selection each epoch (else id order).
        drop_last: drop the tail instead of padding it to a multiple of ``num_replicas``.
        lengths: token count of every example of the training set; with it (and ``batch_size``:
            batch x gradient accumulation, which sets the megabatch size) the shuffled selection is
            grouped by length (:func:`length_grouped`), like the Trainer's ``group_by_length``.
    """

    def __init__(self, diet: SelectionSource, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, drop_last: bool = False, lengths: np.ndarray | None = None,
                 batch_size: int | None = None) -> None:
        default_rank, default_size = world()
        self.diet = diet
        self.num_replicas = default_size if num_replicas is None else int(num_replicas)
        self.rank = default_rank if rank is None else int(rank)
        if not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"rank {self.rank} is outside [0, {self.num_replicas})")
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.lengths = None if lengths is None else np.asarray(lengths, dtype=np.int64)
        if self.lengths is not None:
            if self.lengths.ndim != 1:
                raise ValueError(f"lengths must be one token count per example, got shape {self.lengths.shape}")
            if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
                raise ValueError(f"grouping by length needs batch_size, an int >= 1; got {batch_size!r}")
        self.batch_size = batch_size

    def _num_samples(self, total: int) -> int:
        if self.drop_last:
            return total // self.num_replicas
        return math.ceil(total / self.num_replicas)

    def epoch_order(self) -> np.ndarray:
        """The whole (unsharded, padded) order of this epoch, identical on every rank."""
        if self.diet.epoch < 0:
            raise RuntimeError("the sampler has no epoch to yield yet: call diet.begin_epoch(epoch, model=..., "
                               "dataset=..., collate_fn=...) at the start of every epoch, before iterating the "
                               "DataLoader (DataDietTrainer does it for you)")
        selection = self.diet.selection
        order = selection.indices
        if self.shuffle:
            order = order[epoch_rng(self.diet.seed, self.diet.epoch, "sampler").permutation(len(order))]
        if self.lengths is not None:
            if len(order) and int(order.max()) >= len(self.lengths):
                raise ValueError(f"the selection holds example {int(order.max())} but lengths has "
                                 f"{len(self.lengths)} entries: give one token count per training example")
            order = length_grouped(order, self.lengths, self.batch_size)
        per_rank = self._num_samples(len(order))
        total = per_rank * self.num_replicas
        if total > len(order):
            order = np.resize(order, total)  # repeats from the start, like DistributedSampler
        return order[:total]

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_order()[self.rank :: self.num_replicas].tolist())

    def __len__(self) -> int:
        return self._num_samples(len(self.diet.selection))

    def set_epoch(self, epoch: int) -> None:
        """Accepted for ``DistributedSampler`` compatibility; the epoch is the diet's (``begin_epoch``)."""
