"""The goals of the issues on one dataset, checked against the rows of :func:`benchmarks.grid.aggregate.summarize`:
issue 13's, stated per time ratio (:func:`issue13_goals`: lossless and near-lossless points under a
time ratio, frontier dominance over each peer), and issue 5's, stated per kept fraction
(:func:`issue5_goals`). :data:`GOAL_SETS` names both, in the order the report shows them.

Each goal is *met*, *not met*, *undetermined* (it hinges on a seed std that one seed cannot give,
or on a time outside the other method's measured range) or *not run*; a difference smaller than
the seed std is a tie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from benchmarks.grid.aggregate import Row, Stat, main_metric

MET, NOT_MET, UNDETERMINED, NOT_RUN = "met", "not met", "undetermined", "not run"


@dataclass
class Goal:
    """One goal on one dataset: its statement, status, and the numbers behind it."""

    goal: str
    status: str
    evidence: str


def _find(rows: Sequence[Row], method: str, keep: float | None = None) -> Row | None:
    """The keep row (not a budget row) of ``method`` at ``keep`` (the first one if ``keep`` is None)."""
    for r in rows:
        if r.method == method and r.budget is None and (keep is None or abs(r.keep - keep) < 1e-9):
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
        if row.method != method or row.budget is not None:
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
        if (row.method != method or row.budget is not None or metric not in row.metrics
                or row.time_ratio.mean is None or not theirs):
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


def _main_metric(rows: Sequence[Row]) -> str | None:
    metrics = next((list(r.metrics) for r in rows if r.method == "full"), None) or next(
        (list(r.metrics) for r in rows), [])
    return main_metric(metrics) if metrics else None


def issue5_goals(rows: Sequence[Row], method: str = "default") -> list[Goal]:
    """The goals of issue 5 (per kept fraction) for one dataset, computed from its rows."""
    metric = _main_metric(rows)
    if metric is None:
        return []
    return [
        keep_goal(rows, 0.5, 0.55, metric, max_drop=None, method=method),
        keep_goal(rows, 0.2, 0.30, metric, max_drop=0.01, method=method),
        time_goal(rows, metric, method=method, other="nlu_data_diets"),
        accuracy_goal(rows, metric, method=method, other="random"),
        accuracy_goal(rows, metric, method=method, other="infobatch"),
    ]


# ------------------------------------------------------------------------------------------ issue 13
def _label(row: Row) -> str:
    """How a point is named: ``keep 0.3`` or ``budget 0.45 (keep 0.412)``."""
    return f"keep {row.keep:g}" if row.budget is None else f"budget {row.budget:g} (keep {row.keep:g})"


def _points(rows: Sequence[Row], method: str, metric: str) -> list[Row]:
    """Every row of ``method`` (keep and budget rows) with the metric and a time ratio, fastest first."""
    pts = [r for r in rows if r.method == method and metric in r.metrics and r.time_ratio.mean is not None
           and r.metrics[metric].mean is not None]
    return sorted(pts, key=lambda r: (r.time_ratio.mean, r.keep))


def time_budget_goal(rows: Sequence[Row], max_ratio: float, metric: str, *, max_drop: float | None,
                     method: str = "default") -> Goal:
    """Some point of ``method`` (any keep or budget) with mean time ratio <= ``max_ratio`` keeps
    ``metric`` within the full run's seed std (``max_drop`` None) or at most ``max_drop`` below
    full data (absolute, 0.01 = 1 point).

    The allowance is the full run's std (or ``max_drop``); a point's margin is its difference to
    full data plus the allowance (>= 0: within it). Met: some point in time has margin >= 0 (the
    evidence names the one with the largest margin). Otherwise the evidence says by how much it
    misses: the best margin among the points in time, and the lowest time ratio of a point within
    the allowance. Undetermined: no point in time is within it for sure, and one below full data
    would need the full run's std, which one seed cannot give."""
    if max_drop is None:
        text = f"time ratio <= {max_ratio:.2f}: {method}'s {metric} within one seed std of full data"
    else:
        text = f"time ratio <= {max_ratio:.2f}: {method}'s {metric} at most {100 * max_drop:g} point below full data"
    full = _find(rows, "full")
    pts = _points(rows, method, metric)
    if full is None or metric not in full.metrics or not pts:
        return Goal(text, NOT_RUN, "no full-data runs" if full is None or metric not in full.metrics
                    else f"no {method} runs with a time ratio")
    f = full.metrics[metric]
    allowance = max_drop if max_drop is not None else f.std
    if max_drop is None:
        bound = "allowance: full std unknown (1 seed)" if f.std is None else f"allowance: full std {_pct(f.std)}"
    else:
        bound = f"allowance {100 * max_drop:g}"
    head = f"full {_stat_text(f)}; {bound}"

    def margin(r: Row) -> float | None:  # diff + allowance; None if the allowance is unknown
        diff = r.metrics[metric].mean - f.mean
        return None if allowance is None else diff + allowance

    def within(r: Row) -> bool | None:
        if max_drop is not None:
            return r.metrics[metric].mean >= f.mean - max_drop - 1e-12
        return at_least_as_good(r.metrics[metric].mean, f.mean, f.std)

    def describe(r: Row) -> str:
        m = margin(r)
        return (f"{method} {_label(r)}: {_stat_text(r.metrics[metric])} at time ratio "
                f"{_stat_text(r.time_ratio, percent=False)} (diff {100 * (r.metrics[metric].mean - f.mean):+.2f}"
                + ("" if m is None else f", margin {100 * m:+.2f}") + f"; n = {r.n})")

    in_time = [r for r in pts if r.time_ratio.mean <= max_ratio]
    verdicts = [within(r) for r in in_time]
    if any(v is True for v in verdicts):
        best = max((r for r, v in zip(in_time, verdicts) if v is True),
                   key=lambda r: (r.metrics[metric].mean - f.mean, -r.time_ratio.mean))
        return Goal(text, MET, f"best: {describe(best)}; {head}")
    notes = []
    if in_time:
        best = max(in_time, key=lambda r: r.metrics[metric].mean)
        notes.append(f"best in time: {describe(best)}")
    else:
        notes.append(f"no {method} point at time ratio <= {max_ratio:.2f} (fastest {pts[0].time_ratio.mean:.3f})")
    inside = [r for r in pts if within(r) is True]
    notes.append(f"fastest within the allowance: {describe(inside[0])}" if inside
                 else f"no {method} point is within the allowance")
    status = UNDETERMINED if any(v is None for v in verdicts) else NOT_MET
    return Goal(text, status, "; ".join(notes) + f"; {head}")


def _bracket(pts: Sequence[Row], t: float) -> list[Row]:
    """The points ``interpolate_at`` reads at ``t``: the nearest one on each side (one if t is a point's time)."""
    below = [r for r in pts if r.time_ratio.mean <= t]
    above = [r for r in pts if r.time_ratio.mean >= t]
    return list({id(r): r for r in (below[-1:] + above[:1])}.values())


def frontier_goal(rows: Sequence[Row], metric: str, method: str = "default", other: str = "random",
                  lo: float = 0.3, hi: float = 0.7, step: float = 0.01) -> Goal:
    """``method``'s frontier dominates ``other``'s on ``[lo, hi]``.

    A frontier is the piecewise-linear interpolation of mean ``metric`` over mean time ratio
    through all of a method's points (keep and budget rows; :func:`interpolate_at`). It is read at
    every multiple of ``step`` in ``[lo, hi]`` that lies inside both frontiers' time ranges, and
    at the ends of that overlap. At each t the tie tolerance is the largest seed std of the points
    the two interpolations use (the neighbours of t on each frontier). Met: ``method`` is at least
    ``other`` minus the tolerance at every t, and above it by more than the tolerance at some t.
    Undetermined: the overlap is empty, or the answer hinges on a std one seed cannot give. The
    evidence gives the worst t (smallest diff + tolerance) and the best (largest diff - tolerance)."""
    text = f"{method}'s frontier dominates {other}'s for time ratios in [{lo:g}, {hi:g}]"
    ours, theirs = _points(rows, method, metric), _points(rows, other, metric)
    if not ours or not theirs:
        return Goal(text, NOT_RUN, f"no {method if not ours else other} runs with a time ratio")

    def span(pts: Sequence[Row]) -> tuple[float, float]:
        return pts[0].time_ratio.mean, pts[-1].time_ratio.mean

    (a0, a1), (b0, b1) = span(ours), span(theirs)
    start, end = max(a0, b0, lo), min(a1, b1, hi)
    ranges = f"{method} {a0:.3f}-{a1:.3f}, {other} {b0:.3f}-{b1:.3f}"
    if start > end + 1e-12:
        return Goal(text, UNDETERMINED, f"the time ranges do not overlap in [{lo:g}, {hi:g}]: {ranges}")
    grid = [float(t) for t in np.round(np.arange(lo, hi + step / 2, step), 10) if start - 1e-12 <= t <= end + 1e-12]
    ts = sorted({*grid, start, end})
    ours_xy = [(r.time_ratio.mean, r.metrics[metric].mean) for r in ours]
    theirs_xy = [(r.time_ratio.mean, r.metrics[metric].mean) for r in theirs]
    evals = []  # (t, diff, tol, not worse, beats)
    for t in ts:
        a, b = interpolate_at(ours_xy, t), interpolate_at(theirs_xy, t)
        tol = _tolerance(*(r.metrics[metric] for r in _bracket(ours, t) + _bracket(theirs, t)))
        evals.append((t, a - b, tol, at_least_as_good(a, b, tol), beats(a, b, tol)))
    worst = min(evals, key=lambda e: e[1] + (e[2] or 0.0))
    best = max(evals, key=lambda e: e[1] - (e[2] or 0.0))

    def where(e) -> str:
        return f"t {e[0]:.3f}: diff {100 * e[1]:+.2f} (tolerance {_pct(e[2])})"

    no_worse, above = [e[3] for e in evals], [e[4] for e in evals]
    why = ""
    if any(v is False for v in no_worse):
        status, why = NOT_MET, f"; below {other} beyond the tolerance somewhere"
    elif all(v is False for v in above):
        status, why = NOT_MET, f"; nowhere above {other} by more than the tolerance"
    elif all(v is True for v in no_worse) and any(v is True for v in above):
        status = MET
    else:
        status, why = UNDETERMINED, "; a tolerance needs a seed std that one seed cannot give"
    return Goal(text, status, f"{len(ts)} time ratios in {start:.3f}-{end:.3f} ({ranges}); worst {where(worst)}; "
                              f"best {where(best)}{why}")


FRONTIER_PEERS = ("infobatch", "random", "nlu_data_diets", "ccs")
"""The methods issue 13's frontier goal compares the method under test against, one goal each."""


def issue13_goals(rows: Sequence[Row], method: str = "default") -> list[Goal]:
    """The goals of issue 13 (the frontier, per time ratio) for one dataset, computed from its rows:
    lossless at <= 0.45 of full-data time, at most 1 point lost at <= 0.30, and frontier dominance
    over each of :data:`FRONTIER_PEERS` on time ratios 0.3-0.7."""
    metric = _main_metric(rows)
    if metric is None:
        return []
    return [
        time_budget_goal(rows, 0.45, metric, max_drop=None, method=method),
        time_budget_goal(rows, 0.30, metric, max_drop=0.01, method=method),
        *(frontier_goal(rows, metric, method=method, other=peer) for peer in FRONTIER_PEERS if peer != method),
    ]


GOAL_SETS: dict[str, Callable[..., list[Goal]]] = {
    "issue 13: the frontier, per time ratio": issue13_goals,
    "issue 5: per kept fraction": issue5_goals,
}
"""The goal sets the report shows for each dataset, in this order: ``name -> goals(rows, method)``."""
