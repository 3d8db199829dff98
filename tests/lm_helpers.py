"""Tiny causal LMs, a word-level chat tokenizer and SFT datasets in TRL's formats (offline, fast)."""

from __future__ import annotations

import numpy as np
import torch
from datasets import Dataset
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

SPECIAL = ["[UNK]", "[PAD]", "[BOS]", "[EOS]", "<|im_start|>", "<|im_end|>"]
WORDS = ["\n", ":", "=", ".", "+", "#", "user", "assistant", "system", "question", "answer"] + \
    "zero one two three four five six seven eight nine ten".split()
NUMBERS = "zero one two three four five six seven eight nine ten".split()
CHAT_TEMPLATE = (  # ChatML, with the assistant's turns marked for TRL's assistant_only_loss
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['role'] == 'assistant' %}{% generation %}{{ m['content'] }}<|im_end|>{% endgeneration %}"
    "{% else %}{{ m['content'] }}<|im_end|>{% endif %}\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


PLAIN_WORDS = ["[UNK]", "[PAD]", "[BOS]", "[EOS]", "\n", "Q", ":", "add", "a", "=", "1", "b", "2", "#", "3",
         "the", "cat", "sat", ".", "!", "It", "x", "4", "5", "6", "7"]
BOS, EOS, NL, HASH = 2, 3, 4, 13


def make_tokenizer(pad=False, eos=True):
    """A word-level fast tokenizer: words, single punctuation marks and each newline are tokens,
    spaces are dropped; the prompt gets a BOS. Offsets are exact character spans."""
    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(PLAIN_WORDS)}, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"[^\S\n]+"), "removed"),
        pre_tokenizers.Split(Regex(r"\n|\w+|[^\w\s]"), "isolated"),
    ])
    tk.post_processor = processors.TemplateProcessing(single="[BOS] $A", special_tokens=[("[BOS]", BOS)])
    kw = {"bos_token": "[BOS]", "unk_token": "[UNK]"}
    if eos:
        kw["eos_token"] = "[EOS]"
    if pad:
        kw["pad_token"] = "[PAD]"
    return PreTrainedTokenizerFast(tokenizer_object=tk, **kw)


def chat_tokenizer() -> PreTrainedTokenizerFast:
    """Word-level fast tokenizer (words, punctuation, each newline a token; spaces dropped) with
    ChatML-style special tokens and chat template."""
    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(SPECIAL + WORDS)}, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"[^\S\n]+"), "removed"),
        pre_tokenizers.Split(Regex(r"\n|\w+|[^\w\s]"), "isolated"),
    ])
    tk.add_special_tokens(SPECIAL)
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]", pad_token="[PAD]", bos_token="[BOS]",
                                  eos_token="[EOS]")
    tok.chat_template = CHAT_TEMPLATE
    return tok


def tiny_causal_lm(vocab_size: int, *, hidden_size: int = 16, layers: int = 1, heads: int = 2, kv_heads: int = 2,
                   max_positions: int = 64, seed: int = 0, **config) -> LlamaForCausalLM:
    """The tests' one tiny causal LM: a random Llama (MLP width twice the hidden size), seeded."""
    torch.manual_seed(seed)  # model init only
    return LlamaForCausalLM(LlamaConfig(vocab_size=vocab_size, hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                                        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
                                        max_position_embeddings=max_positions, **config))


def tiny_llama(tok, seed: int = 0, vocab_size: int | None = None) -> LlamaForCausalLM:
    """:func:`tiny_causal_lm` for ``tok``'s vocabulary and special tokens."""
    return tiny_causal_lm(vocab_size or len(tok), max_positions=128, seed=seed, pad_token_id=tok.pad_token_id,
                          eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id)


def prompt_completion_rows(n: int = 30, seed: int = 0) -> list[dict]:
    """Questions of 3 number words; answers of 1-3 lines (steps) of 1-3 number words."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        steps = [" ".join(rng.choice(NUMBERS, size=int(rng.integers(1, 4)))) for _ in range(int(rng.integers(1, 4)))]
        rows.append({"prompt": "question : " + " ".join(rng.choice(NUMBERS, size=3)) + "\n",
                     "completion": "\n".join(steps)})
    return rows


def sft_dataset(kind: str, n: int = 30, seed: int = 0) -> Dataset:
    """``text`` (language modeling), ``prompt_completion``, ``messages`` (conversational) or
    ``conversational_prompt_completion``."""
    rows = prompt_completion_rows(n, seed)
    if kind == "prompt_completion":
        return Dataset.from_list(rows)
    if kind == "text":
        return Dataset.from_list([{"text": r["prompt"] + r["completion"]} for r in rows])
    if kind == "messages":
        return Dataset.from_list([{"messages": [{"role": "user", "content": r["prompt"].strip()},
                                                {"role": "assistant", "content": r["completion"]}]} for r in rows])
    if kind == "conversational_prompt_completion":
        return Dataset.from_list([{"prompt": [{"role": "user", "content": r["prompt"].strip()}],
                                   "completion": [{"role": "assistant", "content": r["completion"]}]} for r in rows])
    raise ValueError(kind)


def require_fused_head():
    """Skip where the installed TRL has no fused LM head (its loss then comes from full logits,
    which the trainer reads instead; the tests of the whole trainer cover that path)."""
    import pytest
    import trl.trainer.utils

    if not hasattr(trl.trainer.utils, "add_fused_lm_head"):
        pytest.skip(f"trl {trl.__version__} computes the SFT loss from full logits: no fused LM head")


def sft_args(out, **kw):
    from trl import SFTConfig

    base = dict(output_dir=str(out), num_train_epochs=3, per_device_train_batch_size=4, learning_rate=1e-2,
                logging_strategy="epoch", save_strategy="no", report_to=[], disable_tqdm=True, use_cpu=True, bf16=False,
                gradient_checkpointing=False, max_length=64, seed=0, dataset_num_proc=None)
    base.update(kw)
    return SFTConfig(**base)
