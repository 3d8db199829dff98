"""Random pruning: the baseline every score-based method must beat."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from datadiet.schedule import Schedule
from datadiet.select.random import random_subset
from datadiet.select.selection import Selection
from datadiet.select.validation import check_keep
from datadiet.rng import epoch_rng
from datadiet.strategies.base import EpochContext, Strategy, check_epochs, pruned_schedule


@dataclass(frozen=True)
class RandomSubset(Strategy):
    """After ``warmup_epochs`` on all data, train on a uniform random ``keep`` fraction: a fresh
    subset every ``period`` epochs (``dynamic=True``, method ``random``) or one subset drawn at the
    first pruned epoch and kept (``dynamic=False``, method ``random_static``)."""

    reads_scores: ClassVar[bool] = False

    keep: float = 0.5
    dynamic: bool = True
    warmup_epochs: int = 1
    period: int = 1
    anneal_epochs: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "keep", check_keep(self.keep))
        if not isinstance(self.dynamic, bool):
            raise ValueError(f"dynamic must be True or False, got {self.dynamic!r}")
        check_epochs("warmup_epochs", self.warmup_epochs, 0)
        check_epochs("period", self.period, 1)
        check_epochs("anneal_epochs", self.anneal_epochs, 0)

    @property
    def method(self) -> str:  # type: ignore[override]
        return "random" if self.dynamic else "random_static"

    def plan(self, num_examples: int, num_epochs: int) -> Schedule:
        return pruned_schedule(num_epochs, self.keep, self.warmup_epochs, self.period, self.anneal_epochs)

    def selects_at(self, epoch: int, schedule: Schedule) -> bool:
        return schedule.is_selection_epoch(epoch) if self.dynamic else epoch == self.warmup_epochs

    def select(self, ctx: EpochContext) -> Selection:
        rng = ctx.rng("random") if self.dynamic else epoch_rng(ctx.seed, 0, "random")
        return random_subset(ctx.num_examples, self.keep, rng)
