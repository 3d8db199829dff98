"""Tiny DataDietTrainer runs for every preset, for the resume and fault-injection tests.

Each preset gets a tiny random model (BERT classifier, or a 1-layer Llama for P3), a few dozen
examples, batch sizes that give several steps per epoch, dropout off, CPU.
"""

from __future__ import annotations

import numpy as np
import torch
from datasets import Dataset
from transformers import TrainingArguments

from datadiet import DataDiet, DataDietTrainer
from helpers import pad_collate, tiny_classifier, toy_classification_dataset
from lm_helpers import tiny_causal_lm

PRESETS = {
    "full": lambda: DataDiet.full(),
    "default": lambda: DataDiet(keep=0.5, progress=False),
    "nlu_data_diets": lambda: DataDiet.nlu_data_diets(keep=0.5, progress=False),
    "static": lambda: DataDiet.static(keep=0.5, progress=False),
    "random": lambda: DataDiet.random(keep=0.5),
    "random_static": lambda: DataDiet.random(keep=0.5, dynamic=False),
    "infobatch": lambda: DataDiet.infobatch(prune_ratio=0.5),
    "infobatch_budget": lambda: DataDiet.infobatch(time_budget=0.8),  # its spend so far is state
    "p3": lambda: DataDiet.p3(budget=12, progress=False),
}
"""Every preset of DataDiet (add new ones here: the resume test is parametrised over this dict)."""

EPOCHS = 4
BATCH = 8


def causal_lm_pairs(n: int = 32):
    from datadiet.llm.tokenization import tokenize_pairs
    from lm_helpers import make_tokenizer

    rng = np.random.default_rng(0)
    words = "one two three four five six seven eight nine ten".split()
    prompts, solutions = [], []
    for _ in range(n):
        prompts.append("question : " + " ".join(rng.choice(words, size=3)))
        steps = [" ".join(rng.choice(words, size=int(rng.integers(2, 5)))) for _ in range(int(rng.integers(1, 4)))]
        solutions.append("\n".join(steps))
    tok = make_tokenizer(pad=True)
    return tok, Dataset.from_list(tokenize_pairs(tok, prompts, solutions))


def make_trainer(preset: str, output_dir, **overrides) -> DataDietTrainer:
    """A fresh DataDietTrainer of ``preset`` writing to ``output_dir`` (same model init every call)."""
    args = dict(output_dir=str(output_dir), num_train_epochs=EPOCHS, per_device_train_batch_size=BATCH,
                learning_rate=1e-2, logging_strategy="epoch", save_strategy="steps", save_steps=1,
                report_to=[], disable_tqdm=True, use_cpu=True, seed=0, dataloader_num_workers=0)
    args.update(overrides)
    if preset == "p3":
        from datadiet.llm.tokenization import CausalLMCollator

        tok, ds = causal_lm_pairs()
        model, collator = tiny_causal_lm(len(tok)), CausalLMCollator(tok)
    else:
        ds, model, collator = toy_classification_dataset(48), tiny_classifier(), pad_collate
    return DataDietTrainer(diet=PRESETS[preset](), model=model, args=TrainingArguments(**args), train_dataset=ds,
                           data_collator=collator)


def outcome(trainer: DataDietTrainer) -> dict:
    """What must match between an uninterrupted and a resumed run: selections, the score history,
    the per-epoch log without timings, the parameters, the global step and the final LR."""
    diet = trainer.diet
    log = [{k: v for k, v in r.items() if not k.endswith("seconds")} for r in diet.log]
    return {
        "kept_matrix": diet.kept_matrix(),
        "weights": diet.selection.weights.copy(),
        "history": diet.history.state_dict(),
        "log": log,
        "params": {n: p.detach().clone() for n, p in trainer.model.named_parameters()},
        "global_step": trainer.state.global_step,
        "lr": trainer.lr_scheduler.get_last_lr()[0],
    }


def assert_same_outcome(a: dict, b: dict) -> None:
    np.testing.assert_array_equal(a["kept_matrix"], b["kept_matrix"])
    np.testing.assert_array_equal(a["weights"], b["weights"])
    assert a["history"].keys() == b["history"].keys()
    for key, value in a["history"].items():
        np.testing.assert_array_equal(np.asarray(value), np.asarray(b["history"][key]), err_msg=f"history {key}")
    assert a["log"] == b["log"]
    assert a["global_step"] == b["global_step"] and a["lr"] == b["lr"]
    assert a["params"].keys() == b["params"].keys()
    for name, value in a["params"].items():
        assert torch.equal(value, b["params"][name]), f"parameter {name} differs"
