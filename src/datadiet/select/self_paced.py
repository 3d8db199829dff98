"""Self-paced eligibility and the P3 per-epoch selection (Yang et al. 2024, arXiv 2408.05541).

Self-paced learning (Kumar et al. 2010) trains first on the examples the model finds easy and
widens the set as training goes on. P3 uses a percentile threshold on its policy-driven difficulty:
in epoch e of E, the examples whose difficulty is at most the ``P_e``-th percentile are eligible,
with ``P_e`` going from ``start`` (50) to ``end`` (95); a DPP then picks a diverse, hard-leaning
subset of ``budget`` examples among the eligible ones (:mod:`datadiet.select.dpp`).

Functions are pure; randomness comes only from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import math

import numpy as np

from datadiet.select.dpp import dpp_greedy_map
from datadiet.select.selection import Selection

__all__ = ["PERCENTILE_SHAPES", "select_p3", "self_paced_eligible", "self_paced_percentile"]

PERCENTILE_SHAPES = ("linear", "cosine", "sqrt", "step")
"""Schedules of :func:`self_paced_percentile`, as a function of progress ``t = e / (E - 1)``:

- ``linear``: ``start + (end - start) * t`` (P3's schedule);
- ``cosine``: ``start + (end - start) * (1 - cos(pi t)) / 2`` (slow at both ends);
- ``sqrt``: ``start + (end - start) * sqrt(t)`` (widens fast early, as in competence-based
  curricula, Platanios et al. 2019);
- ``step``: ``start`` for the first half of training (``t < 0.5``), ``end`` afterwards.
"""


def self_paced_percentile(
    epoch: int, num_epochs: int, start: float = 50.0, end: float = 95.0, shape: str = "linear"
) -> float:
    """The eligibility percentile ``P_e`` for epoch ``epoch`` (0-based) of ``num_epochs``.

    P3's schedule is ``linear``: ``P_e = start + (end - start) * e / (E - 1)``, so the first epoch
    uses ``start`` and the last ``end``. Other shapes are listed in :data:`PERCENTILE_SHAPES`.
    With a single epoch there is no schedule: it returns ``end`` (the widest set).

    Example:
        >>> [self_paced_percentile(e, 4) for e in range(4)]
        [50.0, 65.0, 80.0, 95.0]
    """
    if shape not in PERCENTILE_SHAPES:
        raise ValueError(f"unknown shape {shape!r}; choose one of {', '.join(PERCENTILE_SHAPES)}")
    if int(num_epochs) < 1:
        raise ValueError(f"num_epochs must be >= 1, got {num_epochs}")
    if not 0 <= int(epoch) < int(num_epochs):
        raise ValueError(f"epoch must be in [0, num_epochs - 1] = [0, {int(num_epochs) - 1}], got {epoch}")
    for name, value in (("start", start), ("end", end)):
        if not 0.0 <= float(value) <= 100.0:
            raise ValueError(f"{name} must be a percentile in [0, 100], got {value}")
    if num_epochs == 1:
        return float(end)
    t = int(epoch) / (int(num_epochs) - 1)
    if shape == "linear":
        w = t
    elif shape == "cosine":
        w = (1.0 - math.cos(math.pi * t)) / 2.0
    elif shape == "sqrt":
        w = math.sqrt(t)
    else:  # step
        w = 0.0 if t < 0.5 else 1.0
    return float(start) + (float(end) - float(start)) * w


def self_paced_eligible(difficulty, percentile: float) -> np.ndarray:
    """Indices (sorted) of the examples with ``d <= percentile(d, P)``: the easy ones first.

    The percentile is taken over the *finite* difficulties (numpy's default linear
    interpolation), so it means "P% of the examples that could be scored". Infinitely hard
    examples (no action to score) are never eligible, unless every difficulty is infinite, in which
    case all examples are (nothing else is left to train on). NaN raises ``ValueError``.

    Example:
        >>> self_paced_eligible([0.1, 0.9, 0.5, float("inf")], 50).tolist()
        [0, 2]
    """
    d = np.asarray(difficulty, dtype=np.float64)
    if d.ndim != 1 or len(d) == 0:
        raise ValueError(f"difficulty must be a non-empty 1-d array, got shape {d.shape}")
    if np.isnan(d).any():
        raise ValueError(f"difficulty has NaN at indices {np.flatnonzero(np.isnan(d))[:5].tolist()}")
    if not 0.0 <= float(percentile) <= 100.0:
        raise ValueError(f"percentile must be in [0, 100], got {percentile}")
    finite = np.isfinite(d)
    if not finite.any():
        return np.arange(len(d), dtype=np.int64)
    threshold = np.percentile(d[finite], float(percentile))
    return np.flatnonzero(finite & (d <= threshold)).astype(np.int64)


def select_p3(
    difficulty,
    features,
    epoch: int,
    num_epochs: int,
    budget: int,
    *,
    start: float = 50.0,
    end: float = 95.0,
    shape: str = "linear",
    theta: float | None = None,
    eps: float = 1e-10,
    rng: np.random.Generator | None = None,
) -> Selection:
    """One epoch of P3's selection: self-paced eligibility, then a DPP of size ``budget``.

    Steps (Yang et al. 2024, sec. 3): ``P = self_paced_percentile(epoch, num_epochs, start, end,
    shape)``; ``eligible = self_paced_eligible(difficulty, P)``; among the eligible examples, the
    DPP greedy MAP (:func:`~datadiet.select.dpp.dpp_greedy_map`) with quality ``q = difficulty``
    (the harder eligible examples are preferred) and cosine similarity of ``features``.

    Fallback when fewer than ``budget`` examples are eligible: all eligible examples are kept and
    the rest of the budget is filled with the next-easiest non-eligible examples (lowest finite
    difficulty first, then the infinitely hard ones; ties by ``rng`` order, or index without
    ``rng``), which is what widening the percentile just enough would do. When every difficulty is
    infinite the DPP runs with equal qualities (pure diversity).

    Args:
        difficulty: ``(N,)`` policy-driven difficulty of every example (``+inf`` = no action).
        features: ``(N, d)`` diversity features (e.g. pooled hidden states from the scoring pass).
        epoch, num_epochs: the 0-based epoch and the total number of epochs.
        budget: examples to keep this epoch, ``1 <= budget <= N``.
        start, end, shape: the percentile schedule (see :func:`self_paced_percentile`).
        theta, eps: passed to :func:`~datadiet.select.dpp.dpp_greedy_map`.
        rng: tie-breaking in the DPP and in the fill-up; ``None`` = by index.

    Returns:
        A :class:`~datadiet.select.selection.Selection` of ``budget`` examples, weight 1.

    Example:
        >>> import numpy as np
        >>> d = np.array([0.1, 0.2, 0.3, 0.8, 0.9, np.inf])
        >>> f = np.eye(6)
        >>> select_p3(d, f, epoch=0, num_epochs=3, budget=2).indices.tolist()   # eligible: 0, 1, 2
        [1, 2]
    """
    d = np.asarray(difficulty, dtype=np.float64)
    n = len(d) if d.ndim == 1 else -1
    f = np.asarray(features)
    if f.ndim != 2 or f.shape[0] != n:
        raise ValueError(f"features must have shape (N, d) with N = len(difficulty) = {n}, got {f.shape}")
    if isinstance(budget, (bool, np.bool_)) or not isinstance(budget, (int, np.integer)):
        raise TypeError(f"budget must be an int, got {type(budget).__name__}")
    if not 1 <= int(budget) <= n:
        raise ValueError(f"budget must be in [1, N] = [1, {n}], got {budget}")
    budget = int(budget)

    percentile = self_paced_percentile(epoch, num_epochs, start, end, shape)
    eligible = self_paced_eligible(d, percentile)

    if len(eligible) <= budget:
        rest = np.setdiff1d(np.arange(n), eligible, assume_unique=True)
        prio = rng.permutation(n) if rng is not None else np.arange(n)
        # Next-easiest first: sort by (difficulty, priority); +inf sorts last.
        order = np.lexsort((prio[rest], d[rest]))
        fill = rest[order[: budget - len(eligible)]]
        return Selection.of(np.concatenate([eligible, fill]))

    quality = d[eligible]
    if not np.isfinite(quality).all():  # only when every difficulty is +inf
        quality = np.ones(len(eligible))
    picks = dpp_greedy_map(f[eligible], quality, budget, theta=theta, eps=eps, rng=rng)
    return Selection.of(eligible[picks])
