"""Score-based selection: the quantile band, epsilon-greedy exploration, class-balanced bands."""

from __future__ import annotations

import numpy as np

from datadiet.select.selection import Selection
from datadiet.select.validation import check_scores, kept_count


def hardest_first(scores: np.ndarray) -> np.ndarray:
    """Example ids ordered from the highest score to the lowest, ties broken by the lower id
    (deterministic, so every rank and every resumed run agrees)."""
    s = check_scores(scores)
    return np.lexsort((np.arange(len(s)), -s))


def quantile_band(scores: np.ndarray, keep: float, offset: float = 0.0) -> Selection:
    """Keep exactly ``round(keep * N)`` examples whose score lies in the band
    ``[Q(1 - offset - keep), Q(1 - offset)]`` (Attendu & Corbeil 2023; offset 0 keeps the hardest).

    Ranks are taken hardest first with ties broken by id, so ties at a quantile bound never make the
    selection larger than ``round(keep * N)``. When ``offset + keep > 1`` the band is moved down
    to end at the easiest example.
    """
    if not 0.0 <= offset < 1.0:
        raise ValueError(f"offset is the fraction of hardest examples skipped, in [0, 1); got {offset}")
    order = hardest_first(scores)
    n = len(order)
    k = kept_count(keep, n)
    start = min(int(round(offset * n)), n - k)
    return Selection.of(order[start : start + k])


def epsilon_greedy(scores: np.ndarray, keep: float, epsilon: float, rng: np.random.Generator, offset: float = 0.0) -> Selection:
    """Keep ``(1 - eps) * kN`` examples from the quantile band and ``eps * kN`` uniformly from the rest
    (Raju et al. 2021, "Accelerating Deep Learning with Dynamic Data Pruning")."""
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    n = len(scores)
    k = kept_count(keep, n)
    n_explore = int(round(epsilon * k))
    if n_explore == 0:
        return quantile_band(scores, keep, offset)
    n_greedy = k - n_explore
    order = hardest_first(scores)
    start = min(int(round(offset * n)), n - k)
    greedy = order[start : start + n_greedy]
    rest = np.setdiff1d(np.arange(n), greedy, assume_unique=True)
    explore = rng.choice(rest, size=n_explore, replace=False)
    return Selection.of(np.concatenate([greedy, explore]))


def class_quotas(labels: np.ndarray, keep: float) -> dict[int, int]:
    """Kept count per class: ``keep * n_c`` rounded by largest remainder so the total is exactly
    ``round(keep * N)``, and at least one example of every class (no class vanishes)."""
    classes, counts = np.unique(np.asarray(labels), return_counts=True)
    total = kept_count(keep, int(counts.sum()))
    if total < len(classes):
        raise ValueError(
            f"keep={keep} keeps {total} examples but there are {len(classes)} classes; a class-balanced "
            "selection keeps at least one per class: raise keep"
        )
    exact = keep * counts
    quota = np.maximum(np.floor(exact).astype(np.int64), 1)
    remainder = exact - np.floor(exact)
    # hand out (or take back) the difference by largest (smallest) remainder, never below 1
    diff = total - int(quota.sum())
    order = np.lexsort((classes, -remainder)) if diff > 0 else np.lexsort((classes, remainder))
    i = 0
    while diff != 0:
        c = order[i % len(order)]
        if diff > 0 and quota[c] < counts[c]:
            quota[c] += 1
            diff -= 1
        elif diff < 0 and quota[c] > 1:
            quota[c] -= 1
            diff += 1
        i += 1
    return {int(c): int(q) for c, q in zip(classes, quota)}


def class_balanced_band(scores: np.ndarray, labels: np.ndarray, keep: float, offset: float = 0.0) -> Selection:
    """The quantile band applied within each class, with the per-class counts of
    :func:`class_quotas`: total exactly ``round(keep * N)``, and no class vanishes."""
    s = check_scores(scores)
    labels = np.asarray(labels)
    if labels.shape != s.shape:
        raise ValueError(f"labels must align with scores, got {labels.shape} and {s.shape}")
    picked = []
    for c, q in class_quotas(labels, keep).items():
        members = np.flatnonzero(labels == c)
        order = members[np.lexsort((members, -s[members]))]
        start = min(int(round(offset * len(members))), len(members) - q)
        picked.append(order[start : start + q])
    return Selection.of(np.concatenate(picked))
