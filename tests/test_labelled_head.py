"""The scoring pass of a causal LM with the LM head at the labelled positions only: the same scores,
features and training dynamics as the model's own forward, and the full forward wherever the
logits are not plain ``lm_head(hidden)``."""

import numpy as np
import pytest
import torch
from transformers import LlamaForCausalLM

from datadiet import DataDiet
from datadiet.labelled_head import labelled_logprobs, split_lm_head
from datadiet.llm.tokenization import CausalLMCollator
from datadiet.scoring_pass import score_examples
from resume_setups import causal_lm_pairs

N = 24


@pytest.fixture(scope="module")
def pairs():
    return causal_lm_pairs(N)


def test_labelled_logprobs_equal_log_softmax_of_the_full_logits_brute_force():
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(3, 7, 5, generator=gen)
    head = torch.nn.Linear(5, 11, bias=False)
    labels = torch.randint(0, 11, (3, 7), generator=gen)
    labels[0, :4] = -100  # a prompt
    labels[2, :] = -100  # nothing labelled
    logp, top = labelled_logprobs(hidden, head, labels, chunk_elements=11 * 2)  # 2 rows at a time
    with torch.no_grad():
        logits = head(hidden)
    for b in range(3):
        for t in range(6):
            gold = int(labels[b, t + 1])
            if gold == -100:
                assert logp[b, t] == 0 and not top[b, t]
            else:
                want = torch.log_softmax(logits[b, t], -1)[gold]
                assert logp[b, t].item() == pytest.approx(want.item(), abs=1e-5)
                assert bool(top[b, t]) == (int(logits[b, t].argmax()) == gold)
    assert logp.shape == top.shape == (3, 6) and logp.dtype == torch.float32


@pytest.mark.parametrize("method", ["p3", "default"])
def test_the_pass_gives_the_full_forward_scores_features_and_dynamics(tiny_causal_lm, pairs, method):
    tok, ds = pairs
    model = tiny_causal_lm(len(tok))
    diet = DataDiet.p3(budget=8, progress=False) if method == "p3" else DataDiet(keep=0.5, progress=False)
    diet.setup(N, num_epochs=2, model=model)
    assert diet.score.name in ("policy_difficulty", "token_nll")
    collate = CausalLMCollator(tok)
    ids = np.arange(N)
    want = "features" in diet.strategy.needs
    fast, full = (score_examples(model, ds, ids, collate, diet.adapter, diet.score, batch_size=5, want_features=want,
                                 progress=False, labelled_head=flag) for flag in (True, False))
    np.testing.assert_array_equal(fast.ids, full.ids)
    np.testing.assert_allclose(fast.scores, full.scores, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fast.confidence, full.confidence, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(fast.correct, full.correct)
    if want:
        np.testing.assert_allclose(fast.features, full.features, rtol=1e-5, atol=1e-6)


def test_the_pass_never_builds_the_full_logits(tiny_causal_lm, pairs):
    """The model's own forward (which projects every position) is not called; its backbone is."""
    tok, ds = pairs
    model = tiny_causal_lm(len(tok))
    diet = DataDiet.p3(budget=8, progress=False)
    diet.setup(N, num_epochs=2, model=model)
    calls = {"model": 0, "backbone": 0}
    hooks = [model.register_forward_hook(lambda *a: calls.__setitem__("model", calls["model"] + 1)),
             model.model.register_forward_hook(lambda *a: calls.__setitem__("backbone", calls["backbone"] + 1))]
    score_examples(model, ds, np.arange(N), CausalLMCollator(tok), diet.adapter, diet.score, batch_size=8,
                   want_features=True, progress=False, labelled_head=True)
    assert calls == {"model": 0, "backbone": 3}
    # "verify" (the default) also runs the full forward once, on the first batch, to check
    res = score_examples(model, ds, np.arange(N), CausalLMCollator(tok), diet.adapter, diet.score, batch_size=8,
                         want_features=True, progress=False)
    for h in hooks:
        h.remove()
    assert calls == {"model": 1, "backbone": 3 + 4} and res.labelled_head is True


class ScaledLogitsLlama(LlamaForCausalLM):
    """A model that transforms its logits in its forward, with no config attribute saying so."""

    datadiet_task = "causal_lm"

    def forward(self, *args, **kwargs):
        out = super().forward(*args, **kwargs)
        out.logits = out.logits * 0.5
        return out


def test_a_model_whose_logits_are_not_its_head_falls_back_after_one_batch(tiny_causal_lm, pairs, caplog):
    tok, ds = pairs
    model = ScaledLogitsLlama(tiny_causal_lm(len(tok)).config)
    assert split_lm_head(model) is not None  # nothing in its config tells
    diet = DataDiet.p3(budget=8, progress=False)
    diet.setup(N, num_epochs=2, model=model)
    collate = CausalLMCollator(tok)
    with caplog.at_level("WARNING", logger="datadiet"):
        checked = score_examples(model, ds, np.arange(N), collate, diet.adapter, diet.score, batch_size=5,
                                 want_features=True, progress=False)
    assert checked.labelled_head is False and "full forward" in caplog.text
    full = score_examples(model, ds, np.arange(N), collate, diet.adapter, diet.score, batch_size=5,
                          want_features=True, progress=False, labelled_head=False)
    np.testing.assert_allclose(checked.scores, full.scores, rtol=1e-6)
    np.testing.assert_allclose(checked.features, full.features, rtol=1e-6)


class ModeLlama(LlamaForCausalLM):
    """A wrapper that takes an input of its own (``mode``) which its backbone refuses."""

    datadiet_task = "causal_lm"

    def forward(self, *args, mode=None, **kwargs):
        return super().forward(*args, **kwargs)


def test_a_backbone_that_refuses_the_batch_falls_back(tiny_causal_lm, pairs, caplog):
    """The check catches a backbone that cannot take the batch; the pass runs the model's forward."""
    tok, ds = pairs
    model = ModeLlama(tiny_causal_lm(len(tok)).config)
    inner = model.model.forward

    def strict(*args, **kwargs):
        if "mode" in kwargs:
            raise TypeError("forward() got an unexpected keyword argument 'mode'")
        return inner(*args, **kwargs)

    model.model.forward = strict
    diet = DataDiet(keep=0.5, progress=False)
    diet.setup(N, num_epochs=2, model=model)
    collate = lambda rows: {**CausalLMCollator(tok)(rows), "mode": None}  # noqa: E731
    with caplog.at_level("WARNING", logger="datadiet"):
        res = score_examples(model, ds, np.arange(N), collate, diet.adapter, diet.score, batch_size=8, progress=False)
    assert res.labelled_head is False and "cannot be run on its own" in caplog.text
    full = score_examples(model, ds, np.arange(N), collate, diet.adapter, diet.score, batch_size=8, progress=False,
                          labelled_head=False)
    np.testing.assert_allclose(res.scores, full.scores, rtol=1e-6)


@pytest.mark.parametrize("scaled, verdict", [(False, True), (True, False)])
def test_a_diet_checks_once_and_remembers(tiny_causal_lm, pairs, scaled, verdict):
    tok, ds = pairs
    plain = tiny_causal_lm(len(tok))
    model = ScaledLogitsLlama(plain.config) if scaled else plain
    diet = DataDiet.p3(budget=8, progress=False)
    diet.setup(N, num_epochs=3, model=model)
    assert diet.labelled_head == "verify"
    collate = CausalLMCollator(tok)
    diet.begin_epoch(0, model=model, dataset=ds, collate_fn=collate)  # the first pass checks
    assert diet.labelled_head is verdict


def test_models_that_transform_their_logits_keep_their_own_forward(tiny_causal_lm, pairs):
    tok, _ = pairs
    model = tiny_causal_lm(len(tok))
    assert split_lm_head(model) == (model.model, model.lm_head)
    model.config.final_logit_softcapping = 30.0  # Gemma 2's cap: logits are not lm_head(hidden)
    assert split_lm_head(model) is None
    model.config.final_logit_softcapping = None
    model.config.logit_scale = 1.0  # a scale of one changes nothing
    assert split_lm_head(model) is not None
    assert split_lm_head(torch.nn.Linear(3, 3)) is None  # not a Hugging Face model


def test_lora_models_are_split_with_their_adapters_in_place(tiny_causal_lm, pairs):
    peft = pytest.importorskip("peft")
    tok, ds = pairs
    model = peft.get_peft_model(tiny_causal_lm(len(tok)), peft.LoraConfig(task_type="CAUSAL_LM", r=2,
                                                                   target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():  # adapters that change the output (B starts at zero)
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5, generator=torch.Generator().manual_seed(1))
    backbone, head = split_lm_head(model)
    assert backbone is model.get_base_model().model
    diet = DataDiet.p3(budget=8, progress=False)
    diet.setup(N, num_epochs=2, model=model)
    fast, full = (score_examples(model, ds, np.arange(N), CausalLMCollator(tok), diet.adapter, diet.score,
                                 batch_size=6, want_features=True, progress=False, labelled_head=flag)
                  for flag in (True, False))
    np.testing.assert_allclose(fast.scores, full.scores, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fast.features, full.features, rtol=1e-5, atol=1e-6)
    prompt_tuned = peft.get_peft_model(tiny_causal_lm(len(tok)), peft.PromptTuningConfig(task_type="CAUSAL_LM",
                                                                                  num_virtual_tokens=2))
    assert split_lm_head(prompt_tuned) is None  # virtual tokens: the full forward's shapes differ


def test_other_architectures_split_at_their_own_backbone(pairs):
    """GPT-2 (backbone ``transformer``, the head tied to the embeddings): the same scores as its forward."""
    from transformers import GPT2Config, GPT2LMHeadModel

    tok, ds = pairs
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=16, n_layer=1, n_head=2))
    backbone, head = split_lm_head(model)
    assert backbone is model.transformer and head.weight is model.transformer.wte.weight
    diet = DataDiet(keep=0.5, progress=False)
    diet.setup(N, num_epochs=2, model=model)
    fast, full = (score_examples(model, ds, np.arange(N), CausalLMCollator(tok), diet.adapter, diet.score,
                                 batch_size=7, progress=False, labelled_head=flag) for flag in (True, False))
    np.testing.assert_allclose(fast.scores, full.scores, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fast.confidence, full.confidence, rtol=1e-5, atol=1e-6)
