"""The "full data, fewer epochs" peers (issue 27): what a user with a time budget tries first.

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

``fewer_steps`` is the same peer with a fractional last epoch, what a user who sets ``max_steps``
gets: at budget ``b`` it trains ``b x E`` epochs of steps, every example for the whole ones and a
random fraction of them in the last (a new random subset, as the first steps of a reshuffled
epoch are), the schedule over those steps. In the few-epoch regime (``E = 3``) whole epochs can
only land at 1/3 and 2/3 of the time; this peer lands on the budget itself.
"""

from __future__ import annotations

import math

from datadiet.planning import full_data_epochs

FEWER_EPOCHS = "fewer_epochs"
"""The method's name in grids, records and reports."""

FEWER_STEPS = "fewer_steps"
"""The fractional peer's name: full data for ``b x E`` epochs of steps, the last epoch partial."""

FRACTION_STEP = 0.001
"""Resolution of ``fewer_steps``' last-epoch fraction (a smaller remainder is no partial epoch)."""


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


def steps_for_budget(budget: float, protocol_epochs: int) -> tuple[int, float, float]:
    """``(epochs, last, predicted ratio)`` of ``fewer_steps`` at ``budget``: ``budget x protocol_epochs``
    epochs of steps (at most the protocol's), as ``epochs`` epochs of the Trainer whose last trains a
    random ``last`` fraction of the data (``last`` 1.0 when the budget buys whole epochs only).
    Raises ValueError when the budget buys no example.

    >>> steps_for_budget(0.5, 3)    # 1.5 epochs: one whole, then half the data
    (2, 0.5, 0.5)
    >>> steps_for_budget(0.45, 10)  # 4.5 epochs
    (5, 0.5, 0.45)
    >>> steps_for_budget(0.3, 10)   # 3 whole epochs
    (3, 1.0, 0.3)
    """
    whole, last = full_data_epochs(budget, protocol_epochs)
    last = math.floor(last / FRACTION_STEP + 1e-6) * FRACTION_STEP
    if last <= 0:
        if whole < 1:
            raise ValueError(f"{FEWER_STEPS} cannot fit a time budget of {budget:g}: it buys less than "
                             f"{FRACTION_STEP:g} of one epoch of {protocol_epochs}")
        return whole, 1.0, epochs_ratio(whole, protocol_epochs)
    last = round(last, 6)
    return whole + 1, last, round((whole + last) / protocol_epochs, 9)


def steps_ratio(epochs: int, last: float, protocol_epochs: int) -> float:
    """The predicted time ratio of ``epochs`` epochs whose last trains a ``last`` fraction of the data
    (:func:`steps_for_budget`'s counts; ``last`` 1.0: whole epochs)."""
    return (epochs - 1 + last) / protocol_epochs
