"""The ``default_budget`` peer: ``DataDiet(time_budget=b)`` as a user writes it, the library's own
choice of epochs and kept fraction for the budget (``budget_epochs="auto"``). The grid's ``default``
at a budget is the default's strategy at the keep whose predicted ratio fits ``b`` over every epoch
(the rule ``budget_epochs="all"``, what it measured before ``"auto"`` became the default); this
peer runs whatever the library plans today, at time budgets only."""

from __future__ import annotations

DEFAULT_BUDGET = "default_budget"
"""The peer's name in grids, records and reports."""


def diet_method(method: str) -> str:
    """The library method a grid method builds its diet with: ``default`` for :data:`DEFAULT_BUDGET`,
    the method itself otherwise."""
    return "default" if method == DEFAULT_BUDGET else method
