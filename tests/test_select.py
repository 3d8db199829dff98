"""Selectors against brute force, on random instances with many ties."""

import numpy as np
import pytest

from datadiet.rng import epoch_rng
from datadiet.schedule import Schedule, epoch_optimizer_steps
from datadiet.select.infobatch import infobatch_prune
from datadiet.select.quantile import class_balanced_band, class_quotas, epsilon_greedy, quantile_band
from datadiet.select.random import random_subset
from datadiet.select.selection import Selection


def brute_band(scores, keep, offset):
    n = len(scores)
    ranked = sorted(range(n), key=lambda i: (-scores[i], i))
    k = max(1, round(keep * n))
    start = min(round(offset * n), n - k)
    return sorted(ranked[start : start + k])


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("keep,offset", [(0.5, 0.0), (0.2, 0.1), (0.3, 0.8), (1.0, 0.0), (0.01, 0.0)])
def test_quantile_band_matches_brute_force_with_ties(seed, keep, offset):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 5, size=57).astype(float)  # many ties at every quantile bound
    sel = quantile_band(scores, keep, offset)
    assert sel.indices.tolist() == brute_band(scores.tolist(), keep, offset)
    assert len(sel) == max(1, round(keep * 57))


def test_band_keeps_the_hardest_and_inf_counts_as_hardest():
    scores = np.array([0.1, np.inf, 0.5, 0.3])
    assert quantile_band(scores, 0.5).indices.tolist() == [1, 2]


def test_bad_keep_and_nan_scores():
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        quantile_band(np.zeros(3), 0.0)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        quantile_band(np.zeros(3), 1.5)
    with pytest.raises(ValueError, match=r"example ids \[1\]"):
        quantile_band(np.array([0.0, np.nan, 1.0]), 0.5)
    with pytest.raises(ValueError, match="never be empty"):
        Selection.of([])


def test_epsilon_greedy_counts_and_determinism():
    scores = np.arange(100, dtype=float)
    a = epsilon_greedy(scores, 0.3, 0.2, epoch_rng(0, 3, "select"))
    b = epsilon_greedy(scores, 0.3, 0.2, epoch_rng(0, 3, "select"))
    c = epsilon_greedy(scores, 0.3, 0.2, epoch_rng(0, 4, "select"))
    assert len(a) == 30 and a.indices.tolist() == b.indices.tolist() and a.indices.tolist() != c.indices.tolist()
    assert set(range(76, 100)) <= set(a.indices.tolist())  # the 24 greedy picks are the hardest
    assert len(set(a.indices.tolist()) - set(range(76, 100))) == 6


def test_class_balanced_exact_total_and_no_class_vanishes():
    rng = np.random.default_rng(0)
    labels = np.array([0] * 50 + [1] * 7 + [2] * 2 + [3])
    scores = rng.random(len(labels))
    sel = class_balanced_band(scores, labels, 0.2)
    assert len(sel) == 12
    kept_labels = labels[sel.indices]
    assert set(kept_labels.tolist()) == {0, 1, 2, 3}
    q = class_quotas(labels, 0.2)
    for c in q:  # within each class, the quota's hardest examples
        members = np.flatnonzero(labels == c)
        hardest = members[np.argsort(-scores[members], kind="stable")][: q[c]]
        assert set(hardest.tolist()) == set(sel.indices[kept_labels == c].tolist())


def test_infobatch_prunes_only_well_learned_and_rescales():
    losses = np.array([0.1, 0.2, 0.3, 5.0, 6.0, 0.15, np.inf])
    sel = infobatch_prune(losses, 0.5, np.random.default_rng(0))
    finite_mean = losses[:6].mean()
    well = set(np.flatnonzero(losses < finite_mean).tolist())  # {0,1,2,5}
    dropped = set(range(7)) - set(sel.indices.tolist())
    assert len(dropped) == 2 and dropped <= well
    w = dict(zip(sel.indices.tolist(), sel.weights.tolist()))
    for i, wi in w.items():
        assert wi == (2.0 if i in well else 1.0)


def test_infobatch_all_equal_losses_prunes_nothing():
    losses = np.full(1000, 0.1 + 0.2)  # InfoBatch's float-rounding bug made half of these "below the mean"
    assert len(infobatch_prune(losses, 0.5, np.random.default_rng(0))) == 1000


def test_random_subset_is_seeded_by_generator():
    a = random_subset(100, 0.25, epoch_rng(1, 2, "random"))
    assert len(a) == 25 and a.indices.tolist() == random_subset(100, 0.25, epoch_rng(1, 2, "random")).indices.tolist()


def test_schedule_phases_ramp_and_errors():
    s = Schedule(10, keep=(0.8, 0.2), warmup_epochs=2, anneal_epochs=1, period=2)
    assert [s.phase(e) for e in (0, 1, 2, 8, 9)] == ["warmup", "warmup", "prune", "prune", "anneal"]
    assert s.keep_at(2) == pytest.approx(0.8) and s.keep_at(8) == pytest.approx(0.2)
    assert [s.is_selection_epoch(e) for e in range(2, 9)] == [True, False, True, False, True, False, True]
    assert s.kept_counts(100)[:3] == [100, 100, 80]
    with pytest.raises(ValueError, match="exceed the 3 training epochs"):
        Schedule(3, warmup_epochs=3, anneal_epochs=1)
    assert epoch_optimizer_steps(101, 10, world_size=2) == 6
    assert epoch_optimizer_steps(101, 10, world_size=2, drop_last=True) == 5


def test_ccs_stratum_quotas_by_hand():
    from datadiet.select.ccs import stratum_quotas

    # smallest first: 1 (all of it), then 5 // 2 = 2, then the remaining 3
    assert stratum_quotas(np.array([10, 1, 4]), 6).tolist() == [3, 1, 2]
    assert stratum_quotas(np.array([0, 5, 5]), 4).tolist() == [0, 2, 2]
    assert stratum_quotas(np.array([2, 2]), 10).tolist() == [2, 2]


def test_ccs_drops_the_hardest_and_covers_every_stratum():
    from datadiet.select.ccs import coverage_centric

    # 100 examples: 10 very hard ones (scores 10..19) and 90 spread evenly over [0, 0.9)
    scores = np.concatenate([np.arange(90) / 100, 10.0 + np.arange(10)])
    sel = coverage_centric(scores, keep=0.3, rng=np.random.default_rng(0), beta=0.1, num_strata=3)
    assert len(sel) == 30
    assert not np.isin(np.arange(90, 100), sel.indices).any()  # the hardest beta * N are gone
    strata = np.minimum((scores[sel.indices] / 0.89 * 3).astype(int), 2)
    assert np.bincount(strata, minlength=3).tolist() == [10, 10, 10]  # even across equal-width strata
    # the band keeps the hardest 30 instead, all ten outliers among them
    band = quantile_band(scores, 0.3)
    assert np.isin(np.arange(90, 100), band.indices).all()


def test_ccs_lowers_beta_to_leave_the_budget_and_validates():
    from datadiet.select.ccs import coverage_centric

    sel = coverage_centric(np.arange(10.0), keep=0.9, rng=np.random.default_rng(1), beta=0.5)
    assert len(sel) == 9 and 9 not in sel.indices  # only one example could be dropped
    with pytest.raises(ValueError, match="beta"):
        coverage_centric(np.arange(10.0), 0.5, np.random.default_rng(0), beta=1.0)


def test_ccs_through_the_diet_static_and_dynamic():
    from datadiet import DataDiet
    from datadiet.strategies import EpochContext

    diet = DataDiet(keep=0.3, selector="ccs", beta=0.2, num_epochs=3, task="sequence_classification")
    diet.setup(50)
    diet.begin_epoch(0)
    diet.history.update(np.arange(50), np.arange(50) / 10.0, 0)
    sel = diet.begin_epoch(1)  # nothing stale yet: selected from the warm-up's free scores
    assert len(sel) == 15 and sel.indices.max() < 40  # the hardest 20% (ids 40..49) are dropped first
    static = DataDiet.static(keep=0.3, selector="ccs", num_epochs=3, task="sequence_classification").setup(50)
    static.history.update(np.arange(50), np.arange(50) / 10.0, 0)
    ctx = EpochContext(1, static.schedule, static.history, static.selection, seed=0)
    assert len(static.strategy.select(ctx)) == 15 and static.strategy.selects_at(1, static.schedule)
    assert not static.strategy.selects_at(2, static.schedule)
    with pytest.raises(ValueError, match="takes no option epsilon"):
        DataDiet(keep=0.3, selector="ccs", epsilon=0.1)


def test_importance_sampling_by_hand_and_in_expectation():
    """Scores 5 > 4 > 3 > 2 > 1 > 0, keep 4 of 6 with half the slots hard: ids 0 and 1 always (weight
    1), 2 of the other 4 drawn, each weighted 4 / 2 = 2; over many draws each of those 4 is drawn
    with probability 1/2, so its expected weight is 1, as in full-data training."""
    from datadiet.select.importance import hard_and_sampled

    scores = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.0])
    rng = np.random.default_rng(0)
    expected = np.zeros(6)
    for _ in range(4000):
        sel = hard_and_sampled(scores, 4 / 6, 0.5, rng)
        assert {0, 1} <= set(sel.indices.tolist()) and len(sel) == 4
        w = sel.weight_lookup(6)
        assert sorted(w[2:][w[2:] > 0].tolist()) == [2.0, 2.0]
        expected += w
    np.testing.assert_allclose(expected / 4000, np.ones(6), atol=0.05)
    with pytest.raises(ValueError, match="hard_share"):
        hard_and_sampled(scores, 0.5, 1.5, rng)
    np.testing.assert_array_equal(hard_and_sampled(scores, 0.5, 1.0, rng).indices, [0, 1, 2])


def test_weights_of_a_batch_equal_the_lookup_over_the_training_set():
    rng = np.random.default_rng(4)
    for n, keep in ((1, 1), (50, 7), (1000, 1000), (1000, 311)):
        indices = rng.choice(n, size=keep, replace=False)
        weights = rng.uniform(0.5, 3.0, size=keep)
        sel = Selection.of(indices, weights)
        ids = rng.integers(0, n, size=64)
        np.testing.assert_array_equal(sel.weights_of(ids), sel.weight_lookup(n)[ids])
        assert not sel.uniform
    assert Selection.full(5).uniform and Selection.of([3, 1], [1.0, 1.0]).uniform
    assert not Selection.of([3, 1], [1.0, 2.0]).uniform
