"""What a run's selections depend on beyond the diet's own settings: the training set (its ids
checked to be the row positions, its token counts, its fingerprint), the batch layout, and, for a
resumed run, the checkpoint's :class:`~datadiet.contract.RunContract` to check them against."""

from __future__ import annotations

import numpy as np

from datadiet.contract import RunContract, data_fingerprint
from datadiet.layout import BatchLayout
from datadiet.scoring_pass import example_lengths
from datadiet.utils import check_example_ids, example_ids_of


class DataBinding:
    """The training set and batch layout one diet is bound to (read once, kept across a reset's
    layout), and a loaded checkpoint's contract (``saved``) for the fields known only later."""

    def __init__(self) -> None:
        self.lengths: np.ndarray | None = None  # token count per example, None when the data has none
        self.fingerprint: str | None = None
        self.bound = False
        self.layout: BatchLayout | None = None
        self.max_steps: int | None = None  # the steps a trainer's run was given (0: in epochs); None: unknown
        self.saved: RunContract | None = None

    def bind(self, dataset, id_column: str) -> bool:
        """Read ``dataset`` once (later calls, and None, do nothing); True when it was read now."""
        if self.bound or dataset is None:
            return False
        ids = example_ids_of(dataset, id_column)
        if ids is not None:
            check_example_ids(ids, len(dataset), id_column)
        self.lengths = example_lengths(dataset)
        self.fingerprint = data_fingerprint(dataset, self.lengths)
        self.bound = True
        return True

    def set_layout(self, layout: BatchLayout, max_steps: int | None = None) -> None:
        if not isinstance(layout, BatchLayout):
            raise TypeError(f"layout must be a datadiet.BatchLayout, got {type(layout).__name__}")
        if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 0):
            raise ValueError(f"max_steps must be an int >= 0 (0: a run given in epochs), got {max_steps!r}")
        self.layout = layout
        if max_steps is not None:
            self.max_steps = max_steps

    def forget_data(self) -> None:
        """Unbind the training set and the saved contract (a reset); the layout stays."""
        self.lengths = self.fingerprint = self.saved = None
        self.bound = False

    def contract(self, num_examples: int, num_epochs: int, seed: int, strategy: dict,
                 inert: frozenset = frozenset(), unsaved: dict | None = None,
                 plan: tuple[int, ...] | None = None) -> RunContract:
        """The run's contract; a resumed run that has not seen its data or layout yet carries the
        checkpoint's."""
        saved = self.saved
        data = self.fingerprint if self.bound or saved is None else saved.data
        layout = self.layout if self.layout is not None or saved is None else saved.layout
        max_steps = self.max_steps if self.max_steps is not None or saved is None else saved.max_steps
        return RunContract(num_examples, num_epochs, seed, strategy, data, layout, inert, dict(unsaved or {}), plan,
                           max_steps)
