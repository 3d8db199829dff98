"""Random generators derived from (seed, epoch, purpose): no global RNG anywhere in the library."""

from __future__ import annotations

import zlib

import numpy as np


def epoch_rng(seed: int, epoch: int, purpose: str) -> np.random.Generator:
    """A generator that depends only on ``(seed, epoch, purpose)``, so every rank of a distributed
    run, and a run resumed from a checkpoint, draws the identical numbers."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(epoch), zlib.crc32(purpose.encode())])
