"""Self-paced eligibility and the P3 per-epoch selection (Yang et al. 2024, arXiv 2408.05541).

Self-paced learning (Kumar et al. 2010) trains first on the examples the model finds easy and
widens the set as training goes on. P3 uses a percentile threshold on its policy-driven difficulty:
in epoch e of E, the examples whose difficulty is at most the ``P_e``-th percentile are eligible;
a DPP then picks a diverse subset of ``budget`` examples among them (:mod:`datadiet.select.dpp`).

Where the paper's text leaves a choice open, the defaults follow the authors' public code
(PPP_APEX): the schedule ``P_e = 20 (e + 1)`` for 5 epochs (shape ``"p3_code"``), the DPP quality
``q = mean action probability = 1 - d`` (the easier eligible examples are preferred) and each
feature dimension z-scored over the eligible examples before the cosine. The method card
``docs/methods/p3.md`` lists every rule and its source.

Functions are pure; randomness comes only from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import math

import numpy as np

from datadiet.select.dpp import dpp_greedy_map, theta_quality
from datadiet.select.selection import Selection

__all__ = [
    "P3_QUALITIES",
    "PERCENTILE_SHAPES",
    "STANDARDIZE_MODES",
    "p3_quality",
    "select_p3",
    "self_paced_eligible",
    "self_paced_percentile",
    "standardize_features",
]

PERCENTILE_SHAPES = ("p3_code", "linear", "cosine", "sqrt", "step")
"""Schedules of :func:`self_paced_percentile` for epoch ``e`` (0-based) of ``E``:

- ``p3_code``: ``start + (end - start) * (e + 1) / E``, the authors' code (PPP_APEX: ``20 e`` for
  ``e = 1..5``, i.e. the easiest ``e / E`` of the pool in epoch e). With the defaults
  ``start=0, end=100`` and ``E = 5`` it gives 20, 40, 60, 80, 100, and it stays valid for any E
  (always ending at ``end``);
- ``linear``: ``start + (end - start) * t`` with ``t = e / (E - 1)``, the formula of the paper's
  description (the first epoch uses ``start``, the last ``end``);
- ``cosine``: ``start + (end - start) * (1 - cos(pi t)) / 2`` (slow at both ends);
- ``sqrt``: ``start + (end - start) * sqrt(t)`` (widens fast early, as in competence-based
  curricula, Platanios et al. 2019);
- ``step``: ``start`` for the first half of training (``t < 0.5``), ``end`` afterwards.

A constant percentile (one version of the authors' code fixes 80) is ``start = end = 80`` with
any shape.
"""

STANDARDIZE_MODES = ("zscore", "center", "none")
"""What :func:`select_p3` does to the features of the eligible examples before the cosine:
z-score each dimension (the authors' code), only centre it, or nothing."""

P3_QUALITIES = ("easiness", "difficulty", "uniform")
"""DPP quality ``q_i`` of an eligible example with difficulty ``d_i`` (see :func:`p3_quality`):

- ``easiness``: ``q = 1 - d``, the mean action probability (the authors' code): inside the
  eligible set the easier examples are preferred;
- ``difficulty``: ``q = d``: the harder eligible examples are preferred (datadiet's earlier default);
- ``uniform``: ``q = 1``: pure diversity (the authors' code in its ``is_score=False`` variants).
"""


def self_paced_percentile(
    epoch: int, num_epochs: int, start: float = 0.0, end: float = 100.0, shape: str = "p3_code"
) -> float:
    """The eligibility percentile ``P_e`` for epoch ``epoch`` (0-based) of ``num_epochs``.

    The default is the authors' code: ``P_e = start + (end - start) * (e + 1) / E`` with
    ``start=0, end=100``, i.e. 20, 40, 60, 80, 100 for 5 epochs. Other shapes are listed in
    :data:`PERCENTILE_SHAPES`. With a single epoch every shape returns ``end`` (the widest set).

    Example:
        >>> [self_paced_percentile(e, 5) for e in range(5)]
        [20.0, 40.0, 60.0, 80.0, 100.0]
        >>> [self_paced_percentile(e, 4, start=50, end=95, shape="linear") for e in range(4)]
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
    if shape == "p3_code":
        w = (int(epoch) + 1) / int(num_epochs)
    else:
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


def p3_quality(difficulty, quality: str = "easiness") -> np.ndarray:
    """The DPP quality of examples with the given (finite) difficulties, float64, ``>= 0``.

    ``quality`` is one of :data:`P3_QUALITIES`. ``easiness`` is ``1 - d``, the mean action
    probability the authors' code uses; it is clipped at 0, which only matters for difficulties
    above 1 (P3's trend term ``d + alpha (d - d_prev)`` can push ``d`` there): such examples get
    quality 0 and come after every other pick. ``difficulty`` is ``d`` clipped at 0 likewise.

    Example:
        >>> p3_quality([0.25, 0.5, 1.05]).tolist()
        [0.75, 0.5, 0.0]
        >>> p3_quality([0.25, 0.5], "difficulty").tolist(), p3_quality([0.25, 0.5], "uniform").tolist()
        ([0.25, 0.5], [1.0, 1.0])
    """
    if quality not in P3_QUALITIES:
        raise ValueError(f"unknown quality {quality!r}; choose one of {', '.join(P3_QUALITIES)}")
    d = np.asarray(difficulty, dtype=np.float64)
    if quality == "uniform":
        return np.ones_like(d)
    q = 1.0 - d if quality == "easiness" else d.copy()
    return np.maximum(q, 0.0)


def standardize_features(features, rows=None, *, scale: bool = True, dtype=np.float32,
                         chunk_rows: int = 65_536) -> np.ndarray:
    """Each feature dimension z-scored over ``rows`` (default: all): ``(f - mean) / std``.

    This is the authors' code's step before the cosine similarity (mean and population standard
    deviation over the DPP's candidates, here the eligible examples). A dimension that is constant
    over the rows (``std == 0``) becomes 0 instead of NaN. ``scale=False`` only centres
    (``f - mean``), for features already z-scored before a compression (see
    :mod:`datadiet.select.compress`). Statistics accumulate in float64 chunk
    by chunk, so the only full-size array is the ``(len(rows), d)`` result in ``dtype``; features
    may be any numpy float dtype (float16 included) or a torch tensor (bfloat16 included).

    Example:
        >>> standardize_features(np.array([[1.0, 5.0], [3.0, 5.0]])).tolist()
        [[-1.0, 0.0], [1.0, 0.0]]
    """
    F = _as_numpy_rows(features)
    idx = np.arange(F.shape[0]) if rows is None else np.asarray(rows, dtype=np.int64)
    m, d = len(idx), F.shape[1]
    if m == 0:
        raise ValueError("standardize_features needs at least one row")
    chunk_rows = max(1, min(int(chunk_rows), (1 << 22) // max(1, d)))  # float64 temporaries <= 32 MB
    total = np.zeros(d, dtype=np.float64)
    for s in range(0, m, chunk_rows):
        total += _rows64(F, idx[s : s + chunk_rows]).sum(axis=0)
    mean = total / m
    if not scale:
        out = np.empty((m, d), dtype=dtype)
        for s in range(0, m, chunk_rows):
            out[s : s + chunk_rows] = _rows64(F, idx[s : s + chunk_rows]) - mean
        return out
    sq = np.zeros(d, dtype=np.float64)
    for s in range(0, m, chunk_rows):  # two-pass variance: no cancellation
        c = _rows64(F, idx[s : s + chunk_rows]) - mean
        sq += np.einsum("ij,ij->j", c, c)
    std = np.sqrt(sq / m)
    inv = np.divide(1.0, std, out=np.zeros_like(std), where=std > 0)
    out = np.empty((m, d), dtype=dtype)
    for s in range(0, m, chunk_rows):
        out[s : s + chunk_rows] = (_rows64(F, idx[s : s + chunk_rows]) - mean) * inv
    return out


def _as_numpy_rows(features):
    """A 2-d numpy view of ``features`` (torch tensors go to the CPU; bfloat16 to float32)."""
    if hasattr(features, "detach") and hasattr(features, "cpu"):  # a torch tensor
        import torch

        t = features.detach()
        if t.dtype == torch.bfloat16:
            t = t.float()
        features = t.cpu().numpy()
    F = np.asarray(features)
    if F.ndim != 2:
        raise ValueError(f"features must be a 2-d array (N, d), got shape {F.shape}")
    return F


def _rows64(F: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return F[idx].astype(np.float64, copy=False)


def select_p3(
    difficulty,
    features,
    epoch: int,
    num_epochs: int,
    budget: int,
    *,
    start: float = 0.0,
    end: float = 100.0,
    shape: str = "p3_code",
    quality: str = "easiness",
    standardize: bool | str = True,
    theta: float | None = None,
    eps: float = 1e-10,
    rng: np.random.Generator | None = None,
    device=None,
) -> Selection:
    """One epoch of P3's selection: self-paced eligibility, then a DPP of size ``budget``.

    Steps (Yang et al. 2024, sec. 3; the defaults where the paper is silent follow the authors'
    code, see ``docs/methods/p3.md``):

    1. ``P = self_paced_percentile(epoch, num_epochs, start, end, shape)`` (default: 20, 40, ...,
       100 over 5 epochs);
    2. ``eligible = self_paced_eligible(difficulty, P)``: difficulty at or below the P-th
       percentile;
    3. among the eligible examples, the DPP greedy MAP (:func:`~datadiet.select.dpp.dpp_greedy_map`)
       with quality ``q = p3_quality(difficulty, quality)`` (default ``1 - d``: easier preferred)
       and the cosine similarity of the features, each dimension z-scored over the eligible
       examples first (``standardize=True``).

    When at most ``budget`` examples are eligible, all of them are kept, as in the authors' code
    (its pick-and-restart loop takes every eligible example; it has no rule for fewer, where it
    fails on an empty pool). The rest of the budget is the next-easiest non-eligible examples
    (lowest finite difficulty first, then the infinitely hard ones; ties by ``rng`` order, or index
    without ``rng``), i.e. the percentile widened just enough to reach the budget. When every
    difficulty is infinite the DPP runs with equal qualities (pure diversity). An example whose
    standardized feature row is all zeros (it sits exactly at the mean: no direction, so no
    cosine) gets quality 0 and comes after the DPP's picks.

    Args:
        difficulty: ``(N,)`` policy-driven difficulty of every example (``+inf`` = no action).
        features: ``(N, d)`` diversity features (e.g. pooled hidden states from the scoring pass,
            possibly compressed by :mod:`datadiet.select.compress`); numpy (float16/32/64) or torch
            (bfloat16 included).
        epoch, num_epochs: the 0-based epoch and the total number of epochs.
        budget: examples to keep this epoch, ``1 <= budget <= N``.
        start, end, shape: the percentile schedule (see :func:`self_paced_percentile`).
        quality: ``"easiness"`` (authors' code), ``"difficulty"`` or ``"uniform"``, see
            :data:`P3_QUALITIES`.
        standardize: ``True`` (or ``"zscore"``) z-scores each feature dimension over the eligible
            examples (authors' code); ``"center"`` only subtracts their mean (for features z-scored
            before a compression, see :func:`~datadiet.select.compress.compress_features`);
            ``False`` (or ``"none"``) takes the cosine of the features as they are.
        theta: quality/diversity trade-off of Chen et al. (2018): ``q = exp(theta r / (2(1 - theta)))``
            with relevance ``r`` = the quality above. ``None``: ``q`` itself.
        eps: relative rank threshold of :func:`~datadiet.select.dpp.dpp_greedy_map`.
        rng: tie-breaking in the DPP and in the fill-up; ``None`` = by index.
        device: ``None`` runs the greedy in numpy on the CPU; a torch device (``"cuda"``, the
            model's device) runs it in torch there, with the same picks up to float rounding.

    Returns:
        A :class:`~datadiet.select.selection.Selection` of ``budget`` examples, weight 1.

    Example:
        >>> import numpy as np
        >>> d = np.array([0.1, 0.2, 0.3, 0.8, 0.9, np.inf])
        >>> f = np.eye(6)
        >>> # epoch 1 of 2: P = 50, eligible 0, 1, 2; orthogonal features, so the highest q = 1 - d win
        >>> select_p3(d, f, epoch=0, num_epochs=2, budget=2, standardize=False).indices.tolist()
        [0, 1]
        >>> select_p3(d, f, 0, 2, 2, quality="difficulty", standardize=False).indices.tolist()
        [1, 2]
    """
    d = np.asarray(difficulty, dtype=np.float64)
    n = len(d) if d.ndim == 1 else -1
    f = _as_numpy_rows(features) if hasattr(features, "detach") else np.asarray(features)
    if f.ndim != 2 or f.shape[0] != n:
        raise ValueError(f"features must have shape (N, d) with N = len(difficulty) = {n}, got {f.shape}")
    if isinstance(budget, (bool, np.bool_)) or not isinstance(budget, (int, np.integer)):
        raise TypeError(f"budget must be an int, got {type(budget).__name__}")
    if not 1 <= int(budget) <= n:
        raise ValueError(f"budget must be in [1, N] = [1, {n}], got {budget}")
    if quality not in P3_QUALITIES:
        raise ValueError(f"unknown quality {quality!r}; choose one of {', '.join(P3_QUALITIES)}")
    mode = ("zscore" if standardize else "none") if isinstance(standardize, (bool, np.bool_)) else standardize
    if mode not in STANDARDIZE_MODES:
        raise ValueError(f"standardize must be True, False or one of {', '.join(STANDARDIZE_MODES)}, got {standardize!r}")
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

    de = d[eligible]
    if np.isfinite(de).all():
        q = p3_quality(de, quality)
    else:  # only when every difficulty is +inf: nothing to rank by
        q = np.ones(len(eligible))
    if theta is not None:
        q = theta_quality(q, theta)
    if mode != "none":
        fe = standardize_features(f, eligible, scale=mode == "zscore",
                                  dtype=np.float64 if f.dtype == np.float64 else np.float32)
    else:
        fe = f[eligible]
    # A row at exactly the mean has no direction, so no cosine: it comes after the DPP's picks.
    q = np.where(np.einsum("ij,ij->i", fe, fe, dtype=np.float64) > 0, q, 0.0)
    picks = dpp_greedy_map(fe, q, budget, eps=eps, rng=rng, device=device)
    return Selection.of(eligible[picks])
