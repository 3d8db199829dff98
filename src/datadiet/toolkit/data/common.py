"""Helpers every reader shares: split names, the ``example_id`` column, label vocabularies.

Conventions of every reader in :mod:`datadiet.toolkit.data`:

- a reader returns one split as a :class:`datasets.Dataset` (``load_dataset_dict`` groups splits);
- the first column is ``example_id``, an ``int64`` equal to the row's position ``0..N-1`` in that
  split, which the pruning engine uses to index its per-example history;
- integer label columns are :class:`datasets.ClassLabel` features, so their names travel with the
  data (``dataset.features["label"].names``).
"""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import datasets

EXAMPLE_ID = "example_id"
"""Name of the column holding each row's position in its split (the engine's example index)."""

SPLITS = ("train", "validation", "test")
"""Canonical split names; ``"dev"`` and ``"val"`` are accepted for ``"validation"``."""

_SPLIT_ALIASES = {"train": "train", "validation": "validation", "valid": "validation", "dev": "validation",
                  "val": "validation", "eval": "validation", "test": "test"}

UNK_NAMES = ("UNK", "[UNK]", "<unk>")
"""Vocabulary entries recognised as the unknown label (case-sensitive, first match wins)."""


class UnknownLabelWarning(UserWarning):
    """Labels in the data that the label vocabulary lacks were mapped to its UNK entry."""


def canonical_split(split: str) -> str:
    """Map a split name or alias to ``"train"``, ``"validation"`` or ``"test"``.

    Raises:
        ValueError: an unknown split, listing the accepted names.
    """
    key = str(split).lower()
    if key not in _SPLIT_ALIASES:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)} (aliases: dev, val, valid, eval)")
    return _SPLIT_ALIASES[key]


def add_example_ids(dataset: datasets.Dataset) -> datasets.Dataset:
    """Return ``dataset`` with an ``example_id`` column ``0..N-1`` as its first column.

    An existing ``example_id`` column is replaced (positions change under ``select``/``filter``, so
    ids must be re-derived for the new split).
    """
    if EXAMPLE_ID in dataset.column_names:
        dataset = dataset.remove_columns(EXAMPLE_ID)
    dataset = dataset.add_column(EXAMPLE_ID, list(range(len(dataset))), feature=datasets.Value("int64"))
    order = [EXAMPLE_ID] + [c for c in dataset.column_names if c != EXAMPLE_ID]
    return dataset.select_columns(order)


def read_lines(path: Path) -> list[str]:
    """Lines of a UTF-8 text file, without line endings; a final newline adds no empty line.

    Splits on ``\\n`` only (``str.splitlines`` would also split on form feeds and Unicode line
    separators that may sit inside an utterance).
    """
    text = Path(path).read_text(encoding="utf-8")
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def read_vocabulary(path: Path) -> list[str]:
    """Label names from a one-name-per-line file (blank lines skipped), in file order.

    If the file has no UNK entry (see :data:`UNK_NAMES`), ``"UNK"`` is appended so that unseen labels
    always have an id; the id of every listed name is its line position either way.
    """
    names = [line.strip() for line in read_lines(path) if line.strip()]
    duplicates = [n for n, c in Counter(names).items() if c > 1]
    if duplicates:
        raise ValueError(f"{path} lists these labels more than once: {duplicates}; each name must appear once")
    if not any(n in UNK_NAMES for n in names):
        names.append("UNK")
    return names


def unk_id(names: Sequence[str]) -> int:
    """Index of the UNK entry in ``names`` (see :func:`read_vocabulary`)."""
    for i, name in enumerate(names):
        if name in UNK_NAMES:
            return i
    raise ValueError(f"the label vocabulary has no UNK entry (one of {UNK_NAMES}); add one to map unseen labels")


class LabelEncoder:
    """Map label names to ids with a vocabulary, sending unseen names to UNK and remembering them.

    Call :meth:`warn_unseen` once after encoding a file to emit one aggregated
    :class:`UnknownLabelWarning` (rather than one warning per example).
    """

    def __init__(self, names: Sequence[str], kind: str, vocab_file: Path | str):
        self.names = list(names)
        self.index = {n: i for i, n in enumerate(self.names)}
        self.unk = unk_id(self.names)
        self.kind = kind
        self.vocab_file = vocab_file
        self.unseen: Counter[str] = Counter()

    def encode(self, labels: Iterable[str]) -> list[int]:
        out = []
        for label in labels:
            i = self.index.get(label)
            if i is None:
                self.unseen[label] += 1
                i = self.unk
            out.append(i)
        return out

    def warn_unseen(self, source: Path | str) -> None:
        if self.unseen:
            listed = ", ".join(f"{name!r} x{count}" for name, count in sorted(self.unseen.items()))
            warnings.warn(
                f"{source}: {len(self.unseen)} {self.kind}(s) missing from {self.vocab_file} were mapped to "
                f"{self.names[self.unk]!r} (id {self.unk}): {listed}. A model trained with this vocabulary "
                f"cannot predict them, so they count as errors in evaluation.",
                UnknownLabelWarning,
                stacklevel=2,
            )
        self.unseen.clear()
