"""DataDietSFTTrainer with the real trl.SFTTrainer: TRL's datasets, tokenization and collator; the
plan, free scores from the training pass, P3 actions from token ids, resume, refusals."""

import numpy as np
import pytest
import torch
from datasets import Dataset, IterableDataset

pytest.importorskip("trl")
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling  # noqa: E402

from datadiet import DataDiet  # noqa: E402
from datadiet.history import SOURCE_PASS, SOURCE_TRAIN  # noqa: E402
from datadiet.integrations.collator import DietCollator, check_collated_rows, row_offsets  # noqa: E402
from datadiet.integrations.trainer import DIET_STATE_FILE  # noqa: E402
from datadiet.integrations.trl import DataDietSFTTrainer  # noqa: E402
from datadiet.llm.actions import lines  # noqa: E402
from datadiet.llm.fused_head import FusedLMHeadAdapter  # noqa: E402
from datadiet.llm.token_actions import CONTENT, NEWLINE, SPACE, SPECIAL, token_action_ids, token_classes  # noqa: E402
from datadiet.scores import get_score  # noqa: E402
from lm_helpers import chat_tokenizer, require_fused_head, sft_args, sft_dataset, tiny_llama  # noqa: E402

DIETS = {
    "default": lambda: DataDiet(keep=0.5, progress=False),
    "p3": lambda: DataDiet.p3(budget=8, progress=False),
}


@pytest.fixture(scope="module")
def tok():
    return chat_tokenizer()


def make_trainer(out, tok, kind="prompt_completion", diet="default", n=30, **kw):
    diet = DIETS[diet]() if isinstance(diet, str) else diet
    return DataDietSFTTrainer(model=tiny_llama(tok), args=sft_args(out, **kw), train_dataset=sft_dataset(kind, n),
                              processing_class=tok, diet=diet)


# -- actions from token ids ----------------------------------------------------------------------
def test_token_classes_of_the_word_level_tokenizer(tok):
    classes = token_classes(tok)
    assert classes[tok.convert_tokens_to_ids("\n")] == NEWLINE
    assert classes[tok.convert_tokens_to_ids("seven")] == CONTENT
    for special in ("[EOS]", "[PAD]", "<|im_start|>", "<|im_end|>"):
        assert classes[tok.convert_tokens_to_ids(special)] == SPECIAL


def test_token_action_ids_by_hand():
    c = np.array([CONTENT, SPACE, NEWLINE, SPECIAL], dtype=np.int8)  # token id = its class
    # prompt | "a _ a" \n "_ a _" \n \n "a" EOS, then padding
    ids = torch.tensor([[0, 0, 1, 0, 2, 1, 0, 1, 2, 2, 0, 3, 0, 0],
                        [0, 0, 0, 2, 1, 1, 2, 0, 0, 3, 0, 0, 0, 0]])
    labels = ids.clone()
    labels[0, 0] = labels[1, :2] = -100  # prompts
    labels[0, 12:] = labels[1, 10:] = -100  # padding
    got = token_action_ids(ids, labels, c)
    assert got.tolist() == [[-1, 0, 0, 0, -1, -1, 1, -1, -1, -1, 2, -1, -1, -1],
                            [-1, -1, 0, -1, -1, -1, -1, 1, 1, -1, -1, -1, -1, -1]]
    # left padding gives the same actions, shifted
    shifted = token_action_ids(torch.roll(ids, 3, 1), torch.roll(labels, 3, 1), c)
    assert torch.equal(torch.roll(shifted, -3, 1), got)
    # an unlabelled gap (the user turn between two assistant turns) ends an action
    gap = labels.clone()
    gap[0, 2] = -100
    assert token_action_ids(ids, gap, c)[0, :4].tolist() == [-1, 0, -1, 1]
    with pytest.raises(ValueError, match="vocabulary"):
        token_action_ids(ids + 4, labels, c)


def test_actions_from_token_ids_survive_trl_preparation_and_collator(tmp_path, tok):
    trainer = make_trainer(tmp_path, tok, diet="p3")
    dataset, collator = trainer._diet_scoring_inputs()
    raw = sft_dataset("prompt_completion")
    batch = collator([dataset[i] for i in range(len(dataset))])
    assert batch["example_id"].tolist() == list(range(30))
    for i in range(30):  # one action per non-empty line of the completion; prompt and newlines in none
        want = len(lines(raw[i]["completion"]))
        actions = batch["action_ids"][i]
        assert int(actions.max()) + 1 == want
        assert (actions[batch["labels"][i] == -100] == -1).all()
        nl = batch["input_ids"][i] == tok.convert_tokens_to_ids("\n")
        assert (actions[nl] == -1).all()


@pytest.fixture(scope="module")
def smollm2_tokenizer():
    from transformers import AutoTokenizer

    from datadiet.toolkit.llm.models import SMOLLM2_GGUF, smollm2_package_dir

    return AutoTokenizer.from_pretrained(smollm2_package_dir(), gguf_file=SMOLLM2_GGUF)


def test_token_actions_equal_text_lines_on_gsm8k_with_smollm2(smollm2_tokenizer):
    """On real GSM8K solutions and SmolLM2's byte-level BPE, actions read from the token ids are
    the text segmentation's (``lines``, mapped to tokens by character offsets), token for token."""
    from datadiet.toolkit.llm import read_gsm8k, tokenize_gsm8k

    classes = token_classes(smollm2_tokenizer)
    assert (classes == NEWLINE).sum() > 100  # "\n", " \n", "\n\n   "... all whitespace-only in SmolLM2
    examples = tokenize_gsm8k(smollm2_tokenizer, read_gsm8k("train", limit=300))
    for e in examples:
        got = token_action_ids(torch.tensor([e["input_ids"]]), torch.tensor([e["labels"]]), classes)[0]
        assert got.tolist() == e["action_ids"]
    # cut by max_length, the two differ only on a trailing whitespace token at the cut, which the
    # text segmentation (which sees the whole line) puts inside the action
    cut = tokenize_gsm8k(smollm2_tokenizer, read_gsm8k("train", limit=300), max_length=128)
    for e in cut:
        got = token_action_ids(torch.tensor([e["input_ids"]]), torch.tensor([e["labels"]]), classes)[0].tolist()
        differ = [t for t, (a, b) in enumerate(zip(got, e["action_ids"])) if a != b]
        assert differ in ([], [len(got) - 1]), differ
        if differ:
            assert classes[e["input_ids"][-1]] == SPACE


def gsm8k_sft_trainer(out, tok, limit=12):
    from datadiet.toolkit.llm import gsm8k_prompt, read_gsm8k

    rows = read_gsm8k("train", limit=limit)
    data = Dataset.from_list([{"prompt": gsm8k_prompt(r["question"]), "completion": r["solution"]} for r in rows])
    trainer = DataDietSFTTrainer(model=tiny_llama(tok, vocab_size=len(tok)), train_dataset=data, processing_class=tok,
                                 args=sft_args(out, num_train_epochs=2, max_length=None),
                                 diet=DataDiet.p3(budget=4, scoring_batch_size=4, progress=False))
    return trainer, rows


def test_gsm8k_through_trl_with_smollm2_tokenizer_has_one_action_per_line(tmp_path, smollm2_tokenizer):
    """GSM8K as a prompt/completion dataset, tokenized by TRL with SmolLM2's tokenizer: the
    collated batches carry one action per solution line."""
    trainer, rows = gsm8k_sft_trainer(tmp_path, smollm2_tokenizer)
    dataset, collator = trainer._diet_scoring_inputs()
    batch = collator([dataset[i] for i in range(len(dataset))])
    for i, r in enumerate(rows):
        assert int(batch["action_ids"][i].max()) + 1 == len(lines(r["solution"]))


@pytest.mark.slow
def test_p3_on_gsm8k_through_trl_with_smollm2_tokenizer(tmp_path, smollm2_tokenizer):
    trainer, _ = gsm8k_sft_trainer(tmp_path, smollm2_tokenizer)
    trainer.train()
    assert [rec["kept"] for rec in trainer.diet.log] == [4, 4]
    assert trainer.state.global_step == trainer.diet.planned_steps(batch_size=4, sharding="batches") == 2
    # one scoring pass before the first selection + the trained examples (epoch 1 re-scores none: rescore="stale")
    assert trainer.diet.history.count.sum() == 12 + 4 + 4 and [r["scored"] for r in trainer.diet.log] == [12, 0]


# -- collator ------------------------------------------------------------------------------------
def test_diet_collator_carries_example_ids_that_trl_collator_drops(tok):
    rows = [{"input_ids": [5, 6, 7], "labels": [-100, 6, 7], "example_id": 4},
            {"input_ids": [5, 6], "labels": [-100, 6], "example_id": 9}]
    trl_collator = DataCollatorForLanguageModeling(pad_token_id=tok.pad_token_id)
    assert "example_id" not in trl_collator([dict(r) for r in rows])
    batch = DietCollator(trl_collator)(rows)
    assert batch["example_id"].tolist() == [4, 9]
    assert batch["input_ids"].tolist() == [[5, 6, 7], [5, 6, tok.pad_token_id]]


def test_diet_collator_pads_given_actions_on_the_collators_side():
    def left_pad(rows):
        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.tensor([[0] * (width - len(r["input_ids"])) + list(r["input_ids"]) for r in rows])
        return {"input_ids": ids, "labels": ids.clone()}

    rows = [{"input_ids": [5, 6, 7], "action_ids": [-1, 0, 0], "example_id": 0},
            {"input_ids": [5, 6], "action_ids": [-1, 0], "example_id": 1}]
    batch = DietCollator(left_pad)(rows)
    assert batch["action_ids"].tolist() == [[-1, 0, 0], [-1, -1, 0]]


def test_a_collator_that_drops_example_id_is_refused(tok):
    rows = Dataset.from_list([{"input_ids": [5, 6, 7], "labels": [-100, 6, 7], "example_id": 0}])
    trl_collator = DataCollatorForLanguageModeling(pad_token_id=tok.pad_token_id)
    with pytest.raises(ValueError, match="DietCollator"):
        check_collated_rows(rows, trl_collator)
    check_collated_rows(rows, DietCollator(trl_collator))
    with pytest.raises(ValueError, match="token_classes"):
        check_collated_rows(rows, DietCollator(trl_collator), need_actions=True)
    check_collated_rows(rows, DietCollator(trl_collator, token_classes=token_classes(tok)), need_actions=True)


def test_datadiet_trainer_with_a_wrapped_trl_collator_runs_p3_from_token_ids(tmp_path, tok):
    from transformers import TrainingArguments

    from datadiet import DataDietTrainer
    from datadiet.llm.tokenization import tokenize_pairs
    from lm_helpers import prompt_completion_rows

    rows = prompt_completion_rows(30)
    tokenized = tokenize_pairs(tok, [r["prompt"] for r in rows], [r["completion"] for r in rows])
    train = Dataset.from_list(tokenized).remove_columns(["action_ids", "num_actions"])
    collator = DietCollator(DataCollatorForLanguageModeling(pad_token_id=tok.pad_token_id),
                            token_classes=token_classes(tok))
    check_collated_rows(train, collator, need_actions=True)
    batch = collator([train[i] for i in range(30)])
    for i, t in enumerate(tokenized):  # the same actions as the text segmentation of tokenize_pairs
        assert batch["action_ids"][i, : len(t["action_ids"])].tolist() == t["action_ids"]
    args = TrainingArguments(str(tmp_path), num_train_epochs=2, per_device_train_batch_size=4, report_to=[],
                             save_strategy="no", disable_tqdm=True, use_cpu=True)
    diet = DataDiet.p3(budget=8, progress=False)
    trainer = DataDietTrainer(diet=diet, model=tiny_llama(tok), args=args, train_dataset=train, data_collator=collator)
    trainer.train()
    assert [r["kept"] for r in diet.log] == [8, 8]
    assert diet.history.count.sum() == 30 + 2 * 8  # a pass before epoch 0, then free scores (rescore="stale")


def test_a_collator_that_merges_or_reorders_rows_is_refused():
    rows = [[1, 2, 3], [4, 5]]
    with pytest.raises(ValueError, match="padding-free"):
        row_offsets(torch.tensor([[1, 2, 3, 4, 5]]), rows)
    with pytest.raises(ValueError, match="reorders"):
        row_offsets(torch.tensor([[4, 5, 0], [1, 2, 3]]), rows)


# -- free scores from the fused LM head ------------------------------------------------------------
def test_fused_head_scores_equal_scores_from_logits(tmp_path, tok):
    """TRL's fused head gives the gold log-probs without logits; token_nll and policy difficulty
    read from them equal the same scores read from the full logits."""
    require_fused_head()
    trainer = make_trainer(tmp_path, tok, diet="p3")
    dataset, collator = trainer._diet_scoring_inputs()
    batch = collator([dataset[i] for i in range(8)])
    model = trainer.model.eval()
    adapter = trainer.diet.adapter
    assert isinstance(adapter, FusedLMHeadAdapter)
    model_inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "labels")}
    with torch.no_grad():
        fused = model(**model_inputs, fused_lm_head=True)
        full = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    assert getattr(fused, "logits", None) is None
    from_fused, from_logits = adapter.score_inputs(fused, batch), adapter.score_inputs(full, batch)
    assert from_fused.token_logprobs is not None and from_logits.token_logits is not None
    for name in ("token_nll", "policy_difficulty"):
        torch.testing.assert_close(get_score(name)(from_fused), get_score(name)(from_logits), rtol=1e-5, atol=1e-5)
    # and token_nll is the per-example mean of the loss TRL trains on
    labels = batch["labels"][:, 1:]
    nll = get_score("token_nll")(from_fused)
    counts = (labels != -100).sum(-1)
    assert float((nll * counts).sum() / counts.sum()) == pytest.approx(float(fused.loss), rel=1e-5)
    per_example = adapter.per_example_loss(fused, batch)
    torch.testing.assert_close(per_example, nll, rtol=1e-5, atol=1e-6)
    # the data map's confidence and correctness: from the head's is_top1, as from the logits' argmax
    from datadiet.scores.classification import true_class_probability
    if getattr(fused, "is_top1", None) is not None:  # TRL's SFTTrainer asks its head for it
        (conf_f, correct_f), (conf_l, correct_l) = true_class_probability(from_fused), true_class_probability(from_logits)
        torch.testing.assert_close(conf_f, conf_l, rtol=1e-5, atol=1e-6)
        assert torch.equal(correct_f, correct_l)


def test_sft_training_steps_record_the_data_map_of_every_example(tmp_path, tok):
    """With the fused head's is_top1 the training steps record confidence and correctness, so the
    data map covers every example trained, not only those a scoring pass saw."""
    require_fused_head()
    trainer = make_trainer(tmp_path, tok, diet="default")
    dataset, collator = trainer._diet_scoring_inputs()
    batch = collator([dataset[i] for i in range(2)])
    with torch.no_grad():
        probe = trainer.model(**{k: batch[k] for k in ("input_ids", "attention_mask", "labels")}, fused_lm_head=True)
    if getattr(probe, "is_top1", None) is None:
        pytest.skip("this TRL's SFTTrainer asks its fused head for no is_top1")
    trainer.train()
    dynamics = trainer.diet.history.dynamics()
    assert not np.isnan(dynamics["confidence"]).any() and not np.isnan(dynamics["correctness"]).any()


def test_p3_features_come_free_from_the_fused_head_forward(tmp_path, tok):
    """The fused head never calls the lm_head module; the backbone hook still pools the head's input,
    equal to a scoring pass's features for the same model state."""
    require_fused_head()
    from datadiet.scoring_pass import score_examples

    trainer = make_trainer(tmp_path, tok, diet="p3")
    dataset, collator = trainer._diet_scoring_inputs()
    ids = list(range(6))
    batch = collator([dataset[i] for i in ids])
    model, diet = trainer.model.eval(), trainer.diet
    model_inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "labels")}
    with torch.no_grad(), diet.capture_features(model, model_inputs) as captured:
        model(**model_inputs, fused_lm_head=True)
    passed = score_examples(model, dataset, np.array(ids), collator, diet.adapter, diet.score, batch_size=3,
                            want_features=True, progress=False)
    order = np.argsort(passed.ids)
    np.testing.assert_allclose(captured["features"].numpy(), passed.features[order], rtol=1e-5, atol=1e-6)


def test_p3_through_trl_scores_by_a_pass_only_before_the_first_selection_and_stale_ones(tmp_path, tok):
    require_fused_head()
    trainer = make_trainer(tmp_path, tok, diet="p3")
    trainer.train()
    diet = trainer.diet
    assert [r["scored"] for r in diet.log][:2] == [30, 0] and all(r["scored"] <= 3 for r in diet.log[1:])
    assert diet.features is not None and np.isfinite(diet.features).all()


# -- the plan, with TRL's datasets -----------------------------------------------------------------
@pytest.mark.parametrize("kind", ["text", "prompt_completion", "messages", "conversational_prompt_completion"])
@pytest.mark.parametrize("diet_name", ["default", "p3"])
def test_sft_follows_the_plan_and_records_free_scores(tmp_path, tok, kind, diet_name):
    trainer = make_trainer(tmp_path, tok, kind=kind, diet=diet_name)
    diet = trainer.diet
    assert "example_id" not in sft_dataset(kind).column_names  # the user's dataset has no datadiet column
    trainer.train()
    kept = [r["kept"] for r in diet.log]
    scored = [r["scored"] for r in diet.log]
    assert kept == diet.kept_counts() == ([30, 15, 15] if diet_name == "default" else [8, 8, 8])
    assert trainer.state.global_step == diet.planned_steps(batch_size=4, sharding="batches")
    # every kept example of every epoch was observed once by the training pass: the history's
    # observations are exactly the training passes plus the scoring passes
    trained = diet.kept_matrix()
    assert diet.history.count.sum() == trained.sum() + sum(scored)
    assert (diet.history.count >= trained.sum(0)).all()
    last = trained[-1]
    assert (diet.history.last_source[last] == SOURCE_TRAIN).all()
    assert np.isfinite(diet.history.latest).all()
    if diet_name == "default":
        assert diet.score.name == "token_nll"
        assert scored[1] == 0  # epoch 0's free scores cover everything: nothing re-scored
        assert scored[2] <= round(0.1 * 30)  # then only the stalest, within the budget
    else:
        # rescore="stale": a pass before the first selection, then difficulty and features come free
        assert diet.score.name == "policy_difficulty" and scored[:2] == [30, 0] and scored[2] <= round(0.1 * 30)
        assert ((diet.history.latest >= 0) & (diet.history.latest <= 1)).all()
        assert diet.features is not None and np.isfinite(diet.features).all()
    if kind.endswith("prompt_completion"):  # completion-only loss: the prompt is never trained or scored
        first = trainer.train_dataset[0]
        # TRL >= 1.x stores labels; older TRL a completion_mask the collator turns into labels
        trained = np.asarray(first["labels"]) != -100 if "labels" in first else np.asarray(first["completion_mask"]) == 1
        assert not trained[0] and trained[-1]


def test_gradient_accumulation_follows_the_plan(tmp_path, tok):
    trainer = make_trainer(tmp_path, tok, gradient_accumulation_steps=2)
    trainer.train()
    diet = trainer.diet
    assert trainer.state.global_step == diet.planned_steps(batch_size=4, grad_accum=2, sharding="batches") == 4 + 2 + 2
    assert diet.history.count.sum() == diet.kept_matrix().sum() + sum(r["scored"] for r in diet.log)


def test_assistant_only_loss_scores_the_assistant_turns(tmp_path, tok):
    trainer = make_trainer(tmp_path, tok, kind="messages", diet="p3", assistant_only_loss=True)
    dataset, collator = trainer._diet_scoring_inputs()
    batch = collator([dataset[i] for i in range(len(dataset))])
    raw = sft_dataset("messages")
    for i in range(len(dataset)):
        trained = batch["input_ids"][i][batch["labels"][i] != -100].tolist()
        answer = raw[i]["messages"][1]["content"]
        assert tok.decode(trained).replace(" ", "") == (answer + "<|im_end|>").replace(" ", "")
        assert int(batch["action_ids"][i].max()) + 1 == len(lines(answer))
    trainer.train()
    assert [r["kept"] for r in trainer.diet.log] == [8, 8, 8]
    scored = sum(r["scored"] for r in trainer.diet.log)  # a pass before epoch 0, then stale ones only
    assert trainer.diet.history.count.sum() == trainer.diet.kept_matrix().sum() + scored


def test_resume_from_checkpoint_gives_the_same_selections(tmp_path, tok):
    def make(out):
        return make_trainer(out, tok, kind="messages", diet=DataDiet(keep=0.5, rescore_fraction=0.2, progress=False),
                            num_train_epochs=4, save_strategy="epoch")

    full_run = make(tmp_path / "a")
    full_run.train()
    ckpts = sorted((tmp_path / "a").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    assert len(ckpts) == 4 and all((c / DIET_STATE_FILE).is_file() for c in ckpts)
    resumed = make(tmp_path / "b")
    resumed.train(resume_from_checkpoint=str(ckpts[1]))
    np.testing.assert_array_equal(resumed.diet.kept_matrix(), full_run.diet.kept_matrix())
    np.testing.assert_allclose(resumed.diet.history.latest, full_run.diet.history.latest, rtol=1e-5)
    assert resumed.state.global_step == full_run.state.global_step
    for p_a, p_b in zip(full_run.model.parameters(), resumed.model.parameters()):
        torch.testing.assert_close(p_a, p_b, rtol=1e-4, atol=1e-5)


def test_evaluation_is_not_observed(tmp_path, tok):
    trainer = DataDietSFTTrainer(model=tiny_llama(tok), args=sft_args(tmp_path), processing_class=tok,
                                 train_dataset=sft_dataset("prompt_completion"), diet=DataDiet(keep=0.5),
                                 eval_dataset=sft_dataset("prompt_completion", 8, seed=1))  # TRL prepares it
    metrics = trainer.evaluate()
    assert np.isfinite(metrics["eval_loss"]) and trainer.diet.history.count.sum() == 0
    during = DataDietSFTTrainer(model=tiny_llama(tok), args=sft_args(tmp_path, eval_strategy="epoch"),
                                train_dataset=sft_dataset("prompt_completion"), processing_class=tok,
                                eval_dataset=sft_dataset("prompt_completion", 8, seed=1), diet=DataDiet(keep=0.5))
    during.train()
    assert len([h for h in during.state.log_history if "eval_loss" in h]) == 3
    assert during.diet.history.count.sum() == during.diet.kept_matrix().sum() + sum(r["scored"] for r in during.diet.log)


# -- refused at construction -----------------------------------------------------------------------
@pytest.mark.parametrize("change,match", [
    (dict(packing=True), "packing"),
    (dict(padding_free=True, max_length=None), "padding_free"),
])
def test_merged_examples_are_refused(tmp_path, tok, change, match):
    with pytest.raises(ValueError, match=match):
        make_trainer(tmp_path, tok, **change)


@pytest.mark.parametrize("diet,match", [
    (lambda: DataDiet(keep=0.5, score="el2n"), "full logits"),
    (lambda: DataDiet.infobatch(), "InfoBatch"),
    (lambda: DataDiet(keep=0.5, score="forgetting"), "fused LM head"),
])
def test_scores_that_need_logits_are_refused(tmp_path, tok, diet, match):
    with pytest.raises(ValueError, match=match):
        make_trainer(tmp_path, tok, diet=diet())


def test_unsupported_datasets_are_refused(tmp_path, tok):
    rows = sft_dataset("prompt_completion", 8)
    args = sft_args(tmp_path)
    streaming = IterableDataset.from_generator(lambda: iter(rows))
    with pytest.raises(TypeError, match="datasets.Dataset"):
        DataDietSFTTrainer(model=tiny_llama(tok), args=args, train_dataset=streaming, processing_class=tok,
                           diet=DataDiet(keep=0.5))
    preference = Dataset.from_dict({"prompt": ["a"], "chosen": ["b"], "rejected": ["c"]})
    with pytest.raises(ValueError, match="preference"):
        DataDietSFTTrainer(model=tiny_llama(tok), args=args, train_dataset=preference, processing_class=tok,
                           diet=DataDiet(keep=0.5))
    shuffled_ids = rows.add_column("example_id", list(range(8))[::-1])
    with pytest.raises(ValueError, match="row position"):
        DataDietSFTTrainer(model=tiny_llama(tok), args=args, train_dataset=shuffled_ids, processing_class=tok,
                           diet=DataDiet(keep=0.5))
    from datasets import DatasetDict
    with pytest.raises(TypeError, match=r"one split as its train_dataset, got a DatasetDict of 'train': pass "
                                        r"train_dataset=ds\['train'\]"):
        DataDietSFTTrainer(model=tiny_llama(tok), args=args, train_dataset=DatasetDict(train=rows), processing_class=tok,
                           diet=DataDiet(keep=0.5))
    text_ids = rows.add_column("example_id", [str(i) for i in range(8)])
    with pytest.raises(ValueError, match=r"holds string values \(row 0: '0'\), not integer row positions"):
        DataDietSFTTrainer(model=tiny_llama(tok), args=args, train_dataset=text_ids, processing_class=tok,
                           diet=DataDiet(keep=0.5))


def test_ids_a_user_numbered_are_refused_saying_trl_dropped_rows():
    # TRL's preparation drops rows with nothing left to train on (newer versions do, e.g. a prompt
    # longer than max_length): a user's 0..5 numbering is then 0, 1, 2, 4, 5 over 5 rows
    from datadiet.integrations.trl import number_examples
    thinned = Dataset.from_dict({"text": list("abcde"), "example_id": [0, 1, 2, 4, 5]})
    with pytest.raises(ValueError, match="TRL's preparation dropped rows"):
        number_examples(thinned)


def test_a_collator_that_reorders_examples_is_refused_at_construction(tmp_path, tok):
    inner = DataCollatorForLanguageModeling(pad_token_id=tok.pad_token_id)

    def longest_first(rows):
        return inner(sorted(rows, key=lambda r: -len(r["input_ids"])))

    with pytest.raises(ValueError, match="reorders"):
        DataDietSFTTrainer(model=tiny_llama(tok), args=sft_args(tmp_path), train_dataset=sft_dataset("prompt_completion"),
                           processing_class=tok, data_collator=longest_first, diet=DataDiet(keep=0.5))
