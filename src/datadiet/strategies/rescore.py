"""Which examples a selection epoch re-scores with a forward-only pass."""

from __future__ import annotations

import numpy as np

from datadiet.history import ScoreHistory
from datadiet.rng import epoch_rng
from datadiet.validation import check_number

RESCORE = ("all", "stale", "none")
"""``all``: every example (the paper's protocol). ``stale``: those not seen in training in the last
epoch, oldest first (random among equals), at most ``fraction * N``; never-scored examples always.
``none``: only never-scored examples."""


COLD_STARTS = ("score", "random")
"""How a run without warm-up makes its first selection: ``score`` (a forward-only pass scores every
example with the model as it is) or ``random`` (the first epoch trains a uniform random subset with
no pass; the next selection's pass scores the examples it did not train)."""


def check_cold_start(cold_start: str, warmup_epochs: int) -> None:
    if cold_start not in COLD_STARTS:
        raise ValueError(f"unknown cold_start {cold_start!r}; valid: {', '.join(COLD_STARTS)}")
    if cold_start == "random" and warmup_epochs:
        raise ValueError("cold_start='random' replaces the warm-up: it needs warmup_epochs=0")


def check_rescore(policy: str, fraction: float) -> None:
    if policy not in RESCORE:
        raise ValueError(f"unknown rescore policy {policy!r}; valid: {', '.join(RESCORE)}")
    check_number("rescore_fraction", fraction, 0.0, 1.0)


def ids_to_rescore(policy: str, fraction: float, history: ScoreHistory, epoch: int, seed: int) -> np.ndarray:
    """The example ids to re-score at ``epoch`` under ``policy`` (see :data:`RESCORE`)."""
    n = history.num_examples
    if policy == "all":
        return np.arange(n, dtype=np.int64)
    never = np.flatnonzero(history.count == 0)
    if policy == "none":
        return never
    budget = int(round(fraction * n))
    age = history.age(epoch)
    candidates = np.flatnonzero((age > 1) & (history.count > 0))
    if budget and len(candidates):
        tiebreak = epoch_rng(seed, epoch, "rescore").random(len(candidates))
        candidates = candidates[np.lexsort((tiebreak, -age[candidates]))][:budget]
    else:
        candidates = candidates[:0]
    return np.union1d(never, candidates)
