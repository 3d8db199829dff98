"""InfoBatch soft pruning with unbiased rescaling (Qin et al., ICLR 2024)."""

from __future__ import annotations

import numpy as np

from datadiet.select.selection import Selection
from datadiet.select.validation import check_scores


def well_learned(losses: np.ndarray) -> np.ndarray:
    """Ids of InfoBatch's well-learned examples: finite loss strictly below the mean finite loss
    (float64 mean; +inf marks an example never scored)."""
    s = check_scores(losses)
    finite = np.isfinite(s)
    if not finite.any():
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(finite & (s < s[finite].mean(dtype=np.float64)))


def infobatch_prune(losses: np.ndarray, prune_ratio: float, rng: np.random.Generator) -> Selection:
    """Drop a random fraction ``r`` of the well-learned examples ``{loss < mean loss}`` and weight the
    kept well-learned ones by ``1 / (1 - r)`` so the expected gradient is unchanged.

    ``round(r * W)`` of the ``W`` well-learned examples are dropped, so the weight uses the ratio
    actually realised, ``W / (W - dropped)``: each well-learned example is kept with probability
    ``(W - dropped) / W`` and its weight undoes exactly that (with ``1 / (1 - r)`` a small group,
    e.g. ``W = 2`` at ``r = 0.375``, would be weighted 1.6 where 2 is unbiased).

    The mean is taken in float64 and the comparison is strict, so with all losses equal (e.g. the
    initial "high" value) nothing counts as well-learned (InfoBatch's code pruned half the data in
    that case through float rounding). Unscored examples (+inf) are never well-learned.
    """
    if not 0.0 <= prune_ratio < 1.0:
        raise ValueError(f"prune_ratio must be in [0, 1), got {prune_ratio}")
    n = len(losses)
    well = well_learned(losses)
    n_drop = min(int(round(prune_ratio * len(well))), len(well) - 1)  # keep one: the weights need it
    if n_drop <= 0:
        return Selection.full(n)
    dropped = rng.choice(well, size=n_drop, replace=False)
    keep_mask = np.ones(n, dtype=bool)
    keep_mask[dropped] = False
    kept = np.flatnonzero(keep_mask)
    weights = np.ones(n, dtype=np.float32)
    weights[well] = len(well) / (len(well) - n_drop)
    return Selection.of(kept, weights[kept])
