"""Tokenize datasets for the three tasks, aligning word-level labels to sub-words.

Every function keeps the ``example_id`` column and drops the raw columns, so the result feeds a
collator directly. Word labels go on the first sub-word of each word; the other sub-words,
special tokens and (later) padding get ``-100``, the label every loss and score ignores
(the convention of BERT's NER fine-tuning, Devlin et al. 2019, section 5.3).
"""

from __future__ import annotations

from typing import Sequence

import datasets

from datadiet.toolkit.data.common import EXAMPLE_ID

IGNORE_INDEX = -100
DEFAULT_MAX_LENGTH = 128
"""Default truncation length in tokens; every sentence of SNIPS, ATIS, CLINC150 and SST-2 fits."""


def align_word_labels(
    word_ids: Sequence[int | None], word_labels: Sequence[int], label_all_subwords: bool = False
) -> list[int]:
    """Spread word-level labels over tokens given each token's word index (``None`` = special token).

    Example:
        >>> align_word_labels([None, 0, 1, 1, 2, None], [5, 6, 7])
        [-100, 5, 6, -100, 7, -100]
        >>> align_word_labels([None, 0, 1, 1, 2, None], [5, 6, 7], label_all_subwords=True)
        [-100, 5, 6, 6, 7, -100]
    """
    out, previous = [], None
    for word in word_ids:
        if word is None:
            out.append(IGNORE_INDEX)
        elif word != previous:
            out.append(int(word_labels[word]))
        else:
            out.append(int(word_labels[word]) if label_all_subwords else IGNORE_INDEX)
        if word is not None:
            previous = word
    return out


def _check(dataset: datasets.Dataset, columns: Sequence[str], tokenizer) -> None:
    missing = [c for c in [EXAMPLE_ID, *columns] if c not in dataset.column_names]
    if missing:
        hint = " Add ids with datadiet.toolkit.data.add_example_ids(dataset)." if EXAMPLE_ID in missing else ""
        raise ValueError(f"the dataset lacks column(s) {missing}; it has {dataset.column_names}.{hint}")
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("a fast tokenizer is needed (word_ids()); load it with datadiet.toolkit.tasks.load_tokenizer")


def _drop(dataset: datasets.Dataset) -> list[str]:
    return [c for c in dataset.column_names if c != EXAMPLE_ID]


def tokenize_sequence_classification(
    dataset: datasets.Dataset,
    tokenizer,
    *,
    text_column: str = "text",
    label_column: str = "label",
    text_pair_column: str | None = None,
    max_length: int = DEFAULT_MAX_LENGTH,
) -> datasets.Dataset:
    """Columns ``example_id``, ``input_ids``, ``attention_mask`` (, ``token_type_ids``), ``labels``.

    Unpadded: pad per batch with ``transformers.DataCollatorWithPadding`` (it keeps ``example_id``).
    """
    _check(dataset, [text_column, label_column] + ([text_pair_column] if text_pair_column else []), tokenizer)

    def encode(batch):
        pair = batch[text_pair_column] if text_pair_column else None
        enc = tokenizer(batch[text_column], pair, truncation=True, max_length=max_length)
        enc["labels"] = batch[label_column]
        return enc

    return dataset.map(encode, batched=True, remove_columns=_drop(dataset), desc="tokenize")


def tokenize_token_classification(
    dataset: datasets.Dataset,
    tokenizer,
    *,
    words_column: str = "words",
    label_column: str = "slot_labels",
    max_length: int = DEFAULT_MAX_LENGTH,
    label_all_subwords: bool = False,
    output_label_column: str = "labels",
) -> datasets.Dataset:
    """Columns ``example_id``, ``input_ids``, ``attention_mask`` (, ``token_type_ids``), ``labels`` (per token).

    ``words_column`` holds pre-split words and ``label_column`` one label id per word; see
    :func:`align_word_labels`. Words cut off by ``max_length`` lose their labels.
    """
    _check(dataset, [words_column, label_column], tokenizer)

    def encode(batch):
        enc = tokenizer(batch[words_column], is_split_into_words=True, truncation=True, max_length=max_length)
        enc[output_label_column] = [
            align_word_labels(enc.word_ids(i), labels, label_all_subwords)
            for i, labels in enumerate(batch[label_column])
        ]
        return enc

    return dataset.map(encode, batched=True, remove_columns=_drop(dataset), desc="tokenize")


def tokenize_joint_intent_slot(
    dataset: datasets.Dataset,
    tokenizer,
    *,
    words_column: str = "words",
    intent_column: str = "intent_label",
    slot_column: str = "slot_labels",
    max_length: int = DEFAULT_MAX_LENGTH,
) -> datasets.Dataset:
    """Columns ``example_id``, ``input_ids``, ``attention_mask`` (, ``token_type_ids``),
    ``intent_labels`` (int) and ``slot_labels`` (per token, ``-100`` off first sub-words).

    The input is a joint NLU split as read by :func:`datadiet.toolkit.data.read_joint_nlu`; batch the result
    with :class:`~datadiet.toolkit.tasks.collate.JointNLUCollator`.
    """
    _check(dataset, [words_column, intent_column, slot_column], tokenizer)

    def encode(batch):
        enc = tokenizer(batch[words_column], is_split_into_words=True, truncation=True, max_length=max_length)
        enc["intent_labels"] = batch[intent_column]
        enc["slot_labels"] = [align_word_labels(enc.word_ids(i), labels) for i, labels in enumerate(batch[slot_column])]
        return enc

    return dataset.map(encode, batched=True, remove_columns=_drop(dataset), desc="tokenize")
