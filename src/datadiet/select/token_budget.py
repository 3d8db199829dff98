"""A kept fraction counted in tokens rather than examples.

Training cost follows tokens, and the examples a score-based selector keeps are not of average
length (hard examples tend to be longer), so ``keep`` of the examples can cost more than ``keep``
of the compute. :func:`fit_token_budget` re-runs a selector with a smaller kept fraction until the
kept tokens fit ``keep`` of all tokens.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from datadiet.select.selection import Selection
from datadiet.select.validation import kept_count


def fit_token_budget(select: Callable[[float], Selection], keep: float, lengths: np.ndarray | None,
                     rounds: int = 4) -> Selection:
    """The selection of ``select(k)`` (a selector at kept fraction ``k``) whose tokens come closest to
    ``keep`` of all tokens without exceeding it, for ``k <= keep``.

    Starting from ``k = keep``, each round rescales ``k`` by ``target / kept tokens`` (a fixed-point
    step: a selection of long examples keeps fewer of them). ``k`` never exceeds ``keep``, so the
    kept count never exceeds the example-counted plan (which stays an upper bound) and a selection
    of short examples simply costs less than the budget. Deterministic when ``select`` is.
    """
    if lengths is None:
        raise ValueError("budget_unit='tokens' needs each example's token count: the training dataset has no "
                         "input_ids column (tokenize it first), or use budget_unit='examples'")
    lengths = np.asarray(lengths, dtype=np.int64)
    n, target, longest = len(lengths), keep * float(lengths.sum()), float(lengths.max(initial=1))
    cost = lambda sel: float(lengths[sel.indices].sum())  # noqa: E731
    best: Selection | None = None
    k = keep
    for _ in range(rounds):
        selection = select(k)
        tokens = cost(selection)
        if tokens <= target:
            if best is None or tokens > cost(best):
                best = selection
            if target - tokens <= longest:  # within one example of the budget
                break
        step = min(keep, max(1.0 / n, k * target / max(tokens, 1.0)))
        if kept_count(step, n) == len(selection):  # the rescaling no longer moves the count
            if tokens <= target:
                break
            step = max(1.0 / n, (len(selection) - 1) / n)
        k = step
    if best is None:  # still over budget: bisect the kept fraction below the last one tried
        low, high = 1.0 / n, k
        best = select(low)
        best_tokens = cost(best)
        for _ in range(20):
            mid = (low + high) / 2
            selection = select(mid)
            tokens = cost(selection)
            if tokens <= target:
                low = mid
                if tokens > best_tokens:
                    best, best_tokens = selection, tokens
            else:
                high = mid
    return best
