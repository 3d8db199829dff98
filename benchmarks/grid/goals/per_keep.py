"""Issue 5's goals, stated per kept fraction: at keep 0.5 within the full run's std at <= 0.55 of
its time, at keep 0.2 at most 1 point lost at <= 0.30, faster than the paper's protocol, and more
accurate than random and InfoBatch at equal time (read off their frontiers)."""

from __future__ import annotations

from typing import Sequence

from benchmarks.grid.aggregate import Row
from benchmarks.grid.goals.common import Goal, NOT_RUN, _find, _pct, _stat_text, _combine, at_least_as_good, beats, _tolerance, interpolate_at, _main_metric


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
