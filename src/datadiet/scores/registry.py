"""The registry of scores by name: a new score is one function plus one ``register_score`` call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from datadiet.scores.inputs import ScoreInputs
from datadiet.validation import UnknownName

ScoreFn = Callable[[ScoreInputs], torch.Tensor]


@dataclass(frozen=True)
class Score:
    """A named per-example score.

    Attributes:
        name: registry key, e.g. ``"el2n"``.
        fn: pure function ``ScoreInputs -> Tensor (B,)``, float, higher = harder.
        requires: the ``ScoreInputs`` fields ``fn`` reads; checked before the first batch so a task
            that cannot provide them fails at once with a clear message.
        description: one line for ``--help`` and error messages.
    """

    name: str
    fn: ScoreFn
    requires: tuple[str, ...]
    description: str = ""

    def __call__(self, inputs: ScoreInputs) -> torch.Tensor:
        return self.fn(inputs)

    def check_inputs(self, inputs: ScoreInputs) -> None:
        """Raise ``ValueError`` naming what is missing when ``inputs`` lack a required field."""
        missing = [r for r in self.requires if getattr(inputs, r) is None]
        if missing:
            have = sorted(inputs.available()) or ["nothing"]
            raise ValueError(
                f"score {self.name!r} needs {', '.join(missing)} from the model outputs, but the task "
                f"adapter provided only {', '.join(have)}. Choose a score this task supports "
                f"(see datadiet.scores.available_scores()) or pass an adapter that provides {missing[0]}."
            )


_SCORES: dict[str, Score] = {}


def register_score(name: str, fn: ScoreFn, requires: tuple[str, ...], description: str = "") -> Score:
    """Add a score to the registry (raises if the name is taken) and return it."""
    if name in _SCORES:
        raise ValueError(f"a score named {name!r} is already registered")
    score = Score(name=name, fn=fn, requires=tuple(requires), description=description)
    _SCORES[name] = score
    return score


def get_score(name: str | Score) -> Score:
    """Look a score up by name; an unknown name raises :class:`~datadiet.validation.UnknownName`
    (a ``ValueError``) listing the valid ones."""
    if isinstance(name, Score):
        return name
    try:
        return _SCORES[name]
    except KeyError:
        raise UnknownName("score", name, _SCORES) from None


def available_scores() -> dict[str, str]:
    """Mapping of every registered score name to its one-line description."""
    return {name: s.description for name, s in sorted(_SCORES.items())}
