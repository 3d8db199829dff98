"""The published methods, one line each: ``DataDiet.nlu_data_diets(...)``, ``DataDiet.p3(...)``, ...

Each preset builds its strategy with the method's defaults; any keyword overrides a default (or
sets a run setting such as ``seed``), and a keyword the method does not use is refused.
"""

from __future__ import annotations

from typing import Any, TypeVar

from datadiet.settings import split_settings
from datadiet.strategies import build_strategy, strategy_from_settings

Diet = TypeVar("Diet", bound="Presets")
"""The class the presets build (:class:`~datadiet.DataDiet`), without importing it here."""


class Presets:
    """Class methods of :class:`~datadiet.DataDiet` that name the published methods."""

    @classmethod
    def nlu_data_diets(cls: type[Diet], keep: float | None = None, **kwargs: Any) -> Diet:
        """Attendu & Corbeil 2023 ("NLU on Data Diets"): warm up on all data (``warmup_epochs=1``),
        then every ``period`` (1) epochs re-score the *whole* train set in eval mode and keep the
        quantile band (``offset=0``: the hardest ``keep``, 0.5 unless given or planned by
        ``time_budget``), no exploration. Ranked as the authors'
        code ranks each task (``smoothing="as_published"``): EMA + the bias-corrected EW std for
        joint intent+slot, the latest score otherwise; ``smoothing="latest"`` overrides. The
        registered method ``nlu_data_diets``, so ``DataDiet(method="nlu_data_diets")`` is the same."""
        settings, overrides = split_settings(kwargs)
        return cls(build_strategy("nlu_data_diets", keep, **overrides), **settings)

    @classmethod
    def static(cls: type[Diet], keep: float = 0.5, warmup_epochs: int = 1, **kwargs: Any) -> Diet:
        """Score every example once after the warm-up and keep the hardest ``keep`` for the rest
        (static EL2N of Paul et al. 2021 with the default score)."""
        return cls._preset("static", dict(keep=keep, warmup_epochs=warmup_epochs), kwargs)

    @classmethod
    def random(cls: type[Diet], keep: float = 0.5, dynamic: bool = True, **kwargs: Any) -> Diet:
        """A fresh uniform subset every epoch (``dynamic=True``) or one fixed subset."""
        return cls._preset("random" if dynamic else "random_static", dict(keep=keep), kwargs)

    @classmethod
    def infobatch(cls: type[Diet], prune_ratio: float = 0.5, anneal_fraction: float = 0.125, **kwargs: Any) -> Diet:
        """InfoBatch (Qin et al. 2024): drop a random ``prune_ratio`` of the below-mean-loss examples,
        rescale the rest of them, anneal on all data in the last ``anneal_fraction`` of epochs."""
        return cls._preset("infobatch", dict(prune_ratio=prune_ratio, anneal_fraction=anneal_fraction), kwargs)

    @classmethod
    def p3(cls: type[Diet], budget: int | float, **kwargs: Any) -> Diet:
        """P3 (Yang et al. 2024) for causal LMs: ``budget`` examples per epoch (a count or a fraction),
        self-paced by policy-driven difficulty, diverse by a DPP (see :class:`~datadiet.strategies.P3`)."""
        return cls._preset("p3", dict(budget=budget), kwargs)

    @classmethod
    def full(cls: type[Diet], **kwargs: Any) -> Diet:
        """No pruning: the reference every time ratio is measured against."""
        return cls._preset("full", {}, kwargs)

    @classmethod
    def _preset(cls: type[Diet], method: str, defaults: dict, kwargs: dict) -> Diet:
        settings, overrides = split_settings(kwargs)
        return cls(strategy_from_settings(method, **{**defaults, **overrides}), **settings)

