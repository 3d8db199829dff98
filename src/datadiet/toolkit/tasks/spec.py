"""One call from a task name and datasets to everything a Trainer needs: model, tokenized data,
collator, metrics and label names."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import datasets
import torch

from datadiet.toolkit import metrics
from datadiet.toolkit.tasks.collate import JointNLUCollator
from datadiet.toolkit.tasks.joint import JointIntentSlotModel
from datadiet.toolkit.tasks.models import MINILM, load_pretrained, load_tokenizer
from datadiet.toolkit.tasks.preprocess import (
    DEFAULT_MAX_LENGTH,
    tokenize_joint_intent_slot,
    tokenize_sequence_classification,
    tokenize_token_classification,
)

TASKS = ("sequence_classification", "token_classification", "joint_intent_slot")
"""Task names accepted by :func:`build_task`."""


@dataclass
class TaskSpec:
    """What :func:`build_task` returns; the fields map onto ``transformers.Trainer`` arguments.

    Attributes:
        task: one of :data:`TASKS`.
        model, tokenizer: the model to fine-tune and its tokenizer.
        train_dataset, eval_dataset: tokenized, unpadded, each with its ``example_id`` column.
        data_collator: pads a batch to its longest sequence and passes ``example_id`` through.
        compute_metrics: for ``Trainer(compute_metrics=...)``.
        label_names: the batch keys holding labels, for ``TrainingArguments(label_names=...)``.
        class_names: label names per label kind (``{"label": [...]}`` or ``{"intent": [...], "slot": [...]}``).
    """

    task: str
    model: Any
    tokenizer: Any
    train_dataset: datasets.Dataset
    eval_dataset: datasets.Dataset | None
    data_collator: Callable
    compute_metrics: Callable
    label_names: list[str]
    class_names: dict[str, list[str]] = field(default_factory=dict)


def class_names(dataset: datasets.Dataset, column: str) -> list[str]:
    """Names of a ``ClassLabel`` column or a list-of-``ClassLabel`` column.

    Raises:
        ValueError: the column is absent or not a ``ClassLabel`` (the datadiet readers always make one).
    """
    if column not in dataset.column_names:
        raise ValueError(f"no column {column!r}; columns are {dataset.column_names}")
    feature = dataset.features[column]
    feature = getattr(feature, "feature", feature)
    if not isinstance(feature, datasets.ClassLabel):
        raise ValueError(f"column {column!r} is {feature!r}, not a ClassLabel; cast it with "
                         f"dataset.cast_column({column!r}, datasets.ClassLabel(names=[...])) so label names are known")
    return list(feature.names)


@contextlib.contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    """Draw from a torch RNG seeded with ``seed`` inside, leaving the global one as it was; no-op for None."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def build_task(
    task: str,
    train_dataset: datasets.Dataset,
    eval_dataset: datasets.Dataset | None = None,
    *,
    encoder: str | os.PathLike = MINILM,
    model: Any = None,
    tokenizer: Any = None,
    num_hidden_layers: int | None = None,
    max_length: int = DEFAULT_MAX_LENGTH,
    text_column: str = "text",
    label_column: str | None = None,
    words_column: str = "words",
    intent_column: str = "intent_label",
    slot_column: str = "slot_labels",
    seed: int | None = None,
) -> TaskSpec:
    """Build the model, tokenized datasets, collator and metrics for a task.

    Args:
        task: ``"sequence_classification"`` (columns ``text``, ``label``), ``"token_classification"``
            (``words`` and per-word ``label_column``, default ``slot_labels``) or
            ``"joint_intent_slot"`` (``words``, ``intent_label``, ``slot_labels``), as the readers
            in :mod:`datadiet.toolkit.data` produce them.
        train_dataset, eval_dataset: raw splits with an ``example_id`` column and ClassLabel labels.
        encoder: the pretrained encoder (default the packaged MiniLM), used when ``model`` is None.
        model, tokenizer: use these instead of loading them (e.g. a small random model in tests).
        num_hidden_layers: keep only the first n encoder layers.
        max_length: truncation length in tokens.
        seed: seed of the new task heads' random initialisation, so a run is reproducible from its
            config (``TrainingArguments(seed=...)`` seeds the Trainer, but only after the model
            exists). The heads are drawn under :func:`torch.random.fork_rng`, so the caller's
            global RNG is left as it was. None: the heads draw from the global torch RNG, as a
            plain ``from_pretrained`` does. Ignored when ``model`` is given.

    Raises:
        ValueError: an unknown task (listing the valid ones) or missing columns.

    Example:
        >>> from datadiet.toolkit.data import load_dataset_by_name
        >>> spec = build_task("joint_intent_slot", load_dataset_by_name("snips", "train"),
        ...                   load_dataset_by_name("snips", "validation"), num_hidden_layers=2, seed=0)  # doctest: +SKIP
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; valid: {', '.join(TASKS)}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
    if tokenizer is None:
        tokenizer = load_tokenizer(encoder)
    from transformers import (
        AutoModelForSequenceClassification,
        AutoModelForTokenClassification,
        DataCollatorForTokenClassification,
        DataCollatorWithPadding,
    )

    def tokenized(tokenize, **kwargs):
        return [None if d is None else tokenize(d, tokenizer, max_length=max_length, **kwargs)
                for d in (train_dataset, eval_dataset)]

    def auto_model(model_class, names):
        with _seeded(seed):
            return load_pretrained(
                encoder, model_class, num_hidden_layers=num_hidden_layers, with_tokenizer=False, num_labels=len(names),
                id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)},
            )

    if task == "sequence_classification":
        column = label_column or "label"
        names = class_names(train_dataset, column)
        train, evaluation = tokenized(tokenize_sequence_classification, text_column=text_column, label_column=column)
        return TaskSpec(
            task, model if model is not None else auto_model(AutoModelForSequenceClassification, names), tokenizer,
            train, evaluation, DataCollatorWithPadding(tokenizer), metrics.classification_compute_metrics,
            ["labels"], {"label": names},
        )
    if task == "token_classification":
        column = label_column or slot_column
        names = class_names(train_dataset, column)
        train, evaluation = tokenized(tokenize_token_classification, words_column=words_column, label_column=column)
        return TaskSpec(
            task, model if model is not None else auto_model(AutoModelForTokenClassification, names), tokenizer,
            train, evaluation, DataCollatorForTokenClassification(tokenizer),
            metrics.make_token_classification_compute_metrics(names), ["labels"], {"label": names},
        )
    intents, slots = class_names(train_dataset, intent_column), class_names(train_dataset, slot_column)
    train, evaluation = tokenized(tokenize_joint_intent_slot, words_column=words_column,
                                  intent_column=intent_column, slot_column=slot_column)
    if model is None:
        with _seeded(seed):
            model = JointIntentSlotModel.from_encoder(encoder, intent_names=intents, slot_names=slots,
                                                      num_hidden_layers=num_hidden_layers)
    return TaskSpec(
        task, model, tokenizer, train, evaluation, JointNLUCollator(tokenizer),
        metrics.make_joint_compute_metrics(slots), ["intent_labels", "slot_labels"], {"intent": intents, "slot": slots},
    )
