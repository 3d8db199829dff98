"""The order a diet's sampler yields its selection in: shuffled, sequential, grouped by length
(the Trainer's ``group_by_length`` / ``train_sampling_strategy``)."""

from types import SimpleNamespace

import numpy as np
import pytest
from transformers import TrainingArguments

from datadiet import DataDiet, DataDietTrainer
from datadiet.integrations import compat
from datadiet.sampler import MEGABATCH_BATCHES, DietSampler, length_grouped
from datadiet.select.selection import Selection
from helpers import pad_collate, tiny_classifier, toy_classification_dataset


def padding(order, lengths, batch_size):
    """Pad tokens of right-padded batches taken in ``order``."""
    batches = [lengths[order[i:i + batch_size]] for i in range(0, len(order), batch_size)]
    return int(sum(b.max() * len(b) - b.sum() for b in batches))


def test_length_grouped_sorts_each_megabatch_and_puts_the_longest_first():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 500, size=1000)
    order = rng.permutation(1000)[:700]
    batch = 4
    size = MEGABATCH_BATCHES * batch
    out = length_grouped(order, lengths, batch)
    assert sorted(out.tolist()) == sorted(order.tolist())
    assert lengths[out[0]] == lengths[order].max()
    longest_home = int(np.flatnonzero(order == out[0])[0]) // size  # the megabatch it was drawn into
    for k, start in enumerate(range(0, len(order), size)):
        got, drawn = out[start:start + size], order[start:start + size]
        moved = {0, longest_home} if k in (0, longest_home) and longest_home else set()
        # the same examples (but for the longest, moved to the front, and the one it swapped with)
        assert len(set(got.tolist()) ^ set(drawn.tolist())) == (2 if moved else 0)
        rest = lengths[got[1:]] if k == 0 else lengths[got]
        if not moved or k == 0:
            assert (np.diff(rest) <= 0).all()
    assert padding(out, lengths, batch) < 0.1 * padding(order, lengths, batch)


def test_the_sampler_groups_its_shuffled_selection_the_same_on_every_call():
    lengths = np.random.default_rng(1).integers(1, 100, size=300)
    source = SimpleNamespace(selection=Selection(np.arange(0, 300, 2), None), epoch=3, seed=7)
    plain = DietSampler(source, num_replicas=1, rank=0)
    grouped = DietSampler(source, num_replicas=1, rank=0, lengths=lengths, batch_size=2)
    assert list(grouped) == length_grouped(plain.epoch_order(), lengths, 2).tolist() == list(grouped)
    # sharded: ranks take alternate positions of the grouped order, together all of it
    shards = [list(DietSampler(source, num_replicas=2, rank=r, lengths=lengths, batch_size=2)) for r in (0, 1)]
    assert sorted(shards[0] + shards[1]) == list(range(0, 300, 2))


@pytest.mark.parametrize("kwargs, match", [
    (dict(lengths=np.ones((3, 2)), batch_size=2), "one token count per example"),
    (dict(lengths=np.ones(10)), "needs batch_size"),
    (dict(lengths=np.ones(10), batch_size=0), "needs batch_size"),
])
def test_bad_grouping_arguments_are_refused(kwargs, match):
    source = SimpleNamespace(selection=Selection(np.arange(5), None), epoch=0, seed=0)
    with pytest.raises(ValueError, match=match):
        DietSampler(source, num_replicas=1, rank=0, **kwargs)


def test_lengths_that_miss_selected_examples_are_refused_when_iterated():
    source = SimpleNamespace(selection=Selection(np.arange(20), None), epoch=0, seed=0)
    sampler = DietSampler(source, num_replicas=1, rank=0, lengths=np.ones(10), batch_size=2)
    with pytest.raises(ValueError, match="one token count per training example"):
        list(sampler)
    with pytest.raises(ValueError, match="lengths has 10 entries for 20 examples"):
        DataDiet.random(keep=0.5).sampler(20, 2, lengths=np.ones(10), batch_size=2)


def order_args(order: str) -> dict:
    """TrainingArguments for ``order`` on the installed transformers (5: a strategy; 4: a flag)."""
    if "train_sampling_strategy" in TrainingArguments.__dataclass_fields__:
        return {"train_sampling_strategy": order}
    assert order in ("random", "group_by_length"), "transformers 4 has no sequential order"
    return {"group_by_length": order == "group_by_length"}


def trained_order(tmp_path, ds, order: str, epochs: int = 2) -> list[list[int]]:
    """The example ids each epoch trained on, in the order they came (a random diet: no scoring
    pass calls the collator)."""
    seen: list[int] = []

    def collate(rows):
        seen.extend(r["example_id"] for r in rows)
        return pad_collate(rows)

    diet = DataDiet.random(keep=0.5)
    args = TrainingArguments(str(tmp_path), num_train_epochs=epochs, per_device_train_batch_size=8, save_strategy="no",
                             report_to=[], disable_tqdm=True, use_cpu=True, seed=0, **order_args(order))
    DataDietTrainer(diet=diet, model=tiny_classifier(), args=args, train_dataset=ds, data_collator=collate).train()
    ends = np.cumsum([r["kept"] for r in diet.log])  # the first epoch is the full-data warm-up
    assert ends[-1] == len(seen)
    return [seen[start:end] for start, end in zip([0, *ends[:-1]], ends)]


def test_the_trainer_groups_by_length_when_asked(tmp_path):
    ds = toy_classification_dataset(120)
    lengths = np.array([len(x) for x in ds["input_ids"]])
    grouped = trained_order(tmp_path / "g", ds, "group_by_length")
    shuffled = trained_order(tmp_path / "r", ds, "random")
    for g, r in zip(grouped, shuffled):
        assert sorted(g) == sorted(r)  # the same selection (same seed), another order
        # fewer examples than one megabatch (50 x 8): the whole epoch runs longest first
        assert (np.diff(lengths[g]) <= 0).all() and not (np.diff(lengths[r]) <= 0).all()
        assert padding(np.array(g), lengths, 8) < padding(np.array(r), lengths, 8) / 3


def test_a_length_column_takes_precedence_and_batch_rebalance_is_served_grouped():
    ds = toy_classification_dataset(30).add_column("length", list(range(30)))
    args = SimpleNamespace(length_column_name="length", train_sampling_strategy="batch_rebalance")
    assert compat.train_order(args) == "group_by_length"
    assert compat.train_lengths(args, ds).tolist() == list(range(30))
    assert compat.train_order(SimpleNamespace(group_by_length=True)) == "group_by_length"  # transformers 4
    assert compat.train_order(SimpleNamespace(group_by_length=False)) == "random"
    with pytest.raises(ValueError, match="train_sampling_strategy 'reverse'"):
        compat.train_order(SimpleNamespace(train_sampling_strategy="reverse"))
    with pytest.raises(ValueError, match="'length' or an 'input_ids' column"):
        compat.train_lengths(args, ds.remove_columns(["input_ids", "length"]))


@pytest.mark.skipif("train_sampling_strategy" not in TrainingArguments.__dataclass_fields__,
                    reason="transformers 4 has no sequential train order")
def test_the_trainer_keeps_id_order_when_asked_for_sequential(tmp_path):
    ds = toy_classification_dataset(120)
    for epoch in trained_order(tmp_path, ds, "sequential"):
        assert epoch == sorted(epoch)
