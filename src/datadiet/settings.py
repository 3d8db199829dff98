"""The run settings of a :class:`~datadiet.DataDiet` that belong to no method: epochs, seed, task,
scoring batch size, progress bars."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from datadiet.strategies.base import check_epochs


@dataclass(frozen=True)
class DietSettings:
    """Settings of one diet, validated at construction.

    Args:
        num_epochs: E; optional here (the Trainer and ``sampler()``/``setup()`` pass it).
        seed: every random choice comes from a generator seeded by ``(seed, epoch, purpose)``.
        task: the task adapter's task (default: inferred from the model).
        scoring_batch_size: batch size of forward-only scoring passes.
        progress: show a progress bar during scoring passes.
    """

    num_epochs: int | None = None
    seed: int = 0
    task: str | None = None
    scoring_batch_size: int = 256
    progress: bool = True

    def __post_init__(self) -> None:
        if self.num_epochs is not None:
            check_epochs("num_epochs", self.num_epochs, 1)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an int, got {self.seed!r}")
        if isinstance(self.scoring_batch_size, bool) or not isinstance(self.scoring_batch_size, int) \
                or self.scoring_batch_size < 1:
            raise ValueError(f"scoring_batch_size must be an int >= 1, got {self.scoring_batch_size!r}")
        if not isinstance(self.progress, bool):
            raise ValueError(f"progress must be True or False, got {self.progress!r}")

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
