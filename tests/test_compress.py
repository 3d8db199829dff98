"""Feature compression for the DPP: moments, seeded JL projections, PCA, chunking, torch input."""

import doctest

import numpy as np
import pytest
import torch

import datadiet.select.compress as compress_module
from datadiet.select.compress import FeatureProjection, compress_features, feature_moments
from datadiet.select.dpp import dpp_greedy_map
from datadiet.select.self_paced import select_p3, self_paced_eligible


def _features(n=600, d=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) * rng.uniform(0.1, 20, d) + rng.standard_normal(d) * 50


def test_moments_over_chunks_equal_numpy():
    X = _features()
    for chunk_rows in (1, 7, 600, 10_000):
        mean, std = feature_moments(X, chunk_rows=chunk_rows)
        np.testing.assert_allclose(mean, X.mean(0), rtol=1e-12)
        np.testing.assert_allclose(std, X.std(0), rtol=1e-10)
    # any iterable of chunks, torch included
    mean, std = feature_moments(iter([torch.tensor(X[:100]), X[100:350], X[350:]]))
    np.testing.assert_allclose(std, X.std(0), rtol=1e-10)


def test_random_projection_is_seeded_and_scaled_like_jl():
    a = FeatureProjection.random(300, 50, seed=3).matrix
    np.testing.assert_array_equal(a, FeatureProjection.random(300, 50, seed=3).matrix)
    assert not np.array_equal(a, FeatureProjection.random(300, 50, seed=4).matrix)
    assert abs(a.var() * 50 - 1) < 0.05  # entries N(0, 1/k)
    s = FeatureProjection.random(300, 50, seed=3, kind="sparse").matrix * np.sqrt(50 / 3)
    assert set(np.unique(s.round(5))) == {-1.0, 0.0, 1.0}
    assert abs((s == 0).mean() - 2 / 3) < 0.02 and abs((s > 0).mean() - 1 / 6) < 0.02


@pytest.mark.parametrize("kind", ["gaussian", "sparse"])
def test_jl_keeps_norms_and_cosines(kind):
    # k = 1024: relative errors of order 1/sqrt(k) = 3%
    rng = np.random.default_rng(1)
    X = rng.standard_normal((50, 2000))
    X[25:] = X[:25] + 0.5 * rng.standard_normal((25, 2000))  # pairs with cosine ~0.9
    Y = FeatureProjection.random(2000, 1024, seed=2, kind=kind)(X)
    ratio = np.linalg.norm(Y, axis=1) / np.linalg.norm(X, axis=1)
    assert np.abs(ratio - 1).max() < 0.12

    def cos(A):
        A = A / np.linalg.norm(A, axis=1, keepdims=True)
        return A @ A.T

    assert np.abs(cos(Y) - cos(X)).max() < 0.15


def test_z_scoring_happens_before_the_projection():
    X = _features()
    mean, std = X.mean(0), X.std(0)
    std[3] = 0.0  # a constant dimension is zeroed, not divided by 0
    P = FeatureProjection.random(40, 8, seed=0, mean=mean, std=std)
    Z = (X - mean) / np.where(std > 0, std, np.inf)
    np.testing.assert_allclose(P(X), Z @ P.matrix.astype(np.float64), rtol=1e-4, atol=1e-4)
    # torch in, torch out, the same numbers; half precision accepted
    np.testing.assert_allclose(P(torch.tensor(X)).numpy(), P(X), rtol=1e-5, atol=1e-5)
    assert P(torch.tensor(X, dtype=torch.bfloat16)).dtype == torch.float32


def test_pca_keeps_a_planted_subspace_exactly():
    # Rank-3 data in 12 dimensions: the top 3 principal directions keep every centred inner
    # product, so the cosines of the centred features (what select_p3 "center" sees) are exact.
    rng = np.random.default_rng(2)
    X = rng.standard_normal((200, 3)) @ rng.standard_normal((3, 12)) + 5.0
    P = FeatureProjection.pca(X, 3, standardize=False)
    Y = P(X)
    C = X - X.mean(0)
    np.testing.assert_allclose(Y @ Y.T, C @ C.T, rtol=1e-3, atol=1e-3)
    vals = np.linalg.svd(C, compute_uv=False)
    np.testing.assert_allclose(np.linalg.svd(Y, compute_uv=False), vals[:3], rtol=1e-4)
    with pytest.raises(ValueError, match="out_dim"):
        FeatureProjection.pca(X, 13)


@pytest.mark.parametrize("method", ["gaussian", "sparse", "pca"])
def test_compress_features_chunked_equals_one_shot(method):
    X = _features(n=500)
    a = compress_features(X, 10, method=method, seed=5, chunk_rows=64)
    b = compress_features(X, 10, method=method, seed=5, chunk_rows=10_000)
    assert a.shape == (500, 10) and a.dtype == np.float32
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    # the statistics come only from the first fit_rows rows when asked
    c = compress_features(X, 10, method=method, seed=5, fit_rows=100)
    if method == "pca":
        want = FeatureProjection.pca(X[:100], 10)(X)
    else:
        mean, std = X[:100].mean(0), X[:100].std(0)
        want = FeatureProjection.random(40, 10, seed=5, kind=method, mean=mean, std=std)(X)
    np.testing.assert_allclose(c, want, rtol=1e-5, atol=1e-5)


def test_select_p3_center_mode_is_the_dpp_on_centred_features():
    rng = np.random.default_rng(3)
    d = rng.uniform(0, 1, 200)
    C = compress_features(_features(n=200, seed=4), 8, seed=1)
    sel = select_p3(d, C, 2, 5, 20, standardize="center")
    elig = self_paced_eligible(d, 60)
    want = elig[dpp_greedy_map(C[elig] - C[elig].astype(np.float64).mean(0), 1 - d[elig], 20)]
    np.testing.assert_array_equal(sel.indices, np.sort(want))
    with pytest.raises(ValueError, match="standardize"):
        select_p3(d, C, 2, 5, 20, standardize="whiten")


def _logdet_cos(F, picks):
    G = F[picks] / np.linalg.norm(F[picks], axis=1, keepdims=True)
    return np.linalg.slogdet(G @ G.T)[1]


def test_compressed_picks_are_nearly_as_diverse_under_the_full_kernel():
    # 6 latent directions in 256 dimensions. Among 2,000 items many sets are almost equally good,
    # so the ids differ; what the projection keeps is the objective: the log det of the picks'
    # cosine kernel in the *full* space is close to the full-space greedy's, far above random's.
    rng = np.random.default_rng(6)
    X = rng.standard_normal((2000, 6)) @ rng.standard_normal((6, 256)) + 0.01 * rng.standard_normal((2000, 256))
    C = X - X.mean(0)
    ref = dpp_greedy_map(C, np.ones(2000), 6)
    Y = compress_features(X, 64, seed=0, standardize=False)
    got = dpp_greedy_map(Y - Y.mean(0), np.ones(2000), 6)
    rand = [_logdet_cos(C, rng.choice(2000, 6, replace=False)) for _ in range(20)]
    assert _logdet_cos(C, got) > _logdet_cos(C, ref) - 0.5 > max(rand)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: FeatureProjection.random(10, 0), ">= 1"),
        (lambda: FeatureProjection.random(10, 3, kind="pca"), "kind"),
        (lambda: compress_features(np.ones((4, 3)), 2, method="svd"), "unknown method"),
        (lambda: FeatureProjection.random(10, 3)(np.ones((2, 9))), r"shape \(n, 10\)"),
        (lambda: FeatureProjection(np.ones((3, 2)), std=[1.0, -1.0, 1.0]), "std"),
        (lambda: feature_moments(iter([])), "at least one"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_docstring_examples():
    assert doctest.testmod(compress_module).failed == 0
