"""Run by tests/test_fault_injection.py: a DataDietTrainer run that may be killed with SIGKILL.

    python fault_train.py OUT_DIR [KILL]

Resumes from the latest complete checkpoint in OUT_DIR if there is one. KILL (optional) makes the
process SIGKILL itself at one point:
  step:<k>       at the start of optimizer step k (inside an epoch),
  scoring:<k>    inside a scoring pass, at its k-th batch (counted over the whole run),
  diet_saved:<k> right after the k-th diet state is written, before transformers writes the model,
                 the optimizer and trainer_state.json of that checkpoint.
On completion writes OUT_DIR/result.pt (selections, history, log, parameters, final LR).
"""

import os
import signal
import sys

import torch
from transformers import TrainerCallback

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import resume_setups  # noqa: E402

import datadiet.integrations.trainer as trainer_module  # noqa: E402
from datadiet.integrations.trainer import latest_complete_checkpoint  # noqa: E402

torch.set_num_threads(1)
out = sys.argv[1]
kind, _, count = (sys.argv[2] if len(sys.argv) > 2 else "none:0").partition(":")
count = int(count)


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class KillAtStep(TrainerCallback):
    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step + 1 == count:
            die()


if kind == "diet_saved":
    original_save = trainer_module.save_diet_state
    saves = []

    def save_then_die(state, folder):
        path = original_save(state, folder)
        saves.append(1)
        if len(saves) == count:
            die()
        return path

    trainer_module.save_diet_state = save_then_die

trainer = resume_setups.make_trainer("nlu_data_diets", out, save_steps=2, save_total_limit=1)
if kind == "step":
    trainer.add_callback(KillAtStep())
if kind == "scoring":  # the scoring pass collates with the model in eval mode, training batches in train mode
    collate, model, scoring_batches = trainer.data_collator, trainer.model, []

    def collate_or_die(rows):
        batch = collate(rows)
        if not model.training:
            scoring_batches.append(1)
            if len(scoring_batches) == count:
                die()
        return batch

    trainer.data_collator = collate_or_die
resume = latest_complete_checkpoint(out)
print(f"resuming from {resume}" if resume else "starting", flush=True)
trainer.train(resume_from_checkpoint=resume)
torch.save(resume_setups.outcome(trainer), os.path.join(out, "result.pt"))
print("done", flush=True)
