"""Self-paced percentile schedule, eligibility, and the P3 selection."""

import doctest
import math

import numpy as np
import pytest

import datadiet.select.self_paced as sp_module
from datadiet.select.dpp import dpp_greedy_map
from datadiet.select.self_paced import select_p3, self_paced_eligible, self_paced_percentile


def test_linear_schedule_is_p3s():
    assert [self_paced_percentile(e, 4) for e in range(4)] == [50.0, 65.0, 80.0, 95.0]
    assert [self_paced_percentile(e, 3, start=20, end=80) for e in range(3)] == [20.0, 50.0, 80.0]


def test_other_shapes():
    # cosine: slow at both ends, the linear value in the middle
    assert self_paced_percentile(0, 5, shape="cosine") == 50.0
    assert self_paced_percentile(4, 5, shape="cosine") == 95.0
    assert math.isclose(self_paced_percentile(2, 5, shape="cosine"), 72.5)
    assert math.isclose(self_paced_percentile(1, 5, shape="cosine"), 50 + 45 * (1 - math.cos(math.pi / 4)) / 2)
    # sqrt: fast early
    assert math.isclose(self_paced_percentile(1, 5, shape="sqrt"), 50 + 45 * 0.5)
    # step: start for the first half, end afterwards
    assert [self_paced_percentile(e, 4, shape="step") for e in range(4)] == [50.0, 50.0, 95.0, 95.0]
    # one epoch: no schedule, the widest set
    assert self_paced_percentile(0, 1) == 95.0


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


def test_select_p3_runs_the_dpp_on_the_eligible_examples():
    rng = np.random.default_rng(0)
    n = 60
    d = rng.uniform(0, 1, n)
    F = rng.standard_normal((n, 8))
    sel = select_p3(d, F, epoch=0, num_epochs=3, budget=10)
    eligible = self_paced_eligible(d, 50)
    assert len(eligible) == 30
    want = eligible[dpp_greedy_map(F[eligible], d[eligible], 10)]
    np.testing.assert_array_equal(sel.indices, np.sort(want))
    assert set(sel.indices) <= set(eligible)
    # the last epoch widens the pool to the 95th percentile
    last = select_p3(d, F, epoch=2, num_epochs=3, budget=10)
    assert set(last.indices) <= set(self_paced_eligible(d, 95))


def test_select_p3_prefers_harder_eligible_examples_with_orthogonal_features():
    d = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    sel = select_p3(d, np.eye(8), epoch=0, num_epochs=2, budget=2)  # eligible: d <= 0.45 -> 0..3
    assert sel.indices.tolist() == [2, 3]


def test_select_p3_fills_with_the_next_easiest_when_too_few_are_eligible():
    d = np.array([0.9, 0.1, np.inf, 0.5, 0.3, 0.7])
    F = np.random.default_rng(0).standard_normal((6, 3))
    # epoch 0 of 2 with start=0: only the easiest (index 1) is eligible; fill with 4 then 3
    sel = select_p3(d, F, epoch=0, num_epochs=2, budget=3, start=0)
    assert sel.indices.tolist() == [1, 3, 4]
    # the infinitely hard example comes last of all
    assert select_p3(d, F, epoch=0, num_epochs=2, budget=6, start=0).indices.tolist() == list(range(6))
    assert 2 not in select_p3(d, F, epoch=0, num_epochs=2, budget=5, start=0).indices


def test_select_p3_all_infinite_is_pure_diversity():
    d = np.full(5, np.inf)
    F = np.array([[1.0, 0], [1.0, 0.01], [0, 1.0], [0.01, 1.0], [1.0, 1.0]])
    sel = select_p3(d, F, epoch=0, num_epochs=1, budget=2)
    np.testing.assert_array_equal(sel.indices, np.sort(dpp_greedy_map(F, np.ones(5), 2)))


def test_select_p3_is_deterministic_given_the_rng():
    d = np.repeat([0.2, 0.4], 10)  # many ties
    F = np.eye(20)
    a = select_p3(d, F, 1, 3, 8, rng=np.random.default_rng(5))
    b = select_p3(d, F, 1, 3, 8, rng=np.random.default_rng(5))
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
