"""Small helpers for users' datasets: give rows their ``example_id``, check that the ids are right."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from torch.utils.data import Dataset


class _IndexedDataset(Dataset):
    """A map-style dataset whose rows (dicts) carry their position as ``example_id``."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict[str, Any]:
        row = self.dataset[i]
        if not isinstance(row, dict):
            raise TypeError(f"with_example_ids needs dict rows, got {type(row).__name__}")
        return {**row, "example_id": int(i)}


def with_example_ids(dataset):
    """The dataset with an ``example_id`` column equal to each row's position (the id the diet uses).

    A Hugging Face ``datasets.Dataset`` gets a real column (kept if already there and correct); any
    other map-style dataset of dict rows is wrapped.
    """
    try:
        import datasets

        if isinstance(dataset, datasets.Dataset):
            if "example_id" in dataset.column_names:
                check_example_ids(example_ids_of(dataset), len(dataset))
                return dataset
            return dataset.add_column("example_id", list(range(len(dataset))))
    except ImportError:  # pragma: no cover - datasets is a dependency
        pass
    return _IndexedDataset(dataset)


FIX_IDS = ('renumber the rows: `ds = ds.remove_columns("example_id"); ds = datadiet.with_example_ids(ds)` '
           "(after any shuffle/filter/select, before training)")


def check_example_ids(ids: Sequence[int] | np.ndarray, num_examples: int) -> None:
    """Check that a training set's ``example_id`` column is exactly ``0..num_examples-1`` in row order.

    The diet stores scores by id, the scoring pass reads rows by position and the sampler yields
    positions, so an id must equal its row's position. ``ds.shuffle()``, ``filter()`` or ``select()``
    on a dataset that already has ids breaks that silently; this raises instead, saying what is wrong
    (duplicates, ids out of range, or rows out of order) and how to fix it.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or len(ids) != num_examples:
        raise ValueError(f"example_id has {ids.size} values for {num_examples} rows; {FIX_IDS}")
    if num_examples == 0:
        return
    if not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"example_id must hold integers, got dtype {ids.dtype}; {FIX_IDS}")
    if np.array_equal(ids, np.arange(num_examples)):
        return
    out = (ids < 0) | (ids >= num_examples)
    if out.any():
        raise ValueError(f"{int(out.sum())} example_id values are outside 0..{num_examples - 1} (e.g. "
                         f"{ids[out][:3].tolist()} at rows {np.flatnonzero(out)[:3].tolist()}): the ids do not "
                         f"number this dataset's rows; {FIX_IDS}")
    values, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        dup = values[counts > 1]
        raise ValueError(f"{len(dup)} example_id values appear more than once (e.g. {dup[:3].tolist()}); {FIX_IDS}")
    wrong = np.flatnonzero(ids != np.arange(num_examples))
    raise ValueError(f"example_id is not the row position for {len(wrong)} of {num_examples} rows (row "
                     f"{int(wrong[0])} has id {int(ids[wrong[0]])}): the dataset was shuffled, filtered or "
                     f"selected after the ids were added; {FIX_IDS}")


def example_ids_of(dataset) -> np.ndarray | None:
    """The ``example_id`` of every row in row order (None if the rows have none), cheaply for a
    ``datasets.Dataset`` (one Arrow column, through any shuffle/select index mapping)."""
    names = getattr(dataset, "column_names", None)
    if names is not None:
        if "example_id" not in names:
            return None
        column = dataset.with_format("arrow")["example_id"] if hasattr(dataset, "with_format") else dataset["example_id"]
        return np.asarray(column.to_numpy() if hasattr(column, "to_numpy") else column)
    try:
        first = dataset[0]
    except Exception:  # noqa: BLE001 - any dataset without indexable dict rows
        return None
    if not isinstance(first, dict) or "example_id" not in first:
        return None
    return np.asarray([int(dataset[i]["example_id"]) for i in range(len(dataset))])
