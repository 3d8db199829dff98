"""The registry of selectors by name: one signature, ``SelectionRequest -> Selection``.

A selector is a pure function of the request (scores, kept fraction, generator, and what else it
declares it needs); adding one is one function plus one :func:`register_selector` call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from datadiet.select.selection import Selection
from datadiet.validation import UnknownName


@dataclass(frozen=True)
class SelectionRequest:
    """Everything a selector may read to choose one epoch's examples.

    Attributes:
        num_examples: N, the size of the training set.
        keep: the kept fraction of this epoch, in (0, 1].
        rng: the only source of randomness (seeded by ``(seed, epoch)`` by the diet).
        scores: ``(N,)`` ranking scores, higher = harder (None for selectors that need none).
        labels: ``(N,)`` class ids, for class-aware selectors.
        features: ``(N, d)`` diversity features, for DPP-based selectors.
        epoch, num_epochs: where training stands, for schedules inside a selector.
        options: the selector's own settings (e.g. ``epsilon``, ``offset``, ``beta``).
    """

    num_examples: int
    keep: float
    rng: np.random.Generator
    scores: np.ndarray | None = None
    labels: np.ndarray | None = None
    features: np.ndarray | None = None
    epoch: int = 0
    num_epochs: int = 1
    options: Mapping[str, Any] = field(default_factory=dict)

    def option(self, name: str, default: Any) -> Any:
        return self.options.get(name, default)


SelectorFn = Callable[[SelectionRequest], Selection]


@dataclass(frozen=True)
class Selector:
    """A named selector.

    Attributes:
        name: registry key.
        fn: ``SelectionRequest -> Selection``.
        needs: the request fields it reads besides ``keep`` and ``rng`` (``scores``, ``labels``,
            ``features``): the diet provides them or refuses the combination at construction.
        options: the options it understands, each with a check that raises ``ValueError`` on a bad
            value and returns the value to use (anything else is refused at construction).
        description: one line for help texts and error messages.
    """

    name: str
    fn: SelectorFn
    needs: tuple[str, ...] = ("scores",)
    options: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    description: str = ""

    def __call__(self, request: SelectionRequest) -> Selection:
        missing = [n for n in self.needs if getattr(request, n) is None]
        if missing:
            raise ValueError(f"selector {self.name!r} needs {', '.join(missing)} in its request")
        return self.fn(request)

    def check_options(self, options: Mapping[str, Any]) -> dict:
        """The options, each checked (and normalised) by the selector's own check."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise ValueError(f"selector {self.name!r} takes no option {', '.join(unknown)}; its options: "
                             f"{', '.join(self.options) or 'none'}")
        return {name: self.options[name](value) for name, value in options.items()}


_SELECTORS: dict[str, Selector] = {}


def register_selector(name: str, fn: SelectorFn, needs: tuple[str, ...] = ("scores",),
                      options: Mapping[str, Callable[[Any], Any]] | None = None, description: str = "") -> Selector:
    """Add a selector to the registry (raises if the name is taken) and return it."""
    if name in _SELECTORS:
        raise ValueError(f"a selector named {name!r} is already registered")
    selector = Selector(name, fn, tuple(needs), dict(options or {}), description)
    _SELECTORS[name] = selector
    return selector


def get_selector(name: str) -> Selector:
    """Look a selector up by name; an unknown name raises :class:`~datadiet.validation.UnknownName`
    (a ``ValueError``) listing the valid ones."""
    try:
        return _SELECTORS[name]
    except KeyError:
        raise UnknownName("selector", name, _SELECTORS) from None


def available_selectors() -> dict[str, str]:
    """Mapping of every registered selector name to its one-line description."""
    return {name: s.description for name, s in sorted(_SELECTORS.items())}


def number_in(name: str, low: float, high: float, *, high_open: bool = False, integer: bool = False):
    """An option check: a number (an int with ``integer``) in ``[low, high]`` (``[low, high)``)."""
    def check(value: Any):
        ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
        ok = ok and (not integer or float(value).is_integer())
        ok = ok and (low <= value < high if high_open else low <= value <= high)
        if not ok:
            kind = "an integer" if integer else "a number"
            raise ValueError(f"{name} must be {kind} in [{low}, {high}{')' if high_open else ']'}, got {value!r}")
        return int(value) if integer else float(value)
    return check


def any_value(value: Any) -> Any:
    """An option check that accepts anything (the selector validates it itself)."""
    return value
