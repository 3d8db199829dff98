"""Splitting a solution into *actions* (steps), for P3's policy-driven difficulty.

A character segmenter maps the solution text to sorted, non-overlapping character spans
``(start, end)``, one per action; tokens are then assigned to actions by their character offsets
(:func:`assign_tokens_to_actions`). Built in:

- :func:`lines` (the default): the non-empty lines, i.e. the text split on runs of newlines, each
  span trimmed of surrounding whitespace; whitespace-only lines are no action. The newline tokens
  between lines belong to no action.
- :func:`sentences`: split after ``.``, ``!`` or ``?`` followed by whitespace, and at newlines (a
  simple rule: "Mr. Smith" splits; decimals such as "0.5" do not).
- :func:`chunks` ``(n)``: fixed chunks of ``n`` solution *tokens* (not characters); resolved at
  tokenization time.
- any callable ``str -> list`` of spans ``(start, end)`` or of substrings (found left to right).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence, Union

import numpy as np

__all__ = [
    "Segmenter",
    "TokenChunks",
    "assign_tokens_to_actions",
    "chunks",
    "get_segmenter",
    "lines",
    "segment_actions",
    "sentences",
]

Span = tuple[int, int]


@dataclass(frozen=True)
class TokenChunks:
    """Actions of ``n`` consecutive solution tokens each (the last one may be shorter)."""

    n: int

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"chunks(n) needs an int n >= 1, got {self.n!r}")

    def action_ids(self, num_tokens: int) -> np.ndarray:
        """``position // n`` for each of ``num_tokens`` solution tokens."""
        return np.arange(num_tokens, dtype=np.int64) // self.n


Segmenter = Union[str, TokenChunks, Callable[[str], Sequence]]


def _trimmed(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def lines(text: str) -> list[Span]:
    """Spans of the non-empty lines of ``text`` (split on runs of ``\\n`` / ``\\r``), trimmed.

    Example:
        >>> t = "a = 1\\n\\n\\n  b = 2 \\n#### 3"
        >>> [t[s:e] for s, e in lines(t)]
        ['a = 1', 'b = 2', '#### 3']
    """
    spans = []
    for m in re.finditer(r"[^\r\n]+", text):
        span = _trimmed(text, m.start(), m.end())
        if span is not None:
            spans.append(span)
    return spans


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|[\r\n]+")


def sentences(text: str) -> list[Span]:
    """Spans of the sentences of ``text``: split after ``.!?`` + whitespace and at newlines.

    Example:
        >>> t = "It costs $0.5 each. So 4 cost $2!\\nDone"
        >>> [t[s:e] for s, e in sentences(t)]
        ['It costs $0.5 each.', 'So 4 cost $2!', 'Done']
    """
    spans, start = [], 0
    for m in _SENTENCE_BREAK.finditer(text):
        span = _trimmed(text, start, m.start())
        if span is not None:
            spans.append(span)
        start = m.end()
    span = _trimmed(text, start, len(text))
    if span is not None:
        spans.append(span)
    return spans


def chunks(n: int) -> TokenChunks:
    """Fixed actions of ``n`` solution tokens each (resolved when tokenizing)."""
    return TokenChunks(int(n) if isinstance(n, (int, np.integer)) and not isinstance(n, bool) else n)


_NAMED = {"lines": lines, "sentences": sentences}


def get_segmenter(segmenter: Segmenter) -> Callable[[str], list[Span]] | TokenChunks:
    """Resolve ``"lines"``, ``"sentences"``, ``"chunks:N"``, a :class:`TokenChunks` or a callable."""
    if isinstance(segmenter, TokenChunks) or callable(segmenter):
        return segmenter
    if isinstance(segmenter, str):
        if segmenter in _NAMED:
            return _NAMED[segmenter]
        m = re.fullmatch(r"chunks:(\d+)", segmenter)
        if m:
            return TokenChunks(int(m.group(1)))
    raise ValueError(
        f"unknown action segmenter {segmenter!r}: use 'lines', 'sentences', 'chunks:N' (N tokens), "
        "datadiet.llm.chunks(N), or a callable text -> list of (start, end) spans or substrings"
    )


def segment_actions(text: str, segmenter: Segmenter = "lines") -> list[Span]:
    """The action spans of ``text`` under a character segmenter, validated and sorted.

    A callable may return ``(start, end)`` spans or substrings (located left to right). Empty
    spans are dropped; spans outside the text or overlapping each other raise ``ValueError``.
    """
    seg = get_segmenter(segmenter)
    if isinstance(seg, TokenChunks):
        raise ValueError("chunks(n) segments tokens, not characters: use it through tokenize_pair(...)")
    raw = list(seg(text))
    spans: list[Span] = []
    cursor = 0
    for item in raw:
        if isinstance(item, str):
            if not item:
                continue
            start = text.find(item, cursor)
            if start < 0:
                raise ValueError(f"segmenter returned {item!r}, which is not in the text after position {cursor}")
            span = (start, start + len(item))
            cursor = span[1]
        else:
            start, end = (int(v) for v in item)
            if not 0 <= start <= end <= len(text):
                raise ValueError(f"action span {item!r} is outside the text (length {len(text)})")
            span = (start, end)
        if span[1] > span[0]:
            spans.append(span)
    spans.sort()
    for (s0, e0), (s1, _) in zip(spans, spans[1:]):
        if s1 < e0:
            raise ValueError(f"action spans overlap: ({s0}, {e0}) and ({s1}, ...); actions must be disjoint")
    return spans


def assign_tokens_to_actions(offsets: Sequence[Span], spans: Sequence[Span]) -> np.ndarray:
    """Action index of each token from its character ``offsets``, ``-1`` if it is in no action.

    A token belongs to the action its characters overlap most (the earlier one on a tie); tokens
    that overlap no action (the newlines between lines, added special tokens with empty offsets)
    get ``-1``.

    Example:
        >>> assign_tokens_to_actions([(0, 3), (3, 4), (4, 7), (7, 7)], [(0, 3), (4, 7)]).tolist()
        [0, -1, 1, -1]
    """
    num_tokens = len(offsets)
    if num_tokens == 0:
        return np.zeros(0, dtype=np.int64)
    if len(spans) == 0:
        return np.full(num_tokens, -1, dtype=np.int64)
    off = np.asarray(offsets, dtype=np.int64).reshape(num_tokens, 2)
    sp = np.asarray(spans, dtype=np.int64).reshape(len(spans), 2)
    overlap = np.minimum(off[:, None, 1], sp[None, :, 1]) - np.maximum(off[:, None, 0], sp[None, :, 0])
    overlap = np.maximum(overlap, 0)
    best = overlap.argmax(axis=1)
    return np.where(overlap[np.arange(num_tokens), best] > 0, best, -1).astype(np.int64)
