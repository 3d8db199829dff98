"""Diversity by a determinantal point process (DPP): the greedy MAP of Chen, Zhang & Zhou (2018).

P3 (Yang et al. 2024, arXiv 2408.05541) picks each epoch's training subset from the eligible
examples with a DPP whose kernel is ``L = diag(q) S diag(q)``: ``q_i`` is the quality of example i
(its difficulty) and ``S_ij = cos(f_i, f_j)`` the cosine similarity of feature vectors. The greedy
MAP adds, one at a time, the item that most increases ``log det(L_Y)``.

How this implementation computes it
-----------------------------------
Chen et al. (NeurIPS 2018, "Fast Greedy MAP Inference for Determinantal Point Process to Improve
Recommendation Diversity") keep an incremental Cholesky factor: with ``d2_i = L_ii`` and rows
``c_i``, each pick j sets ``e_i = (L_ji - <c_j, c_i>) / sqrt(d2_j)``, appends it to ``c_i`` and
updates ``d2_i -= e_i^2``; ``d2_i`` is exactly ``det(L_{Y+i}) / det(L_Y)``, the gain of adding i.

When the kernel comes from d-dimensional features (``L_ji = q_j q_i <x_j, x_i>`` with unit rows
``x``), the same recursion lives in feature space: ``e_i = q_i <x_i, u_k>`` where ``u_k`` is the
unit residual of the k-th picked feature after projecting out the earlier picks (Gram-Schmidt).
So the gain of item i is ``q_i^2 * rho_i`` with ``rho_i = 1 - sum_k <x_i, u_k>^2`` its squared
sine to the span of the picks. Each update costs O(d) per item instead of O(d + k), no N x N and
no N x M matrix is ever formed: memory is O(N + d^2 + pool_size * d) beyond the features.

Speed: a pick must lower every item's gain, which is a memory-bound N x d matrix-vector product
per pick. Instead, this code works in blocks, exactly: it copies the ``pool_size`` items with the
largest gains into a small pool and runs the greedy there. Gains only decrease as the span grows
(submodularity), so an item outside the pool can never gain more than its value at the start of
the block; a pool pick is *certified* while its current gain beats the best outside value, and
the block stops at the first pick it cannot certify (pool items that fall below that bound are
dropped along the way). Then all N gains are brought up to date with one matrix-matrix product
``X @ U_block.T`` (BLAS-3, compute-bound). The picks are the ones the plain greedy makes (up to
floating-point rounding; ties go to the lower priority, see ``rng``): 10,000 of 100,000 items
with 384-d features take about 12 s in float32 on 2 cores, against minutes for the plain greedy.
The default pool is ``N // 16`` items (within [4,096, 65,536]): larger pools make longer blocks,
so fewer full refreshes, at O(pool d) per pick.

On a GPU (``device="cuda"``) the plain fast greedy runs in torch instead: one ``N x d``
matrix-vector product per pick is memory-bound, which a GPU's bandwidth makes cheap, and it needs
no blocking. Both paths make the same picks up to floating-point rounding.

Rank exhaustion and restarts: with d-dimensional features ``rank(L) <= d``, so after at most d
picks every remaining item lies (numerically) in the span of the picks and adds nothing. As in
the paper's code, the greedy then *restarts* on the items not yet picked, with a fresh empty
span, until the budget is met. An item counts as "in the span" when its squared sine
``rho_i = gain_i / L_ii`` drops below ``eps`` (a relative threshold, so the rule does not change
when every quality is scaled by the same constant, which leaves the greedy's choices unchanged);
a round ends when every remaining item is in the span. ``eps`` is raised to
``100 * machine epsilon`` of the working dtype (1.2e-5 for float32) because smaller residuals are
rounding noise there.

Quality/diversity trade-off (Chen et al., sec. 4): with ``theta in [0, 1)`` the quality becomes
``q_i = exp(theta * r_i / (2 (1 - theta)))`` with relevance ``r_i = quality_i``, so that
``log det(L_Y) = theta/(1-theta) * sum_{i in Y} r_i + log det(S_Y)``: ``theta = 0`` is pure
diversity, ``theta -> 1`` pure relevance. (Before exponentiating, ``r`` is shifted by its maximum,
which scales every ``q`` by one constant and so changes nothing but avoids overflow.)

Items with quality exactly 0 have ``L_ii = 0``: the DPP cannot tell them apart, so they are left
out of the greedy and, only if the budget is not met otherwise, appended last in priority order.
"""

from __future__ import annotations

import numpy as np

from datadiet.select.selection import Selection

__all__ = ["dpp_greedy_map", "select_dpp", "theta_quality"]

_REFRESH_ROWS = 32_768  # rows per chunk of the N x block refresh (bounds its temporary to rows x block)
_POOL = 4096  # default items per block, at least (a speed knob only; see benchmarks/dpp_speed)
_POOL_MAX = 65_536  # ... and at most: N // 16 in between


def theta_quality(relevance: np.ndarray, theta: float) -> np.ndarray:
    """The quality ``exp(theta * r / (2 (1 - theta)))`` of Chen et al. (2018), up to one constant.

    ``r`` is shifted by ``max(r)`` first: multiplying every quality by the same constant leaves the
    DPP greedy's choices unchanged and keeps ``exp`` from overflowing.
    """
    if not (0.0 <= float(theta) < 1.0):
        raise ValueError(f"theta must be in [0, 1) (0 = pure diversity, close to 1 = pure quality), got {theta}")
    r = np.asarray(relevance, dtype=np.float64)
    alpha = float(theta) / (2.0 * (1.0 - float(theta)))
    return np.exp(alpha * (r - r.max())) if r.size else r


def _as_numpy_features(features) -> np.ndarray:
    """``features`` as a numpy array: torch tensors go to the CPU (bfloat16, which numpy lacks,
    as float32); float16 stays float16 here and is upcast to the working dtype by the caller."""
    if hasattr(features, "detach") and hasattr(features, "cpu"):  # a torch tensor
        import torch

        t = features.detach()
        if t.dtype == torch.bfloat16:
            t = t.float()
        return t.cpu().numpy()
    return np.asarray(features)


def _validate(features, quality, budget, theta, eps, dtype):
    X = _as_numpy_features(features)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"features must be a non-empty 2-d array (N items, d dims), got shape {X.shape}")
    n, _ = X.shape
    if dtype is None:
        if X.dtype in (np.float32, np.float64):
            dtype = X.dtype
        else:  # half precision is a storage format: compute in float32; anything else in float64
            dtype = np.float32 if X.dtype == np.float16 else np.float64
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    X = X.astype(dtype, copy=False)

    q = np.asarray(quality, dtype=np.float64)
    if q.shape != (n,):
        raise ValueError(f"quality must have shape ({n},) to match features, got {q.shape}")
    if not np.all(np.isfinite(q)):
        bad = np.flatnonzero(~np.isfinite(q))
        raise ValueError(
            f"quality has {len(bad)} NaN/inf value(s) (first at indices {bad[:5].tolist()}); replace them "
            "before selecting (e.g. leave never-scored examples out of the candidate set)"
        )
    if theta is not None:
        q = theta_quality(q, theta)
    elif np.any(q < 0):
        bad = np.flatnonzero(q < 0)
        raise ValueError(
            f"quality must be >= 0 (it scales the DPP kernel), got negative values at indices {bad[:5].tolist()}; "
            "pass theta=... to turn arbitrary relevance scores into qualities"
        )

    if isinstance(budget, (bool, np.bool_)) or not isinstance(budget, (int, np.integer)):
        raise TypeError(f"budget must be an int, got {type(budget).__name__}")
    budget = int(budget)
    if budget <= 0:
        raise ValueError(f"budget must be >= 1, got {budget}")
    if budget > n:
        raise ValueError(f"budget ({budget}) is larger than the pool ({n} items): lower the budget or widen the pool")
    if not (eps > 0):
        raise ValueError(f"eps must be > 0, got {eps}")

    # Squared row norms double as the NaN/inf check, without an N x d boolean temporary.
    sq = np.einsum("ij,ij->i", X, X, dtype=np.float64)
    if not np.all(np.isfinite(sq)):
        bad = np.flatnonzero(~np.isfinite(sq))
        raise ValueError(
            f"features have NaN/inf (or overflowing) values in {len(bad)} row(s), first at indices "
            f"{bad[:5].tolist()}"
        )
    zero = sq == 0
    if np.any(zero & (q > 0)):
        bad = np.flatnonzero(zero & (q > 0))
        raise ValueError(
            f"{len(bad)} feature row(s) are all zeros (first at indices {bad[:5].tolist()}): the cosine "
            "similarity is undefined for them. Drop them from the pool, give them a feature vector, or "
            "give them quality 0 (they then come after every other pick)."
        )
    inv_norm = np.divide(1.0, np.sqrt(sq), out=np.zeros_like(sq), where=~zero)
    return X, q, budget, inv_norm, dtype


def _best_key(g: np.ndarray, prio: np.ndarray, mask: np.ndarray) -> tuple[float, int]:
    """The best (gain, priority) among ``mask``: largest gain, then smallest priority."""
    if not mask.any():
        return -np.inf, np.iinfo(np.int64).max
    gm = np.where(mask, g, -np.inf)
    top = gm.max()
    if top == -np.inf:
        return -np.inf, np.iinfo(np.int64).max
    return float(top), int(prio[gm == top].min())


def _top_pool(g: np.ndarray, prio: np.ndarray, p: int) -> tuple[np.ndarray, tuple[float, int]]:
    """The ``p`` best items by (gain desc, priority asc) among those with finite gain, and the key
    of the best item left out (``(-inf, max)`` when none is)."""
    n_valid = int(np.count_nonzero(g > -np.inf))
    if p >= n_valid:
        return np.flatnonzero(g > -np.inf), (-np.inf, np.iinfo(np.int64).max)
    # Fast path: one partition of all gains (-inf sorts first, and p < n_valid keeps them out).
    n = len(g)
    part = np.argpartition(g, n - p - 1)
    top = part[n - p :]
    kth = g[top].min()  # the p-th largest gain
    best_out = g[part[n - p - 1]]  # the (p + 1)-th largest: the best gain left out
    if best_out < kth:  # no tie across the pool's edge: the pool is exactly the p largest
        return top, (float(best_out), int(prio[g == best_out].min()))
    # Ties across the edge: the lowest priorities among them go in.
    valid = np.flatnonzero(g > -np.inf)
    gv = g[valid]
    part = np.argpartition(-gv, p - 1)[:p]
    kth = gv[part].min()  # the p-th largest gain
    above = valid[gv > kth]
    ties = valid[gv == kth]
    ties = ties[np.argsort(prio[ties], kind="stable")]
    need = p - len(above)
    pool = np.concatenate([above, ties[:need]])
    if len(ties) > need:
        return pool, (float(kth), int(prio[ties[need]]))
    rest = np.ones(len(g), dtype=bool)
    rest[pool] = False
    rest &= g > -np.inf
    return pool, _best_key(g, prio, rest)


def dpp_greedy_map(
    features,
    quality,
    budget: int,
    *,
    theta: float | None = None,
    eps: float = 1e-10,
    rng: np.random.Generator | None = None,
    dtype=None,
    pool_size: int | None = None,
    device=None,
) -> np.ndarray:
    """Greedy MAP of the DPP with kernel ``L = diag(q) S diag(q)``, ``S_ij = cos(f_i, f_j)``.

    The fast greedy of Chen, Zhang & Zhou (NeurIPS 2018) computed from the features in blocks,
    with restarts when the kernel's rank is exhausted (see the module docstring). Never builds an
    N x N matrix: memory is O(N + d^2 + pool_size * d) beyond ``features``, time O(N d budget).

    Args:
        features: ``(N, d)`` feature vectors (any scale; only their directions matter).
        quality: ``(N,)`` per-item quality ``q_i >= 0`` (P3: the example's difficulty), or the
            relevance ``r_i`` (any real) when ``theta`` is given.
        budget: number of items to pick, ``1 <= budget <= N``.
        theta: quality/diversity trade-off in ``[0, 1)``; ``q_i = exp(theta r_i / (2 (1 - theta)))``
            with ``r_i = quality_i``. ``None`` (default) uses ``quality`` as ``q`` directly.
        eps: relative rank threshold: an item whose squared sine to the span of the current picks
            (``gain / L_ii``) is below ``eps`` adds nothing; when all remaining items do, the greedy
            restarts on them. Floored at ``100 * finfo(dtype).eps``.
        rng: breaks exact ties between gains (e.g. equal qualities at a round's start) uniformly at
            random; ``None`` breaks them towards the lower index. No other randomness.
        dtype: working precision, ``float32`` or ``float64``; default: the features' own float
            dtype, else float64. float32 is about 2x faster and picked the same items in
            ``benchmarks/dpp_speed``.
        pool_size: items per exact block (a speed knob only; the picks do not depend on it).
            Default: ``N // 16``, at least 4,096 and at most 65,536.
        device: ``None`` (default) runs the blocked greedy in numpy on the CPU. A torch device
            (``"cuda"``, ``"cuda:1"``, the model's device; ``"cpu"`` works too) runs the plain fast
            greedy of Chen et al. in torch there instead (one ``N x d`` matrix-vector product per
            pick, which a GPU's bandwidth makes cheap); it makes the same picks as the numpy path
            up to floating-point rounding (see :func:`_greedy_torch`).

    Returns:
        ``int64`` array of ``budget`` distinct indices in pick order.

    Raises:
        ValueError: budget out of ``[1, N]``, shapes that do not match, NaN/inf in features or
            quality, negative quality without ``theta``, or an all-zero feature row.

    Example:
        >>> import numpy as np
        >>> f = np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0]])
        >>> dpp_greedy_map(f, quality=np.array([1.0, 0.9, 0.8]), budget=2).tolist()
        [0, 2]
    """
    X, q, budget, inv_norm, dtype = _validate(features, quality, budget, theta, eps, dtype)
    n, d = X.shape
    eps_eff = max(float(eps), 100.0 * float(np.finfo(dtype).eps))
    q2 = q * q
    prio = rng.permutation(n).astype(np.int64) if rng is not None else np.arange(n, dtype=np.int64)
    if device is not None:
        return _greedy_torch(X, inv_norm, q2, prio, budget, eps_eff, device)
    # Larger pools make longer blocks (fewer full refreshes) and pay O(pool d) per pick: scale with N.
    p = int(pool_size) if pool_size is not None else max(_POOL, min(_POOL_MAX, n // 16))
    if p < 1:
        raise ValueError(f"pool_size must be >= 1, got {pool_size}")

    alive = q2 > 0  # items still to be picked by the DPP (zero-quality items never are)
    picked: list[int] = []
    rho = np.empty(n, dtype=np.float64)  # squared sine of each item to the current round's span
    U = np.empty((d, d), dtype=dtype)  # orthonormal basis of the current round's span, row-wise

    while len(picked) < budget and alive.any():
        # ---- a new round: empty span ----
        rho[:] = 1.0
        k = 0
        while len(picked) < budget and k < d:
            gain = np.where(alive & (rho >= eps_eff), q2 * rho, -np.inf)
            pool, (tau_g, tau_p) = _top_pool(gain, prio, p)
            if len(pool) == 0:
                break  # every remaining item lies in the span: the round is over
            pool = pool[np.argsort(prio[pool], kind="stable")]  # argmax's first max = lowest priority
            XP = X[pool] * inv_norm[pool, None].astype(dtype)  # the pool's unit feature rows
            rhoP = rho[pool]
            q2P = q2[pool]
            start_k = k
            while len(picked) < budget and k < d and len(pool):
                gP = np.where(rhoP >= eps_eff, q2P * rhoP, -np.inf)
                j = int(np.argmax(gP))
                gj = gP[j]
                if gj == -np.inf or not (gj > tau_g or (gj == tau_g and prio[pool[j]] < tau_p)):
                    break  # an item outside the pool might beat it (or the pool ran dry)
                r = XP[j].copy()
                for _ in range(2):  # classical Gram-Schmidt, twice, for an orthonormal basis
                    if k:
                        r -= U[:k].T @ (U[:k] @ r)
                U[k] = r / np.sqrt(float(r @ r))
                picked.append(int(pool[j]))
                alive[pool[j]] = False
                k += 1
                # einsum, not BLAS: a single-threaded pass is faster and steadier than a threaded
                # matrix-vector product for a pool this size, above all on a busy machine.
                rhoP = rhoP - np.square(np.einsum("ij,j->i", XP, U[k - 1]), dtype=np.float64)
                rhoP[j] = -np.inf
                # Gains only decrease: an item already below the best outside value can never be
                # certified in this block, so drop such items once they are half of the pool.
                live = q2P * rhoP >= tau_g
                if 2 * int(live.sum()) < len(pool):
                    XP, rhoP, q2P, pool = XP[live], rhoP[live], q2P[live], pool[live]
            if k == start_k:
                # Right after a refresh every gain is exact and the pool holds the best ones, so
                # its first pick is always certified: none means nothing adds anything any more.
                break
            if len(picked) >= budget or k >= d:
                break
            # ---- bring every gain up to date with this block's directions (BLAS-3) ----
            Ub = np.ascontiguousarray(U[start_k:k].T)
            for s in range(0, n, _REFRESH_ROWS):
                e = X[s : s + _REFRESH_ROWS] @ Ub
                # |<x/|x|, u>|^2 summed over the block's directions; the row norm enters once, squared
                rho[s : s + _REFRESH_ROWS] -= np.einsum("ij,ij->i", e, e) * np.square(inv_norm[s : s + _REFRESH_ROWS])

    if len(picked) < budget:
        # Zero-quality items (or, with rounding, nothing left that adds anything): lowest priority first.
        rest = np.flatnonzero(alive | (q2 == 0))
        rest = np.setdiff1d(rest, np.asarray(picked, dtype=np.int64), assume_unique=False)
        rest = rest[np.argsort(prio[rest], kind="stable")]
        picked.extend(rest[: budget - len(picked)].tolist())
    return np.asarray(picked, dtype=np.int64)


def _greedy_torch(X: np.ndarray, inv_norm: np.ndarray, q2: np.ndarray, prio: np.ndarray, budget: int,
                  eps_eff: float, device) -> np.ndarray:
    """The greedy of :func:`dpp_greedy_map` in torch on ``device``, pick by pick.

    The same rules as the numpy path: gain ``q_i^2 rho_i`` with ``rho_i`` the squared sine of
    item i to the span of the round's picks (kept in float64), items with ``rho_i < eps_eff`` out
    of the round, a restart with an empty span when no item is left, exact ties to the lowest
    priority, zero-quality items appended last by priority. Each pick updates every item with one
    ``N x d`` matrix-vector product (the unblocked form of Chen et al. 2018): memory-bound, which
    suits a GPU; on the CPU the blocked numpy path is faster. Memory on the device: the unit
    feature rows (``N x d`` in the working dtype) plus O(N + d^2).
    """
    import torch

    dev = torch.device(device)
    tdtype = torch.float32 if X.dtype == np.float32 else torch.float64
    n, d = X.shape
    Xt = torch.from_numpy(np.ascontiguousarray(X)).to(dev)
    Xt.mul_(torch.from_numpy(inv_norm).to(dev, tdtype)[:, None])  # unit rows (zero rows stay zero)
    q2t = torch.from_numpy(q2).to(dev)
    priot = torch.from_numpy(prio).to(dev)
    big = torch.iinfo(torch.int64).max
    neg_inf = torch.tensor(-float("inf"), dtype=torch.float64, device=dev)
    alive = q2t > 0
    rho = torch.empty(n, dtype=torch.float64, device=dev)
    U = torch.empty((d, d), dtype=tdtype, device=dev)
    picked: list[int] = []

    while len(picked) < budget and bool(alive.any()):
        rho.fill_(1.0)  # a new round: empty span
        k = 0
        while len(picked) < budget and k < d:
            gain = torch.where(alive & (rho >= eps_eff), q2t * rho, neg_inf)
            top = gain.max()
            j_t = torch.where(gain == top, priot, big).argmin()
            top_v, j = torch.stack([top, j_t.to(torch.float64)]).tolist()  # one device sync
            if top_v == -float("inf"):
                break  # every remaining item lies in the span: the round is over
            j = int(j)
            r = Xt[j].clone()
            for _ in range(2):  # classical Gram-Schmidt, twice, for an orthonormal basis
                if k:
                    r -= U[:k].T @ (U[:k] @ r)
            U[k] = r / torch.sqrt(r @ r)
            picked.append(j)
            alive[j] = False
            rho -= torch.square((Xt @ U[k]).to(torch.float64))
            k += 1
        if k == 0:
            break  # nothing adds anything any more

    if len(picked) < budget:
        rest = np.flatnonzero(alive.cpu().numpy() | (q2 == 0))
        rest = np.setdiff1d(rest, np.asarray(picked, dtype=np.int64), assume_unique=False)
        rest = rest[np.argsort(prio[rest], kind="stable")]
        picked.extend(rest[: budget - len(picked)].tolist())
    return np.asarray(picked, dtype=np.int64)


def select_dpp(
    features,
    quality,
    budget: int,
    *,
    theta: float | None = None,
    eps: float = 1e-10,
    rng: np.random.Generator | None = None,
    dtype=None,
    device=None,
) -> Selection:
    """:func:`dpp_greedy_map` as a :class:`~datadiet.select.selection.Selection` (weights 1).

    Example:
        >>> import numpy as np
        >>> sel = select_dpp(np.eye(3), np.array([0.2, 0.9, 0.5]), budget=2)
        >>> sel.indices.tolist()
        [1, 2]
    """
    picks = dpp_greedy_map(features, quality, budget, theta=theta, eps=eps, rng=rng, dtype=dtype, device=device)
    return Selection.of(picks)
