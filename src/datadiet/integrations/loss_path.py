"""Detects, after the first optimizer step, training batches that never reach the diet.

The diet learns what each training batch trained (and its free scores, and applies InfoBatch's
loss weights) in ``DataDietTrainerMixin.compute_loss`` (:meth:`~datadiet.DataDiet.training_loss`).
A Trainer subclass whose ``compute_loss`` override does not call ``super().compute_loss(...)``, or
a collator that drops ``example_id``, bypasses it: the default diet's scores go stale, InfoBatch
never prunes and weights nothing, and the run trains for hours as if on full data. The diet's
ledger of trained examples (:class:`~datadiet.ledger.TrainedLedger`, marked by every batch that
reaches the diet) tells after one optimizer step whether that happened.

What then: a method that ranks by the free scores or weights the loss (every method that records
free scores: the default, the NLU protocol, InfoBatch, P3) raises :class:`LossPathError` at once,
naming what to call; a failed run after one step is cheap, a silently wrong one is not. A method
that needs nothing from the training step (``DataDiet.full()``, random subsets, a method that
re-scores everything by passes) trains on with an info log, and the end-of-epoch check that every
planned example was trained is skipped, since nothing marks them.
"""

from __future__ import annotations

import logging

import numpy as np
from transformers import TrainerCallback

logger = logging.getLogger(__name__)

__all__ = ["LossPathCheck", "LossPathError", "needs_loss_path"]


class LossPathError(RuntimeError):
    """Training batches do not reach the diet, whose method needs them."""


def needs_loss_path(diet) -> bool:
    """Whether ``diet``'s method reads something from every training step: free scores it ranks by
    or selects on, or loss weights (InfoBatch's) it applies."""
    if diet.strategy.records_free_scores and diet.strategy.reads_scores and diet.training_records_scores():
        return True
    return diet.selection is not None and not bool(np.all(diet.selection.weights == 1.0))


def _cause(trainer) -> str:
    """Why no batch reached the diet, with what to change."""
    column = trainer.diet.settings.example_id_column
    if getattr(trainer, "_diet_batches_without_ids", 0):
        return (f"the training batches carry no {column!r} column, so the diet cannot tell which examples they hold: "
                "the collator drops it. Wrap it: data_collator=datadiet.integrations.collator.DietCollator(collator"
                + ("" if column == "example_id" else f", id_column={column!r}") + ")")
    return (f"{type(trainer).__name__}.compute_loss does not call super().compute_loss(...). In your override, call "
            "`super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)` "
            "with the inputs as you received them, or, computing the loss yourself, take the ids out first "
            f"(`ids = inputs.pop({column!r}); inputs.pop('action_ids', None)`) and return "
            "`self.diet.training_loss(ids, outputs, inputs, loss=loss)`, which records the batch's free scores and "
            "applies the loss weights")


class LossPathCheck(TrainerCallback):
    """After the first optimizer step of each ``train()``, checks that training batches reached the
    diet (its ledger gained marks) and reacts as the module docstring says. ``reached`` is None
    until known, then True or False."""

    def __init__(self, trainer) -> None:
        self.trainer = trainer
        self.reached: bool | None = None
        self._marked_before: int | None = None

    def _marked(self) -> int:
        ledger = self.trainer.diet.ledger
        return 0 if ledger is None else int(ledger.mask.sum())

    def on_train_begin(self, args, state, control, **kwargs):
        self.reached, self._marked_before = None, None  # every train() is checked (a new override, a new run)

    def on_step_begin(self, args, state, control, **kwargs):
        if self.reached is None:
            self._marked_before = self._marked()

    def on_step_end(self, args, state, control, **kwargs):
        if self.reached is not None or self._marked_before is None:
            return
        if self._marked() > self._marked_before:
            self.reached = True
        elif self._marked_before == 0:  # an epoch's first step marked nothing (a resumed epoch's may re-train)
            self.reached = False
            method = self.trainer.diet.strategy.method
            if needs_loss_path(self.trainer.diet):
                raise LossPathError(
                    f"no training batch of the first optimizer step reached the diet, so its method ({method}) "
                    "records no free scores and applies no loss weights: the run would train on stale selections "
                    f"without an error. {_cause(self.trainer)}")
            logger.info("training batches do not reach the diet (%s). Method %s reads nothing from the training "
                        "steps, so training goes on; the check that each epoch trained its planned examples is "
                        "skipped", _cause(self.trainer), method)
        self._marked_before = None
