"""Runs given in optimizer steps (``max_steps``), as many LLM users train: the diet plans the fewest
epochs whose steps reach it, the last epoch ends partway, and the LR schedule spans max_steps."""

import pytest
from transformers import TrainingArguments

from datadiet import BatchLayout, DataDiet, DataDietTrainer
from helpers import pad_collate, tiny_classifier, toy_classification_dataset


def test_epochs_for_steps_by_hand():
    diet = DataDiet(keep=0.5)  # 1 warm-up epoch on all 48, then 24 a epoch
    layout = BatchLayout(8)
    # one epoch leaves nothing to prune (the diet refuses that plan); then 6 + 3 a epoch: 9, 12, 15
    assert [diet.epochs_for_steps(48, s, layout) for s in (1, 6, 7, 9, 10, 12, 13)] == [2, 2, 2, 2, 3, 3, 4]
    # a method that cannot plan one epoch (two warm-up epochs and a pruned one) plans more
    assert DataDiet(keep=0.5, warmup_epochs=2).epochs_for_steps(48, 1, layout) == 3
    with pytest.raises(ValueError, match="max_steps must be an int >= 1"):
        diet.epochs_for_steps(48, 0, layout)


@pytest.mark.parametrize("make", [lambda: DataDiet(keep=0.5, progress=False),
                                  lambda: DataDiet.nlu_data_diets(keep=0.5, progress=False),
                                  lambda: DataDiet.random(keep=0.5),
                                  lambda: DataDiet.infobatch(prune_ratio=0.5, progress=False)])
def test_a_trainer_run_by_max_steps_stops_there_with_the_schedule_at_its_end(tmp_path, make):
    diet = make()
    args = TrainingArguments(str(tmp_path), max_steps=10, per_device_train_batch_size=8, learning_rate=1e-2,
                             lr_scheduler_type="linear", report_to=[], save_strategy="no", disable_tqdm=True,
                             use_cpu=True, logging_steps=1)
    trainer = DataDietTrainer(diet=diet, model=tiny_classifier(), args=args, train_dataset=toy_classification_dataset(48),
                              data_collator=pad_collate)
    trainer.train()
    assert trainer.state.global_step == trainer.state.max_steps == 10
    assert diet.schedule.num_epochs == len(diet.log) >= 2  # every epoch the plan has was begun
    assert trainer.lr_scheduler.get_last_lr()[0] == pytest.approx(0.0, abs=1e-12)  # linear decay ended at step 10
    lrs = [h["learning_rate"] for h in trainer.state.log_history if "learning_rate" in h]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] > 0  # decaying over the 10 steps, not a longer schedule


@pytest.mark.parametrize("method", ["default", "full", "random"])
def test_a_time_budget_beside_max_steps_is_refused_it_would_save_nothing(tmp_path, method):
    # planned by steps, the diet would grow the epochs until the pruned plan reaches max_steps again
    args = TrainingArguments(str(tmp_path), max_steps=10, per_device_train_batch_size=8, report_to=[],
                             save_strategy="no", disable_tqdm=True, use_cpu=True)
    with pytest.raises(ValueError, match="max_steps=10 fixes the steps trained, so the budget would change nothing"):
        DataDietTrainer(diet=DataDiet(method=method, time_budget=0.5, progress=False), model=tiny_classifier(),
                        args=args, train_dataset=toy_classification_dataset(48), data_collator=pad_collate)


def test_resuming_a_max_steps_run_with_other_max_steps_is_refused(tmp_path):
    def trainer(max_steps, diet):
        args = TrainingArguments(str(tmp_path), max_steps=max_steps, per_device_train_batch_size=8, report_to=[],
                                 save_strategy="steps", save_steps=4, disable_tqdm=True, use_cpu=True)
        return DataDietTrainer(diet=diet, model=tiny_classifier(), args=args,
                               train_dataset=toy_classification_dataset(48), data_collator=pad_collate)

    trainer(10, DataDiet(keep=0.5, progress=False)).train()
    with pytest.raises(ValueError, match="planned for 3 epochs, this one for 4: resume with num_train_epochs=3 .or the max_steps"):
        trainer(14, DataDiet(keep=0.5, progress=False)).train(resume_from_checkpoint=str(tmp_path / "checkpoint-8"))


def test_trl_sft_by_max_steps_with_p3(tmp_path):
    from lm_helpers import chat_tokenizer, sft_args, sft_dataset, tiny_llama

    from datadiet.integrations.trl import DataDietSFTTrainer

    tok = chat_tokenizer()
    diet = DataDiet.p3(budget=10, progress=False)  # 10 of 30 an epoch: 3 steps of 4
    trainer = DataDietSFTTrainer(model=tiny_llama(tok), args=sft_args(tmp_path, max_steps=7), processing_class=tok,
                                 train_dataset=sft_dataset("prompt_completion", 30), diet=diet)
    trainer.train()
    assert trainer.state.global_step == 7 and diet.schedule.num_epochs == 3 and [r["kept"] for r in diet.log] == [10] * 3


def test_a_plan_printed_first_changes_nothing_the_trainer_sets_the_diet_up_for_the_run(tmp_path):
    """The README's ``print(diet.plan(len(train), 10))`` before training: for other epochs than the
    run's (or a run given in max_steps) the trainer still sets the diet up for the run it has."""
    diet = DataDiet(keep=0.5, progress=False)
    asked = diet.plan(48, 5)  # planned for 5 epochs; the run below is 10 steps
    assert diet.num_examples is None and len(asked.epochs) == 5
    args = TrainingArguments(str(tmp_path), max_steps=10, per_device_train_batch_size=8, report_to=[],
                             save_strategy="no", disable_tqdm=True, use_cpu=True)
    trainer = DataDietTrainer(diet=diet, model=tiny_classifier(), args=args, train_dataset=toy_classification_dataset(48),
                              data_collator=pad_collate)
    trainer.train()
    assert trainer.state.global_step == 10 and diet.num_epochs == 3  # 6 + 3 = 9 steps < 10 <= 6 + 3 + 3
    # once set up, the diet's own plan for its sizes is the run's, and other sizes are a hypothetical
    assert [e.trained for e in diet.plan(48, 3).epochs] == diet.kept_counts() == [48, 24, 24]
    assert len(diet.plan(48, 6).epochs) == 6 and diet.num_epochs == 3
    assert diet.plan(48) == diet.plan(48, 3)  # set up: its own epochs, as begin_epoch's hint prints it


def test_resuming_with_other_max_steps_that_plan_the_same_epochs_is_refused_too(tmp_path):
    """13 and 15 steps both plan 4 epochs (6 + 3 + 3 = 12 < 13 <= 15), but the LR schedule spans the
    steps given: a resume with 15, or in epochs, would mix two runs; with 13 it continues."""
    def trainer(diet, **run):
        args = TrainingArguments(str(tmp_path), per_device_train_batch_size=8, report_to=[], save_strategy="steps",
                                 save_steps=5, disable_tqdm=True, use_cpu=True, **run)
        return DataDietTrainer(diet=diet, model=tiny_classifier(), args=args,
                               train_dataset=toy_classification_dataset(48), data_collator=pad_collate)

    trainer(DataDiet(keep=0.5, progress=False), max_steps=13).train()
    checkpoint = str(tmp_path / "checkpoint-10")
    with pytest.raises(ValueError, match="given max_steps=13, this one max_steps=15: the learning-rate schedule"):
        trainer(DataDiet(keep=0.5, progress=False), max_steps=15).train(resume_from_checkpoint=checkpoint)
    with pytest.raises(ValueError, match=r"given max_steps=13, this one its epochs \(max_steps unset\)"):
        trainer(DataDiet(keep=0.5, progress=False), num_train_epochs=4).train(resume_from_checkpoint=checkpoint)
    resumed = trainer(DataDiet(keep=0.5, progress=False), max_steps=13)
    resumed.train(resume_from_checkpoint=checkpoint)
    assert resumed.state.global_step == 13


def test_a_second_train_with_other_max_steps_saves_them_and_resumes(tmp_path):
    """A notebook's second ``train()`` (or a search's trial) after ``args.max_steps`` changed: its
    checkpoints carry the new steps, so a fresh trainer with them resumes."""
    def args(max_steps):
        return TrainingArguments(str(tmp_path), max_steps=max_steps, per_device_train_batch_size=8, report_to=[],
                                 save_strategy="steps", save_steps=5, disable_tqdm=True, use_cpu=True)

    trainer = DataDietTrainer(diet=DataDiet(keep=0.5, progress=False), model=tiny_classifier(), args=args(10),
                              train_dataset=toy_classification_dataset(48), data_collator=pad_collate)
    trainer.train()
    trainer.args.max_steps = 13
    trainer.train()
    assert trainer.state.global_step == 13 and trainer.diet.contract().max_steps == 13
    resumed = DataDietTrainer(diet=DataDiet(keep=0.5, progress=False), model=tiny_classifier(), args=args(13),
                              train_dataset=toy_classification_dataset(48), data_collator=pad_collate)
    resumed.train(resume_from_checkpoint=str(tmp_path / "checkpoint-10"))
    assert resumed.state.global_step == 13
