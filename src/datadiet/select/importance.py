"""Hard pruning made unbiased: the hardest examples kept, the rest sampled and reweighted."""

from __future__ import annotations

import numpy as np

from datadiet.select.quantile import hardest_first
from datadiet.select.selection import Selection
from datadiet.select.validation import kept_count


def hard_and_sampled(scores: np.ndarray, keep: float, hard_share: float, rng: np.random.Generator) -> Selection:
    """Keep ``round(hard_share * k)`` of the ``k = round(keep * N)`` slots for the hardest examples
    (weight 1) and fill the other ``m`` slots uniformly from the remaining ``R`` examples, each with
    loss weight ``R / m``: every remaining example is drawn with probability ``p = m / R`` and its
    weight is ``1 / p``, so the expected weighted loss of the epoch is the full-data loss.

    It is the importance-sampling form of a kept budget (a fixed-size version of InfoBatch's
    soft pruning, Qin et al. 2024, with the hardest share kept as in Attendu & Corbeil 2023): no
    region of the data disappears from the expected gradient, however small ``keep`` is.
    ``hard_share = 1`` is the plain hardest-``k`` band; ``hard_share = 0`` is a uniform sample
    reweighted to the full-data mean.
    """
    if not 0.0 <= hard_share <= 1.0:
        raise ValueError(f"hard_share is the share of kept slots given to the hardest examples, in [0, 1]; got {hard_share}")
    order = hardest_first(scores)
    n = len(order)
    k = kept_count(keep, n)
    n_hard = int(round(hard_share * k))
    hard, rest = order[:n_hard], order[n_hard:]
    n_sampled = k - n_hard
    if n_sampled == 0:
        return Selection.of(hard)
    sampled = rng.choice(rest, size=n_sampled, replace=False)
    weights = np.concatenate([np.ones(n_hard), np.full(n_sampled, len(rest) / n_sampled)])
    return Selection.of(np.concatenate([hard, sampled]), weights)
