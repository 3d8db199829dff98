"""Evaluation metrics for classification and joint intent detection + slot filling.

- accuracy / intent accuracy: fraction of examples whose arg-max class is the gold one;
- slot F1: span-level micro F1 over word-level BIO tags, CoNLL-2000 ``conlleval`` style, computed
  with ``seqeval`` (Nakayama 2018) in its default (conlleval-compatible) mode; word-level tags are
  recovered from the first sub-word of each word (positions whose label is not -100);
- sentence-level exact match (semantic frame accuracy, Goo et al. 2018): the intent and every slot
  tag of the sentence are right.

``make_joint_compute_metrics`` / ``classification_compute_metrics`` plug into
``transformers.Trainer(compute_metrics=...)``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from datadiet._extras import require

IGNORE_INDEX = -100
NON_TAGS = frozenset({"PAD", "UNK", "[PAD]", "[UNK]", "<pad>", "<unk>"})
"""Vocabulary entries that are not BIO tags; seqeval reads them as ``O`` (outside any span)."""


def accuracy(predictions: Any, references: Any) -> float:
    """Fraction of positions where ``predictions == references``, ignoring references equal to -100.

    Example:
        >>> accuracy([1, 0, 2, 2], [1, 1, 2, -100])
        0.6666666666666666
    """
    pred, ref = np.asarray(predictions).reshape(-1), np.asarray(references).reshape(-1)
    if pred.shape != ref.shape:
        raise ValueError(f"{pred.shape[0]} predictions for {ref.shape[0]} references")
    valid = ref != IGNORE_INDEX
    if not valid.any():
        raise ValueError("no reference labels to score (all are -100)")
    return float((pred[valid] == ref[valid]).mean())


def intent_accuracy(predicted_intents: Any, gold_intents: Any) -> float:
    """Intent accuracy: :func:`accuracy` of predicted intent ids (or ``(N, C)`` logits) against gold ids."""
    pred = np.asarray(predicted_intents)
    if pred.ndim == 2:
        pred = pred.argmax(-1)
    return accuracy(pred, gold_intents)


def word_level_tags(
    slot_predictions: Any, slot_labels: Any, slot_names: Sequence[str]
) -> tuple[list[list[str]], list[list[str]]]:
    """Recover word-level tag sequences from token-level predictions and labels.

    Args:
        slot_predictions: ``(N, T)`` predicted ids or ``(N, T, C)`` logits.
        slot_labels: ``(N, T)`` gold ids, -100 everywhere except on the first sub-word of each word.
        slot_names: tag name of each id.

    Returns:
        ``(predicted_tags, gold_tags)``: per sentence, the tags at the positions whose gold label is
        not -100, in order (one per word).
    """
    pred, gold = np.asarray(slot_predictions), np.asarray(slot_labels)
    if pred.ndim == 3:
        pred = pred.argmax(-1)
    if pred.shape != gold.shape:
        raise ValueError(f"slot predictions have shape {pred.shape} but slot labels {gold.shape}")
    names = list(slot_names)
    predicted, reference = [], []
    for p_row, g_row in zip(pred, gold):
        keep = g_row != IGNORE_INDEX
        predicted.append([names[i] for i in p_row[keep]])
        reference.append([names[i] for i in g_row[keep]])
    return predicted, reference


def _as_bio(tags: list[list[str]]) -> list[list[str]]:
    return [["O" if t in NON_TAGS else t for t in sentence] for sentence in tags]


def slot_scores(predicted_tags: list[list[str]], gold_tags: list[list[str]]) -> dict[str, float]:
    """Span-level micro precision, recall and F1 of BIO tag sequences (conlleval style, via seqeval).

    A span counts as correct only if its type and both boundaries match. Non-tags such as
    ``PAD``/``UNK`` (:data:`NON_TAGS`) are read as ``O``, so a gold span tagged UNK is not counted.
    """
    require("seqeval", extra="nlu", purpose="slot F1 (datadiet.toolkit.metrics.slot_scores)")
    from seqeval.metrics import f1_score, precision_score, recall_score

    if len(predicted_tags) != len(gold_tags):
        raise ValueError(f"{len(predicted_tags)} predicted sentences for {len(gold_tags)} gold ones")
    for i, (p, g) in enumerate(zip(predicted_tags, gold_tags)):
        if len(p) != len(g):
            raise ValueError(f"sentence {i}: {len(p)} predicted tags for {len(g)} gold tags")
    pred, gold = _as_bio(predicted_tags), _as_bio(gold_tags)
    return {
        "precision": float(precision_score(gold, pred, zero_division=0)),
        "recall": float(recall_score(gold, pred, zero_division=0)),
        "f1": float(f1_score(gold, pred, zero_division=0)),
    }


def slot_f1(predicted_tags: list[list[str]], gold_tags: list[list[str]]) -> float:
    """Span-level micro F1 of BIO tag sequences; see :func:`slot_scores`.

    Example:
        >>> slot_f1([["B-a", "I-a", "O"]], [["B-a", "I-a", "B-b"]])   # 1 of 1 predicted, 1 of 2 gold
        0.6666666666666666
    """
    return slot_scores(predicted_tags, gold_tags)["f1"]


def sentence_exact_match(
    predicted_intents: Any, gold_intents: Any, predicted_tags: list[list[str]], gold_tags: list[list[str]]
) -> float:
    """Fraction of sentences whose intent and every word's tag are right (semantic frame accuracy).

    Tags are compared as given (a gold ``UNK`` tag is never matched). A gold intent of -100 means
    the sentence has no intent to get right; only its tags count.
    """
    pred, gold = np.asarray(predicted_intents), np.asarray(gold_intents)
    if pred.ndim == 2:
        pred = pred.argmax(-1)
    if not (len(pred) == len(gold) == len(predicted_tags) == len(gold_tags)):
        raise ValueError(f"lengths differ: {len(pred)} predicted intents, {len(gold)} gold intents, "
                         f"{len(predicted_tags)} predicted and {len(gold_tags)} gold tag sequences")
    if len(gold) == 0:
        raise ValueError("no sentences to score")
    hits = [
        (g == IGNORE_INDEX or p == g) and list(pt) == list(gt)
        for p, g, pt, gt in zip(pred, gold, predicted_tags, gold_tags)
    ]
    return float(np.mean(hits))


def joint_nlu_metrics(
    intent_logits: Any, slot_logits: Any, intent_labels: Any, slot_labels: Any, slot_names: Sequence[str]
) -> dict[str, float]:
    """``intent_accuracy``, ``slot_precision``, ``slot_recall``, ``slot_f1`` and ``exact_match`` of a
    joint model's outputs (logits or ids) against token-level labels."""
    pred_tags, gold_tags = word_level_tags(slot_logits, slot_labels, slot_names)
    slots = slot_scores(pred_tags, gold_tags)
    return {
        "intent_accuracy": intent_accuracy(intent_logits, intent_labels),
        "slot_precision": slots["precision"],
        "slot_recall": slots["recall"],
        "slot_f1": slots["f1"],
        "exact_match": sentence_exact_match(intent_logits, intent_labels, pred_tags, gold_tags),
    }


def _by_rank(arrays: Any, ranks: tuple[int, int], what: str) -> tuple[np.ndarray, np.ndarray]:
    """Pick the (sentence-level, token-level) arrays from a tuple by their number of dimensions."""
    if not isinstance(arrays, (tuple, list)):
        raise ValueError(f"expected the {what} as a tuple (intent, slots); with transformers.Trainer pass "
                         f"label_names=['intent_labels', 'slot_labels'] and a JointIntentSlotModel")
    arrays = [np.asarray(a) for a in arrays]
    found = []
    for rank in ranks:
        matches = [a for a in arrays if a.ndim == rank]
        if not matches:
            raise ValueError(f"no {rank}-d array among the {what} (shapes {[a.shape for a in arrays]})")
        found.append(matches[0])
    return found[0], found[1]


def make_joint_compute_metrics(slot_names: Sequence[str]) -> Callable[[Any], dict[str, float]]:
    """A ``compute_metrics`` for ``transformers.Trainer`` on the joint task (see :func:`joint_nlu_metrics`).

    The trainer must be given ``label_names=["intent_labels", "slot_labels"]``; its
    ``EvalPrediction`` then holds ``predictions = (intent_logits, slot_logits)`` and
    ``label_ids = (intent_labels, slot_labels)``. Arrays are told apart by rank, so extra outputs
    and either order are fine; slot logits padded with -100 across batches are harmless because
    their labels are -100 too.
    """
    names = list(slot_names)

    def compute_metrics(eval_prediction: Any) -> dict[str, float]:
        intent_logits, slot_logits = _by_rank(eval_prediction.predictions, (2, 3), "predictions")
        intent_labels, slot_labels = _by_rank(eval_prediction.label_ids, (1, 2), "label_ids")
        return joint_nlu_metrics(intent_logits, slot_logits, intent_labels, slot_labels, names)

    return compute_metrics


def classification_compute_metrics(eval_prediction: Any) -> dict[str, float]:
    """A ``compute_metrics`` for ``transformers.Trainer`` on sequence classification: ``{"accuracy": ...}``."""
    logits = eval_prediction.predictions
    if isinstance(logits, (tuple, list)):
        logits = logits[0]
    return {"accuracy": intent_accuracy(logits, eval_prediction.label_ids)}


def make_token_classification_compute_metrics(label_names: Sequence[str]) -> Callable[[Any], dict[str, float]]:
    """A ``compute_metrics`` for token classification with BIO labels: span ``precision``, ``recall``,
    ``f1`` (see :func:`slot_scores`) and word-level ``accuracy``."""
    names = list(label_names)

    def compute_metrics(eval_prediction: Any) -> dict[str, float]:
        logits = eval_prediction.predictions
        if isinstance(logits, (tuple, list)):
            logits = logits[0]
        pred_tags, gold_tags = word_level_tags(logits, eval_prediction.label_ids, names)
        hits = [p == g for ps, gs in zip(pred_tags, gold_tags) for p, g in zip(ps, gs)]
        if not hits:
            raise ValueError("no labelled words to score (all labels are -100)")
        return {**slot_scores(pred_tags, gold_tags), "accuracy": float(np.mean(hits))}

    return compute_metrics
