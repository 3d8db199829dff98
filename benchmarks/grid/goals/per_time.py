"""Issue 13's goals, stated per time ratio: lossless at <= 0.45 of full-data time, at most 1 point
lost at <= 0.30, and frontier dominance over each peer on time ratios 0.3-0.7."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from benchmarks.grid.aggregate import Row
from benchmarks.grid.goals.common import Goal, MET, NOT_MET, UNDETERMINED, NOT_RUN, _find, _pct, _stat_text, at_least_as_good, beats, _tolerance, interpolate_at, _main_metric, _label, _points, _bracket


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


def frontier_goal(rows: Sequence[Row], metric: str, method: str = "default", other: str = "random",
                  lo: float = 0.3, hi: float = 0.7, step: float = 0.01) -> Goal:
    """``method``'s frontier dominates ``other``'s on ``[lo, hi]``.

    A frontier is the piecewise-linear interpolation of mean ``metric`` over mean time ratio
    through all of a method's points (keep and budget rows; :func:`interpolate_at`). It is read at
    every multiple of ``step`` in ``[lo, hi]`` that lies inside both frontiers' time ranges, and
    at the ends of that overlap. At each t the tie tolerance is the largest seed std of the points
    the two interpolations use (the neighbours of t on each frontier). Met: ``method`` is at least
    ``other`` minus the tolerance at every t, and above it by more than the tolerance at some t.
    Where the overlap is empty (points fitted to one budget can land on either side of each other in
    time), runs at the same budgets are compared as points (:func:`equal_budget_goal`).
    Undetermined: neither comparison is possible, or the answer hinges on a std one seed cannot
    give. The evidence gives the worst t (smallest diff + tolerance) and the best (largest diff - tolerance)."""
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
        apart = f"the time ranges do not overlap in [{lo:g}, {hi:g}]: {ranges}"
        paired = equal_budget_goal(ours, theirs, metric, lo, hi)
        return Goal(text, UNDETERMINED, apart) if paired is None else Goal(text, paired[0], f"{apart}; {paired[1]}")
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


TIME_TIE = 0.02
"""The smallest difference in mean time ratio :func:`equal_budget_goal` counts as one run being
faster than the other (below it, or below either's seed std of the time ratio, the two tie in time)."""


def equal_budget_goal(ours: Sequence[Row], theirs: Sequence[Row], metric: str, lo: float,
                      hi: float) -> tuple[str, str] | None:
    """Status and evidence of ``ours`` against ``theirs`` run at the same time budgets in
    ``[lo, hi]``, for frontiers whose measured time ranges do not overlap (points fitted to one
    budget that land on either side of each other in time); None where no budget is shared.

    At each shared budget the two are compared as points, the tolerance the larger seed std of
    the metric. Time decides what a comparison can show: if ``ours`` took more time (by more than
    :data:`TIME_TIE` or either's time std) a win shows nothing (None: undetermined there), and if
    it took less, a loss shows nothing. Status as for the frontier: met if
    never below beyond the tolerance and above by more than it at some budget."""
    by_budget = {r.budget: r for r in theirs if r.budget is not None}
    pairs = [(a, by_budget[a.budget]) for a in ours if a.budget in by_budget and lo - 1e-12 <= a.budget <= hi + 1e-12]
    if not pairs:
        return None
    evals, notes = [], []
    for a, b in sorted(pairs, key=lambda p: p[0].budget):
        ya, yb = a.metrics[metric].mean, b.metrics[metric].mean
        tol = _tolerance(a.metrics[metric], b.metrics[metric])
        dt = a.time_ratio.mean - b.time_ratio.mean
        time_tie = max(TIME_TIE, a.time_ratio.std or 0.0, b.time_ratio.std or 0.0)
        not_worse, above = at_least_as_good(ya, yb, tol), beats(ya, yb, tol)
        if dt > time_tie:  # ours spent more: a tie or a loss is not above, a win shows nothing
            above = None if above else False
            when = "more time"
        elif dt < -time_tie:  # ours spent less: only a win or a tie shows something
            not_worse = True if not_worse else None
            above = True if above else None
            when = "less time"
        else:
            when = "equal time"
        evals.append((not_worse, above))
        notes.append(f"budget {a.budget:g}: {_stat_text(a.metrics[metric])} at {a.time_ratio.mean:.3f} against "
                     f"{_stat_text(b.metrics[metric])} at {b.time_ratio.mean:.3f} (diff {100 * (ya - yb):+.2f}, "
                     f"tolerance {_pct(tol)}; {when})")
    no_worse, wins = [e[0] for e in evals], [e[1] for e in evals]
    if any(v is False for v in no_worse):
        status, why = NOT_MET, "below beyond the tolerance at some budget"
    elif all(v is False for v in wins):
        status, why = NOT_MET, "nowhere above by more than the tolerance at no more time"
    elif all(v is True for v in no_worse) and any(v is True for v in wins):
        status, why = MET, ""
    else:
        status, why = UNDETERMINED, "a comparison needs a seed std that one seed cannot give, or the times differ"
    return status, "at equal budgets: " + "; ".join(notes) + (f"; {why}" if why else "")


FRONTIER_PEERS = ("infobatch", "random", "nlu_data_diets", "ccs", "fewer_epochs", "fewer_steps")
"""The methods issue 13's frontier goal compares the method under test against, one goal each
(``fewer_epochs`` and ``fewer_steps``, full data for fewer whole or fractional epochs: issue 27's peers)."""


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
