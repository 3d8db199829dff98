"""TRL integration: ``DataDietSFTTrainer``, TRL's ``SFTTrainer`` that prunes as it trains.

Use it where you would use ``trl.SFTTrainer``, with the same datasets (plain text, prompt /
completion, conversational ``messages``), TRL's own tokenization and collator, completion-only or
assistant-only loss, and LoRA (``peft_config=`` or a ``peft.get_peft_model`` model)::

    from datadiet import DataDiet
    from datadiet.integrations.trl import DataDietSFTTrainer

    trainer = DataDietSFTTrainer(model=model, args=SFTConfig(..., num_train_epochs=3),
                                 train_dataset=dataset, processing_class=tokenizer,
                                 diet=DataDiet(keep=0.5))          # or DataDiet.p3(budget=0.5)
    trainer.train()

What it adds to :class:`~datadiet.integrations.trainer.DataDietTrainerMixin` for TRL:

- ``example_id`` is the row's position in the train set *as TRL prepared it* (after tokenization,
  truncation and the dropping of fully-masked rows); no column is needed in your dataset;
- TRL's collator is wrapped in a :class:`~datadiet.integrations.collator.DietCollator`, so ids
  (and, for P3, each token's action, derived from the token ids: a new action after every token
  containing a newline) reach the training step;
- free scores are read from the training step's own forward pass, whose fused LM head gives the
  gold tokens' log-probabilities (no logits are built, no extra forward is run).

Refused at construction, each with what to do: packing and padding-free batches (they merge
examples), an ``IterableDataset`` or a vision dataset, a score that needs the full logits, a
collator that reorders or merges examples.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from datadiet._extras import require

require("trl", extra="trl", purpose="DataDietSFTTrainer")
from trl import SFTTrainer  # noqa: E402

from datadiet.adapters import CAUSAL_LM, TaskAdapter
from datadiet.diet import DataDiet
from datadiet.integrations.collator import DietCollator, check_collated_rows
from datadiet.integrations.trainer import DataDietTrainerMixin
from datadiet.llm.fused_head import FUSED_HEAD_SCORES, FusedLMHeadAdapter
from datadiet.llm.token_actions import token_classes
from datadiet.scores import get_score
from datadiet.scoring_pass import split_diet_columns
from datadiet.utils import EXAMPLE_ID_COLUMN

__all__ = ["DataDietSFTTrainer", "number_examples", "sft_score_name"]


def sft_score_name(diet: DataDiet) -> str:
    """The score a diet records in SFT (``auto`` is the causal-LM default, ``token_nll``); raises
    ``ValueError`` if it needs logits, which TRL's fused LM head never builds."""
    name = diet.strategy.score_name
    if name == "auto":
        name = TaskAdapter(CAUSAL_LM).default_score
    if name not in FUSED_HEAD_SCORES:  # score="forgetting" records the loss: refused here too
        method = " (InfoBatch records the loss)" if diet.strategy.method == "infobatch" else ""
        raise ValueError(
            f"score {name!r}{method} needs the model's full logits, but TRL's SFTTrainer trains through a fused LM "
            "head that returns only the gold tokens' log-probabilities. Use a score read from those: "
            f"{', '.join(FUSED_HEAD_SCORES)} (DataDiet(keep=...) uses token_nll; DataDiet.p3(...) policy_difficulty)"
        )
    return name


def number_examples(dataset, column: str = EXAMPLE_ID_COLUMN):
    """``dataset`` with ``example_id`` (or ``column``) = the row position 0..N-1 (added if absent; an
    existing column must already be exactly that)."""
    n = len(dataset)
    if column in dataset.column_names:
        ids = np.asarray(dataset[column])
        if ids.dtype.kind not in "iu":
            kind = {"U": "string", "S": "bytes", "O": "object", "f": "float", "b": "bool"}.get(ids.dtype.kind, ids.dtype.name)
            raise ValueError(f"the train set's `{column}` column holds {kind} values (row 0: {ids[0].item()!r}), "
                             "not integer row positions. DataDietSFTTrainer numbers the rows itself: remove the "
                             "column, or rename it if it holds ids of your own")
        if len(ids) and ids.min() >= 0 and n <= ids.max() < 2 * n and np.all(np.diff(ids) > 0):
            # increasing positions with gaps, a few past the end: a 0..N-1 numbering TRL thinned out
            raise ValueError(f"the train set's `{column}` column runs up to {ids.max().item()} for {n} rows after TRL "
                             "prepared it: TRL's preparation dropped rows (e.g. ones with nothing left to train on), "
                             "so the ids are no longer the row positions. DataDietSFTTrainer numbers the rows itself: "
                             "remove the column, or rename it if it holds ids of your own")
        if not np.array_equal(ids, np.arange(n)):
            row = int(np.flatnonzero(ids != np.arange(n))[0])
            reordered = " (the same ids in another order: the rows were shuffled after they were numbered)" if (
                np.array_equal(np.sort(ids), np.arange(n))) else ""
            raise ValueError(
                f"the train set has an `{column}` column that is not the row position: row {row} holds "
                f"{ids[row].item()!r}, where datadiet needs {row} (positions 0..{n - 1}){reordered}. DataDietSFTTrainer "
                "numbers the rows itself: remove the column, or rename it if it holds ids of your own"
            )
        return dataset
    return dataset.add_column(column, list(range(n)))


def _tokenizer_of(processing_class):
    return getattr(processing_class, "tokenizer", processing_class)


class _SFTTrainerWithExampleIds(SFTTrainer):
    """``SFTTrainer`` whose prepared train set is numbered and whose collator carries the ids."""

    _datadiet_derive_actions = False
    _datadiet_sft_ready = True  # what DataDietTrainerMixin needs of an SFTTrainer (see refuse_plain_sft_trainer)
    _diet_id_column = EXAMPLE_ID_COLUMN

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.train_dataset = number_examples(self.train_dataset, self._diet_id_column)
        classes = None
        if self._datadiet_derive_actions and "action_ids" not in self.train_dataset.column_names:
            classes = token_classes(_tokenizer_of(self.processing_class))
        self.data_collator = DietCollator(self.data_collator, token_classes=classes, id_column=self._diet_id_column)


class DataDietSFTTrainer(DataDietTrainerMixin, _SFTTrainerWithExampleIds):
    """``trl.SFTTrainer`` that trains each epoch on the examples chosen by ``diet``.

    Takes every argument of ``trl.SFTTrainer`` plus ``diet=``. A run is given by a whole
    ``args.num_train_epochs`` or by ``max_steps`` (the fewest epochs that reach it, the last one
    partial): the diet plans the steps of every epoch.
    """

    def __init__(self, model, args=None, data_collator=None, train_dataset=None, *, diet: DataDiet, **kwargs: Any) -> None:
        if not isinstance(diet, DataDiet):
            raise TypeError(f"diet must be a datadiet.DataDiet, got {type(diet).__name__}")
        _check_sft_setup(args, train_dataset, diet)
        self._datadiet_derive_actions = "action_ids" in get_score(sft_score_name(diet)).requires
        super().__init__(model=model, args=args, data_collator=data_collator, train_dataset=train_dataset, diet=diet,
                         **kwargs)
        if self.diet.adapter.task != CAUSAL_LM:
            raise ValueError(f"DataDietSFTTrainer trains causal LMs, but the diet's task is {self.diet.adapter.task!r}")
        self.diet.use_adapter(FusedLMHeadAdapter())
        self._check_collated_rows()

    def _check_collated_rows(self) -> None:
        """Collate the first rows as the scoring pass will and check ids, rows and actions."""
        dataset, collator = self._diet_scoring_inputs()
        check_collated_rows(dataset, collator, need_actions="action_ids" in self.diet.score.requires,
                            id_column=self._diet_id_column)

    # -- loss ------------------------------------------------------------------------------
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """TRL's loss; in training, the same forward pass's gold-token log-probabilities are the
        batch's free scores (read by a forward hook, so TRL's loss code runs unchanged)."""
        model_inputs, diet_inputs = split_diet_columns(inputs, self._diet_id_column)
        sft_loss = super(DataDietTrainerMixin, self).compute_loss
        if not model.training or "example_id" not in diet_inputs:
            self._diet_batches_without_ids += int(model.training)
            return sft_loss(model, model_inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
        forwards = []
        handle = model.register_forward_hook(lambda module, args, output: forwards.append(output))
        try:
            with self.diet.capture_features(model, model_inputs) as captured:
                result = sft_loss(model, model_inputs, return_outputs=return_outputs,
                                  num_items_in_batch=num_items_in_batch)
        finally:
            handle.remove()
        loss, outputs = result if return_outputs else (result, None)
        scored = _scored_forward(forwards)
        batch = {**model_inputs, **diet_inputs}
        ids = diet_inputs["example_id"]
        loss = self.diet.training_loss(ids, scored, batch, loss=loss, features=captured.get("features"))
        return (loss, outputs) if return_outputs else loss


def _scored_forward(forwards: list) -> Any:
    """The training forward's outputs to score: the last with per-token log-probabilities (TRL's
    fused LM head), else the last with logits (TRL releases without a fused head)."""
    for key in ("log_probs", "logits"):
        for out in reversed(forwards):
            if getattr(out, key, None) is not None or (isinstance(out, dict) and out.get(key) is not None):
                return out
    raise RuntimeError("SFTTrainer.compute_loss ran no forward pass that returned log_probs or logits")


def _check_sft_setup(args, train_dataset, diet: DataDiet) -> None:
    if args is not None:
        if getattr(args, "packing", False):
            raise ValueError("packing=True merges several examples into one sequence, so no example can be scored or "
                             "pruned on its own: set packing=False in the SFTConfig (padding to the batch's longest "
                             "example costs little with group_by_length)")
        if getattr(args, "padding_free", False):
            raise ValueError("padding_free=True flattens a batch into one row, so its examples cannot be scored one by "
                             "one: set padding_free=False in the SFTConfig")
    if train_dataset is None:
        raise ValueError("DataDietSFTTrainer needs a train_dataset")
    import datasets

    if isinstance(train_dataset, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        raise TypeError(f"DataDietSFTTrainer needs one split as its train_dataset, got a {type(train_dataset).__name__} "
                        f"of {', '.join(map(repr, train_dataset))}: pass train_dataset=ds['train'] (or load_dataset(..., "
                        "split='train'))")
    if not isinstance(train_dataset, datasets.Dataset):
        raise TypeError(f"DataDietSFTTrainer needs a datasets.Dataset (it selects rows by index each epoch), got "
                        f"{type(train_dataset).__name__}: materialise a streaming dataset with Dataset.from_list / "
                        "Dataset.from_generator")
    columns = set(train_dataset.column_names)
    if columns & {"image", "images"}:
        raise ValueError("vision-language datasets are not supported by DataDietSFTTrainer yet: train on text "
                         "(prompt/completion, messages or text columns)")
    if columns & {"chosen", "rejected"}:
        raise ValueError("a preference dataset (chosen/rejected) is for DPO-style trainers; SFT scores one "
                         "target per example: use prompt/completion, messages or text")
    sft_score_name(diet)
