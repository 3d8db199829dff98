"""Random pruning: the baseline every score-based method must beat."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from datadiet.schedule import Schedule
from datadiet.select.random import random_subset
from datadiet.select.selection import Selection
from datadiet.select.validation import check_keep, whole_examples
from datadiet.rng import epoch_rng
from datadiet.planning import keep_for_budget
from datadiet.strategies.base import EpochContext, Strategy, check_epochs, check_time_budget, pruned_schedule


@dataclass(frozen=True)
class RandomSubset(Strategy):
    """After ``warmup_epochs`` on all data, train on a uniform random ``keep`` fraction: a fresh
    subset every ``period`` epochs (``dynamic=True``, method ``random``) or one subset drawn at the
    first pruned epoch and kept (``dynamic=False``, method ``random_static``).

    ``time_budget=b`` (a fraction of full-data training time) replaces ``keep``: the kept fraction
    whose plan costs ``b`` of full-data time (:func:`~datadiet.planning.keep_for_budget`; random
    scores nothing, so only the full-data epochs and the kept examples cost), the baseline every
    method at that budget must beat."""

    reads_scores: ClassVar[bool] = False

    keep: float = 0.5
    dynamic: bool = True
    warmup_epochs: int = 1
    period: int = 1
    anneal_epochs: int = 0
    time_budget: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "keep", check_keep(self.keep))
        if not isinstance(self.dynamic, bool):
            raise ValueError(f"dynamic must be True or False, got {self.dynamic!r}")
        check_epochs("warmup_epochs", self.warmup_epochs, 0)
        check_epochs("period", self.period, 1)
        check_epochs("anneal_epochs", self.anneal_epochs, 0)
        check_time_budget(self.time_budget)

    @property
    def method(self) -> str:  # type: ignore[override]
        return "random" if self.dynamic else "random_static"

    def plan(self, num_examples: int, num_epochs: int) -> Schedule:
        return pruned_schedule(num_epochs, self._keep(num_examples, num_epochs), self.warmup_epochs, self.period,
                               self.anneal_epochs)

    def _keep(self, num_examples: int, num_epochs: int) -> float:
        """``keep``, or the budget's: in whole examples, rounded down so the plan never exceeds it."""
        if self.time_budget is None:
            return self.keep
        keep = keep_for_budget(self.time_budget, num_epochs, self.warmup_epochs, self.anneal_epochs, 0.0)
        keep = float(whole_examples(keep, num_examples))
        if not keep:
            raise ValueError(f"a time budget of {self.time_budget:g} leaves less than one of the {num_examples} "
                             "examples to the pruned epochs after the full-data ones: raise the budget or lower "
                             "warmup_epochs / anneal_epochs")
        return keep

    def inert_settings(self) -> frozenset[str]:
        """``keep`` under a time budget, which plans the kept fraction itself."""
        return frozenset() if self.time_budget is None else frozenset({"keep"})

    def plan_reason(self, num_examples: int, num_epochs: int) -> str | None:
        if self.time_budget is None:
            return None
        return (f"time budget {self.time_budget:g}: a random {self._keep(num_examples, num_epochs):.3f} of the data "
                f"in each pruned epoch of {num_epochs}")

    def selects_at(self, epoch: int, schedule: Schedule) -> bool:
        return schedule.is_selection_epoch(epoch) if self.dynamic else epoch == self.warmup_epochs

    def select(self, ctx: EpochContext) -> Selection:
        rng = ctx.rng("random") if self.dynamic else epoch_rng(ctx.seed, 0, "random")
        return random_subset(ctx.num_examples, ctx.schedule.keep_at(ctx.epoch), rng)
