"""The scoring pass: forward-only scores for a set of examples, as cheaply as a forward can be.

Eval mode (no dropout), ``torch.inference_mode``, batches of examples of similar length (padding
is wasted compute), sharded across data-parallel ranks and gathered so every rank has every score.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from datadiet._extras import progress_bar as tqdm  # a bar when tqdm ([hf]) is installed

from datadiet.adapters import ON_REQUEST, TaskAdapter, capture_on_request
from datadiet.distributed import all_gather_arrays, world
from datadiet.scores.classification import true_class_probability
from datadiet.scores.registry import Score

DIET_COLUMNS = ("example_id", "action_ids")
"""Batch keys the library reads but the model's forward never receives."""

LABEL_COLUMNS = ("labels", "intent_labels", "slot_labels")
"""Batch keys a scoring pass reads (through the adapter) but keeps out of the forward, so the model
computes no loss: for a causal LM that loss would upcast a ``(B, T, V)`` copy of the logits."""


def split_diet_columns(batch: dict) -> tuple[dict, dict]:
    """``(model_inputs, diet_inputs)``: the batch without and with only :data:`DIET_COLUMNS`."""
    model_inputs = {k: v for k, v in batch.items() if k not in DIET_COLUMNS}
    diet_inputs = {k: batch[k] for k in DIET_COLUMNS if k in batch}
    return model_inputs, diet_inputs


def example_lengths(dataset) -> np.ndarray | None:
    """Token count of every example (``input_ids`` column), or None if the dataset has none."""
    try:
        column = dataset["input_ids"]
    except (KeyError, TypeError, IndexError, ValueError):
        return None
    return np.fromiter((len(x) for x in column), dtype=np.int64, count=len(dataset))


LABEL_COLUMN_NAMES = ("labels", "label", "intent_labels")
"""Columns :func:`dataset_labels` reads class ids from, in order of preference."""


def dataset_labels(dataset) -> np.ndarray:
    """One class id per example, from the dataset's first label column (``labels``, ``label``,
    ``intent_labels``), for class-aware selectors."""
    names = getattr(dataset, "column_names", None)
    if names is None and dataset is not None and len(dataset):
        names = list(dataset[0].keys()) if isinstance(dataset[0], dict) else []
    for name in LABEL_COLUMN_NAMES:
        if names and name in names:
            column = dataset[name] if hasattr(dataset, "column_names") else [row[name] for row in dataset]
            labels = np.asarray(column)
            if labels.ndim != 1:
                raise ValueError(f"the dataset's {name!r} column is not one class id per example (shape "
                                 f"{labels.shape}): pass labels= to begin_epoch")
            return labels
    raise ValueError(f"a class-aware selector needs class ids: the dataset has no {' / '.join(LABEL_COLUMN_NAMES)} "
                     "column; pass labels= (one class id per example) to begin_epoch")


def length_buckets(ids: np.ndarray, lengths: np.ndarray | None, batch_size: int) -> list[np.ndarray]:
    """Batches of ids of similar length (longest first, so a memory error shows at once)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    ids = np.asarray(ids, dtype=np.int64)
    if lengths is not None:
        ids = ids[np.lexsort((ids, -lengths[ids]))]
    return [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]


@dataclass
class PassResult:
    """Scores of one pass, aligned with ``ids``; ``features`` only when asked for."""

    ids: np.ndarray
    scores: np.ndarray
    confidence: np.ndarray | None
    correct: np.ndarray | None
    features: np.ndarray | None
    seconds: float


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def score_examples(
    model: torch.nn.Module,
    dataset: Sequence,
    ids: np.ndarray,
    collate_fn: Callable[[list], dict],
    adapter: TaskAdapter,
    score: Score,
    batch_size: int = 256,
    lengths: np.ndarray | None = None,
    want_features: bool = False,
    progress: bool = True,
) -> PassResult:
    """Score ``ids`` of ``dataset`` with a forward-only pass of ``model`` (restored to its mode after).

    Model outputs the score needs but a plain forward does not give (:data:`ON_REQUEST`: hidden
    states, the head's input) are asked for. In a distributed run each rank scores every
    ``world_size``-th batch and the results are all-gathered, so the returned arrays are identical
    on every rank.
    """
    requested = tuple(f for f in ON_REQUEST if f in score.requires or (f == "features" and want_features))
    start = time.perf_counter()
    rank, size = world()
    batches = length_buckets(ids, lengths, batch_size)[rank::size]
    device = model_device(model)
    was_training = model.training
    model.eval()
    out_ids, out_scores, out_conf, out_correct, out_feat = [], [], [], [], []
    dynamics_ok = True
    try:
        with torch.inference_mode(), capture_on_request(model, requested) as captured:
            bar = tqdm(batches, desc="datadiet: scoring", unit="batch", disable=not progress or rank != 0, leave=False)
            for batch_ids in bar:
                batch = collate_fn([dataset[int(i)] for i in batch_ids])
                batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
                model_inputs, _ = split_diet_columns(batch)
                forward_inputs = {k: v for k, v in model_inputs.items() if k not in LABEL_COLUMNS}
                if "features" in requested:
                    forward_inputs["output_hidden_states"] = True
                outputs = model(**forward_inputs)
                inputs = adapter.score_inputs(outputs, batch, captured)
                score.check_inputs(inputs)
                out_ids.append(batch_ids)
                out_scores.append(score(inputs).float().cpu().numpy())
                if dynamics_ok:
                    try:
                        conf, correct = true_class_probability(inputs)
                        out_conf.append(conf.float().cpu().numpy())
                        out_correct.append(correct.cpu().numpy())
                    except ValueError:
                        dynamics_ok = False
                if want_features:
                    if inputs.features is None:
                        raise ValueError("diversity features were asked for but the model outputs have neither "
                                         "`pooled` nor `hidden_states`")
                    out_feat.append(inputs.features.float().cpu().numpy())
    finally:
        model.train(was_training)
    cat = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)  # noqa: E731
    local = {"ids": cat(out_ids, np.int64), "scores": cat(out_scores, np.float64)}
    if dynamics_ok:
        local["confidence"] = cat(out_conf, np.float64)
        local["correct"] = cat(out_correct, bool)
    if want_features:
        local["features"] = np.concatenate(out_feat).astype(np.float32) if out_feat else np.zeros((0, 0), np.float32)
    merged = all_gather_arrays(local)
    return PassResult(
        ids=merged["ids"], scores=merged["scores"], confidence=merged.get("confidence"),
        correct=merged.get("correct"), features=merged.get("features"), seconds=time.perf_counter() - start,
    )
