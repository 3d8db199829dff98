"""GSM8K and SmolLM2 for P3's examples, tests and benchmarks, on top of :mod:`datadiet.llm`:

- data: :mod:`~datadiet.toolkit.llm.gsm8k` (the GSM8K reader, prompt and answer matching);
- model loading: :mod:`~datadiet.toolkit.llm.models` (SmolLM2-135M);
- evaluation: :mod:`~datadiet.toolkit.llm.evaluation` (test NLL, greedy generation, GSM8K's
  metrics), through the library's eval-mode forward (:func:`datadiet.scoring_pass.eval_forward`).
"""

from datadiet._extras import require_installed

require_installed("transformers", extra="hf", purpose="datadiet.toolkit.llm")

from datadiet.toolkit.llm.evaluation import evaluate_gsm8k, generate_greedy, mean_token_nll
from datadiet.toolkit.llm.gsm8k import (
    GSM8K_PROMPT,
    answers_match,
    extract_final_number,
    gsm8k_prompt,
    gsm8k_segmenter,
    read_gsm8k,
    tokenize_gsm8k,
)
from datadiet.toolkit.llm.models import datadiet_cache_dir, load_smollm2, smollm2_package_dir

__all__ = [
    "GSM8K_PROMPT",
    "answers_match",
    "datadiet_cache_dir",
    "evaluate_gsm8k",
    "extract_final_number",
    "generate_greedy",
    "gsm8k_prompt",
    "gsm8k_segmenter",
    "load_smollm2",
    "mean_token_nll",
    "read_gsm8k",
    "smollm2_package_dir",
    "tokenize_gsm8k",
]
