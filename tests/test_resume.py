"""Exact resume for every preset through DataDietTrainer: from a mid-epoch and from an epoch-boundary
checkpoint, selections, score history, log and parameters are bit-identical to the uninterrupted
run; the LR schedule ends at its final value; incomplete checkpoints are skipped or explained."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from datadiet.checkpoint import DIET_STATE_FILE, DietStateError
from datadiet.integrations.trainer import latest_complete_checkpoint
from resume_setups import BATCH, PRESETS, assert_same_outcome, make_trainer, outcome


def _steps_per_epoch(trainer) -> list[int]:
    return [-(-r["kept"] // BATCH) for r in trainer.diet.log]


@pytest.fixture(scope="module", params=sorted(PRESETS))
def reference(request, tmp_path_factory):
    preset = request.param
    out = tmp_path_factory.mktemp(f"ref-{preset}")
    trainer = make_trainer(preset, out)
    trainer.train()
    return preset, out, outcome(trainer), _steps_per_epoch(trainer)


@pytest.mark.parametrize("where", ["mid_epoch", "epoch_boundary"])
def test_resume_is_bit_identical_for_every_preset(reference, where, tmp_path):
    preset, out, expected, steps = reference
    boundaries = np.cumsum(steps)
    if where == "epoch_boundary":
        step = int(boundaries[1])  # after epoch 1: the next epoch's selection is made after resuming
    else:
        long_epochs = [e for e in range(1, len(steps)) if steps[e] >= 2]
        assert long_epochs, f"{preset}: no epoch after the first has 2+ steps: {steps}"
        e = long_epochs[0]
        step = int(boundaries[e - 1]) + 1  # one step into a later epoch
    checkpoint = out / f"checkpoint-{step}"
    assert (checkpoint / DIET_STATE_FILE).is_file()
    resumed = make_trainer(preset, tmp_path)
    resumed.train(resume_from_checkpoint=str(checkpoint))
    assert_same_outcome(outcome(resumed), expected)


def test_linear_lr_reaches_zero_at_the_last_step_for_every_preset(reference):
    preset, _, expected, steps = reference
    assert expected["global_step"] == sum(steps)  # the steps run are the kept counts' batches
    assert expected["lr"] == 0.0, preset


def test_lr_schedule_ends_at_its_final_value_for_infobatch(tmp_path):
    trainer = make_trainer("infobatch", tmp_path, save_strategy="no")
    trainer.train()
    kept = [r["kept"] for r in trainer.diet.log]
    planned = trainer.diet.planned_steps(batch_size=BATCH)
    run = sum(-(-k // BATCH) for k in kept)
    assert run < planned  # InfoBatch's plan is an upper bound: the schedule cannot be fixed in advance
    assert trainer.state.global_step == run == trainer.state.max_steps
    assert trainer.lr_scheduler.get_last_lr()[0] == 0.0  # linear decay reaches 0 at the last step run
    lrs = [h["learning_rate"] for h in trainer.state.log_history if "learning_rate" in h]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] > 0


def test_cosine_schedule_with_warmup_is_the_trainers_own_for_a_fixed_plan(tmp_path):
    import torch
    from transformers import get_scheduler

    trainer = make_trainer("default", tmp_path, save_strategy="no", lr_scheduler_type="cosine", warmup_steps=3,
                           logging_strategy="steps", logging_steps=1)
    trainer.train()
    total = trainer.state.global_step
    assert total == trainer.diet.planned_steps(batch_size=BATCH)
    logged = [h["learning_rate"] for h in trainer.state.log_history if "learning_rate" in h]
    probe = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-2)
    own = get_scheduler("cosine", optimizer=probe, num_warmup_steps=3, num_training_steps=total)
    expected = []
    for _ in range(total):
        expected.append(own.get_last_lr()[0])
        probe.step()
        own.step()
    assert len(logged) == total and logged == pytest.approx(expected, rel=1e-12, abs=0)
    assert trainer.lr_scheduler.get_last_lr()[0] == own.get_last_lr()[0] == 0.0


def test_killed_between_diet_state_and_model_resumes_from_the_previous_checkpoint(tmp_path):
    full = make_trainer("default", tmp_path / "a")
    full.train()
    expected = outcome(full)
    # simulate a kill while checkpoint-7 was being written: diet state there, transformers' files not
    # yet (trainer_state.json is written last, before older checkpoints are rotated away)
    out = tmp_path / "b"
    out.mkdir()
    for step in (5, 6, 7):
        shutil.copytree(tmp_path / "a" / f"checkpoint-{step}", out / f"checkpoint-{step}")
    (out / "checkpoint-7" / "trainer_state.json").unlink()
    (out / "checkpoint-7" / "model.safetensors").unlink()
    # ... and a truncated diet state in checkpoint-6
    state = out / "checkpoint-6" / DIET_STATE_FILE
    state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])
    assert latest_complete_checkpoint(out) == str(out / "checkpoint-5")

    with pytest.raises(DietStateError, match=r"checkpoint-6/datadiet_state.npz \(\d+ bytes\) is truncated or "
                                             r"corrupt.*resume from the previous complete checkpoint, .*checkpoint-5"):
        make_trainer("default", out).train(resume_from_checkpoint=str(out / "checkpoint-6"))
    with pytest.raises(DietStateError, match=r"trainer_state.json is missing or unreadable.*checkpoint-5"):
        make_trainer("default", out).train(resume_from_checkpoint=str(out / "checkpoint-7"))

    resumed = make_trainer("default", out)
    resumed.train(resume_from_checkpoint=True)
    assert_same_outcome(outcome(resumed), expected)


def test_no_complete_checkpoint_says_to_restart(tmp_path):
    (tmp_path / "checkpoint-3").mkdir()
    (tmp_path / "checkpoint-3" / "trainer_state.json").write_text(json.dumps({"global_step": 3}))
    with pytest.raises(ValueError, match="no complete checkpoint .* start over"):
        make_trainer("default", tmp_path).train(resume_from_checkpoint=True)
    with pytest.raises(DietStateError, match=r"datadiet_state.npz is missing.*restart training"):
        make_trainer("default", tmp_path).train(resume_from_checkpoint=str(tmp_path / "checkpoint-3"))
