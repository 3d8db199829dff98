"""Pruning methods as strategies: one frozen dataclass per strategy (see :class:`Strategy`), and
every method by name in one registry.

``build_strategy(method, keep, **overrides)`` makes the strategy of any registered method
(``available_methods()``: ``default``, ``nlu_data_diets``, ``ccs``, ``p3``, ...); ``register_method``
adds a method by name, ``register_strategy`` a strategy class.
"""

from datadiet.strategies.base import EpochContext, Strategy
from datadiet.strategies.full import FullData
from datadiet.strategies.infobatch import InfoBatch
from datadiet.strategies.p3 import P3
from datadiet.strategies.random import RandomSubset
from datadiet.strategies.registry import available_strategies, register_strategy, strategy_from_settings
from datadiet.strategies.method_registry import (
    Method,
    available_methods,
    build_strategy,
    get_method,
    preset,
    register_method,
    registered_method,
    unregister_method,
)
from datadiet.strategies import builtin_methods  # noqa: F401  (registers the built-in methods)
from datadiet.strategies.score_based import ScoreBased, StaticScore

__all__ = ["EpochContext", "FullData", "InfoBatch", "Method", "P3", "RandomSubset", "ScoreBased", "StaticScore",
           "Strategy", "available_methods", "available_strategies", "build_strategy", "get_method", "preset",
           "register_method", "register_strategy", "registered_method", "strategy_from_settings",
           "unregister_method"]
