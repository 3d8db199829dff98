"""Tiny real models and datasets for tests (random small configs: fast, offline)."""

from __future__ import annotations

import numpy as np
import torch
from datasets import Dataset
from transformers import BertConfig, BertForSequenceClassification


def tiny_bert_config(num_labels: int = 3, dropout: float = 0.0, **kwargs) -> BertConfig:
    return BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=32, max_position_embeddings=64, num_labels=num_labels,
                      hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout, **kwargs)


def tiny_classifier(seed: int = 0, num_labels: int = 3) -> BertForSequenceClassification:
    torch.manual_seed(seed)  # model init only; the library itself never touches the global RNG
    return BertForSequenceClassification(tiny_bert_config(num_labels))


def toy_classification_dataset(n: int = 96, num_labels: int = 3, seed: int = 0) -> Dataset:
    """Learnable toy task: the label is the first content token modulo num_labels; varying lengths."""
    rng = np.random.default_rng(seed)
    rows = {"input_ids": [], "labels": [], "example_id": []}
    for i in range(n):
        length = int(rng.integers(4, 12))
        ids = [1] + rng.integers(5, 60, size=length).tolist() + [2]
        rows["input_ids"].append(ids)
        rows["labels"].append(ids[1] % num_labels)
        rows["example_id"].append(i)
    return Dataset.from_dict(rows)


def pad_collate(rows: list[dict]) -> dict:
    """Dynamic right-padding collator for the toy dataset (pad id 0)."""
    width = max(len(r["input_ids"]) for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r["input_ids"])] = torch.tensor(r["input_ids"])
        mask[i, : len(r["input_ids"])] = 1
    batch = {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([r["labels"] for r in rows])}
    if "example_id" in rows[0]:
        batch["example_id"] = torch.tensor([r["example_id"] for r in rows])
    return batch


def free_port() -> int:
    """A TCP port free on the loopback address (for a process group's rendezvous)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(script: str, *args: str, nproc: int = 2, timeout: int = 300):
    """Run ``tests/scripts/<script>`` under ``torch.distributed.run`` with ``nproc`` CPU processes
    (one torch thread each); returns the finished ``subprocess.CompletedProcess``."""
    import os
    import subprocess
    import sys

    path = os.path.join(os.path.dirname(__file__), "scripts", script)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}",
                           "--master_port", str(free_port()), path, *args],
                          capture_output=True, text=True, timeout=timeout, env=env)
