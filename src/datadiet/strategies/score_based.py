"""Score-based pruning: dynamic (re-select every ``period`` epochs) and static (select once).

Dynamic is the method of "NLU on Data Diets" (Attendu & Corbeil 2023) and the library's default;
static is static EL2N (Paul et al. 2021, "Deep Learning on a Data Diet"). Both rank examples by a
smoothed score (:mod:`datadiet.ranking`) and hand the ranking to a registered selector
(:mod:`datadiet.select.registry`).
"""

from __future__ import annotations


from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import numpy as np

from datadiet.adapters import may_be_free
from datadiet.history import ScoreHistory
from datadiet.planning import (BUDGET_EPOCHS, KEEP_FLOOR, BudgetChoice, choose_budget_plan, full_data_epochs,
                               keep_fitting_plan,
                               keep_for_budget)
from datadiet.ranking import get_ranking
from datadiet.schedule import Schedule
from datadiet.select.random import random_subset
from datadiet.select.registry import SelectionRequest, get_selector
from datadiet.select.selection import Selection
from datadiet.select.token_budget import fit_token_budget
from datadiet.select.validation import check_keep, whole_examples
from datadiet.strategies.base import EpochContext, Strategy, check_epochs, check_fraction, check_time_budget, pruned_schedule
from datadiet.strategies.rescore import RescorePolicy


def check_keep_setting(keep: Any) -> Any:
    """A kept fraction in (0, 1], or a ``(start, end)`` ramp of two."""
    if isinstance(keep, (tuple, list)):
        if len(keep) != 2:
            raise ValueError(f"a keep ramp is (start, end), got {keep!r}")
        return tuple(check_keep(k) for k in keep)
    return check_keep(keep)


def check_selector(name: str, options: Mapping[str, Any]) -> dict:
    if not isinstance(options, Mapping):
        raise ValueError(f"selector_options must be a mapping of option names to values, got {options!r}")
    return get_selector(name).check_options(options)


def check_score_name(name: Any) -> str:
    from datadiet.scores import available_scores

    valid = set(available_scores()) | {"auto"}
    if name not in valid:
        raise ValueError(f"unknown score {name!r}; valid scores: {', '.join(sorted(valid))}")
    return name


BUDGET_UNITS = ("examples", "tokens")
"""What ``keep`` counts (:class:`ScoreBased` ``budget_unit``)."""

AS_PUBLISHED = "as_published"
"""``smoothing`` that ranks as the public code of NLU on Data Diets does for the task at hand
(:data:`PUBLISHED_RANKING`)."""

PUBLISHED_RANKING = {"joint_intent_slot": "ucb_unbiased"}
"""The authors' code ranks joint intent+slot runs by EMA + 1 x the bias-corrected exponentially
weighted std (its joint-NLU defaults: ``prune_avg_mode="ema"``, ``var_coef=1``) and GLUE runs by
the latest score; tasks not listed here rank by ``latest``."""


def check_smoothing(name: str) -> str:
    if name != AS_PUBLISHED:
        get_ranking(name)
    return name


def rank_and_select(ctx: EpochContext, keep: float, smoothing: str, selector: str, options: Mapping) -> Selection:
    """Rank by ``smoothing`` over the history, then select with the named selector."""
    if smoothing == AS_PUBLISHED:
        smoothing = PUBLISHED_RANKING.get(ctx.task, "latest")
    scores = get_ranking(smoothing)(ctx.history)
    request = SelectionRequest(num_examples=ctx.num_examples, keep=keep, rng=ctx.rng("select"), scores=scores,
                               labels=ctx.labels, features=ctx.features, epoch=ctx.epoch,
                               num_epochs=ctx.schedule.num_epochs, options=options)
    return get_selector(selector)(request)


def selector_needs(selector: str) -> tuple[str, ...]:
    return tuple(n for n in get_selector(selector).needs if n != "scores")


@dataclass(frozen=True)
class RankedStrategy(Strategy):
    """What the score-based methods share: a score, a ranking rule over its history, a selector."""

    keep: float | tuple[float, float] = 0.5
    score: str = "auto"
    smoothing: str = "ema"
    selector: str = "epsilon_greedy"
    selector_options: Mapping[str, Any] = field(default_factory=lambda: {"epsilon": 0.1})
    warmup_epochs: int = 1
    ema_alpha: float = 0.8
    ucb_c: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "keep", check_keep_setting(self.keep))
        check_score_name(self.score)
        check_smoothing(self.smoothing)
        object.__setattr__(self, "selector_options", check_selector(self.selector, self.selector_options))
        check_epochs("warmup_epochs", self.warmup_epochs, 0)
        if check_fraction("ema_alpha", self.ema_alpha, 0.0, 1.0) == 0:
            raise ValueError("ema_alpha must be > 0 (the weight of the newest observation)")
        check_fraction("ucb_c", self.ucb_c, 0.0, float("inf"))

    @property
    def needs(self) -> tuple[str, ...]:  # type: ignore[override]
        return selector_needs(self.selector)

    @property
    def score_name(self) -> str:
        return self.score

    def history_options(self) -> dict:
        return {**super().history_options(), "alpha": self.ema_alpha, "ucb_c": self.ucb_c}


@dataclass(frozen=True)
class ScoreBased(RankedStrategy):
    """Dynamic score-based pruning: after ``warmup_epochs`` on all data, every ``period`` epochs
    keep ``keep`` of the examples chosen by ``selector`` from their ``smoothing``-ranked scores.

    Scores of kept examples come free from the training forward pass; ``rescore`` says which others
    a forward-only pass refreshes (``stale``: at most ``rescore_fraction * N`` of the oldest).

    Args:
        keep: kept fraction of pruned epochs in (0, 1], or a ``(start, end)`` linear ramp.
        score: a registered score name, or ``auto`` (the task's EL2N).
        smoothing: a ranking rule (``latest``, ``ema``, ``ucb``, ``ucb_unbiased``, ``forgetting``), or
            ``as_published`` (the rule of the NLU-on-Data-Diets code for the task).
        rescore, rescore_fraction: see :data:`datadiet.strategies.rescore.RESCORE`.
        selector, selector_options: a registered selector and its options
            (``epsilon_greedy`` with ``epsilon``/``offset``, ``band``, ``class_balanced``, ``ccs``, ...).
        warmup_epochs, period, anneal_epochs: the plan (:func:`pruned_schedule`).
        time_budget: instead of ``keep``, the fraction of full-data training time to spend; the
            kept fraction is planned to fit it (:func:`~datadiet.planning.keep_for_budget`).
        budget_epochs, keep_floor: how ``time_budget`` is spent: ``"auto"`` (the default), over the
            most epochs whose kept fraction stays at or above ``keep_floor`` (0.3: all of them when
            that keeps enough, else fewer epochs with the LR schedule over them; when no keep that
            high fits, the epochs that keep the most; :func:`~datadiet.planning.choose_budget_plan`);
            ``"all"``, by the kept fraction over every epoch asked for. Without ``time_budget`` both
            do nothing (they are left out of :meth:`to_dict` and so of checkpoints' contracts).
        ema_alpha, ucb_c: weight of the newest observation in the EMA; weight of the std in UCB.
        budget_unit: ``examples`` (``keep`` of the examples) or ``tokens`` (``keep`` of the tokens:
            fewer examples when the selected ones are longer than average,
            :func:`~datadiet.select.token_budget.fit_token_budget`; the plan's counts become an
            upper bound).
        cold_start: with ``warmup_epochs=0``, how the first selection is made: ``score`` (a
            forward-only pass scores every example with the model as it is, then rank) or
            ``random`` (the first epoch trains a uniform random subset; the examples it did not
            train are scored forward-only before the second selection, so no epoch pays for all
            the data).

    ``rescore``, ``rescore_fraction`` and ``cold_start`` stay the constructor's fields (the settings,
    checkpoints and the run contract name them); what they mean lives in one
    :class:`~datadiet.strategies.rescore.RescorePolicy`, ``rescore_policy``, which
    :meth:`ids_to_rescore`, :meth:`expected_scored`, :meth:`selects_blind`,
    :attr:`records_free_scores` and the time-budget solver read. It is built (and so checked) once
    in ``__post_init__``, as a plain attribute set with ``object.__setattr__``, not a field: invalid
    settings fail at construction like every other setting, ``dataclasses.replace`` rebuilds it from
    the new fields, and ``fields``, ``to_dict``, equality and checkpoints keep their shape.
    """

    method: ClassVar[str] = "dynamic"

    rescore: str = "stale"
    rescore_fraction: float = 0.1
    period: int = 1
    anneal_epochs: int = 0
    time_budget: float | None = None
    budget_epochs: str = "auto"
    keep_floor: float = KEEP_FLOOR
    cold_start: str = "score"
    budget_unit: str = "examples"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.budget_unit not in BUDGET_UNITS:
            raise ValueError(f"unknown budget_unit {self.budget_unit!r}; valid: {', '.join(BUDGET_UNITS)}")
        object.__setattr__(self, "rescore_policy", RescorePolicy(self.rescore, self.rescore_fraction, self.cold_start,
                                                                 self.warmup_epochs))
        check_epochs("period", self.period, 1)
        check_epochs("anneal_epochs", self.anneal_epochs, 0)
        if check_time_budget(self.time_budget) is not None and (self.period != 1 or isinstance(self.keep, tuple)):
            raise ValueError("time_budget (a fraction in (0, 1] of full-data training time) sets the kept "
                             "fraction itself: it needs period=1 and no keep ramp")
        if self.budget_epochs not in BUDGET_EPOCHS:
            raise ValueError(f"budget_epochs is one of {', '.join(BUDGET_EPOCHS)}, got {self.budget_epochs!r}")
        check_fraction("keep_floor", self.keep_floor, 0.0, 1.0)

    def inert_settings(self) -> frozenset[str]:
        """Without a time budget ``budget_epochs`` and ``keep_floor`` (they say how one is spent);
        with one ``keep`` (the budget plans the kept fraction), and with ``budget_epochs="all"``
        also ``keep_floor``."""
        if self.time_budget is None:
            return frozenset({"budget_epochs", "keep_floor"})
        return frozenset({"keep", "keep_floor"}) if self.budget_epochs == "all" else frozenset({"keep"})

    def unsaved_defaults(self) -> dict:
        """Under a time budget, ``budget_epochs="all"``: how budgets were spent before the setting existed."""
        return {} if self.time_budget is None else {"budget_epochs": "all"}

    @property
    def exact_plan(self) -> bool:
        return self.budget_unit == "examples"

    def selects_blind(self, epoch: int) -> bool:
        return self.rescore_policy.selects_blind(epoch)

    def expected_scored(self, epoch: int, schedule: Schedule, num_examples: int) -> int:
        """:meth:`RescorePolicy.expected_scored` at selection epochs, 0 at the others."""
        if not self.selects_at(epoch, schedule):
            return 0
        return self.rescore_policy.expected_scored(epoch, schedule, num_examples)

    @property
    def records_free_scores(self) -> bool:
        return self.rescore_policy.records_free_scores

    def plan(self, num_examples: int, num_epochs: int) -> Schedule:
        if self.time_budget is None:
            return pruned_schedule(num_epochs, self.keep, self.warmup_epochs, self.period, self.anneal_epochs)
        if self.budget_epochs == "all":
            keep = self._budget_keep(num_examples, self.time_budget, num_epochs)
            return pruned_schedule(num_epochs, keep, self.warmup_epochs, self.period, self.anneal_epochs)
        choice = self.budget_choice(num_examples, num_epochs)
        if choice.keep >= 1.0:  # full data for fewer epochs
            return Schedule(choice.epochs, keep=1.0, warmup_epochs=choice.epochs)
        return pruned_schedule(choice.epochs, choice.keep, self.warmup_epochs, self.period, self.anneal_epochs)

    def _budget_keep(self, num_examples: int, budget: float, num_epochs: int) -> float:
        """The kept fraction that spends ``budget`` of ``num_epochs`` full epochs."""
        pruned_schedule(num_epochs, 1.0, self.warmup_epochs, anneal_epochs=self.anneal_epochs)  # epochs check
        # features (a diversity selector's) come free only from a causal LM's training forward: the
        # task is not known here, so a plan that needs them is priced as if a pass gave them
        free = may_be_free(self.score_name) and "features" not in self.needs
        if self.warmup_epochs == 0 or self.cold_start == "random" or not free:
            # no closed form: a first selection without a warm-up scores (or draws) every example, and a
            # score training cannot record is computed in a pass over every example at each selection
            return keep_fitting_plan(self, num_examples, num_epochs, budget, free_scores=free)
        keep = keep_for_budget(budget, num_epochs, self.warmup_epochs, self.anneal_epochs,
                               self.rescore_policy.scored_fraction)
        whole = whole_examples(keep, num_examples)  # rounded down: the nearest count could overspend
        if not whole:
            raise ValueError(f"a time budget of {budget:g} leaves less than one of the {num_examples} examples to "
                             "each pruned epoch: raise the budget or lower warmup_epochs / anneal_epochs")
        return float(whole)

    def budget_choice(self, num_examples: int, num_epochs: int) -> BudgetChoice:
        """How ``time_budget`` is spent over ``num_epochs`` asked for (``budget_epochs="auto"``)."""
        return choose_budget_plan(self.time_budget, num_epochs,
                                  lambda budget, epochs: self._budget_keep(num_examples, budget, epochs), self.keep_floor)

    def plan_reason(self, num_examples: int, num_epochs: int) -> str | None:
        """Why a time budget's plan is what it is (``"auto"``'s choice, or ``"all"``'s keep over every
        epoch) and what the same budget would buy otherwise (the other rule's plan, full data for
        fewer epochs), so the user sees the alternatives before training."""
        if self.time_budget is None:
            return None
        if self.budget_epochs == "auto":
            choice = self.budget_choice(num_examples, num_epochs)
            lines = [choice.reason] + ([] if choice.epochs == num_epochs else self._other_rule(num_examples, num_epochs))
        else:
            keep = self._budget_keep(num_examples, self.time_budget, num_epochs)
            lines = [f"time budget {self.time_budget:g}: keep {keep:.3f} in the pruned epochs of all {num_epochs} "
                     "(budget_epochs='all')"] + self._other_rule(num_examples, num_epochs)
        if self.time_budget < 1:
            whole, last = full_data_epochs(self.time_budget, num_epochs)
            lines.append(f"full data for {whole + last:.3g} of the {num_epochs} epochs spends the same budget "
                         f"(DataDiet(method='full', time_budget={self.time_budget:g})); on sets that converge in a "
                         "few epochs it can be as good: compare both on your data")
        return "\n".join(lines)

    def _other_rule(self, num_examples: int, num_epochs: int) -> list[str]:
        """The plan the other ``budget_epochs`` rule would make of the same budget, as a line (none
        when that rule cannot plan it)."""
        try:
            if self.budget_epochs == "auto":
                keep = self._budget_keep(num_examples, self.time_budget, num_epochs)
                return [f"budget_epochs='all' would keep {keep:.3f} in the pruned epochs of all {num_epochs}"]
            auto = self.budget_choice(num_examples, num_epochs)
        except ValueError:
            return []
        return [f"budget_epochs='auto' would train {auto.epochs} of the {num_epochs} epochs"
                + ("" if auto.keep >= 1.0 else f" at keep {auto.keep:.3f}")]

    def ids_to_rescore(self, epoch: int, history: ScoreHistory, seed: int) -> np.ndarray:
        return self.rescore_policy.ids(epoch, history, seed)

    def select(self, ctx: EpochContext) -> Selection:
        keep = ctx.schedule.keep_at(ctx.epoch)
        if self.selects_blind(ctx.epoch):
            choose = lambda k: random_subset(ctx.num_examples, k, ctx.rng("select"))  # noqa: E731
        else:
            choose = lambda k: rank_and_select(ctx, k, self.smoothing, self.selector, self.selector_options)  # noqa: E731
        if self.budget_unit == "examples":
            return choose(keep)
        selection = fit_token_budget(choose, keep, ctx.lengths)
        ctx.record["kept_token_fraction"] = float(ctx.lengths[selection.indices].sum() / ctx.lengths.sum())
        return selection


@dataclass(frozen=True)
class StaticScore(RankedStrategy):
    """Static score-based pruning: score every example once after ``warmup_epochs`` (a full
    forward-only pass), keep the ``keep`` fraction ``selector`` chooses for the rest of training
    (static EL2N of Paul et al. 2021 with the default score and the ``band`` selector)."""

    method: ClassVar[str] = "static"

    keep: float = 0.5
    smoothing: str = "latest"
    selector: str = "band"
    selector_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.keep, tuple):
            raise ValueError(f"static pruning keeps one fraction, got a ramp {self.keep!r}")

    def plan(self, num_examples: int, num_epochs: int) -> Schedule:
        return pruned_schedule(num_epochs, self.keep, self.warmup_epochs)

    def selects_at(self, epoch: int, schedule: Schedule) -> bool:
        return epoch == self.warmup_epochs

    def expected_scored(self, epoch: int, schedule: Schedule, num_examples: int) -> int:
        return num_examples if self.selects_at(epoch, schedule) else 0

    def ids_to_rescore(self, epoch: int, history: ScoreHistory, seed: int) -> np.ndarray:
        return np.arange(history.num_examples, dtype=np.int64)

    def select(self, ctx: EpochContext) -> Selection:
        return rank_and_select(ctx, self.keep, self.smoothing, self.selector, self.selector_options)
