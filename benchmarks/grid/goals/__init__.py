"""The goals of the issues on one dataset, checked against the rows of :func:`benchmarks.grid.aggregate.summarize`:
issue 13's, stated per time ratio (:func:`issue13_goals`: lossless and near-lossless points under a
time ratio, frontier dominance over each peer), and issue 5's, stated per kept fraction
(:func:`issue5_goals`). :data:`GOAL_SETS` names both, in the order the report shows them.

Each goal is *met*, *not met*, *undetermined* (it hinges on a seed std that one seed cannot give,
or on a time outside the other method's measured range) or *not run*; a difference smaller than
the seed std is a tie.
"""

from __future__ import annotations

from typing import Callable

from benchmarks.grid.goals.common import (MET, NOT_MET, NOT_RUN, UNDETERMINED, Goal, at_least_as_good, beats,
                                          interpolate_at)
from benchmarks.grid.goals.per_keep import accuracy_goal, issue5_goals, keep_goal, time_goal
from benchmarks.grid.goals.per_time import FRONTIER_PEERS, frontier_goal, issue13_goals, time_budget_goal

__all__ = ["FRONTIER_PEERS", "GOAL_SETS", "MET", "NOT_MET", "NOT_RUN", "UNDETERMINED", "Goal", "accuracy_goal",
           "at_least_as_good", "beats", "frontier_goal", "interpolate_at", "issue13_goals", "issue5_goals",
           "keep_goal", "time_budget_goal", "time_goal"]

GOAL_SETS: dict[str, Callable[..., list[Goal]]] = {
    "issue 13: the frontier, per time ratio": issue13_goals,
    "issue 5: per kept fraction": issue5_goals,
}
"""The goal sets the report shows for each dataset, in this order: ``name -> goals(rows, method)``."""
