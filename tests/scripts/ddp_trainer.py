"""Run by tests/test_distributed.py under torchrun: DataDietTrainer with 2 CPU processes (gloo)."""

import json
import os
import sys

import numpy as np
import torch
from transformers import TrainingArguments

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from helpers import pad_collate, tiny_classifier, toy_classification_dataset  # noqa: E402

from datadiet import DataDiet, DataDietTrainer  # noqa: E402

torch.set_num_threads(1)
out = sys.argv[1]
method = sys.argv[2]
ds = toy_classification_dataset(101)
diet = {"default": lambda: DataDiet(keep=0.3, progress=False),
        "nlu": lambda: DataDiet.nlu_data_diets(keep=0.3, progress=False)}[method]()
args = TrainingArguments(output_dir=out, num_train_epochs=3, per_device_train_batch_size=8, learning_rate=3e-3,
                         logging_strategy="epoch", save_strategy="no", report_to=[], disable_tqdm=True, use_cpu=True,
                         ddp_backend="gloo", seed=0)
trainer = DataDietTrainer(diet=diet, model=tiny_classifier(), args=args, train_dataset=ds, data_collator=pad_collate)
trainer.train()
rank = int(os.environ["RANK"])
with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
    json.dump({"world": int(os.environ["WORLD_SIZE"]), "kept": diet.kept_matrix().astype(int).tolist(),
               "latest": np.nan_to_num(diet.history.latest, nan=-1).tolist(), "global_step": trainer.state.global_step,
               "max_steps": trainer.state.max_steps, "counts": diet.kept_counts(), "log": [r["kept"] for r in diet.log],
               "scored": [r["scored"] for r in diet.log]}, f)
# End without interpreter teardown: torch can abort ("terminate called without an active exception")
# or deadlock while destroying a DDP reducer's gloo group at exit, after the results are written.
torch.distributed.barrier()
sys.stdout.flush()
os._exit(0)
