"""Scores computed from classification outputs: EL2N (sequence, token, joint), loss, entropy, margin.

Every function is pure: ``ScoreInputs -> Tensor (B,)`` of float32 on the inputs' device, higher =
harder. Positions whose label is ``-100`` are ignored everywhere; an example with no valid label at
all scores 0 (there is nothing left to learn from it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from datadiet.scores.inputs import IGNORE_INDEX, ScoreInputs
from datadiet.scores.tokens import CHUNK_ELEMENTS, gold_token_stats, labelled_rows


def _probs_and_onehot(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """softmax(logits), one-hot(labels) (zeros where ignored) and the validity mask."""
    valid = labels != IGNORE_INDEX
    probs = torch.softmax(logits.float(), dim=-1)
    safe = torch.where(valid, labels, torch.zeros_like(labels)).long()
    onehot = F.one_hot(safe, num_classes=logits.shape[-1]).to(probs.dtype) * valid.unsqueeze(-1)
    return probs, onehot, valid


def el2n_errors(logits: torch.Tensor, labels: torch.Tensor, *, chunk_elements: int = CHUNK_ELEMENTS) -> torch.Tensor:
    """Per-position EL2N error ``||softmax(z) - onehot(y)||_2`` (Paul et al. 2021, "Deep Learning on
    a Data Diet"), with 0 where the label is ``-100``. Works for ``(B, C)`` or ``(B, T, C)`` logits.

    For a single-output regression head (``C == 1`` and float labels) the error is
    ``|sigmoid(z) - y|``. This is also GraNd at the logits: for softmax cross-entropy the gradient
    of the loss w.r.t. the logits is exactly ``softmax(z) - onehot(y)``. Extra memory is bounded
    by ``chunk_elements`` logits whatever the vocabulary size.
    """
    if logits.shape[-1] == 1 and labels.is_floating_point():
        err = (torch.sigmoid(logits.float().squeeze(-1)) - labels.float()).abs()
        return torch.where(labels != IGNORE_INDEX, err, torch.zeros_like(err))
    # Only the labelled rows, a bounded chunk at a time (no softmax or one-hot of a whole (B, T, V)
    # output). ||p - e_y||^2 = sum_{c != y} p_c^2 + (1 - p_y)^2, with 1 - p_y summed over c != y:
    # no cancellation when p_y rounds to 1.
    index = (labels != IGNORE_INDEX).nonzero(as_tuple=True)
    labelled = torch.empty(index[0].shape[0], dtype=torch.float32, device=logits.device)
    for part, rows, y in labelled_rows(logits, labels, index, chunk_elements=chunk_elements):
        others = torch.softmax(rows, dim=-1).scatter_(-1, y.unsqueeze(-1), 0.0)
        labelled[part] = torch.sqrt(others.square().sum(-1) + others.sum(-1).square())
    err = torch.zeros(labels.shape, dtype=torch.float32, device=logits.device)
    err[index] = labelled
    return err


def el2n(inputs: ScoreInputs) -> torch.Tensor:
    """EL2N of a sequence-level prediction (Paul et al. 2021). Range [0, sqrt(2)]."""
    return el2n_errors(inputs.logits, inputs.labels)


def token_el2n(inputs: ScoreInputs) -> torch.Tensor:
    """Token EL2N: the mean EL2N error over an example's valid tokens (labels != -100).

    Attendu & Corbeil 2023 extend EL2N to token classification by computing it per token over the
    first sub-word of each word; the mean makes it independent of the sentence length.
    """
    errors = el2n_errors(inputs.token_logits, inputs.token_labels)
    count = (inputs.token_labels != IGNORE_INDEX).sum(-1)
    return errors.sum(-1) / count.clamp(min=1)


def joint_el2n(inputs: ScoreInputs, reduction: str = "norm") -> torch.Tensor:
    """Joint intent + slot EL2N (Attendu & Corbeil 2023, "NLU on Data Diets").

    With the intent error ``e_I`` and the valid token errors ``e_t``:
    ``norm`` = ``sqrt(e_I^2 + sum_t e_t^2)`` (the L2 norm of all errors concatenated, the default),
    ``sum`` = ``e_I + sum_t e_t``, ``mean`` = ``(e_I + mean_t e_t) / 2``. Intent and slots are unweighted.
    """
    e_intent = el2n_errors(inputs.logits, inputs.labels)
    e_tokens = el2n_errors(inputs.token_logits, inputs.token_labels)
    if reduction == "norm":
        return torch.sqrt(e_intent**2 + (e_tokens**2).sum(-1))
    if reduction == "sum":
        return e_intent + e_tokens.sum(-1)
    if reduction == "mean":
        count = (inputs.token_labels != IGNORE_INDEX).sum(-1).clamp(min=1)
        return (e_intent + e_tokens.sum(-1) / count) / 2
    raise ValueError(f"unknown reduction {reduction!r}; valid: 'norm', 'sum', 'mean'")


def _cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-position cross-entropy with 0 at ignored positions (same shape as ``labels``)."""
    flat = F.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1).long(),
        ignore_index=IGNORE_INDEX, reduction="none",
    )
    return flat.reshape(labels.shape)


def loss(inputs: ScoreInputs) -> torch.Tensor:
    """Per-example cross-entropy: ``CE(intent)`` for sequence classification, ``sum_t CE(slot_t)``
    for token classification, and ``0.5 * CE_intent + 0.5 * sum_t CE_slot`` for joint NLU
    (the joint model's training loss, Attendu & Corbeil 2023)."""
    seq = _cross_entropy(inputs.logits, inputs.labels) if inputs.logits is not None else None
    tok = _cross_entropy(inputs.token_logits, inputs.token_labels).sum(-1) if inputs.token_logits is not None else None
    if seq is not None and tok is not None:
        return 0.5 * seq + 0.5 * tok
    if seq is not None:
        return seq
    if tok is not None:
        return tok
    raise ValueError("score 'loss' needs logits+labels or token_logits+token_labels")


def entropy(inputs: ScoreInputs) -> torch.Tensor:
    """Entropy of the predicted class distribution (uncertainty; needs no label)."""
    logp = torch.log_softmax(inputs.logits.float(), dim=-1)
    return -(logp.exp() * logp).sum(-1)


def margin(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Classification margin ``p(y) - max_{c != y} p(c)`` in [-1, 1]; 1 where the label is ignored."""
    probs, onehot, valid = _probs_and_onehot(logits, labels)
    p_true = (probs * onehot).sum(-1)
    p_other = probs.masked_fill(onehot.bool(), float("-inf")).max(-1).values
    return torch.where(valid, p_true - p_other, torch.ones_like(p_true))


def negative_margin(inputs: ScoreInputs) -> torch.Tensor:
    """Minus the margin (so higher = harder): the registered score ``"margin"``."""
    return -margin(inputs.logits, inputs.labels)


def true_class_probability(inputs: ScoreInputs) -> tuple[torch.Tensor, torch.Tensor]:
    """Confidence ``p(y)`` and correctness (argmax == y) of each example, for training dynamics
    (Swayamdipta et al. 2020, Dataset Cartography) and forgetting events (Toneva et al. 2019).

    Sequence-level outputs give ``p(y)``; token-level outputs give the mean ``p(y_t)`` over valid
    tokens and "correct" only if every valid token is; with both (joint NLU) the confidence is the
    average of the two and correct means the whole utterance is (exact match).
    """
    parts_conf, parts_correct = [], []
    if inputs.logits is not None and inputs.labels is not None and not inputs.labels.is_floating_point():
        probs, onehot, valid = _probs_and_onehot(inputs.logits, inputs.labels)
        parts_conf.append(torch.where(valid, (probs * onehot).sum(-1), torch.ones_like(probs[..., 0])))
        parts_correct.append((probs.argmax(-1) == inputs.labels) | ~valid)
    if inputs.token_logits is not None and inputs.token_labels is not None:
        # Read position by position in chunks (gold_token_stats): no (B, T, V) softmax or one-hot,
        # which for a causal LM's vocabulary would cost gigabytes.
        labels = inputs.token_labels
        rows, _, logp, is_argmax = gold_token_stats(inputs.token_logits, labels)
        batch = labels.shape[0]
        conf_sum = torch.zeros(batch, dtype=torch.float32, device=labels.device).index_add_(0, rows, logp.exp())
        wrong = torch.zeros(batch, dtype=torch.int64, device=labels.device).index_add_(0, rows, (~is_argmax).long())
        count = (labels != IGNORE_INDEX).sum(-1).clamp(min=1)
        parts_conf.append(conf_sum / count)
        parts_correct.append(wrong == 0)
    elif inputs.token_logprobs is not None and inputs.token_is_argmax is not None and inputs.token_labels is not None:
        valid = inputs.token_labels != IGNORE_INDEX
        count = valid.sum(-1).clamp(min=1)
        parts_conf.append((inputs.token_logprobs.float().exp() * valid).sum(-1) / count)
        parts_correct.append((inputs.token_is_argmax | ~valid).all(-1))
    if not parts_conf:
        raise ValueError("training dynamics need logits+labels, token_logits+token_labels or "
                         "token_logprobs+token_is_argmax+token_labels")
    confidence = torch.stack(parts_conf).mean(0)
    correct = torch.stack(parts_correct).all(0)
    return confidence, correct
