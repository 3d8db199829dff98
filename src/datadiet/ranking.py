"""Ranking rules: how an example's score history becomes the one number it is ranked by.

One signature, ``ScoreHistory -> (N,) scores`` (NaN = never scored); adding a rule is one function
plus one :func:`register_ranking` call. Formulas: ``docs/methods.md`` ("Smoothing scores over
time", "Forgetting events").
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from datadiet.history import ScoreHistory
from datadiet.validation import UnknownName

RankingFn = Callable[[ScoreHistory], np.ndarray]

_RANKINGS: dict[str, tuple[RankingFn, str]] = {}


def register_ranking(name: str, fn: RankingFn, description: str = "") -> None:
    """Add a ranking rule (raises if the name is taken)."""
    if name in _RANKINGS:
        raise ValueError(f"a ranking rule named {name!r} is already registered")
    _RANKINGS[name] = (fn, description)


def get_ranking(name: str) -> RankingFn:
    """The rule registered as ``name``; an unknown name raises :class:`~datadiet.validation.UnknownName`
    (a ``ValueError``) listing the valid ones."""
    try:
        return _RANKINGS[name][0]
    except KeyError:
        raise UnknownName("smoothing", name, _RANKINGS) from None


def ucb(history: ScoreHistory) -> np.ndarray:
    """EMA + c * exponentially weighted std (Raju et al. 2021, "Accelerating Deep Learning with
    Dynamic Data Pruning"; the std term is 0 until an example's second observation)."""
    return history.ema + history.ucb_c * np.sqrt(history.ew_var)


def ucb_unbiased(history: ScoreHistory) -> np.ndarray:
    """EMA + c * the bias-corrected exponentially weighted std, as the public code of NLU on Data
    Diets (Attendu & Corbeil 2023) ranks joint-NLU examples (pandas ``ewm(alpha, adjust=False)``
    mean and ``std()``): with EMA weights ``w`` (summing to 1), the unbiased variance is the biased
    one divided by ``1 - sum(w^2)``. The std term is 0 until an example's second observation."""
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(history.count >= 2, history.ew_var / (1.0 - history.ew_weight_sq), 0.0)
    return history.ema + history.ucb_c * np.sqrt(np.maximum(var, 0.0))


register_ranking("latest", lambda h: h.latest.copy(), "the latest observed score")
register_ranking("ema", lambda h: h.ema.copy(), "exponential moving average of the scores (alpha = 0.8)")
register_ranking("ucb", ucb, "EMA + c x exponentially weighted std: explores uncertain examples (Raju et al. 2021)")
register_ranking("ucb_unbiased", ucb_unbiased,
                 "EMA + c x bias-corrected exponentially weighted std (NLU on Data Diets' code for joint NLU)")
register_ranking("forgetting", lambda h: h.forgetting_scores(),
                 "forgetting events, never learned = hardest (Toneva et al. 2019); any observed score works")
