"""No pruning: every epoch on all the data, the reference every time ratio is measured against."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from datadiet.schedule import Schedule
from datadiet.select.selection import Selection
from datadiet.strategies.base import EpochContext, Strategy


@dataclass(frozen=True)
class FullData(Strategy):
    """Train every epoch on every example; scores nothing, selects nothing."""

    method: ClassVar[str] = "full"
    reads_scores: ClassVar[bool] = False

    def plan(self, num_examples: int, num_epochs: int) -> Schedule:
        return Schedule(num_epochs, keep=1.0, warmup_epochs=0)

    def selects_at(self, epoch: int, schedule: Schedule) -> bool:
        return False

    def phase_name(self, epoch: int, schedule: Schedule) -> str:
        return "full"

    def select(self, ctx: EpochContext) -> Selection:
        """Every example (never called: full data makes no selection)."""
        return Selection.full(ctx.num_examples)
