"""The run log of a diet: one record per epoch (phase, kept, scored, seconds) and the kept masks."""

from __future__ import annotations

import numpy as np

from datadiet.select.selection import Selection


class RunLog:
    """What each epoch did, in order. ``records[e]`` is a dict of JSON-able fields;
    ``kept_masks[e]`` the packed boolean mask of the examples epoch e trained on."""

    def __init__(self, num_examples: int) -> None:
        self.num_examples = int(num_examples)
        self.records: list[dict] = []
        self.kept_masks: list[np.ndarray] = []

    @staticmethod
    def start(epoch: int, phase: str) -> dict:
        return {"epoch": int(epoch), "phase": phase, "scored": 0, "scoring_seconds": 0.0, "selection_seconds": 0.0}

    def finish(self, record: dict, selection: Selection, observe_seconds: float, trained: int | None = None) -> None:
        """Log the epoch's selection; ``trained``: the examples its batches train, where the batch
        layout's ``drop_last`` drops a partial batch of them (logged only where it differs)."""
        mask = np.zeros(self.num_examples, dtype=bool)
        mask[selection.indices] = True
        self.kept_masks.append(np.packbits(mask))
        record.update(kept=int(len(selection)), kept_fraction=len(selection) / self.num_examples,
                      observe_seconds=float(observe_seconds))
        if trained is not None and trained != len(selection):
            record["trained"] = int(trained)
        self.records.append(record)

    def kept_matrix(self) -> np.ndarray:
        """``(epochs run, N)`` booleans: which examples each epoch selected to train on (all of them
        train, less a partial batch where the layout's ``drop_last`` drops one: the log's ``trained``)."""
        if not self.kept_masks:
            return np.zeros((0, self.num_examples), dtype=bool)
        return np.stack([np.unpackbits(m, count=self.num_examples).astype(bool) for m in self.kept_masks])

    def summary(self, method: str, pending_observe_seconds: float = 0.0, num_epochs: int | None = None) -> dict:
        """Totals so far: examples trained on, on full data over the epochs run (``examples_full``)
        and over the ``num_epochs`` asked for (``examples_asked``: what full-data training would
        have cost, the reference of a time budget whose plan trains fewer epochs), examples scored,
        seconds."""
        r = self.records
        return {
            "method": method,
            "examples_trained": int(sum(x.get("trained", x["kept"]) for x in r)),
            "examples_full": int(self.num_examples * len(r)),
            "examples_asked": None if num_epochs is None else int(self.num_examples * num_epochs),
            "scored_examples": int(sum(x["scored"] for x in r)),
            "scoring_seconds": float(sum(x["scoring_seconds"] for x in r)),
            "selection_seconds": float(sum(x["selection_seconds"] for x in r)),
            "observe_seconds": float(sum(x["observe_seconds"] for x in r)) + pending_observe_seconds,
        }

    def state_dict(self) -> dict:
        return {"records": [dict(x) for x in self.records], "kept_masks": [m.copy() for m in self.kept_masks]}

    def load_state_dict(self, state: dict) -> None:
        self.records = [dict(x) for x in state["records"]]
        self.kept_masks = [np.asarray(m, dtype=np.uint8) for m in state["kept_masks"]]
