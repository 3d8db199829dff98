"""Every use of ``transformers.Trainer`` internals by datadiet, in one place, with a version check.

Tested on transformers 4.57.1 and 5.23.0 (``constraints-oldest.txt``, ``constraints.txt``);
supported: ``>=4.57.1,<6``. Outside that range :func:`check_transformers_version` refuses to build a
``DataDietTrainer``, saying which versions to install.

The public hooks do most of the work (a ``TrainerCallback`` begins each diet epoch, ``create_scheduler``
builds the LR schedule, ``compute_loss``/``prediction_step`` handle the diet's columns). What no
public hook can do is here, in :class:`TrainerInternals`, reached by name, never by position:

- the training loop reads an epoch's number of batches before any callback of that epoch runs, and
  its resume arithmetic assumes every epoch has the same number of steps
  (``epochs_trained = global_step // num_update_steps_per_epoch``). With a diet, epochs differ.
  transformers has two loop layouts: the one-function loop (4.57 to 5.4: ``len(dataloader)`` is read
  at each epoch's start, so only the resume arithmetic needs help) and the split loop (5.5 on:
  ``_init_training_state`` and ``_run_epoch``, which receive the step counts as arguments);
- ``set_initial_training_values`` returns a tuple; its fields are read by the names its docstring
  lists, so a reordering fails loudly instead of silently;
- ``_save_checkpoint``: the diet state goes into the checkpoint folder *before* the model, the
  optimizer and ``trainer_state.json`` are written and before older checkpoints are rotated away;
- the columns the diet needs (``example_id``, ``action_ids``) survive ``remove_unused_columns``
  (``_set_signature_columns_if_needed``, ``_remove_unused_columns``,
  ``_get_collator_with_removed_columns``), and ``_get_train_sampler``, ``_train_batch_size``.
"""

from __future__ import annotations

import inspect
import os
import re
from typing import Any

from datadiet._extras import require

transformers = require("transformers", extra="hf", purpose="datadiet's Trainer integration")
from packaging.version import Version  # noqa: E402 - a dependency of transformers
from transformers import Trainer  # noqa: E402

try:  # the base class of model configs: renamed in transformers 5
    from transformers import PreTrainedConfig  # noqa: E402
except ImportError:  # transformers 4.57
    from transformers import PretrainedConfig as PreTrainedConfig  # noqa: E402
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR  # noqa: E402

OLDEST_SUPPORTED = "4.57.1"
FIRST_UNSUPPORTED_MAJOR = 6
TESTED = ("4.57.1", "5.23.0")


def check_transformers_version(version: str | None = None) -> None:
    """Raise ``RuntimeError`` unless ``version`` (default: the installed one) is in the supported range."""
    version = version or transformers.__version__
    v = Version(version)
    if v < Version(OLDEST_SUPPORTED) or v.major >= FIRST_UNSUPPORTED_MAJOR:
        raise RuntimeError(
            f"datadiet's DataDietTrainer supports transformers >={OLDEST_SUPPORTED},<{FIRST_UNSUPPORTED_MAJOR} "
            f"(tested: {', '.join(TESTED)}), but transformers {version} is installed. Install a supported one: "
            f'pip install "transformers>={OLDEST_SUPPORTED},<{FIRST_UNSUPPORTED_MAJOR}" '
            '(or pip install "datadiet[hf]" in a fresh environment)'
        )


SPLIT_LOOP = all(hasattr(Trainer, name) for name in ("_run_epoch", "_init_training_state"))
"""True for the split training loop (transformers 5.5 on), False for the one-function loop."""


def _training_value_names() -> tuple[str, ...]:
    doc = inspect.getdoc(Trainer.set_initial_training_values) or ""
    names = tuple(re.findall(r"^- `(\w+)`", doc, re.M))
    needed = {"num_train_epochs", "num_update_steps_per_epoch", "max_steps"}
    if not needed <= set(names):
        raise RuntimeError(
            f"transformers {transformers.__version__}: Trainer.set_initial_training_values no longer documents "
            f"{sorted(needed - set(names))}; this version is not supported by datadiet (tested: {', '.join(TESTED)})"
        )
    return names


TRAINING_VALUE_NAMES = _training_value_names()
"""The names of the fields ``Trainer.set_initial_training_values`` returns, in its order."""


def checkpoint_folder(trainer: Trainer, trial: Any) -> str:
    """The folder ``Trainer._save_checkpoint`` is about to write (``<run dir>/checkpoint-<step>``)."""
    return os.path.join(trainer._get_output_dir(trial=trial), f"{PREFIX_CHECKPOINT_DIR}-{trainer.state.global_step}")


def train_batch_size(trainer: Trainer) -> int:
    """The per-device batch size the Trainer's dataloader uses."""
    return int(trainer._train_batch_size)


def model_parallel_sizes(trainer: Trainer) -> dict[str, int]:
    """Tensor, context and sequence parallel sizes above 1 (ranks that share one batch), by name:
    the Trainer's own ``get_tp_size`` / ``get_cp_size`` / ``get_sp_size`` (transformers 5), else
    accelerate's ``parallelism_config``."""
    sizes = {}
    config = getattr(trainer.accelerator, "parallelism_config", None)
    for name in ("tp", "cp", "sp"):
        getter = getattr(trainer, f"get_{name}_size", None)
        size = getter() if callable(getter) else getattr(config, f"{name}_size", 1) or 1
        if int(size) > 1:
            sizes[f"{name}_size"] = int(size)
    return sizes


def batch_layout(trainer: Trainer):
    """The :class:`~datadiet.layout.BatchLayout` the Trainer's data loader runs under accelerate:
    per-device batches dealt over the data-parallel ranks (also with ``dispatch_batches``), or,
    with ``split_batches``, each batch split across them. Settings whose steps no plan can know
    are refused here, at construction, naming the setting."""
    from datadiet.layout import BatchLayout
    from datadiet.schedule import SHARD_BATCHES

    args, accelerator = trainer.args, trainer.accelerator
    world = max(int(args.world_size), 1)
    parallel = model_parallel_sizes(trainer)
    if parallel:
        said = ", ".join(f"{k}={v}" for k, v in parallel.items())
        raise ValueError(f"DataDietTrainer does not plan model-parallel runs yet ({said}): ranks that share a batch "
                         "would be counted as data-parallel ranks and the epochs' steps would be wrong; train with "
                         "data parallelism only (DDP, DeepSpeed ZeRO or FSDP)")
    if world > 1 and not getattr(accelerator, "even_batches", True):
        raise ValueError("accelerator_config even_batches=False lets ranks run different numbers of steps in an epoch, "
                         "which no plan of the diet's steps can match: leave even_batches=True (the default; the "
                         "last batches repeat a few examples so every rank steps together)")
    split = bool(getattr(accelerator, "split_batches", False)) and world > 1
    return BatchLayout(batch_size=train_batch_size(trainer), world_size=1 if split else world,
                       grad_accum=int(args.gradient_accumulation_steps), drop_last=bool(args.dataloader_drop_last),
                       sharding=SHARD_BATCHES, split_over=world if split else 1)


TRAIN_ORDERS = ("random", "sequential", "group_by_length")
"""The training-example orders a diet's sampler serves (shuffled, in id order, grouped by length)."""


def train_order(args) -> str:
    """The order ``args`` ask for: transformers 5's ``train_sampling_strategy`` (``"random"``,
    ``"sequential"``, ``"group_by_length"``, ``"batch_rebalance"``) or 4.x's ``group_by_length``
    flag. ``"batch_rebalance"`` (balancing padded tokens across ranks) is served as
    ``"group_by_length"``, the nearest order a diet's sampler gives."""
    order = getattr(args, "train_sampling_strategy", None)
    if order is None:  # transformers 4.x
        order = "group_by_length" if getattr(args, "group_by_length", False) else "random"
    if order == "batch_rebalance":
        return "group_by_length"
    if order not in TRAIN_ORDERS:
        raise ValueError(f"train_sampling_strategy {order!r} is not one a diet can serve ({', '.join(TRAIN_ORDERS)})")
    return order


def train_lengths(args, dataset):
    """Token count of every training example for grouping by length: the ``length_column_name``
    column when the dataset has one (as the Trainer reads it), else the length of ``input_ids``."""
    import numpy as np

    from datadiet.scoring_pass import example_lengths

    column = getattr(args, "length_column_name", "length")
    names = getattr(dataset, "column_names", None) or []
    if column in names:
        return np.asarray(dataset[column], dtype=np.int64)
    lengths = example_lengths(dataset)
    if lengths is None:
        raise ValueError(f"grouping by length needs a {column!r} or an 'input_ids' column in the train dataset")
    return lengths


def scoring_view(trainer: Trainer, dataset, collator):
    """``(dataset, collator)`` as the model sees them: the columns its forward does not take removed,
    the diet's columns kept (see :meth:`TrainerInternals._set_signature_columns_if_needed`)."""
    import datasets

    if isinstance(dataset, datasets.Dataset):
        return trainer._remove_unused_columns(dataset, description="Scoring"), collator
    return dataset, trainer._get_collator_with_removed_columns(collator, description="Scoring")


def restore_true_global_step(trainer: Trainer) -> None:
    """Undo :meth:`TrainerInternals._load_callback_state`'s position encoding (one-function loop),
    once the loop has read it: called from the diet callback's ``on_train_begin``."""
    true_step = trainer.__dict__.pop("_diet_true_global_step", None)
    if true_step is None:
        return
    trainer.state.global_step = true_step
    for name in ("_globalstep_last_logged", "_initial_global_step"):
        if hasattr(trainer, name):
            setattr(trainer, name, true_step)


class TrainerInternals:
    """The overrides of private ``Trainer`` methods. The class using it provides
    ``_diet_columns`` (names to keep), ``_diet_sampler()``, ``_diet_total_steps()``,
    ``_diet_position(global_step) -> (epoch, steps done in it)``, ``_diet_epoch_updates()``
    and ``_diet_save_state(folder)``."""

    # -- columns and sampler ------------------------------------------------------------------
    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        self._signature_columns = list(self._signature_columns) + [
            c for c in self._diet_columns if c not in self._signature_columns]

    def _get_train_sampler(self, *args: Any, **kwargs: Any):
        return self._diet_sampler()

    # -- the plan the loop sees ---------------------------------------------------------------
    def set_initial_training_values(self, *args: Any, **kwargs: Any):
        values = super().set_initial_training_values(*args, **kwargs)
        if len(values) != len(TRAINING_VALUE_NAMES):
            raise RuntimeError(f"transformers {transformers.__version__}: set_initial_training_values returned "
                               f"{len(values)} values but documents {len(TRAINING_VALUE_NAMES)}; not supported")
        named = dict(zip(TRAINING_VALUE_NAMES, values))
        total = self._diet_total_steps()
        named["max_steps"] = total  # the LR schedule and the progress bar span the diet's steps
        named["num_train_epochs"] = self.diet.schedule.num_epochs  # with max_steps: the diet's epochs, not full ones
        if "num_train_samples" in named:
            named["num_train_samples"] = self._diet_total_samples()
        if not SPLIT_LOOP:
            # the one-function loop divides the global step by this; see _load_callback_state
            self._diet_position_base = total + 1
            named["num_update_steps_per_epoch"] = self._diet_position_base
        return tuple(named[name] for name in TRAINING_VALUE_NAMES)

    # -- checkpoints ------------------------------------------------------------------------------
    def _save_checkpoint(self, model, trial) -> None:
        # first the diet state (atomic), then transformers' files; rotation comes last, so a kill at
        # any moment leaves the previous complete checkpoint in place
        self._diet_save_state(checkpoint_folder(self, trial))
        super()._save_checkpoint(model, trial)

    # -- resume and the epochs' lengths -----------------------------------------------------------
    if SPLIT_LOOP:
        def _init_training_state(self, *args: Any, **kwargs: Any):
            epochs_trained, steps_trained = super()._init_training_state(*args, **kwargs)
            if self.state.global_step > 0:  # resumed
                epochs_trained, updates_done = self._diet_position(self.state.global_step)
                steps_trained = 0 if self.args.ignore_data_skip else updates_done * self.args.gradient_accumulation_steps
            return epochs_trained, steps_trained

        def _run_epoch(self, *args: Any, **kwargs: Any):
            bound = inspect.signature(super()._run_epoch).bind(*args, **kwargs)
            batches = len(bound.arguments["train_dataloader"])  # the epoch's selection, begun by the callback
            bound.arguments["steps_in_epoch"] = batches
            bound.arguments["num_update_steps_per_epoch"] = self._diet_epoch_updates()
            return super()._run_epoch(*bound.args, **bound.kwargs)
    else:
        def _load_callback_state(self) -> None:
            # Called right after the checkpoint's TrainerState is loaded, just before the loop computes
            # epochs_trained = global_step // V and steps_trained = global_step % V (V = total + 1, see
            # set_initial_training_values). Encode the diet's true position as epoch * V + steps done;
            # the diet callback's on_train_begin puts the true global step back.
            super()._load_callback_state()
            true_step = self.state.global_step
            epoch, updates_done = self._diet_position(true_step)
            self._diet_true_global_step = true_step
            self.state.global_step = epoch * self._diet_position_base + updates_done

