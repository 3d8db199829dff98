"""What a run learns for free from its training forward passes, and the calls that give it.

:class:`TrainingObserver` holds each batch's scores (and, for a method that selects on features,
its pooled features, projected by the run's one :class:`~datadiet.select.compress.LazyProjection`),
buffered by a :class:`~datadiet.recorder.FreeScoreRecorder` until the next epoch boundary.
:class:`TrainingSeam` is the part of :class:`~datadiet.DataDiet` every integration calls for each
training batch.
"""

from __future__ import annotations

from typing import Any

import torch

from datadiet.free_features import FeatureStore, capture_context, warn_missing_features
from datadiet.history import ScoreHistory
from datadiet.recorder import FreeScoreRecorder, as_id_array
from datadiet.scores.inputs import ScoreInputs
from datadiet.scores.registry import Score
from datadiet.select.compress import LazyProjection


class TrainingObserver:
    """The free-score side of one run of ``strategy`` (a new one per run)."""

    def __init__(self, strategy) -> None:
        self.method, self.feature_dim = strategy.method, strategy.feature_dim
        self.wants_features = "features" in strategy.needs
        self.recorder = FreeScoreRecorder()
        self._projection: LazyProjection | None = None  # built on first use
        self._warned_missing = False  # warn_missing_features: once per run

    def projection(self, seed: int) -> LazyProjection:
        """The map from a model's pooled features to ``feature_dim`` dimensions, the same for the
        training forward and the scoring passes (z-scoring moments fitted on the first features)."""
        if self._projection is None or self._projection.seed != seed:
            self._projection = LazyProjection(self.feature_dim, seed)
        return self._projection

    def record(self, ids, inputs: ScoreInputs, score: Score, epoch: int, seed: int, features=None) -> None:
        """Buffer one training batch's scores. A method that selects on features records a score only
        with its features (``features``, else ``inputs.features``), so every example's score and
        features come from the same pass; a batch without them is skipped (said once)."""
        inputs.features = self.projection(seed)(features if features is not None else inputs.features)
        if self.wants_features and inputs.features is None:
            if not self._warned_missing:
                self._warned_missing = True
                warn_missing_features(self.method)
            return
        self.recorder.observe(ids, inputs, score, epoch, with_features=self.wants_features)

    def flush(self, history: ScoreHistory, store: FeatureStore) -> int:
        """Apply the buffered scores to ``history`` and features to ``store`` (a collective)."""
        return self.recorder.flush(history, store.update, with_features=self.wants_features)


class TrainingSeam:
    """The calls an integration makes around each training batch (the Trainer, TRL's trainer, a plain
    or Accelerate loop): :meth:`training_loss` and, for methods that select on features,
    :meth:`capture_features`. A mixin of :class:`~datadiet.DataDiet`: the diet's ledger, observer and
    selection do the work."""

    def observe(self, example_ids, inputs, features: torch.Tensor | None = None) -> None:
        """Mark a training batch's examples trained and record its scores from its detached outputs
        (free: the forward pass made them; :meth:`TrainingObserver.record
        <datadiet.observer.TrainingObserver.record>`). Buffered, then all-gathered and applied at
        the next ``begin_epoch``."""
        self.require_setup()
        ids = as_id_array(example_ids)
        if len(ids) and (ids.min() < 0 or ids.max() >= self.num_examples):
            raise IndexError(f"example ids {ids.min()}..{ids.max()} are outside the training set's 0..{self.num_examples - 1}: "
                             "example_id must be each row's position (datadiet.with_example_ids renumbers a dataset)")
        self.ledger.mark(ids)
        if self.training_records_scores():
            self.observer.record(ids, inputs, self.score, self.epoch, self.seed, features)

    def compress_features(self, features):
        """A batch of pooled features projected to the strategy's ``feature_dim`` (as they are
        without one), the same map for the training forward and the scoring passes."""
        return self.feature_projection()(features)

    def feature_projection(self) -> LazyProjection:
        """The map of :meth:`compress_features` (z-scoring moments fitted on the first features)."""
        return self.observer.projection(self.seed)

    def capture_features(self, model: torch.nn.Module, batch: dict):
        """A block around a training forward that yields a dict whose ``"features"`` are the batch's
        pooled last hidden states, when the strategy records free features (else it stays empty);
        pass them to :meth:`observe` or :meth:`weighted_loss` (``features=``)."""
        return capture_context(self.records_free_features(), model, batch)

    def records_free_features(self) -> bool:
        """Whether training steps capture pooled features: a method on features that records free scores."""
        return self.observer.wants_features and self.adapter is not None and self.training_records_scores()

    def flush(self) -> None:
        """Apply the buffered training-pass scores (and features) to the history, and merge every
        rank's marks of trained examples (a collective)."""
        self.require_setup()
        self.observer.flush(self.history, self.feature_store)
        self.ledger.merge()

    def training_loss(self, example_ids, outputs: Any, batch: dict, loss: torch.Tensor | None = None,
                      features: torch.Tensor | None = None) -> torch.Tensor:
        """The one call an integration makes for each training batch (the Trainer, TRL's trainer
        and a plain loop all do): mark the batch's examples trained (:meth:`end_epoch` checks them),
        observe its free scores from ``outputs`` (and ``features``, see :meth:`capture_features`),
        and return ``loss`` (default: ``outputs.loss``) with the selection's loss weights applied:
        itself when every kept example has weight 1, else the mean of the per-example losses times
        their weights (InfoBatch's rescaling)."""
        if self.adapter is None:
            raise ValueError("the diet does not know the task yet: pass task= to the DataDiet or model= to setup()")
        self.observe(example_ids, self.adapter.score_inputs(outputs, batch), features)
        if loss is None:
            loss = outputs["loss"] if isinstance(outputs, dict) else getattr(outputs, "loss", None)
        if loss is None:
            raise ValueError("the model returned no loss: include the labels in the batch")
        if self.selection.uniform:
            return loss
        weights = self.selection.weights_of(as_id_array(example_ids))
        per_example = self.adapter.per_example_loss(outputs, batch)
        return (per_example * torch.as_tensor(weights, dtype=torch.float32, device=per_example.device)).mean()

    def weighted_loss(self, example_ids, outputs: Any, batch: dict, features: torch.Tensor | None = None) -> torch.Tensor:
        """A plain loop's :meth:`training_loss` of the model's own ``outputs.loss``."""
        return self.training_loss(example_ids, outputs, batch, features=features)
