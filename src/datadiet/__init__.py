"""datadiet: dynamic data pruning for fine-tuning transformer models.

Train each epoch only on the examples that still matter, chosen from scores the model produces as
it trains. See ``DataDiet`` (the engine and its presets) and ``DataDietTrainer`` (Hugging Face).
"""

from datadiet.adapters import TASKS, TaskAdapter
from datadiet.config import METHODS, DietConfig
from datadiet.diet import DataDiet
from datadiet.history import ScoreHistory
from datadiet.sampler import DietSampler
from datadiet.schedule import Schedule
from datadiet.select.selection import Selection
from datadiet.utils import with_example_ids

__all__ = ["METHODS", "TASKS", "DataDiet", "DataDietTrainer", "DataDietTrainerMixin", "DietConfig", "DietSampler",
           "Schedule", "ScoreHistory", "Selection", "TaskAdapter", "with_example_ids"]
__version__ = "0.1.0"


def __getattr__(name):  # the Trainer integration imports transformers: load it only when asked
    if name in ("DataDietTrainer", "DataDietTrainerMixin"):
        from datadiet.integrations import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module 'datadiet' has no attribute {name!r}")
