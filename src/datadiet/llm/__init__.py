"""Causal LMs for P3, one module per concern:

- task: :mod:`~datadiet.llm.actions` (solutions split into actions) and
  :mod:`~datadiet.llm.tokenization` ((prompt, solution) tokenization with action ids, collation);
- data: :mod:`~datadiet.llm.gsm8k` (the GSM8K reader, prompt and answer matching);
- model loading: :mod:`~datadiet.llm.models` (SmolLM2-135M);
- forward passes: :mod:`~datadiet.llm.scoring` (P3's scoring pass) and
  :mod:`~datadiet.llm.evaluation` (test NLL, greedy generation, GSM8K's metrics), both through the
  library's eval-mode forward (:func:`datadiet.scoring_pass.eval_forward`).

Typical use (plain PyTorch)::

    from datadiet.llm import CausalLMCollator, load_smollm2, read_gsm8k, score_policy, tokenize_gsm8k
    from datadiet.select.self_paced import select_p3

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
from datadiet.llm.evaluation import evaluate_gsm8k, generate_greedy, mean_token_nll
from datadiet.llm.gsm8k import (
    GSM8K_PROMPT,
    answers_match,
    extract_final_number,
    gsm8k_prompt,
    gsm8k_segmenter,
    read_gsm8k,
    tokenize_gsm8k,
)
from datadiet.llm.models import datadiet_cache_dir, load_smollm2, smollm2_package_dir
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
    "GSM8K_PROMPT",
    "MODEL_INPUT_KEYS",
    "CausalLMCollator",
    "PolicyScores",
    "TokenChunks",
    "answers_match",
    "assign_tokens_to_actions",
    "causal_lm_score_inputs",
    "chunks",
    "datadiet_cache_dir",
    "evaluate_gsm8k",
    "extract_final_number",
    "generate_greedy",
    "get_segmenter",
    "gsm8k_prompt",
    "gsm8k_segmenter",
    "lines",
    "load_smollm2",
    "mean_token_nll",
    "model_inputs",
    "read_gsm8k",
    "score_policy",
    "segment_actions",
    "sentences",
    "smollm2_package_dir",
    "token_lengths",
    "tokenize_gsm8k",
    "tokenize_pair",
    "tokenize_pairs",
]
