"""``budget_unit='tokens'``: the kept fraction counts tokens, never more than ``keep`` of them."""

import os
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))
from contract_loop import EPOCHS, N, run  # noqa: E402

from datadiet import DataDiet  # noqa: E402
from datadiet.select.quantile import quantile_band  # noqa: E402
from datadiet.select.token_budget import fit_token_budget  # noqa: E402
from datadiet.select.validation import kept_count  # noqa: E402


def test_long_hard_examples_by_hand():
    """5 hardest examples of 10 tokens, 15 easy of 1 (65 tokens). keep 0.5 = 32.5 tokens: 10 hardest
    cost 55; the rounds go 10 -> 6 (51) -> 4 (40) -> 3 (30): the largest hardest-first set that fits."""
    lengths = np.array([10] * 5 + [1] * 15)
    scores = -np.arange(20.0)  # id 0 hardest
    sel = fit_token_budget(lambda k: quantile_band(scores, k), 0.5, lengths)
    np.testing.assert_array_equal(sel.indices, [0, 1, 2])
    brute = max(c for c in range(1, 21) if lengths[:c].sum() <= 32.5)  # the best prefix that fits
    assert len(sel) == brute
    with pytest.raises(ValueError, match="input_ids"):
        fit_token_budget(lambda k: quantile_band(scores, k), 0.5, None)


@settings(max_examples=60, deadline=None)
@given(lengths=st.lists(st.integers(1, 50), min_size=2, max_size=60), keep=st.floats(0.05, 1.0),
       seed=st.integers(0, 1000))
def test_never_more_tokens_nor_examples_than_the_budget(lengths, keep, seed):
    lengths = np.array(lengths)
    scores = np.random.default_rng(seed).random(len(lengths))
    sel = fit_token_budget(lambda k: quantile_band(scores, k), keep, lengths)
    assert len(sel) <= kept_count(keep, len(lengths))
    assert lengths[sel.indices].sum() <= keep * lengths.sum() or len(sel) == 1  # one example at least


def test_a_token_budgeted_run_logs_its_token_share_and_stays_within_the_plan():
    diet = run("tokens")["diet"]
    pruned = [r for r in diet.log if r["phase"] == "prune"]
    assert pruned and all(r["kept_token_fraction"] <= 0.5 + 1e-9 for r in pruned)
    planned = diet.plan(N, EPOCHS)
    assert all(r["kept"] <= e.trained for r, e in zip(diet.log, planned.epochs))
    assert not DataDiet(keep=0.5, budget_unit="tokens").strategy.exact_plan
    assert "upper bounds" in str(planned) and "upper bounds" not in str(DataDiet(keep=0.5).plan(N, EPOCHS))
    with pytest.raises(ValueError, match="budget_unit"):
        DataDiet(keep=0.5, budget_unit="flops")
