"""P3 (Yang et al. 2024, arXiv 2408.05541): policy-driven difficulty, a self-paced eligible set that
widens from easy to hard, and a DPP that keeps each epoch's subset diverse."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from datadiet.history import ScoreHistory
from datadiet.schedule import Schedule
from datadiet.scores.policy import difficulty_with_trend
from datadiet.select.registry import SelectionRequest, get_selector
from datadiet.select.selection import Selection
from datadiet.select.self_paced import (
    P3_QUALITIES,
    PERCENTILE_SHAPES,
    STANDARDIZE_MODES,
    self_paced_eligible,
    self_paced_percentile,
)
from datadiet.select.compress import LazyProjection
from datadiet.strategies.base import EpochContext, Strategy, check_epochs, check_fraction, pruned_schedule
from datadiet.select.random import random_subset
from datadiet.strategies.rescore import RescorePolicy


def p3_budget(budget: int | float, num_examples: int) -> int:
    """Examples per epoch: an ``int`` count, or a ``float`` fraction of N (at least 1)."""
    count = budget if isinstance(budget, int) else max(1, int(round(budget * num_examples)))
    if count > num_examples:
        raise ValueError(f"P3 budget {count} is larger than the training set ({num_examples} examples)")
    return count


@dataclass(frozen=True)
class P3(Strategy):
    """Every epoch: the policy-driven difficulty of the examples (1 - mean action probability under
    the current model), the eligible set (difficulty at or below a percentile that rises from
    ``start`` to ``end`` by ``shape``), and a DPP greedy MAP of ``budget`` examples over the model's
    pooled last hidden states. Where the paper is silent the defaults follow the authors' code:
    the schedule ``p3_code`` (20, 40, ..., 100 for 5 epochs), quality ``easiness`` (1 - d) and
    feature dimensions z-scored over the eligible set (``standardize``). ``trend_alpha`` adds
    ``alpha (d_e - d_{e-1})``.

    Scoring (``rescore``): ``"stale"`` (the default) takes the difficulty and the pooled features of
    the examples trained last epoch from their training forward pass (free) and re-scores with a
    pass only the never-scored examples and at most ``rescore_fraction * N`` of the stale ones
    (not trained last epoch, oldest first); ``"all"`` re-scores every example every epoch, as the
    authors' code. ``cold_start="random"`` trains the first epoch on a uniform random ``budget``
    instead of scoring the whole pool first (the one pass ``"stale"`` cannot avoid): its examples
    get their difficulty and features free, and the next epoch's pass scores only the rest.
    ``feature_dim``: project the pooled features batch by batch, as they leave the
    model, to this many dimensions (a seeded Gaussian projection after z-scoring with moments fitted
    on the first features seen, :class:`~datadiet.select.compress.LazyProjection`),
    so the feature store is ``N x feature_dim`` float32 however wide the model. Method card:
    ``docs/methods/p3.md``.

    ``rescore``, ``rescore_fraction`` and ``cold_start`` mean what they mean for
    :class:`~datadiet.strategies.score_based.ScoreBased`: both build one
    :class:`~datadiet.strategies.rescore.RescorePolicy` (``rescore_policy``) in ``__post_init__``
    and delegate to it (a plain attribute, not a field: the settings, checkpoints and the run
    contract keep their shape). P3's one difference is ``first_pass_scores_all``: its plan counts
    the whole pool at the first selection even after a warm-up, since a warm-up batch records a free
    difficulty only with its pooled features, which a plain loop may not give.
    """

    method: ClassVar[str] = "p3"
    needs: ClassVar[tuple[str, ...]] = ("features",)

    budget: int | float = 0.5
    start: float = 0.0
    end: float = 100.0
    shape: str = "p3_code"
    quality: str = "easiness"
    standardize: bool | str = True
    theta: float | None = None
    trend_alpha: float = 0.0
    score: str = "policy_difficulty"
    rescore: str = "stale"
    rescore_fraction: float = 0.1
    warmup_epochs: int = 0
    cold_start: str = "score"
    feature_dim: int | None = None
    _previous: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        b = self.budget
        if isinstance(b, bool) or not ((isinstance(b, int) and b >= 1) or (isinstance(b, float) and 0 < b <= 1)):
            raise ValueError(f"budget is an example count >= 1 or a fraction in (0, 1], got {b!r}")
        LazyProjection(self.feature_dim)  # checks it
        check_fraction("start", self.start, 0.0, 100.0)
        check_fraction("end", self.end, 0.0, 100.0)
        if self.shape not in PERCENTILE_SHAPES:
            raise ValueError(f"unknown shape {self.shape!r}; choose one of {', '.join(PERCENTILE_SHAPES)}")
        if self.quality not in P3_QUALITIES:
            raise ValueError(f"unknown quality {self.quality!r}; choose one of {', '.join(P3_QUALITIES)}")
        if self.standardize not in (True, False, *STANDARDIZE_MODES):
            raise ValueError(f"standardize is True, False or one of {', '.join(STANDARDIZE_MODES)}; "
                             f"got {self.standardize!r}")
        if self.theta is not None:
            check_fraction("theta", self.theta, 0.0, 1.0, high_open=True)
        check_fraction("trend_alpha", self.trend_alpha, 0.0, float("inf"))
        check_epochs("warmup_epochs", self.warmup_epochs, 0)
        object.__setattr__(self, "rescore_policy", RescorePolicy(self.rescore, self.rescore_fraction, self.cold_start,
                                                                 self.warmup_epochs, first_pass_scores_all=True))

    @property
    def score_name(self) -> str:
        return self.score

    def plan(self, num_examples: int, num_epochs: int) -> Schedule:
        keep = p3_budget(self.budget, num_examples) / num_examples
        return pruned_schedule(num_epochs, keep, self.warmup_epochs)

    @property
    def records_free_scores(self) -> bool:
        """Under ``rescore="all"`` every selection reads pass scores alone."""
        return self.rescore_policy.records_free_scores

    def selects_blind(self, epoch: int) -> bool:
        return self.rescore_policy.selects_blind(epoch)

    def ids_to_rescore(self, epoch: int, history: ScoreHistory, seed: int) -> np.ndarray:
        return self.rescore_policy.ids(epoch, history, seed)

    def expected_scored(self, epoch: int, schedule: Schedule, num_examples: int) -> int:
        """N under ``rescore="all"`` and at the first selection, warm-up or not (every example may
        still be unscored: a plain loop that gives no features records no free score); with a random
        cold start, 0 for the blind first selection and then the examples its epoch did not train;
        else the stale budget (:meth:`RescorePolicy.expected_scored`; 0 at epochs that do not select)."""
        if not self.selects_at(epoch, schedule):
            return 0
        return self.rescore_policy.expected_scored(epoch, schedule, num_examples)

    def select(self, ctx: EpochContext) -> Selection:
        if self.selects_blind(ctx.epoch):  # no difficulty yet: a uniform subset, scored by its training
            ctx.record["p3_random_first"] = True
            return random_subset(ctx.num_examples, ctx.schedule.keep_at(ctx.epoch), ctx.rng("select"))
        scores = ctx.history.latest.copy()
        difficulty = scores
        previous = self._previous.get("difficulty")
        if self.trend_alpha and previous is not None:
            difficulty = difficulty_with_trend(scores, previous, self.trend_alpha)
        self._previous["difficulty"] = scores
        keep = ctx.schedule.keep_at(ctx.epoch)
        options = {"start": self.start, "end": self.end, "shape": self.shape, "quality": self.quality,
                   "standardize": self.standardize, "theta": self.theta, "device": ctx.device}
        request = SelectionRequest(num_examples=ctx.num_examples, keep=keep, rng=ctx.rng("select"), scores=difficulty,
                                   features=ctx.features, epoch=ctx.epoch, num_epochs=ctx.schedule.num_epochs,
                                   options=options)
        selection = get_selector("p3")(request)
        ctx.record.update(self.epoch_stats(ctx.epoch, ctx.schedule.num_epochs, difficulty, selection))
        return selection

    def epoch_stats(self, epoch: int, num_epochs: int, d: np.ndarray, selection: Selection) -> dict:
        """What P3 did this epoch, for the log: the percentile, how many examples it made eligible,
        the mean finite difficulty of the pool and of the selection, and how many examples had no
        action to score (``d = inf``)."""
        percentile = self_paced_percentile(epoch, num_epochs, self.start, self.end, self.shape)
        finite = np.isfinite(d)
        picked = d[selection.indices]
        return {"p3_percentile": percentile, "p3_eligible": int(len(self_paced_eligible(d, percentile))),
                "difficulty_mean": float(d[finite].mean()) if finite.any() else float("inf"),
                "selected_difficulty_mean": float(picked[np.isfinite(picked)].mean())
                if np.isfinite(picked).any() else float("inf"),
                "unscorable": int((~finite).sum())}

    def state_dict(self) -> dict:
        previous = self._previous.get("difficulty")
        return {} if previous is None else {"previous_difficulty": previous.copy()}

    def load_state_dict(self, state: dict) -> None:
        self._previous.clear()
        if state.get("previous_difficulty") is not None:
            self._previous["difficulty"] = np.asarray(state["previous_difficulty"], dtype=np.float64).copy()
