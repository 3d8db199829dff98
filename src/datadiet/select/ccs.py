"""Coverage-centric coreset selection, CCS (Zheng, Liu, Li, Shen & Li, ICLR 2023,
"Coverage-centric Coreset Selection for High Pruning Rates").

Keeping only the hardest examples collapses at high pruning rates: the kept set covers the data
distribution poorly. CCS first drops the hardest ``beta`` fraction (the likeliest mislabelled or
unlearnable ones), then spreads the budget evenly over ``num_strata`` equal-width score strata,
filling the sparsest strata first (their budget split), sampling uniformly inside each stratum.
"""

from __future__ import annotations

import numpy as np

from datadiet.select.selection import Selection
from datadiet.select.validation import check_scores, kept_count


def stratum_quotas(sizes: np.ndarray, budget: int) -> np.ndarray:
    """How many examples each stratum gives, the CCS way: visit strata from the smallest, each
    takes ``min(size, remaining budget // strata left)``; the total is ``min(budget, sum(sizes))``."""
    sizes = np.asarray(sizes, dtype=np.int64)
    quota = np.zeros(len(sizes), dtype=np.int64)
    remaining = int(budget)
    order = np.lexsort((np.arange(len(sizes)), sizes))  # smallest first, ties by stratum index
    left = int((sizes > 0).sum())
    for s in order:
        if sizes[s] == 0:
            continue
        take = min(int(sizes[s]), remaining // left)
        quota[s] = take
        remaining -= take
        left -= 1
    return quota


def coverage_centric(scores: np.ndarray, keep: float, rng: np.random.Generator, beta: float = 0.1,
                     num_strata: int = 50) -> Selection:
    """Keep ``round(keep * N)`` examples: drop the hardest ``beta * N`` (``beta`` is lowered so
    that at least the budget remains), cut the rest's score range into ``num_strata`` equal-width
    strata and draw each stratum's quota (:func:`stratum_quotas`) uniformly without replacement.

    Infinite scores (never learned) count as the hardest. Deterministic given ``rng``.

    Example:
        >>> s = np.array([0.0, 0.1, 0.2, 0.3, 0.9, 1.0])
        >>> coverage_centric(s, keep=0.5, rng=np.random.default_rng(0), beta=1/6, num_strata=3).indices.size
        3
    """
    s = check_scores(scores)
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta is the hardest fraction pruned first, in [0, 1); got {beta}")
    if int(num_strata) < 1:
        raise ValueError(f"num_strata must be >= 1, got {num_strata}")
    n = len(s)
    k = kept_count(keep, n)
    n_hard = min(int(round(beta * n)), n - k)
    order = np.lexsort((np.arange(n), -s))  # hardest first, ties by id
    pool = np.sort(order[n_hard:])
    ps = s[pool]
    finite = np.isfinite(ps)
    lo, hi = (ps[finite].min(), ps[finite].max()) if finite.any() else (0.0, 0.0)
    if hi > lo:
        stratum = np.minimum(((ps - lo) / (hi - lo) * num_strata).astype(np.int64), num_strata - 1)
    else:
        stratum = np.zeros(len(pool), dtype=np.int64)
    stratum[~finite] = num_strata - 1
    sizes = np.bincount(stratum, minlength=num_strata)
    quota = stratum_quotas(sizes, k)
    picked = np.concatenate([rng.choice(pool[stratum == i], size=q, replace=False) for i, q in enumerate(quota) if q]
                            or [np.zeros(0, np.int64)])
    if len(picked) < k:  # rounding left a few slots: fill them uniformly from the rest of the pool
        rest = np.setdiff1d(pool, picked, assume_unique=True)
        picked = np.concatenate([picked, rng.choice(rest, size=k - len(picked), replace=False)])
    return Selection.of(picked)
