"""Metrics against hand-computed values, and the joint compute_metrics inside a real Trainer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import BertConfig, EvalPrediction, Trainer, TrainingArguments

from datadiet.toolkit.data import load_dataset_by_name
from datadiet.toolkit.metrics import (
    accuracy,
    classification_compute_metrics,
    intent_accuracy,
    joint_nlu_metrics,
    make_joint_compute_metrics,
    make_token_classification_compute_metrics,
    sentence_exact_match,
    slot_f1,
    slot_scores,
    word_level_tags,
)
from datadiet.toolkit.tasks import JointIntentSlotConfig, JointIntentSlotModel, JointNLUCollator, load_tokenizer
from datadiet.toolkit.tasks import tokenize_joint_intent_slot

X = -100
NAMES = ["PAD", "UNK", "O", "B-a", "I-a", "B-b"]  # ids 0..5


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Two cores are shared with other jobs: more threads than free cores make tiny models ~10x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_accuracy_ignores_minus_100():
    assert accuracy([1, 0, 2, 2], [1, 1, 2, X]) == pytest.approx(2 / 3)
    assert intent_accuracy(np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]), [1, 1, 1]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        accuracy([1, 2], [1])


def test_slot_f1_by_hand():
    gold = [["B-a", "I-a", "O", "B-b"], ["B-c", "O"]]
    pred = [["B-a", "I-a", "O", "O"], ["B-c", "B-d"]]
    # gold spans: a[0:2], b[3], c[0] (3); predicted: a[0:2], c[0], d[1] (3); correct: 2
    assert slot_scores(pred, gold) == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3})


def test_slot_f1_boundaries_and_conlleval_leniency():
    gold = [["B-loc", "I-loc", "O", "B-per"]]
    # conlleval starts a span at an I- tag after O, so I-loc I-loc is the span loc[0:2]; per vs org is wrong
    assert slot_f1([["I-loc", "I-loc", "O", "B-org"]], gold) == pytest.approx(0.5)
    # a span with a wrong boundary is wrong as a whole: loc[0:1] wrong, per[3] right, P = R = 1/2
    assert slot_f1([["B-loc", "O", "O", "B-per"]], gold) == pytest.approx(0.5)
    assert slot_f1([["B-loc", "B-loc", "O", "O"]], gold) == 0.0


def test_slot_f1_reads_pad_and_unk_as_outside():
    # gold UNK is not a span, so the prediction B-a there is a false positive: P = 1/2, R = 1/1
    scores = slot_scores([["B-a", "B-a"]], [["B-a", "UNK"]])
    assert scores == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3})


def test_word_level_tags_use_first_subwords_only():
    labels = np.array([[X, 3, X, 4, 2, X], [X, 5, 2, X, X, X]])
    predictions = np.array([[0, 3, 5, 2, 2, 0], [1, 5, 3, 4, 4, 4]])
    pred_tags, gold_tags = word_level_tags(predictions, labels, NAMES)
    assert gold_tags == [["B-a", "I-a", "O"], ["B-b", "O"]]
    assert pred_tags == [["B-a", "O", "O"], ["B-b", "B-a"]]
    logits = np.eye(6)[predictions] * 5.0  # one-hot logits give the same arg-max
    assert word_level_tags(logits, labels, NAMES) == (pred_tags, gold_tags)


def test_sentence_exact_match_by_hand():
    gold_tags = [["B-a", "O"], ["O"], ["B-b"]]
    pred_tags = [["B-a", "O"], ["O"], ["O"]]
    # sentence 0: both right; 1: intent wrong; 2: slot wrong
    assert sentence_exact_match([1, 0, 2], [1, 2, 2], pred_tags, gold_tags) == pytest.approx(1 / 3)
    assert sentence_exact_match([1, 2, 2], [1, 2, 2], gold_tags, gold_tags) == 1.0


def test_joint_metrics_and_compute_metrics_from_logits():
    intent_logits = np.array([[0.0, 2.0, 0.0], [3.0, 0.0, 0.0]])  # predicts 1, 0
    slot_pred = np.array([[0, 3, 4, 2, 0], [0, 5, 2, 0, 0]])
    slot_logits = np.eye(6)[slot_pred]
    slot_labels = np.array([[X, 3, 4, 2, X], [X, 3, 2, X, X]])
    intent_labels = np.array([1, 0])
    expected = {"intent_accuracy": 1.0, "slot_precision": 0.5, "slot_recall": 0.5, "slot_f1": 0.5, "exact_match": 0.5}
    assert joint_nlu_metrics(intent_logits, slot_logits, intent_labels, slot_labels, NAMES) == pytest.approx(expected)
    compute = make_joint_compute_metrics(NAMES)
    # the order inside the tuples and extra outputs (pooled features) do not matter
    prediction = EvalPrediction(predictions=(slot_logits, intent_logits, np.zeros((2, 4, 7, 1))),
                                label_ids=(intent_labels, slot_labels))
    assert compute(prediction) == pytest.approx(expected)
    with pytest.raises(ValueError, match="label_names"):
        compute(EvalPrediction(predictions=intent_logits, label_ids=intent_labels))


def test_classification_and_token_compute_metrics():
    logits = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert classification_compute_metrics(EvalPrediction(predictions=(logits,), label_ids=np.array([0, 0, 1]))) == \
        pytest.approx({"accuracy": 2 / 3})
    compute = make_token_classification_compute_metrics(NAMES)
    labels = np.array([[X, 3, 4, 2]])
    out = compute(EvalPrediction(predictions=np.eye(6)[np.array([[0, 3, 2, 2]])], label_ids=labels))
    # predicted span a[0:1] vs gold a[0:2]: no correct span; 2 of 3 words right
    assert out == pytest.approx({"precision": 0.0, "recall": 0.0, "f1": 0.0, "accuracy": 2 / 3})


def test_trainer_evaluate_reports_the_joint_metrics(tmp_path):
    """A real Trainer.train + evaluate: EvalPrediction holds (intent_logits, slot_logits) padded across
    batches of different lengths, and the reported metrics equal those of per-example predictions."""
    tokenizer = load_tokenizer()
    raw = load_dataset_by_name("snips", "test").select(range(12))
    intents, slots = raw.features["intent_label"].names, raw.features["slot_labels"].feature.names
    data = tokenize_joint_intent_slot(raw, tokenizer)
    config = JointIntentSlotConfig(
        encoder=BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
                           num_attention_heads=2, intermediate_size=64, max_position_embeddings=64),
        intent_names=intents, slot_names=slots,
    )
    torch.manual_seed(0)
    model = JointIntentSlotModel(config)
    args = TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=12, per_device_eval_batch_size=5, max_steps=30,
        learning_rate=5e-3, label_names=["intent_labels", "slot_labels"], report_to="none", use_cpu=True,
        save_strategy="no", logging_strategy="no", disable_tqdm=True, seed=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=data, eval_dataset=data,
                      data_collator=JointNLUCollator(tokenizer), compute_metrics=make_joint_compute_metrics(slots))
    trainer.train()
    reported = trainer.evaluate()

    model.eval()
    pred_intents, gold_intents, pred_tags, gold_tags = [], [], [], []
    with torch.no_grad():
        for row in data:
            out = model(input_ids=torch.tensor([row["input_ids"]]))
            keep = torch.tensor(row["slot_labels"]) != X
            pred_intents.append(int(out.intent_logits.argmax(-1)))
            gold_intents.append(row["intent_labels"])
            pred_tags.append([slots[i] for i in out.slot_logits[0].argmax(-1)[keep].tolist()])
            gold_tags.append([slots[i] for i in torch.tensor(row["slot_labels"])[keep].tolist()])
    expected_f1 = slot_f1(pred_tags, gold_tags)
    assert reported["eval_intent_accuracy"] == pytest.approx(np.mean(np.array(pred_intents) == np.array(gold_intents)))
    assert reported["eval_slot_f1"] == pytest.approx(expected_f1)
    assert reported["eval_exact_match"] == pytest.approx(sentence_exact_match(pred_intents, gold_intents, pred_tags, gold_tags))
    assert expected_f1 > 0.3  # the tiny model fitted its 12 examples, so the check is not vacuous
