"""The recorder of free scores: what every training forward pass says about its examples.

Observations are buffered per rank, then all-gathered and applied to the history at the next
epoch boundary (or checkpoint), so every rank's history stays identical.

A NaN (or -inf) score stops the run at the training batch that produced it, for a method that
ranks by score (its history has ``require_finite``): :class:`~datadiet.history.NonFiniteScoreError`
names the example ids, the epoch and the batch, and nothing of that batch is buffered, so the
checkpoints written before it are intact and the run resumes from the last one. The recorder
learns the policy from the history it is flushed into (the diet flushes at every ``begin_epoch``,
before the epoch's first batch); until then the check waits for the flush, which refuses before
it applies anything.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch

from datadiet.distributed import all_gather_arrays
from datadiet.history import SOURCE_TRAIN, NonFiniteScoreError, ScoreHistory, non_finite, non_finite_message
from datadiet.scores.classification import true_class_probability
from datadiet.scores.inputs import ScoreInputs
from datadiet.scores.registry import Score

_KEYS = ("ids", "scores", "epoch", "batch", "confidence", "correct")


def as_id_array(example_ids) -> np.ndarray:
    """Example ids of a batch (tensor, array or list) as a flat ``int64`` array."""
    ids = example_ids.cpu() if torch.is_tensor(example_ids) else example_ids
    return np.asarray(ids, dtype=np.int64).reshape(-1)


class FreeScoreRecorder:
    """Buffers ``(id, score, epoch, p(y), correct)`` observations of training batches."""

    def __init__(self, require_finite: bool | None = None) -> None:
        self.pending: list[dict[str, np.ndarray]] = []
        self.seconds = 0.0
        self.require_finite = require_finite  # None: learnt from the history at the next flush
        self._epoch, self._batches = -1, 0  # training batches observed in the current epoch

    def observe(self, example_ids, inputs: ScoreInputs, score: Score, epoch: int, with_features: bool = False) -> None:
        """Score one training batch from its detached outputs and buffer the result (with
        ``inputs.features``, as float32, when ``with_features``)."""
        start = time.perf_counter()
        ids = as_id_array(example_ids)
        epoch = max(epoch, 0)
        self._epoch, self._batches = epoch, (self._batches + 1 if epoch == self._epoch else 1)
        score.check_inputs(inputs)
        with torch.no_grad():
            values = score(inputs).float().cpu().numpy().astype(np.float64)
            bad = non_finite(values)
            if self.require_finite and bad.any():
                raise NonFiniteScoreError(non_finite_message(ids, bad, _batch_text(self._batches, epoch)))
            entry = {"ids": ids, "scores": values, "epoch": np.full(len(ids), epoch, dtype=np.int64),
                     "batch": np.full(len(ids), self._batches, dtype=np.int64)}
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
        self.require_finite = history.require_finite
        bad = non_finite(merged["scores"])
        if self.require_finite and bad.any():  # refused before anything is applied (or the buffer cleared)
            first = int(np.flatnonzero(bad)[0])
            epoch = int(merged["epoch"][first])
            same = merged["epoch"] == epoch
            if "batch" in merged:
                same &= merged["batch"] == merged["batch"][first]
                where = _batch_text(int(merged["batch"][first]), epoch)
            else:
                where = f"in training batches of epoch {epoch} (counted from 0)"
            raise NonFiniteScoreError(non_finite_message(merged["ids"], bad & same, where))
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


def _batch_text(batch: int, epoch: int) -> str:
    """Where a training batch's score was recorded, for a message."""
    return (f"in training batch {batch} of epoch {epoch} (batches counted from 1 on this process since the epoch "
            f"began or the run resumed, epochs from 0)")
