"""Strategy classes by name, and the flat keyword form ``DataDiet(keep=0.5, epsilon=0.2, ...)``.

This is the table of strategy *classes* (what the contract suite checks and what the flat keywords
are translated against); the names users pick, ``DataDiet(method=...)`` and ``datadiet train``'s
``method:``, are the methods of :mod:`datadiet.strategies.method_registry`, each of which builds
one of these."""

from __future__ import annotations

import dataclasses
from typing import Any

from datadiet.strategies.base import Strategy
from datadiet.strategies.full import FullData
from datadiet.strategies.infobatch import InfoBatch
from datadiet.strategies.p3 import P3
from datadiet.strategies.random import RandomSubset
from datadiet.strategies.score_based import ScoreBased, StaticScore
from datadiet.validation import UnknownName

_STRATEGIES: dict[str, tuple[type, dict]] = {}


def register_strategy(method: str, cls: type, **fixed: Any) -> None:
    """Register a strategy class under a method name (``fixed``: fields the name implies)."""
    if method in _STRATEGIES:
        raise ValueError(f"a strategy named {method!r} is already registered")
    if not (isinstance(cls, type) and issubclass(cls, Strategy) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"{cls!r} is not a Strategy dataclass")
    _STRATEGIES[method] = (cls, dict(fixed))


def available_strategies() -> tuple[str, ...]:
    """The names of the registered strategy classes (``dynamic``, ``static``, ``p3``, ...)."""
    return tuple(_STRATEGIES)


def strategy_fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.init)


SELECTOR_SHORTHANDS = ("epsilon", "offset", "beta", "num_strata")
"""Selector options that the flat form also takes as plain keywords (``DataDiet(keep, epsilon=0.2)``)."""


def _translate(method: str, cls: type, kwargs: dict) -> dict:
    """The flat keywords of the README in the strategy's own terms: selector shorthands go into
    ``selector_options``, ``class_balanced=True`` picks the ``class_balanced`` selector, and
    ``score="forgetting"`` (a history-based score) records the loss and ranks by forgetting."""
    kwargs = dict(kwargs)
    if "selector_options" not in strategy_fields(cls):
        return kwargs
    if kwargs.pop("class_balanced", False):
        kwargs["selector"] = "class_balanced"
    shorthand = {k: kwargs.pop(k) for k in SELECTOR_SHORTHANDS if k in kwargs}
    if shorthand:
        base = kwargs.get("selector_options")
        if base is None:
            default = next(f for f in dataclasses.fields(cls) if f.name == "selector_options").default_factory()
            base = default if kwargs.get("selector") in (None, _default_selector(cls)) else {}
        kwargs["selector_options"] = {**base, **shorthand}
    elif "selector" in kwargs and kwargs["selector"] != _default_selector(cls) and "selector_options" not in kwargs:
        kwargs["selector_options"] = {}
    if kwargs.get("score") == "forgetting":
        kwargs["score"] = "loss"
        kwargs.setdefault("smoothing", "forgetting")
    return kwargs


def _default_selector(cls: type) -> str:
    return next(f.default for f in dataclasses.fields(cls) if f.name == "selector")


def strategy_from_settings(method: str, **kwargs: Any) -> Strategy:
    """The registered strategy ``method`` from flat keywords; a keyword that does not apply to it
    is refused, naming the strategies it applies to."""
    if method not in _STRATEGIES:
        raise UnknownName("strategy", method, _STRATEGIES)
    cls, fixed = _STRATEGIES[method]
    kwargs = _translate(method, cls, kwargs)
    own = set(strategy_fields(cls)) - set(fixed)
    foreign = sorted(set(kwargs) - own)
    if foreign:
        where = {k: [m for m, (c, f) in _STRATEGIES.items() if k in strategy_fields(c) and k not in f] for k in foreign}
        detail = "; ".join(f"{k} applies to {', '.join(ms) or 'no method'}" for k, ms in where.items())
        raise ValueError(f"method {method!r} does not use {', '.join(foreign)} ({detail}); "
                         f"its settings: {', '.join(sorted(own)) or 'none'}")
    return cls(**fixed, **kwargs)


register_strategy("full", FullData)
register_strategy("dynamic", ScoreBased)
register_strategy("static", StaticScore)
register_strategy("random", RandomSubset, dynamic=True)
register_strategy("random_static", RandomSubset, dynamic=False)
register_strategy("infobatch", InfoBatch)
register_strategy("p3", P3)
