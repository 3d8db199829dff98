"""The ``default_budget`` peer: ``DataDiet(time_budget=b)`` as a user writes it, the library's own
choice of epochs and kept fraction for the budget (``budget_epochs="auto"``). The grid's ``default``
at a budget is the default's strategy at the keep whose predicted ratio fits ``b`` over every epoch
(the rule ``budget_epochs="all"``, what it measured before ``"auto"`` became the default); this
peer runs whatever the library plans today, at time budgets only."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Sequence

from datadiet.planning import KEEP_FLOOR

if TYPE_CHECKING:  # aggregate imports this module
    from benchmarks.grid.aggregate import Row

DEFAULT_BUDGET = "default_budget"
"""The peer's name in grids, records and reports."""


def diet_method(method: str) -> str:
    """The library method a grid method builds its diet with: ``default`` for :data:`DEFAULT_BUDGET`,
    the method itself otherwise."""
    return "default" if method == DEFAULT_BUDGET else method


def budget_api_rows(rows: Sequence["Row"]) -> list["Row"]:
    """The points of ``DataDiet(time_budget=b)`` as a user writes it: the :data:`DEFAULT_BUDGET`
    rows, and the ``default``'s rows at the other budgets whose kept fraction over every epoch is
    at least the library's floor (:data:`~datadiet.planning.KEEP_FLOOR`): there ``"auto"`` plans
    what ``"all"`` does (every epoch, the same kept fraction to the grid's 0.001 step), so those
    runs stand for the budget API's (renamed, nothing re-run)."""
    own = [r for r in rows if r.method == DEFAULT_BUDGET and r.budget is not None]
    covered = {r.budget for r in own}
    same_plan = [dataclasses.replace(r, method=DEFAULT_BUDGET) for r in rows
                 if r.method == "default" and r.budget is not None and r.budget not in covered
                 and r.epochs is None and r.keep >= KEEP_FLOOR - 1e-12]
    return own + same_plan
