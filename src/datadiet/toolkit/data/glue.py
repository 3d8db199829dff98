"""GLUE-style single-sentence classification TSV files (SST-2: Socher et al. 2013, GLUE: Wang et al. 2019).

One example per line after a header ``sentence\\tlabel``; the label is an integer class id. Quotes
are literal characters (no CSV quoting), as in the GLUE distribution.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import datasets

from datadiet.toolkit.data.common import EXAMPLE_ID, read_lines

SST2_LABELS = ("negative", "positive")


def read_glue_tsv(
    path: str | os.PathLike,
    label_names: Sequence[str],
    text_column: str = "sentence",
    label_column: str = "label",
) -> datasets.Dataset:
    """Read a GLUE-style TSV file with a header line.

    Args:
        path: the ``.tsv`` file.
        label_names: class names in id order (``label`` values must be ``0..len-1``).
        text_column, label_column: header names of the text and the label columns.

    Returns:
        A :class:`datasets.Dataset` with columns ``example_id``, ``text`` (whitespace-stripped) and
        ``label`` (ClassLabel over ``label_names``).

    Raises:
        ValueError: a missing column, a line with the wrong number of fields, or a label that is not
            an id in ``0..len(label_names)-1``; the message names the file and the 1-based line.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing")
    lines = read_lines(path)
    if not lines:
        raise ValueError(f"{path} is empty; expected a header line '{text_column}\\t{label_column}'")
    header = lines[0].split("\t")
    for column in (text_column, label_column):
        if column not in header:
            raise ValueError(f"{path} line 1: header {header} has no column {column!r}")
    t, y = header.index(text_column), header.index(label_column)
    texts, labels = [], []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(header):
            raise ValueError(f"{path} line {number}: {len(fields)} tab-separated fields, header has {len(header)}")
        try:
            label = int(fields[y])
        except ValueError:
            raise ValueError(f"{path} line {number}: label {fields[y]!r} is not an integer") from None
        if not 0 <= label < len(label_names):
            raise ValueError(f"{path} line {number}: label {label} outside 0..{len(label_names) - 1}")
        texts.append(fields[t].strip())
        labels.append(label)
    return datasets.Dataset.from_dict(
        {EXAMPLE_ID: list(range(len(texts))), "text": texts, "label": labels},
        features=datasets.Features(
            {
                EXAMPLE_ID: datasets.Value("int64"),
                "text": datasets.Value("string"),
                "label": datasets.ClassLabel(names=list(label_names)),
            }
        ),
    )
