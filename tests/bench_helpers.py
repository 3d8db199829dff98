"""Tiny real benchmark-grid runs and hand-made grid rows, shared by the benchmark tests."""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from transformers import TrainingArguments

from benchmarks.grid.aggregate import Row, Stat
from benchmarks.grid.config import GridConfig
from datadiet import DataDiet
from datadiet.integrations.trainer import DataDietTrainer
from datadiet.toolkit.experiment import RunConfig, environment, trained_tokens
from helpers import pad_collate, tiny_classifier, toy_classification_dataset


def accuracy(prediction) -> dict:
    return {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())}


def tiny_run(cfg: RunConfig, output_dir=None, progress=True, report=False, diet: DataDiet | None = None) -> dict:
    """A real, tiny fine-tuning with the record fields of ``run_experiment`` (``diet``: the run's own,
    instead of ``cfg``'s method at its keep)."""
    train = toy_classification_dataset(cfg.train_size or 48, seed=0)
    evaluation = toy_classification_dataset(32, seed=1)
    diet = diet or DataDiet(method=cfg.method, keep=cfg.keep, seed=cfg.seed, progress=False)
    args = TrainingArguments(output_dir=str(output_dir or tempfile.gettempdir()), num_train_epochs=cfg.epochs,
                             per_device_train_batch_size=cfg.batch_size, learning_rate=cfg.learning_rate,
                             seed=cfg.seed, logging_strategy="no", save_strategy="no", report_to=[],
                             disable_tqdm=True, use_cpu=True)
    trainer = DataDietTrainer(diet=diet, model=tiny_classifier(seed=cfg.seed), args=args, train_dataset=train,
                              data_collator=pad_collate,
                              compute_metrics=accuracy)
    start, cpu = time.perf_counter(), time.process_time()
    trainer.train()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    s = diet.summary()
    metrics = trainer.evaluate(evaluation)
    tokens_trained, tokens_full = trained_tokens(diet, train, s["examples_full"])
    record = {"config": asdict(cfg), "key": cfg.key(), "wall_seconds": wall, "cpu_seconds": cpu,
              "scoring_seconds": s["scoring_seconds"],
              "selection_seconds": s["selection_seconds"],
              "training_seconds": wall - s["scoring_seconds"] - s["selection_seconds"], "eval_seconds": 0.0,
              "examples_trained": s["examples_trained"], "examples_full": s["examples_full"],
              "tokens_trained": tokens_trained, "tokens_full": tokens_full, "metrics": {"accuracy": metrics["eval_accuracy"]}, "num_train": len(train), "num_eval": len(evaluation),
              "environment": environment()}
    if report:
        record["report"] = {k: str(v) for k, v in diet.report(Path(output_dir) / "diet").items()}
    return record


def tiny_grid(**kw) -> GridConfig:
    base = dict(name="t", datasets=["toy"], methods=["full", "random", "default"], keeps=[0.5], seeds=[0, 1],
                epochs=2, batch_size=16, learning_rate=3e-3, train_size=48, threads=1)
    base.update(kw)
    return GridConfig(**base)


def row(method: str, keep: float, acc, ratio, budget: float | None = None) -> Row:
    """A row from per-seed values (lists) or from (mean, std) given as a Stat."""
    a = acc if isinstance(acc, Stat) else Stat.of(acc)
    t = ratio if isinstance(ratio, Stat) else Stat.of(ratio)
    return Row("d", method, keep, seeds=list(range(max(a.n, 1))), metrics={"accuracy": a}, time_ratio=t,
               cpu_ratio=t, predicted_ratio=t, run_seconds=t, scoring_share=Stat.of([0.0]),
               trained_fraction=Stat.of([keep]), budget=budget)


FULL = row("full", 1.0, [0.90, 0.92], [1.0, 1.0])  # mean 91.00, std sqrt(2 * 0.01^2) = 1.414 points


# default's frontier: (0.3, 85), (0.5, 90), (0.7, 92), std 1 point each
DEFAULT = [row("default", k, Stat(a, 0.01, 3), Stat(t, 0.01, 3)) for k, a, t in
           ((0.2, 0.85, 0.3), (0.4, 0.90, 0.5), (0.6, 0.92, 0.7))]


def peer(method: str, *points, std: float | None = 0.005) -> list[Row]:
    return [row(method, 0.1 * (i + 1), Stat(a, std, 3 if std is not None else 1), Stat(t, 0.01, 3))
            for i, (t, a) in enumerate(points)]
