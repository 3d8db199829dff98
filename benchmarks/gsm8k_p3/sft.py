"""The benchmark's runs through TRL as a user writes them: GSM8K rows as a prompt/completion
dataset and ``DataDietSFTTrainer`` (TRL's tokenization and collator, completion-only loss, LoRA
through ``peft_config=``).

The prompt is the library's GSM8K prompt and the completion the solution (calculator annotations
stripped), as in ``examples/trl_sft.py``; TRL appends the EOS token, so the model is trained and
evaluated (``datadiet.toolkit.llm.evaluate_gsm8k``) on the same text.
"""

from __future__ import annotations

from datasets import Dataset

from datadiet import DataDiet
from datadiet.toolkit.llm import gsm8k_prompt


def sft_dataset(rows) -> Dataset:
    """GSM8K rows (``read_gsm8k``) as TRL's prompt/completion dataset, in the given order."""
    return Dataset.from_list([{"prompt": gsm8k_prompt(r["question"]), "completion": r["solution"]} for r in rows])


def sft_trainer(model, tokenizer, train: Dataset, diet: DataDiet, output_dir, *, epochs: int, batch_size: int,
                lr: float, max_length: int, seed: int, peft_config=None, lr_scheduler: str = "linear",
                group_by_length: bool = False, bf16: bool = False, use_cpu: bool = True, callbacks=None,
                save_strategy: str = "no"):
    """``DataDietSFTTrainer`` over ``train``: AdamW at ``lr`` with the ``lr_scheduler`` schedule over
    the steps the diet plans, grad clip 1.0, no weight decay, checkpoints by ``save_strategy`` (the
    latest one kept), no packing,
    gradient checkpointing off (it only saves memory a 135M model does not need). With
    ``group_by_length`` each batch holds examples of similar length (less padding), as the
    Trainer's own option orders them (``train_sampling_strategy`` in transformers 5,
    ``group_by_length`` in 4)."""
    from trl import SFTConfig

    from datadiet.integrations.trl import DataDietSFTTrainer

    args = SFTConfig(
        output_dir=str(output_dir), num_train_epochs=epochs, per_device_train_batch_size=batch_size,
        learning_rate=lr, lr_scheduler_type=lr_scheduler, weight_decay=0.0, max_grad_norm=1.0, seed=seed,
        max_length=max_length, packing=False, gradient_checkpointing=False, logging_strategy="epoch",
        save_strategy=save_strategy, save_total_limit=1, report_to=[], disable_tqdm=True, use_cpu=use_cpu, bf16=bf16, dataloader_num_workers=0,
        dataset_num_proc=None, **length_grouping(SFTConfig, group_by_length),
    )
    return DataDietSFTTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer,
                              peft_config=peft_config, diet=diet, callbacks=callbacks)


def length_grouping(config_class, on: bool) -> dict:
    """The config keyword that groups batches by length, in this transformers version's spelling."""
    if not on:
        return {}
    if "train_sampling_strategy" in config_class.__dataclass_fields__:
        return {"train_sampling_strategy": "group_by_length"}
    return {"group_by_length": True}
