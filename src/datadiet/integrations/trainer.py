"""Hugging Face integration: ``DataDietTrainer``, a ``transformers.Trainer`` that prunes as it trains.

Built as a mixin (:class:`DataDietTrainerMixin`) so it composes with other Trainer subclasses
(``class MyTrainer(DataDietTrainerMixin, MyOwnTrainer)``). TRL's ``SFTTrainer`` is the exception:
its pipeline (tokenization, a collator that drops ``example_id``, a fused LM head without logits)
needs :class:`datadiet.integrations.trl.DataDietSFTTrainer`, which is this mixin plus what TRL
needs; composing the mixin with ``SFTTrainer`` directly is refused at construction (subclass
``DataDietSFTTrainer`` instead). What the mixin changes:

- the train sampler yields the diet's selection of each epoch (accelerate shards it across ranks);
- each diet epoch begins (scoring pass, selection) before the Trainer reads that epoch's length, so
  the number of steps of every epoch follows the diet;
- the LR schedule ends exactly at the last step, for every method (see :meth:`create_scheduler`);
- ``example_id`` (or the column the diet's ``example_id_column`` names) and ``action_ids`` survive
  ``remove_unused_columns`` and never reach the model;
- ``compute_loss`` records free scores (and, for a method that selects on features, the pooled last
  hidden states) from the training forward pass and applies loss weights; an override that skips it
  is detected after the first optimizer step (:mod:`datadiet.integrations.loss_path`);
- the kept count, scoring and selection seconds go to the Trainer's logs;
- the diet's state is written (atomically, no pickle) into every checkpoint before transformers writes
  its own files, and ``resume_from_checkpoint`` restores it; ``resume_from_checkpoint=True`` picks the
  latest *complete* checkpoint, so a run killed at any moment resumes.

Supports transformers ``>=4.57.1,<6``; every use of the Trainer's internals is in
:mod:`datadiet.integrations.compat`.
"""

from __future__ import annotations

import dataclasses

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from datadiet._extras import require

require("transformers", extra="hf", purpose="DataDietTrainer")
require("accelerate", extra="hf", purpose="DataDietTrainer")

import torch  # noqa: E402
from transformers import Trainer, TrainerCallback, get_scheduler  # noqa: E402
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR  # noqa: E402

from datadiet.checkpoint import DIET_STATE_FILE, DietStateError, load_diet_state, save_diet_state  # noqa: E402
from datadiet.diet import DataDiet  # noqa: E402
from datadiet.integrations import compat  # noqa: E402
from datadiet.integrations.loss_path import LossPathCheck  # noqa: E402
from datadiet.sampler import DietSampler  # noqa: E402
from datadiet.distributed import broadcast_object  # noqa: E402
from datadiet.scoring_pass import diet_columns, split_diet_columns  # noqa: E402
from datadiet.utils import EXAMPLE_ID_COLUMN, example_ids_of  # noqa: E402

logger = logging.getLogger(__name__)

TRAINER_STATE_NAME = "trainer_state.json"

P3_LOGGED = ("p3_percentile", "p3_eligible", "difficulty_mean", "selected_difficulty_mean")
"""Per-epoch fields of a P3 diet's log that the Trainer logs too (``datadiet/<field>``)."""

LOGGED = ("kept", "kept_fraction", "scored", "scoring_seconds", "selection_seconds", *P3_LOGGED)


class _DietEpochs(TrainerCallback):
    """Begins each diet epoch at the one moment every transformers version allows: before the loop
    reads the epoch's length (``on_train_begin`` for the first epoch run, ``on_epoch_end`` of the
    previous epoch for the others). The model is the same as at the next epoch's first step."""

    def __init__(self, trainer: "DataDietTrainerMixin") -> None:
        self.trainer = trainer

    def on_train_begin(self, args, state, control, **kwargs):
        compat.restore_true_global_step(self.trainer)
        epoch, _ = self.trainer._diet_position(state.global_step)
        if epoch < self.trainer.diet.schedule.num_epochs:
            self.trainer._diet_begin_epoch(epoch)
        state.max_steps = self.trainer._diet_total_steps()

    def on_epoch_end(self, args, state, control, **kwargs):
        if control.should_training_stop:
            return  # stopped on request (early stopping, max_steps): not a plan that fell short
        if self.trainer._diet_loss_path.reached is not False:  # nothing marks the trained examples otherwise
            self.trainer.diet.end_epoch()  # every rank: the epoch trained its plan's examples, or an error
        following = self.trainer.diet.epoch + 1
        if following < self.trainer.diet.schedule.num_epochs:
            self.trainer._diet_begin_epoch(following)
            state.max_steps = self.trainer._diet_total_steps()


class DataDietTrainerMixin(compat.TrainerInternals):
    """Adds dynamic data pruning to a ``transformers.Trainer`` subclass. Pass ``diet=DataDiet(...)``."""

    _diet_id_column = EXAMPLE_ID_COLUMN

    def __init__(self, *args: Any, diet: DataDiet, **kwargs: Any) -> None:
        compat.check_transformers_version()
        if not isinstance(diet, DataDiet):
            raise TypeError(f"diet must be a datadiet.DataDiet, got {type(diet).__name__}")
        refuse_plain_sft_trainer(type(self))
        self._diet_id_column = diet.settings.example_id_column
        self._diet_batches_without_ids = 0  # training batches that reached compute_loss without ids
        super().__init__(*args, **kwargs)
        if self.train_dataset is None:
            raise ValueError("DataDietTrainer needs a train_dataset")
        if example_ids_of(self.train_dataset, self._diet_id_column) is None:
            column = self._diet_id_column
            named = "" if column == EXAMPLE_ID_COLUMN else f", column={column!r}"
            raise ValueError(
                f"the train dataset has no `{column}` column: add one with `ds = datadiet.with_example_ids(ds{named})` "
                "(the row position of every example)"
                + ("" if column != EXAMPLE_ID_COLUMN else "; if your ids are in a column of another name, "
                   "DataDiet(..., example_id_column='that_name')")
            )
        self.diet = diet
        if self.args.disable_tqdm and diet.settings.progress:  # scoring passes follow the Trainer's bars
            diet.settings = dataclasses.replace(diet.settings, progress=False)
        layout = compat.batch_layout(self)  # refuses settings no plan can match
        self.diet.setup(len(self.train_dataset), self._diet_epochs(layout), model=self.model)
        self.diet.set_layout(layout, max_steps=self._diet_max_steps() or 0)
        self.diet.bind_data(self.train_dataset)  # ids checked; the fingerprint a resume is checked against
        self._diet_scoring_data = None
        self.add_callback(_DietEpochs(self))
        self._diet_loss_path = LossPathCheck(self)
        self.add_callback(self._diet_loss_path)

    @property
    def _diet_columns(self) -> tuple[str, ...]:
        """The columns ``remove_unused_columns`` keeps for the diet (the ids under their name)."""
        return diet_columns(self._diet_id_column)

    # -- the plan ----------------------------------------------------------------------------
    def _diet_max_steps(self) -> int | None:
        """``args.max_steps`` when the run is given in steps (> 0), else None."""
        return self.args.max_steps if self.args.max_steps is not None and self.args.max_steps > 0 else None

    def _diet_epochs(self, layout=None) -> int:
        """The diet's epochs: ``num_train_epochs``, or with ``max_steps`` the fewest epochs whose
        planned steps reach it (the last one then ends partway, at ``max_steps``)."""
        max_steps = self._diet_max_steps()
        if max_steps is not None:
            return self.diet.epochs_for_steps(len(self.train_dataset), max_steps, layout or self.diet.layout)
        epochs = self.args.num_train_epochs
        if float(epochs) != int(epochs):
            raise ValueError(f"num_train_epochs must be a whole number with a diet (or give max_steps), got {epochs}")
        return int(epochs)

    def _diet_total_steps(self) -> int:
        total = sum(self.diet.steps_per_epoch())
        max_steps = self._diet_max_steps()
        return total if max_steps is None else min(total, max_steps)

    def _diet_total_samples(self) -> int:
        return sum(self.diet.kept_per_epoch())

    def _diet_epoch_updates(self) -> int:
        """Optimizer steps of the epoch the diet is in."""
        return self.diet.steps_per_epoch()[self.diet.epoch]

    def _diet_position(self, global_step: int) -> tuple[int, int]:
        """``(epoch, optimizer steps done in it)`` after ``global_step`` steps (:meth:`DataDiet.position`)."""
        return self.diet.position(global_step)

    # -- epochs ------------------------------------------------------------------------------
    def _diet_sampler(self) -> DietSampler:
        """The selection in the order the arguments ask (shuffled, sequential or grouped by length,
        in groups of the examples of one optimizer step). accelerate shards the batches across
        ranks, so the sampler yields the whole selection."""
        order = compat.train_order(self.args)
        if getattr(self.args, "train_sampling_strategy", None) == "batch_rebalance":
            logger.warning("train_sampling_strategy='batch_rebalance' is served as 'group_by_length' with a diet")
        lengths = compat.train_lengths(self.args, self.train_dataset) if order == "group_by_length" else None
        step_examples = compat.train_batch_size(self) * self.args.gradient_accumulation_steps
        return DietSampler(self.diet, num_replicas=1, rank=0, shuffle=order != "sequential", lengths=lengths,
                           batch_size=step_examples)

    def _diet_scoring_inputs(self):
        """The train set as the model sees it (unused columns removed) and its collator."""
        if self._diet_scoring_data is None:
            self._diet_scoring_data = compat.scoring_view(self, self.train_dataset, self.data_collator)
        return self._diet_scoring_data

    def _diet_begin_epoch(self, epoch: int) -> None:
        if epoch == self.diet.epoch:
            return  # restored from the checkpoint, already begun (and logged) before it was saved
        dataset, collator = self._diet_scoring_inputs()
        # the object training calls (DDP, DeepSpeed, FSDP or the model): its engine decides what a pass
        # runs; accelerate's mixed precision wraps only the model's forward: the pass gets it explicitly
        self.diet.begin_epoch(epoch, model=self.model_wrapped, dataset=dataset,
                              collate_fn=collator, autocast=self.accelerator.autocast)
        record = self.diet.log[-1]
        # Trainer.log clears control.should_log, which logging_strategy="epoch" has just set in this
        # same on_epoch_end: without restoring it the epoch's training loss would never be logged.
        pending_log = self.control.should_log
        # counts stay ints (the Trainer prints floats as 4 significant digits: 10,003 would read 1e+04)
        self.log({"datadiet/epoch": int(epoch), **{f"datadiet/{k}": record[k] if isinstance(record[k], int)
                                                    else float(record[k]) for k in LOGGED if k in record}})
        self.control.should_log = self.control.should_log or pending_log

    # -- LR schedule ---------------------------------------------------------------------------
    def create_scheduler(self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None):
        """The Trainer's schedule (``lr_scheduler_type``, warm-up, kwargs), with its length re-read at
        every step: ``num_training_steps`` = the actual steps of the epochs begun + the planned steps of
        the later ones. Exact at the last step for every method: when the last epoch begins every
        count is known, so the schedule reaches its final value (0 for linear) at the final step,
        also for InfoBatch, whose kept count per epoch is random and planned as an upper bound. For
        methods with a fixed plan the length never changes and this is the Trainer's own schedule.
        (Planning InfoBatch exactly is impossible: its count depends on the scores.)"""
        created = self.lr_scheduler is None
        scheduler = super().create_scheduler(num_training_steps=num_training_steps, optimizer=optimizer)
        if created and isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR) and len(scheduler.lr_lambdas) >= 1:
            self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(scheduler.optimizer, self._diet_lr_lambda())
        return self.lr_scheduler

    def _diet_lr_lambda(self):
        cache: dict[int, Any] = {}
        args = self.args
        probe = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=args.learning_rate)

        def factor(step: int) -> float:
            total = max(self._diet_total_steps(), 1)
            if total not in cache:
                schedule = get_scheduler(args.lr_scheduler_type, optimizer=probe,
                                         num_warmup_steps=args.get_warmup_steps(total), num_training_steps=total,
                                         scheduler_specific_kwargs=args.lr_scheduler_kwargs or {})
                cache[total] = schedule.lr_lambdas[0]
            return cache[total](step)

        return factor

    # -- loss ------------------------------------------------------------------------------
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        model_inputs, diet_inputs = split_diet_columns(inputs, self._diet_id_column)
        if not model.training or "example_id" not in diet_inputs:
            self._diet_batches_without_ids += int(model.training)  # the loss-path check says why (collator)
            return super().compute_loss(model, model_inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
        batch = {**model_inputs, **diet_inputs}
        with self.diet.capture_features(model, model_inputs) as captured:  # pooled in a hook, this forward only
            loss, outputs = super().compute_loss(model, dict(model_inputs), return_outputs=True,
                                                 num_items_in_batch=num_items_in_batch)
        ids = diet_inputs["example_id"]
        loss = self.diet.training_loss(ids, outputs, batch, loss=loss, features=captured.get("features"))
        return (loss, outputs) if return_outputs else loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        model_inputs, _ = split_diet_columns(inputs, self._diet_id_column)
        return super().prediction_step(model, model_inputs, prediction_loss_only, ignore_keys=ignore_keys)

    # -- checkpoints -----------------------------------------------------------------------
    def _diet_save_state(self, folder: str) -> None:
        self.diet.flush()  # collective: every rank's buffered scores enter the history first
        if self.args.should_save:
            save_diet_state(self.diet.state_dict(), folder)

    def _diet_start_over(self) -> None:
        """A training run from step 0: a diet that has already run (``train()`` called again, a
        hyperparameter search's next trial) starts over, planned for the current arguments."""
        sizes = (len(self.train_dataset), self._diet_epochs())
        if self.diet.epoch >= 0 or sizes != (self.diet.num_examples, self.diet.num_epochs):
            if self.diet.epoch >= 0:
                logger.info("a new training run: the diet starts over from epoch 0 (its %d epochs before are "
                            "forgotten)", len(self.diet.log))
            self.diet.reset(*sizes)
            self._diet_scoring_data = None

    def train(self, resume_from_checkpoint: str | bool | None = None, *args: Any, **kwargs: Any):
        if isinstance(resume_from_checkpoint, bool):
            # rank 0 chooses, every rank resumes from it (disks that are not shared may differ)
            resume_from_checkpoint = (broadcast_object(latest_complete_checkpoint(self.args.output_dir))
                                      if resume_from_checkpoint else None)
            if resume_from_checkpoint is None:
                raise ValueError(f"no complete checkpoint (trainer_state.json and {DIET_STATE_FILE}) in "
                                 f"{self.args.output_dir}: train without resume_from_checkpoint to start over")
        # the arguments as they are now (changed since __init__ in a notebook or a search's trial)
        self.diet.set_layout(compat.batch_layout(self), max_steps=self._diet_max_steps() or 0)
        if not resume_from_checkpoint:
            self._diet_start_over()
        if resume_from_checkpoint:
            self.diet.load_state_dict(load_diet_state(resume_from_checkpoint, hint=_resume_hint(resume_from_checkpoint)))
            if not _trainer_state_complete(resume_from_checkpoint):
                raise DietStateError(f"{Path(resume_from_checkpoint) / TRAINER_STATE_NAME} is missing or unreadable: "
                                     f"the run was killed while this checkpoint was written; "
                                     f"{_resume_hint(resume_from_checkpoint)}")
        output = super().train(resume_from_checkpoint, *args, **kwargs)
        self.diet.flush()
        return output


class DataDietTrainer(DataDietTrainerMixin, Trainer):
    """A ``transformers.Trainer`` that trains each epoch on the examples chosen by ``diet``.

    Example::

        diet = DataDiet.nlu_data_diets(keep=0.5)       # the published protocol; DataDiet(keep=0.5): the default
        trainer = DataDietTrainer(diet=diet, model=model, args=args, train_dataset=train,
                                  data_collator=collator)
        trainer.train()                                 # later: trainer.train(resume_from_checkpoint=True)
    """


def refuse_plain_sft_trainer(cls: type) -> None:
    """Refuse ``class X(DataDietTrainerMixin, SFTTrainer)``: TRL's pipeline needs what
    ``DataDietSFTTrainer`` adds (ids numbered after TRL's tokenization, a collator that carries them
    and P3's actions, free scores from the fused LM head), without which P3 fails mid-run."""
    if getattr(cls, "_datadiet_sft_ready", False):
        return
    sft = next((c for c in cls.__mro__ if c.__name__ == "SFTTrainer" and c.__module__.startswith("trl")), None)
    if sft is not None:
        raise TypeError(
            f"{cls.__name__} composes DataDietTrainerMixin with TRL's SFTTrainer, which needs more than the mixin: "
            "the ids of the rows TRL tokenized, a collator that keeps them (and P3's actions) and free scores from "
            "TRL's fused LM head. Use datadiet.integrations.trl.DataDietSFTTrainer (the same arguments plus diet=), "
            f"or subclass it: class {cls.__name__}(DataDietSFTTrainer)"
        )


# -- checkpoints on disk --------------------------------------------------------------------------
_CHECKPOINT = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")


def _checkpoints(output_dir: str | os.PathLike) -> list[Path]:
    """Checkpoint folders of a run, newest (highest step) first."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and _CHECKPOINT.match(p.name)]
    return sorted(found, key=lambda p: int(_CHECKPOINT.match(p.name).group(1)), reverse=True)


def _trainer_state_complete(folder: str | os.PathLike) -> bool:
    try:
        with open(Path(folder) / TRAINER_STATE_NAME) as f:
            json.load(f)
    except (OSError, ValueError):
        return False
    return True


def is_complete_checkpoint(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` has a readable ``trainer_state.json`` (transformers writes it after the model,
    optimizer and RNG files) and a loadable diet state."""
    if not _trainer_state_complete(folder):
        return False
    try:
        load_diet_state(folder)
    except DietStateError:
        return False
    return True


def latest_complete_checkpoint(output_dir: str | os.PathLike) -> str | None:
    """The newest checkpoint of ``output_dir`` that can be resumed from (None if there is none);
    incomplete ones (a run killed while saving) are skipped with a warning."""
    for folder in _checkpoints(output_dir):
        if is_complete_checkpoint(folder):
            return str(folder)
        logger.warning("skipping %s: incomplete (the run was killed while saving it)", folder)
    return None


def _resume_hint(folder: str | os.PathLike) -> str:
    folder = Path(folder)
    match = _CHECKPOINT.match(folder.name)
    step = int(match.group(1)) if match else None
    previous = [p for p in _checkpoints(folder.parent) if step is not None
                and int(_CHECKPOINT.match(p.name).group(1)) < step and is_complete_checkpoint(p)]
    if previous:
        return (f"resume from the previous complete checkpoint, {previous[0]} "
                "(or pass resume_from_checkpoint=True to pick the latest complete one)")
    return "no earlier complete checkpoint exists: restart training without resume_from_checkpoint"
