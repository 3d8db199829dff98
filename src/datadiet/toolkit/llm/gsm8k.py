"""GSM8K (Cobbe et al. 2021, MIT licence): reader, prompt, action segmentation and answer matching
(the test metrics that need the model are :func:`datadiet.toolkit.llm.evaluation.evaluate_gsm8k`).

Data: ``<root>/gsm8k/grade_school_math/data/{train,test}.jsonl`` (7,473 / 1,319 rows), with
``root`` the ``root`` argument, else ``$DATADIET_DATA``, else ``../shared/data`` beside the
current working directory.
Each row has ``question`` and ``answer``: reasoning steps, one per line, then ``#### <number>``.

Choices (documented here once):

- Calculator annotations ``<<48/2=24>>`` are stripped from the solutions by default
  (``strip_calculator=True``): they are an artefact of the dataset's tool use, double the length
  of arithmetic lines, and a model decoding greedily without a calculator never produces them.
- The final line ``#### <number>`` stays in the solution and **is an action** (the last one): it is
  what exact match judges, so the policy's confidence in it belongs in the difficulty; a model that
  reasons right but states the answer wrongly should look hard. ``gsm8k_segmenter(False)`` leaves
  it out of the actions (its tokens are still trained on).
- The prompt is a plain template, ``"Question: {question}\\nAnswer:\\n"``, not a chat template:
  short, and the same for every tokenizer; fine-tuning teaches the format.
- Exact match: the number after the first ``####`` in the generated text (else the last number
  in it) equals the gold number, compared as numbers after removing ``,`` and ``$``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Sequence

from datadiet.llm.actions import lines
from datadiet.llm.tokenization import tokenize_pairs

__all__ = [
    "GSM8K_PROMPT",
    "answers_match",
    "extract_final_number",
    "gsm8k_data_root",
    "gsm8k_prompt",
    "gsm8k_segmenter",
    "read_gsm8k",
    "tokenize_gsm8k",
]

logger = logging.getLogger("datadiet.llm")

GSM8K_PROMPT = "Question: {question}\nAnswer:\n"
GSM8K_SUBDIR = Path("gsm8k") / "grade_school_math" / "data"
_CALCULATOR = re.compile(r"<<[^>]*>>")
_NUMBER = re.compile(r"-?[\d,]*\.?\d+")


def gsm8k_data_root(root: str | os.PathLike | None = None) -> Path:
    """The folder holding ``gsm8k/``: ``root``, else ``$DATADIET_DATA``, else ``../shared/data``
    beside the current working directory."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("DATADIET_DATA")
    if env:
        return Path(env).expanduser()
    return Path.cwd().parent / "shared" / "data"


def read_gsm8k(
    split: str = "train",
    root: str | os.PathLike | None = None,
    *,
    strip_calculator: bool = True,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Rows of GSM8K ``split`` (``"train"`` or ``"test"``) as dicts.

    Keys: ``example_id`` (the row's position in the file, 0-based), ``question``, ``answer`` (the
    raw text), ``solution`` (the answer with calculator annotations stripped if asked: the SFT
    target) and ``final_answer`` (the text after ``####``, commas removed).
    """
    if split not in ("train", "test"):
        raise ValueError(f"GSM8K has splits 'train' and 'test', got {split!r}")
    path = gsm8k_data_root(root) / GSM8K_SUBDIR / f"{split}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(
            f"GSM8K {split} file not found at {path}: pass root= or set DATADIET_DATA to the folder that holds gsm8k/"
        )
    rows = []
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if limit is not None and len(rows) >= limit:
                break
            if not line.strip():
                continue
            raw = json.loads(line)
            answer = raw["answer"]
            solution = _CALCULATOR.sub("", answer) if strip_calculator else answer
            final = answer.rsplit("####", 1)[-1].strip().replace(",", "") if "####" in answer else ""
            rows.append(
                {"example_id": i, "question": raw["question"], "answer": answer, "solution": solution, "final_answer": final}
            )
    return rows


def gsm8k_prompt(question: str, template: str = GSM8K_PROMPT) -> str:
    """The prompt for one question (``template`` must contain ``{question}``)."""
    return template.format(question=question)


def gsm8k_segmenter(final_answer_as_action: bool = True) -> Callable[[str], list[tuple[int, int]]]:
    """Actions of a GSM8K solution: its non-empty lines, with or without the ``#### n`` line."""
    if final_answer_as_action:
        return lines

    def steps_only(text: str) -> list[tuple[int, int]]:
        return [(s, e) for s, e in lines(text) if not text[s:e].startswith("####")]

    return steps_only


def tokenize_gsm8k(
    tokenizer,
    rows: Sequence[dict[str, Any]],
    *,
    max_length: int | None = None,
    final_answer_as_action: bool = True,
    template: str = GSM8K_PROMPT,
    **kwargs,
) -> list[dict[str, Any]]:
    """:func:`~datadiet.llm.tokenization.tokenize_pairs` for GSM8K rows (prompt + solution)."""
    return tokenize_pairs(
        tokenizer,
        [gsm8k_prompt(r["question"], template) for r in rows],
        [r["solution"] for r in rows],
        [r["example_id"] for r in rows],
        segmenter=gsm8k_segmenter(final_answer_as_action),
        max_length=max_length,
        **kwargs,
    )


def _to_number(text: str) -> Decimal | None:
    text = text.replace(",", "").replace("$", "").strip().rstrip(".")
    try:
        return Decimal(text)
    except (InvalidOperation, ValueError):
        return None


def extract_final_number(text: str) -> str | None:
    """The predicted answer: the first number after ``####`` if there is one, else the last number.

    Example:
        >>> extract_final_number("She has 3 + 4 = 7 apples.\\n#### 7")
        '7'
        >>> extract_final_number("so the total is $1,250.")
        '1250'
    """
    if "####" in text:
        m = _NUMBER.search(text.split("####", 1)[1])
        if m:
            return m.group(0).replace(",", "")
    found = _NUMBER.findall(text)
    return found[-1].replace(",", "") if found else None


def answers_match(predicted: str | None, gold: str) -> bool:
    """Whether two answers are the same number (``"1,000.0"`` matches ``"1000"``)."""
    if predicted is None:
        return False
    a, b = _to_number(predicted), _to_number(gold)
    if a is None or b is None:
        return predicted.strip() == gold.strip()
    return a == b
