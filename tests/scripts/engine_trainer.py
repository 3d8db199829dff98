"""Run by tests/test_engines_distributed.py under torchrun: DataDietTrainer (or DataDietSFTTrainer)
with 2 CPU processes (gloo) under one engine, for several methods one after another.

    python -m torch.distributed.run --nproc_per_node=2 engine_trainer.py OUT SPEC_JSON

SPEC: {"engine": "ddp" | "zero2" | "zero3", "methods": [...], "args": {extra TrainingArguments},
       "resume": "path or true" (optional), "save_steps": int (optional)}
Writes OUT/<method>.rank<r>.json with what the test compares. DeepSpeed runs on its CPU accelerator
(gloo), ZeRO-3 with every parameter partitioned (stage3_param_persistence_threshold=0), as a real
model's matrices are.
"""

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
out, spec = sys.argv[1], json.loads(sys.argv[2])
os.makedirs(out, exist_ok=True)  # every rank writes its results here, even when training is refused at once
N = spec.get("n", 101)


def engine_args(engine: str) -> dict:
    if engine.startswith("zero"):
        return {"deepspeed": {"zero_optimization": {"stage": int(engine[-1]), "stage3_param_persistence_threshold": 0},
                              "train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": "auto",
                              "train_batch_size": "auto", "gradient_clipping": "auto"}}
    return {}


def diet_for(method: str) -> DataDiet:
    common = dict(progress=False, scoring_batch_size=spec.get("scoring_batch_size", 8))
    return {"default": lambda: DataDiet(keep=0.3, **common),
            "nlu": lambda: DataDiet.nlu_data_diets(keep=0.3, **common),
            "infobatch": lambda: DataDiet.infobatch(prune_ratio=0.5, **common),
            "p3": lambda: DataDiet.p3(budget=12, start=50, end=95, shape="linear", **common),
            "sft": lambda: DataDiet(keep=0.5, **common)}[method]()


def trainer_for(method: str, args_kw: dict):
    base = dict(output_dir=os.path.join(out, method), num_train_epochs=3, per_device_train_batch_size=8,
                learning_rate=3e-3, logging_strategy="epoch", save_strategy="no", report_to=[], disable_tqdm=True,
                use_cpu=True, ddp_backend="gloo", seed=0)
    base.update(engine_args(spec["engine"]))
    base.update(args_kw)
    diet = diet_for(method)
    if method == "sft":
        from lm_helpers import chat_tokenizer, sft_args, sft_dataset, tiny_llama

        from datadiet.integrations.trl import DataDietSFTTrainer
        tok = chat_tokenizer()
        sft_kw = {k: v for k, v in base.items() if k not in ("ddp_backend",)}
        args = sft_args(sft_kw.pop("output_dir"), ddp_backend="gloo", **sft_kw)
        return diet, DataDietSFTTrainer(model=tiny_llama(tok), args=args, train_dataset=sft_dataset("prompt_completion", 40),
                                        processing_class=tok, diet=diet)
    args = TrainingArguments(**base)
    if method == "p3":
        from datasets import Dataset
        from lm_helpers import chat_tokenizer, prompt_completion_rows, tiny_llama

        from datadiet.llm.tokenization import CausalLMCollator, tokenize_pairs
        tok = chat_tokenizer()
        rows = prompt_completion_rows(40)
        ds = Dataset.from_list(tokenize_pairs(tok, [r["prompt"] for r in rows], [r["completion"] for r in rows]))
        return diet, DataDietTrainer(diet=diet, model=tiny_llama(tok), args=args, train_dataset=ds,
                                     data_collator=CausalLMCollator(tok))
    return diet, DataDietTrainer(diet=diet, model=tiny_classifier(), args=args, train_dataset=toy_classification_dataset(N),
                                 data_collator=pad_collate)


rank = int(os.environ["RANK"])
for method in spec["methods"]:
    diet, trainer = trainer_for(method, spec.get("args", {}))
    result = {"method": method, "engine": spec["engine"]}
    try:
        trainer.train(resume_from_checkpoint=spec.get("resume"))
    except Exception as err:  # the test reads the message (a refusal is a result too)
        result["error"] = f"{type(err).__name__}: {err}"
    if "error" not in result:
        result.update(
            world=int(os.environ["WORLD_SIZE"]), layout=diet.layout.to_dict(), engine_seen=type(trainer.model_wrapped).__name__,
            kept=diet.kept_matrix().astype(int).tolist(),
            latest=np.nan_to_num(diet.history.latest, nan=-1).tolist(),
            global_step=trainer.state.global_step, max_steps=trainer.state.max_steps,
            planned=diet.kept_counts(), log=[r["kept"] for r in diet.log], scored=[r["scored"] for r in diet.log],
            steps_per_epoch=diet.steps_per_epoch(), trained_last_epoch=int(diet.ledger.mask.sum()))
    with open(os.path.join(out, f"{method}.rank{rank}.json"), "w") as f:
        json.dump(result, f)
    if torch.distributed.is_initialized():
        torch.distributed.barrier()
# End without interpreter teardown: torch can abort or deadlock while destroying a DDP reducer's
# gloo group at exit, after the results are written.
sys.stdout.flush()
os._exit(0)
