"""Which examples an epoch has trained on, so an epoch that trained fewer than its plan fails loudly.

The diet's plan decides how many optimizer steps each epoch gets; an engine or a data-loader setting
the plan does not model (accelerate's ``split_batches``, a batch sampler of the user's) would
otherwise end epochs early without an error. Every training batch marks its example ids
(:meth:`TrainedLedger.mark`, O(batch)); at the epoch's end :meth:`TrainedLedger.check` merges the
marks of every rank and compares them with the selection.
"""

from __future__ import annotations

import numpy as np

from datadiet.distributed import any_across_ranks


class EpochShortfall(RuntimeError):
    """An epoch trained on fewer of its selected examples than its plan said (or on others)."""


class TrainedLedger:
    """The examples the current epoch has trained on, over every rank."""

    def __init__(self, num_examples: int) -> None:
        self.mask = np.zeros(int(num_examples), dtype=bool)
        self.epoch = -1

    def start(self, epoch: int) -> None:
        """A new epoch: nothing trained yet (a resumed epoch keeps what its checkpoint had)."""
        if epoch != self.epoch:
            self.mask[:] = False
            self.epoch = int(epoch)

    def mark(self, ids: np.ndarray) -> None:
        """A training batch of this rank trained ``ids``."""
        self.mask[ids] = True

    def merge(self) -> None:
        """Every rank's marks on every rank (a collective: all ranks call it together)."""
        self.mask = any_across_ranks(self.mask)

    def check(self, selection: np.ndarray, expected: int, layout: str = "") -> None:
        """Raise :class:`EpochShortfall` unless at least ``expected`` of ``selection`` and nothing
        outside it were trained (a collective)."""
        self.merge()
        selected = np.zeros(len(self.mask), dtype=bool)
        selected[selection] = True
        trained, outside = int(self.mask[selected].sum()), int((self.mask & ~selected).sum())
        if trained < expected or outside:
            extra = f" and {outside} examples it did not select" if outside else ""
            raise EpochShortfall(
                f"epoch {self.epoch} trained {trained} of the {expected} examples its plan said it would "
                f"(selected: {len(selection)}){extra}{f'; batch layout: {layout}' if layout else ''}. The plan of "
                "optimizer steps does not match what the data loader ran: a setting the diet does not model "
                "(e.g. a custom batch sampler, or accelerate's dispatch / split settings) changed the batches. "
                "Nothing was truncated silently: report this with the settings of the run")

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "mask": np.packbits(self.mask)}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state["epoch"])
        self.mask = np.unpackbits(np.asarray(state["mask"], dtype=np.uint8), count=len(self.mask)).astype(bool)
