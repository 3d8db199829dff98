"""Actions (solution steps) read from token ids alone, for P3 without text or extra columns.

:mod:`datadiet.llm.actions` splits a solution's *text* into lines and maps tokens to them by their
character offsets; that needs the text and a fast tokenizer at tokenization time. Here the same
split is made from a tokenized, collated batch: one table over the vocabulary says what each
token's text is (:func:`token_classes`, computed once), and :func:`token_action_ids` splits the
labelled tokens of every row at the tokens that contain a newline.

The rule, per row, over the labelled positions (``labels != -100``, the completion in SFT):

- a token whose text contains a newline (``\\n`` or ``\\r``), a special token, and an unlabelled
  position end the current line and belong to no action;
- within a line, the action runs from its first to its last token with non-whitespace text
  (whitespace tokens between words belong to it; leading and trailing ones do not);
- a line without such a token is no action; actions are numbered 0, 1, ... in order.

For tokenizers whose newline tokens hold only whitespace (byte-level BPE such as GPT-2, Llama 3
and SmolLM2 emit ``"\\n"``, ``" \\n"``, ``"\\n\\n  "``...), this is exactly the ``lines``
segmentation of the completion's text (``tests/test_trl.py`` checks it on GSM8K with SmolLM2's
tokenizer). A token that merges text with a newline (``".\\n"``) counts whole as a break.
"""

from __future__ import annotations

import numpy as np
import torch

from datadiet.scores.inputs import IGNORE_INDEX

__all__ = ["CONTENT", "NEWLINE", "SPACE", "SPECIAL", "token_action_ids", "token_classes"]

CONTENT, SPACE, NEWLINE, SPECIAL = 0, 1, 2, 3
"""Token classes: text with a non-whitespace character (and no newline), whitespace without a
newline (or no text), any text with a newline, a special token (BOS, EOS, chat markers)."""


def token_classes(tokenizer) -> np.ndarray:
    """``(len(tokenizer),)`` int8: the class of every token id (:data:`CONTENT`, :data:`SPACE`,
    :data:`NEWLINE`, :data:`SPECIAL`), from each token decoded on its own (about 0.3 s for a
    50k vocabulary). Special: the tokenizer's special tokens and its added tokens marked special
    (chat markers such as ``<|im_start|>``)."""
    size = len(tokenizer)
    texts = tokenizer.batch_decode([[i] for i in range(size)], skip_special_tokens=False,
                                   clean_up_tokenization_spaces=False)
    classes = np.full(size, CONTENT, dtype=np.int8)
    for i, text in enumerate(texts):
        if "\n" in text or "\r" in text:
            classes[i] = NEWLINE
        elif not text.strip():
            classes[i] = SPACE
    special = set(tokenizer.all_special_ids) | {i for i, t in tokenizer.added_tokens_decoder.items() if t.special}
    classes[[i for i in special if i is not None and 0 <= i < size]] = SPECIAL
    return classes


def token_action_ids(input_ids: torch.Tensor, labels: torch.Tensor, classes: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``(B, T)`` int64 action index of every position (``-1``: in no action), aligned with
    ``input_ids`` and ``labels`` (unshifted, as a Hugging Face causal LM takes them), by the rule in
    this module's docstring. Any padding side works: padding has ``labels == -100``.

    Example:
        >>> classes = np.array([CONTENT, SPACE, NEWLINE, SPECIAL], dtype=np.int8)  # a 4-token vocabulary
        >>> ids = torch.tensor([[0, 0, 1, 0, 1, 2, 1, 2, 0, 3]])
        >>> labels = ids.clone(); labels[0, 0] = -100          # the first token is the prompt
        >>> token_action_ids(ids, labels, classes).tolist()
        [[-1, 0, 0, 0, -1, -1, -1, -1, 1, -1]]
    """
    if input_ids.shape != labels.shape or input_ids.dim() != 2:
        raise ValueError(f"input_ids {tuple(input_ids.shape)} and labels {tuple(labels.shape)} must be the same (B, T)")
    table = torch.as_tensor(classes, dtype=torch.int8, device=input_ids.device)
    ids = input_ids.long()
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= table.shape[0]):
        raise ValueError(f"token ids must lie in [0, {table.shape[0]}) (the tokenizer's vocabulary), got "
                         f"{int(ids.min())}..{int(ids.max())}: build the table from the tokenizer that made the batch")
    cls = table[ids]
    batch, length = ids.shape
    breaks = (labels == IGNORE_INDEX) | (cls == NEWLINE) | (cls == SPECIAL)
    content = ~breaks & (cls == CONTENT)
    line = breaks.long().cumsum(1)  # (B, T) line index; a break opens the next line
    pos = torch.arange(length, device=ids.device).expand(batch, length)
    first = torch.full((batch, length + 1), length, device=ids.device, dtype=torch.long)
    first.scatter_reduce_(1, line, torch.where(content, pos, length), reduce="amin")
    last = torch.full((batch, length + 1), -1, device=ids.device, dtype=torch.long)
    last.scatter_reduce_(1, line, torch.where(content, pos, -1), reduce="amax")
    action_of_line = (last >= 0).long().cumsum(1) - 1
    member = ~breaks & (pos >= first.gather(1, line)) & (pos <= last.gather(1, line))
    return torch.where(member, action_of_line.gather(1, line), torch.full_like(line, -1))
