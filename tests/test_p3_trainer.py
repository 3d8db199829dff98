"""DataDiet.p3 through DataDietTrainer on a tiny causal LM: policy difficulty, self-paced
eligibility and the DPP, every epoch, with the real Trainer."""

import numpy as np
import pytest
import torch
from datasets import Dataset
from transformers import TrainingArguments

from datadiet import DataDiet, DataDietTrainer
from datadiet.adapters import CAUSAL_LM, TaskAdapter
from datadiet.llm.tokenization import CausalLMCollator, tokenize_pairs
from datadiet.select.self_paced import self_paced_percentile
from lm_helpers import make_tokenizer


@pytest.fixture(scope="module")
def pairs():
    rng = np.random.default_rng(0)
    words = "one two three four five six seven eight nine ten".split()
    prompts, solutions = [], []
    for i in range(30):
        prompts.append("question : " + " ".join(rng.choice(words, size=3)))
        steps = [" ".join(rng.choice(words, size=int(rng.integers(2, 5)))) for _ in range(int(rng.integers(1, 4)))]
        solutions.append("\n".join(steps))
    tok = make_tokenizer(pad=True)
    return tok, Dataset.from_list(tokenize_pairs(tok, prompts, solutions))


def test_p3_preset_trains_the_budget_each_epoch_from_the_eligible_set(tiny_causal_lm, tmp_path, pairs):
    tok, ds = pairs
    # rescore="all" (the authors' protocol): every epoch a pass scores every example, with one model;
    # the default "stale" is tested in test_p3_free.py
    diet = DataDiet.p3(budget=8, start=50, end=95, shape="linear", rescore="all", progress=False)
    args = TrainingArguments(str(tmp_path), num_train_epochs=3, per_device_train_batch_size=4, learning_rate=1e-2,
                             logging_strategy="epoch", save_strategy="no", report_to=[], disable_tqdm=True, use_cpu=True)
    trainer = DataDietTrainer(diet=diet, model=tiny_causal_lm(len(tok)), args=args, train_dataset=ds,
                              data_collator=CausalLMCollator(tok))
    trainer.train()
    assert diet.adapter.task == "causal_lm" and diet.score.name == "policy_difficulty"
    assert [r["kept"] for r in diet.log] == [8, 8, 8] and [r["scored"] for r in diet.log] == [30, 30, 30]
    assert trainer.state.global_step == diet.planned_steps(batch_size=4) == 6
    assert diet.features.shape == (30, 16) and np.isfinite(diet.features).all()
    # Mean-pooled, not the first token's state (which a causal LM computes from the first token alone).
    distinct_texts = len({tuple(x) for x in ds["input_ids"]})
    assert len(np.unique(diet.features.round(4), axis=0)) == distinct_texts > 1
    assert np.isfinite(diet.history.latest).all() and (diet.history.latest >= 0).all() and (diet.history.latest <= 1).all()
    assert [r["p3_percentile"] for r in diet.log] == pytest.approx([self_paced_percentile(e, 3, 50, 95, "linear") for e in range(3)])
    assert all(8 <= r["p3_eligible"] <= 30 for r in diet.log)
    logged = [h for h in trainer.state.log_history if "datadiet/p3_eligible" in h]
    assert [h["datadiet/p3_eligible"] for h in logged] == [r["p3_eligible"] for r in diet.log]


def test_p3_budget_larger_than_the_pool_is_refused(pairs):
    _, ds = pairs
    with pytest.raises(ValueError, match="larger than the training set"):
        DataDiet.p3(budget=31, num_epochs=2).setup(len(ds))


def test_p3_first_selection_is_easy_half_and_diverse(tiny_causal_lm, pairs):
    tok, ds = pairs
    collate = CausalLMCollator(tok)
    diet = DataDiet.p3(budget=8, start=50, end=95, shape="linear", num_epochs=3, progress=False)
    model = tiny_causal_lm(len(tok))
    diet.setup(len(ds), model=model)
    sel = diet.begin_epoch(0, model=model, dataset=ds, collate_fn=collate)
    difficulty = diet.history.latest.copy()  # the scoring pass of epoch 0
    eligible = set(np.flatnonzero(difficulty <= np.percentile(difficulty, 50)).tolist())
    assert len(sel) == 8 and set(sel.indices.tolist()) <= eligible
    # the epoch's log says what P3 did, against the same brute force
    record = diet.log[0]
    assert record["p3_percentile"] == 50 and record["p3_eligible"] == len(eligible) and record["unscorable"] == 0
    assert record["difficulty_mean"] == pytest.approx(difficulty.mean())
    assert record["selected_difficulty_mean"] == pytest.approx(difficulty[sel.indices].mean())
    # brute-force check of the policy difficulty of one example from the model's log-probs
    i = int(sel.indices[0])
    batch = collate([ds[i]])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=batch["input_ids"]).logits[0, :-1], -1)
    labels, actions = batch["labels"][0, 1:], batch["action_ids"][0, 1:]
    probs = []
    for a in sorted(set(actions.tolist()) - {-1}):
        pos = (actions == a).nonzero().flatten()
        probs.append(torch.exp(logp[pos, labels[pos]].mean()).item())
    assert difficulty[i] == pytest.approx(1 - np.mean(probs), abs=1e-5)


def test_causal_lm_features_are_the_mean_over_attended_tokens_whatever_the_padding(tiny_causal_lm, pairs):
    tok, ds = pairs
    model = tiny_causal_lm(len(tok)).eval()
    examples = [ds[i] for i in range(4)]
    batch = CausalLMCollator(tok)(examples)
    with torch.no_grad():
        outputs = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True)
        features = TaskAdapter(CAUSAL_LM).score_inputs(outputs, batch).features
        for row, example in enumerate(examples):
            alone = model(input_ids=torch.tensor([example["input_ids"]]), output_hidden_states=True).hidden_states[-1][0]
            torch.testing.assert_close(features[row], alone.mean(0), rtol=1e-4, atol=1e-5)
    assert len({len(e["input_ids"]) for e in examples}) > 1  # the batch really was padded


def test_p3_preset_defaults_follow_the_authors_code():
    strategy = DataDiet.p3(budget=8).strategy
    assert (strategy.shape, strategy.quality, strategy.standardize) == ("p3_code", "easiness", True)
    # 20 (e + 1) for 5 epochs, as PPP_APEX's schedule
    assert [self_paced_percentile(e, 5, strategy.start, strategy.end, strategy.shape) for e in range(5)] == \
        pytest.approx([20, 40, 60, 80, 100])
    with pytest.raises(ValueError, match="unknown quality 'hard'"):
        DataDiet.p3(budget=8, quality="hard")
