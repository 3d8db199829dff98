"""What the goal checks share: a goal's statement and status, finding rows and points, reading a
frontier off its points, and the tie tolerance (a difference smaller than the seed std is a tie).

Each goal is *met*, *not met*, *undetermined* (it hinges on a seed std that one seed cannot give,
or on a time outside the other method's measured range) or *not run*.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

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


def interpolate_at(points: Sequence[tuple[float, float]], x: float) -> float | None:
    """Piecewise-linear value at ``x`` of points (x, y) sorted by x; None outside their x range."""
    pts = sorted(points)
    if not pts or x < pts[0][0] or x > pts[-1][0]:
        return None
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return pts[0][1]


def _main_metric(rows: Sequence[Row]) -> str | None:
    metrics = next((list(r.metrics) for r in rows if r.method == "full"), None) or next(
        (list(r.metrics) for r in rows), [])
    return main_metric(metrics) if metrics else None


def _label(row: Row) -> str:
    """How a point is named: ``keep 0.3``, ``budget 0.45 (keep 0.412)`` or ``budget 0.45 (keep 1, 4 epochs)``."""
    return f"keep {row.keep_text()}" if row.budget is None else f"budget {row.budget:g} (keep {row.keep_text()})"


def _points(rows: Sequence[Row], method: str, metric: str) -> list[Row]:
    """Every row of ``method`` (keep and budget rows) with the metric and a time ratio, fastest first."""
    pts = [r for r in rows if r.method == method and metric in r.metrics and r.time_ratio.mean is not None
           and r.metrics[metric].mean is not None]
    return sorted(pts, key=lambda r: (r.time_ratio.mean, r.keep))


def _bracket(pts: Sequence[Row], t: float) -> list[Row]:
    """The points ``interpolate_at`` reads at ``t``: the nearest one on each side (one if t is a point's time)."""
    below = [r for r in pts if r.time_ratio.mean <= t]
    above = [r for r in pts if r.time_ratio.mean >= t]
    return list({id(r): r for r in (below[-1:] + above[:1])}.values())
