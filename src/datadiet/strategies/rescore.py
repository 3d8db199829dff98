"""Which examples a selection epoch re-scores with a forward-only pass, and what the plan counts
for it: :class:`RescorePolicy`, shared by the score-based methods and P3."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datadiet.history import ScoreHistory
from datadiet.rng import epoch_rng
from datadiet.schedule import Schedule
from datadiet.validation import check_number, check_whole

RESCORE = ("all", "stale", "none")
"""``all``: every example (the paper's protocol). ``stale``: those not seen in training in the last
epoch, oldest first (random among equals), at most ``fraction * N``; never-scored examples always.
``none``: only never-scored examples."""


COLD_STARTS = ("score", "random")
"""How a run without warm-up makes its first selection: ``score`` (a forward-only pass scores every
example with the model as it is) or ``random`` (the first epoch trains a uniform random subset with
no pass; the next selection's pass scores the examples it did not train)."""


def check_cold_start(cold_start: str, warmup_epochs: int) -> None:
    if cold_start not in COLD_STARTS:
        raise ValueError(f"unknown cold_start {cold_start!r}; valid: {', '.join(COLD_STARTS)}")
    if cold_start == "random" and warmup_epochs:
        raise ValueError("cold_start='random' replaces the warm-up: it needs warmup_epochs=0")


def check_rescore(policy: str, fraction: float) -> None:
    if policy not in RESCORE:
        raise ValueError(f"unknown rescore policy {policy!r}; valid: {', '.join(RESCORE)}")
    check_number("rescore_fraction", fraction, 0.0, 1.0)


def ids_to_rescore(policy: str, fraction: float, history: ScoreHistory, epoch: int, seed: int) -> np.ndarray:
    """The example ids to re-score at ``epoch`` under ``policy`` (see :data:`RESCORE`)."""
    n = history.num_examples
    if policy == "all":
        return np.arange(n, dtype=np.int64)
    never = np.flatnonzero(history.count == 0)
    if policy == "none":
        return never
    budget = int(round(fraction * n))
    age = history.age(epoch)
    candidates = np.flatnonzero((age > 1) & (history.count > 0))
    if budget and len(candidates):
        tiebreak = epoch_rng(seed, epoch, "rescore").random(len(candidates))
        candidates = candidates[np.lexsort((tiebreak, -age[candidates]))][:budget]
    else:
        candidates = candidates[:0]
    return np.union1d(never, candidates)


@dataclass(frozen=True)
class RescorePolicy:
    """Which examples a score-reading method's forward-only passes score, and what the plan counts
    for them: the one re-score / cold-start rule of :class:`~datadiet.strategies.score_based.ScoreBased`
    and :class:`~datadiet.strategies.p3.P3` (each builds one from its own fields and delegates to it).

    Args:
        mode: ``all``, ``stale`` or ``none`` (:data:`RESCORE`).
        fraction: ``stale``'s budget, a fraction of N in [0, 1].
        cold_start: ``score`` or ``random`` (:data:`COLD_STARTS`; ``random`` needs ``warmup_epochs=0``).
        warmup_epochs: full-data epochs before the first selection, which is at epoch ``warmup_epochs``.
        first_pass_scores_all: whether the plan counts every example at the first selection even
            after a warm-up (it always does without one: nothing is scored yet). P3 sets it: a
            training batch records its free difficulty only with its pooled features, which a plain
            loop may not give (the diet then skips the batch), so the whole pool is the upper bound.
            The score-based methods take the warm-up's free scores as given and plan ``mode``'s count.

    Between selections the rule is the steady one (:meth:`steady_scored`); two selections differ:
    the first (N without a warm-up or with ``first_pass_scores_all``) and, after a random cold start,
    the one after the blind first (the examples the first epoch did not train: they were never
    scored, and those it trained were scored free).
    """

    mode: str = "stale"
    fraction: float = 0.1
    cold_start: str = "score"
    warmup_epochs: int = 0
    first_pass_scores_all: bool = False

    def __post_init__(self) -> None:
        check_whole("warmup_epochs", self.warmup_epochs, 0, unit="epochs")
        check_cold_start(self.cold_start, self.warmup_epochs)
        check_rescore(self.mode, self.fraction)
        object.__setattr__(self, "fraction", float(self.fraction))

    @property
    def first_selection(self) -> int:
        """The epoch of the first selection (the end of the warm-up)."""
        return self.warmup_epochs

    @property
    def records_free_scores(self) -> bool:
        """Whether training's free scores enter the history: not under ``all``, whose every selection
        re-scores every example and ranks by pass scores alone."""
        return self.mode != "all"

    def selects_blind(self, epoch: int) -> bool:
        """Whether ``epoch``'s selection reads no score: a random cold start's first one."""
        return self.cold_start == "random" and epoch == self.first_selection

    def ids(self, epoch: int, history: ScoreHistory, seed: int) -> np.ndarray:
        """The ids a pass re-scores before the selection at ``epoch`` (:func:`ids_to_rescore`)."""
        return ids_to_rescore(self.mode, self.fraction, history, epoch, seed)

    @property
    def scored_fraction(self) -> float:
        """The fraction of N a re-scoring epoch scores in the steady state (1 under ``all``, the
        budget under ``stale``, 0 under ``none``): the closed-form time-budget solver's
        (:func:`~datadiet.planning.keep_for_budget`) cost of scoring per pruned epoch."""
        return {"all": 1.0, "stale": self.fraction, "none": 0.0}[self.mode]

    def steady_scored(self, num_examples: int) -> int:
        """Examples a selection after the first scores at most (``all``: N; ``stale``: the budget,
        ``round(fraction * N)``, never-scored examples aside; ``none``: 0)."""
        return num_examples if self.mode == "all" else int(round(self.scored_fraction * num_examples))

    def expected_scored(self, epoch: int, schedule: Schedule, num_examples: int) -> int:
        """Examples the plan expects the pass before the selection at ``epoch`` to score (an upper
        bound: ``stale`` scores fewer where fewer examples are stale, as right after a full pass or
        epoch). ``epoch`` is a selection epoch of ``schedule`` (the strategy plans 0 for others)."""
        if self.selects_blind(epoch):
            return 0
        if self.mode == "all":
            return num_examples
        if self.cold_start == "random" and epoch == self.first_selection + schedule.period:
            return num_examples - schedule.kept_counts(num_examples)[self.first_selection]
        if epoch == self.first_selection and (self.warmup_epochs == 0 or self.first_pass_scores_all):
            return num_examples
        return self.steady_scored(num_examples)
