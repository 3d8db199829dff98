"""How fast is fine-tuning under the benchmark protocol, and what does a full scoring pass cost?

For each dataset: the pretrained MiniLM's first 2 layers, batch 32, AdamW (weight decay 0.01),
max length 64, on a fixed random subsample of the training set. Two epochs through
``DataDietTrainer`` with the published protocol ``DataDiet.nlu_data_diets(keep=0.5)``:

- epoch 1 trains on every example: **training examples per second** (wall clock and process CPU
  time; with 1 torch thread, CPU time is what the run cost, whatever else ran on the machine);
- epoch 2 starts with an eval-mode forward pass over every example (the protocol's re-scoring):
  its seconds **as a fraction of the training epoch** over the same examples; one more such pass
  after training gives the same fraction in CPU seconds.

    python benchmarks/speed/run.py                       # ~6 min on one free core
    python benchmarks/speed/run.py --datasets atis --threads 2

Writes ``results.json`` and ``results.md`` next to this file (or ``--out``), with the machine,
the torch threads, the load average before and after each dataset, and the date.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from transformers import PrinterCallback, TrainerCallback, TrainingArguments

from datadiet import DataDiet, DataDietTrainer
from datadiet.scoring_pass import example_lengths, score_examples
from datadiet.toolkit.data import add_example_ids, dataset_task, load_dataset_by_name
from datadiet.toolkit.tasks import build_task

HERE = Path(__file__).resolve().parent
MODEL_COLUMNS = ("example_id", "input_ids", "attention_mask", "token_type_ids", "labels", "intent_labels", "slot_labels")


class EpochTimes(TrainerCallback):
    """Wall and process-CPU seconds of every epoch."""

    def __init__(self):
        self.epochs: list[dict] = []

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def on_epoch_end(self, args, state, control, **kwargs):
        self.epochs.append({"wall": time.perf_counter() - self._wall, "cpu": time.process_time() - self._cpu})


def measure(dataset: str, n: int, layers: int, seed: int) -> dict:
    train = load_dataset_by_name(dataset, "train")
    rows = np.sort(np.random.default_rng(seed).choice(len(train), min(n, len(train)), replace=False))
    train = add_example_ids(train.select(rows))
    spec = build_task(dataset_task(dataset), train, None, num_hidden_layers=layers, max_length=64, seed=seed)
    lengths = [len(x) for x in spec.train_dataset["input_ids"]]
    diet = DataDiet.nlu_data_diets(keep=0.5, seed=seed, progress=False)
    times = EpochTimes()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(out, num_train_epochs=2, per_device_train_batch_size=32, learning_rate=5e-4,
                                 weight_decay=0.01, seed=seed, save_strategy="no", logging_strategy="no",
                                 report_to=[], disable_tqdm=True, label_names=spec.label_names,
                                 dataloader_pin_memory=torch.cuda.is_available())
        trainer = DataDietTrainer(diet=diet, model=spec.model, args=args, train_dataset=spec.train_dataset,
                                  data_collator=spec.data_collator, callbacks=[times])
        trainer.remove_callback(PrinterCallback)
        trainer.train()
    # one more full eval-mode scoring pass, timed in CPU seconds too (the diet times its passes in wall seconds)
    inputs = spec.train_dataset.remove_columns([c for c in spec.train_dataset.column_names if c not in MODEL_COLUMNS])
    wall, cpu = time.perf_counter(), time.process_time()
    score_examples(spec.model, inputs, np.arange(len(inputs)), spec.data_collator, diet.adapter, diet.score,
                   lengths=example_lengths(inputs), progress=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    first, scoring = times.epochs[0], diet.log[1]["scoring_seconds"]
    return {
        "dataset": dataset, "examples": len(train), "mean_tokens": float(np.mean(lengths)),
        "layers": layers, "epoch_wall_seconds": first["wall"], "epoch_cpu_seconds": first["cpu"],
        "examples_per_second": len(train) / first["wall"], "examples_per_cpu_second": len(train) / first["cpu"],
        "scoring_pass_seconds": scoring, "scoring_pass_fraction_of_epoch": scoring / first["wall"],
        "scoring_pass_cpu_seconds": cpu, "scoring_pass_cpu_fraction_of_epoch": cpu / first["cpu"],
        "load_average_before": load_before, "load_average_after": os.getloadavg()[0],
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    m = results["machine"]
    lines = [
        "# Training speed and the cost of a full scoring pass",
        "",
        f"Measured {results['date']} on {m['cpus']} CPU cores ({m['processor'] or m['machine']}), "
        f"{results['threads']} torch thread(s), torch {m['torch']}, transformers {m['transformers']}. "
        f"Made by `{results['command']}`.",
        "",
        "| dataset | examples | mean tokens | train ex/s (wall) | train ex/s (CPU) | scoring pass / training epoch (wall) | (CPU) | load avg before / after |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results["runs"]:
        lines.append(f"| {r['dataset']} | {r['examples']:,} | {r['mean_tokens']:.1f} | {r['examples_per_second']:.0f} | "
                     f"{r['examples_per_cpu_second']:.0f} | {r['scoring_pass_fraction_of_epoch']:.2f} | "
                     f"{r['scoring_pass_cpu_fraction_of_epoch']:.2f} | "
                     f"{r['load_average_before']:.1f} / {r['load_average_after']:.1f} |")
    lines += ["", "Training: MiniLM's first 2 layers, batch 32, AdamW, max length 64, the Trainer's epoch "
              "(data loading and optimizer steps included). Scoring pass: eval mode, inference mode, batches "
              "of 256 grouped by length, over the same examples (wall: the diet's pass at the start of epoch 2; "
              "CPU: one more pass after training). With 1 thread the CPU column is what the "
              "run cost; the wall column also holds the waits for a core when other jobs shared the machine."]
    (out / "results.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["atis", "snips", "clinc150"])
    parser.add_argument("--examples", type=int, default=2000, help="training examples per dataset")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    import transformers

    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0])] + (argv or sys.argv[1:])),
        "threads": args.threads,
        "machine": {"cpus": os.cpu_count(), "machine": platform.machine(), "processor": cpu_model(),
                    "torch": torch.__version__, "transformers": transformers.__version__},
        "runs": [],
    }
    for name in args.datasets:
        results["runs"].append(measure(name, args.examples, args.layers, args.seed))
        write(results, Path(args.out))
        print(json.dumps(results["runs"][-1]))


if __name__ == "__main__":
    main()
