"""A run's step arithmetic: the optimizer steps of each epoch under a
:class:`~datadiet.layout.BatchLayout`, where a global step falls, and how many epochs a run given in
steps needs. Every integration (the Trainer, TRL's trainer, a plain or Accelerate loop) reads it
through :meth:`DataDiet.steps_per_epoch <datadiet.DataDiet.steps_per_epoch>`,
:meth:`~datadiet.DataDiet.position` and :meth:`~datadiet.DataDiet.epochs_for_steps`, so none
derives it again. :class:`StepPlanning` is the part of :class:`~datadiet.DataDiet` that answers
them (and plans the run before it starts).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from datadiet.layout import BatchLayout
from datadiet.planning import Plan, plan_run
from datadiet.sampler import DietSampler
from datadiet.schedule import SHARD_EXAMPLES


def kept_per_epoch(planned: Sequence[int], records: Sequence[dict]) -> list[int]:
    """Examples of each epoch: ``records``' actual count (the run log's epochs begun), ``planned`` after."""
    counts = [int(k) for k in planned]
    for record in records:
        counts[record["epoch"]] = int(record["kept"])
    return counts


def position(steps_per_epoch: Sequence[int], global_step: int) -> tuple[int, int]:
    """``(epoch, optimizer steps done in it)`` after ``global_step`` steps; ``(epochs, 0)`` at the end."""
    done = 0
    for epoch, steps in enumerate(steps_per_epoch):
        if global_step < done + steps:
            return epoch, global_step - done
        done += steps
    return len(steps_per_epoch), 0


def epochs_for_steps(strategy, num_examples: int, max_steps: int, layout: BatchLayout) -> int:
    """The fewest epochs whose planned optimizer steps under ``layout`` reach ``max_steps`` (a run
    given in steps: its last epoch ends partway). Each candidate is planned whole by ``strategy``
    (warm-up, annealing and schedules span it). Kept counts that are upper bounds (InfoBatch, token
    budgets) can make the run end before ``max_steps``. A diet with a ``time_budget`` is refused: the
    budget is a fraction of the epochs asked, and ``max_steps`` fixes the steps instead."""
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be an int >= 1, got {max_steps!r}")
    budget = getattr(strategy, "time_budget", None)
    if budget is not None:  # the diet would plan more epochs until the steps reach max_steps: no saving
        raise ValueError(f"time_budget={budget:g} is a fraction of full-data training over num_train_epochs, but "
                         f"max_steps={max_steps} fixes the steps trained, so the budget would change nothing: give "
                         "num_train_epochs (and max_steps=-1), or lower max_steps yourself and keep a fraction with keep=")
    epochs, total = 0, 0
    while total < max_steps:
        epochs += 1
        try:
            schedule = strategy.plan(int(num_examples), epochs)
        except ValueError:
            continue  # too few epochs for the method's phases (warm-up, annealing): plan one more
        total = sum(layout.steps(k) for k in schedule.kept_counts(int(num_examples)))
        if epochs > max_steps + 1000:
            raise ValueError(f"no number of epochs of this diet reaches {max_steps} steps")
    return epochs


_kept_per_epoch, _position, _epochs_for_steps = kept_per_epoch, position, epochs_for_steps


class StepPlanning:
    """The plan and step arithmetic of :class:`~datadiet.DataDiet` (a mixin: it reads the diet's
    strategy, schedule, log and layout, and writes nothing)."""

    def kept_counts(self) -> list[int]:
        """Planned examples per epoch (an upper bound where ``strategy.exact_plan`` is False: InfoBatch,
        whose kept count depends on the losses, and token budgets)."""
        self.require_setup()
        return self.schedule.kept_counts(self.num_examples)

    def kept_per_epoch(self) -> list[int]:
        """Examples of each epoch: the actual count of the epochs begun, the plan's after."""
        return _kept_per_epoch(self.kept_counts(), self.log)

    def steps_per_epoch(self) -> list[int]:
        """Optimizer steps of each epoch under :attr:`layout` (actual for the epochs begun)."""
        if self.layout is None:
            raise RuntimeError("the diet has no batch layout: call diet.set_layout(BatchLayout(...)) first")
        return [self.layout.steps(k) for k in self.kept_per_epoch()]

    def position(self, global_step: int) -> tuple[int, int]:
        """``(epoch, optimizer steps done in it)`` after ``global_step`` steps; ``(epochs, 0)`` at the end."""
        return _position(self.steps_per_epoch(), global_step)

    def epochs_for_steps(self, num_examples: int, max_steps: int, layout: BatchLayout) -> int:
        """The fewest epochs of this diet whose steps under ``layout`` reach ``max_steps``
        (:func:`~datadiet.run_steps.epochs_for_steps`)."""
        return _epochs_for_steps(self.strategy, num_examples, max_steps, layout)

    def planned_steps(self, batch_size: int, world_size: int = 1, grad_accum: int = 1, drop_last: bool = False,
                      sharding: str = SHARD_EXAMPLES) -> int:
        """Optimizer steps of the whole run, known before training starts (the
        :class:`~datadiet.layout.BatchLayout` of these arguments over :meth:`kept_counts`)."""
        layout = BatchLayout(batch_size, world_size, grad_accum, drop_last, sharding)
        return sum(layout.steps(k) for k in self.kept_counts())

    def plan(self, num_examples: int, num_epochs: int | None = None) -> Plan:
        """The run's plan before it starts: per epoch the examples trained and scored, and the
        predicted time ratio against full-data training (``print(diet.plan(len(train), 10))``).
        It changes nothing: the diet is set up by the trainer (or ``setup``) for the sizes the run
        has, which may differ (a run given in ``max_steps``, rows a trainer's preparation dropped);
        a diet already set up for these sizes shows its own plan."""
        if num_epochs is None and self.num_examples == num_examples:
            num_epochs = self.num_epochs  # a diet set up for this training set: its own epochs
        num_epochs = self.settings.epochs_for(num_epochs)
        if num_examples < 1:
            raise ValueError(f"the training set is empty (num_examples={num_examples})")
        if (self.num_examples, self.num_epochs) == (num_examples, num_epochs):
            schedule = self.schedule
        else:
            schedule = self.strategy.plan(int(num_examples), int(num_epochs))
        return plan_run(self.strategy, schedule, int(num_examples), free_scores=self.training_records_scores(),
                        num_epochs=int(num_epochs))

    def sampler(self, num_examples: int, num_epochs: int | None = None, *, num_replicas: int | None = None,
                rank: int | None = None, shuffle: bool = True, drop_last: bool = False,
                lengths: np.ndarray | None = None, batch_size: int | None = None) -> DietSampler:
        """A plain loop's ``torch.utils.data.Sampler`` over the current selection (data-parallel
        aware); with ``lengths`` (token count per example) and ``batch_size``, grouped by length
        (:class:`~datadiet.sampler.DietSampler`)."""
        self.setup(num_examples, num_epochs)
        if lengths is not None and len(lengths) != num_examples:
            raise ValueError(f"lengths has {len(lengths)} entries for {num_examples} examples")
        return DietSampler(self, num_replicas=num_replicas, rank=rank, shuffle=shuffle, drop_last=drop_last,
                           lengths=lengths, batch_size=batch_size)
