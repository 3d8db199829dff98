"""datadiet: dynamic data pruning for fine-tuning transformer models.

Train each epoch only on the examples that still matter, chosen from scores the model produces as
it trains. See ``DataDiet`` (the engine and its presets) and ``DataDietTrainer`` (Hugging Face).
"""

from datadiet.adapters import TASKS, TaskAdapter
from datadiet.contract import ResumeMismatch, RunContract
from datadiet.diet import DataDiet
from datadiet.engines import Engine, engine_of
from datadiet.history import ScoreHistory
from datadiet.layout import BatchLayout
from datadiet.ledger import EpochShortfall
from datadiet.sampler import DietSampler
from datadiet.schedule import Schedule
from datadiet.select.selection import Selection
from datadiet.settings import DietSettings
from datadiet.strategies import (
    FullData,
    InfoBatch,
    P3,
    RandomSubset,
    ScoreBased,
    StaticScore,
    Strategy,
    available_methods,
    build_strategy,
)
from datadiet.utils import with_example_ids

METHODS = available_methods()
"""The built-in method names (``DataDiet(method=...)``)."""

__all__ = ["METHODS", "P3", "TASKS", "BatchLayout", "DataDiet", "DataDietSFTTrainer", "DataDietTrainer",
           "DataDietTrainerMixin", "DietSampler", "DietSettings", "Engine", "EpochShortfall",
           "FullData", "InfoBatch", "RandomSubset", "ResumeMismatch", "RunContract", "Schedule", "ScoreBased", "ScoreHistory", "Selection",
           "StaticScore", "Strategy", "TaskAdapter", "build_strategy", "engine_of", "with_example_ids"]
__version__ = "0.1.0"


_LAZY = {"DataDietTrainer": "datadiet.integrations.trainer", "DataDietTrainerMixin": "datadiet.integrations.trainer",
         "DataDietSFTTrainer": "datadiet.integrations.trl"}
"""Names loaded on first use, from the module that holds them (they import transformers or TRL,
which an install without the extra lacks: the import then names the extra to install)."""


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'datadiet' has no attribute {name!r}")
