"""Random selection: the baseline every pruning method must beat."""

from __future__ import annotations

import numpy as np

from datadiet.select.selection import Selection
from datadiet.select.validation import kept_count


def random_subset(num_examples: int, keep: float, rng: np.random.Generator) -> Selection:
    """``round(keep * N)`` examples drawn uniformly without replacement."""
    k = kept_count(keep, num_examples)
    return Selection.of(rng.choice(num_examples, size=k, replace=False))
