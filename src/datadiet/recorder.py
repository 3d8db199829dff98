"""The recorder of free scores: what every training forward pass says about its examples.

Observations are buffered per rank, then all-gathered and applied to the history at the next
epoch boundary (or checkpoint), so every rank's history stays identical.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch

from datadiet.distributed import all_gather_arrays
from datadiet.history import SOURCE_TRAIN, ScoreHistory
from datadiet.scores.classification import true_class_probability
from datadiet.scores.inputs import ScoreInputs
from datadiet.scores.registry import Score

_KEYS = ("ids", "scores", "epoch", "confidence", "correct")


def as_id_array(example_ids) -> np.ndarray:
    """Example ids of a batch (tensor, array or list) as a flat ``int64`` array."""
    ids = example_ids.cpu() if torch.is_tensor(example_ids) else example_ids
    return np.asarray(ids, dtype=np.int64).reshape(-1)


class FreeScoreRecorder:
    """Buffers ``(id, score, epoch, p(y), correct)`` observations of training batches."""

    def __init__(self) -> None:
        self.pending: list[dict[str, np.ndarray]] = []
        self.seconds = 0.0

    def observe(self, example_ids, inputs: ScoreInputs, score: Score, epoch: int, with_features: bool = False) -> None:
        """Score one training batch from its detached outputs and buffer the result (with
        ``inputs.features``, as float32, when ``with_features``)."""
        start = time.perf_counter()
        ids = as_id_array(example_ids)
        score.check_inputs(inputs)
        with torch.no_grad():
            values = score(inputs).float().cpu().numpy().astype(np.float64)
            entry = {"ids": ids, "scores": values, "epoch": np.full(len(ids), max(epoch, 0), dtype=np.int64)}
            if with_features:
                entry["features"] = inputs.features.detach().float().cpu().numpy()
            try:
                conf, correct = true_class_probability(inputs)
                entry.update(confidence=conf.float().cpu().numpy().astype(np.float64), correct=correct.cpu().numpy())
            except ValueError:  # no labels the task can check a prediction against
                pass
        self.pending.append(entry)
        self.seconds += time.perf_counter() - start

    def flush(self, history: ScoreHistory, on_features: Callable[[np.ndarray, np.ndarray], None] | None = None,
              with_features: bool = False) -> int:
        """All-gather the buffered observations (a collective: every rank calls it) and apply them to
        ``history`` in epoch order; returns how many were applied. With ``with_features`` (the same
        on every rank), the buffered features go to ``on_features(ids, features)``, in the same order."""
        local = {k: np.concatenate([p[k] for p in self.pending])
                 for k in _KEYS if self.pending and all(k in p for p in self.pending)}
        if not local:
            local = {"ids": np.zeros(0, np.int64), "scores": np.zeros(0), "epoch": np.zeros(0, np.int64)}
        if with_features:
            parts = [p["features"] for p in self.pending if "features" in p]
            if len(parts) != len(self.pending):
                raise ValueError("some buffered training batches have no features: record every batch with them")
            local["features"] = np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
        merged = all_gather_arrays(local)
        self.pending = []
        if with_features and on_features is not None and len(merged["ids"]):
            on_features(merged["ids"], merged["features"])
        for e in np.unique(merged["epoch"]):
            m = merged["epoch"] == e
            history.update(merged["ids"][m], merged["scores"][m], int(e), SOURCE_TRAIN,
                           merged["confidence"][m] if "confidence" in merged else None,
                           merged["correct"][m] if "correct" in merged else None)
        return len(merged["ids"])

    def take_seconds(self) -> float:
        """Seconds spent observing since the last call (for the run log)."""
        seconds, self.seconds = self.seconds, 0.0
        return seconds

    def state_dict(self) -> dict:
        return {"pending": [dict(p) for p in self.pending], "seconds": self.seconds}

    def load_state_dict(self, state: dict) -> None:
        self.pending = [{k: np.asarray(v) for k, v in p.items()} for p in state.get("pending", [])]
        self.seconds = float(state.get("seconds", 0.0))
