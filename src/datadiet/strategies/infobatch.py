"""InfoBatch (Qin et al., ICLR 2024): soft pruning of well-learned examples with loss rescaling."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from datadiet.history import ScoreHistory
from datadiet.schedule import Schedule
from datadiet.select.infobatch import infobatch_prune
from datadiet.select.selection import Selection
from datadiet.strategies.base import EpochContext, Strategy, check_fraction


def infobatch_anneal_epochs(num_epochs: int, anneal_fraction: float) -> int:
    """Epochs of full-data annealing at the end: the last ``E - ceil((1 - anneal_fraction) E)``
    (InfoBatch prunes ``floor(delta E)`` epochs, ``delta = 1 - anneal_fraction``), at least one
    whenever there are two epochs or more, and never all of them."""
    anneal = num_epochs - math.ceil((1.0 - anneal_fraction) * num_epochs)
    return min(max(anneal, 1), num_epochs - 1) if num_epochs >= 2 else 0


@dataclass(frozen=True)
class InfoBatch(Strategy):
    """Each epoch, drop a random ``prune_ratio`` of the examples whose latest training loss is below
    the mean, weight the kept ones of that set so the expected gradient is unchanged, and train on
    everything in the last ``anneal_fraction`` of the epochs (at least one).

    Scores are the training losses, recorded free from the forward pass; dropped examples keep
    stale losses and unseen ones count as high (never pruned in the first epoch). The number kept
    depends on the losses, so :meth:`plan` gives an upper bound (every example).
    """

    method: ClassVar[str] = "infobatch"

    prune_ratio: float = 0.5
    anneal_fraction: float = 0.125

    def __post_init__(self) -> None:
        check_fraction("prune_ratio", self.prune_ratio, 0.0, 1.0, high_open=True)
        check_fraction("anneal_fraction", self.anneal_fraction, 0.0, 1.0, high_open=True)

    @property
    def score_name(self) -> str:
        return "loss"

    @property
    def exact_plan(self) -> bool:
        return False

    def plan(self, num_examples: int, num_epochs: int) -> Schedule:
        return Schedule(num_epochs, keep=1.0, warmup_epochs=0,
                        anneal_epochs=infobatch_anneal_epochs(num_epochs, self.anneal_fraction))

    def ids_to_rescore(self, epoch: int, history: ScoreHistory, seed: int) -> np.ndarray:
        return np.zeros(0, dtype=np.int64)  # losses come from training only; unseen = high

    def select(self, ctx: EpochContext) -> Selection:
        losses = np.nan_to_num(ctx.history.latest, nan=np.inf)
        return infobatch_prune(losses, self.prune_ratio, ctx.rng("select"))
