"""Argument checks shared by the selectors."""

from __future__ import annotations

import numpy as np

from datadiet.validation import check_number


def check_keep(keep: float) -> float:
    """``keep`` must be a fraction in (0, 1]."""
    return check_number("keep (the kept fraction)", keep, 0.0, 1.0, low_open=True, hint="(e.g. keep=0.5 trains on half)")


def kept_count(keep: float, n: int) -> int:
    """``round(keep * n)``, at least 1: a selection is never empty."""
    return max(1, min(n, int(round(check_keep(keep) * n))))


def whole_examples(fraction: float, n: int) -> float:
    """``fraction`` of ``n`` examples rounded *down* to whole examples, as a fraction (0.0 when not
    even one fits): what a budget can pay for, where :func:`kept_count` would round up past it."""
    return np.floor(fraction * n + 1e-6) / n


def check_scores(scores: np.ndarray) -> np.ndarray:
    """Scores as float64; NaN or -inf raise naming the example ids (+inf means infinitely hard)."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"scores must be 1-d (one per example), got shape {s.shape}")
    bad = np.isnan(s) | np.isneginf(s)
    if bad.any():
        ids = np.flatnonzero(bad)
        raise ValueError(
            f"{len(ids)} examples have NaN or -inf scores (example ids {ids[:20].tolist()}"
            f"{' ...' if len(ids) > 20 else ''}); score every example before selecting "
            "(warm up for at least one epoch, or run a scoring pass)"
        )
    return s
