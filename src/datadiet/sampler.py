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
    """

    def __init__(self, diet: SelectionSource, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, drop_last: bool = False) -> None:
        default_rank, default_size = world()
        self.diet = diet
        self.num_replicas = default_size if num_replicas is None else int(num_replicas)
        self.rank = default_rank if rank is None else int(rank)
        if not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"rank {self.rank} is outside [0, {self.num_replicas})")
        self.shuffle = shuffle
        self.drop_last = drop_last

    def _num_samples(self, total: int) -> int:
        if self.drop_last:
            return total // self.num_replicas
        return math.ceil(total / self.num_replicas)

    def epoch_order(self) -> np.ndarray:
        """The whole (unsharded, padded) order of this epoch, identical on every rank."""
        selection = self.diet.selection
        order = selection.indices
        if self.shuffle:
            order = order[epoch_rng(self.diet.seed, self.diet.epoch, "sampler").permutation(len(order))]
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
