"""The scoring pass batches by padded tokens and retries a batch in halves when it runs out of memory.

No GPU exists here, so the memory limit is a test double: a real model wrapped so that its forward
raises torch's real ``torch.cuda.OutOfMemoryError`` (or the CPU allocator's ``RuntimeError``) when
a batch has more than ``max_tokens`` padded tokens (rows x width), as a device would above some
batch size. Everything else (the model, the pass, the diet) is the real thing.
"""

import numpy as np
import pytest
import torch

from datadiet import DataDiet
from datadiet.adapters import TaskAdapter
from datadiet.halving import HalvingForward, ScoringOutOfMemoryError, is_out_of_memory
from datadiet.scores import get_score
from datadiet.scoring_pass import example_lengths, length_buckets, score_examples
from datadiet.settings import DEFAULT_SCORING_TOKENS, DietSettings
from helpers import pad_collate, tiny_classifier, toy_classification_dataset

ADAPTER = TaskAdapter("sequence_classification")


class MemoryLimited(torch.nn.Module):
    """``model`` whose forward fails like a device out of memory above ``max_tokens`` padded tokens
    (see the module docstring); records the rows of every forward it ran and of every one that failed."""

    def __init__(self, model, max_tokens: int, error=lambda: torch.cuda.OutOfMemoryError(
            "CUDA out of memory. Tried to allocate 2.00 GiB (test double of the device's limit)")):
        super().__init__()
        self.model, self.max_tokens, self.error = model, max_tokens, error
        self.ran, self.failed = [], []

    def forward(self, **inputs):
        rows = inputs["input_ids"].shape[0]
        if inputs["input_ids"].numel() > self.max_tokens:
            self.failed.append(rows)
            raise self.error()
        self.ran.append(rows)
        return self.model(**inputs)


def padded_tokens(batch, lengths):
    return len(batch) * int(lengths[batch].max())


# -- batches by tokens -----------------------------------------------------------------------------
def test_long_rows_get_small_batches_and_short_rows_big_ones_by_hand():
    lengths = np.array([100, 5, 5, 5, 5, 5, 5, 5, 5, 60])
    batches = length_buckets(np.arange(10), lengths, batch_size=4, tokens_per_batch=120)
    assert [b.tolist() for b in batches] == [[0], [9, 1], [2, 3, 4, 5], [6, 7, 8]]
    # a row longer than the budget is a batch alone; the others never exceed it
    assert length_buckets(np.arange(3), np.array([500, 10, 10]), 8, tokens_per_batch=100)[0].tolist() == [0]
    # without a budget: batch_size rows, padded to the longest (the 11x-slower case of issue 25)
    assert [len(b) for b in length_buckets(np.arange(10), lengths, batch_size=4)] == [4, 4, 2]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_padded_tokens_never_exceed_the_budget_and_every_id_is_scored_once(seed):
    rng = np.random.default_rng(seed)
    lengths = np.where(rng.random(500) < 0.03, rng.integers(300, 1000, 500), rng.integers(4, 40, 500))
    ids = rng.permutation(500)[:400]
    batches = length_buckets(ids, lengths, batch_size=64, tokens_per_batch=1024)
    assert sorted(np.concatenate(batches).tolist()) == sorted(ids.tolist())
    assert all(len(b) <= 64 for b in batches)
    assert all(padded_tokens(b, lengths) <= 1024 or len(b) == 1 for b in batches)
    assert max(len(b) for b in batches) == 64 and min(len(b) for b in batches) == 1  # short rows full, long alone
    # deterministic: the same batches on every rank (ZeRO-3 / FSDP ranks must run the same forwards)
    again = length_buckets(ids.copy(), lengths, batch_size=64, tokens_per_batch=1024)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again)) and len(batches) == len(again)


def test_the_budget_is_a_validated_setting_whose_default_keeps_short_batches_whole():
    assert DietSettings().scoring_tokens_per_batch == DEFAULT_SCORING_TOKENS == 256 * 64
    assert DataDiet(keep=0.5, scoring_tokens_per_batch=None).settings.scoring_tokens_per_batch is None
    for bad in (0, -5, 2.5, True, "4096"):
        with pytest.raises(ValueError, match="scoring_tokens_per_batch"):
            DataDiet(keep=0.5, scoring_tokens_per_batch=bad)


def test_scores_with_a_budget_equal_the_unbudgeted_pass():
    ds = toy_classification_dataset(60, seed=4)
    lengths = example_lengths(ds)
    model = tiny_classifier(seed=1)
    whole, budgeted = (score_examples(model, ds, np.arange(60), pad_collate, ADAPTER, get_score("el2n"),
                                      batch_size=32, lengths=lengths, tokens_per_batch=budget, progress=False)
                       for budget in (None, 40))
    assert np.array_equal(whole.ids, budgeted.ids)
    np.testing.assert_allclose(budgeted.scores, whole.scores, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(budgeted.confidence, whole.confidence, rtol=1e-5, atol=1e-6)


def test_the_diets_passes_use_its_token_budget():
    ds = toy_classification_dataset(48, seed=0)
    lengths = example_lengths(ds)
    model = MemoryLimited(tiny_classifier(), max_tokens=10**9)
    widths = []
    model.register_forward_pre_hook(lambda m, args, kwargs: widths.append(tuple(kwargs["input_ids"].shape)),
                                    with_kwargs=True)
    diet = DataDiet.nlu_data_diets(keep=0.5, warmup_epochs=0, task="sequence_classification", progress=False,
                                   scoring_tokens_per_batch=48)
    diet.setup(48, 2)
    diet.begin_epoch(0, model=model, dataset=ds, collate_fn=pad_collate)
    assert diet.log[0]["scored"] == 48
    assert widths and all(rows * width <= 48 for rows, width in widths)  # pad_collate pads to the longest row
    assert max(rows for rows, _ in widths) > min(rows for rows, _ in widths)  # short rows in bigger batches
    assert int(lengths.max()) * 4 > 48  # the toy rows are long enough that the budget changes the batches


# -- halves on out-of-memory -----------------------------------------------------------------------
@pytest.mark.parametrize("error", [
    lambda: torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    lambda: RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 4294967296 bytes"),
    lambda: RuntimeError("MPS backend out of memory (MPS allocated: 8.00 GB)"),
], ids=["cuda", "cpu", "mps"])
def test_a_batch_that_runs_out_of_memory_is_scored_in_halves_with_the_same_scores(error):
    ds = toy_classification_dataset(40, seed=2)
    lengths = example_lengths(ds)
    inner = tiny_classifier(seed=2)
    expected = score_examples(inner, ds, np.arange(40), pad_collate, ADAPTER, get_score("el2n"), batch_size=16,
                              lengths=lengths, progress=False)
    limited = MemoryLimited(inner, max_tokens=60, error=error)
    result = score_examples(limited, ds, np.arange(40), pad_collate, ADAPTER, get_score("el2n"), batch_size=16,
                            lengths=lengths, progress=False)
    assert limited.failed and max(limited.ran) < 16  # it did run out of memory, and then fit
    assert sum(limited.ran) == 40  # every example forwarded once
    assert np.array_equal(result.ids, expected.ids)
    np.testing.assert_allclose(result.scores, expected.scores, rtol=1e-5, atol=1e-6)
    # after the first failure, batches as large are split before they are tried: not one failure per batch
    assert len(limited.failed) <= 3, limited.failed


def test_one_row_that_does_not_fit_raises_saying_what_to_do():
    ds = toy_classification_dataset(8)
    limited = MemoryLimited(tiny_classifier(), max_tokens=0)
    with pytest.raises(ScoringOutOfMemoryError, match="one example alone .* does not fit") as info:
        score_examples(limited, ds, np.arange(8), pad_collate, ADAPTER, get_score("el2n"), batch_size=8,
                       lengths=example_lengths(ds), progress=False)
    assert isinstance(info.value.__cause__, torch.cuda.OutOfMemoryError)
    assert limited.failed[:4] == [8, 4, 2, 1]  # halved down to one row before giving up


def test_under_sharded_parameters_a_batch_is_not_split_on_one_rank():
    # parameters carrying ZeRO-3's ``ds_id`` mark: engine_of reads the engine as ZeRO-3, whose forwards
    # are collectives; a split on one rank would run more forwards than the others
    ds = toy_classification_dataset(16)
    limited = MemoryLimited(tiny_classifier(), max_tokens=40)
    for p in limited.parameters():
        p.ds_id = 0
    with pytest.raises(ScoringOutOfMemoryError, match="scoring_tokens_per_batch") as info:
        score_examples(limited, ds, np.arange(16), pad_collate, ADAPTER, get_score("el2n"), batch_size=8,
                       lengths=example_lengths(ds), progress=False)
    assert "ZeRO-3" in str(info.value) and limited.failed == [8]


def test_other_errors_of_a_forward_are_not_taken_for_memory():
    assert not is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not is_out_of_memory(ValueError("out of memory"))  # only the allocators' RuntimeErrors
    calls = []

    def forward(ids):
        calls.append(len(ids))
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        list(HalvingForward(forward)(np.arange(8)))
    assert calls == [8]  # raised at once, not retried in halves
