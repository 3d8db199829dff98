"""The "full data, fewer epochs" peer (issue 27): what a user with a time budget tries first.

At a time budget ``b`` of a protocol of ``E`` epochs, ``fewer_epochs`` trains on all the data for
the most whole epochs ``n`` with ``n / E <= b`` (the budget rule of every grid method: the
predicted time ratio closest to the budget without exceeding it), with the Trainer's own
schedule over those ``n`` epochs (``num_train_epochs = n``: the linear decay reaches 0 at the end
of the shorter run; it is not a truncated ``E``-epoch schedule). Its diet is ``full``'s. It runs
at time budgets only; a kept fraction means nothing to it.

Whole epochs, not a fractional last one: ``num_train_epochs = n`` is what a user sets, the
epoch-level machinery (the diet's plan, per-epoch logs, evaluation) stays as it is, and the
frontier reads every method at its measured time ratio, so a point at 0.4 instead of 0.45 is
compared at 0.4, not penalised.

The run's record keeps both counts: ``epochs`` (trained, so the record says what ran) and
``protocol_epochs`` (the protocol's, which the results folder shares with every other run).
"""

from __future__ import annotations

import math

FEWER_EPOCHS = "fewer_epochs"
"""The method's name in grids, records and reports."""


def epochs_ratio(epochs: int, protocol_epochs: int) -> float:
    """The predicted time ratio of training all the data for ``epochs`` of ``protocol_epochs``
    epochs: every full-data epoch costs the same."""
    return epochs / protocol_epochs


def epochs_for_budget(budget: float, protocol_epochs: int) -> tuple[int, float]:
    """``(epochs, predicted ratio)``: the most whole epochs (at most ``protocol_epochs``) whose
    :func:`epochs_ratio` does not exceed ``budget``. Raises ValueError when not even one epoch fits."""
    epochs = min(protocol_epochs, math.floor(budget * protocol_epochs + 1e-9))
    if epochs < 1:
        raise ValueError(f"{FEWER_EPOCHS} cannot fit a time budget of {budget:g}: one epoch of {protocol_epochs} "
                         f"costs {epochs_ratio(1, protocol_epochs):.3f} of full-data time")
    return epochs, epochs_ratio(epochs, protocol_epochs)
