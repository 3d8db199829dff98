"""The goals of issue 5 on one dataset, checked against the rows of :func:`benchmarks.grid.aggregate.summarize`.

Each goal is *met*, *not met*, *undetermined* (it hinges on a seed std that one seed cannot give,
or on a time outside the other method's measured range) or *not run*; a difference smaller than
the seed std is a tie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from benchmarks.grid.aggregate import Row, Stat, main_metric

MET, NOT_MET, UNDETERMINED, NOT_RUN = "met", "not met", "undetermined", "not run"


@dataclass
class Goal:
    """One goal of issue 5 on one dataset: its statement, status, and the numbers behind it."""

    goal: str
    status: str
    evidence: str


def _find(rows: Sequence[Row], method: str, keep: float | None = None) -> Row | None:
    for r in rows:
        if r.method == method and (keep is None or abs(r.keep - keep) < 1e-9):
            return r
    return None


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}"


def _stat_text(s: Stat, percent: bool = True) -> str:
    if s.mean is None:
        return "n/a"
    fmt = (lambda v: f"{100 * v:.2f}") if percent else (lambda v: f"{v:.3f}")
    return fmt(s.mean) + ("" if s.std is None else f" ± {fmt(s.std)}")


def _combine(parts: Sequence[bool | None]) -> str:
    """All true: met; any false: not met; otherwise undetermined."""
    if any(p is False for p in parts):
        return NOT_MET
    if parts and all(p is True for p in parts):
        return MET
    return UNDETERMINED


def at_least_as_good(a: float, b: float, tol: float | None) -> bool | None:
    """``a`` is not worse than ``b`` beyond the tie tolerance; None when that depends on an unknown tolerance."""
    if a >= b:
        return True
    if tol is None:
        return None
    return a >= b - tol


def beats(a: float, b: float, tol: float | None) -> bool | None:
    """``a`` is better than ``b`` by more than the tie tolerance; None when the tolerance is unknown."""
    if a <= b:
        return False
    if tol is None:
        return None
    return a - b > tol


def _tolerance(*stats: Stat) -> float | None:
    """Tie tolerance of a comparison: the largest seed std involved (None if one is unknown)."""
    stds = [s.std for s in stats]
    return None if any(s is None for s in stds) else max(stds)


def keep_goal(rows: Sequence[Row], keep: float, max_ratio: float, metric: str, *, max_drop: float | None,
              method: str = "default") -> Goal:
    """``method`` at ``keep`` keeps ``metric`` within the full run's seed std (``max_drop`` None) or
    at most ``max_drop`` below full data (absolute, 0.01 = 1 point), with mean time ratio <= ``max_ratio``."""
    if max_drop is None:
        text = f"keep {keep:g}: {metric} within one seed std of full data, time ratio <= {max_ratio:.2f}"
    else:
        text = (f"keep {keep:g}: {metric} at most {100 * max_drop:g} point below full data, "
                f"time ratio <= {max_ratio:.2f}")
    full, row = _find(rows, "full"), _find(rows, method, keep)
    if full is None or row is None or metric not in row.metrics or row.time_ratio.mean is None:
        missing = "full-data" if full is None else f"{method} keep {keep:g}"
        return Goal(text, NOT_RUN, f"no {missing} runs with a time ratio")
    a, f = row.metrics[metric], full.metrics[metric]
    time_ok = row.time_ratio.mean <= max_ratio
    if max_drop is None:
        acc_ok = at_least_as_good(a.mean, f.mean, f.std)
        bound = "full std unknown (1 seed)" if f.std is None else f"full std {_pct(f.std)}"
    else:
        acc_ok = a.mean >= f.mean - max_drop - 1e-12
        bound = f"allowed drop {100 * max_drop:g}"
    evidence = (f"{method} {_stat_text(a)} vs full {_stat_text(f)} (diff {100 * (a.mean - f.mean):+.2f}, {bound}); "
                f"time ratio {_stat_text(row.time_ratio, percent=False)}; n = {row.n}")
    return Goal(text, _combine([acc_ok, time_ok]), evidence)


def time_goal(rows: Sequence[Row], metric: str, method: str = "default", other: str = "nlu_data_diets") -> Goal:
    """At every keep both ran: ``method`` has a lower mean time ratio than ``other`` with ``metric``
    not worse beyond the seed std (equal accuracy)."""
    text = f"{method} beats {other}'s time ratio at equal {metric}"
    parts, notes = [], []
    for row in rows:
        if row.method != method:
            continue
        o = _find(rows, other, row.keep)
        if o is None or metric not in o.metrics or row.time_ratio.mean is None or o.time_ratio.mean is None:
            continue
        acc = at_least_as_good(row.metrics[metric].mean, o.metrics[metric].mean,
                               _tolerance(row.metrics[metric], o.metrics[metric]))
        faster = row.time_ratio.mean < o.time_ratio.mean
        parts.append(None if acc is None and faster else (faster and acc))
        notes.append(f"keep {row.keep:g}: time ratio {row.time_ratio.mean:.3f} vs {o.time_ratio.mean:.3f}, "
                     f"{metric} {_stat_text(row.metrics[metric])} vs {_stat_text(o.metrics[metric])}")
    if not parts:
        return Goal(text, NOT_RUN, f"no keep with both {method} and {other}")
    return Goal(text, _combine(parts), "; ".join(notes))


def interpolate_at(points: Sequence[tuple[float, float]], x: float) -> float | None:
    """Piecewise-linear value at ``x`` of points (x, y) sorted by x; None outside their x range."""
    pts = sorted(points)
    if not pts or x < pts[0][0] or x > pts[-1][0]:
        return None
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return pts[0][1]


def accuracy_goal(rows: Sequence[Row], metric: str, method: str = "default", other: str = "random") -> Goal:
    """At each of ``method``'s points (time ratio t, accuracy a): ``other``'s accuracy at time t,
    read off its frontier by linear interpolation between its kept fractions, is beaten by more
    than the seed std. Outside the range of ``other``'s time ratios: beaten if ``method`` is faster
    than all of ``other``'s runs and more accurate than its fastest; lost if slower than all and
    not more accurate than its slowest; otherwise undetermined."""
    text = f"{method} beats {other} on {metric} at equal time"
    theirs = [r for r in rows if r.method == other and metric in r.metrics and r.time_ratio.mean is not None]
    pts = [(r.time_ratio.mean, r.metrics[metric].mean) for r in theirs]
    parts, notes = [], []
    for row in rows:
        if row.method != method or metric not in row.metrics or row.time_ratio.mean is None or not theirs:
            continue
        t, a = row.time_ratio.mean, row.metrics[metric].mean
        tol = _tolerance(row.metrics[metric], *(r.metrics[metric] for r in theirs))
        y = interpolate_at(pts, t)
        if y is not None:
            parts.append(beats(a, y, tol))
            notes.append(f"keep {row.keep:g} (time ratio {t:.3f}): {_pct(a)} vs {other} {_pct(y)} interpolated "
                         f"(diff {100 * (a - y):+.2f}, tie tolerance {_pct(tol)})")
            continue
        fastest, slowest = min(pts), max(pts)
        if t < fastest[0]:
            parts.append(True if beats(a, fastest[1], tol) else None)
            where = f"faster than every {other} run; its fastest has {_pct(fastest[1])}"
        else:
            parts.append(False if a <= slowest[1] else None)
            where = f"slower than every {other} run; its slowest has {_pct(slowest[1])}"
        notes.append(f"keep {row.keep:g} (time ratio {t:.3f}): {_pct(a)}, {where}")
    if not parts:
        return Goal(text, NOT_RUN, f"no runs of both {method} and {other} with time ratios")
    return Goal(text, _combine(parts), "; ".join(notes))


def goals(rows: Sequence[Row]) -> list[Goal]:
    """The goals of issue 5 for one dataset, computed from its rows."""
    metrics = next((list(r.metrics) for r in rows if r.method == "full"), None) or next(
        (list(r.metrics) for r in rows), [])
    if not metrics:
        return []
    metric = main_metric(metrics)
    return [
        keep_goal(rows, 0.5, 0.55, metric, max_drop=None),
        keep_goal(rows, 0.2, 0.30, metric, max_drop=0.01),
        time_goal(rows, metric, other="nlu_data_diets"),
        accuracy_goal(rows, metric, other="random"),
        accuracy_goal(rows, metric, other="infobatch"),
    ]
