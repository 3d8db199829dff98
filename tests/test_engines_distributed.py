"""Every engine on 2 CPU processes (gloo): DDP, DeepSpeed ZeRO-2 and ZeRO-3 (parameters partitioned)
through the real Trainer; FSDP1 and FSDP2 through torch's own wrappers and the plain loop (accelerate
refuses FSDP without an accelerator; tests/scripts/fsdp_loop.py says more). The methods run under
each: the default (re-scores a few stale examples: a pass of 2 batches, even over the ranks), the
paper's protocol (re-scores all 101: 13 batches, uneven), InfoBatch (free scores and loss weights)
and P3 on a tiny causal LM (features; the first pass over all 40, 5 batches, uneven)."""

import json

import numpy as np
import pytest

from datadiet.adapters import TaskAdapter
from datadiet.scores import get_score
from datadiet.scoring_pass import score_examples
from helpers import pad_collate, tiny_classifier, torchrun, toy_classification_dataset

pytestmark = pytest.mark.slow


def _engine_run(tmp_path, spec: dict, nproc: int = 2) -> dict:
    proc = torchrun("engine_trainer.py", str(tmp_path), json.dumps(spec), nproc=nproc)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return {m: [json.loads((tmp_path / f"{m}.rank{r}.json").read_text()) for r in range(nproc)] for m in spec["methods"]}


def _assert_ranks_agree_and_plan_kept(runs, engine_type):
    for method, (r0, r1) in runs.items():
        assert "error" not in r0 and "error" not in r1, (method, r0.get("error"), r1.get("error"))
        assert r0["engine_seen"] == engine_type
        assert r0["kept"] == r1["kept"] and r0["latest"] == r1["latest"], method  # identical selections, histories
        assert r0["global_step"] == r1["global_step"] == r0["max_steps"] == sum(r0["steps_per_epoch"]), method
        assert r0["trained_last_epoch"] == r0["log"][-1], method  # every epoch was checked; the last is here
        assert min(r0["latest"]) >= 0, method  # every example has a score


@pytest.mark.parametrize("engine", ["ddp", "zero2", "zero3"])
def test_the_trainer_trains_every_planned_example_with_identical_selections(tmp_path, engine):
    runs = _engine_run(tmp_path, {"engine": engine, "methods": ["default", "nlu", "infobatch", "p3"]})
    _assert_ranks_agree_and_plan_kept(runs, "DistributedDataParallel" if engine == "ddp" else "DeepSpeedEngine")
    assert runs["default"][0]["log"] == runs["default"][0]["planned"] == [101, 30, 30]
    assert runs["default"][0]["scored"][2] > 0  # a stale re-score ran inside training
    assert runs["nlu"][0]["scored"] == [0, 101, 101]  # 13 batches of 8 over 2 ranks: one rank repeats a batch
    assert runs["infobatch"][0]["log"][0] == 101 and runs["infobatch"][0]["log"][1] < 101
    assert runs["p3"][0]["log"] == [12, 12, 12] and runs["p3"][0]["scored"][0] == 40


def test_ddp_split_batches_trains_whole_epochs(tmp_path):
    """accelerate's split_batches: each batch of 8 is split over the 2 ranks, so an epoch is
    ceil(kept / 8) steps (it used to be planned as half that, and epochs ended halfway)."""
    runs = _engine_run(tmp_path, {"engine": "ddp", "methods": ["default"],
                                  "args": {"accelerator_config": {"split_batches": True}}})
    _assert_ranks_agree_and_plan_kept(runs, "DistributedDataParallel")
    r0 = runs["default"][0]
    assert r0["layout"]["world_size"] == 1 and r0["layout"]["split_over"] == 2
    assert r0["steps_per_epoch"] == [13, 4, 4] and r0["log"] == [101, 30, 30]


def test_ddp_even_batches_false_is_refused_at_construction(tmp_path):
    proc = torchrun("engine_trainer.py", str(tmp_path), json.dumps(
        {"engine": "ddp", "methods": ["default"], "args": {"accelerator_config": {"even_batches": False}}}))
    assert proc.returncode != 0 and "even_batches=False lets ranks run different numbers of steps" in proc.stderr


@pytest.mark.parametrize("engine", ["ddp", "zero2"])
def test_trl_sft_trainer_on_two_processes(tmp_path, engine):
    runs = _engine_run(tmp_path, {"engine": engine, "methods": ["sft"]})
    _assert_ranks_agree_and_plan_kept(runs, "DistributedDataParallel" if engine == "ddp" else "DeepSpeedEngine")
    assert runs["sft"][0]["log"] == [40, 20, 20]


@pytest.mark.parametrize("which", ["fsdp1", "fsdp2"])
def test_fsdp_passes_equal_the_single_process_scores_and_training_keeps_the_plan(tmp_path, which):
    proc = torchrun("fsdp_loop.py", str(tmp_path), which)
    assert proc.returncode == 0, proc.stderr[-4000:]
    r0, r1 = (json.loads((tmp_path / f"{which}.rank{r}.json").read_text()) for r in range(2))
    assert r0["engine"] == which and r0["shards"]
    ds = toy_classification_dataset(53)
    for name in ("el2n", "grand"):  # GraNd reads the head's input through a hook, under the sharded forward
        single = score_examples(tiny_classifier(), ds, np.arange(53), pad_collate, TaskAdapter("sequence_classification"),
                                get_score(name), batch_size=8, progress=False)
        got = {int(k): v for k, v in r0[name].items()}
        assert sorted(got) == list(range(53)) and r0[name] == r1[name]
        np.testing.assert_allclose([got[int(i)] for i in single.ids], single.scores, atol=1e-5)
    for method in ("nlu", "default", "infobatch"):
        assert r0[method]["kept"] == r1[method]["kept"] and r0[method]["latest"] == r1[method]["latest"]
    assert r0["nlu"]["log"] == r0["default"]["log"] == [53, 21, 21]
    assert r0["nlu"]["scored"] == [0, 53, 53]
    assert r0["infobatch"]["log"][0] == 53 and r0["infobatch"]["log"][1] < 53  # soft pruning, weights applied


def test_resume_on_another_number_of_processes_continues_exactly_or_refuses(tmp_path):
    """A 1-process checkpoint in the middle of epoch 0 (step 8 of 13), resumed on 2 processes: with the
    same per-device batch every step would take twice the examples (refused, naming the change and
    the batch size that fits); with half the batch each step takes the same 8 examples and the run
    continues exactly: epoch 0 trains every example, the steps are the plan's."""
    one = _engine_run(tmp_path / "one", {"engine": "ddp", "methods": ["default"],
                                         "args": {"save_strategy": "steps", "save_steps": 4}}, nproc=1)["default"][0]
    checkpoint = str(tmp_path / "one" / "default" / "checkpoint-8")
    same = _engine_run(tmp_path / "same", {"engine": "ddp", "methods": ["default"], "resume": checkpoint})["default"]
    for r in same:
        assert "ResumeMismatch" in r["error"] and "world_size 1 -> 2" in r["error"]
        assert "a batch size of 4 per rank" in r["error"]
    half = _engine_run(tmp_path / "half", {"engine": "ddp", "methods": ["default"], "resume": checkpoint,
                                           "args": {"per_device_train_batch_size": 4, "save_strategy": "steps",
                                                    "save_steps": 4}})
    _assert_ranks_agree_and_plan_kept(half, "DistributedDataParallel")
    r0 = half["default"][0]
    assert r0["log"] == one["log"] == [101, 30, 30] and r0["global_step"] == one["global_step"] == 21
    assert r0["kept"][0] == one["kept"][0]  # the interrupted epoch: the same examples, all of them
    # and back: the 2-process checkpoint resumed on 1 process with the batch of 8 it had in all
    back = _engine_run(tmp_path / "back", {"engine": "ddp", "methods": ["default"],
                                           "resume": str(tmp_path / "half" / "default" / "checkpoint-12")}, nproc=1)
    assert "error" not in back["default"][0] and back["default"][0]["global_step"] == 21


@pytest.mark.parametrize("which", ["fsdp1", "fsdp2"])
def test_p3_on_a_sharded_causal_lm_keeps_the_plan_with_identical_selections(tmp_path, which):
    """P3 on a tiny Llama sharded by FSDP1/FSDP2 (plain loop): its first pass over all 40 examples
    (5 batches over 2 ranks, uneven), then difficulty and pooled features free from the sharded
    training forward (no pass at epoch 1, 4 stale examples at epoch 2), the same on both ranks."""
    proc = torchrun("fsdp_p3.py", str(tmp_path), which)
    assert proc.returncode == 0, proc.stderr[-4000:]
    r0, r1 = (json.loads((tmp_path / f"p3_{which}.rank{r}.json").read_text()) for r in range(2))
    assert r0["log"] == [12, 12, 12] and r0["scored"] == [40, 0, 4]
    assert r0["kept"] == r1["kept"] and r0["latest"] == r1["latest"] and r0["features"] == r1["features"]
    assert min(r0["latest"]) >= 0 and len(r0["features"]) == 40
