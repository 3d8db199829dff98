"""What a run learns for free from its training forward passes: each batch's scores (and, for a
method that selects on features, its pooled features, projected by the run's one
:class:`~datadiet.select.compress.LazyProjection`), buffered by a
:class:`~datadiet.recorder.FreeScoreRecorder` until the next epoch boundary."""

from __future__ import annotations

from datadiet.free_features import FeatureStore, warn_missing_features
from datadiet.history import ScoreHistory
from datadiet.recorder import FreeScoreRecorder
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
