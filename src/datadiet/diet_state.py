"""A diet's checkpoint state: everything needed to continue with the identical selections.

Plain data only (numpy arrays, numbers, strings, lists and dicts of them), so it can be stored
without pickling code.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from datadiet.adapters import TaskAdapter
from datadiet.contract import RunContract
from datadiet.select.selection import Selection

STATE_VERSION = 3
READABLE_VERSIONS = (2, 3)
"""Version 2 (before the run contract) loads too: its contract is the sizes and method it saved."""


def diet_state_dict(diet) -> dict:
    """The state of a :class:`~datadiet.DataDiet` (its ``state_dict``)."""
    diet.require_setup()
    return {
        "version": STATE_VERSION,
        "contract": diet.contract().to_dict(),
        "strategy": diet.strategy.to_dict(),
        "strategy_state": diet.strategy.state_dict(),
        "num_examples": diet.num_examples,
        "num_epochs": diet.num_epochs,
        "epoch": diet.epoch,
        "selection_indices": diet.selection.indices.copy(),
        "selection_weights": diet.selection.weights.copy(),
        "history": diet.history.state_dict(),
        "recorder": diet.observer.recorder.state_dict(),
        "run_log": diet.run_log.state_dict(),
        "ledger": diet.ledger.state_dict(),
        "features": None if diet.features is None else diet.features.copy(),
        "feature_moments": diet.feature_projection().state(),
        "task": None if diet.adapter is None else diet.adapter.task,
    }


def saved_contract(state: dict, seed: int) -> RunContract:
    """The run contract of a saved state (a version-2 state's, from its sizes and method, and
    ``seed`` standing in for the seed it did not save)."""
    if "contract" in state:
        return RunContract.from_dict(state["contract"])
    return RunContract(int(state["num_examples"]), int(state["num_epochs"]), seed, dict(state["strategy"]))


def load_diet_state(diet, state: dict) -> RunContract:
    """Restore ``state`` into ``diet`` after checking its contract against what the diet knows of
    this run; returns the saved contract, for the fields known only later (data, layout)."""
    if state.get("version") not in READABLE_VERSIONS:
        raise ValueError(f"unsupported diet state version {state.get('version')!r} (this datadiet reads versions "
                         f"{', '.join(map(str, READABLE_VERSIONS))}): resume with the datadiet version that saved it, "
                         "or restart")
    saved = saved_contract(state, diet.seed)
    if diet.num_examples is None:
        diet.setup(saved.num_examples, saved.num_epochs)
    logged = [int(r["kept"]) for r in state["run_log"]["records"]]
    planned = diet.kept_counts()
    if saved.plan is None and diet.strategy.exact_plan and len(planned) == saved.num_epochs:
        # a checkpoint from before plans were saved: the epochs it logged are the plan it ran
        saved = dataclasses.replace(saved, plan=tuple(logged) + tuple(planned[len(logged):]))
    diet.contract().check(saved, logged + planned[len(logged):])
    diet.history.load_state_dict(state["history"])
    diet.strategy.load_state_dict(state.get("strategy_state") or {})
    diet.observer.recorder.load_state_dict(state["recorder"])
    diet.run_log.load_state_dict(state["run_log"])
    if state.get("ledger") is not None:
        diet.ledger.load_state_dict(state["ledger"])
    else:  # version 2: the epoch in progress counts as trained so far (nothing to check it against)
        diet.ledger.start(int(state["epoch"]))
        diet.ledger.mark(np.asarray(state["selection_indices"], dtype=np.int64))
    diet.epoch = int(state["epoch"])
    diet.selection = Selection.of(state["selection_indices"], state["selection_weights"])
    diet.feature_store.load(state.get("features"))
    diet.feature_projection().load_state(state.get("feature_moments"))
    if state.get("task") and diet.adapter is None:
        diet.use_adapter(TaskAdapter(state["task"]))
    return saved
