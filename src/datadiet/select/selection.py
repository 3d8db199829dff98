"""The result of a selection: which examples an epoch trains on, and with what loss weight."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Selection:
    """Indices of the examples kept for an epoch and their per-example loss weights.

    Attributes:
        indices: sorted, unique ``int64`` example ids (positions in the training set).
        weights: ``float32`` loss weight of each kept example, aligned with ``indices``
            (1.0 except for soft pruning such as InfoBatch's ``1 / (1 - r)`` rescaling).
    """

    indices: np.ndarray
    weights: np.ndarray
    uniform: bool = field(init=False, repr=False, compare=False)
    """Every kept example has weight 1 (the loss needs no reweighting)."""

    def __post_init__(self) -> None:
        idx = np.asarray(self.indices, dtype=np.int64)
        w = np.ones(len(idx), dtype=np.float32) if self.weights is None else np.asarray(self.weights, np.float32)
        if idx.ndim != 1 or w.shape != idx.shape:
            raise ValueError(f"indices and weights must be 1-d and aligned, got {idx.shape} and {w.shape}")
        if len(idx) == 0:
            raise ValueError("a selection can never be empty: keep at least one example")
        order = np.argsort(idx, kind="stable")
        idx, w = idx[order], w[order]
        if len(idx) > 1 and np.any(idx[1:] == idx[:-1]):
            raise ValueError("selection indices must be unique")
        object.__setattr__(self, "indices", idx)
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "uniform", bool(np.all(w == 1.0)))

    @classmethod
    def of(cls, indices, weights=None) -> "Selection":
        """Build a selection; ``weights=None`` means weight 1 for every kept example."""
        return cls(np.asarray(indices, dtype=np.int64), weights)

    @classmethod
    def full(cls, n: int) -> "Selection":
        """Every example of an ``n``-example training set, weight 1."""
        return cls(np.arange(n, dtype=np.int64), None)

    def __len__(self) -> int:
        return len(self.indices)

    def weights_of(self, example_ids) -> np.ndarray:
        """The loss weight of each of ``example_ids`` (0 for an example not kept): a binary search in
        the sorted indices, ``O(B log K)`` per batch, with no array of the training set's size."""
        ids = np.asarray(example_ids, dtype=np.int64).reshape(-1)
        pos = np.minimum(np.searchsorted(self.indices, ids), len(self.indices) - 1)
        return np.where(self.indices[pos] == ids, self.weights[pos], 0.0).astype(np.float32)

    def weight_lookup(self, n: int) -> np.ndarray:
        """A length-``n`` array with each kept example's weight (0 for pruned ones)."""
        out = np.zeros(n, dtype=np.float32)
        out[self.indices] = self.weights
        return out
