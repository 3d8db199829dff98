"""No pruning: every epoch on all the data, the reference every time ratio is measured against;
at a time budget, full data for fewer epochs, what a user with a budget tries first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from datadiet.planning import full_data_epochs
from datadiet.schedule import Schedule
from datadiet.select.random import random_subset
from datadiet.select.selection import Selection
from datadiet.select.validation import whole_examples
from datadiet.strategies.base import EpochContext, Strategy, check_time_budget


@dataclass(frozen=True)
class FullData(Strategy):
    """Train every epoch on every example; scores nothing.

    With ``time_budget=b`` (a fraction of full-data training time) it is the "train fewer epochs"
    baseline at that budget: all the data for ``b x E`` epochs of steps, as ``max_steps`` gives, with
    the LR schedule over those steps: the whole epochs on every example, then one epoch on a fresh
    random fraction of them (the first steps of a reshuffled epoch), the remaining epochs not
    trained (:func:`~datadiet.planning.full_data_epochs`). Every pruning method at the same budget
    has to beat it."""

    method: ClassVar[str] = "full"
    reads_scores: ClassVar[bool] = False

    time_budget: float | None = None

    def __post_init__(self) -> None:
        check_time_budget(self.time_budget)

    def plan(self, num_examples: int, num_epochs: int) -> Schedule:
        if self.time_budget is None:
            return Schedule(num_epochs, keep=1.0, warmup_epochs=0)
        whole, last = self._epochs(num_examples, num_epochs)
        if not last:
            if not whole:
                raise ValueError(f"a time budget of {self.time_budget:g} of {num_epochs} epochs buys less than one "
                                 f"of the {num_examples} examples: raise the budget")
            return Schedule(whole, keep=1.0, warmup_epochs=whole)
        return Schedule(whole + 1, keep=last, warmup_epochs=whole)

    def _epochs(self, num_examples: int, num_epochs: int) -> tuple[int, float]:
        """``(whole, last)`` of the budget, ``last`` in whole examples (never over the budget)."""
        whole, last = full_data_epochs(self.time_budget, num_epochs)
        return whole, float(whole_examples(last, num_examples))

    def selects_at(self, epoch: int, schedule: Schedule) -> bool:
        # only a budget's partial last epoch is drawn; without a budget no epoch selects
        return self.time_budget is not None and schedule.is_selection_epoch(epoch)

    def phase_name(self, epoch: int, schedule: Schedule) -> str:
        return "partial" if self.selects_at(epoch, schedule) else "full"

    def plan_reason(self, num_examples: int, num_epochs: int) -> str | None:
        if self.time_budget is None:
            return None
        whole, last = self._epochs(num_examples, num_epochs)
        parts = [f"{whole} whole epoch{'' if whole == 1 else 's'}"] if whole else []
        if last:
            parts.append(f"{'then ' if whole else ''}a random {last:.3f} of the data in one {'more' if whole else 'epoch'}")
        return (f"time budget {self.time_budget:g}: full data for {whole + last:.3g} of the {num_epochs} epochs "
                f"({', '.join(parts)}; the LR schedule over these steps)")

    def select(self, ctx: EpochContext) -> Selection:
        """The partial last epoch's uniform random subset (the other epochs make no selection)."""
        return random_subset(ctx.num_examples, ctx.schedule.keep_at(ctx.epoch), ctx.rng("random"))
