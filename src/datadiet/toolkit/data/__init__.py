"""Dataset readers: every split is a :class:`datasets.Dataset` whose ``example_id`` column is its row position.

Start with :func:`load_dataset_by_name` (``"snips"``, ``"atis"``, ``"clinc150"``, ``"clinc150_oos"``,
``"sst2"``, a local file or folder, or ``"hf:<repo_id>"``). Label columns are ``ClassLabel`` features,
so ``dataset.features["label"].names`` gives the class names. See :mod:`datadiet.toolkit.data.common` for the
conventions every reader follows.
"""

from datadiet._extras import require_installed

require_installed("datasets", extra="hf", purpose="datadiet.toolkit.data")

from datadiet.toolkit.data.clinc150 import OOS, read_clinc150
from datadiet.toolkit.data.common import EXAMPLE_ID, SPLITS, UnknownLabelWarning, add_example_ids, canonical_split
from datadiet.toolkit.data.external import SplitLabelsWarning, load_hub_dataset, load_local_files, to_classification
from datadiet.toolkit.data.glue import SST2_LABELS, read_glue_tsv
from datadiet.toolkit.data.joint_nlu import read_joint_nlu
from datadiet.toolkit.data.paths import DATA_ENV_VAR, resolve_data_root
from datadiet.toolkit.data.registry import (available_datasets, dataset_task, load_dataset_by_name, load_dataset_dict,
                                    load_train_and_eval, source_task)

__all__ = [
    "DATA_ENV_VAR",
    "EXAMPLE_ID",
    "OOS",
    "SPLITS",
    "SST2_LABELS",
    "SplitLabelsWarning",
    "UnknownLabelWarning",
    "add_example_ids",
    "available_datasets",
    "canonical_split",
    "dataset_task",
    "load_dataset_by_name",
    "load_dataset_dict",
    "load_hub_dataset",
    "load_local_files",
    "load_train_and_eval",
    "read_clinc150",
    "read_glue_tsv",
    "read_joint_nlu",
    "resolve_data_root",
    "source_task",
    "to_classification",
]
