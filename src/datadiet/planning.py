"""What a run will cost before it starts: the per-epoch plan and its predicted time ratio.

Cost is counted in training examples: training on an example costs 1, scoring one forward-only
costs :data:`PASS_COST`. The predicted time ratio is the plan's cost over full-data training's
(``E * N``). It counts examples, not tokens: where the kept examples are longer than average (hard
examples often are) the measured ratio comes out a little higher.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable

PASS_COST = 0.18
"""Seconds of a forward-only scoring pass per example, over seconds of training per example:
0.17-0.21 in the 3-seed benchmark (MiniLM, 2 layers, CPU; ATIS and SNIPS, the paper protocol's
scoring share at keeps 0.5, 0.3, 0.2). Eval mode, no backward pass, length-bucketed batches."""


@dataclass(frozen=True)
class EpochPlan:
    """One epoch of a plan: its phase, examples trained on, examples scored, and cost (in full
    epochs: 1.0 = one epoch of training on every example)."""

    epoch: int
    phase: str
    trained: int
    scored: int
    cost: float


@dataclass(frozen=True)
class Plan:
    """A run's plan, epoch by epoch, and its predicted time ratio against full-data training."""

    method: str
    num_examples: int
    epochs: tuple[EpochPlan, ...]
    pass_cost: float = PASS_COST
    exact: bool = True  # False: the trained counts are upper bounds (InfoBatch, token budgets)
    note: str | None = None  # what the counts are when they are neither exact nor upper bounds
    reference_epochs: int | None = None  # full-data epochs the ratio is against (None: the plan's own)

    @property
    def full_epochs(self) -> int:
        """The full-data run the ratio is against: the epochs asked for (a time budget may plan fewer)."""
        return self.reference_epochs or len(self.epochs)

    @property
    def predicted_time_ratio(self) -> float:
        return sum(e.cost for e in self.epochs) / self.full_epochs

    @property
    def examples_trained(self) -> int:
        return sum(e.trained for e in self.epochs)

    def __str__(self) -> str:
        n = self.num_examples
        asked = f" (of {self.full_epochs} asked for)" if self.full_epochs != len(self.epochs) else ""
        lines = [f"datadiet plan: {self.method}, {n:,} examples x {_epochs(len(self.epochs))}{asked}",
                 f"{'epoch':>5}  {'phase':<7} {'trained':>9} {'kept':>6} {'scored':>9}  {'cost':>5}"]
        for e in self.epochs:
            lines.append(f"{e.epoch:>5}  {e.phase:<7} {e.trained:>9,} {e.trained / n:>6.2f} {e.scored:>9,}  {e.cost:>5.2f}")
        lines.append(f"predicted time ratio {self.predicted_time_ratio:.2f} of full-data training "
                     f"({self.examples_trained / (n * self.full_epochs):.2f} of its examples; a scored example "
                     f"costs {self.pass_cost:g} of a trained one)")
        if self.note:
            lines.append(self.note)
        elif not self.exact:
            lines.append(UPPER_BOUNDS)
        return "\n".join(lines)


UPPER_BOUNDS = "the trained counts are upper bounds: each epoch's count is only known when it begins"
"""What a plan whose counts are not exact (``strategy.exact_plan`` False) says of them."""


def full_data_epochs(time_ratio: float, num_epochs: int) -> tuple[int, float]:
    """Full data in ``time_ratio`` of the time of ``num_epochs`` full epochs: ``(whole, last)``,
    ``whole`` epochs on every example, then one more epoch on a random ``last`` fraction of them (a
    fractional epoch, as ``max_steps`` gives; 0: none). Training time is proportional to the
    examples trained, so ``whole + last = time_ratio * num_epochs`` (at most ``num_epochs``: full
    data is never longer than itself).

    >>> full_data_epochs(0.5, 3)      # 1.5 epochs
    (1, 0.5)
    >>> full_data_epochs(0.25, 3)     # 0.75 of one epoch
    (0, 0.75)
    """
    if not time_ratio > 0:
        raise ValueError(f"a time ratio must be > 0, got {time_ratio}")
    target = min(1.0, time_ratio) * num_epochs
    whole = math.floor(target + 1e-9)
    last = target - whole
    return whole, (0.0 if last < 1e-6 else last)


def plan_run(strategy, schedule, num_examples: int, pass_cost: float = PASS_COST, free_scores: bool = True,
             num_epochs: int | None = None) -> Plan:
    """The plan of ``strategy`` over ``schedule`` for ``num_examples`` examples (``free_scores``:
    whether training passes give the score; if not, every selection epoch scores every example),
    its ratio against ``num_epochs`` full-data epochs (the epochs asked for; default: the schedule's)."""
    num_epochs = schedule.num_epochs if num_epochs is None else num_epochs
    n = num_examples
    rows = []
    for epoch, trained in enumerate(schedule.kept_counts(n)):
        scored = strategy.expected_scored(epoch, schedule, n)
        if not free_scores and strategy.selects_at(epoch, schedule) and not strategy.selects_blind(epoch):
            scored = n
        rows.append(EpochPlan(epoch, strategy.phase_name(epoch, schedule), trained, scored,
                              (trained + pass_cost * scored) / n))
    # a method's own note on its counts (InfoBatch's targets) replaces the generic line on upper bounds
    counts_note = strategy.plan_note or (None if strategy.exact_plan else UPPER_BOUNDS)
    notes = [note for note in (strategy.plan_reason(n, num_epochs), counts_note) if note]
    return Plan(strategy.method, n, tuple(rows), pass_cost, exact=strategy.exact_plan, note="\n".join(notes) or None,
                reference_epochs=num_epochs)


def keep_for_budget(budget: float, num_epochs: int, warmup_epochs: int, anneal_epochs: int,
                    scored_per_pruned_epoch: float, pass_cost: float = PASS_COST) -> float:
    """The kept fraction of the pruned epochs that makes the run cost ``budget`` of full-data
    training: ``budget E = warmup + anneal + pruned (keep + pass_cost s)`` with ``s`` the fraction
    of N scored in each pruned epoch. Raises when the budget cannot pay for the full epochs."""
    pruned = num_epochs - warmup_epochs - anneal_epochs
    if pruned <= 0:
        raise ValueError(f"{num_epochs} epochs leave none to prune after {warmup_epochs} warm-up and {anneal_epochs} "
                         "annealing epochs: train for more epochs or lower warmup_epochs / anneal_epochs")
    keep = (budget * num_epochs - warmup_epochs - anneal_epochs) / pruned - pass_cost * scored_per_pruned_epoch
    if keep <= 0:
        floor = (warmup_epochs + anneal_epochs + pruned * pass_cost * scored_per_pruned_epoch) / num_epochs
        what = "they and the scoring alone cost" if scored_per_pruned_epoch else "they alone cost"
        raise ValueError(f"a time budget of {budget:g} cannot pay for {warmup_epochs} warm-up and {anneal_epochs} "
                         f"annealing epochs of {num_epochs} ({what} {floor:.2f}): raise the "
                         "budget, lower warmup_epochs / anneal_epochs, or train for more epochs")
    return min(keep, 1.0)


def keep_fitting_plan(strategy, num_examples: int, num_epochs: int, budget: float, free_scores: bool = True) -> float:
    """The largest kept fraction whose plan (``strategy`` with that keep and no time budget) predicts
    at most ``budget`` of full-data time, by bisection on :func:`plan_run` (its cost grows with the
    keep; ``free_scores`` as there); for plans whose cost has no closed form in :func:`keep_for_budget`."""
    def ratio(keep: float) -> float:
        spent_by_keep = {"budget_epochs": "all"} if "budget_epochs" in {f.name for f in dataclasses.fields(strategy)} else {}
        fixed = dataclasses.replace(strategy, keep=keep, time_budget=None, **spent_by_keep)
        return plan_run(fixed, fixed.plan(num_examples, num_epochs), num_examples, free_scores=free_scores,
                        num_epochs=num_epochs).predicted_time_ratio

    low, high = 1.0 / num_examples, 1.0
    if ratio(low) > budget:
        raise ValueError(f"a time budget of {budget:g} cannot pay for even one example per epoch "
                         f"({ratio(low):.2f} of full-data time): raise the budget")
    if ratio(high) <= budget:
        return high
    for _ in range(40):  # until the bracket is narrower than half an example: the counts are settled
        if (high - low) * num_examples < 0.5:
            break
        mid = (low + high) / 2
        low, high = (mid, high) if ratio(mid) <= budget else (low, mid)
    return low


BUDGET_EPOCHS = ("all", "auto")
"""How a time budget is spent: ``all``, by the kept fraction over every epoch asked for; ``auto``,
by both the kept fraction and the number of epochs (:func:`choose_budget_plan`)."""

KEEP_FLOOR = 0.3
"""The lowest kept fraction ``budget_epochs="auto"`` (the default) prunes to before it trains fewer
epochs. Measured (3 seeds unless said): on 10-epoch intent sets every dataset lost more below keep
0.3, and at the budgets where pruning all 10 epochs keeps 0.3 or more (0.45 and up) that beat
training fewer epochs at a higher keep (ATIS at 0.45: all 10 at keep 0.37 83.05, 7 epochs at 0.57
82.49); on SST-2 at 3 epochs and 0.5, where all 3 would keep 0.23 after the warm-up, 2 epochs at keep
0.48 beat all 3 by 1.0-1.2 points in each seed (the first rule's floor, 0.5, chose the same there);
where it sends 10 epochs to fewer (ATIS at 0.3: 7 epochs at keep 0.315, 77.90) it ties all 10 at
keep 0.204 (78.13), where the floor 0.5 lost 1.8 (4 epochs at 0.65, 76.33)."""


@dataclass(frozen=True)
class BudgetChoice:
    """How a time budget is spent: ``epochs`` epochs, the pruned ones at ``keep``, and why."""

    epochs: int
    keep: float
    reason: str


def _epochs(count: int) -> str:
    return f"{count} epoch" + ("" if count == 1 else "s")


def choose_budget_plan(budget: float, num_epochs: int, keep_for: Callable[[float, int], float],
                       keep_floor: float = KEEP_FLOOR) -> BudgetChoice:
    """Spend ``budget`` of ``num_epochs`` full-data epochs on the most epochs whose kept fraction stays
    at or above ``keep_floor``: a full-data epoch, a pruned epoch and an epoch not trained at all are
    all ways to spend it. ``keep_for(budget_e, e)`` is the kept fraction that spends the fraction
    ``budget_e`` of ``e`` full epochs (raising ``ValueError`` when ``e`` epochs cannot be planned);
    the same budget over ``e`` epochs is ``budget * num_epochs / e`` of them. When no number of
    epochs keeps that much, the plannable number of epochs that keeps the most (it spends the whole
    budget: with 3 epochs and a budget of 0.5, 2 epochs at keep 0.48 rather than 1 full-data epoch
    that leaves a third of it unspent); when none can be planned, full data for
    ``floor(budget * num_epochs)`` epochs, and ValueError when that is none (a plan never exceeds
    its budget)."""
    def keep_over(epochs: int) -> float | None:
        try:
            return keep_for(min(budget * num_epochs / epochs, 1.0), epochs)
        except ValueError:
            return None

    everything = keep_over(num_epochs)
    if everything is not None and everything >= 1.0:
        return BudgetChoice(num_epochs, 1.0, f"time budget {budget:g}: full data for all {num_epochs} epochs")
    if everything is not None and everything >= keep_floor:
        return BudgetChoice(num_epochs, everything, f"time budget {budget:g}: keep {everything:.3f} in the pruned "
                            f"epochs of all {num_epochs} (at or above the floor {keep_floor:g})")
    said = (f"all {num_epochs} epochs cannot be planned within it" if everything is None
            else f"all {num_epochs} epochs would keep {everything:.3f}, under the floor {keep_floor:g}")
    most = None if everything is None else (num_epochs, everything)
    for epochs in range(num_epochs - 1, 0, -1):
        keep = keep_over(epochs)
        if keep is not None and (most is None or keep > most[1]):
            most = (epochs, keep)
        if keep is not None and keep >= 1.0:
            return BudgetChoice(epochs, 1.0, f"time budget {budget:g}: {said}; full data for {epochs} of the "
                                f"{num_epochs} epochs spends it")
        if keep is not None and keep >= keep_floor:
            return BudgetChoice(epochs, keep, f"time budget {budget:g}: {said}; {_epochs(epochs)} at keep {keep:.3f} "
                                "spend the same budget")
    if most is not None:
        epochs, keep = most
        return BudgetChoice(epochs, keep, f"time budget {budget:g}: no number of epochs keeps {keep_floor:g} or more "
                            f"({said}); {_epochs(epochs)} at keep {keep:.3f}, the most any number of epochs keeps, "
                            "spend it")
    epochs = math.floor(budget * num_epochs + 1e-9)
    if epochs < 1:
        raise ValueError(f"a time budget of {budget:g} of {num_epochs} epochs buys less than one epoch on all the data, "
                         "and no pruned plan fits it (the warm-up epochs alone cost more): lower warmup_epochs (with "
                         "cold_start='random' for a warm-up of 0), raise the budget, train for more epochs, or train "
                         f"full data for {budget * num_epochs:.3g} of an epoch (DataDiet(method='full', time_budget={budget:g}))")
    return BudgetChoice(epochs, 1.0, f"time budget {budget:g}: no number of epochs can be planned within it; "
                        f"full data for {epochs} of the {num_epochs} epochs")
