"""Bring your own classification data: local csv / tsv / json / jsonl files or a Hugging Face hub dataset.

Whatever the source, the result has the same shape as the built-in readers: ``example_id``,
``text`` (and ``text_pair`` if asked for) and ``label`` as a :class:`datasets.ClassLabel`.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import warnings
from pathlib import Path
from typing import Sequence

import datasets

from datadiet.toolkit.data.common import EXAMPLE_ID, canonical_split

LOCAL_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl")
"""File suffixes read from disk."""

_INT = re.compile(r"[+-]?\d+")
logger = logging.getLogger("datadiet")
_SPLIT_STEMS = {"train": ("train",), "validation": ("validation", "valid", "dev", "val"), "test": ("test",)}


def read_records(path: str | os.PathLike) -> list[dict]:
    """The rows of a local file as a list of dicts, read in memory (no ``datasets`` cache on disk).

    ``.csv``: comma-separated with standard quoting; ``.tsv``: tab-separated, quotes are literal
    characters (GLUE style); both need a header line and keep every value as text (``"NA"`` stays
    ``"NA"``). ``.jsonl``: one JSON object per line; ``.json``: a list of objects.
    """
    path = Path(path)
    if path.suffix not in LOCAL_SUFFIXES:
        raise ValueError(f"{path}: unsupported suffix {path.suffix!r}; use one of {', '.join(LOCAL_SUFFIXES)}")
    if path.suffix in (".csv", ".tsv"):
        with path.open(encoding="utf-8-sig", newline="") as f:
            dialect = {"delimiter": "\t", "quoting": csv.QUOTE_NONE} if path.suffix == ".tsv" else {}
            reader = csv.DictReader(f, **dialect)
            rows = []
            for row in reader:
                if None in row or None in row.values():
                    raise ValueError(f"{path} line {reader.line_num}: {len(reader.fieldnames)} columns in the "
                                     f"header but a different number on this line")
                rows.append(row)
            return rows
    with path.open(encoding="utf-8") as f:
        if path.suffix == ".jsonl":
            rows = []
            for number, line in enumerate(f, start=1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as err:
                        raise ValueError(f"{path} line {number}: not valid JSON ({err.msg})") from None
            return rows
        rows = json.load(f)
    if not isinstance(rows, list):
        raise ValueError(f"{path}: expected a JSON list of objects; for one object per line use .jsonl")
    return rows


def _read_file(path: Path) -> datasets.Dataset:
    rows = read_records(path)
    if not rows:
        raise ValueError(f"{path} holds no rows")
    return datasets.Dataset.from_list(rows)


def find_split_file(folder: str | os.PathLike, split: str) -> Path:
    """The file for ``split`` in ``folder``: ``<stem>.<suffix>`` with a stem such as ``train``,
    ``dev``/``validation``/``val`` or ``test`` and a suffix in :data:`LOCAL_SUFFIXES`.

    Raises:
        FileNotFoundError: no such file, listing the names tried.
        ValueError: more than one candidate (e.g. ``dev.csv`` and ``dev.json``).
    """
    folder = Path(folder)
    stems = _SPLIT_STEMS[canonical_split(split)]
    found = [folder / f"{stem}{suffix}" for stem in stems for suffix in LOCAL_SUFFIXES if (folder / f"{stem}{suffix}").is_file()]
    if not found:
        tried = ", ".join(f"{s}{{{','.join(LOCAL_SUFFIXES)}}}" for s in stems)
        raise FileNotFoundError(f"{folder} has no file for split {split!r}; tried {tried}")
    if len(found) > 1:
        raise ValueError(f"{folder} has several files for split {split!r}: {[p.name for p in found]}; keep one")
    return found[0]


def split_file(path: str | os.PathLike, split: str) -> Path:
    """The file that holds ``split`` of a local dataset given as one file or a folder of per-split
    files: a folder's file for the split (:func:`find_split_file`); for a file, the file itself when
    its name says it holds ``split`` (or names no split and ``split`` is the train split), else the
    file for ``split`` beside it. Use it where the split must really be that split (a run's
    evaluation data), unlike :func:`load_local_files`, which reads a given file whatever ``split`` says.

    Raises:
        FileNotFoundError: no file for ``split``, naming the names tried and what to do.
    """
    path = Path(path)
    role = canonical_split(split)
    if path.is_dir():
        return find_split_file(path, role)
    if split_of_file(path) == role or (role == "train" and split_of_file(path) is None):
        return path
    try:
        return find_split_file(path.parent, role)
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            f"{path} holds one split, not {role!r}: {exc}. Put the {role} file beside it, or give a folder "
            f"with one file per split"
        ) from None


def to_classification(
    dataset: datasets.Dataset,
    *,
    text_column: str = "text",
    label_column: str = "label",
    text_pair_column: str | None = None,
    label_names: Sequence[str] | None = None,
    drop_missing_labels: bool = False,
    source: str = "dataset",
) -> datasets.Dataset:
    """Standardise a classification dataset to ``example_id``, ``text`` (, ``text_pair``), ``label``.

    Labels may be strings, integer ids or a ``ClassLabel``. Names come from ``label_names`` if
    given, else from the ``ClassLabel``, else the sorted distinct string labels, else
    ``"0".."max"`` for integer ids. Pass ``label_names`` (e.g. those of the train split) when
    loading splits separately so every split uses the same ids.

    A row without a label (null/None, an empty or blank string, ``-1`` in a ``ClassLabel`` column)
    is refused, naming its row numbers; ``drop_missing_labels=True`` drops such rows instead (the
    ``example_id`` column numbers the rows that remain) and logs how many.

    Raises:
        ValueError: a missing column (listing the present ones), a row without a label, or a label
            outside ``label_names``.
    """
    wanted = [text_column, label_column] + ([text_pair_column] if text_pair_column else [])
    missing = [c for c in wanted if c not in dataset.column_names]
    if missing:
        raise ValueError(f"{source}: no column(s) {missing}; columns are {dataset.column_names}. "
                         f"Pass text_column=/label_column= naming the right ones.")
    dataset = _rows_with_labels(dataset, label_column, drop_missing_labels, source)
    feature = dataset.features[label_column]
    values = dataset[label_column]
    if values and all(isinstance(v, str) and _INT.fullmatch(v.strip()) for v in values):
        values = [int(v) for v in values]  # integer ids read from a csv/tsv file
    if isinstance(feature, datasets.ClassLabel) and label_names is None:
        names, ids = list(feature.names), list(values)
    elif isinstance(feature, datasets.ClassLabel) or all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        ids = [int(v) for v in values]
        names = list(label_names) if label_names is not None else [str(i) for i in range(max(ids, default=-1) + 1)]
        bad = sorted({i for i in ids if not 0 <= i < len(names)})
        if bad:
            raise ValueError(f"{source}: label ids {bad[:10]} outside 0..{len(names) - 1} (label_names has {len(names)})")
    else:
        strings = [str(v) for v in values]
        names = list(label_names) if label_names is not None else sorted(set(strings))
        index = {n: i for i, n in enumerate(names)}
        unknown = sorted(set(strings) - set(index))
        if unknown:
            raise ValueError(f"{source}: labels {unknown[:10]} are not in label_names {names[:10]}...; "
                             f"pass label_names= listing every class")
        ids = [index[s] for s in strings]

    columns = {"text": [str(t) for t in dataset[text_column]]}
    features = {EXAMPLE_ID: datasets.Value("int64"), "text": datasets.Value("string")}
    if text_pair_column:
        columns["text_pair"] = [str(t) for t in dataset[text_pair_column]]
        features["text_pair"] = datasets.Value("string")
    columns["label"] = ids
    features["label"] = datasets.ClassLabel(names=names)
    columns = {EXAMPLE_ID: list(range(len(ids))), **columns}
    return datasets.Dataset.from_dict(columns, features=datasets.Features(features))


def missing_label_rows(dataset: datasets.Dataset, label_column: str) -> list[int]:
    """Positions (0-based) of the rows whose label is missing: None, an empty or blank string, or
    ``-1`` in a ``ClassLabel`` column (the ``datasets`` convention for "no label")."""
    no_label = -1 if isinstance(dataset.features[label_column], datasets.ClassLabel) else None
    return [i for i, v in enumerate(dataset[label_column])
            if v is None or (isinstance(v, str) and not v.strip()) or (no_label is not None and v == no_label)]


def _rows_with_labels(dataset: datasets.Dataset, label_column: str, drop: bool, source: str) -> datasets.Dataset:
    """``dataset`` without its unlabelled rows when ``drop``; else raise naming them."""
    rows = missing_label_rows(dataset, label_column)
    if not rows:
        return dataset
    numbers = ", ".join(str(i + 1) for i in rows[:10]) + (f" ... ({len(rows)} in all)" if len(rows) > 10 else "")
    if not drop:
        raise ValueError(f"{source}: no label in column {label_column!r} (null or empty) at row {numbers} "
                         f"(rows counted from 1, the header not counted); fill them in, or pass "
                         f"drop_missing_labels=True to leave those rows out")
    logger.warning("%s: left out %d row(s) with no label in column %r (row %s)", source, len(rows), label_column,
                   numbers)
    keep = sorted(set(range(len(dataset))) - set(rows))
    return dataset.select(keep)


def load_local_files(
    path: str | os.PathLike,
    split: str = "train",
    *,
    text_column: str = "text",
    label_column: str = "label",
    text_pair_column: str | None = None,
    label_names: Sequence[str] | None = None,
    drop_missing_labels: bool = False,
) -> datasets.Dataset:
    """Read a classification split from a local file or a folder of per-split files.

    Args:
        path: a ``.csv`` / ``.tsv`` / ``.json`` / ``.jsonl`` file, or a folder holding
            ``train.<suffix>``, ``dev.<suffix>`` (or ``validation``/``val``), ``test.<suffix>``
            (see :func:`find_split_file`).
        split: which split to read from a folder. For a file, the split it holds when its name
            does not say (``test.csv`` is the test split whatever ``split`` says).
        text_column, label_column, text_pair_column, label_names, drop_missing_labels: see
            :func:`to_classification` (a row with a null or empty label is refused, naming its row,
            unless ``drop_missing_labels=True``).

    Label ids are shared across splits: without ``label_names``, a validation or test split takes
    the label names of the train file beside it (``train.<suffix>`` in the same folder), so the
    same class has the same id in every split. A label of that split missing from the train file
    raises, naming it; pass ``label_names`` listing every class then. With no train file beside
    it, the split's own sorted labels are used and a :class:`SplitLabelsWarning` says so.

    Files are read in memory by :func:`read_records` (no ``datasets`` cache is written).
    JSON files hold one record per line (``.jsonl``) or a list of records.
    """
    path = Path(path)
    if path.is_dir():
        file, role = find_split_file(path, split), canonical_split(split)
    elif path.is_file():
        file, role = path, split_of_file(path) or canonical_split(split)
    else:
        raise FileNotFoundError(f"{path} does not exist")
    if label_names is None and role != "train":
        label_names = _train_label_names(file, text_column=text_column, label_column=label_column,
                                         drop_missing_labels=drop_missing_labels)
    return to_classification(
        _read_file(file), text_column=text_column, label_column=label_column,
        text_pair_column=text_pair_column, label_names=label_names, drop_missing_labels=drop_missing_labels,
        source=str(file),
    )


class SplitLabelsWarning(UserWarning):
    """A validation or test split got label ids from its own labels, not from a train split."""


def split_of_file(path: str | os.PathLike) -> str | None:
    """The split a file's name says it holds (``dev.csv`` -> ``"validation"``), or None."""
    stem = Path(path).stem.lower()
    for split, stems in _SPLIT_STEMS.items():
        if stem in stems:
            return split
    return None


def _train_label_names(file: Path, *, text_column: str, label_column: str,
                       drop_missing_labels: bool = False) -> list[str] | None:
    """Label names of the train file beside ``file``; None (with a warning) when there is none."""
    try:
        train = find_split_file(file.parent, "train")
    except FileNotFoundError:
        warnings.warn(
            f"{file}: no train file beside it, so its label ids come from its own labels in sorted order and "
            f"may differ from the train split's; pass label_names=train.features['label'].names",
            SplitLabelsWarning, stacklevel=3,
        )
        return None
    return to_classification(_read_file(train), text_column=text_column, label_column=label_column,
                             drop_missing_labels=drop_missing_labels, source=str(train)).features["label"].names


def load_hub_dataset(
    repo_id: str,
    split: str = "train",
    *,
    text_column: str = "text",
    label_column: str = "label",
    text_pair_column: str | None = None,
    label_names: Sequence[str] | None = None,
    drop_missing_labels: bool = False,
    **load_kwargs,
) -> datasets.Dataset:
    """Load a classification split from the Hugging Face hub with :func:`datasets.load_dataset`.

    ``split`` is passed as given (hub datasets usually call it ``"validation"``); ``load_kwargs``
    go to ``datasets.load_dataset`` (e.g. ``name="sst2"`` for ``nyu-mll/glue``). Needs network
    access or a populated ``datasets`` cache. A ``ClassLabel`` column keeps its names; plain string
    or integer labels of a split other than ``"train"`` take the train split's label names
    (it is loaded too), so ids agree across splits, unless ``label_names`` is given.
    """
    dataset = datasets.load_dataset(repo_id, split=split, **load_kwargs)
    if not isinstance(dataset, datasets.Dataset):
        raise ValueError(f"{repo_id}: expected one split, got {type(dataset).__name__}; pass split=")
    if (label_names is None and split != "train" and label_column in dataset.column_names
            and not isinstance(dataset.features[label_column], datasets.ClassLabel)):
        # plain string / integer labels: take the names of the train split so that ids agree
        train = datasets.load_dataset(repo_id, split="train", **load_kwargs)
        label_names = to_classification(train, text_column=text_column, label_column=label_column,
                                        drop_missing_labels=drop_missing_labels,
                                        source=f"{repo_id}[train]").features["label"].names
    return to_classification(
        dataset, text_column=text_column, label_column=label_column, text_pair_column=text_pair_column,
        label_names=label_names, drop_missing_labels=drop_missing_labels, source=f"{repo_id}[{split}]",
    )


__all__ = ["LOCAL_SUFFIXES", "SplitLabelsWarning", "find_split_file", "load_hub_dataset", "load_local_files",
           "missing_label_rows", "read_records", "split_file", "split_of_file", "to_classification"]
