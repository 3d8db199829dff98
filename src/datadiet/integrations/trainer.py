"""Hugging Face integration: ``DataDietTrainer``, a ``transformers.Trainer`` that prunes as it trains.

Built as a mixin (:class:`DataDietTrainerMixin`) so it composes with other Trainer subclasses
(e.g. ``class MySFTTrainer(DataDietTrainerMixin, SFTTrainer)``). What it changes:

- the train sampler yields the diet's selection of each epoch (accelerate shards it across ranks);
- the number of steps of every epoch, and so the LR schedule, follows the diet's plan;
- ``example_id`` (and ``action_ids``) survive ``remove_unused_columns`` and never reach the model;
- ``compute_loss`` records free scores from the training forward pass and applies loss weights;
- the kept count, scoring and selection seconds go to the Trainer's logs;
- the diet's state is saved in every checkpoint and ``resume_from_checkpoint`` restores it.

Written against the training loop of transformers 5.23 (pinned in ``pyproject.toml``).
"""

from __future__ import annotations

import math
import os
from typing import Any

import torch
from transformers import Trainer
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint

from datadiet.diet import DataDiet
from datadiet.sampler import DietSampler
from datadiet.schedule import SHARD_BATCHES, epoch_optimizer_steps
from datadiet.scoring_pass import DIET_COLUMNS, split_diet_columns

DIET_STATE_FILE = "datadiet_state.pt"


P3_LOGGED = ("p3_percentile", "p3_eligible", "difficulty_mean", "selected_difficulty_mean")
"""Per-epoch fields of a P3 diet's log that the Trainer logs too (``datadiet/<field>``)."""


class DataDietTrainerMixin:
    """Adds dynamic data pruning to a ``transformers.Trainer`` subclass. Pass ``diet=DataDiet(...)``."""

    def __init__(self, *args: Any, diet: DataDiet, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(diet, DataDiet):
            raise TypeError(f"diet must be a datadiet.DataDiet, got {type(diet).__name__}")
        if self.args.max_steps is not None and self.args.max_steps > 0:
            raise ValueError("DataDietTrainer plans its steps from num_train_epochs: leave max_steps unset (-1)")
        epochs = self.args.num_train_epochs
        if float(epochs) != int(epochs):
            raise ValueError(f"num_train_epochs must be a whole number with a diet, got {epochs}")
        if self.train_dataset is None:
            raise ValueError("DataDietTrainer needs a train_dataset")
        self.diet = diet
        self.diet.setup(len(self.train_dataset), int(epochs), model=self.model)
        if "example_id" not in _column_names(self.train_dataset):
            raise ValueError(
                "the train dataset has no `example_id` column: add one with "
                "dataset.add_column('example_id', list(range(len(dataset)))) (or datadiet.with_example_ids)"
            )
        self._diet_scoring_data = None

    # -- columns ---------------------------------------------------------------------------
    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        self._signature_columns = list(self._signature_columns) + [c for c in DIET_COLUMNS if c not in self._signature_columns]

    def _diet_scoring_inputs(self):
        """The train set as the model sees it (unused columns removed) and its collator."""
        if self._diet_scoring_data is None:
            import datasets

            dataset, collator = self.train_dataset, self.data_collator
            if isinstance(dataset, datasets.Dataset):
                dataset = self._remove_unused_columns(dataset, description="Scoring")
            else:
                collator = self._get_collator_with_removed_columns(collator, description="Scoring")
            self._diet_scoring_data = (dataset, collator)
        return self._diet_scoring_data

    # -- sampler and plan ------------------------------------------------------------------
    def _get_train_sampler(self, train_dataset=None) -> DietSampler:
        # accelerate shards the batches across ranks, so the sampler yields the whole selection
        return DietSampler(self.diet, num_replicas=1, rank=0, shuffle=True)

    def _diet_updates_per_epoch(self) -> list[int]:
        """Optimizer steps of each epoch: the actual kept counts of epochs begun, the plan after."""
        counts = self.diet.kept_counts()
        for record in self.diet.log:
            counts[record["epoch"]] = record["kept"]
        return [epoch_optimizer_steps(kept, self._train_batch_size, world_size=max(self.args.world_size, 1),
                                      grad_accum=self.args.gradient_accumulation_steps,
                                      drop_last=self.args.dataloader_drop_last, sharding=SHARD_BATCHES)
                for kept in counts]

    def set_initial_training_values(self, args, dataloader):
        values = list(super().set_initial_training_values(args, dataloader))
        updates = self._diet_updates_per_epoch()
        values[0] = len(updates)  # num_train_epochs
        values[3] = sum(self.diet.kept_counts())  # num_train_samples
        values[6] = sum(updates)  # max_steps: the LR schedule spans the planned steps
        return tuple(values)

    def _init_training_state(self, max_steps, num_update_steps_per_epoch, num_train_epochs, resume_from_checkpoint, trial):
        epochs_trained, steps_in_epoch = super()._init_training_state(
            max_steps, num_update_steps_per_epoch, num_train_epochs, resume_from_checkpoint, trial)
        if resume_from_checkpoint is not None and self.state.global_step > 0:
            done = 0
            for epoch, updates in enumerate(self._diet_updates_per_epoch()):
                if self.state.global_step < done + updates:
                    break
                done += updates
            else:
                epoch = len(self._diet_updates_per_epoch())
            epochs_trained = epoch
            steps_in_epoch = 0 if self.args.ignore_data_skip else (self.state.global_step - done) * self.args.gradient_accumulation_steps
        return epochs_trained, steps_in_epoch

    def _run_epoch(self, model, epoch, train_dataloader, steps_in_epoch, num_update_steps_per_epoch, **kwargs):
        dataset, collator = self._diet_scoring_inputs()
        self.diet.begin_epoch(epoch, model=self.accelerator.unwrap_model(model), dataset=dataset, collate_fn=collator)
        record = self.diet.log[-1]
        logged = ("kept", "kept_fraction", "scored", "scoring_seconds", "selection_seconds", *P3_LOGGED)
        self.log({"datadiet/epoch": float(epoch),
                  **{f"datadiet/{k}": float(record[k]) for k in logged if k in record}})
        steps = len(train_dataloader)
        updates = max(math.ceil(steps / self.args.gradient_accumulation_steps), 1)
        return super()._run_epoch(model=model, epoch=epoch, train_dataloader=train_dataloader, steps_in_epoch=steps,
                                  num_update_steps_per_epoch=updates, **kwargs)

    # -- loss ------------------------------------------------------------------------------
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        model_inputs, diet_inputs = split_diet_columns(inputs)
        if not model.training or "example_id" not in diet_inputs:
            return super().compute_loss(model, model_inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
        batch = {**model_inputs, **diet_inputs}
        loss, outputs = super().compute_loss(model, dict(model_inputs), return_outputs=True, num_items_in_batch=num_items_in_batch)
        ids = diet_inputs["example_id"]
        self.diet.observe(ids, self.diet.adapter.score_inputs(outputs, batch))
        loss = self.diet.apply_weights(ids, loss, outputs, batch)
        return (loss, outputs) if return_outputs else loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        model_inputs, _ = split_diet_columns(inputs)
        return super().prediction_step(model, model_inputs, prediction_loss_only, ignore_keys=ignore_keys)

    # -- checkpoints -----------------------------------------------------------------------
    def _save_checkpoint(self, model, trial) -> None:
        super()._save_checkpoint(model, trial)
        self.diet.flush()  # collective: every rank's buffered scores enter the history first
        if self.args.should_save:
            folder = os.path.join(self._get_output_dir(trial=trial), f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}")
            torch.save(self.diet.state_dict(), os.path.join(folder, DIET_STATE_FILE))

    def train(self, resume_from_checkpoint: str | bool | None = None, *args: Any, **kwargs: Any):
        if isinstance(resume_from_checkpoint, bool) and resume_from_checkpoint:
            resume_from_checkpoint = get_last_checkpoint(self.args.output_dir)
            if resume_from_checkpoint is None:
                raise ValueError(f"no checkpoint found in output directory ({self.args.output_dir})")
        if resume_from_checkpoint:
            path = os.path.join(resume_from_checkpoint, DIET_STATE_FILE)
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{path} is missing: this checkpoint was not saved by a DataDietTrainer")
            self.diet.load_state_dict(torch.load(path, weights_only=False))
        output = super().train(resume_from_checkpoint, *args, **kwargs)
        self.diet.flush()
        return output


class DataDietTrainer(DataDietTrainerMixin, Trainer):
    """A ``transformers.Trainer`` that trains each epoch on the examples chosen by ``diet``.

    Example::

        diet = DataDiet.nlu_data_diets(keep=0.5)       # the published protocol; DataDiet(keep=0.5): the default
        trainer = DataDietTrainer(diet=diet, model=model, args=args, train_dataset=train,
                                  data_collator=collator)
        trainer.train()
    """


def _column_names(dataset) -> list[str]:
    names = getattr(dataset, "column_names", None)
    if names is not None:
        return list(names)
    try:
        return list(dataset[0].keys())
    except Exception:  # noqa: BLE001 - any dataset without dict rows
        return []
