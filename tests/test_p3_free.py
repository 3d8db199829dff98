"""P3 with free difficulty and features: the training forward pass gives the trained examples'
policy difficulty and pooled last hidden states, so only stale examples are re-scored by a pass."""

import logging

import numpy as np
import pytest
import torch
from transformers import TrainerCallback, TrainingArguments

from datadiet import DataDiet, DataDietTrainer
from datadiet.free_features import FeatureStore, causal_lm_backbone, pooled_last_hidden
from datadiet.history import SOURCE_PASS, SOURCE_TRAIN
from datadiet.llm.tokenization import CausalLMCollator
from datadiet.rng import epoch_rng
from datadiet.scoring_pass import score_examples
from datadiet.select.random import random_subset
from datadiet.strategies import P3
from resume_setups import causal_lm_pairs

N = 30


@pytest.fixture(scope="module")
def pairs():
    return causal_lm_pairs(N)


def _pass(diet, model, ds, collate, ids):
    """The scoring pass's difficulty and features of ``ids``, sorted by id."""
    res = score_examples(model, ds, np.asarray(ids), collate, diet.adapter, diet.score, batch_size=4,
                         want_features=True, progress=False)
    order = np.argsort(res.ids)
    return res.ids[order], res.scores[order], res.features[order]


def test_free_difficulty_and_features_equal_the_scoring_pass(tiny_causal_lm, pairs):
    tok, ds = pairs
    model = tiny_causal_lm(len(tok))  # Llama has no dropout: train mode computes what eval mode does
    diet = DataDiet.p3(budget=8, num_epochs=2, progress=False)
    diet.setup(N, model=model)
    diet.epoch = 0
    collate = CausalLMCollator(tok)
    ids = np.array([3, 7, 1, 12, 20])  # one padded batch, mixed lengths, not the pass's length buckets
    batch = collate([ds[int(i)] for i in ids])
    model.train()
    model_inputs = {k: v for k, v in batch.items() if k not in ("example_id", "action_ids")}
    with diet.capture_features(model, model_inputs) as captured:
        outputs = model(**model_inputs)
    assert captured["features"].shape == (len(ids), 16) and captured["features"].dtype == torch.float32
    assert not captured["features"].requires_grad
    diet.weighted_loss(torch.as_tensor(ids), outputs, batch, features=captured["features"])
    diet.flush()
    pass_ids, pass_d, pass_f = _pass(diet, model, ds, collate, np.sort(ids))
    np.testing.assert_allclose(diet.features[pass_ids], pass_f, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(diet.history.latest[pass_ids], pass_d, rtol=1e-5, atol=1e-6)
    assert (diet.history.last_source[ids] == SOURCE_TRAIN).all()
    # only the trained rows were written; the rest of the store is untouched (zeros)
    others = np.setdiff1d(np.arange(N), ids)
    assert (diet.features[others] == 0).all() and np.isnan(diet.history.latest[others]).all()
    # and the features are the masked mean of hidden_states[-1], brute force per example
    with torch.no_grad():
        for row, i in enumerate(ids):
            alone = model(input_ids=torch.tensor([ds[int(i)]["input_ids"]]), output_hidden_states=True)
            np.testing.assert_allclose(diet.features[i], alone.hidden_states[-1][0].mean(0).numpy(), rtol=1e-4, atol=1e-5)


def test_the_capture_keeps_no_hook_and_pools_the_head_input(tiny_causal_lm, pairs):
    tok, ds = pairs
    model = tiny_causal_lm(len(tok)).eval()
    backbone = causal_lm_backbone(model)
    assert backbone is model.model
    batch = CausalLMCollator(tok)([ds[0], ds[5]])
    with pooled_last_hidden(model, batch["attention_mask"]) as got, torch.no_grad():
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True)
    assert not backbone._forward_hooks  # removed on leaving the block
    m = batch["attention_mask"].unsqueeze(-1).float()
    torch.testing.assert_close(got["features"], (out.hidden_states[-1] * m).sum(1) / m.sum(1))
    with pytest.raises(ValueError, match="cannot find the backbone"):
        causal_lm_backbone(torch.nn.Linear(2, 2))


def test_feature_store_allocates_then_writes_rows():
    store = FeatureStore(4)
    assert store.array is None
    store.update(np.array([2, 0]), np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert store.array.dtype == np.float32 and store.array.tolist() == [[3, 4], [0, 0], [1, 2], [0, 0]]
    with pytest.raises(ValueError, match="width"):
        store.update(np.array([1]), np.zeros((1, 3)))


def _training_batch(tiny_causal_lm, pairs, ids):
    """A P3 diet at epoch 0 on a tiny Llama in train mode, and the collated batch of ``ids`` (with
    the model's inputs apart)."""
    tok, ds = pairs
    model = tiny_causal_lm(len(tok)).train()
    diet = DataDiet.p3(budget=8, num_epochs=2, progress=False)
    diet.setup(N, model=model)
    diet.epoch = 0
    batch = CausalLMCollator(tok)([ds[i] for i in ids])
    return model, diet, batch, {k: v for k, v in batch.items() if k not in ("example_id", "action_ids")}


def test_without_features_free_scores_are_not_recorded(tiny_causal_lm, pairs, caplog):
    model, diet, batch, inputs = _training_batch(tiny_causal_lm, pairs, [0, 1])
    with caplog.at_level(logging.WARNING, logger="datadiet"):
        diet.weighted_loss(torch.tensor([0, 1]), model(**inputs), batch)  # no features: score not recorded
    diet.flush()
    assert diet.history.count.sum() == 0 and diet.features is None
    assert "came without them" in caplog.text


def test_rescore_all_records_nothing_free_and_captures_nothing(tiny_causal_lm, pairs):
    tok, _ = pairs
    diet = DataDiet.p3(budget=8, rescore="all", num_epochs=2, progress=False)
    diet.setup(N, model=tiny_causal_lm(len(tok)))
    assert not diet.strategy.records_free_scores and not diet.records_free_features()
    assert DataDiet.p3(budget=8).strategy.rescore == "stale"


def test_expected_scored_is_n_at_the_first_selection_then_the_stale_budget():
    s = P3(budget=0.5, warmup_epochs=1)
    sched = s.plan(100, 4)
    assert [s.expected_scored(e, sched, 100) for e in range(4)] == [0, 100, 10, 10]
    s = P3(budget=0.5, rescore="all")
    sched = s.plan(100, 3)
    assert [s.expected_scored(e, sched, 100) for e in range(3)] == [100, 100, 100]
    s = P3(budget=0.5, rescore="none")
    assert [s.expected_scored(e, s.plan(100, 3), 100) for e in range(3)] == [100, 0, 0]


def test_a_random_cold_start_plans_no_pass_first_then_the_untrained_rest():
    s = P3(budget=0.5, cold_start="random")
    assert [s.expected_scored(e, s.plan(100, 4), 100) for e in range(4)] == [0, 50, 10, 10]
    s = P3(budget=30, cold_start="random", rescore="all")
    assert [s.expected_scored(e, s.plan(100, 3), 100) for e in range(3)] == [0, 100, 100]
    with pytest.raises(ValueError, match="warmup_epochs=0"):
        P3(budget=0.5, cold_start="random", warmup_epochs=1)
    with pytest.raises(ValueError, match="cold_start"):
        DataDiet.p3(budget=0.5, cold_start="warm")


def _trainer_run(tiny_causal_lm, tmp_path, pairs, diet, epochs=4):
    tok, ds = pairs
    args = TrainingArguments(str(tmp_path), num_train_epochs=epochs, per_device_train_batch_size=4, learning_rate=1e-2,
                             logging_strategy="epoch", save_strategy="no", report_to=[], disable_tqdm=True,
                             use_cpu=True, seed=0)
    trainer = DataDietTrainer(diet=diet, model=tiny_causal_lm(len(tok)), args=args, train_dataset=ds,
                              data_collator=CausalLMCollator(tok))
    spy = _ScoredIds(trainer)
    trainer.add_callback(spy)
    trainer.train()
    return spy


def test_p3_with_a_random_cold_start_scores_only_what_its_first_epoch_did_not_train(tiny_causal_lm, tmp_path, pairs):
    diet = DataDiet.p3(budget=10, cold_start="random", num_epochs=4, seed=5, progress=False)
    spy = _trainer_run(tiny_causal_lm, tmp_path, pairs, diet)
    kept = diet.kept_matrix()
    first = np.flatnonzero(kept[0])
    # the first epoch is a uniform subset drawn from the diet's own generator, and nothing was scored for it
    np.testing.assert_array_equal(first, random_subset(N, 10 / N, epoch_rng(5, 0, "select")).indices)
    assert diet.log[0]["scored"] == 0 and spy.seen[0]["features"] is None
    # the next pass scored exactly the examples the first epoch did not train; those it trained came free
    np.testing.assert_array_equal(spy.seen[1]["scored"], np.setdiff1d(np.arange(N), first))
    np.testing.assert_array_equal(spy.seen[1]["free"], first)
    assert [r["scored"] for r in diet.log] == [0, N - 10, 3, 3]
    assert [e.scored for e in DataDiet.p3(budget=10, cold_start="random").plan(N, 4).epochs] == [0, N - 10, 3, 3]
    # so the second selection saw a difficulty and a feature row for every example
    assert np.all(np.abs(spy.seen[1]["features"]).sum(1) > 0)
    assert all("p3_percentile" in r for r in diet.log[1:]) and diet.log[0].get("p3_random_first")
    assert kept.sum(1).tolist() == [10, 10, 10, 10]


class _ScoredIds(TrainerCallback):
    """Right after each diet epoch begins (the diet's own callback runs first): the ids its pass
    scored, the ids trained free in the epoch before, and a copy of the features."""

    def __init__(self, trainer):
        self.trainer, self.seen = trainer, []

    def _snap(self):
        diet = self.trainer.diet
        h = diet.history
        self.seen.append({"epoch": diet.epoch,
                          "scored": np.flatnonzero((h.last_epoch == diet.epoch) & (h.last_source == SOURCE_PASS)),
                          "free": np.flatnonzero((h.last_epoch == diet.epoch - 1) & (h.last_source == SOURCE_TRAIN)),
                          "features": None if diet.features is None else diet.features.copy(), "last_epoch": h.last_epoch.copy(), "kept": diet.selection.indices.copy()})

    def on_train_begin(self, args, state, control, **kwargs):
        self._snap()

    def on_epoch_end(self, args, state, control, **kwargs):
        if self.trainer.diet.epoch > len(self.seen) - 1:
            self._snap()


def test_p3_through_the_trainer_rescores_only_the_stale_examples(tiny_causal_lm, tmp_path, pairs):
    diet = DataDiet.p3(budget=10, num_epochs=4, progress=False)  # rescore="stale", 10% of N = 3
    spy = _trainer_run(tiny_causal_lm, tmp_path, pairs, diet)
    kept = diet.kept_matrix()
    assert [r["scored"] for r in diet.log] == [N, 0, 3, 3] == [len(s["scored"]) for s in spy.seen]
    plan = DataDiet.p3(budget=10, progress=False).plan(N, 4)
    assert [e.scored for e in plan.epochs] == [N, 3, 3, 3]  # the plan bounds what ran
    np.testing.assert_array_equal(spy.seen[0]["scored"], np.arange(N))
    for e in (1, 2, 3):
        snap = spy.seen[e]
        trained = np.flatnonzero(kept[e - 1])
        # the examples trained last epoch got their difficulty and features from the training pass...
        np.testing.assert_array_equal(snap["free"], trained)
        changed = np.flatnonzero(np.any(snap["features"] != spy.seen[e - 1]["features"], axis=1))
        if e >= 2:  # (in epoch 0 the first batch still met the model the pass had scored with)
            assert set(trained) <= set(changed)
        # ...and the pass scored only stale ones (not trained last epoch), the oldest first
        assert not set(snap["scored"]) & set(trained)
        assert set(changed) <= set(trained) | set(snap["scored"])
        before = spy.seen[e - 1]["last_epoch"].copy()  # each example's last scoring before this epoch's pass
        before[trained] = e - 1
        stale = np.flatnonzero(before < e - 1)
        assert set(snap["scored"]) <= set(stale) and len(snap["scored"]) == min(3, len(stale))
        if len(snap["scored"]):
            left = np.setdiff1d(stale, snap["scored"])
            assert before[snap["scored"]].max() <= (before[left].min() if len(left) else np.inf)


def test_buffered_free_features_survive_a_checkpoint(tiny_causal_lm, tmp_path, pairs):
    from datadiet.checkpoint import load_diet_state, save_diet_state

    model, diet, batch, inputs = _training_batch(tiny_causal_lm, pairs, [4, 9])
    with diet.capture_features(model, inputs) as captured:
        outputs = model(**inputs)
    diet.weighted_loss(torch.tensor([4, 9]), outputs, batch, features=captured["features"])
    save_diet_state(diet.state_dict(), tmp_path)  # not flushed: the features are still buffered
    fresh = DataDiet.p3(budget=8, num_epochs=2, progress=False)
    fresh.load_state_dict(load_diet_state(tmp_path))
    diet.flush()
    fresh.flush()
    np.testing.assert_array_equal(fresh.features, diet.features)
    np.testing.assert_array_equal(fresh.history.latest, diet.history.latest)
    assert np.flatnonzero(fresh.features.any(1)).tolist() == [4, 9]


def test_feature_dim_projects_free_and_pass_features_with_one_seeded_map(tiny_causal_lm, pairs):
    """``feature_dim=4`` of a 16-wide model: the store is N x 4, and both the training forward's and
    the scoring pass's rows are the seeded Gaussian projection of the 16-d pooled features, z-scored
    with the moments of the first pass's features (all 30 here: fewer than the 64 a pass fits on)."""
    from datadiet.select.compress import FeatureProjection, feature_moments

    tok, ds = pairs
    model = tiny_causal_lm(len(tok))
    diet = DataDiet.p3(budget=8, num_epochs=2, feature_dim=4, seed=5, progress=False)
    collate = CausalLMCollator(tok)
    diet.setup(N, model=model)
    diet.begin_epoch(0, model=model, dataset=ds, collate_fn=collate)  # P3's first pass: every example
    plain = DataDiet.p3(budget=8, num_epochs=2, progress=False).setup(N, model=model)
    ids16, _, f16 = _pass(plain, model, ds, collate, np.arange(N))
    mean, std = feature_moments(f16)
    proj = FeatureProjection.random(16, 4, seed=5, mean=mean, std=std)
    assert diet.features.shape == (N, 4)
    np.testing.assert_allclose(diet.features[ids16], proj(f16), rtol=1e-4, atol=1e-5)
    # the training forward's features go through the same map
    ids = np.array([2, 9, 4])
    batch = collate([ds[int(i)] for i in ids])
    model_inputs = {k: v for k, v in batch.items() if k not in ("example_id", "action_ids")}
    with diet.capture_features(model, model_inputs) as captured:
        outputs = model(**model_inputs)
    assert captured["features"].shape == (3, 16)  # projected when recorded, not in the hook
    diet.weighted_loss(torch.as_tensor(ids), outputs, batch, features=captured["features"])
    diet.flush()
    np.testing.assert_allclose(diet.features[ids], proj(captured["features"].numpy()), rtol=1e-4, atol=1e-5)
    # the moments travel with the checkpoint: a resumed diet projects with the same map
    fresh = DataDiet.p3(budget=8, num_epochs=2, feature_dim=4, seed=5, progress=False)
    fresh.load_state_dict(diet.state_dict())
    np.testing.assert_allclose(fresh.feature_projection().mean, mean, rtol=1e-6)
    np.testing.assert_allclose(fresh.compress_features(captured["features"]).numpy(),
                               proj(captured["features"].numpy()), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="feature_dim"):
        DataDiet.p3(budget=8, feature_dim=0)


def test_a_pass_fits_the_projection_on_a_spread_sample_of_its_ids():
    """Up to 64 examples spread over the ids, forwarded in the pass's length buckets; their features'
    moments (hand-checked: the features here are the ids themselves)."""
    from datadiet.scoring_pass import FIT_ROWS, fit_feature_transform
    from datadiet.select.compress import LazyProjection
    from datadiet.scores.inputs import ScoreInputs

    seen = []

    def forward(batch_ids):
        seen.append(list(batch_ids))
        f = torch.tensor(np.stack([batch_ids, 2 * batch_ids, np.ones(len(batch_ids))], 1), dtype=torch.float32)
        return ScoreInputs(features=f)

    ids = np.arange(1000, 1200)
    proj = LazyProjection(2, seed=0)
    fit_feature_transform(proj, ids, None, 16, forward)
    sample = np.concatenate(seen)
    assert len(sample) == FIT_ROWS == 64 and all(len(b) <= 16 for b in seen)
    assert sample.min() == 1000 and sample.max() == 1199  # spread over all of them
    np.testing.assert_allclose(proj.mean, [sample.mean(), 2 * sample.mean(), 1.0])
    np.testing.assert_allclose(proj.std, [sample.std(), 2 * sample.std(), 1.0])  # constant: centred, not scaled
    assert not proj.needs_fit
    narrow = LazyProjection(8, seed=0)  # features no wider than feature_dim pass through, unfitted
    assert narrow.needs_fit
    fit_feature_transform(narrow, ids, None, 16, forward)
    assert not narrow.fitted and not narrow.needs_fit  # and no later pass forwards a sample again
    assert not LazyProjection(None).needs_fit  # no projection: nothing to fit, ever


@pytest.mark.parametrize("feature_dim", [None, 64, 4])
def test_a_scoring_pass_forwards_each_example_once_unless_it_fits_a_projection(tiny_causal_lm, pairs, feature_dim):
    """A pass over n ids runs the model on n examples; only the first pass of a diet with a
    ``feature_dim`` forwards a sample more (to fit the moments, or to find that features of the
    model's width 16 pass through a wider ``feature_dim``). Before the fix, every pass of a diet
    without a projection forwarded up to 64 examples twice."""
    tok, ds = pairs
    model = tiny_causal_lm(len(tok))  # hidden width 16
    diet = DataDiet.p3(budget=8, num_epochs=3, feature_dim=feature_dim, progress=False, scoring_batch_size=4)
    diet.setup(N, model=model)
    diet.labelled_head = False  # the model's own forward, so a hook on it counts every example forwarded
    forwarded = []
    hook = model.register_forward_hook(lambda m, args, kwargs, out: forwarded.append(len(kwargs["input_ids"])),
                                       with_kwargs=True)
    try:
        for epoch, ids in ((0, np.arange(N)), (1, np.arange(5))):
            forwarded.clear()
            diet.scoring_pass(epoch, ids, model, ds, CausalLMCollator(tok))
            extra = 0 if (feature_dim is None or epoch > 0) else min(N, 64)
            assert sum(forwarded) == len(ids) + extra, (epoch, sum(forwarded))
    finally:
        hook.remove()
