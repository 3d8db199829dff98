"""A diet's checkpoint state: everything needed to continue with the identical selections.

Plain data only (numpy arrays, numbers, strings, lists and dicts of them), so it can be stored
without pickling code.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from datadiet.adapters import TaskAdapter
from datadiet.select.selection import Selection

if TYPE_CHECKING:
    from datadiet.diet import DataDiet

logger = logging.getLogger("datadiet")

STATE_VERSION = 2


def diet_state_dict(diet: "DataDiet") -> dict:
    diet._require_setup()
    return {
        "version": STATE_VERSION,
        "strategy": diet.strategy.to_dict(),
        "strategy_state": diet.strategy.state_dict(),
        "num_examples": diet.num_examples,
        "num_epochs": diet.schedule.num_epochs,
        "epoch": diet.epoch,
        "selection_indices": diet.selection.indices.copy(),
        "selection_weights": diet.selection.weights.copy(),
        "history": diet.history.state_dict(),
        "recorder": diet.recorder.state_dict(),
        "run_log": diet.run_log.state_dict(),
        "features": None if diet.features is None else diet.features.copy(),
        "feature_moments": diet.feature_projection().state(),
        "task": None if diet.adapter is None else diet.adapter.task,
    }


def load_diet_state(diet: "DataDiet", state: dict) -> None:
    if state.get("version") != STATE_VERSION:
        raise ValueError(f"unsupported diet state version {state.get('version')!r} (this datadiet reads "
                         f"version {STATE_VERSION}): resume with the datadiet version that saved it, or restart")
    if diet.num_examples is not None and state["num_examples"] != diet.num_examples:
        raise ValueError(f"the checkpoint's diet was saved for {state['num_examples']} training examples but this "
                         f"training set has {diet.num_examples}: resume with the same training set")
    if diet.num_examples is not None and state["num_epochs"] != diet.schedule.num_epochs:
        raise ValueError(f"the checkpoint's diet was planned for {state['num_epochs']} epochs but this run has "
                         f"{diet.schedule.num_epochs}: resume with num_train_epochs={state['num_epochs']}, or start a "
                         "new run to train for a different number of epochs")
    saved, mine = state["strategy"], diet.strategy.to_dict()
    if saved != mine:
        changed = sorted(k for k in set(saved) | set(mine) if saved.get(k) != mine.get(k))
        logger.warning("resuming a diet whose settings differ from the saved ones in: %s", ", ".join(changed))
    diet.setup(state["num_examples"], state["num_epochs"])
    diet.history.load_state_dict(state["history"])
    diet.strategy.load_state_dict(state.get("strategy_state") or {})
    diet.recorder.load_state_dict(state["recorder"])
    diet.run_log.load_state_dict(state["run_log"])
    diet.epoch = int(state["epoch"])
    diet.selection = Selection.of(state["selection_indices"], state["selection_weights"])
    diet.features = None if state.get("features") is None else np.asarray(state["features"], np.float32).copy()
    diet.feature_projection().load_state(state.get("feature_moments"))
    if state.get("task") and diet.adapter is None:
        diet.adapter = TaskAdapter(state["task"])
