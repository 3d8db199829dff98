"""Evaluating a causal LM on tokenized (prompt, solution) examples: teacher-forced NLL of the
solutions, greedy generation, and GSM8K's test metrics (both, with exact match of the final number).

Every pass runs through :func:`~datadiet.scoring_pass.eval_forward` (eval mode, inference mode,
the model's mode restored after); NLL batches are bucketed by length like the scoring pass.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Sequence

import numpy as np
import torch

from datadiet.labelled_head import CheckedHead, split_lm_head
from datadiet.llm.tokenization import CausalLMCollator, token_lengths
from datadiet.scores.inputs import IGNORE_INDEX
from datadiet.scores.tokens import gold_token_logprobs
from datadiet.scoring_pass import Autocast, batch_to_device, eval_forward, length_buckets, scoring_precision
from datadiet.toolkit.llm.gsm8k import GSM8K_PROMPT, answers_match, extract_final_number, gsm8k_prompt, tokenize_gsm8k

__all__ = ["evaluate_gsm8k", "generate_greedy", "mean_token_nll"]


def mean_token_nll(
    model,
    examples: Sequence[dict[str, Any]],
    collator: Callable | None = None,
    *,
    tokenizer=None,
    batch_size: int = 8,
    labelled_head: bool = True,
    autocast: Autocast = None,
) -> dict[str, Any]:
    """Negative log-likelihood of the labelled tokens (the solutions), teacher-forced.

    With ``labelled_head`` (and a model whose logits are plain ``lm_head(hidden)``, checked on the
    first batch) the LM head is applied at the labelled positions only
    (:mod:`datadiet.labelled_head`): the same numbers, without the prompt's logits. ``autocast``:
    the mixed precision to run in (:func:`~datadiet.scoring_pass.scoring_precision`), e.g. that
    of the Trainer the model was trained with.

    Returns ``{"nll": token-weighted mean over all labelled tokens, "tokens": their count,
    "per_example": (N,) mean NLL of each example (NaN if it has no labelled token)}``.
    """
    if collator is None:
        collator = CausalLMCollator(tokenizer)
    total, count = 0.0, 0
    per_example = np.full(len(examples), np.nan)
    head = CheckedHead(split_lm_head(model) if labelled_head else None)
    with eval_forward(model) as device:
        for idx in length_buckets(np.arange(len(examples)), token_lengths(examples), batch_size):
            batch = batch_to_device(collator([examples[i] for i in idx]), device)
            inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
            labels = batch["labels"][:, 1:]
            valid = labels != IGNORE_INDEX
            with scoring_precision(autocast, device):
                checked = head.score_inputs(model, inputs, batch, want_features=False)
                logits = None if checked is not None else model(**inputs).logits
            if checked is not None:
                sums = -(checked.token_logprobs.double() * valid).sum(1)
            else:
                rows, _, logp = gold_token_logprobs(logits[:, :-1].float(), labels, valid)
                sums = torch.zeros(labels.shape[0], dtype=torch.float64, device=device)
                sums.index_add_(0, rows, -logp.double())
            sums = sums.cpu().numpy()
            counts = valid.sum(1).cpu().numpy()
            total += float(sums.sum())
            count += int(counts.sum())
            with np.errstate(invalid="ignore", divide="ignore"):
                per_example[idx] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return {"nll": total / max(count, 1), "tokens": count, "per_example": per_example}


def generate_greedy(
    model,
    tokenizer,
    prompts: Sequence[str],
    *,
    max_new_tokens: int = 256,
    batch_size: int = 8,
    stop_at_answer: bool = True,
    autocast: Autocast = None,
) -> list[str]:
    """Greedy continuations of ``prompts`` (batched, left-padded), decoded without special tokens.

    Generation stops at the EOS token or after ``max_new_tokens``; with ``stop_at_answer`` the
    text is cut after the first line that starts with ``####``. ``autocast``: the mixed precision
    to generate in (:func:`~datadiet.scoring_pass.scoring_precision`).
    """
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad is None:
        raise ValueError("the tokenizer has neither a pad nor an EOS token; set tokenizer.pad_token")
    encoded = [list(tokenizer(p, add_special_tokens=True)["input_ids"]) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
    texts: list[str] = [""] * len(prompts)
    with eval_forward(model) as device:
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            width = max(len(encoded[i]) for i in idx)
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for r, i in enumerate(idx):  # left padding: every prompt ends at the same column
                ids[r, width - len(encoded[i]) :] = torch.tensor(encoded[i])
                mask[r, width - len(encoded[i]) :] = 1
            with scoring_precision(autocast, device):
                out = model.generate(
                    input_ids=ids.to(device),
                    attention_mask=mask.to(device),
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=pad,
                    eos_token_id=tokenizer.eos_token_id,
                )
            for r, i in enumerate(idx):
                text = tokenizer.decode(out[r, width:], skip_special_tokens=True)
                if stop_at_answer:
                    m = re.search(r"^####[^\n]*", text, flags=re.MULTILINE)
                    if m:
                        text = text[: m.end()]
                texts[i] = text
    return texts


def evaluate_gsm8k(
    model,
    tokenizer,
    rows: Sequence[dict[str, Any]],
    *,
    max_length: int | None = None,
    batch_size: int = 8,
    max_new_tokens: int = 256,
    exact_match: bool = True,
    template: str = GSM8K_PROMPT,
    autocast: Autocast = None,
) -> dict[str, Any]:
    """Test metrics on ``rows``: (a) solution NLL, (b) greedy exact match of the final number.
    ``autocast``: the mixed precision of both (:func:`~datadiet.scoring_pass.scoring_precision`).

    Returns ``{"nll": mean NLL per solution token (teacher-forced, EOS included), "nll_tokens",
    "exact_match": fraction correct (None if not asked), "predictions": [{example_id, predicted,
    gold, correct, text}], "n": len(rows)}``.
    """
    examples = tokenize_gsm8k(tokenizer, rows, max_length=max_length, template=template)
    nll = mean_token_nll(model, examples, CausalLMCollator(tokenizer), batch_size=batch_size, autocast=autocast)
    result: dict[str, Any] = {"n": len(rows), "nll": nll["nll"], "nll_tokens": nll["tokens"], "exact_match": None}
    if exact_match:
        texts = generate_greedy(
            model, tokenizer, [gsm8k_prompt(r["question"], template) for r in rows],
            max_new_tokens=max_new_tokens, batch_size=batch_size, autocast=autocast,
        )
        preds = []
        for r, text in zip(rows, texts):
            p = extract_final_number(text)
            preds.append(
                {"example_id": r["example_id"], "predicted": p, "gold": r["final_answer"],
                 "correct": answers_match(p, r["final_answer"]), "text": text}
            )
        result["predictions"] = preds
        result["exact_match"] = sum(p["correct"] for p in preds) / max(len(preds), 1)
    return result
