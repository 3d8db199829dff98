"""Compress feature vectors for the DPP: seeded random projections (Johnson-Lindenstrauss) and PCA.

The DPP of P3 needs one feature vector per example; a 7-8B model's pooled hidden states are
4,096-d, so 10^6 examples take 16 GB in float32. The greedy MAP costs O(N d) per pick and only
looks at cosine similarities, which a projection to a few hundred dimensions keeps approximately:

- ``gaussian``: ``x -> x R``, ``R_ij ~ N(0, 1/k)`` (Johnson & Lindenstrauss 1984; Dasgupta &
  Gupta 2003): inner products are kept up to a relative error of order ``1/sqrt(k)``;
- ``sparse``: ``R_ij = sqrt(3/k) * {+1, 0, -1}`` with probabilities ``{1/6, 2/3, 1/6}``
  (Achlioptas 2003, "database-friendly" projections): the same guarantee, entries in {-1, 0, 1};
- ``pca``: the top-k principal directions of a sample (centred), which keep the most variance
  for a given k but must be fitted on data first.

The authors' code z-scores each feature dimension before the cosine. Z-scoring is per original
dimension, so it must happen *before* the projection (after it, each projected coordinate mixes
all dimensions and the outlier dimensions of LLM hidden states dominate): every projection here
takes an optional per-dimension ``mean``/``std`` (from :func:`feature_moments` on the pool or a
sample of it) and applies ``(x - mean) / std`` first. Centring commutes with the projection, so the
selection can re-centre exactly on its candidates afterwards (``select_p3(standardize="center")``).

Projections work chunk by chunk, so the full-dimensional features never need to be in memory at
once: project each batch as the scoring pass produces it (numpy or torch, on the model's device,
half precision accepted) and keep only the ``(N, k)`` float32 result.
"""

from __future__ import annotations

import numpy as np

from datadiet.distributed import all_gather_arrays

__all__ = ["COMPRESSIONS", "FeatureProjection", "LazyProjection", "compress_features", "feature_moments"]

COMPRESSIONS = ("gaussian", "sparse", "pca")
"""Projections :class:`FeatureProjection` can build: two random (seeded, data-free) and PCA."""


def _is_torch(x) -> bool:
    return hasattr(x, "detach") and hasattr(x, "cpu")


def _chunk64(x) -> np.ndarray:
    """A chunk of features as float64 numpy (torch tensors to the CPU, bfloat16 included)."""
    if _is_torch(x):
        return x.detach().double().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


_MAX_ELEMENTS = 1 << 22  # float64 temporaries of at most 32 MB per step


def _bounded(chunks):
    """Split each chunk into row slices of at most ``_MAX_ELEMENTS`` values."""
    for chunk in chunks:
        if len(chunk.shape) != 2:
            raise ValueError(f"feature chunks must be 2-d (rows, d), got shape {tuple(chunk.shape)}")
        step = max(1, _MAX_ELEMENTS // max(1, chunk.shape[1]))
        for s in range(0, chunk.shape[0], step):
            yield chunk[s : s + step]


def feature_moments(features, *, chunk_rows: int = 65_536) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and population standard deviation, accumulated chunk by chunk.

    ``features`` is an ``(N, d)`` array/tensor or an iterable of ``(n_i, d)`` chunks (e.g. a
    generator over the scoring pass's batches). Chan et al.'s pairwise update combines the
    chunks, so the result equals the one-pass statistics without cancellation.

    Example:
        >>> mean, std = feature_moments(np.array([[1.0, 2.0], [3.0, 2.0]]))
        >>> mean.tolist(), std.tolist()
        ([2.0, 2.0], [1.0, 0.0])
    """
    if hasattr(features, "shape") and len(features.shape) == 2:
        chunks = (features[s : s + chunk_rows] for s in range(0, features.shape[0], chunk_rows))
    else:
        chunks = iter(features)
    count, mean, m2 = 0, None, None
    for piece in _bounded(chunks):
        c = _chunk64(piece)
        if len(c) == 0:
            continue
        cm = c.mean(axis=0)
        dev = c - cm
        cm2 = np.einsum("ij,ij->j", dev, dev)
        if mean is None:
            count, mean, m2 = len(c), cm, cm2
            continue
        if cm.shape != mean.shape:
            raise ValueError(f"feature chunks disagree on d: {mean.shape[0]} then {cm.shape[0]}")
        total = count + len(c)
        delta = cm - mean
        mean = mean + delta * (len(c) / total)
        m2 = m2 + cm2 + delta**2 * (count * len(c) / total)
        count = total
    if mean is None:
        raise ValueError("feature_moments needs at least one non-empty chunk")
    return mean, np.sqrt(m2 / count)


class FeatureProjection:
    """A fixed linear map ``x -> ((x - mean) / std) @ R`` from ``in_dim`` to ``out_dim`` dimensions.

    Build it with :meth:`random` (seeded Gaussian or sparse JL, no data needed) or :meth:`pca`
    (fitted on a sample); then call it on chunks of features. numpy input gives float32 numpy,
    torch input gives a float32 tensor on the input's device (so a GPU scoring pass can compress
    its batches before they leave the device). ``mean``/``std`` are optional per-dimension
    statistics (z-scoring before the projection; dimensions with ``std == 0`` are zeroed).

    Example:
        >>> proj = FeatureProjection.random(in_dim=8, out_dim=3, seed=0)
        >>> proj(np.ones((2, 8))).shape
        (2, 3)
    """

    def __init__(self, matrix, *, mean=None, std=None, kind: str = "custom"):
        R = np.asarray(matrix, dtype=np.float32)
        if R.ndim != 2 or min(R.shape) < 1:
            raise ValueError(f"matrix must be 2-d (in_dim, out_dim), got shape {R.shape}")
        self.matrix = R
        self.kind = kind
        d = R.shape[0]
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64).reshape(d)
        if std is None:
            self.inv_std = None
        else:
            s = np.asarray(std, dtype=np.float64).reshape(d)
            if np.any(s < 0) or not np.all(np.isfinite(s)):
                raise ValueError("std must be finite and >= 0 in every dimension")
            self.inv_std = np.divide(1.0, s, out=np.zeros_like(s), where=s > 0)
        self._shift = None if self.mean is None else self.mean.astype(np.float32)
        self._scale = None if self.inv_std is None else self.inv_std.astype(np.float32)
        self._torch_cache: dict = {}

    @property
    def in_dim(self) -> int:
        return self.matrix.shape[0]

    @property
    def out_dim(self) -> int:
        return self.matrix.shape[1]

    @classmethod
    def random(cls, in_dim: int, out_dim: int, *, seed: int = 0, kind: str = "gaussian", mean=None,
               std=None) -> "FeatureProjection":
        """A seeded JL projection: ``kind="gaussian"`` (``N(0, 1/k)`` entries) or ``"sparse"``
        (Achlioptas 2003: ``sqrt(3/k) * {+1, 0, -1}`` w.p. ``1/6, 2/3, 1/6``). The same seed gives
        the same matrix on every machine (numpy's PCG64)."""
        if kind not in ("gaussian", "sparse"):
            raise ValueError(f"kind must be 'gaussian' or 'sparse' for a random projection, got {kind!r}")
        in_dim, out_dim = int(in_dim), int(out_dim)
        if in_dim < 1 or out_dim < 1:
            raise ValueError(f"in_dim and out_dim must be >= 1, got {in_dim} and {out_dim}")
        rng = np.random.default_rng(seed)
        if kind == "gaussian":
            R = rng.standard_normal((in_dim, out_dim), dtype=np.float32) / np.float32(np.sqrt(out_dim))
        else:
            u = rng.random((in_dim, out_dim), dtype=np.float32)
            R = (np.where(u < 1 / 6, 1.0, 0.0) - np.where(u > 5 / 6, 1.0, 0.0)).astype(np.float32)
            R *= np.float32(np.sqrt(3.0 / out_dim))
        return cls(R, mean=mean, std=std, kind=kind)

    @classmethod
    def pca(cls, sample, out_dim: int, *, standardize: bool = True,
            chunk_rows: int = 65_536) -> "FeatureProjection":
        """The top ``out_dim`` principal directions of ``sample`` (an ``(n, d)`` array/tensor),
        after z-scoring each dimension over the sample when ``standardize`` (else centring only).
        The covariance is accumulated in float64 chunk by chunk (``d x d``: 134 MB for d = 4096)."""
        n, d = sample.shape
        out_dim = int(out_dim)
        if not 1 <= out_dim <= d:
            raise ValueError(f"out_dim must be in [1, d] = [1, {d}], got {out_dim}")
        mean, std = feature_moments(sample, chunk_rows=chunk_rows)
        w = np.divide(1.0, std, out=np.zeros_like(std), where=std > 0) if standardize else np.ones(d)
        cov = np.zeros((d, d), dtype=np.float64)
        step = max(1, min(chunk_rows, _MAX_ELEMENTS // d))
        for s in range(0, n, step):
            c = (_chunk64(sample[s : s + step]) - mean) * w
            cov += c.T @ c
        vals, vecs = np.linalg.eigh(cov / n)
        top = vecs[:, ::-1][:, :out_dim]
        top *= np.where(top[np.abs(top).argmax(axis=0), np.arange(out_dim)] < 0, -1.0, 1.0)  # a fixed sign
        return cls(top, mean=mean, std=std if standardize else None, kind="pca")

    def __call__(self, x):
        """Project a chunk ``(n, in_dim)`` of features to ``(n, out_dim)`` float32."""
        if _is_torch(x):
            import torch

            if x.ndim != 2 or x.shape[1] != self.in_dim:
                raise ValueError(f"features must have shape (n, {self.in_dim}), got {tuple(x.shape)}")
            key = x.device
            if key not in self._torch_cache:
                as_t = lambda a: None if a is None else torch.from_numpy(a).to(key)  # noqa: E731
                self._torch_cache[key] = (as_t(self.matrix), as_t(self._shift), as_t(self._scale))
            R, shift, scale = self._torch_cache[key]
            z = x.detach().float()
            if shift is not None:
                z = z - shift
            if scale is not None:
                z = z * scale
            return z @ R
        a = np.asarray(x)
        if a.ndim != 2 or a.shape[1] != self.in_dim:
            raise ValueError(f"features must have shape (n, {self.in_dim}), got {a.shape}")
        z = a.astype(np.float32)  # a copy: the z-scoring below works in place
        if self._shift is not None:
            z -= self._shift
        if self._scale is not None:
            z *= self._scale
        return z @ self.matrix


class LazyProjection:
    """A seeded Gaussian projection to ``out_dim`` dimensions of features that arrive batch by batch
    from a model whose width is not known in advance, each dimension z-scored first. The identity
    when ``out_dim`` is None or the features are no wider than it.

    The matrix depends only on ``(in_dim, out_dim, seed)``. The z-scoring moments are fitted once,
    on the first rows the projection is given (:meth:`fit`, or the first batch it projects,
    gathered over the ranks), and then frozen, so every example goes through the same linear map;
    they are part of the diet's checkpoint (:meth:`state`). A few dozen rows are enough: on
    LLM-like 4,096-d features compressed to 256, moments from the first 64 rows keep as much of
    the uncompressed DPP's lead over random picks as moments from all rows (93-95%), and 8 rows
    91-94%, where projecting without z-scoring keeps 89-90% (a few very large dimensions dominate
    the projection; ``benchmarks/dpp_speed/moments_fit.md``). Dimensions constant over the fitted
    rows are centred, not scaled.
    """

    def __init__(self, out_dim: int | None, seed: int = 0):
        if out_dim is not None and (isinstance(out_dim, bool) or not isinstance(out_dim, int) or out_dim < 1):
            raise ValueError(f"feature_dim must be a whole number of dimensions >= 1 (or None), got {out_dim!r}")
        self.out_dim, self.seed = out_dim, seed
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self._projection: FeatureProjection | None = None
        self._passthrough_width: int | None = None  # features seen no wider than out_dim: nothing to fit

    def projects(self, width: int) -> bool:
        """Whether features ``width`` wide are projected (not passed through)."""
        return self.out_dim is not None and width > self.out_dim

    @property
    def fitted(self) -> bool:
        return self.mean is not None

    @property
    def needs_fit(self) -> bool:
        """Whether a scoring pass should first forward a sample to fit the moments: only when there is
        a projection (``out_dim`` set), not yet fitted, and the features are not known to pass
        through (no wider than ``out_dim``)."""
        return self.out_dim is not None and not self.fitted and self._passthrough_width is None

    def fit_sample(self, sample) -> None:
        """:meth:`fit` on ``sample`` if features that wide are projected; else remember that they pass
        through, so no later pass forwards a sample again."""
        if self.projects(sample.shape[-1]):
            self.fit(sample)
        else:
            self._passthrough_width = int(sample.shape[-1])

    def fit(self, sample) -> None:
        """Freeze the z-scoring moments to those of ``sample`` (``(n, d)``, the same rows on every rank)."""
        mean, std = feature_moments(_float32_numpy(sample))
        self.mean, self.std = mean, np.where(std > 0, std, 1.0)
        self._projection = None

    def __call__(self, x):
        if x is None or not self.projects(x.shape[-1]):
            return x
        if not self.fitted:  # the first batch, all ranks' rows together: the same moments everywhere
            self.fit(all_gather_arrays({"rows": _float32_numpy(x)})["rows"])
        if self._projection is None or self._projection.in_dim != x.shape[-1]:
            if self.mean.shape[0] != x.shape[-1]:
                raise ValueError(f"features are {x.shape[-1]} wide; the projection was fitted on {self.mean.shape[0]}")
            self._projection = FeatureProjection.random(x.shape[-1], self.out_dim, seed=self.seed, mean=self.mean,
                                                        std=self.std)
        return self._projection(x)

    def state(self) -> dict | None:
        """The fitted moments, for a checkpoint (None before the fit)."""
        return None if not self.fitted else {"mean": self.mean.copy(), "std": self.std.copy()}

    def load_state(self, state: dict | None) -> None:
        """Restore :meth:`state`."""
        self.mean = None if state is None else np.asarray(state["mean"], np.float64)
        self.std = None if state is None else np.asarray(state["std"], np.float64)
        self._projection = None


def _float32_numpy(x) -> np.ndarray:
    """A float32 numpy copy of an array or a (detached) tensor."""
    return x.detach().float().cpu().numpy() if _is_torch(x) else np.asarray(x, np.float32)


def compress_features(features, out_dim: int, *, method: str = "gaussian", seed: int = 0,
                      standardize: bool = True, fit_rows: int | None = None,
                      chunk_rows: int = 65_536) -> np.ndarray:
    """``(N, d)`` features -> ``(N, out_dim)`` float32, chunk by chunk.

    ``method`` is one of :data:`COMPRESSIONS`. With ``standardize`` each input dimension is
    z-scored first, with the statistics of the first ``fit_rows`` rows (default: all rows, one
    extra pass); PCA is fitted on those same rows. Only the ``(N, out_dim)`` result and one chunk
    are in memory besides the input. After compression, select with
    ``select_p3(..., standardize="center")``: the z-scoring already happened in the original space,
    and re-centring on the eligible examples is exact.

    Example:
        >>> X = np.random.default_rng(0).standard_normal((100, 64))
        >>> compress_features(X, 16, seed=1).shape
        (100, 16)
    """
    if method not in COMPRESSIONS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(COMPRESSIONS)}")
    n, d = features.shape
    fit = features if fit_rows is None else features[: int(fit_rows)]
    if method == "pca":
        proj = FeatureProjection.pca(fit, out_dim, standardize=standardize, chunk_rows=chunk_rows)
    else:
        mean, std = feature_moments(fit, chunk_rows=chunk_rows) if standardize else (None, None)
        proj = FeatureProjection.random(d, out_dim, seed=seed, kind=method, mean=mean, std=std)
    out = np.empty((n, proj.out_dim), dtype=np.float32)
    for s in range(0, n, chunk_rows):
        y = proj(features[s : s + chunk_rows])
        out[s : s + chunk_rows] = y.cpu().numpy() if _is_torch(y) else y
    return out
