"""The engine room, the batch layout, the trained-examples ledger and the run contract, in one
process (the same code under 2 processes and every engine: tests/test_engines_distributed.py)."""

import numpy as np
import pytest
import torch
from datasets import Dataset
from torch.utils.data import DataLoader
from transformers import TrainingArguments

from datadiet import DataDiet, DataDietTrainer
from datadiet.contract import ResumeMismatch, RunContract, data_fingerprint
from datadiet.engines import DEEPSPEED, SINGLE, Engine, engine_of
from datadiet.layout import BatchLayout
from datadiet.ledger import EpochShortfall, TrainedLedger
from datadiet.schedule import epoch_optimizer_steps
from datadiet.scoring_pass import eval_forward, example_lengths
from helpers import pad_collate, tiny_classifier, toy_classification_dataset


# -- the engine ------------------------------------------------------------------------------------
def _batches(n):
    return [np.array([i]) for i in range(n)]


def test_rank_batches_pads_only_where_forwards_are_collectives():
    batches = _batches(7)
    sharded = [Engine("fsdp2", r, 2, shards_parameters=True).rank_batches(batches) for r in range(2)]
    assert [int(b[0]) for b, keep in sharded[0]] == [0, 2, 4, 6] and all(k for _, k in sharded[0])
    # rank 1 owns 3 batches and repeats its last one, results dropped: 4 forwards on each rank
    assert [(int(b[0]), keep) for b, keep in sharded[1]] == [(1, True), (3, True), (5, True), (5, False)]
    plain = Engine("ddp", 1, 2).rank_batches(batches)
    assert [int(b[0]) for b, _ in plain] == [1, 3, 5]
    # more ranks than batches: the ranks without one repeat the first batch
    few = [Engine("deepspeed", r, 3, shards_parameters=True, zero_stage=3).rank_batches(_batches(1)) for r in range(3)]
    assert [[(int(b[0]), k) for b, k in share] for share in few] == [[(0, True)], [(0, False)], [(0, False)]]
    assert Engine("fsdp1", 0, 2, shards_parameters=True).rank_batches([]) == []
    # every real batch is kept exactly once over the ranks
    kept = sorted(int(b[0]) for share in sharded for b, keep in share if keep)
    assert kept == list(range(7))


def test_engine_of_a_plain_model_and_of_zero3_parameters():
    model = tiny_classifier()
    engine = engine_of(model)
    assert engine == Engine(SINGLE, 0, 1) and engine.is_main_process and engine.runs_submodules_alone
    assert engine.pass_model(model) is model
    for p in model.parameters():  # what DeepSpeed ZeRO-3 leaves on a partitioned parameter
        p.ds_id = 0
    zero3 = engine_of(model)
    assert (zero3.name, zero3.zero_stage, zero3.shards_parameters) == (DEEPSPEED, 3, True)
    assert not zero3.runs_submodules_alone and zero3.describe() == "deepspeed ZeRO-3 over 1 rank"


def test_a_pass_gathers_parameters_without_inference_mode_where_the_engine_shards_them():
    model = tiny_classifier()
    with eval_forward(model, Engine("fsdp2", 0, 1, shards_parameters=True)):
        assert not torch.is_inference_mode_enabled() and not torch.is_grad_enabled()
        out = model(torch.tensor([[1, 5, 2]])).logits
    assert not out.is_inference()  # a parameter gathered here could still be saved for backward
    with eval_forward(model):
        assert torch.is_inference_mode_enabled()


# -- the batch layout ------------------------------------------------------------------------------
@pytest.mark.parametrize("kept", [1, 7, 30, 101])
def test_layout_steps_are_the_one_formula(kept):
    layout = BatchLayout(8, world_size=2, grad_accum=3, sharding="batches")
    assert layout.steps(kept) == epoch_optimizer_steps(kept, 8, world_size=2, grad_accum=3, sharding="batches")


def test_layout_trained_examples_with_drop_last_by_hand():
    # 101 examples, batches of 8 dealt over 2 ranks: 12 full batches, 6 rounds of 2 -> 96 examples
    assert BatchLayout(8, 2, drop_last=True, sharding="batches").trained(101) == 96
    # per-rank samplers: 50 each, 6 full batches each -> 96
    assert BatchLayout(8, 2, drop_last=True).trained(101) == 96
    assert BatchLayout(8, 3, drop_last=True, sharding="batches").trained(101) == 96  # 12 batches, 4 rounds of 3
    assert BatchLayout(8, 2).trained(101) == 101


def test_layout_resume_continues_when_every_step_takes_the_same_examples():
    one = BatchLayout(16, 1, sharding="batches")
    assert BatchLayout(8, 2, sharding="batches").resume_change(one, [101, 30, 30]) is None
    assert BatchLayout(4, 2, grad_accum=2, sharding="batches").resume_change(one, [101, 30, 30]) is None
    change = BatchLayout(16, 2, sharding="batches").resume_change(one, [101, 30, 30])
    assert "world_size 1 -> 2" in change and "a batch size of 8 per rank" in change
    assert "16 examples per optimizer step" in change and "32 examples per optimizer step" in change
    accum = BatchLayout(16, 1, grad_accum=2, sharding="batches").resume_change(one, [101])
    assert "grad_accum 1 -> 2" in accum


def test_layout_validates_its_fields():
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        BatchLayout(0)
    with pytest.raises(ValueError, match="sharding must be one of"):
        BatchLayout(8, sharding="rows")
    assert BatchLayout.from_dict(BatchLayout(8, 2, 3, True, "batches", 1).to_dict()) == BatchLayout(8, 2, 3, True, "batches")


# -- the ledger ------------------------------------------------------------------------------------
def test_ledger_names_both_numbers_when_an_epoch_falls_short():
    ledger = TrainedLedger(10)
    ledger.start(2)
    ledger.mark(np.array([0, 1, 2]))
    with pytest.raises(EpochShortfall, match=r"epoch 2 trained 3 of the 5 examples its plan said.*selected: 5"):
        ledger.check(np.arange(5), expected=5)
    ledger.mark(np.array([3, 4, 4]))
    ledger.check(np.arange(5), expected=5)
    ledger.mark(np.array([9]))
    with pytest.raises(EpochShortfall, match="and 1 examples it did not select"):
        ledger.check(np.arange(5), expected=5)
    fresh = TrainedLedger(10)
    fresh.load_state_dict(ledger.state_dict())
    assert fresh.epoch == 2 and fresh.mask.tolist() == ledger.mask.tolist()
    fresh.start(2)  # the same epoch (resumed mid-epoch) keeps its marks
    assert fresh.mask.sum() == 6
    fresh.start(3)
    assert fresh.mask.sum() == 0


class _HalfSamplerTrainer(DataDietTrainer):
    """A data loader the plan does not model: it yields only every second selected example."""

    def _diet_sampler(self):
        sampler = super()._diet_sampler()

        class Half(torch.utils.data.Sampler):
            def __iter__(self):
                return iter(list(sampler)[::2])

            def __len__(self):
                return (len(sampler) + 1) // 2

        return Half()


def test_a_trainer_epoch_that_trains_fewer_examples_than_planned_fails_with_both_numbers(tmp_path):
    args = TrainingArguments(str(tmp_path), num_train_epochs=2, per_device_train_batch_size=8, report_to=[],
                             save_strategy="no", disable_tqdm=True, use_cpu=True)
    trainer = _HalfSamplerTrainer(diet=DataDiet(keep=0.5, progress=False), model=tiny_classifier(), args=args,
                                  train_dataset=toy_classification_dataset(48), data_collator=pad_collate)
    with pytest.raises(EpochShortfall, match=r"epoch 0 trained 24 of the 48 examples its plan said"):
        trainer.train()


def test_a_whole_run_checks_every_epoch_and_passes(tmp_path):
    args = TrainingArguments(str(tmp_path), num_train_epochs=3, per_device_train_batch_size=8, report_to=[],
                             save_strategy="no", disable_tqdm=True, use_cpu=True, dataloader_drop_last=True)
    diet = DataDiet(keep=0.5, progress=False)
    trainer = DataDietTrainer(diet=diet, model=tiny_classifier(), args=args, train_dataset=toy_classification_dataset(50),
                              data_collator=pad_collate)
    trainer.train()
    assert diet.layout == BatchLayout(8, 1, 1, True, "batches")
    assert [r["kept"] for r in diet.log] == [50, 25, 25]
    assert int(diet.ledger.mask.sum()) == 24  # the last epoch's 25, less the partial batch drop_last drops
    assert trainer.state.global_step == sum(diet.steps_per_epoch()) == 6 + 3 + 3
    # the log and the summary count what was trained: 48 of 50, then 24 of 25 twice
    assert [r["trained"] for r in diet.log] == [48, 24, 24]
    assert diet.summary()["examples_trained"] == 96 == int(diet.ledger.mask.sum()) + 48 + 24


# -- the contract ------------------------------------------------------------------------------------
def test_data_fingerprint_sees_lengths_and_first_tokens():
    ds = toy_classification_dataset(20)
    same = toy_classification_dataset(20)
    assert data_fingerprint(ds, example_lengths(ds)) == data_fingerprint(same, example_lengths(same))
    rows = ds.to_list()
    rows[0]["input_ids"] = [rows[0]["input_ids"][0] + 1] + rows[0]["input_ids"][1:]  # same length, one token
    changed = Dataset.from_list(rows)
    assert data_fingerprint(changed, example_lengths(changed)) != data_fingerprint(ds, example_lengths(ds))
    other = toy_classification_dataset(20, seed=1)
    assert data_fingerprint(other, example_lengths(other)) != data_fingerprint(ds, example_lengths(ds))
    assert data_fingerprint([{"x": 1}], None) is None


def test_contract_names_every_change():
    saved = RunContract(10, 3, 0, {"method": "dynamic", "keep": 0.5}, "aaaa", BatchLayout(8))
    now = RunContract(10, 4, 1, {"method": "dynamic", "keep": 0.3}, "bbbb", BatchLayout(16))
    changes = now.changes(saved, [10, 5, 5])
    assert len(changes) == 5
    text = "\n".join(changes)
    for part in ("other tokens (data fingerprint aaaa -> bbbb", "planned for 3 epochs, this one for 4",
                 "seed 0 -> 1", "keep 0.5 -> 0.3", "batch_size 8 -> 16"):
        assert part in text
    with pytest.raises(ResumeMismatch, match="cannot resume this checkpoint exactly"):
        now.check(saved, [10, 5, 5])
    assert RunContract(10, 3, 0, {}, None, None).changes(RunContract(10, 3, 0, {}, "x", BatchLayout(8)), [10]) == []
    assert RunContract.from_dict(saved.to_dict()) == saved


def _run_plain(diet, ds, epochs_done):
    sampler = diet.sampler(len(ds))
    model = tiny_classifier()
    loader = DataLoader(ds, batch_size=8, sampler=sampler, collate_fn=pad_collate)
    for epoch in range(epochs_done):
        diet.begin_epoch(epoch, model=model, dataset=ds, collate_fn=pad_collate)
        for batch in loader:
            diet.weighted_loss(batch["example_id"], model(**{k: v for k, v in batch.items() if k != "example_id"}), batch)
        diet.end_epoch()
    return diet


def test_a_plain_loop_resume_on_other_data_of_the_same_size_is_refused_when_the_data_is_seen():
    ds = toy_classification_dataset(32)
    saved = _run_plain(DataDiet(keep=0.5, num_epochs=3, task="sequence_classification", progress=False), ds, 1)
    fresh = DataDiet(keep=0.5, num_epochs=3, task="sequence_classification", progress=False)
    fresh.load_state_dict(saved.state_dict())  # the data is not known yet: checked when it is
    with pytest.raises(ResumeMismatch, match="checkpoint's size .32. but other tokens"):
        fresh.begin_epoch(1, model=tiny_classifier(), dataset=toy_classification_dataset(32, seed=5),
                          collate_fn=pad_collate)
    ok = DataDiet(keep=0.5, num_epochs=3, task="sequence_classification", progress=False)
    ok.load_state_dict(saved.state_dict())
    ok.begin_epoch(1, model=tiny_classifier(), dataset=ds, collate_fn=pad_collate)


def test_resuming_with_another_seed_or_keep_is_refused_and_nothing_is_overwritten():
    ds = toy_classification_dataset(32)
    state = _run_plain(DataDiet(keep=0.5, num_epochs=3, task="sequence_classification", progress=False), ds, 1).state_dict()
    for other, said in ((DataDiet(keep=0.5, num_epochs=3, seed=1), "seed 0 -> 1"),
                        (DataDiet(keep=0.3, num_epochs=3), "keep 0.5 -> 0.3")):
        other.setup(32)
        with pytest.raises(ResumeMismatch, match=said):
            other.load_state_dict(state)
        assert other.epoch == -1 and other.log == []


def test_epochs_begin_in_order():
    diet = DataDiet(keep=0.5, num_epochs=4, task="sequence_classification").setup(8)
    diet.begin_epoch(0)
    with pytest.raises(ValueError, match="epoch 2 cannot begin after epoch 0.*begin epoch 1 next"):
        diet.begin_epoch(2)
