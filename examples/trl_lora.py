"""LoRA fine-tuning of SmolLM2-135M on GSM8K with TRL and P3 pruning; checkpoint and resume.

TRL wraps the model with the LoRA adapters (``peft_config=``; a ``peft.get_peft_model`` model
works the same). Every scoring pass and every free score comes from the adapted model. A
checkpoint holds the adapters and the diet's state, so a run resumed from it makes the same
selections as the run that wrote it; the script shows this by resuming from its first checkpoint.

    python examples/trl_lora.py            # 64 problems, 3 epochs, P3 keeping half each epoch
    python examples/trl_lora.py --tiny     # a tiny random model: seconds (the tests run this)
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from peft import LoraConfig
from trl import SFTConfig

from datadiet import DataDiet
from datadiet.integrations.trl import DataDietSFTTrainer
from trl_sft import gsm8k_dataset, smollm2  # the loaders of examples/trl_sft.py


def lora_config() -> LoraConfig:
    return LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, task_type="CAUSAL_LM",
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])


def make_trainer(opts, output_dir: Path, train) -> DataDietSFTTrainer:
    model, tokenizer = smollm2(opts.tiny)
    args = SFTConfig(
        output_dir=str(output_dir), num_train_epochs=opts.epochs, per_device_train_batch_size=4,
        learning_rate=2e-4 if not opts.tiny else 1e-2, max_length=512, logging_strategy="epoch",
        save_strategy="epoch", report_to=[], bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
        gradient_checkpointing=not opts.tiny, seed=0,
    )
    return DataDietSFTTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer,
                              peft_config=lora_config(), diet=DataDiet.p3(budget=0.5, scoring_batch_size=8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="GSM8K problems (default 64; 8 with --tiny)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="a tiny random model and 8 problems (a smoke test)")
    parser.add_argument("--output-dir", default=None)
    opts = parser.parse_args()
    out = Path(opts.output_dir or tempfile.mkdtemp(prefix="datadiet-lora-"))
    train = gsm8k_dataset(opts.limit or (8 if opts.tiny else 64), "prompt_completion")

    trainer = make_trainer(opts, out / "run", train)
    trainer.model.print_trainable_parameters()
    trainer.train()
    diet = trainer.diet
    for record in diet.log:
        print(f"epoch {record['epoch']}: trained on {record['kept']} of {diet.num_examples} "
              f"(P3 eligible {record['p3_eligible']}, mean difficulty {record['difficulty_mean']:.3f})")
    print(f"optimizer steps {trainer.state.global_step} (planned {diet.planned_steps(batch_size=4, sharding='batches')})")

    checkpoints = sorted((out / "run").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    print(f"checkpoints: {[c.name for c in checkpoints]}; adapters: {(checkpoints[0] / 'adapter_model.safetensors').is_file()}")
    resumed = make_trainer(opts, out / "resumed", train)
    resumed.train(resume_from_checkpoint=str(checkpoints[0]))
    same = np.array_equal(resumed.diet.kept_matrix(), diet.kept_matrix())
    print(f"resumed from {checkpoints[0].name}: identical selections: {same}")


if __name__ == "__main__":
    main()
