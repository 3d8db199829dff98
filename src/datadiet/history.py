"""Per-example record of observed scores over training: smoothing and training dynamics.

One array per field, indexed by example id: O(N) memory whatever the number of epochs.
Formulas: ``docs/methods.md`` ("Smoothing scores over time", "Forgetting events", "Training
dynamics"); the ranking rules that read these arrays are in :mod:`datadiet.ranking`.
"""

from __future__ import annotations

import numpy as np

SOURCE_NONE, SOURCE_TRAIN, SOURCE_PASS = 0, 1, 2


class NonFiniteScoreError(ValueError):
    """A method that ranks by score got a NaN (or -inf) score: the message names the example ids,
    the epoch and where the score came from, and says how to go on."""


def non_finite(scores: np.ndarray) -> np.ndarray:
    """Which scores are not usable: NaN or -inf (+inf is a valid score: never learned, hardest)."""
    return ~np.isfinite(scores) & ~np.isposinf(scores)


def non_finite_message(ids: np.ndarray, bad: np.ndarray, where: str) -> str:
    """The message of :class:`NonFiniteScoreError` for the ``bad`` entries of ``ids`` seen ``where``."""
    named = np.unique(ids[bad])
    listed = f"{named[:20].tolist()}{' ...' if len(named) > 20 else ''}"
    return (f"non-finite score (NaN or -inf) for example ids {listed} {where}: the model's outputs for them are "
            f"not finite (a NaN loss? lower the learning rate, check those inputs, or train in bf16/fp32 rather "
            f"than fp16). Nothing of it was recorded: fix the cause and resume from the last checkpoint "
            f"(trainer.train(resume_from_checkpoint=True)); a method that reads no score (DataDiet.full(), "
            f"DataDiet.random()) does not stop on it")


def ema_update(mean: np.ndarray, var: np.ndarray, x: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """One step of the exponentially weighted mean and variance.

    ``s_k = a x_k + (1 - a) s_{k-1}`` (Raju et al. 2021, with a = 0.8) and the matching
    exponentially weighted variance ``v_k = (1 - a) (v_{k-1} + a (x_k - s_{k-1})^2)`` (Finch 2009,
    "Incremental calculation of weighted mean and variance"). Arrays are updated out of place.
    """
    diff = x - mean
    new_mean = mean + alpha * diff
    new_var = (1.0 - alpha) * (var + alpha * diff * diff)
    return new_mean, new_var


class ScoreHistory:
    """Every observation of every example's score, reduced to O(N) running statistics.

    Args:
        num_examples: N, the size of the training set; ids are 0..N-1.
        alpha: EMA weight of the newest observation (Raju et al. 2021: 0.8).
        ucb_c: weight of the exponentially weighted std in the UCB score (Raju et al. 2021: 1).
        require_finite: a NaN or -inf score raises :class:`NonFiniteScoreError` (methods that rank
            by score); False: such an observation is left out (methods that read no score, whose
            history only feeds the report's data map).
    """

    def __init__(self, num_examples: int, alpha: float = 0.8, ucb_c: float = 1.0, require_finite: bool = True) -> None:
        if num_examples < 1:
            raise ValueError(f"num_examples must be >= 1, got {num_examples}")
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        n = int(num_examples)
        self.num_examples = n
        self.alpha = float(alpha)
        self.ucb_c = float(ucb_c)
        self.require_finite = bool(require_finite)
        self.latest = np.full(n, np.nan)
        self.ema = np.full(n, np.nan)
        self.ew_var = np.zeros(n)
        self.ew_weight_sq = np.zeros(n)  # sum of the squared EMA weights, for the bias correction
        self.count = np.zeros(n, dtype=np.int64)
        self.last_epoch = np.full(n, -1, dtype=np.int64)
        self.last_source = np.zeros(n, dtype=np.int8)
        # training dynamics (Swayamdipta et al. 2020) and forgetting events (Toneva et al. 2019)
        self.dyn_count = np.zeros(n, dtype=np.int64)
        self.conf_sum = np.zeros(n)
        self.conf_sqsum = np.zeros(n)
        self.correct_count = np.zeros(n, dtype=np.int64)
        self.prev_correct = np.full(n, -1, dtype=np.int8)
        self.forgetting_events = np.zeros(n, dtype=np.int64)

    # -- recording -------------------------------------------------------------------------
    def update(
        self,
        ids: np.ndarray,
        scores: np.ndarray,
        epoch: int,
        source: int = SOURCE_TRAIN,
        confidence: np.ndarray | None = None,
        correct: np.ndarray | None = None,
    ) -> None:
        """Record one observation for each id (ids may repeat: applied in order).

        A NaN or -inf score raises :class:`NonFiniteScoreError` naming the ids and the epoch, before
        anything is recorded (with ``require_finite=False`` those observations are left out)."""
        ids = np.asarray(ids, dtype=np.int64)
        scores = np.asarray(scores, dtype=np.float64)
        if ids.shape != scores.shape:
            raise ValueError(f"ids and scores must align, got {ids.shape} and {scores.shape}")
        if len(ids) and (ids.min() < 0 or ids.max() >= self.num_examples):
            raise IndexError(f"example ids must lie in [0, {self.num_examples}), got {ids.min()}..{ids.max()}")
        bad = non_finite(scores)
        if bad.any():
            if self.require_finite:
                where = "in a scoring pass" if source == SOURCE_PASS else "in training batches"
                raise NonFiniteScoreError(non_finite_message(ids, bad, f"{where} of epoch {epoch} (counted from 0)"))
            keep = ~bad
            ids, scores = ids[keep], scores[keep]
            confidence = None if confidence is None else np.asarray(confidence)[keep]
            correct = None if correct is None else np.asarray(correct)[keep]
        # repeated ids within one call are applied one after another (rare: padded DDP batches)
        _, first = np.unique(ids, return_index=True)
        if len(first) != len(ids):
            for i in range(len(ids)):
                self.update(ids[i : i + 1], scores[i : i + 1], epoch, source,
                            None if confidence is None else np.asarray(confidence)[i : i + 1],
                            None if correct is None else np.asarray(correct)[i : i + 1])
            return
        seen = self.count[ids] > 0
        finite_prev = np.isfinite(self.ema[ids])
        mean_prev = np.where(seen & finite_prev, self.ema[ids], scores)
        var_prev = np.where(seen, self.ew_var[ids], 0.0)
        with np.errstate(invalid="ignore"):
            new_mean, new_var = ema_update(mean_prev, var_prev, scores, self.alpha)
        # an infinite observation (never-learned / empty solution) makes the running stats infinite
        new_mean = np.where(np.isposinf(scores), np.inf, new_mean)
        new_var = np.where(np.isfinite(new_var), new_var, 0.0)
        self.ema[ids] = new_mean
        self.ew_var[ids] = new_var
        a = self.alpha
        self.ew_weight_sq[ids] = np.where(seen, (1.0 - a) ** 2 * self.ew_weight_sq[ids] + a * a, 1.0)
        self.latest[ids] = scores
        self.count[ids] += 1
        self.last_epoch[ids] = epoch
        self.last_source[ids] = source
        if confidence is not None and correct is not None:
            self._update_dynamics(ids, np.asarray(confidence, np.float64), np.asarray(correct, bool))

    def _update_dynamics(self, ids: np.ndarray, confidence: np.ndarray, correct: np.ndarray) -> None:
        self.dyn_count[ids] += 1
        self.conf_sum[ids] += confidence
        self.conf_sqsum[ids] += confidence * confidence
        self.correct_count[ids] += correct
        prev = self.prev_correct[ids]
        self.forgetting_events[ids] += (prev == 1) & ~correct
        self.prev_correct[ids] = correct.astype(np.int8)

    # -- reading ---------------------------------------------------------------------------
    def forgetting_scores(self) -> np.ndarray:
        """Forgetting events per example (Toneva et al. 2019); never learned = +inf (hardest)."""
        out = self.forgetting_events.astype(np.float64)
        out[self.correct_count == 0] = np.inf
        return out

    def dynamics(self) -> dict[str, np.ndarray]:
        """Dataset-cartography statistics: mean confidence p(y), its std (variability), and the
        fraction of observations predicted right (correctness); NaN for never-observed examples."""
        with np.errstate(invalid="ignore", divide="ignore"):
            n = self.dyn_count.astype(np.float64)
            mean = self.conf_sum / n
            var = np.maximum(self.conf_sqsum / n - mean * mean, 0.0)
            return {
                "confidence": mean,
                "variability": np.sqrt(var),
                "correctness": self.correct_count / n,
                "forgetting": self.forgetting_scores(),
            }

    def age(self, epoch: int) -> np.ndarray:
        """Epochs since each example's latest score (a large number if never scored)."""
        return np.where(self.last_epoch >= 0, epoch - self.last_epoch, np.iinfo(np.int64).max // 2)

    # -- checkpointing ---------------------------------------------------------------------
    _ARRAYS = ("latest", "ema", "ew_var", "ew_weight_sq", "count", "last_epoch", "last_source", "dyn_count", "conf_sum",
               "conf_sqsum", "correct_count", "prev_correct", "forgetting_events")

    def state_dict(self) -> dict:
        state = {name: getattr(self, name).copy() for name in self._ARRAYS}
        state.update(num_examples=self.num_examples, alpha=self.alpha, ucb_c=self.ucb_c)
        return state

    def load_state_dict(self, state: dict) -> None:
        if int(state["num_examples"]) != self.num_examples:
            raise ValueError(
                f"the saved score history is for {state['num_examples']} examples but this training set has "
                f"{self.num_examples}: resume with the same dataset (same order and filtering) it was saved with"
            )
        self.alpha, self.ucb_c = float(state["alpha"]), float(state["ucb_c"])
        for name in self._ARRAYS:
            arr = np.asarray(state[name])
            if arr.shape != (self.num_examples,):
                raise ValueError(f"history field {name!r} has shape {arr.shape}, expected ({self.num_examples},)")
            setattr(self, name, arr.astype(getattr(self, name).dtype).copy())
