"""DPP greedy MAP: equal to a brute-force greedy (with the same restart rule), and input checks."""

import doctest
import tracemalloc

import numpy as np
import pytest
import torch

import datadiet.select.dpp as dpp_module
from datadiet.select.dpp import dpp_greedy_map, select_dpp, theta_quality
from datadiet.select.selection import Selection


def brute_force_greedy(features, quality, budget, eps=1e-10):
    """Reference: at each step add argmax_j log det(L_{Y+j}) on the dense kernel.

    Y is the current round's set. A candidate j is "in the span" of Y when its gain
    det(L_{Y+j}) / det(L_Y) is below eps * L_jj; when every remaining candidate is, the round ends
    and greedy restarts on the items not yet picked (Y = {}). Zero-quality items are never picked
    by the DPP and fill the budget last, by index. Ties go to the lower index.
    """
    F = np.asarray(features, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    Fn = F / np.linalg.norm(F, axis=1, keepdims=True)
    L = q[:, None] * (Fn @ Fn.T) * q[None, :]
    n = len(q)

    def logdet(idx):
        if not idx:
            return 0.0
        sign, value = np.linalg.slogdet(L[np.ix_(idx, idx)])
        return value if sign > 0 else -np.inf

    picked, Y = [], []
    alive = [i for i in range(n) if q[i] > 0]
    while len(picked) < budget and alive:
        base = logdet(Y)
        best, best_j = -np.inf, None
        for j in alive:
            gain = np.exp(logdet(Y + [j]) - base)
            if gain < eps * L[j, j]:
                continue
            if gain > best:
                best, best_j = gain, j
        if best_j is None:  # rank exhausted: restart on the rest
            Y = []
            continue
        picked.append(best_j)
        Y.append(best_j)
        alive.remove(best_j)
    picked += [i for i in range(n) if q[i] == 0][: budget - len(picked)]
    return np.array(picked, dtype=np.int64)


def _instances(seed, count):
    rng = np.random.default_rng(seed)
    for trial in range(count):
        n = int(rng.integers(6, 40))
        d = int(rng.integers(1, 7))
        budget = int(rng.integers(1, n + 1))
        F = rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, (n, 1))  # row scale must not matter
        q = rng.uniform(0.1, 1.0, n)
        if trial % 2 == 0:  # duplicated rows (with their own qualities): rank-deficient kernel
            k = n // 3
            F[n - k :] = F[:k] * 2.0
        yield n, d, budget, F, q


@pytest.mark.parametrize("pool_size", [1, 3, None])
def test_equals_brute_force_greedy_with_restarts(pool_size):
    restarted = 0
    for n, d, budget, F, q in _instances(seed=pool_size or 0, count=25):
        got = dpp_greedy_map(F, q, budget, pool_size=pool_size)
        want = brute_force_greedy(F, q, budget)
        np.testing.assert_array_equal(got, want, err_msg=f"n={n} d={d} budget={budget}")
        restarted += budget > d
    assert restarted >= 5  # the restart rule was exercised


@pytest.mark.parametrize("pool_size", [4, 16, 64])
def test_blocked_pool_equals_brute_force_on_larger_instances(pool_size):
    # Pools much smaller than N, so blocks end on certification (an outside item might win) and
    # on pools that run dry (all their items in the span while outside items are not).
    rng = np.random.default_rng(pool_size)
    n, d = 160, 5
    F = rng.standard_normal((n, d))
    F[80:] = F[:80] * rng.uniform(0.5, 2.0, (80, 1))  # every direction twice
    q = rng.uniform(0.1, 1.0, n)
    got = dpp_greedy_map(F, q, 24, pool_size=pool_size)
    np.testing.assert_array_equal(got, brute_force_greedy(F, q, 24))
    clustered = np.repeat(rng.standard_normal((8, 4)), 20, axis=0)  # 8 directions x 20 copies
    qc = rng.uniform(0.1, 1.0, 160)
    np.testing.assert_array_equal(
        dpp_greedy_map(clustered, qc, 20, pool_size=pool_size), brute_force_greedy(clustered, qc, 20)
    )


def test_rank_deficient_restart_picks_every_item_once():
    # 3 directions, budget 9 > rank: three rounds of three, each round one item per direction.
    F = np.repeat(np.eye(3), 3, axis=0)  # items 0-2 along e0, 3-5 along e1, 6-8 along e2
    q = np.array([0.9, 0.5, 0.1, 0.8, 0.4, 0.2, 0.7, 0.6, 0.3])
    got = dpp_greedy_map(F, q, 9)
    np.testing.assert_array_equal(got, [0, 3, 6, 7, 1, 4, 8, 5, 2])
    np.testing.assert_array_equal(got, brute_force_greedy(F, q, 9))


def test_diversity_beats_quality_for_near_duplicates():
    F = np.array([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0]])
    assert dpp_greedy_map(F, [1.0, 0.99, 0.5], 2).tolist() == [0, 2]


def test_float32_matches_float64_on_a_well_conditioned_instance():
    rng = np.random.default_rng(3)
    F = rng.standard_normal((400, 32))
    q = rng.uniform(0.2, 1.0, 400)
    a = dpp_greedy_map(F, q, 20, dtype=np.float64)
    b = dpp_greedy_map(F.astype(np.float32), q, 20)
    np.testing.assert_array_equal(a, b)


def test_theta_is_the_exponential_quality():
    rng = np.random.default_rng(4)
    F = rng.standard_normal((30, 5))
    r = rng.standard_normal(30)
    theta = 0.7
    q = np.exp(theta * r / (2 * (1 - theta)))
    np.testing.assert_array_equal(dpp_greedy_map(F, r, 8, theta=theta), brute_force_greedy(F, q, 8))
    # theta = 0 ignores the relevance entirely: pure diversity
    np.testing.assert_array_equal(dpp_greedy_map(F, r, 8, theta=0.0), dpp_greedy_map(F, np.ones(30), 8))
    np.testing.assert_allclose(theta_quality(r, theta), q / q.max())


def test_ties_go_to_lower_index_or_follow_rng():
    F = np.eye(6)
    q = np.ones(6)
    assert dpp_greedy_map(F, q, 6).tolist() == [0, 1, 2, 3, 4, 5]
    a = dpp_greedy_map(F, q, 6, rng=np.random.default_rng(7))
    b = dpp_greedy_map(F, q, 6, rng=np.random.default_rng(7))
    expected = np.argsort(np.random.default_rng(7).permutation(6))  # lowest priority first
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, expected)


def test_zero_quality_items_come_last():
    F = np.random.default_rng(0).standard_normal((6, 3))
    q = np.array([0.0, 0.5, 0.0, 0.9, 0.7, 0.0])
    got = dpp_greedy_map(F, q, 5)
    assert set(got[:3].tolist()) == {1, 3, 4}
    assert got[3:].tolist() == [0, 2]
    np.testing.assert_array_equal(got, brute_force_greedy(F, q, 5))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_torch_backend_makes_the_numpy_picks(dtype):
    # The same instances as the brute-force test (restarts, duplicated directions, zero quality),
    # plus larger ones where the numpy path works in blocks: identical picks, in the same order.
    cases = list(_instances(seed=11, count=20))
    rng = np.random.default_rng(12)
    for _ in range(4):
        n, d = 3000, 24
        F = rng.standard_normal((n, d)) * rng.uniform(0.5, 2, (n, 1))
        q = rng.uniform(0.1, 1.0, n)
        q[rng.integers(0, n, 20)] = 0.0
        cases.append((n, d, 200, F, q))
    for n, d, budget, F, q in cases:
        F = F.astype(dtype)
        want = dpp_greedy_map(F, q, budget, pool_size=64)
        got = dpp_greedy_map(F, q, budget, device="cpu")
        np.testing.assert_array_equal(got, want, err_msg=f"n={n} d={d} budget={budget}")
    # ties follow the same rng priorities
    a = dpp_greedy_map(np.eye(6), np.ones(6), 6, rng=np.random.default_rng(7))
    b = dpp_greedy_map(np.eye(6), np.ones(6), 6, rng=np.random.default_rng(7), device="cpu")
    np.testing.assert_array_equal(a, b)


def test_half_precision_features_are_accepted():
    rng = np.random.default_rng(5)
    F = rng.standard_normal((500, 16)).astype(np.float16)
    q = rng.uniform(0.2, 1.0, 500)
    want = dpp_greedy_map(F.astype(np.float32), q, 30)  # half is storage; the greedy runs in float32
    np.testing.assert_array_equal(dpp_greedy_map(F, q, 30), want)
    np.testing.assert_array_equal(dpp_greedy_map(torch.from_numpy(F), q, 30, device="cpu"), want)
    B = torch.from_numpy(F.astype(np.float32)).to(torch.bfloat16)
    np.testing.assert_array_equal(dpp_greedy_map(B, q, 30), dpp_greedy_map(B.float().numpy(), q, 30))


def test_zero_rows_are_allowed_with_zero_quality():
    F = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    got = dpp_greedy_map(F, np.array([0.9, 0.0, 0.8, 0.7]), 4)
    assert got.tolist()[:2] == [0, 2] and got.tolist()[3] == 1  # the zero row last
    assert dpp_greedy_map(F, np.array([0.9, 0.0, 0.8, 0.7]), 4, device="cpu").tolist() == got.tolist()


def test_memory_is_never_quadratic():
    # An N x N float64 kernel would take 3.2 GB here; the greedy must stay in O(N d + budget d).
    rng = np.random.default_rng(0)
    F = rng.standard_normal((20_000, 16)).astype(np.float32)
    q = rng.uniform(0.1, 1.0, 20_000)
    tracemalloc.start()
    picks = dpp_greedy_map(F, q, 200)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(np.unique(picks)) == 200
    assert peak < 40e6, f"peak {peak / 1e6:.1f} MB"


def test_select_dpp_returns_a_selection():
    F = np.random.default_rng(1).standard_normal((20, 4))
    q = np.random.default_rng(2).uniform(0.1, 1, 20)
    sel = select_dpp(F, q, 7)
    assert isinstance(sel, Selection)
    np.testing.assert_array_equal(sel.indices, np.sort(dpp_greedy_map(F, q, 7)))
    assert np.all(sel.weights == 1.0)


@pytest.mark.parametrize(
    "features, quality, budget, kwargs, match",
    [
        (np.ones((3, 2)), np.ones(3), 4, {}, "larger than the pool"),
        (np.ones((3, 2)), np.ones(3), 0, {}, ">= 1"),
        (np.ones((3, 2)), np.ones(3), -2, {}, ">= 1"),
        (np.array([[1.0, np.nan], [1, 0], [0, 1]]), np.ones(3), 2, {}, "NaN/inf"),
        (np.array([[1.0, np.inf], [1, 0], [0, 1]]), np.ones(3), 2, {}, "NaN/inf"),
        (np.ones((3, 2)), np.array([1.0, np.nan, 1.0]), 2, {}, "NaN/inf"),
        (np.ones((3, 2)), np.array([1.0, np.inf, 1.0]), 2, {}, "NaN/inf"),
        (np.array([[1.0, 0], [0, 0], [0, 1]]), np.ones(3), 2, {}, "all zeros"),
        (np.ones((3, 2)), np.array([1.0, -0.5, 1.0]), 2, {}, ">= 0"),
        (np.ones((3, 2)), np.ones(4), 2, {}, "shape"),
        (np.ones(3), np.ones(3), 2, {}, "2-d"),
        (np.ones((3, 2)), np.ones(3), 2, {"theta": 1.0}, r"\[0, 1\)"),
        (np.ones((3, 2)), np.ones(3), 2, {"dtype": np.float16}, "float32 or float64"),
    ],
)
def test_input_errors(features, quality, budget, kwargs, match):
    with pytest.raises(ValueError, match=match):
        dpp_greedy_map(features, quality, budget, **kwargs)


def test_budget_must_be_an_int():
    with pytest.raises(TypeError, match="int"):
        dpp_greedy_map(np.eye(3), np.ones(3), 2.0)


def test_docstring_examples():
    assert doctest.testmod(dpp_module).failed == 0
