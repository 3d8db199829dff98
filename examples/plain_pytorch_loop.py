"""Dynamic data pruning from a hand-written PyTorch loop: fine-tune the pretrained MiniLM (first 2
layers) on SST-2 with the benchmark's protocol (AdamW lr 5e-4, weight decay 0.01, batch 32, linear
decay to 0 over the planned steps, max length 64), keeping the hardest 50% each epoch after one
warm-up epoch.

    python examples/plain_pytorch_loop.py [--train-size 2000] [--epochs 3] [--seed 0]

Under torchrun the same code runs data-parallel: the sampler shards the selection and the diet
all-gathers the scores, so every rank computes the identical selection.
"""

import argparse
import time

import torch
from torch.utils.data import DataLoader
from transformers import get_linear_schedule_with_warmup

from datadiet import DataDiet
from datadiet.toolkit.data import load_dataset_by_name
from datadiet.toolkit.tasks import build_task

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "labels")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-size", type=int, default=2000, help="the first n training sentences")
    parser.add_argument("--test-size", type=int, default=None, help="the first n test sentences (default: all 872)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--keep", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    train = load_dataset_by_name("sst2", "train").select(range(args.train_size))
    test = load_dataset_by_name("sst2", "test")
    if args.test_size is not None:
        test = test.select(range(args.test_size))
    spec = build_task("sequence_classification", train, test, num_hidden_layers=2, max_length=64, seed=args.seed)
    model, collate = spec.model, spec.data_collator
    train_ds = spec.train_dataset.remove_columns([c for c in spec.train_dataset.column_names
                                                  if c not in (*MODEL_INPUTS, "example_id")])

    torch.manual_seed(args.seed)                                # dropout; the diet has its own generators
    diet = DataDiet(keep=args.keep, num_epochs=args.epochs, seed=args.seed)   # the library's default method
    sampler = diet.sampler(len(train_ds))                      # DDP-aware torch Sampler
    loader = DataLoader(train_ds, batch_size=32, sampler=sampler, collate_fn=collate)
    steps = diet.planned_steps(batch_size=32)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=0, num_training_steps=steps)
    print(f"planned optimizer steps: {steps} (full data: {args.epochs * -(-len(train_ds) // 32)})")

    start = time.perf_counter()
    for epoch in range(diet.schedule.num_epochs):  # args.epochs; fewer when a time budget plans fewer
        diet.begin_epoch(epoch, model=model, dataset=train_ds, collate_fn=collate)  # may run a scoring pass
        model.train()
        for batch in loader:
            ids = batch.pop("example_id")
            loss = diet.weighted_loss(ids, model(**batch), batch)  # observes free scores, applies weights
            loss.backward()
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
        print(f"epoch {epoch}: trained on {diet.log[-1]['kept']} examples, last loss {loss.item():.3f}")
    diet.flush()
    print(f"training took {time.perf_counter() - start:.0f} s; {diet.summary()}")

    model.eval()
    correct = 0
    test_ds = spec.eval_dataset.remove_columns([c for c in spec.eval_dataset.column_names if c not in MODEL_INPUTS])
    with torch.inference_mode():
        for batch in DataLoader(test_ds, batch_size=256, collate_fn=collate):
            correct += (model(**batch).logits.argmax(-1) == batch["labels"]).sum().item()
    print(f"optimizer steps taken: {schedule.last_epoch}")
    print(f"test accuracy: {correct / len(test_ds):.4f}")


if __name__ == "__main__":
    main()
