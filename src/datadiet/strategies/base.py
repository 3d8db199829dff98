"""The interface of a pruning method: a frozen dataclass that plans its epochs, says which examples
need fresh scores and what it needs from the model, and selects.

A strategy validates only its own fields at construction; it holds no training state except what
its :meth:`Strategy.state_dict` returns. :class:`~datadiet.DataDiet` composes a strategy with the
score history, the recorder of free scores and the run log.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from datadiet.history import ScoreHistory
from datadiet.rng import epoch_rng
from datadiet.schedule import Schedule
from datadiet.select.selection import Selection
from datadiet.validation import check_number, check_whole


@dataclass(frozen=True)
class EpochContext:
    """What a strategy sees when it selects one epoch's examples.

    Attributes:
        epoch: the epoch being selected (0-based).
        schedule: the run's :class:`~datadiet.schedule.Schedule`.
        history: every example's score history (after this epoch's scoring pass).
        previous: the selection of the epoch before.
        seed: the diet's seed; ``rng(purpose)`` derives a generator from ``(seed, epoch, purpose)``.
        features: ``(N, d)`` diversity features, if the strategy asked for them.
        labels: ``(N,)`` class ids, if the strategy asked for them.
        record: this epoch's log record; a strategy may add its own fields.
        task: the task adapter's task (``joint_intent_slot``, ...), when known.
        device: the model's accelerator (``"cuda:0"``), where selection may run in torch; None on CPU.
        lengths: ``(N,)`` token counts of the examples, when the dataset has ``input_ids``.
    """

    epoch: int
    schedule: Schedule
    history: ScoreHistory
    previous: Selection
    seed: int
    features: np.ndarray | None = None
    labels: np.ndarray | None = None
    record: dict = dataclasses.field(default_factory=dict)
    task: str | None = None
    device: str | None = None
    lengths: np.ndarray | None = None

    @property
    def num_examples(self) -> int:
        return self.history.num_examples

    def rng(self, purpose: str) -> np.random.Generator:
        return epoch_rng(self.seed, self.epoch, purpose)


def check_epochs(name: str, value: Any, minimum: int) -> int:
    """An epoch count: an ``int`` (not ``1.5``, not ``"2"``) of at least ``minimum``."""
    return check_whole(name, value, minimum, unit="epochs")


def check_fraction(name: str, value: Any, low: float, high: float, *, high_open: bool = False) -> float:
    """A number in ``[low, high]`` (``[low, high)`` with ``high_open``), else a message naming it."""
    return check_number(name, value, low, high, high_open=high_open)


def check_time_budget(value: Any) -> float | None:
    """A time budget: None, or a fraction in (0, 1] of full-data training time."""
    if value is None:
        return None
    check_fraction("time_budget", value, 0.0, 1.0)
    if value == 0:
        raise ValueError("time_budget is a fraction in (0, 1] of full-data training time, got 0")
    return value


def pruned_schedule(num_epochs: int, keep, warmup_epochs: int, period: int = 1, anneal_epochs: int = 0) -> Schedule:
    """The plan of a pruning method: ``warmup_epochs`` on all data, then pruned epochs (a new
    selection every ``period``), then ``anneal_epochs`` on all data. At least one epoch must be
    pruned, else the method would silently train on everything."""
    if warmup_epochs + anneal_epochs >= num_epochs:
        raise ValueError(
            f"warm-up ({warmup_epochs}) + annealing ({anneal_epochs}) epochs leave none of the {num_epochs} "
            f"training epochs pruned: lower warmup_epochs / anneal_epochs or train for more epochs"
        )
    return Schedule(num_epochs, keep=keep, warmup_epochs=warmup_epochs, period=period, anneal_epochs=anneal_epochs)


class Strategy(ABC):
    """Base class of the pruning methods (subclasses are frozen dataclasses that implement
    :meth:`plan` and :meth:`select`).

    Class attributes:
        method: the method's name (``full``, ``dynamic``, ``static``, ...).
        needs: what the strategy needs besides per-example scores: ``"features"`` (diversity
            features from the model's hidden states) and/or ``"labels"`` (class ids).
        reads_scores: whether its selections read the scores (False: they are recorded for the
            report's data map only, and a NaN score is left out instead of stopping the run).
    """

    method: ClassVar[str] = ""
    needs: ClassVar[tuple[str, ...]] = ()
    reads_scores: ClassVar[bool] = True
    feature_dim: int | None = None  # width the diversity features are projected to (None: as the model gives them)

    # -- the plan --------------------------------------------------------------------------
    @abstractmethod
    def plan(self, num_examples: int, num_epochs: int) -> Schedule:
        """The epoch plan: warm-up, pruned and annealing epochs and each one's kept fraction."""

    def selects_at(self, epoch: int, schedule: Schedule) -> bool:
        """Whether ``epoch`` makes a new selection (else it keeps the previous one, or trains on
        everything outside the pruned phase)."""
        return schedule.is_selection_epoch(epoch)

    def phase_name(self, epoch: int, schedule: Schedule) -> str:
        """The phase the run log shows for ``epoch``."""
        return schedule.phase(epoch)

    @property
    def exact_plan(self) -> bool:
        """Whether every epoch trains exactly the planned count (else the plan is an upper bound)."""
        return True

    def plan_reason(self, num_examples: int, num_epochs: int) -> str | None:
        """Why the plan for ``num_epochs`` asked for is what it is, when the strategy chose (a time
        budget spent on fewer epochs); None when the plan is simply its settings."""
        return None

    @property
    def plan_note(self) -> str | None:
        """What the plan's counts are, when they are neither exact nor upper bounds (None: one of those)."""
        return None

    # -- scores ----------------------------------------------------------------------------
    @property
    def score_name(self) -> str:
        """The score observed per example from the training forward pass (``"auto"``: the task's
        default, which methods that rank nothing record only for the report's data map)."""
        return "auto"

    @property
    def records_free_scores(self) -> bool:
        """Whether scores from training forward passes enter the history (a method that re-scores
        every example before each selection ranks by pass scores alone)."""
        return True

    def expected_scored(self, epoch: int, schedule: Schedule, num_examples: int) -> int:
        """Examples the plan expects a forward-only pass to score at ``epoch`` (an upper bound)."""
        return 0

    def history_options(self) -> dict:
        """Keyword arguments of the :class:`~datadiet.history.ScoreHistory` the diet keeps."""
        return {"require_finite": self.reads_scores}

    def selects_blind(self, epoch: int) -> bool:
        """Whether ``epoch``'s selection reads no score (a random first epoch): the diet runs no pass
        for it (:meth:`ids_to_rescore` is not asked), even for a score that training cannot give."""
        return False

    def ids_to_rescore(self, epoch: int, history: ScoreHistory, seed: int) -> np.ndarray:
        """Example ids whose score a forward-only pass must refresh before :meth:`select`."""
        return np.zeros(0, dtype=np.int64)

    # -- selection -------------------------------------------------------------------------
    @abstractmethod
    def select(self, ctx: EpochContext) -> Selection:
        """The examples (and loss weights) of ``ctx.epoch``."""

    # -- state -----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The strategy's own training state (most have none)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        if state:
            raise ValueError(f"the {self.method} strategy keeps no state, got {sorted(state)}")

    def inert_settings(self) -> frozenset[str]:
        """Settings that change nothing with the others as they are (e.g. how a time budget is spent,
        in a run without one): left out of :meth:`to_dict`, so reports show what acts, and not
        compared when a checkpoint that saved them resumes."""
        return frozenset()

    def unsaved_defaults(self) -> dict:
        """What a checkpoint from before one of these settings existed ran with, where not None (a
        resume compares an absent setting as this value; absent and None are otherwise the same)."""
        return {}

    def to_dict(self) -> dict:
        """The method and its settings (for logs, reports and checkpoints), less :meth:`inert_settings`."""
        out = {"method": self.method}
        inert = self.inert_settings()
        for f in dataclasses.fields(self):
            if f.init and f.name not in inert:
                value = getattr(self, f.name)
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out
