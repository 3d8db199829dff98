"""A run's contract: what a resumed run depends on, written with the diet's state and checked on load.

One mechanism for every kind of change between the run that saved a checkpoint and the run that
resumes it: the training set (its size and a cheap fingerprint of its tokens), the number of
epochs, the seed, the method and its settings, and the batch layout (ranks, batch size, gradient
accumulation; see :class:`~datadiet.layout.BatchLayout`). A resume either continues exactly or
is refused with :class:`ResumeMismatch`, whose message names every change and what to do.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from datadiet.layout import BatchLayout

FINGERPRINT_ROWS = 64
"""Rows whose first tokens enter :func:`data_fingerprint` (every row's length enters it too)."""

FINGERPRINT_TOKENS = 8


def _steps_text(max_steps: int) -> str:
    return "its epochs (max_steps unset)" if max_steps == 0 else f"max_steps={max_steps}"


def _plan_text(plan: tuple[int, ...]) -> str:
    return f"{len(plan)} epoch" + ("" if len(plan) == 1 else "s") + f" of {', '.join(map(str, plan))} examples"


class ResumeMismatch(ValueError):
    """A checkpoint's run and the run resuming it differ in something the diet's selections depend on."""


def data_fingerprint(dataset, lengths: np.ndarray | None) -> str | None:
    """A cheap fingerprint of a tokenized training set: its size, every example's token count
    (``lengths``) and the first tokens of :data:`FINGERPRINT_ROWS` rows spread over it. None when
    the dataset has no ``input_ids`` (nothing to compare: such runs are not checked)."""
    if lengths is None:
        return None
    digest = hashlib.sha1(np.asarray(lengths, dtype=np.int64).tobytes())
    rows = np.unique(np.linspace(0, len(lengths) - 1, num=min(len(lengths), FINGERPRINT_ROWS)).round().astype(int))
    for i in rows:
        digest.update(np.asarray(dataset[int(i)]["input_ids"][:FINGERPRINT_TOKENS], dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class RunContract:
    """What the diet's selections depend on; ``data`` and ``layout`` are None while unknown (a plain
    loop's dataset is first seen at ``begin_epoch``; a loop without a layout never sets one)."""

    num_examples: int
    num_epochs: int
    seed: int
    method: dict = field(default_factory=dict)
    data: str | None = None
    layout: BatchLayout | None = None
    inert: frozenset = frozenset()
    """Settings of this run's method that change nothing here (``Strategy.inert_settings``): a
    checkpoint that saved them is not compared on them. Not saved: it describes the running side."""
    unsaved: dict = field(default_factory=dict)
    """What a checkpoint from before one of this method's settings existed ran with, where that is not
    None (``Strategy.unsaved_defaults``). Not saved, like ``inert``."""
    plan: tuple[int, ...] | None = None
    """The planned examples of every epoch: the same settings can plan another run under another
    datadiet version (a changed time-budget rule); None in checkpoints from before it was saved."""
    max_steps: int | None = None
    """The optimizer steps a trainer's run was given (``max_steps``; 0: given in epochs): the LR
    schedule spans them, so a resume with others would mix two runs. None where unknown (a plain
    loop, a checkpoint from before it was saved)."""

    def to_dict(self) -> dict:
        return {"num_examples": self.num_examples, "num_epochs": self.num_epochs, "seed": self.seed,
                "method": dict(self.method), "data": self.data,
                "layout": None if self.layout is None else self.layout.to_dict(),
                "plan": None if self.plan is None else list(self.plan), "max_steps": self.max_steps}

    @classmethod
    def from_dict(cls, state: dict) -> "RunContract":
        layout, plan = state.get("layout"), state.get("plan")
        return cls(int(state["num_examples"]), int(state["num_epochs"]), int(state["seed"]), dict(state["method"]),
                   state.get("data"), None if layout is None else BatchLayout.from_dict(layout),
                   plan=None if plan is None else tuple(int(k) for k in plan),
                   max_steps=None if state.get("max_steps") is None else int(state["max_steps"]))

    def changes(self, saved: "RunContract", kept_per_epoch: list[int]) -> list[str]:
        """Every difference from ``saved`` that stops an exact resume, each with what to do; fields
        unknown on either side are not compared."""
        out = []
        if saved.num_examples != self.num_examples:
            out.append(f"the checkpoint's run trained on {saved.num_examples} examples, this training set has "
                       f"{self.num_examples}: resume with the training set the run started with")
        elif saved.data is not None and self.data is not None and saved.data != self.data:
            out.append(f"the training set has the checkpoint's size ({self.num_examples}) but other tokens (data "
                       f"fingerprint {saved.data} -> {self.data}: token counts or first tokens differ): resume on "
                       "the data the run started with (same rows, order and tokenizer), or start a new run")
        if saved.num_epochs != self.num_epochs:
            out.append(f"the checkpoint's run was planned for {saved.num_epochs} epochs, this one for "
                       f"{self.num_epochs}: resume with num_train_epochs={saved.num_epochs} (or the max_steps the run "
                       "started with), or start a new run to train for another number of epochs")
        if None not in (saved.max_steps, self.max_steps) and saved.max_steps != self.max_steps:
            out.append(f"the checkpoint's run was given {_steps_text(saved.max_steps)}, this one "
                       f"{_steps_text(self.max_steps)}: the learning-rate schedule spans the run's steps, so resume "
                       f"with {_steps_text(saved.max_steps)}, or start a new run")
        if saved.seed != self.seed:
            out.append(f"seed {saved.seed} -> {self.seed}: every random choice of the diet derives from it; resume "
                       f"with seed={saved.seed}")
        # a setting absent on one side is None there: a checkpoint from before a setting existed
        # (one whose default None means "off") resumes under the version that added it; settings
        # this run's method declares inert (e.g. how a time budget is spent, in a run without one)
        # are not compared
        before = {**{k: v for k, v in self.unsaved.items() if k not in saved.method}, **saved.method}
        keys = sorted(k for k in set(before) | set(self.method)
                      if k not in self.inert and before.get(k) != self.method.get(k))
        if keys:
            said = ", ".join(f"{k} {before.get(k)!r} -> {self.method.get(k)!r}" for k in keys)
            hint = ""
            if before.get("budget_epochs") == "all" and self.method.get("budget_epochs") == "auto":
                hint = " (a checkpoint from before budget_epochs='auto' became the default: pass budget_epochs='all')"
            out.append(f"the diet's method or settings changed ({said}): a resumed run would mix two methods; "
                       f"resume with the checkpoint's diet{hint}, or start a new run")
        elif (saved.num_epochs, saved.num_examples) == (self.num_epochs, self.num_examples) \
                and None not in (saved.plan, self.plan) and saved.plan != self.plan:
            out.append(f"the same settings plan another run under this datadiet version (the checkpoint planned "
                       f"{_plan_text(saved.plan)}, this one plans {_plan_text(self.plan)}; e.g. a changed time-budget "
                       "rule): resume with the datadiet version that saved it, or start a new run")
        if saved.layout is not None and self.layout is not None:
            change = self.layout.resume_change(saved.layout, kept_per_epoch)
            if change:
                out.append(change)
        return out

    def check(self, saved: "RunContract", kept_per_epoch: list[int]) -> None:
        """Raise :class:`ResumeMismatch` naming every change from ``saved`` (see :meth:`changes`)."""
        changes = self.changes(saved, kept_per_epoch)
        if changes:
            raise ResumeMismatch("cannot resume this checkpoint exactly:\n- " + "\n- ".join(changes))
