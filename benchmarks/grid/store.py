"""The results file of a grid: one JSON line per finished run, appended and fsync'ed, so a grid that
is interrupted (or crashes, or runs as several invocations) never loses a finished run."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Iterable

logger = logging.getLogger("datadiet")

RESULTS_FILE = "results.jsonl"
"""Run records, one JSON object a line, in the order they finished."""

INVOCATIONS_FILE = "invocations.jsonl"
"""One line per ``python -m benchmarks.grid`` invocation that ran in the folder: its command line and grid."""

OK, ERROR, SKIPPED = "ok", "error", "skipped"
"""A record's ``status``: the run finished (``ok``), raised (``error``, with ``error`` and ``traceback``)
or was not started because no kept fraction fits its time budget (``skipped``, with ``reason``)."""


def append_jsonl(path: str | os.PathLike, record: dict[str, Any]) -> None:
    """Append ``record`` as one line and force it to disk (flush + fsync) before returning."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, default=_jsonable, allow_nan=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Every complete record of a JSON-lines file ([] if it does not exist). A line that does not
    parse (a run killed mid-write) is skipped with a warning, so the grid re-runs that key."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                logger.warning("%s:%d is not a complete JSON record (interrupted write?); ignoring it", path, number)
    return records


def latest_by_key(records: Iterable[dict[str, Any]], status: str | None = OK) -> dict[str, dict[str, Any]]:
    """The last record of each run key (with ``status``, or any status when None): a key that was
    re-run after a failure is represented by its successful run."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        if status is None or r.get("status", OK) == status:
            out[r["key"]] = r
    return out


def _jsonable(value: Any) -> Any:
    """numpy scalars and paths in records become plain JSON values."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)
