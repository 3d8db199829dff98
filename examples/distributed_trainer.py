"""The README's Trainer example, launched on several processes by accelerate (DDP, DeepSpeed ZeRO, FSDP).

The script is the same for every engine; the engine comes from the accelerate config
(`docs/distributed.md` has one recipe per engine):

    accelerate launch --config_file examples/accelerate/ddp.yaml   examples/distributed_trainer.py
    accelerate launch --config_file examples/accelerate/zero3.yaml examples/distributed_trainer.py
    accelerate launch --config_file examples/accelerate/fsdp2.yaml examples/distributed_trainer.py
    # on CPU processes (gloo), for a try without GPUs (DDP and DeepSpeed; accelerate's FSDP needs GPUs):
    accelerate launch --cpu --num_processes 2 examples/distributed_trainer.py --train-size 256 --epochs 2

Each rank trains its shard of every epoch's selection; the selection is the same on every rank
(rank 0's, broadcast); the main process prints the result and writes the diet's report.
"""

import argparse
import json

import torch
from transformers import TrainingArguments

from datadiet import DataDiet, DataDietTrainer
from datadiet.toolkit.data import load_dataset_by_name
from datadiet.toolkit.tasks import build_task


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="atis")
    ap.add_argument("--train-size", type=int, default=None, help="the first N training examples (default: all)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--keep", type=float, default=0.5)
    ap.add_argument("--layers", type=int, default=2, help="MiniLM layers to keep (of 6)")
    ap.add_argument("--batch-size", type=int, default=32, help="per device")
    ap.add_argument("--out", default="runs/distributed")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    train = load_dataset_by_name(args.dataset, "train")
    if args.train_size:
        train = train.select(range(min(args.train_size, len(train))))
    test = load_dataset_by_name(args.dataset, "test")
    spec = build_task("joint_intent_slot", train, test, num_hidden_layers=args.layers, max_length=64, seed=args.seed)
    diet = DataDiet(keep=args.keep, seed=args.seed)
    training = TrainingArguments(
        args.out, num_train_epochs=args.epochs, per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=256, learning_rate=5e-4, weight_decay=0.01, lr_scheduler_type="linear",
        seed=args.seed, save_strategy="no", logging_strategy="epoch", report_to=[], label_names=spec.label_names,
        dataloader_pin_memory=torch.cuda.is_available(), disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),  # processes without a GPU: gloo on the CPU
    )
    trainer = DataDietTrainer(diet=diet, model=spec.model, args=training, train_dataset=spec.train_dataset,
                              data_collator=spec.data_collator, compute_metrics=spec.compute_metrics)
    trainer.train()
    metrics = trainer.evaluate(spec.eval_dataset)
    if trainer.is_world_process_zero():
        report = diet.report(f"{args.out}/diet")
        print(json.dumps({"engine": type(trainer.model_wrapped).__name__, "world_size": training.world_size,
                          "kept_per_epoch": [r["kept"] for r in diet.log], "optimizer_steps": trainer.state.global_step,
                          "exact_match": metrics["eval_exact_match"], "report": str(report["json"])}))


if __name__ == "__main__":
    main()
