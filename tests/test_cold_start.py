"""``cold_start='random'``: without a warm-up, the first epoch trains a uniform random subset with
no scoring pass, and the next selection scores exactly the examples it did not train."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from contract_loop import EPOCHS, N, run  # noqa: E402

from datadiet import DataDiet  # noqa: E402
from datadiet.rng import epoch_rng  # noqa: E402
from datadiet.select.random import random_subset  # noqa: E402


def test_first_epoch_is_random_and_unscored_then_the_untrained_rest_is_scored():
    diet = run("cold_random")["diet"]
    k = int(round(0.4 * N))
    assert [r["scored"] for r in diet.log[:2]] == [0, N - k]
    first = random_subset(N, 0.4, epoch_rng(3, 0, "select"))  # the diet's seed is 3 in contract_loop
    assert diet.log[0]["kept"] == k
    kept = diet.run_log.kept_matrix()
    np.testing.assert_array_equal(np.flatnonzero(kept[0]), first.indices)
    # every example has a score by the second selection: the first epoch's free, the rest from the pass
    assert diet.history.count.min() >= 1
    plan = diet.plan(N, EPOCHS)
    assert [e.scored for e in plan.epochs[:2]] == [0, N - k]
    assert [e.scored for e in plan.epochs[2:]] == [r["scored"] for r in diet.log[2:]]


def test_a_score_training_cannot_give_is_still_not_computed_for_the_random_first_epoch():
    diet = run("cold_random_grand")["diet"]  # GraNd needs per-example gradients: passes score everything
    assert [r["scored"] for r in diet.log] == [0, N, N, N]
    assert [e.scored for e in diet.plan(N, EPOCHS).epochs] == [0, N, N, N]


def test_cold_start_settings_are_checked():
    with pytest.raises(ValueError, match="warmup_epochs=0"):
        DataDiet(keep=0.3, cold_start="random")
    with pytest.raises(ValueError, match="cold_start"):
        DataDiet(keep=0.3, warmup_epochs=0, cold_start="randm")
    # the default (a pass over everything with the model as it is) keeps its plan
    assert DataDiet(keep=0.3, warmup_epochs=0).plan(100, 3).epochs[0].scored == 100
