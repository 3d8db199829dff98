"""The one re-score / cold-start policy (:class:`datadiet.strategies.rescore.RescorePolicy`) that
ScoreBased and P3 delegate to: the ids a pass re-scores against a brute-force expectation, the
plan's counts against hand-computed tables for each mode and cold start, the two strategies
agreeing where they should, and the plan's counts against what the passes scored in short real runs
(a tiny BERT classifier for ScoreBased, a tiny Llama with free difficulty and features for P3)."""

import copy
import dataclasses
import itertools
import os
import pickle
import sys

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, os.path.dirname(__file__))
from helpers import pad_collate, tiny_classifier, toy_classification_dataset  # noqa: E402
from resume_setups import causal_lm_pairs  # noqa: E402

from datadiet import DataDiet  # noqa: E402
from datadiet.history import SOURCE_PASS, ScoreHistory  # noqa: E402
from datadiet.planning import keep_for_budget  # noqa: E402
from datadiet.strategies import P3, ScoreBased  # noqa: E402
from datadiet.strategies.rescore import RescorePolicy  # noqa: E402

N = 100
MODES = ("stale", "all", "none")


def _history(last_epochs) -> ScoreHistory:
    """A history whose example ``i`` was last scored at ``last_epochs[i]`` (-1: never)."""
    h = ScoreHistory(len(last_epochs))
    last = np.asarray(last_epochs)
    for epoch in range(int(last.max()) + 1):
        ids = np.flatnonzero(last >= epoch)  # scored every epoch up to its last one
        h.update(ids, np.ones(len(ids)), epoch)
    return h


def _expected(strategy, num_examples=N, epochs=5):
    schedule = strategy.plan(num_examples, epochs)
    return [strategy.expected_scored(e, schedule, num_examples) for e in range(schedule.num_epochs)]


# ---------------------------------------------------------------------------------------------- ids
def test_the_ids_of_each_mode_hand_computed():
    # at epoch 4: 0, 1 never scored; 2, 3, 4 stale (ages 4, 3, 2); 5..9 scored at epoch 3 (age 1)
    h = _history([-1, -1, 0, 1, 2, 3, 3, 3, 3, 3])
    ids = lambda mode, fraction: RescorePolicy(mode, fraction).ids(4, h, seed=0).tolist()  # noqa: E731
    assert ids("all", 0.1) == list(range(10))
    assert ids("none", 0.5) == [0, 1]
    assert ids("stale", 0.0) == [0, 1]  # never-scored examples always, a budget of none
    assert ids("stale", 0.1) == [0, 1, 2]  # budget 1: the oldest
    assert ids("stale", 0.2) == [0, 1, 2, 3]
    assert ids("stale", 1.0) == [0, 1, 2, 3, 4]  # never one scored last epoch


@pytest.mark.parametrize("trial", range(20))
def test_stale_ids_brute_force(trial):
    """Against their definition: every never-scored example, then the stale ones (scored before
    last epoch) oldest first, at most ``round(fraction * n)``, random among equal ages."""
    rng = np.random.default_rng(trial)
    n, epoch = int(rng.integers(5, 60)), int(rng.integers(1, 7))
    last = rng.integers(-1, epoch, size=n)
    h = _history(last)
    fraction = float(rng.choice([0.0, 0.05, 0.1, 0.3, 1.0]))
    got = RescorePolicy("stale", fraction).ids(epoch, h, seed=trial)
    never = set(np.flatnonzero(last < 0).tolist())
    stale = {i for i in range(n) if 0 <= last[i] < epoch - 1}
    picked = set(got.tolist()) - never
    assert never <= set(got.tolist()) and picked <= stale
    assert len(picked) == min(int(round(fraction * n)), len(stale))
    left = stale - picked
    if picked and left:  # oldest first: no example left is older than one picked
        assert max(epoch - last[i] for i in left) <= min(epoch - last[i] for i in picked)
    assert np.array_equal(got, np.unique(got))  # sorted, no repeats
    np.testing.assert_array_equal(got, RescorePolicy("stale", fraction).ids(epoch, h, seed=trial))  # seeded


def test_stale_picks_among_equal_ages_at_random_by_seed_and_epoch():
    h = _history([0] * 50 + [3] * 10)  # at epoch 4: 50 stale of one age, 5 of them re-scored
    picks = {tuple(RescorePolicy("stale", 5 / 60).ids(4, h, seed=s).tolist()) for s in range(8)}
    assert len(picks) > 1 and all(len(p) == 5 and max(p) < 50 for p in picks)


# -------------------------------------------------------------------------------- expected counts
# N = 100 over 5 epochs, keep 0.5 (P3: budget 0.5), rescore_fraction 0.1: hand-computed
SCORE_BASED = {
    ("stale", "score", 1): [0, 10, 10, 10, 10],
    ("stale", "score", 0): [100, 10, 10, 10, 10],  # no warm-up: nothing scored before the first selection
    ("stale", "random", 0): [0, 50, 10, 10, 10],  # blind first epoch, then the 50 it did not train
    ("all", "score", 1): [0, 100, 100, 100, 100],
    ("all", "score", 0): [100] * 5,
    ("all", "random", 0): [0, 100, 100, 100, 100],
    ("none", "score", 1): [0, 0, 0, 0, 0],
    ("none", "score", 0): [100, 0, 0, 0, 0],
    ("none", "random", 0): [0, 50, 0, 0, 0],
}
P3_AFTER_WARMUP = {"stale": [0, 100, 10, 10, 10], "all": [0, 100, 100, 100, 100], "none": [0, 100, 0, 0, 0]}
"""P3 counts every example at the first selection even after a warm-up (first_pass_scores_all)."""


@pytest.mark.parametrize("mode, cold, warmup", list(SCORE_BASED))
def test_expected_scored_hand_computed(mode, cold, warmup):
    sb = ScoreBased(keep=0.5, rescore=mode, cold_start=cold, warmup_epochs=warmup)
    p3 = P3(budget=0.5, rescore=mode, cold_start=cold, warmup_epochs=warmup)
    assert _expected(sb) == SCORE_BASED[mode, cold, warmup]
    assert _expected(p3) == (P3_AFTER_WARMUP[mode] if warmup else SCORE_BASED[mode, cold, warmup])
    assert [sb.selects_blind(e) for e in range(5)] == [p3.selects_blind(e) for e in range(5)] == [cold == "random"] + [False] * 4
    assert sb.records_free_scores == p3.records_free_scores == (mode != "all")


def test_a_random_cold_start_scores_the_rest_at_the_next_selection_whatever_the_period_or_ramp():
    s = ScoreBased(keep=0.5, warmup_epochs=0, cold_start="random", period=2)
    assert _expected(s, epochs=6) == [0, 0, 50, 0, 10, 0]  # selections at 0, 2, 4
    s = ScoreBased(keep=(0.8, 0.2), warmup_epochs=0, cold_start="random", rescore="none")
    assert _expected(s) == [0, 20, 0, 0, 0]  # the ramp's first epoch trained 80
    s = ScoreBased(keep=0.5, warmup_epochs=1, anneal_epochs=1, period=2)
    assert _expected(s, epochs=6) == [0, 10, 0, 10, 0, 0]  # warm-up, selections at 1 and 3, annealing


def test_score_based_and_p3_hold_the_same_policy_but_for_the_first_pass_after_warm_up():
    for mode, fraction, cold, warmup in itertools.product(MODES, (0.0, 0.1, 0.37), ("score", "random"), (0, 1, 2)):
        if cold == "random" and warmup:
            continue
        sb = ScoreBased(keep=0.3, rescore=mode, rescore_fraction=fraction, cold_start=cold, warmup_epochs=warmup)
        p3 = P3(budget=0.3, rescore=mode, rescore_fraction=fraction, cold_start=cold, warmup_epochs=warmup)
        assert sb.rescore_policy == RescorePolicy(mode, fraction, cold, warmup)
        assert p3.rescore_policy == RescorePolicy(mode, fraction, cold, warmup, first_pass_scores_all=True)
        if warmup == 0:  # the difference only shows at a first selection after a warm-up
            for n, epochs in ((100, 5), (37, 7)):
                assert _expected(sb, n, epochs) == _expected(p3, n, epochs)
        h = _history(np.random.default_rng(1).integers(-1, 3, size=40))
        for epoch in (3, 4):
            np.testing.assert_array_equal(sb.ids_to_rescore(epoch, h, 5), p3.ids_to_rescore(epoch, h, 5))


def test_the_scored_fraction_is_what_the_time_budget_solver_spends_on_scoring():
    for mode, share in (("all", 1.0), ("stale", 0.2), ("none", 0.0)):
        s = ScoreBased(rescore=mode, rescore_fraction=0.2, time_budget=0.6)
        assert s.rescore_policy.scored_fraction == share
        exact = keep_for_budget(0.6, 10, 1, 0, share)  # rounded down to whole examples of the 1000
        assert exact - 1e-3 < s.plan(1000, 10).keep <= exact
        assert abs(s.plan(1000, 10).keep * 1000 - round(s.plan(1000, 10).keep * 1000)) < 1e-6
        assert s.rescore_policy.steady_scored(1000) == {"all": 1000, "stale": 200, "none": 0}[mode]


# --------------------------------------------------------------------------- construction and shape
def test_the_policy_checks_itself():
    with pytest.raises(ValueError, match="unknown rescore policy"):
        RescorePolicy("some")
    with pytest.raises(ValueError, match="rescore_fraction must be a number in"):
        RescorePolicy("stale", 1.5)
    with pytest.raises(ValueError, match="unknown cold_start"):
        RescorePolicy(cold_start="warm")
    with pytest.raises(ValueError, match="warmup_epochs=0"):
        RescorePolicy(cold_start="random", warmup_epochs=1)
    with pytest.raises(ValueError, match="warmup_epochs must be a whole number"):
        RescorePolicy(warmup_epochs=1.5)
    assert RescorePolicy("stale", 1).fraction == 1.0 and isinstance(RescorePolicy("stale", 1).fraction, float)


@pytest.mark.parametrize("make", [lambda **kw: ScoreBased(keep=0.5, **kw), lambda **kw: P3(budget=0.5, **kw)],
                         ids=["score_based", "p3"])
def test_the_policy_is_no_setting_and_follows_the_fields(make):
    s = make(rescore="none", rescore_fraction=0.2)
    names = [f.name for f in dataclasses.fields(s)]
    assert "rescore_policy" not in names and {"rescore", "rescore_fraction", "cold_start"} <= set(names)
    assert "rescore_policy" not in s.to_dict() and s.to_dict()["rescore"] == "none"
    assert s == make(rescore="none", rescore_fraction=0.2)
    moved = dataclasses.replace(s, rescore="all", warmup_epochs=0, cold_start="random")
    assert moved.rescore_policy.mode == "all" and moved.rescore_policy.cold_start == "random"
    for clone in (copy.deepcopy(s), pickle.loads(pickle.dumps(s))):
        assert clone.rescore_policy == s.rescore_policy
    with pytest.raises(ValueError, match="unknown rescore policy"):
        make(rescore="often")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.rescore_policy = RescorePolicy()


def test_the_diet_keywords_still_build_it():
    assert DataDiet(keep=0.5, rescore="all").strategy.rescore_policy.mode == "all"
    assert DataDiet.p3(budget=0.5, cold_start="random").strategy.rescore_policy.selects_blind(0)
    assert DataDiet.nlu_data_diets(keep=0.5).strategy.rescore_policy.mode == "all"


# ------------------------------------------------------------------------------------- real runs
def _run(diet, model, dataset, collate, epochs, batch_size):
    """A plain loop (free scores, and features where the method takes them); per epoch, what the
    pass scored (from the history) and the stale ids a brute force expects it to score."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(dataset, batch_size=batch_size, sampler=diet.sampler(len(dataset), epochs), collate_fn=collate)
    scored, expected_ids = [], []
    for epoch in range(epochs):
        if epoch:
            diet.flush()  # the last epoch's free scores in the history, as the pass will see it
        before = copy.deepcopy(diet.history) if diet.history is not None else None
        diet.begin_epoch(epoch, model=model, dataset=dataset, collate_fn=collate)
        h = diet.history
        scored.append(np.flatnonzero((h.last_epoch == epoch) & (h.last_source == SOURCE_PASS)))
        expected_ids.append(None if before is None or not diet.strategy.selects_at(epoch, diet.schedule)
                            or diet.strategy.selects_blind(epoch) else _brute_force_ids(diet.strategy, before, epoch))
        model.train()
        for batch in loader:
            inputs = {k: v for k, v in batch.items() if k not in ("example_id", "action_ids")}
            with diet.capture_features(model, inputs) as captured:
                outputs = model(**inputs)
            loss = diet.training_loss(batch["example_id"], outputs, batch, features=captured.get("features"))
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        diet.end_epoch()
    diet.flush()
    return scored, expected_ids


def _brute_force_ids(strategy, history, epoch):
    """What the pass at ``epoch`` must score by the mode's definition, from the history it saw:
    every id (all), the never-scored (none); for stale, the never-scored and how many stale ones join
    them (which ones, oldest first: test_stale_ids_brute_force)."""
    n, mode, fraction = history.num_examples, strategy.rescore, strategy.rescore_fraction
    if mode == "all":
        return np.arange(n)
    never = np.flatnonzero(history.count == 0)
    if mode == "none":
        return never
    stale = np.flatnonzero((history.count > 0) & (history.last_epoch < epoch - 1))
    return never, min(int(round(fraction * n)), len(stale))


def _check_against_plan(diet, scored, expected_ids, actual, exact_from):
    plan = [e.scored for e in diet.plan(diet.num_examples, diet.num_epochs).epochs]
    counts = [len(s) for s in scored]
    assert counts == [r["scored"] for r in diet.log] == actual
    assert all(c <= p for c, p in zip(counts, plan))  # the plan bounds what ran...
    assert counts[exact_from:] == plan[exact_from:]  # ...and is exact once stale examples are many
    for got, want in zip(scored, expected_ids):
        if isinstance(want, tuple):  # stale: every never-scored example, then the budget of stale ones
            never, budget = want
            assert set(never) <= set(got) and len(got) == len(never) + budget
        elif want is not None:
            np.testing.assert_array_equal(got, want)
    return plan


SB_RUNS = {  # (settings, what the passes score over 4 epochs of 40 examples, first epoch the plan is exact)
    "stale": (dict(keep=0.5), [0, 0, 4, 4], 2),  # after the warm-up nothing is stale: the plan's 4 bounds 0
    "stale_cold_score": (dict(keep=0.5, warmup_epochs=0), [40, 0, 4, 4], 2),
    "stale_cold_random": (dict(keep=0.4, warmup_epochs=0, cold_start="random"), [0, 24, 4, 4], 0),
    "all": (dict(keep=0.5, rescore="all"), [0, 40, 40, 40], 0),
    "all_cold_random": (dict(keep=0.4, rescore="all", warmup_epochs=0, cold_start="random"), [0, 40, 40, 40], 0),
    "none_cold_score": (dict(keep=0.5, rescore="none", warmup_epochs=0), [40, 0, 0, 0], 0),
    "none_cold_random": (dict(keep=0.4, rescore="none", warmup_epochs=0, cold_start="random"), [0, 24, 0, 0], 0),
}


@pytest.mark.parametrize("name", list(SB_RUNS))
def test_score_based_plan_against_its_passes(name):
    settings, actual, exact_from = SB_RUNS[name]
    diet = DataDiet(**settings, seed=3, num_epochs=4, progress=False)
    scored, expected_ids = _run(diet, tiny_classifier(seed=0), toy_classification_dataset(40, seed=0), pad_collate,
                                4, batch_size=8)
    _check_against_plan(diet, scored, expected_ids, actual, exact_from)


LM = 30
P3_RUNS = {  # P3 on a tiny Llama, budget 10 of 30 (a third), 4 epochs
    "stale_warmup": (dict(warmup_epochs=1), [0, 0, 3, 3], 2),  # the warm-up gave every difficulty and feature free
    "all": (dict(rescore="all"), [30, 30, 30, 30], 0),
    "none": (dict(rescore="none"), [30, 0, 0, 0], 0),
    "none_cold_random": (dict(rescore="none", cold_start="random"), [0, 20, 0, 0], 0),
    "stale_cold_random": (dict(cold_start="random"), [0, 20, 3, 3], 0),
}


@pytest.fixture(scope="module")
def lm_pairs():
    return causal_lm_pairs(LM)


@pytest.mark.parametrize("name", list(P3_RUNS))
def test_p3_plan_against_its_passes_and_score_based_where_they_agree(tiny_causal_lm, name, lm_pairs):
    settings, actual, exact_from = P3_RUNS[name]
    tok, ds = lm_pairs
    from datadiet.llm.tokenization import CausalLMCollator

    diet = DataDiet.p3(budget=10, **settings, seed=3, num_epochs=4, progress=False)
    scored, expected_ids = _run(diet, tiny_causal_lm(len(tok)), ds, CausalLMCollator(tok), 4, batch_size=4)
    plan = _check_against_plan(diet, scored, expected_ids, actual, exact_from)
    assert diet.features is not None and not np.isnan(diet.history.latest).any()
    twin = ScoreBased(keep=10 / LM, rescore=diet.strategy.rescore, cold_start=diet.strategy.cold_start,
                      warmup_epochs=diet.strategy.warmup_epochs)
    if twin.warmup_epochs == 0:  # same policy, same schedule: the same plan
        assert _expected(twin, LM, 4) == plan
    else:  # P3 alone counts the whole pool after a warm-up; the score-based plan bounds this run too
        assert _expected(twin, LM, 4) == [0, 3, 3, 3] and plan == [0, 30, 3, 3]
