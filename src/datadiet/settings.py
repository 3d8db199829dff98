"""The run settings of a :class:`~datadiet.DataDiet` that belong to no method: epochs, seed, task,
the scoring passes' batches, progress bars, the name of the example-id column."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from datadiet.strategies.base import check_epochs
from datadiet.utils import EXAMPLE_ID_COLUMN, check_id_column
from datadiet.validation import check_whole

DEFAULT_SCORING_TOKENS = 16384
"""Padded tokens per scoring batch by default: 256 rows of up to 64 tokens, 32 of 512, 4 of 4096."""


@dataclass(frozen=True)
class DietSettings:
    """Settings of one diet, validated at construction.

    Args:
        num_epochs: E; optional here (the Trainer and ``sampler()``/``setup()`` pass it).
        seed: every random choice comes from a generator seeded by ``(seed, epoch, purpose)``.
        task: the task adapter's task (default: inferred from the model).
        scoring_batch_size: the most rows of a forward-only scoring pass's batch.
        scoring_tokens_per_batch: the most padded tokens (rows x the batch's longest row) of a scoring
            pass's batch, when the dataset has ``input_ids``: batches are built longest first, so a few
            long rows get small batches and short rows up to ``scoring_batch_size``. The default,
            16384, is 256 rows of 64 tokens (the NLU benchmarks' batches stay whole) or 32 rows of
            512. None: rows only. A batch that runs out of memory anyway is retried in halves
            (not under ZeRO-3 / FSDP, where it asks for a smaller value: see :mod:`datadiet.halving`).
        progress: show a progress bar during scoring passes.
        example_id_column: the dataset column (and batch key) holding each row's id, its position
            in the train set; ``"example_id"`` unless your data uses that name for something else.
    """

    num_epochs: int | None = None
    seed: int = 0
    task: str | None = None
    scoring_batch_size: int = 256
    scoring_tokens_per_batch: int | None = DEFAULT_SCORING_TOKENS
    progress: bool = True
    example_id_column: str = EXAMPLE_ID_COLUMN

    def __post_init__(self) -> None:
        if self.num_epochs is not None:
            check_epochs("num_epochs", self.num_epochs, 1)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an int, got {self.seed!r}")
        check_whole("scoring_batch_size", self.scoring_batch_size, 1)
        if self.scoring_tokens_per_batch is not None:
            check_whole("scoring_tokens_per_batch (padded tokens per scoring batch, or None: rows only)",
                        self.scoring_tokens_per_batch, 1)
        if not isinstance(self.progress, bool):
            raise ValueError(f"progress must be True or False, got {self.progress!r}")
        check_id_column(self.example_id_column)

    def epochs_for(self, num_epochs: int | None) -> int:
        """The run's number of epochs: ``num_epochs`` if given (it must agree with the setting)."""
        if num_epochs is None:
            if self.num_epochs is None:
                raise ValueError("the diet needs the number of epochs: DataDiet(..., num_epochs=E) or setup(n, num_epochs=E)")
            return self.num_epochs
        num_epochs = check_epochs("num_epochs", num_epochs, 1)
        if self.num_epochs is not None and num_epochs != self.num_epochs:
            raise ValueError(f"the diet was configured for {self.num_epochs} epochs but training runs {num_epochs}")
        return num_epochs


SETTING_NAMES = tuple(f.name for f in fields(DietSettings))


def split_settings(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(run settings, method settings)`` of a flat keyword dict."""
    settings = {k: v for k, v in kwargs.items() if k in SETTING_NAMES}
    return settings, {k: v for k, v in kwargs.items() if k not in SETTING_NAMES}
