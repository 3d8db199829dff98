"""CLINC150 intent classification (Larson et al. 2019, "An Evaluation Dataset for Intent
Classification and Out-of-Scope Prediction", github.com/clinc/oos-eval), file ``data_full.json``.

The JSON has keys ``train``, ``val``, ``test`` (150 in-scope intents) and ``oos_train``,
``oos_val``, ``oos_test`` (the out-of-scope class), each a list of ``[text, intent]``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import datasets

from datadiet.toolkit.data.common import EXAMPLE_ID, canonical_split

OOS = "oos"
"""Name of the out-of-scope intent in CLINC150."""

_KEYS = {"train": "train", "validation": "val", "test": "test"}


def read_clinc150(path: str | os.PathLike, split: str = "train", include_oos: bool = False) -> datasets.Dataset:
    """Read one split of CLINC150 from ``data_full.json``.

    Args:
        path: the ``data_full.json`` file.
        split: ``"train"``, ``"validation"`` (alias ``"val"``) or ``"test"``.
        include_oos: add the out-of-scope examples (``oos_<split>``) as one more class, ``"oos"``.

    Returns:
        A :class:`datasets.Dataset` with columns ``example_id``, ``text``, ``intent`` (str) and
        ``label`` (ClassLabel). Label names are the sorted in-scope intents of the train split, with
        ``"oos"`` appended last when ``include_oos``, so in-scope ids are the same either way and
        across splits. In-scope rows come first, then the out-of-scope rows, in file order.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; expected CLINC150's data_full.json")
    with path.open(encoding="utf-8") as f:
        data = json.load(f)
    key = _KEYS[canonical_split(split)]
    missing = [k for k in ("train", key, f"oos_{key}") if k not in data]
    if missing:
        raise ValueError(f"{path} lacks the keys {missing}; expected train/val/test and oos_train/oos_val/oos_test")

    names = sorted({intent for _, intent in data["train"]})
    rows = list(data[key])
    if include_oos:
        names.append(OOS)
        rows += data[f"oos_{key}"]
    index = {n: i for i, n in enumerate(names)}
    unknown = sorted({intent for _, intent in rows if intent not in index})
    if unknown:
        raise ValueError(f"{path} [{key}] has intents absent from its train split: {unknown}")
    return datasets.Dataset.from_dict(
        {
            EXAMPLE_ID: list(range(len(rows))),
            "text": [text for text, _ in rows],
            "intent": [intent for _, intent in rows],
            "label": [index[intent] for _, intent in rows],
        },
        features=datasets.Features(
            {
                EXAMPLE_ID: datasets.Value("int64"),
                "text": datasets.Value("string"),
                "intent": datasets.Value("string"),
                "label": datasets.ClassLabel(names=names),
            }
        ),
    )
