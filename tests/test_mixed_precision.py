"""Scoring passes under the mixed precision training runs in (bf16 autocast on the CPU here).

accelerate's mixed precision wraps only the model's ``forward``; a causal-LM pass runs the backbone
and the LM head on their own, so it must be given the autocast, or its scores are float32 while the
free scores from training steps are bfloat16, and the first-batch check of the labelled head fails.
"""

import logging
import os

import numpy as np
import pytest
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from datasets import Dataset
from transformers import TrainingArguments

from datadiet import DataDiet, DataDietTrainer
from datadiet.llm.tokenization import CausalLMCollator, tokenize_pairs
from datadiet.scoring_pass import score_examples
from datadiet.toolkit.llm.evaluation import mean_token_nll
from lm_helpers import make_tokenizer, tiny_causal_lm

BF16 = torch.bfloat16


def llama(vocab_size: int):
    """Wide enough, with weights large enough, that bf16 moves its log-probs by ~1e-2 (float32
    against bf16: mean |difference| 0.017 on this data; a check tolerates 1e-3 in float32)."""
    model = tiny_causal_lm(vocab_size, hidden_size=64)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4)
    return model


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    words = "one two three four five six seven eight nine ten".split()
    prompts = ["question : " + " ".join(rng.choice(words, size=3)) for _ in range(24)]
    solutions = ["\n".join(" ".join(rng.choice(words, size=int(rng.integers(2, 5)))) for _ in range(int(rng.integers(1, 4))))
                 for _ in range(24)]
    tok = make_tokenizer(pad=True)
    return tok, Dataset.from_list(tokenize_pairs(tok, prompts, solutions))


@pytest.fixture(autouse=True)
def fresh_accelerate_state():
    """transformers 4.x records ``bf16=True`` in ``ACCELERATE_MIXED_PRECISION`` and accelerate keeps
    its state in a process-wide singleton, so a Trainer built later in the same process would
    train in bf16 too: restore the environment and reset the state after each test."""
    environ = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(environ)
    AcceleratorState._reset_state(reset_partial_state=True)


def pass_scores(model, ds, tok, diet, **kwargs) -> np.ndarray:
    result = score_examples(model, ds, np.arange(len(ds)), CausalLMCollator(tok), diet.adapter, diet.score,
                            batch_size=8, progress=False, **kwargs)
    out = np.empty(len(ds))
    out[result.ids] = result.scores
    return out


def forward_log(model) -> list[tuple[bool, bool]]:
    """(training?, autocast on?) of every forward of the model's first MLP."""
    seen: list[tuple[bool, bool]] = []
    model.model.layers[0].mlp.down_proj.register_forward_hook(
        lambda module, args, out: seen.append((module.training, torch.is_autocast_enabled("cpu"))))
    return seen


def test_trainer_in_bf16_scores_under_its_autocast_and_keeps_the_labelled_head(tmp_path, data, caplog):
    tok, ds = data
    model = llama(len(tok))
    seen = forward_log(model)
    diet = DataDiet.p3(budget=8, rescore="all", progress=False)
    args = TrainingArguments(str(tmp_path), num_train_epochs=2, per_device_train_batch_size=4, bf16=True,
                             save_strategy="no", report_to=[], disable_tqdm=True, use_cpu=True)
    trainer = DataDietTrainer(diet=diet, model=model, args=args, train_dataset=ds, data_collator=CausalLMCollator(tok))
    with caplog.at_level(logging.WARNING, logger="datadiet"):
        trainer.train()
    passes = [autocast for training, autocast in seen if not training]
    assert len(passes) >= 3 and all(passes)  # two passes and the first one's check
    assert all(autocast for training, autocast in seen if training)  # (the Trainer's own, for reference)
    # float32 pass against the bf16 forward would differ by 0.017 > 1e-3 and fall back with a warning
    assert diet.labelled_head is True and "full forward is run instead" not in caplog.text
    assert [r["scored"] for r in diet.log] == [len(ds), len(ds)]


def test_a_pass_given_a_dtype_scores_as_the_models_forward_does_under_that_autocast(data):
    tok, ds = data
    model = llama(len(tok))
    # mean token NLL: P3's difficulty is ~1 everywhere under these weights, the NLL is not
    diet = DataDiet.p3(budget=8, num_epochs=2, score="token_nll", progress=False)
    diet.setup(len(ds), model=model)
    diet.begin_epoch(0, model=model, dataset=ds, collate_fn=CausalLMCollator(tok), autocast=BF16)
    # brute force: the model's own forward (whole logits) under torch.autocast
    full_bf16 = pass_scores(model, ds, tok, diet, labelled_head=False, autocast=torch.autocast("cpu", dtype=BF16))
    np.testing.assert_allclose(diet.history.latest, full_bf16, atol=1e-6)
    assert diet.labelled_head is True
    fp32 = pass_scores(model, ds, tok, diet, labelled_head=False)
    assert np.abs(fp32 - full_bf16).max() > 1e-3  # the precision was applied, not a no-op
    as_callable = pass_scores(model, ds, tok, diet, autocast=lambda: torch.autocast("cpu", dtype=BF16))
    np.testing.assert_allclose(as_callable, full_bf16, atol=1e-6)


@pytest.mark.parametrize("bad", [torch.float32, "bf16", 16])
def test_an_autocast_that_is_not_one_is_refused_before_anything_runs(data, bad):
    tok, ds = data
    model = llama(len(tok))
    diet = DataDiet.p3(budget=8, num_epochs=2, progress=False)
    diet.setup(len(ds), model=model)
    with pytest.raises(ValueError, match="autocast is None, torch.bfloat16"):
        diet.begin_epoch(0, model=model, dataset=ds, collate_fn=CausalLMCollator(tok), autocast=bad)
    assert diet.history.count.sum() == 0


def test_a_model_prepared_by_accelerate_needs_its_autocast_and_the_warning_says_so(data, caplog):
    tok, ds = data
    accelerator = Accelerator(cpu=True, mixed_precision="bf16")
    model = accelerator.prepare(llama(len(tok)))  # its forward now runs under bf16 autocast
    diet = DataDiet.p3(budget=8, num_epochs=2, progress=False)
    diet.setup(len(ds), model=model)
    with caplog.at_level(logging.WARNING, logger="datadiet"):
        unaware = score_examples(model, ds, np.arange(len(ds)), CausalLMCollator(tok), diet.adapter, diet.score,
                                 batch_size=8, progress=False)
    assert unaware.labelled_head is False and "autocast=" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="datadiet"):
        aware = score_examples(model, ds, np.arange(len(ds)), CausalLMCollator(tok), diet.adapter, diet.score,
                               batch_size=8, progress=False, autocast=accelerator.autocast)
    assert aware.labelled_head is True and caplog.text == ""
    # the fallback ran the model's (autocast) forward: both give the bf16 scores
    np.testing.assert_allclose(aware.scores[np.argsort(aware.ids)], unaware.scores[np.argsort(unaware.ids)], atol=1e-6)


def test_mean_token_nll_under_autocast_equals_the_full_forward_under_it(data, caplog):
    tok, ds = data
    model = llama(len(tok))
    rows = [ds[i] for i in range(len(ds))]
    collate = CausalLMCollator(tok)
    with caplog.at_level(logging.WARNING, logger="datadiet"):
        head = mean_token_nll(model, rows, collate, autocast=BF16)
    full = mean_token_nll(model, rows, collate, labelled_head=False, autocast=BF16)
    fp32 = mean_token_nll(model, rows, collate)
    assert head["nll"] == pytest.approx(full["nll"], abs=1e-6) and caplog.text == ""
    np.testing.assert_allclose(head["per_example"], full["per_example"], atol=1e-6)
    assert abs(head["nll"] - fp32["nll"]) > 1e-4
