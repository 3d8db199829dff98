"""Pruning methods as strategies: one frozen dataclass per method (see :class:`Strategy`).

``build_strategy(method, **settings)`` makes one from flat keywords; ``register_strategy`` adds a
method by name.
"""

from datadiet.strategies.base import EpochContext, Strategy
from datadiet.strategies.full import FullData
from datadiet.strategies.infobatch import InfoBatch
from datadiet.strategies.p3 import P3
from datadiet.strategies.random import RandomSubset
from datadiet.strategies.registry import available_methods, build_strategy, register_strategy
from datadiet.strategies.score_based import ScoreBased, StaticScore

__all__ = ["EpochContext", "FullData", "InfoBatch", "P3", "RandomSubset", "ScoreBased", "StaticScore", "Strategy",
           "available_methods", "build_strategy", "register_strategy"]
