"""Self-paced percentile schedule, eligibility, and the P3 selection."""

import doctest
import itertools
import math

import numpy as np
import pytest
import torch

import datadiet.select.self_paced as sp_module
from datadiet.select.dpp import dpp_greedy_map
from datadiet.select.self_paced import (
    PERCENTILE_SHAPES,
    p3_quality,
    select_p3,
    self_paced_eligible,
    self_paced_percentile,
    standardize_features,
)


def test_default_schedule_is_the_authors_code():
    # PPP_APEX: percentile = 20 e for e = 1..5 (0-based here: 20 (e + 1)).
    assert [self_paced_percentile(e, 5) for e in range(5)] == [20.0, 40.0, 60.0, 80.0, 100.0]
    # The same form for any E: the easiest (e + 1) / E of the pool, the whole pool at the end.
    assert [self_paced_percentile(e, 4) for e in range(4)] == [25.0, 50.0, 75.0, 100.0]
    assert [self_paced_percentile(e, 10) for e in range(10)] == [10.0 * (e + 1) for e in range(10)]
    assert self_paced_percentile(0, 1) == 100.0
    # p3_code with other endpoints: one step of (end - start) / E per epoch
    assert [self_paced_percentile(e, 3, start=40, end=100, shape="p3_code") for e in range(3)] == [60.0, 80.0, 100.0]


def test_linear_schedule_is_the_papers_formula():
    assert [self_paced_percentile(e, 4, 50, 95, "linear") for e in range(4)] == [50.0, 65.0, 80.0, 95.0]
    assert [self_paced_percentile(e, 3, start=20, end=80, shape="linear") for e in range(3)] == [20.0, 50.0, 80.0]
    # linear from 20 to 100 is the same as the code's schedule for E = 5 (only)
    assert [self_paced_percentile(e, 5, 20, 100, "linear") for e in range(5)] == [20.0, 40.0, 60.0, 80.0, 100.0]


def test_constant_percentile_is_start_equal_end():
    # one version of the authors' code fixes the percentile at 80
    assert {self_paced_percentile(e, 5, 80, 80, s) for e in range(5) for s in PERCENTILE_SHAPES} == {80.0}


def test_other_shapes():
    # cosine: slow at both ends, the linear value in the middle
    kw = {"start": 50, "end": 95}
    assert self_paced_percentile(0, 5, shape="cosine", **kw) == 50.0
    assert self_paced_percentile(4, 5, shape="cosine", **kw) == 95.0
    assert math.isclose(self_paced_percentile(2, 5, shape="cosine", **kw), 72.5)
    assert math.isclose(self_paced_percentile(1, 5, shape="cosine", **kw), 50 + 45 * (1 - math.cos(math.pi / 4)) / 2)
    # sqrt: fast early
    assert math.isclose(self_paced_percentile(1, 5, shape="sqrt", **kw), 50 + 45 * 0.5)
    # step: start for the first half, end afterwards
    assert [self_paced_percentile(e, 4, shape="step", **kw) for e in range(4)] == [50.0, 50.0, 95.0, 95.0]
    # one epoch: no schedule, the widest set
    assert self_paced_percentile(0, 1, shape="linear", **kw) == 95.0


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((4, 4), {}, "epoch must be"),
        ((-1, 4), {}, "epoch must be"),
        ((0, 0), {}, "num_epochs"),
        ((0, 3), {"shape": "exp"}, "unknown shape"),
        ((0, 3), {"start": -1}, "start"),
        ((0, 3), {"end": 101}, "end"),
    ],
)
def test_schedule_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        self_paced_percentile(*args, **kwargs)


def test_eligible_is_at_or_below_the_percentile():
    d = np.array([0.5, 0.1, 0.9, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 1.0])
    assert self_paced_eligible(d, 50).tolist() == [0, 1, 3, 5, 7]  # median 0.55
    assert self_paced_eligible(d, 0).tolist() == [1]
    assert self_paced_eligible(d, 100).tolist() == list(range(10))
    # ties at the threshold are all eligible
    assert self_paced_eligible([0.2, 0.2, 0.2, 0.9], 10).tolist() == [0, 1, 2]


def test_infinite_difficulty_is_never_eligible_unless_all_are():
    d = np.array([0.3, np.inf, 0.1, np.inf, 0.2])
    assert self_paced_eligible(d, 100).tolist() == [0, 2, 4]
    assert self_paced_eligible(d, 50).tolist() == [2, 4]  # percentile over the finite values only
    assert self_paced_eligible([np.inf, np.inf], 50).tolist() == [0, 1]


def test_eligible_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        self_paced_eligible([0.1, np.nan], 50)


def test_eligibility_equals_the_authors_rule_on_action_probabilities():
    # The code keeps the examples whose mean action probability s = 1 - d is at or above the
    # (100 - P)-th percentile of s. Difficulties on a grid of 11 values: every 20 e percentile
    # lands on a data point, so ties at the threshold are exercised exactly.
    rng = np.random.default_rng(0)
    for _ in range(20):
        d = rng.permutation(np.arange(11) / 16.0)  # exact in binary, and so is 1 - d
        d[rng.integers(0, 11)] = d[rng.integers(0, 11)]  # a tie
        s = 1.0 - d
        for e in range(5):
            p = self_paced_percentile(e, 5)
            theirs = np.flatnonzero(s >= np.percentile(s, 100 - p))
            np.testing.assert_array_equal(self_paced_eligible(d, p), theirs)


def _brute_force_map(features, quality, k):
    """The exact DPP MAP of size k: the subset with the largest det(L_Y), over all subsets."""
    F = np.asarray(features, dtype=np.float64)
    Fn = F / np.linalg.norm(F, axis=1, keepdims=True)
    L = quality[:, None] * (Fn @ Fn.T) * quality[None, :]
    subsets = itertools.combinations(range(len(quality)), k)
    return sorted(max(subsets, key=lambda Y: np.linalg.det(L[np.ix_(Y, Y)])))


# Four examples, all eligible in a 1-epoch run (P = 100), budget 2.
D4 = np.array([0.1, 0.3, 0.6, 0.8])


def test_quality_easiness_vs_difficulty_hand_computed():
    # cos: (0,1) = (0,3) = (1,2) = 1/sqrt2, (0,2) = (1,3) = 0, (2,3) = -1/sqrt2; det{i,j} = q_i^2 q_j^2 (1 - cos^2).
    F = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, -1.0]])
    # q = 1 - d = .9, .7, .4, .2: det{0,1} = .81 * .49 * .5 = .198 beats det{0,2} = .81 * .16 = .130.
    easy = select_p3(D4, F, 0, 1, 2, quality="easiness", standardize=False).indices.tolist()
    # q = d = .1, .3, .6, .8: det{2,3} = .36 * .64 * .5 = .115 beats det{1,3} = .09 * .64 = .058.
    hard = select_p3(D4, F, 0, 1, 2, quality="difficulty", standardize=False).indices.tolist()
    assert easy == [0, 1] == _brute_force_map(F, 1 - D4, 2)
    assert hard == [2, 3] == _brute_force_map(F, D4, 2)
    # uniform quality: pure diversity, an orthogonal pair (the lowest ids among the ties)
    assert select_p3(D4, F, 0, 1, 2, quality="uniform", standardize=False).indices.tolist() == [0, 2]
    # the default is the authors' easiness
    assert select_p3(D4, F, 0, 1, 2, standardize=False).indices.tolist() == easy


def test_standardizing_the_features_changes_the_picks_hand_computed():
    # A large shared offset in dimension 0 makes every raw feature nearly parallel.
    F = np.array([[10.0, 1.0], [10.0, -1.0], [12.0, 1.0], [8.0, -1.0]])
    # z-scored (mean (10, 0), std (sqrt2, 1)): [0, 1], [0, -1], [sqrt2, 1], [-sqrt2, -1]
    Z = np.array([[0.0, 1.0], [0.0, -1.0], [np.sqrt(2), 1.0], [-np.sqrt(2), -1.0]])
    np.testing.assert_allclose(standardize_features(F), Z, atol=1e-7)
    q = 1 - D4
    # raw: cos(0,1) = 99/101, det{0,1} = .81 * .49 * (1 - .9606) = .0156, the largest pair
    assert select_p3(D4, F, 0, 1, 2, standardize=False).indices.tolist() == [0, 1] == _brute_force_map(F, q, 2)
    # z-scored: 0 and 1 are antiparallel (det 0); cos(0,2) = 1/sqrt3, det{0,2} = .81 * .16 * 2/3 = .0864
    assert select_p3(D4, F, 0, 1, 2).indices.tolist() == [0, 2] == _brute_force_map(Z, q, 2)


def test_standardize_is_over_the_eligible_examples():
    rng = np.random.default_rng(1)
    d = rng.uniform(0, 1, 40)
    F = rng.standard_normal((40, 6)) * rng.uniform(0.1, 10, 6) + rng.standard_normal(6) * 5
    elig = self_paced_eligible(d, 60)  # epoch 2 of 5
    sel = select_p3(d, F, 2, 5, 10)
    Z = (F[elig] - F[elig].mean(0)) / F[elig].std(0)
    want = elig[dpp_greedy_map(Z, 1 - d[elig], 10)]
    np.testing.assert_array_equal(sel.indices, np.sort(want))


def test_standardize_features_edge_cases():
    F = np.array([[1.0, 5.0, 0.0], [3.0, 5.0, 2.0], [2.0, 5.0, 1.0]])
    Z = standardize_features(F)
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z[:, 1], 0.0)  # constant dimension: 0, not NaN
    np.testing.assert_allclose(Z[2], 0.0)  # this row is the mean
    np.testing.assert_allclose(standardize_features(F, [0, 1]), [[-1, 0, -1], [1, 0, 1]])
    # chunked statistics equal the one-shot ones; float16 and bfloat16 input accepted
    G = np.random.default_rng(2).standard_normal((1000, 4)) * [1, 10, 100, 0.1] + 7
    np.testing.assert_allclose(standardize_features(G, chunk_rows=37), (G - G.mean(0)) / G.std(0), atol=2e-6)
    def z(x):
        return (x - x.mean(0)) / x.std(0)

    G16 = G.astype(np.float16)
    np.testing.assert_allclose(standardize_features(G16), z(G16.astype(np.float64)), atol=1e-5)
    Gb = torch.tensor(G, dtype=torch.bfloat16)
    np.testing.assert_allclose(standardize_features(Gb), z(Gb.double().numpy()), atol=1e-5)


def test_a_row_at_the_mean_comes_after_the_dpp_picks():
    # After z-scoring, example 2 is the mean (all zeros): no cosine, so quality 0.
    d = np.array([0.1, 0.2, 0.05, 0.3, 0.9])
    F = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 2.0], [5.0, 5.0]])
    sel = select_p3(d, F, 0, 2, 4, start=80, end=80)  # eligible 0..3; row 2 = mean of those
    assert sel.indices.tolist() == [0, 1, 2, 3]
    picks = select_p3(d, F, 0, 2, 3, start=80, end=80)
    assert 2 not in picks.indices  # the three with a direction first


def test_select_p3_runs_the_dpp_on_the_eligible_examples():
    rng = np.random.default_rng(0)
    n = 60
    d = rng.uniform(0, 1, n)
    F = rng.standard_normal((n, 8))
    sel = select_p3(d, F, epoch=0, num_epochs=3, budget=10, start=50, end=95, shape="linear",
                    quality="difficulty", standardize=False)
    eligible = self_paced_eligible(d, 50)
    assert len(eligible) == 30
    want = eligible[dpp_greedy_map(F[eligible], d[eligible], 10)]
    np.testing.assert_array_equal(sel.indices, np.sort(want))
    # the defaults: P = 100/3, quality 1 - d, z-scored features
    sel = select_p3(d, F, epoch=0, num_epochs=3, budget=10)
    eligible = self_paced_eligible(d, 100 / 3)
    Z = (F[eligible] - F[eligible].mean(0)) / F[eligible].std(0)
    np.testing.assert_array_equal(sel.indices, np.sort(eligible[dpp_greedy_map(Z, 1 - d[eligible], 10)]))
    last = select_p3(d, F, epoch=2, num_epochs=3, budget=10)
    assert set(last.indices) <= set(range(n))


def test_select_p3_with_orthogonal_features_follows_the_quality():
    d = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    kw = {"start": 50, "end": 95, "shape": "linear", "standardize": False}  # eligible: d <= 0.45 -> 0..3
    assert select_p3(d, np.eye(8), 0, 2, 2, quality="difficulty", **kw).indices.tolist() == [2, 3]
    assert select_p3(d, np.eye(8), 0, 2, 2, **kw).indices.tolist() == [0, 1]


def test_p3_quality():
    np.testing.assert_allclose(p3_quality([0.0, 0.25, 1.0]), [1.0, 0.75, 0.0])
    # a trend term can push d outside [0, 1]: the quality is clipped at 0
    np.testing.assert_allclose(p3_quality([-0.1, 1.2]), [1.1, 0.0])
    np.testing.assert_allclose(p3_quality([-0.1, 1.2], "difficulty"), [0.0, 1.2])
    np.testing.assert_allclose(p3_quality([0.3, 0.7], "uniform"), [1.0, 1.0])
    with pytest.raises(ValueError, match="unknown quality"):
        p3_quality([0.1], "hardness")
    with pytest.raises(ValueError, match="unknown quality"):
        select_p3(D4, np.eye(4), 0, 1, 2, quality="hardness")


def test_select_p3_takes_every_eligible_example_when_they_equal_the_budget():
    # P = 20 of 11 distinct difficulties: 3 eligible (0, 1/16, 2/16); budget 3 takes them all,
    # as the authors' pick-and-restart loop does.
    d = np.random.default_rng(3).permutation(np.arange(11) / 16.0)
    F = np.random.default_rng(4).standard_normal((11, 2))
    sel = select_p3(d, F, 0, 5, 3)
    np.testing.assert_array_equal(sel.indices, np.sort(np.flatnonzero(d <= 2 / 16)))


def test_select_p3_fills_with_the_next_easiest_when_too_few_are_eligible():
    d = np.array([0.9, 0.1, np.inf, 0.5, 0.3, 0.7])
    F = np.random.default_rng(0).standard_normal((6, 3))
    # epoch 0 of 2 with start=0, linear: only the easiest (index 1) is eligible; fill with 4 then 3
    kw = {"start": 0, "end": 100, "shape": "linear"}
    sel = select_p3(d, F, epoch=0, num_epochs=2, budget=3, **kw)
    assert sel.indices.tolist() == [1, 3, 4]
    # the infinitely hard example comes last of all
    assert select_p3(d, F, epoch=0, num_epochs=2, budget=6, **kw).indices.tolist() == list(range(6))
    assert 2 not in select_p3(d, F, epoch=0, num_epochs=2, budget=5, **kw).indices
    # the same as widening the percentile just enough: the 3 easiest are the eligible set at P = 50
    assert sel.indices.tolist() == self_paced_eligible(d, 50).tolist()


def test_select_p3_all_infinite_is_pure_diversity():
    d = np.full(5, np.inf)
    F = np.array([[1.0, 0], [1.0, 0.01], [0, 1.0], [0.01, 1.0], [1.0, 1.0]])
    sel = select_p3(d, F, epoch=0, num_epochs=1, budget=2, standardize=False)
    np.testing.assert_array_equal(sel.indices, np.sort(dpp_greedy_map(F, np.ones(5), 2)))


def test_select_p3_is_deterministic_given_the_rng():
    d = np.repeat([0.2, 0.4], 10)  # many ties
    F = np.eye(20)
    a = select_p3(d, F, 1, 3, 8, rng=np.random.default_rng(5))
    b = select_p3(d, F, 1, 3, 8, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a.indices, b.indices)


def test_select_p3_theta_uses_the_chosen_quality_as_relevance():
    rng = np.random.default_rng(6)
    d = rng.uniform(0, 1, 30)
    F = rng.standard_normal((30, 4))
    theta = 0.6
    sel = select_p3(d, F, 0, 1, 6, theta=theta, standardize=False)
    q = np.exp(theta * (1 - d) / (2 * (1 - theta)))
    np.testing.assert_array_equal(sel.indices, np.sort(dpp_greedy_map(F, q, 6)))


def test_select_p3_torch_device_matches_numpy():
    rng = np.random.default_rng(7)
    d = rng.uniform(0, 1, 300)
    F = rng.standard_normal((300, 12)).astype(np.float32)
    a = select_p3(d, F, 3, 5, 40)
    b = select_p3(d, torch.from_numpy(F).to(torch.bfloat16).float(), 3, 5, 40, device="cpu")
    np.testing.assert_array_equal(a.indices, b.indices)


@pytest.mark.parametrize("budget", [0, 7])
def test_select_p3_budget_errors(budget):
    with pytest.raises(ValueError, match="budget"):
        select_p3(np.linspace(0, 1, 6), np.eye(6), 0, 2, budget)


def test_select_p3_shape_errors():
    with pytest.raises(ValueError, match="features"):
        select_p3(np.linspace(0, 1, 6), np.eye(5), 0, 2, 2)


def test_docstring_examples():
    assert doctest.testmod(sp_module).failed == 0
