"""The validated configuration of a :class:`~datadiet.DataDiet`: which method, which score, when."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from datadiet.history import SMOOTHINGS
from datadiet.scores.registry import available_scores
from datadiet.select.validation import check_keep

METHODS = ("full", "dynamic", "static", "random", "random_static", "infobatch", "p3")
"""``full``: no pruning. ``dynamic``: score-based selection every cycle. ``static``: score once, keep
that subset. ``random``: a fresh random subset every cycle. ``random_static``: one fixed random
subset. ``infobatch``: soft pruning with rescaling. ``p3``: self-paced + DPP for causal LMs."""

RESCORE = ("all", "stale", "none")
"""Which examples a selection epoch re-scores with a forward pass: ``all`` (the paper's protocol),
``stale`` (those not seen in training last epoch, oldest first, at most ``rescore_fraction * N``;
unscored examples always), ``none`` (only never-scored examples)."""

HISTORY_SCORES = ("forgetting",)
"""Scores read from the history rather than from one forward pass."""


def check_score_name(name: str) -> None:
    valid = set(available_scores()) | set(HISTORY_SCORES) | {"auto"}
    if name not in valid:
        raise ValueError(f"unknown score {name!r}; valid scores: {', '.join(sorted(valid))}")


@dataclass(frozen=True)
class DietConfig:
    """Every knob of a diet, checked at construction with a message that says what to do.

    See :class:`~datadiet.DataDiet` for the meaning of each field.
    """

    method: str = "dynamic"
    keep: float | tuple[float, float] = 0.5
    score: str = "auto"
    smoothing: str = "ema"
    rescore: str = "stale"
    rescore_fraction: float = 0.1
    epsilon: float = 0.1
    offset: float = 0.0
    class_balanced: bool = False
    warmup_epochs: int = 1
    period: int = 1
    anneal_epochs: int = 0
    num_epochs: int | None = None
    prune_ratio: float = 0.5
    anneal_fraction: float = 0.125
    budget: int | float | None = None
    p3_start: float = 50.0
    p3_end: float = 95.0
    p3_shape: str = "linear"
    p3_theta: float | None = None
    trend_alpha: float = 0.0
    ema_alpha: float = 0.8
    ucb_c: float = 1.0
    seed: int = 0
    task: str | None = None
    scoring_batch_size: int = 256
    progress: bool = True

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; valid methods: {', '.join(METHODS)}")
        if isinstance(self.keep, (tuple, list)):
            object.__setattr__(self, "keep", tuple(check_keep(k) for k in self.keep))
        else:
            check_keep(self.keep)
        check_score_name(self.score)
        if self.smoothing not in SMOOTHINGS:
            raise ValueError(f"unknown smoothing {self.smoothing!r}; valid: {', '.join(SMOOTHINGS)}")
        if self.rescore not in RESCORE:
            raise ValueError(f"unknown rescore policy {self.rescore!r}; valid: {', '.join(RESCORE)}")
        if not 0.0 <= self.rescore_fraction <= 1.0:
            raise ValueError(f"rescore_fraction must be in [0, 1], got {self.rescore_fraction}")
        if not 0.0 <= self.epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {self.epsilon}")
        if not 0.0 <= self.offset < 1.0:
            raise ValueError(f"offset must be in [0, 1), got {self.offset}")
        if self.warmup_epochs < 0 or self.anneal_epochs < 0 or self.period < 1:
            raise ValueError("warmup_epochs and anneal_epochs must be >= 0 and period >= 1")
        if self.num_epochs is not None and (not isinstance(self.num_epochs, int) or self.num_epochs < 1):
            raise ValueError(f"num_epochs must be a positive integer, got {self.num_epochs!r}")
        if not 0.0 <= self.prune_ratio < 1.0:
            raise ValueError(f"prune_ratio must be in [0, 1), got {self.prune_ratio}")
        if not 0.0 <= self.anneal_fraction < 1.0:
            raise ValueError(f"anneal_fraction must be in [0, 1), got {self.anneal_fraction}")
        if self.method == "p3" and self.budget is None:
            raise ValueError("P3 needs a budget: the number (int) or fraction (float) of examples per epoch")
        if self.budget is not None and not (
            (isinstance(self.budget, int) and self.budget >= 1) or (isinstance(self.budget, float) and 0 < self.budget <= 1)
        ):
            raise ValueError(f"budget is an example count >= 1 or a fraction in (0, 1], got {self.budget!r}")
        if self.p3_theta is not None and not 0.0 <= self.p3_theta < 1.0:
            raise ValueError(f"p3_theta must be in [0, 1), got {self.p3_theta}")
        if self.scoring_batch_size < 1:
            raise ValueError("scoring_batch_size must be >= 1")

    def to_dict(self) -> dict:
        return asdict(self)
