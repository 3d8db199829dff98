"""Property tests of every registered selector (hypothesis): counts, uniqueness, range,
determinism per generator seed, class coverage, unbiased InfoBatch weights, DPP past its rank."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datadiet.select import SelectionRequest, available_selectors, get_selector
from datadiet.select.importance import hard_and_sampled
from datadiet.select.infobatch import infobatch_prune
from datadiet.select.self_paced import select_p3
from datadiet.select.validation import kept_count

OPTIONS = {"epsilon_greedy": {"epsilon": 0.3}, "band": {"offset": 0.1}, "infobatch": {"prune_ratio": 0.5},
           "importance": {"hard_share": 0.4},
           "p3": {"start": 30.0, "end": 90.0}}


@st.composite
def problems(draw):
    n = draw(st.integers(2, 60))
    scores = np.array(draw(st.lists(st.floats(0, 5, allow_nan=False), min_size=n, max_size=n)))
    labels = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    keep = draw(st.floats(0.05, 1.0))
    d = draw(st.integers(1, 6))
    features = np.array(draw(st.lists(st.floats(0.1, 1.0), min_size=n * d, max_size=n * d))).reshape(n, d)
    return n, scores, labels, keep, features, draw(st.integers(0, 2**16)), draw(st.integers(0, 4))


def request(n, scores, labels, keep, features, seed, epoch, name):
    return SelectionRequest(num_examples=n, keep=keep, rng=np.random.default_rng([seed, epoch]), scores=scores,
                            labels=labels, features=features, epoch=epoch, num_epochs=5,
                            options=OPTIONS.get(name, {}))


@pytest.mark.parametrize("name", sorted(available_selectors()))
@settings(max_examples=40, deadline=None)
@given(problem=problems())
def test_every_selector_keeps_unique_in_range_ids_deterministically(name, problem):
    n, scores, labels, keep, features, seed, epoch = problem
    if name == "class_balanced" and kept_count(keep, n) < len(np.unique(labels)):
        return  # refused by design: a class-balanced selection keeps one per class (tested elsewhere)
    sel = get_selector(name)(request(n, scores, labels, keep, features, seed, epoch, name))
    again = get_selector(name)(request(n, scores, labels, keep, features, seed, epoch, name))
    idx = sel.indices
    assert len(np.unique(idx)) == len(idx) and idx.min() >= 0 and idx.max() < n
    np.testing.assert_array_equal(idx, again.indices)
    np.testing.assert_array_equal(sel.weights, again.weights)
    if name != "infobatch":
        assert len(idx) == kept_count(keep, n)
    if name not in ("infobatch", "importance"):
        assert np.all(sel.weights == 1.0)
    if name == "class_balanced":
        assert set(labels[idx]) == set(labels)


@settings(max_examples=60, deadline=None)
@given(losses=st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=80), r=st.floats(0, 0.95),
       seed=st.integers(0, 2**16))
def test_infobatch_weights_are_unbiased_for_the_realised_drop(losses, r, seed):
    s = np.array(losses)
    sel = infobatch_prune(s, r, np.random.default_rng(seed))
    well = np.flatnonzero(s < s.mean(dtype=np.float64))
    kept_well = np.isin(sel.indices, well)
    # every well-learned example is kept with probability kept/W: its weight times that is exactly 1
    if kept_well.any():
        w = sel.weights[kept_well]
        assert np.allclose(w, w[0]) and w[0] * kept_well.sum() == pytest.approx(len(well))
    assert np.all(sel.weights[~kept_well] == 1.0)
    assert len(sel) == len(s) - (len(well) - kept_well.sum())


def test_infobatch_small_group_by_hand():
    # [0, 0, 1] at r = 0.375: two well-learned examples, one dropped, the other weighted 2 (not 1.6)
    sel = infobatch_prune(np.array([0.0, 0.0, 1.0]), 0.375, np.random.default_rng(0))
    assert len(sel) == 2 and sorted(sel.weights.tolist()) == [1.0, 2.0]


@settings(max_examples=30, deadline=None)
@given(n=st.integers(5, 40), d=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_dpp_selection_reaches_a_budget_above_the_feature_rank(n, d, seed):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, d)) + 3.0
    difficulty = rng.uniform(0, 1, size=n)
    budget = min(n, d + 3)
    sel = select_p3(difficulty, features, epoch=4, num_epochs=5, budget=budget, start=100.0, end=100.0,
                    rng=np.random.default_rng(seed))
    assert len(sel) == budget and len(np.unique(sel.indices)) == budget


@settings(max_examples=60, deadline=None)
@given(scores=st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=80), keep=st.floats(0.02, 1.0),
       share=st.floats(0, 1), seed=st.integers(0, 2**16))
def test_importance_weights_undo_the_sampling_probability(scores, keep, share, seed):
    """The hardest round(share * k) have weight 1; each sampled one weighs R / m = 1 / P(drawn), so the
    weights of one draw sum to N, the full-data count (the weighted loss is unbiased)."""
    s = np.array(scores)
    n, k = len(s), kept_count(keep, len(s))
    sel = hard_and_sampled(s, keep, share, np.random.default_rng(seed))
    n_hard = int(round(share * k))
    hardest = np.lexsort((np.arange(n), -s))[:n_hard]
    assert len(sel) == k and set(hardest) <= set(sel.indices.tolist())
    w = sel.weight_lookup(n)
    assert np.all(w[hardest] == 1.0)
    if k > n_hard:
        np.testing.assert_allclose(w.sum(), n, rtol=1e-5)
