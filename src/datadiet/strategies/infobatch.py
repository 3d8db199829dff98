"""InfoBatch (Qin et al., ICLR 2024): soft pruning of well-learned examples with loss rescaling."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from datadiet.history import ScoreHistory
from datadiet.schedule import Schedule
from datadiet.select.infobatch import infobatch_prune, well_learned
from datadiet.select.selection import Selection
from datadiet.strategies.base import EpochContext, Strategy, check_fraction, check_time_budget, pruned_schedule

logger = logging.getLogger("datadiet")


def infobatch_anneal_epochs(num_epochs: int, anneal_fraction: float) -> int:
    """Epochs of full-data annealing at the end: the last ``E - ceil((1 - anneal_fraction) E)``
    (InfoBatch prunes ``floor(delta E)`` epochs, ``delta = 1 - anneal_fraction``), at least one
    whenever there are two epochs or more, and never all of them."""
    anneal = num_epochs - math.ceil((1.0 - anneal_fraction) * num_epochs)
    return min(max(anneal, 1), num_epochs - 1) if num_epochs >= 2 else 0


def infobatch_budget_keep(time_budget: float, num_epochs: int, anneal_epochs: int) -> float:
    """The kept fraction the pruned epochs of a time-budgeted InfoBatch aim at: the run trains
    ``time_budget x E x N`` examples, of which the first epoch (no losses yet: nothing can be
    pruned) and the ``A`` annealing epochs take all N, so ``(b E - 1 - A) / (E - 1 - A)``.
    Raises when the budget cannot pay for those full epochs."""
    pruned = num_epochs - 1 - anneal_epochs
    keep = (time_budget * num_epochs - 1 - anneal_epochs) / pruned if pruned > 0 else 0.0
    if keep <= 0:
        raise ValueError(f"a time budget of {time_budget:g} cannot pay for InfoBatch's first epoch and its "
                         f"{anneal_epochs} annealing epochs of {num_epochs} (they alone cost "
                         f"{(1 + anneal_epochs) / num_epochs:.2f}): raise the budget, lower anneal_fraction, or train "
                         "for more epochs")
    return min(keep, 1.0)


def ratio_for_target(num_examples: int, num_well_learned: int, target_kept: float, max_ratio: float) -> float:
    """The prune ratio that leaves about ``target_kept`` of ``num_examples`` when it drops that share of
    the ``num_well_learned``: ``(N - target) / W``, within ``[0, max_ratio]`` (0 when none is well-learned)."""
    if num_well_learned <= 0:
        return 0.0
    return float(min(max((num_examples - target_kept) / num_well_learned, 0.0), max_ratio))


@dataclass(frozen=True)
class InfoBatch(Strategy):
    """Each epoch, drop a random ``prune_ratio`` of the examples whose latest training loss is below
    the mean, weight the kept ones of that set so the expected gradient is unchanged, and train on
    everything in the last ``anneal_fraction`` of the epochs (at least one).

    Scores are the training losses, recorded free from the forward pass; dropped examples keep
    stale losses and unseen ones count as high (never pruned in the first epoch). The number kept
    depends on the losses, so :meth:`plan` gives an upper bound (every example).

    ``time_budget`` (a fraction of full-data training time) replaces the fixed ``prune_ratio``: each
    pruned epoch aims at the examples the budget has left per remaining pruned epoch (after the
    first epoch and the annealing, which train on everything), and drops the share of its
    well-learned examples ``W`` that gets there, ``r = (N - target) / W``, at most
    ``max_prune_ratio``. An epoch that cannot reach its target (too few well-learned examples)
    overspends and the later ones aim lower; the plan shows the targets.
    """

    method: ClassVar[str] = "infobatch"

    prune_ratio: float = 0.5
    anneal_fraction: float = 0.125
    time_budget: float | None = None
    max_prune_ratio: float = 0.9
    _spent: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_fraction("prune_ratio", self.prune_ratio, 0.0, 1.0, high_open=True)
        check_fraction("anneal_fraction", self.anneal_fraction, 0.0, 1.0, high_open=True)
        check_fraction("max_prune_ratio", self.max_prune_ratio, 0.0, 1.0, high_open=True)
        check_time_budget(self.time_budget)

    @property
    def score_name(self) -> str:
        return "loss"

    def inert_settings(self) -> frozenset[str]:
        """``prune_ratio`` under a time budget (each epoch's ratio is then chosen to spend it, up to
        ``max_prune_ratio``), ``max_prune_ratio`` without one."""
        return frozenset({"max_prune_ratio"}) if self.time_budget is None else frozenset({"prune_ratio"})

    @property
    def exact_plan(self) -> bool:
        return False

    @property
    def plan_note(self) -> str | None:
        if self.time_budget is None or self.time_budget >= 1.0:  # at 1 nothing is pruned: no targets
            return None
        return ("the pruned epochs' counts are targets: each epoch's prune ratio is chosen, once its losses are "
                "known, to spend the time budget")

    def plan(self, num_examples: int, num_epochs: int) -> Schedule:
        anneal = infobatch_anneal_epochs(num_epochs, self.anneal_fraction)
        if self.time_budget is None:
            return Schedule(num_epochs, keep=1.0, warmup_epochs=0, anneal_epochs=anneal)
        if self.time_budget >= 1.0:  # the whole of full-data training: nothing to prune
            return Schedule(num_epochs, keep=1.0, warmup_epochs=num_epochs)
        # the first epoch is the plan's warm-up: with no losses yet InfoBatch prunes nothing in it
        return pruned_schedule(num_epochs, infobatch_budget_keep(self.time_budget, num_epochs, anneal),
                               warmup_epochs=1, anneal_epochs=anneal)

    def ids_to_rescore(self, epoch: int, history: ScoreHistory, seed: int) -> np.ndarray:
        return np.zeros(0, dtype=np.int64)  # losses come from training only; unseen = high

    def select(self, ctx: EpochContext) -> Selection:
        losses = np.nan_to_num(ctx.history.latest, nan=np.inf)
        if self.time_budget is None:
            return infobatch_prune(losses, self.prune_ratio, ctx.rng("select"))
        target, learned = self.budget_target(ctx), len(well_learned(losses))
        ratio = ratio_for_target(ctx.num_examples, learned, target, self.max_prune_ratio)
        selection = infobatch_prune(losses, ratio, ctx.rng("select"))
        self._spent.setdefault("kept", {})[str(ctx.epoch)] = len(selection)
        ctx.record.update(infobatch_prune_ratio=ratio, infobatch_target=target)
        if len(selection) > target + 1 and not self._spent.get("warned"):
            self._spent["warned"] = True  # once per run: the later epochs will say the same
            logger.warning(
                "InfoBatch cannot keep to its time budget of %g: epoch %d trains %d examples against a target of "
                "%.0f, since it drops at most max_prune_ratio=%g of its %d well-learned (below-mean-loss) examples; "
                "the run will spend more than the budget. For a budget this low, use DataDiet(time_budget=%g) "
                "(hard pruning), or raise max_prune_ratio", self.time_budget, ctx.epoch, len(selection), target,
                self.max_prune_ratio, learned, self.time_budget)
        return selection

    def budget_target(self, ctx: EpochContext) -> float:
        """This epoch's target count under ``time_budget``: the budget left after the epochs run
        (every example in epochs without a selection of this strategy) and the annealing, spread
        over the pruned epochs left (the prune ratio that reaches it: :func:`ratio_for_target`)."""
        n, schedule = ctx.num_examples, ctx.schedule
        kept = self._spent.get("kept", {})
        spent = sum(kept.get(str(e), n) for e in range(ctx.epoch))
        left = schedule.num_epochs - schedule.anneal_epochs - ctx.epoch
        return (self.time_budget * schedule.num_epochs * n - schedule.anneal_epochs * n - spent) / left

    def state_dict(self) -> dict:
        return {"kept": dict(self._spent["kept"])} if self._spent.get("kept") else {}

    def load_state_dict(self, state: dict) -> None:
        self._spent.clear()
        if state.get("kept"):
            self._spent["kept"] = {str(k): int(v) for k, v in state["kept"].items()}
