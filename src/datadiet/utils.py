"""Small helpers for users' datasets: give rows their ``example_id``, check that the ids are right.

The id column is ``example_id`` unless the diet's ``example_id_column`` setting names another
(:data:`EXAMPLE_ID_COLUMN`, :func:`check_id_column`); every helper takes that name as ``column``."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from torch.utils.data import Dataset

EXAMPLE_ID_COLUMN = "example_id"
"""The column holding each row's id (its position in the train set) by default."""

MODEL_COLUMNS = ("input_ids", "attention_mask", "token_type_ids", "labels", "action_ids")
"""Columns the model or the diet reads as something else, so none of them can hold the ids."""


def check_id_column(column: str) -> str:
    """``column`` if it can name the example-id column, else a ``ValueError`` saying why."""
    if not isinstance(column, str) or not column:
        raise ValueError(f"example_id_column must be a non-empty column name, got {column!r}")
    if column in MODEL_COLUMNS:
        raise ValueError(f"example_id_column={column!r} is a column the model or the diet reads as something else: "
                         "name the column that holds each row's position (e.g. 'idx')")
    return column


class _IndexedDataset(Dataset):
    """A map-style dataset whose rows (dicts) carry their position as ``example_id``."""

    def __init__(self, dataset, column: str = EXAMPLE_ID_COLUMN) -> None:
        self.dataset = dataset
        self.column = column

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict[str, Any]:
        row = self.dataset[i]
        if not isinstance(row, dict):
            raise TypeError(f"with_example_ids needs dict rows, got {type(row).__name__}")
        return {**row, self.column: int(i)}


def with_example_ids(dataset, column: str = EXAMPLE_ID_COLUMN):
    """The dataset with an ``example_id`` column (or ``column``) equal to each row's position (the id
    the diet uses).

    A Hugging Face ``datasets.Dataset`` gets a real column (kept if already there and correct); any
    other map-style dataset of dict rows is wrapped.
    """
    try:
        import datasets

        if isinstance(dataset, datasets.Dataset):
            if column in dataset.column_names:
                check_example_ids(example_ids_of(dataset, column), len(dataset), column)
                return dataset
            return dataset.add_column(column, list(range(len(dataset))))
    except ImportError:  # pragma: no cover - datasets is a dependency
        pass
    return _IndexedDataset(dataset, column)


def fix_ids(column: str = EXAMPLE_ID_COLUMN) -> str:
    """How to renumber a dataset's id ``column``, for messages."""
    name = "" if column == EXAMPLE_ID_COLUMN else f", column={column!r}"
    return (f'renumber the rows: `ds = ds.remove_columns("{column}"); ds = datadiet.with_example_ids(ds{name})` '
            "(after any shuffle/filter/select, before training)")



def check_example_ids(ids: Sequence[int] | np.ndarray, num_examples: int, column: str = EXAMPLE_ID_COLUMN) -> None:
    """Check that a training set's ``example_id`` column is exactly ``0..num_examples-1`` in row order.

    The diet stores scores by id, the scoring pass reads rows by position and the sampler yields
    positions, so an id must equal its row's position. ``ds.shuffle()``, ``filter()`` or ``select()``
    on a dataset that already has ids breaks that silently; this raises instead, saying what is wrong
    (duplicates, ids out of range, or rows out of order) and how to fix it.
    """
    ids = np.asarray(ids)
    fix = fix_ids(column)
    if ids.ndim != 1 or len(ids) != num_examples:
        raise ValueError(f"{column} has {ids.size} values for {num_examples} rows; {fix}")
    if num_examples == 0:
        return
    if not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"{column} must hold integers, got dtype {ids.dtype}; {fix}")
    if np.array_equal(ids, np.arange(num_examples)):
        return
    out = (ids < 0) | (ids >= num_examples)
    if out.any():
        raise ValueError(f"{int(out.sum())} {column} values are outside 0..{num_examples - 1} (e.g. "
                         f"{ids[out][:3].tolist()} at rows {np.flatnonzero(out)[:3].tolist()}): the ids do not "
                         f"number this dataset's rows; {fix}")
    values, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        dup = values[counts > 1]
        raise ValueError(f"{len(dup)} {column} values appear more than once (e.g. {dup[:3].tolist()}); {fix}")
    wrong = np.flatnonzero(ids != np.arange(num_examples))
    raise ValueError(f"{column} is not the row position for {len(wrong)} of {num_examples} rows (row "
                     f"{int(wrong[0])} has id {int(ids[wrong[0]])}): the dataset was shuffled, filtered or "
                     f"selected after the ids were added; {fix}")


def example_ids_of(dataset, column: str = EXAMPLE_ID_COLUMN) -> np.ndarray | None:
    """The ``example_id`` (or ``column``) of every row in row order (None if the rows have none),
    cheaply for a ``datasets.Dataset`` (one Arrow column, through any shuffle/select index mapping)."""
    names = getattr(dataset, "column_names", None)
    if names is not None:
        if column not in names:
            return None
        values = dataset.with_format("arrow")[column] if hasattr(dataset, "with_format") else dataset[column]
        return np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values)
    try:
        first = dataset[0]
    except Exception:  # noqa: BLE001 - any dataset without indexable dict rows
        return None
    if not isinstance(first, dict) or column not in first:
        return None
    return np.asarray([int(dataset[i][column]) for i in range(len(dataset))])
