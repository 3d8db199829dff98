"""Non-finite scores: a method that ranks by score stops at the training batch that produced a NaN
score, naming the ids, the epoch and the batch, and the run resumes from the last checkpoint; a
method that reads no score (full data, random) trains on."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from transformers import TrainingArguments

from datadiet import DataDiet, DataDietTrainer, ScoreHistory
from datadiet.history import SOURCE_PASS, NonFiniteScoreError
from helpers import pad_collate, tiny_classifier, toy_classification_dataset

POISON_TOKEN = 63  # only example POISONED holds it
POISONED = 7


def poisoned_dataset(n: int = 48):
    ds = toy_classification_dataset(n)
    rows = ds.to_dict()
    rows["input_ids"][POISONED] = [1, POISON_TOKEN] + rows["input_ids"][POISONED][2:]
    return type(ds).from_dict(rows)


def poison_logits(model, from_epoch: int, epoch_of, every_row: bool = False):
    """A forward hook that makes the logits (not the loss) of the poisoned example (or of every
    example) NaN from ``from_epoch`` on: the scores are NaN while training stays finite."""
    def hook(module, args, kwargs, output):
        if module.training and epoch_of() >= from_epoch:
            rows = (kwargs["input_ids"] == POISON_TOKEN).any(dim=1) | every_row
            logits = output.logits.clone()
            logits[rows] = float("nan")
            output.logits = logits
        return output

    return model.register_forward_hook(hook, with_kwargs=True)


def plain_loop(diet: DataDiet, epochs: int = 3, from_epoch: int = 1) -> DataDiet:
    ds = poisoned_dataset()
    model = tiny_classifier()
    poison_logits(model, from_epoch, lambda: diet.epoch)
    loader = DataLoader(ds, batch_size=8, sampler=diet.sampler(len(ds), epochs), collate_fn=pad_collate)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(epochs):
        diet.begin_epoch(epoch, model=model, dataset=ds, collate_fn=pad_collate)
        model.train()
        for batch in loader:
            ids = batch.pop("example_id")
            loss = diet.weighted_loss(ids, model(**batch), batch)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    diet.flush()
    return diet


@pytest.mark.parametrize("make", [lambda: DataDiet.full(), lambda: DataDiet.random(keep=0.5)])
def test_methods_that_read_no_score_train_through_a_nan_score(make):
    diet = plain_loop(make())
    assert [r["kept"] for r in diet.log] == ([48, 48, 48] if diet.strategy.method == "full" else [48, 24, 24])
    assert np.isfinite(diet.history.latest[np.arange(48) != POISONED]).all()  # the rest are recorded as ever


@pytest.mark.parametrize("make", [lambda: DataDiet(keep=0.5), lambda: DataDiet.infobatch(prune_ratio=0.5)])
def test_a_method_that_ranks_by_score_stops_at_the_batch_naming_the_ids(make):
    diet = make()
    with pytest.raises(NonFiniteScoreError, match=rf"example ids \[{POISONED}\] in training batch \d+ of epoch 0 ") as info:
        plain_loop(diet, from_epoch=0)
    assert "resume from the last checkpoint" in str(info.value)
    assert diet.epoch == 0 and not any(POISONED in p["ids"] for p in diet.observer.recorder.pending)  # nothing of it buffered


def test_the_batch_named_is_the_one_that_held_the_example():
    diet = DataDiet(keep=0.5)
    batches = []
    original = diet.observer.recorder.observe

    def observe(example_ids, *args, **kwargs):
        batches.append(np.asarray(example_ids).tolist())
        return original(example_ids, *args, **kwargs)

    diet.observer.recorder.observe = observe
    with pytest.raises(NonFiniteScoreError) as info:
        plain_loop(diet, from_epoch=0)
    in_epoch = next(i for i, b in enumerate(batches, start=1) if POISONED in b)
    assert f"in training batch {in_epoch} of epoch 0 " in str(info.value)


def test_the_history_refuses_before_recording_and_a_lenient_one_leaves_it_out():
    strict = ScoreHistory(4)
    with pytest.raises(NonFiniteScoreError, match=r"ids \[2\] in a scoring pass of epoch 3"):
        strict.update(np.array([1, 2]), np.array([0.5, np.nan]), epoch=3, source=SOURCE_PASS)
    assert strict.count.sum() == 0
    strict.update(np.array([0]), np.array([np.inf]), epoch=0)  # +inf is a valid score (never learned)
    lenient = ScoreHistory(4, require_finite=False)
    lenient.update(np.array([1, 2]), np.array([0.5, -np.inf]), epoch=0)
    assert lenient.count.tolist() == [0, 1, 0, 0] and lenient.latest[1] == 0.5


def test_a_trainer_run_stopped_by_a_nan_score_resumes_from_its_last_checkpoint(tmp_path):
    ds = poisoned_dataset()

    def trainer_for(diet):
        args = TrainingArguments(str(tmp_path), num_train_epochs=3, per_device_train_batch_size=8,
                                 learning_rate=1e-3, save_strategy="epoch", logging_strategy="no", report_to=[],
                                 disable_tqdm=True, use_cpu=True, seed=0)
        return DataDietTrainer(diet=diet, model=tiny_classifier(), args=args, train_dataset=ds,
                               data_collator=pad_collate)

    first = trainer_for(DataDiet(keep=0.5))
    hook = poison_logits(first.model, 1, lambda: first.diet.epoch, every_row=True)
    with pytest.raises(NonFiniteScoreError, match=r"example ids \[(\d+, ){7}\d+\] in training batch 1 of epoch 1 "):
        first.train()
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-6"]  # epoch 0's, intact
    hook.remove()
    again = trainer_for(DataDiet(keep=0.5))
    again.train(resume_from_checkpoint=True)
    assert [r["kept"] for r in again.diet.log] == [48, 24, 24] and again.state.global_step == 6 + 3 + 3
