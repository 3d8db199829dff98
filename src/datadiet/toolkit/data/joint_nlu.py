"""Joint intent detection + slot filling data in the ``seq.in`` / ``seq.out`` / ``label`` layout.

The layout of SNIPS and ATIS as preprocessed by JointBERT (Chen et al. 2019,
github.com/monologg/JointBERT)::

    <folder>/intent_label.txt     one intent name per line (includes UNK)
    <folder>/slot_label.txt       one BIO slot tag per line (includes PAD, UNK)
    <folder>/<split>/seq.in       words of one utterance per line, space-separated
    <folder>/<split>/seq.out      one BIO tag per word, aligned with seq.in
    <folder>/<split>/label        the intent of each line

Ids are line positions in the label files, so they match JointBERT's. Intents and tags that the
label files lack (ATIS dev/test have a few, e.g. the multi-intent ``atis_airfare#atis_flight``)
map to the UNK entry with an :class:`~datadiet.toolkit.data.common.UnknownLabelWarning`. Multi-intent
labels (``a#b``) are kept as single atomic intents, as JointBERT does.
"""

from __future__ import annotations

import os
from pathlib import Path

import datasets

from datadiet.toolkit.data.common import EXAMPLE_ID, LabelEncoder, canonical_split, read_lines, read_vocabulary

INTENT_VOCAB = "intent_label.txt"
SLOT_VOCAB = "slot_label.txt"
_SPLIT_DIRS = {"train": "train", "validation": "dev", "test": "test"}


def joint_nlu_features(intent_names: list[str], slot_names: list[str]) -> datasets.Features:
    """The schema of a joint NLU split (see :func:`read_joint_nlu`)."""
    return datasets.Features(
        {
            EXAMPLE_ID: datasets.Value("int64"),
            "text": datasets.Value("string"),
            "words": datasets.List(datasets.Value("string")),
            "slot_tags": datasets.List(datasets.Value("string")),
            "intent": datasets.Value("string"),
            "intent_label": datasets.ClassLabel(names=intent_names),
            "slot_labels": datasets.List(datasets.ClassLabel(names=slot_names)),
        }
    )


def read_joint_nlu(folder: str | os.PathLike, split: str = "train") -> datasets.Dataset:
    """Read one split of a dataset in the JointBERT ``seq.in`` / ``seq.out`` / ``label`` layout.

    Args:
        folder: the folder holding ``intent_label.txt``, ``slot_label.txt`` and one sub-folder per split
            (``train``, ``dev``, ``test``).
        split: ``"train"``, ``"validation"`` (alias ``"dev"``) or ``"test"``.

    Returns:
        A :class:`datasets.Dataset` with columns ``example_id`` (row position), ``text`` (the words
        joined by one space), ``words`` (list[str]), ``slot_tags`` (list[str], one per word),
        ``intent`` (str), ``intent_label`` (ClassLabel over ``intent_label.txt``) and
        ``slot_labels`` (list of ClassLabel over ``slot_label.txt``).

    Raises:
        FileNotFoundError: a label file or split file is missing.
        ValueError: the three split files have different line counts, or a ``seq.in`` line and its
            ``seq.out`` line have different numbers of tokens (the message names the file and the
            1-based line number).
    """
    folder = Path(folder)
    split_dir = folder / _SPLIT_DIRS[canonical_split(split)]
    paths = {name: split_dir / name for name in ("seq.in", "seq.out", "label")}
    for path in [folder / INTENT_VOCAB, folder / SLOT_VOCAB, *paths.values()]:
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing; a joint NLU folder needs {INTENT_VOCAB}, {SLOT_VOCAB} "
                                    f"and <split>/seq.in, seq.out, label (see datadiet.toolkit.data.joint_nlu)")
    intent_names = read_vocabulary(folder / INTENT_VOCAB)
    slot_names = read_vocabulary(folder / SLOT_VOCAB)

    lines = {name: read_lines(path) for name, path in paths.items()}
    counts = {name: len(v) for name, v in lines.items()}
    if len(set(counts.values())) > 1:
        shortest = min(counts, key=counts.get)
        raise ValueError(
            f"{split_dir}: seq.in, seq.out and label must have one line per example but have "
            f"{counts['seq.in']}, {counts['seq.out']} and {counts['label']} lines; "
            f"{paths[shortest]} ends at line {counts[shortest]}, the others go on at line {counts[shortest] + 1}"
        )

    words, tags, intents = [], [], []
    for i, (line_in, line_out, intent) in enumerate(zip(lines["seq.in"], lines["seq.out"], lines["label"])):
        w, t = line_in.split(), line_out.split()
        if len(w) != len(t):
            raise ValueError(
                f"{paths['seq.out']} line {i + 1}: {len(t)} slot tags for {len(w)} words in "
                f"{paths['seq.in']} line {i + 1}; each word needs exactly one tag"
            )
        words.append(w)
        tags.append(t)
        intents.append(intent.strip())

    intent_encoder = LabelEncoder(intent_names, "intent", folder / INTENT_VOCAB)
    slot_encoder = LabelEncoder(slot_names, "slot tag", folder / SLOT_VOCAB)
    intent_ids = intent_encoder.encode(intents)
    slot_ids = [slot_encoder.encode(t) for t in tags]
    intent_encoder.warn_unseen(paths["label"])
    slot_encoder.warn_unseen(paths["seq.out"])

    return datasets.Dataset.from_dict(
        {
            EXAMPLE_ID: list(range(len(words))),
            "text": [" ".join(w) for w in words],
            "words": words,
            "slot_tags": tags,
            "intent": intents,
            "intent_label": intent_ids,
            "slot_labels": slot_ids,
        },
        features=joint_nlu_features(intent_names, slot_names),
    )
