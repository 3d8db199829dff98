"""What one GSM8K SFT run costs on this machine, measured before sizing a protocol (issue 26).

SmolLM2-135M-Instruct with LoRA (peft, r 16, every linear layer) through ``DataDietSFTTrainer``
on a handful of GSM8K examples, ``--threads`` torch threads (1 by default). Measures:

- the token lengths of the whole train split (prompt + solution + EOS, as the benchmark tokenizes
  them) and the max length that keeps a given share of them whole;
- seconds per example trained (the median optimizer step of a full-data run, over its batch size);
- seconds per example scored (the library's P3 scoring pass, ``datadiet.llm.score_policy``);
- seconds per test-NLL example and per greedy-decoded question (``datadiet.toolkit.llm.evaluate_gsm8k``).

Writes ``cost.json`` into ``--out`` and prints it.

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 python benchmarks/gsm8k_p3/measure_cost.py --out benchmarks/gsm8k_p3/results/cost
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from transformers import TrainerCallback

from datadiet import DataDiet
from datadiet.llm import CausalLMCollator, score_policy
from datadiet.toolkit.llm import evaluate_gsm8k, load_smollm2, read_gsm8k, tokenize_gsm8k

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from methods import LoraSettings
    from sft import sft_dataset, sft_trainer
else:
    from .methods import LoraSettings
    from .sft import sft_dataset, sft_trainer


class StepTimes(TrainerCallback):
    """Wall-clock seconds of every optimizer step."""

    def __init__(self):
        self.seconds: list[float] = []
        self._start = None

    def on_step_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.seconds.append(time.perf_counter() - self._start)


def length_stats(tokenizer, keep_shares=(0.95, 0.98, 0.99)) -> dict:
    """Token lengths of every GSM8K train example and the max length keeping each share whole."""
    rows = read_gsm8k("train")
    lengths = np.array([len(e["input_ids"]) for e in tokenize_gsm8k(tokenizer, rows)])
    solution = np.array([len(tokenizer(r["solution"], add_special_tokens=False)["input_ids"]) + 1 for r in rows])
    return {"n": len(rows), "mean": float(lengths.mean()), "median": float(np.median(lengths)),
            "max": int(lengths.max()), "solution_mean": float(solution.mean()),
            "solution_p99": float(np.percentile(solution, 99)),
            "max_length_for_share": {f"{s:g}": int(np.ceil(np.percentile(lengths, 100 * s))) for s in keep_shares},
            "share_within": {str(m): float((lengths <= m).mean()) for m in (192, 224, 256, 320)}}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=int, default=32, help="examples trained (full data, one epoch)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--score", type=int, default=16)
    ap.add_argument("--nll", type=int, default=16)
    ap.add_argument("--decode", type=int, default=8)
    ap.add_argument("--eval-batch-size", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--group-by-length", action="store_true", help="batches of similar lengths (less padding)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, tokenizer = load_smollm2()
    cost = {"threads": torch.get_num_threads(), "group_by_length": args.group_by_length, "load_avg_start": os.getloadavg()[0], "lengths": length_stats(tokenizer)}

    rows = [r for r in read_gsm8k("train", limit=4 * args.train)
            if len(tokenize_gsm8k(tokenizer, [r])[0]["input_ids"]) <= args.max_length][: args.train]
    times = StepTimes()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = sft_trainer(model, tokenizer, sft_dataset(rows), DataDiet.full(seed=0, progress=False), tmp,
                              epochs=1, batch_size=args.batch_size, lr=2e-4, max_length=args.max_length, seed=0,
                              peft_config=LoraSettings().config(), group_by_length=args.group_by_length,
                              callbacks=[times])
        start = time.perf_counter()
        trainer.train()
        train_total = time.perf_counter() - start
    steps = np.array(times.seconds[1:] or times.seconds)  # the first step pays one-off costs
    tokens = np.mean([len(ex) for ex in trainer.train_dataset["input_ids"]])
    cost["train"] = {"examples": len(rows), "tokens_mean": float(tokens), "steps_s": times.seconds,
                     "train_total_s": train_total, "per_example_s": float(np.median(steps)) / args.batch_size}
    peft_model = trainer.model

    examples = tokenize_gsm8k(tokenizer, rows[: args.score])
    scored = score_policy(peft_model, examples, CausalLMCollator(tokenizer), batch_size=args.batch_size)
    cost["score"] = {"examples": len(examples), "seconds": scored.seconds, "per_example_s": scored.seconds / len(examples)}

    test = read_gsm8k("test", limit=max(args.nll, args.decode))
    start = time.perf_counter()
    evaluate_gsm8k(peft_model, tokenizer, test[: args.nll], batch_size=args.eval_batch_size, exact_match=False)
    nll_s = time.perf_counter() - start
    cost["test_nll"] = {"examples": args.nll, "seconds": nll_s, "per_example_s": nll_s / args.nll}
    start = time.perf_counter()
    ev = evaluate_gsm8k(peft_model, tokenizer, test[: args.decode], batch_size=args.eval_batch_size,
                        max_new_tokens=args.max_new_tokens)
    decode_s = time.perf_counter() - start - cost["test_nll"]["per_example_s"] * args.decode
    cost["decode"] = {"questions": args.decode, "max_new_tokens": args.max_new_tokens, "seconds": decode_s,
                      "per_question_s": decode_s / args.decode, "exact_match": ev["exact_match"]}
    cost["load_avg_end"] = os.getloadavg()[0]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cost.json").write_text(json.dumps(cost, indent=2) + "\n")
    print(json.dumps(cost, indent=2))


if __name__ == "__main__":
    main()
