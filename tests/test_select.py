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
