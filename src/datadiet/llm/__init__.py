"""Causal LMs for P3, one module per concern:

- task: :mod:`~datadiet.llm.actions` (solutions split into actions),
  :mod:`~datadiet.llm.token_actions` (actions from token ids alone, for the free scores) and
  :mod:`~datadiet.llm.tokenization` ((prompt, solution) tokenization with action ids, collation);
- forward passes: :mod:`~datadiet.llm.scoring` (P3's scoring pass, through the library's eval-mode
  forward, :func:`datadiet.scoring_pass.eval_forward`) and :mod:`~datadiet.llm.fused_head` (the
  free scores read from TRL's fused LM head).

The GSM8K reader, the packaged SmolLM2 and the test metrics (NLL, greedy generation, exact match)
are applications of these, in :mod:`datadiet.toolkit.llm`.

Typical use (plain PyTorch)::

    from datadiet.llm import CausalLMCollator, score_policy
    from datadiet.select.self_paced import select_p3
    from datadiet.toolkit.llm import load_smollm2, read_gsm8k, tokenize_gsm8k

    model, tok = load_smollm2()
    train = tokenize_gsm8k(tok, read_gsm8k("train", limit=256), max_length=256)
    scores = score_policy(model, train, CausalLMCollator(tok))          # difficulty + features
    sel = select_p3(scores.difficulty, scores.features, epoch, num_epochs, budget=128, rng=rng)
"""

from datadiet._extras import require_installed

require_installed("transformers", extra="hf", purpose="datadiet.llm")

from datadiet.llm.actions import (
    TokenChunks,
    assign_tokens_to_actions,
    chunks,
    get_segmenter,
    lines,
    segment_actions,
    sentences,
)
from datadiet.llm.scoring import PolicyScores, score_policy
from datadiet.llm.tokenization import (
    MODEL_INPUT_KEYS,
    CausalLMCollator,
    causal_lm_score_inputs,
    model_inputs,
    token_lengths,
    tokenize_pair,
    tokenize_pairs,
)

__all__ = [
    "MODEL_INPUT_KEYS",
    "CausalLMCollator",
    "PolicyScores",
    "TokenChunks",
    "assign_tokens_to_actions",
    "causal_lm_score_inputs",
    "chunks",
    "get_segmenter",
    "lines",
    "model_inputs",
    "score_policy",
    "segment_actions",
    "sentences",
    "token_lengths",
    "tokenize_pair",
    "tokenize_pairs",
]
