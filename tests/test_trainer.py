"""DataDietTrainer with the real transformers Trainer: plan, logs, columns, checkpoints, resume."""

import os

import numpy as np
import pytest
import torch
from transformers import TrainingArguments

from datadiet import DataDiet, DataDietTrainer
from datadiet.integrations.trainer import DIET_STATE_FILE
from helpers import pad_collate, tiny_classifier, toy_classification_dataset


def make_args(tmp_path, **kw):
    base = dict(output_dir=str(tmp_path), num_train_epochs=4, per_device_train_batch_size=16, learning_rate=3e-3,
                logging_strategy="epoch", save_strategy="no", report_to=[], disable_tqdm=True, use_cpu=True, seed=0)
    base.update(kw)
    return TrainingArguments(**base)


def dataset_with_text(n=120):
    ds = toy_classification_dataset(n)
    return ds.add_column("text", [f"row {i}" for i in range(n)])  # an unused column the Trainer removes


@pytest.mark.parametrize("diet_factory", [
    lambda: DataDiet(keep=0.5, progress=False),
    lambda: DataDiet.nlu_data_diets(keep=0.3, progress=False),
    lambda: DataDiet.random(keep=0.25),
])
def test_steps_kept_fraction_and_logs_follow_the_plan(tmp_path, diet_factory):
    diet = diet_factory()
    ds = dataset_with_text()
    trainer = DataDietTrainer(diet=diet, model=tiny_classifier(), args=make_args(tmp_path), train_dataset=ds,
                              data_collator=pad_collate)
    trainer.train()
    planned = diet.planned_steps(batch_size=16)
    assert trainer.state.global_step == planned == trainer.state.max_steps
    assert [r["kept"] for r in diet.log] == diet.kept_counts()
    logged = [h for h in trainer.state.log_history if "datadiet/kept" in h]
    assert [h["datadiet/kept"] for h in logged] == diet.kept_counts()
    assert all("datadiet/scoring_seconds" in h and "datadiet/selection_seconds" in h for h in logged)
    # logging_strategy="epoch": the training loss of every epoch is logged, as the plain Trainer logs it
    # (the diet's own log at an epoch's end must not swallow the loss log the Trainer has pending)
    assert [h["epoch"] for h in trainer.state.log_history if "loss" in h] == [1.0, 2.0, 3.0, 4.0]
    # every kept example of every epoch was trained on, so observed: counts add up
    assert diet.history.count.sum() >= sum(diet.kept_counts())
    # the LR schedule (linear decay) ends at zero at the planned step
    assert trainer.lr_scheduler.get_last_lr()[0] == pytest.approx(0.0, abs=1e-9)


def test_infobatch_weights_reach_the_loss(tmp_path):
    diet = DataDiet.infobatch(prune_ratio=0.5)
    trainer = DataDietTrainer(diet=diet, model=tiny_classifier(), args=make_args(tmp_path, num_train_epochs=3),
                              train_dataset=toy_classification_dataset(96), data_collator=pad_collate)
    trainer.train()
    assert diet.log[0]["kept"] == 96 and diet.log[1]["kept"] < 96  # epoch 0 nothing scored; then soft pruning
    assert trainer.state.global_step == sum(-(-r["kept"] // 16) for r in diet.log)


def test_missing_example_id_is_refused(tmp_path):
    ds = toy_classification_dataset(32).remove_columns("example_id")
    with pytest.raises(ValueError, match="example_id"):
        DataDietTrainer(diet=DataDiet(), model=tiny_classifier(), args=make_args(tmp_path), train_dataset=ds,
                        data_collator=pad_collate)


def test_evaluation_ignores_example_ids(tmp_path):
    ds = toy_classification_dataset(48)
    trainer = DataDietTrainer(diet=DataDiet(keep=0.5), model=tiny_classifier(), args=make_args(tmp_path, num_train_epochs=2),
                              train_dataset=ds, eval_dataset=ds, data_collator=pad_collate)
    metrics = trainer.evaluate()
    assert np.isfinite(metrics["eval_loss"])
    assert trainer.diet.history.count.sum() == 0  # evaluation batches are never observed


@pytest.mark.parametrize("save_strategy,resume_step", [("epoch", None), ("steps", 9)])
def test_resume_from_checkpoint_gives_the_same_selections(tmp_path, save_strategy, resume_step):
    ds = toy_classification_dataset(120)
    kw = dict(num_train_epochs=5, save_strategy=save_strategy)
    if save_strategy == "steps":
        kw["save_steps"] = resume_step  # 9 = mid-epoch 1 (8 steps in epoch 0, 4 per pruned epoch)

    def make(out, diet):
        return DataDietTrainer(diet=diet, model=tiny_classifier(), args=make_args(out, **kw), train_dataset=ds,
                               data_collator=pad_collate)

    full_run = make(tmp_path / "a", DataDiet(keep=0.5, rescore_fraction=0.2, progress=False))
    full_run.train()
    reference = full_run.diet.kept_matrix()
    ckpts = sorted((tmp_path / "a").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    ckpt = ckpts[1] if save_strategy == "epoch" else ckpts[0]
    assert (ckpt / DIET_STATE_FILE).is_file()

    resumed = make(tmp_path / "b", DataDiet(keep=0.5, rescore_fraction=0.2, progress=False))
    resumed.train(resume_from_checkpoint=str(ckpt))
    np.testing.assert_array_equal(resumed.diet.kept_matrix(), reference)
    np.testing.assert_allclose(resumed.diet.history.latest, full_run.diet.history.latest, rtol=1e-5)
    assert resumed.state.global_step == full_run.state.global_step
    for p_a, p_b in zip(full_run.model.parameters(), resumed.model.parameters()):
        torch.testing.assert_close(p_a, p_b, rtol=1e-4, atol=1e-5)


def test_class_balanced_reads_the_labels_from_the_train_dataset(tmp_path):
    ds = toy_classification_dataset(48)
    diet = DataDiet(keep=0.25, class_balanced=True, progress=False)
    args = TrainingArguments(str(tmp_path), num_train_epochs=3, per_device_train_batch_size=8, save_strategy="no",
                             report_to=[], disable_tqdm=True, use_cpu=True, logging_strategy="no")
    DataDietTrainer(diet=diet, model=tiny_classifier(), args=args, train_dataset=ds, data_collator=pad_collate).train()
    labels = np.array(ds["labels"])
    per_class = np.bincount(labels, minlength=3)
    for row in diet.kept_matrix()[1:]:  # each pruned epoch keeps a quarter of every class (largest remainder)
        kept = np.bincount(labels[row], minlength=3)
        assert kept.sum() == 12 and (np.abs(kept - per_class / 4) < 1).all()


def test_logged_counts_are_ints_and_scoring_bars_follow_disable_tqdm(tmp_path):
    ds = toy_classification_dataset(48)
    diet = DataDiet(keep=0.5)
    assert diet.settings.progress
    args = TrainingArguments(str(tmp_path), num_train_epochs=2, per_device_train_batch_size=8, save_strategy="no",
                             report_to=[], disable_tqdm=True, use_cpu=True, logging_strategy="epoch")
    trainer = DataDietTrainer(diet=diet, model=tiny_classifier(), args=args, train_dataset=ds, data_collator=pad_collate)
    assert not diet.settings.progress
    trainer.train()
    logged = [h for h in trainer.state.log_history if "datadiet/kept" in h]
    assert [h["datadiet/kept"] for h in logged] == [48, 24]
    assert all(type(h["datadiet/kept"]) is int and type(h["datadiet/epoch"]) is int for h in logged)
    assert all(isinstance(h["datadiet/scoring_seconds"], float) for h in logged)


def test_training_again_starts_the_diet_over_with_the_current_arguments(tmp_path):
    """trainer.train() a second time (a notebook, a hyperparameter search's next trial) is a new run
    from step 0: the diet starts over, planned for the arguments of that run."""
    ds = toy_classification_dataset(96)
    diet = DataDiet(keep=0.5, progress=False)
    # model_init, as a hyperparameter search uses: every train() builds the model and the optimizer
    # anew after seeding, so a second run with the same arguments is the same run
    trainer = DataDietTrainer(diet=diet, model_init=lambda: tiny_classifier(), args=make_args(tmp_path, num_train_epochs=3),
                              train_dataset=ds, data_collator=pad_collate)
    trainer.train()
    first = diet.kept_matrix().copy()
    trainer.train()
    assert len(diet.log) == 3 and (diet.kept_matrix() == first).all()
    assert diet.history.count.sum() == first.sum() + sum(r["scored"] for r in diet.log)  # nothing of run 1 left
    trainer.args.num_train_epochs = 5  # a searched hyperparameter
    trainer.train()
    assert [r["kept"] for r in diet.log] == diet.kept_counts() == [96, 48, 48, 48, 48]
    assert trainer.state.global_step == diet.planned_steps(batch_size=16)


def test_reset_forgets_the_run_but_not_the_task():
    diet = DataDiet.p3(budget=4, num_epochs=3, task="causal_lm")
    diet.setup(20)
    diet.history.update(np.arange(5), np.ones(5), 0, 0)
    diet.strategy.load_state_dict({"previous_difficulty": np.ones(20)})
    diet.epoch = 1
    diet.feature_store.update(np.arange(20), np.ones((20, 3), np.float32))
    diet.reset(num_examples=30)
    assert diet.num_examples == 30 and diet.epoch == -1 and diet.features is None and diet.log == []
    assert diet.history.count.sum() == 0 and diet.strategy.state_dict() == {}
    assert diet.adapter.task == "causal_lm" and len(diet.selection) == 30
    with pytest.raises(ValueError, match="configured for 3 epochs"):
        diet.reset(num_epochs=4)  # num_epochs=3 was the user's own setting
