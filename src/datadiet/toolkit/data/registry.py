"""Load any supported dataset by name: the built-in benchmarks, a local file or folder, or a hub dataset.

Names:

- ``snips``, ``atis``: joint intent + slot filling (:func:`~datadiet.toolkit.data.joint_nlu.read_joint_nlu`);
- ``clinc150`` (150 in-scope intents) and ``clinc150_oos`` (plus the out-of-scope class);
- ``sst2``: binary sentiment (GLUE SST-2);
- a path to a ``.csv``/``.tsv``/``.json``/``.jsonl`` file or a folder of per-split files
  (:func:`~datadiet.toolkit.data.external.load_local_files`); a folder holding ``intent_label.txt`` is
  read as joint NLU data;
- ``hf:<repo_id>``: a Hugging Face hub dataset (:func:`~datadiet.toolkit.data.external.load_hub_dataset`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import datasets

from datadiet.toolkit.data.clinc150 import read_clinc150
from datadiet.toolkit.data.common import SPLITS, canonical_split
from datadiet.toolkit.data.external import load_hub_dataset, load_local_files, split_file
from datadiet.toolkit.data.glue import SST2_LABELS, read_glue_tsv
from datadiet.toolkit.data.joint_nlu import INTENT_VOCAB, read_joint_nlu
from datadiet.toolkit.data.paths import dataset_path

HUB_PREFIX = "hf:"

_SST2_FILES = {"train": "train.tsv", "validation": "dev.tsv", "test": "test.tsv"}


def _snips(split: str, root, include_oos: bool) -> datasets.Dataset:
    return read_joint_nlu(dataset_path(root, "snips", "data", "snips"), split)


def _atis(split: str, root, include_oos: bool) -> datasets.Dataset:
    return read_joint_nlu(dataset_path(root, "atis", "data", "atis"), split)


def _clinc150(split: str, root, include_oos: bool) -> datasets.Dataset:
    return read_clinc150(dataset_path(root, "clinc150", "data", "data_full.json"), split, include_oos=include_oos)


def _sst2(split: str, root, include_oos: bool) -> datasets.Dataset:
    return read_glue_tsv(dataset_path(root, "sst2", "data", "SST-2", _SST2_FILES[canonical_split(split)]), SST2_LABELS)


# name -> (task it is for, reader(split, data_root, include_oos))
_BUILTIN: dict[str, tuple[str, Callable[[str, str | os.PathLike | None, bool], datasets.Dataset]]] = {
    "snips": ("joint_intent_slot", _snips),
    "atis": ("joint_intent_slot", _atis),
    "clinc150": ("sequence_classification", _clinc150),
    "sst2": ("sequence_classification", _sst2),
}
_ALIASES = {"clinc150_oos": ("clinc150", True), "sst-2": ("sst2", None), "clinc": ("clinc150", None)}


def available_datasets() -> list[str]:
    """Names of the built-in datasets accepted by :func:`load_dataset_by_name`."""
    return sorted([*_BUILTIN, "clinc150_oos"])


def dataset_task(name: str) -> str:
    """The task a built-in dataset is for: ``"joint_intent_slot"`` or ``"sequence_classification"``."""
    base = _ALIASES.get(name.lower(), (name.lower(), None))[0]
    if base not in _BUILTIN:
        raise ValueError(f"unknown dataset {name!r}; built-in: {', '.join(available_datasets())}")
    return _BUILTIN[base][0]


def _unknown_dataset(name: str) -> ValueError:
    return ValueError(
        f"unknown dataset {name!r}. Valid names: {', '.join(available_datasets())}; or a path to a "
        f"csv/tsv/json/jsonl file or folder (it does not exist here: {Path(name).expanduser().resolve()}), or "
        f"'{HUB_PREFIX}<repo_id>' for a Hugging Face hub dataset."
    )


def is_builtin(name: str) -> bool:
    """Whether ``name`` is a built-in dataset (or one of its aliases)."""
    return _ALIASES.get(name.lower(), (name.lower(), None))[0] in _BUILTIN


def source_task(name: str) -> str:
    """The task of any dataset :func:`load_dataset_by_name` reads, from its name alone (no data is
    read): a built-in's (:func:`dataset_task`), ``"joint_intent_slot"`` for a folder in the
    ATIS/SNIPS layout, ``"sequence_classification"`` for a local csv/tsv/json/jsonl file or folder
    and for ``hf:<repo_id>``.

    Raises:
        ValueError: an unknown name that is no existing path either, listing the valid ones.
    """
    if is_builtin(name):
        return dataset_task(name)
    if name.startswith(HUB_PREFIX):
        return "sequence_classification"
    path = Path(name).expanduser()
    if path.is_dir() and (path / INTENT_VOCAB).is_file():
        return "joint_intent_slot"
    if path.exists():
        return "sequence_classification"
    raise _unknown_dataset(name)


def reads_columns(name: str) -> bool:
    """Whether the column options (``text_column=``, ``label_column=``, ...) apply to ``name``: a
    local classification file or folder, or a hub dataset (built-ins and joint NLU folders have
    fixed columns)."""
    return not is_builtin(name) and source_task(name) == "sequence_classification"


def eval_source(name: str, eval_split: str) -> str:
    """The name that :func:`load_train_and_eval` reads ``eval_split`` from: for a local file, the
    file of that split beside it (:func:`~datadiet.toolkit.data.external.split_file`: a run never evaluates
    on its training file unless ``eval_split`` is ``"train"``); else ``name``.

    Raises:
        FileNotFoundError: a local file with no file for ``eval_split`` beside it.
    """
    path = Path(name).expanduser()
    if not name.startswith(HUB_PREFIX) and not is_builtin(name) and path.is_file():
        return str(split_file(path, eval_split))
    return name


def load_train_and_eval(
    name: str, eval_split: str = "test", data_root: str | os.PathLike | None = None, **options
) -> tuple[datasets.Dataset, datasets.Dataset]:
    """The train split and the evaluation split of one training run, by :func:`load_dataset_by_name`
    (``options`` are its keyword arguments: columns, ``label_names``, ``drop_missing_labels``, hub options).

    A local file's evaluation split is the file for it beside it (:func:`eval_source`); a hub
    dataset's is read under its canonical name (``validation``, ``test``). The evaluation split of
    a local or hub classification dataset takes the train split's label names (unless ``options``
    give ``label_names``), so a class has the same id in both.
    """
    train = load_dataset_by_name(name, "train", data_root, **options)
    split = canonical_split(eval_split)
    if reads_columns(name) and options.get("label_names") is None:
        options = {**options, "label_names": train.features["label"].names}
    evaluation = load_dataset_by_name(eval_source(name, split), split, data_root, **options)
    return train, evaluation


def load_dataset_by_name(
    name: str,
    split: str = "train",
    data_root: str | os.PathLike | None = None,
    *,
    include_oos: bool | None = None,
    text_column: str = "text",
    label_column: str = "label",
    text_pair_column: str | None = None,
    label_names: Sequence[str] | None = None,
    drop_missing_labels: bool = False,
    **hub_kwargs,
) -> datasets.Dataset:
    """Load one split of a dataset as a :class:`datasets.Dataset` with an ``example_id`` column.

    Args:
        name: a built-in name (:func:`available_datasets`), a local file or folder path, or
            ``"hf:<repo_id>"`` for a hub dataset.
        split: ``"train"``, ``"validation"`` (aliases ``"dev"``, ``"val"``) or ``"test"``.
        data_root: the folder with the built-in datasets (see :func:`~datadiet.toolkit.data.paths.resolve_data_root`).
        include_oos: CLINC150 only: add the out-of-scope class (``"clinc150_oos"`` implies it).
        text_column, label_column, text_pair_column, label_names, drop_missing_labels: local files
            and hub datasets only, see :func:`~datadiet.toolkit.data.external.to_classification` (a row with
            a null or empty label raises, naming it, unless ``drop_missing_labels=True``).
        **hub_kwargs: passed to ``datasets.load_dataset`` for ``hf:`` names (e.g. ``name="sst2"``).

    Returns:
        Joint NLU data: ``example_id, text, words, slot_tags, intent, intent_label, slot_labels``.
        Classification data: ``example_id, text, label`` (CLINC150 also ``intent``).

    Raises:
        ValueError: an unknown name (listing the valid ones) or options that do not apply to it.
        FileNotFoundError: the data root or the dataset's files are missing.

    Example:
        >>> train = load_dataset_by_name("snips", "train")            # doctest: +SKIP
        >>> train.features["intent_label"].names[:2]                  # doctest: +SKIP
        ['UNK', 'AddToPlaylist']
    """
    key = name.lower()
    if key in _ALIASES:
        key, implied_oos = _ALIASES[key]
        if implied_oos is not None:
            if include_oos is False:
                raise ValueError(f"{name!r} includes the out-of-scope class; use 'clinc150' for in-scope only")
            include_oos = implied_oos
    if key in _BUILTIN:
        if include_oos is not None and key != "clinc150":
            raise ValueError(f"include_oos applies to clinc150 only, not {name!r}")
        if hub_kwargs:
            raise ValueError(f"unexpected options for built-in dataset {name!r}: {sorted(hub_kwargs)}")
        return _BUILTIN[key][1](split, data_root, bool(include_oos))
    columns = dict(text_column=text_column, label_column=label_column, text_pair_column=text_pair_column,
                   label_names=label_names, drop_missing_labels=drop_missing_labels)
    if name.startswith(HUB_PREFIX):
        return load_hub_dataset(name[len(HUB_PREFIX):], split, **columns, **hub_kwargs)
    path = Path(name).expanduser()
    if path.exists():
        if path.is_dir() and (path / INTENT_VOCAB).is_file():
            return read_joint_nlu(path, split)
        return load_local_files(path, split, **columns)
    raise _unknown_dataset(name)


def load_dataset_dict(
    name: str, data_root: str | os.PathLike | None = None, splits: Sequence[str] = SPLITS, **kwargs
) -> datasets.DatasetDict:
    """Several splits of :func:`load_dataset_by_name` as a :class:`datasets.DatasetDict` keyed by the
    canonical split names (``train``, ``validation``, ``test``); each split has its own ``example_id`` 0..N-1."""
    return datasets.DatasetDict(
        {canonical_split(s): load_dataset_by_name(name, s, data_root, **kwargs) for s in splits}
    )
