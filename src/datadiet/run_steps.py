"""A run's step arithmetic: the optimizer steps of each epoch under a
:class:`~datadiet.layout.BatchLayout`, where a global step falls, and how many epochs a run given in
steps needs. Every integration (the Trainer, TRL's trainer, a plain or Accelerate loop) reads it
through :meth:`DataDiet.steps_per_epoch <datadiet.DataDiet.steps_per_epoch>`,
:meth:`~datadiet.DataDiet.position` and :meth:`~datadiet.DataDiet.epochs_for_steps`, so none
derives it again.
"""

from __future__ import annotations

from typing import Sequence

from datadiet.layout import BatchLayout


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
    budgets) can make the run end before ``max_steps``."""
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be an int >= 1, got {max_steps!r}")
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
