"""The one range check of the library's arguments: numbers in an interval and whole counts, with
messages that name the argument, the interval and what was given."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_number(name: str, value: Any, low: float, high: float, *, low_open: bool = False, high_open: bool = False,
                 hint: str = "") -> float:
    """``value`` as a float if it is a real number (not a bool) in the interval, else a ``ValueError``
    naming ``name``, the interval and ``value`` (and ``hint``, e.g. an example of a good value)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if ok:
        v = float(value)
        ok = (low < v if low_open else low <= v) and (v < high if high_open else v <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}{f' {hint}' if hint else ''}")
    return float(value)


def check_whole(name: str, value: Any, minimum: int, unit: str = "") -> int:
    """``value`` as an int if it is a whole number (an ``int``, not ``1.5`` or ``"2"`` or a bool) of
    at least ``minimum``, else a ``ValueError`` naming it."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        what = f"a whole number of {unit}" if unit else "an int"
        raise ValueError(f"{name} must be {what} >= {minimum}, got {value!r}")
    return int(value)


class UnknownName(ValueError):
    """A name no registry of the library holds (a score, selector, smoothing rule, task, method):
    the message lists the valid names."""

    def __init__(self, kind: str, name: Any, valid) -> None:
        super().__init__(f"unknown {kind} {name!r}; valid {kind}s: {', '.join(sorted(valid))}")
