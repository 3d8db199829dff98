"""Every pruning method by name: the one vocabulary of ``DataDiet(method=...)``, ``datadiet
train``/``plan``/``demo`` configs and the benchmark grids.

A method is a function of ``keep`` (the kept fraction a config or a grid gives every method;
``None``: the method's own default) and keyword overrides of its defaults, returning a
:class:`~datadiet.strategies.Strategy`. ``register_method`` adds one; :func:`preset` writes the
common case, a registered strategy with some settings fixed, in one line:

    register_method("default_anneal", preset("dynamic", anneal_epochs=1), "the default, last epoch on all data")
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from datadiet.strategies.base import Strategy
from datadiet.strategies.registry import strategy_from_settings
from datadiet.validation import UnknownName

MethodBuilder = Callable[..., Strategy]
"""``build(keep, **overrides) -> Strategy``; ``keep`` may be None (the method's default)."""


@dataclass(frozen=True)
class Method:
    """A registered method: its name, what builds its strategy, and one line saying what it is."""

    name: str
    build: MethodBuilder
    description: str = ""


_METHODS: dict[str, Method] = {}


def register_method(name: str, build: MethodBuilder, description: str = "") -> None:
    """Register ``build`` (``build(keep, **overrides) -> Strategy``) as the method ``name``."""
    if not isinstance(name, str) or not name or "@" in name:
        raise ValueError(f"a method name must be a non-empty string without '@', got {name!r}")
    if name in _METHODS:
        raise ValueError(f"a method named {name!r} is already registered; pick another name")
    if not callable(build):
        raise TypeError(f"the builder of method {name!r} must be callable (keep, **overrides) -> Strategy, got {build!r}")
    _METHODS[name] = Method(name, build, description)


def unregister_method(name: str) -> None:
    """Remove the method ``name`` (a test's own method, once it is done)."""
    get_method(name)
    del _METHODS[name]


@contextmanager
def registered_method(name: str, build: MethodBuilder, description: str = "") -> Iterator[Method]:
    """The method ``name`` registered inside the ``with`` block only, removed after it (tests)."""
    register_method(name, build, description)
    try:
        yield _METHODS[name]
    finally:
        unregister_method(name)


def available_methods() -> tuple[str, ...]:
    """Every method name, in the order registered."""
    return tuple(_METHODS)


def get_method(name: str) -> Method:
    """The method ``name``; an unknown name raises :class:`~datadiet.validation.UnknownName` listing the valid ones."""
    try:
        return _METHODS[name]
    except (KeyError, TypeError):
        raise UnknownName("method", name, _METHODS) from None


def build_strategy(method: str = "dynamic", keep: Any = None, **overrides: Any) -> Strategy:
    """The strategy of the method ``method`` at kept fraction ``keep`` (None: the method's default),
    ``overrides`` replacing the method's defaults; a keyword the method does not use is refused, and
    so is ``keep`` beside ``time_budget`` (the budget plans the kept fraction itself)."""
    if keep is not None and overrides.get("time_budget") is not None:
        raise ValueError(f"give keep or time_budget, not both (got keep={keep!r}, time_budget="
                         f"{overrides['time_budget']!r}): a time budget plans the kept fraction itself")
    strategy = get_method(method).build(keep, **overrides)
    if not isinstance(strategy, Strategy):
        raise TypeError(f"method {method!r} built {strategy!r}, not a Strategy: its builder must return one")
    return strategy


def preset(strategy: str, **defaults: Any) -> MethodBuilder:
    """A method builder: the registered strategy ``strategy`` with ``defaults`` (flat keywords, as
    ``DataDiet(...)`` takes them), ``keep`` and then the caller's overrides on top."""

    def build(keep: Any = None, **overrides: Any) -> Strategy:
        given = {} if keep is None else {"keep": keep}
        return strategy_from_settings(strategy, **{**copy.deepcopy(defaults), **given, **overrides})

    build.__doc__ = f"The {strategy!r} strategy with {defaults or 'its defaults'}."
    return build
