"""Training batches that never reach the diet (a compute_loss override without super(), a collator
that drops the ids) are detected after the first optimizer step; the example-id column can have
another name; the plain mixin over TRL's SFTTrainer is refused at construction."""

import logging

import pytest
import torch
from transformers import TrainingArguments

from datadiet import DataDiet, DataDietTrainer
from datadiet.integrations.loss_path import LossPathError
from helpers import pad_collate, tiny_classifier, toy_classification_dataset


def make_args(tmp_path, **kw):
    base = dict(output_dir=str(tmp_path), num_train_epochs=3, per_device_train_batch_size=16, learning_rate=3e-3,
                logging_strategy="no", save_strategy="no", report_to=[], disable_tqdm=True, use_cpu=True, seed=0)
    base.update(kw)
    return TrainingArguments(**base)


class OwnLossTrainer(DataDietTrainer):
    """A user's Trainer subclass that computes the loss itself and never calls super().compute_loss."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], labels=inputs["labels"])
        return (outputs.loss, outputs) if return_outputs else outputs.loss


class OwnLossThroughTheDiet(DataDietTrainer):
    """The fix the error names: its own loss, handed to the diet's loss path."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        inputs = dict(inputs)
        ids = inputs.pop("example_id")
        inputs.pop("action_ids", None)
        outputs = model(**inputs)
        loss = self.diet.training_loss(ids, outputs, inputs, loss=outputs.loss)
        return (loss, outputs) if return_outputs else loss


def drop_ids_collate(rows):
    batch = pad_collate(rows)
    batch.pop("example_id", None)
    return batch


@pytest.mark.parametrize("diet_factory", [
    lambda: DataDiet(keep=0.5, progress=False),                      # the default: free scores go stale
    lambda: DataDiet.infobatch(prune_ratio=0.5, progress=False),     # never prunes, applies no weights
], ids=["default", "infobatch"])
def test_an_override_without_super_stops_after_the_first_step_naming_what_to_call(tmp_path, diet_factory):
    trainer = OwnLossTrainer(diet=diet_factory(), model=tiny_classifier(), args=make_args(tmp_path),
                             train_dataset=toy_classification_dataset(96), data_collator=pad_collate)
    with pytest.raises(LossPathError, match=r"OwnLossTrainer\.compute_loss does not call super\(\)\.compute_loss") as info:
        trainer.train()
    assert trainer.state.global_step == 1  # at once, not after hours on stale selections
    assert "self.diet.training_loss(ids, outputs, inputs, loss=loss)" in str(info.value)


def test_the_fix_the_error_names_trains_and_records_free_scores(tmp_path):
    diet = DataDiet(keep=0.5, progress=False)
    trainer = OwnLossThroughTheDiet(diet=diet, model=tiny_classifier(), args=make_args(tmp_path),
                                    train_dataset=toy_classification_dataset(96), data_collator=pad_collate)
    trainer.train()
    assert trainer.state.global_step == diet.planned_steps(batch_size=16)
    assert diet.history.count.sum() >= sum(diet.kept_counts())  # every trained example observed


@pytest.mark.parametrize("diet_factory", [
    lambda: DataDiet.full(), lambda: DataDiet.random(keep=0.5),
    lambda: DataDiet.nlu_data_diets(keep=0.5, progress=False),  # the published protocol: passes score everything
], ids=["full", "random", "nlu_data_diets"])
def test_methods_that_read_nothing_from_training_steps_are_not_bothered(tmp_path, diet_factory, caplog):
    diet = diet_factory()
    trainer = OwnLossTrainer(diet=diet, model=tiny_classifier(), args=make_args(tmp_path),
                             train_dataset=toy_classification_dataset(96), data_collator=pad_collate)
    with caplog.at_level(logging.WARNING):
        trainer.train()  # neither the loss-path check nor the end-of-epoch check of trained examples raises
    assert trainer.state.global_step == diet.planned_steps(batch_size=16)
    assert [r["kept"] for r in diet.log] == diet.kept_counts()
    assert not [r for r in caplog.records if r.name.startswith("datadiet")]  # no warning either


def test_a_collator_that_drops_the_ids_is_named(tmp_path):
    trainer = DataDietTrainer(diet=DataDiet(keep=0.5, progress=False), model=tiny_classifier(),
                              args=make_args(tmp_path), train_dataset=toy_classification_dataset(64),
                              data_collator=drop_ids_collate)
    with pytest.raises(LossPathError, match="carry no 'example_id' column.*DietCollator"):
        trainer.train()


# -- the example-id column's name ------------------------------------------------------------------
def test_a_dataset_whose_id_column_has_another_name_trains(tmp_path):
    ds = toy_classification_dataset(96).rename_column("example_id", "idx")
    ds = ds.add_column("example_id", [f"ext-{i}" for i in range(96)])  # the user's own ids, of another meaning

    def collate(rows):
        # pad_collate would turn an "example_id" in the rows into a tensor: the user's string ids must be
        # removed as an unused column, like any other the model does not take
        batch = pad_collate(rows)
        batch["idx"] = torch.tensor([r["idx"] for r in rows])
        return batch

    diet = DataDiet(keep=0.5, progress=False, example_id_column="idx")
    trainer = DataDietTrainer(diet=diet, model=tiny_classifier(), args=make_args(tmp_path),
                              train_dataset=ds, data_collator=collate)
    trainer.train()
    assert trainer.state.global_step == diet.planned_steps(batch_size=16)
    assert diet.history.count.sum() >= sum(diet.kept_counts())  # free scores recorded under the ids in "idx"
    assert sum(r["scored"] for r in diet.log) > 0  # the scoring passes ran with "idx" kept out of the forward
    assert "idx" in trainer._diet_columns and "example_id" not in trainer._diet_columns


def test_the_id_column_name_is_checked_and_named_in_messages(tmp_path):
    ds = toy_classification_dataset(32)
    with pytest.raises(ValueError, match="no `idx` column.*with_example_ids\\(ds, column='idx'\\)"):
        DataDietTrainer(diet=DataDiet(example_id_column="idx"), model=tiny_classifier(), args=make_args(tmp_path),
                        train_dataset=ds, data_collator=pad_collate)
    with pytest.raises(ValueError, match="example_id_column='input_ids'"):
        DataDiet(example_id_column="input_ids")
    shuffled = ds.rename_column("example_id", "idx").shuffle(seed=0)
    with pytest.raises(ValueError, match="idx is not the row position"):
        DataDietTrainer(diet=DataDiet(example_id_column="idx"), model=tiny_classifier(), args=make_args(tmp_path),
                        train_dataset=shuffled, data_collator=pad_collate)


# -- the mixin over TRL's SFTTrainer -------------------------------------------------------------
def test_the_plain_mixin_over_sft_trainer_is_refused_at_construction(tmp_path):
    pytest.importorskip("trl")
    from trl import SFTTrainer

    from datadiet import DataDietTrainerMixin
    from datadiet.integrations.trl import DataDietSFTTrainer
    from lm_helpers import chat_tokenizer, sft_args, sft_dataset, tiny_llama

    class MySFTTrainer(DataDietTrainerMixin, SFTTrainer):
        pass

    tok = chat_tokenizer()
    with pytest.raises(TypeError, match=r"Use datadiet\.integrations\.trl\.DataDietSFTTrainer.*"
                                        r"class MySFTTrainer\(DataDietSFTTrainer\)"):
        MySFTTrainer(model=tiny_llama(tok), args=sft_args(tmp_path), train_dataset=sft_dataset("prompt_completion", 8),
                     processing_class=tok, diet=DataDiet.p3(budget=4, progress=False))

    class MyOwnSFTTrainer(DataDietSFTTrainer):  # what the message says: a subclass is accepted
        pass

    trainer = MyOwnSFTTrainer(model=tiny_llama(tok), args=sft_args(tmp_path), processing_class=tok,
                              train_dataset=sft_dataset("prompt_completion", 8), diet=DataDiet.p3(budget=4, progress=False))
    assert "action_ids" in trainer.data_collator(
        [trainer.train_dataset[i] for i in range(2)])  # P3's actions reach the batches
