"""InfoBatch soft pruning with unbiased rescaling (Qin et al., ICLR 2024)."""

from __future__ import annotations

import numpy as np

from datadiet.select.selection import Selection
from datadiet.select.validation import check_scores


def infobatch_prune(losses: np.ndarray, prune_ratio: float, rng: np.random.Generator) -> Selection:
    """Drop a random fraction ``r`` of the well-learned examples ``{loss < mean loss}`` and weight the
    kept well-learned ones by ``1 / (1 - r)`` so the expected gradient is unchanged.

    The mean is taken in float64 and the comparison is strict, so with all losses equal (e.g. the
    initial "high" value) nothing counts as well-learned (InfoBatch's code pruned half the data in
    that case through float rounding). Unscored examples (+inf) are never well-learned.
    """
    if not 0.0 <= prune_ratio < 1.0:
        raise ValueError(f"prune_ratio must be in [0, 1), got {prune_ratio}")
    s = check_scores(losses)
    finite = np.isfinite(s)
    n = len(s)
    if not finite.any():
        return Selection.full(n)
    mean = s[finite].mean(dtype=np.float64)
    well = np.flatnonzero(finite & (s < mean))
    n_drop = int(round(prune_ratio * len(well)))
    if n_drop == 0:
        return Selection.full(n)
    dropped = rng.choice(well, size=n_drop, replace=False)
    keep_mask = np.ones(n, dtype=bool)
    keep_mask[dropped] = False
    kept = np.flatnonzero(keep_mask)
    weights = np.ones(n, dtype=np.float32)
    weights[well] = 1.0 / (1.0 - prune_ratio)
    return Selection.of(kept, weights[kept])
