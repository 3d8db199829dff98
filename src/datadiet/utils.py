"""Small helpers for users' datasets."""

from __future__ import annotations

from typing import Any

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
                if dataset["example_id"] != list(range(len(dataset))):
                    raise ValueError("the dataset's example_id column is not 0..N-1 in order: drop it and call again")
                return dataset
            return dataset.add_column("example_id", list(range(len(dataset))))
    except ImportError:  # pragma: no cover - datasets is a dependency
        pass
    return _IndexedDataset(dataset)
