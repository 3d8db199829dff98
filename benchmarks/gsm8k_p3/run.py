"""P3 vs random vs full data: fine-tuning SmolLM2-135M-Instruct on a GSM8K subset, on CPU.

Every run fine-tunes a fresh copy of the model with the library's ``DataDietTrainer`` (the real
``transformers`` Trainer: AdamW, constant lr, grad clip 1.0) on the same train pool, batch size,
epochs and seed; only the diet differs:

- ``full``: ``DataDiet.full()``, every pool example, every epoch;
- ``random``: ``DataDiet.random(keep, dynamic=True, warmup_epochs=0)``, a fresh uniform random
  ``keep * pool`` examples each epoch;
- ``p3``: ``DataDiet.p3(budget=keep, rescore="all")``, the authors' protocol: each epoch, score the
  whole pool with the current model (policy-driven difficulty and mean-pooled last hidden states),
  then self-paced eligibility (percentile 50 -> 95) and a DPP of ``keep * pool`` examples;
- ``p3_free``: ``DataDiet.p3(budget=keep)`` (``rescore="stale"``, the library's default): the
  examples trained last epoch keep the difficulty and features their training forward gave; a pass
  scores the never-scored examples and at most ``--rescore-fraction`` of the pool among the stale ones.
  With both P3 runs, the summary gives the overlap of their per-epoch selections.

Time is the wall-clock of ``trainer.train()`` per method: training steps + scoring passes +
selection (evaluation excluded and reported apart), as ratios to ``full``. Metrics on a fixed
test subset (the first ``--test`` rows of GSM8K test): mean NLL per solution token
(teacher-forced) and exact match of the final number with greedy decoding. A base-model
evaluation is included as reference.

    python benchmarks/gsm8k_p3/run.py     # about 45 min a seed on one free core (1 torch thread)
    python benchmarks/gsm8k_p3/run.py --pool 32 --test 8 --epochs 1 --max-new-tokens 32 --out /tmp/p3_smoke

Writes ``results.json`` and ``results.md`` into ``--out`` (default: next to this file), after
every run, so an interrupted benchmark keeps what it finished.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from datasets import Dataset
from transformers import TrainingArguments

from datadiet import DataDiet, DataDietTrainer
from datadiet.llm import CausalLMCollator, evaluate_gsm8k, load_smollm2, read_gsm8k, tokenize_gsm8k

HERE = Path(__file__).resolve().parent
logger = logging.getLogger("gsm8k_p3")


def build_pool(tokenizer, args):
    """A fixed random sample (seed ``--data-seed``) of GSM8K train rows that fit ``--max-length``."""
    rows = read_gsm8k("train")
    order = np.random.default_rng(args.data_seed).permutation(len(rows))
    pool_rows, pool_examples = [], []
    for i in order:
        ex = tokenize_gsm8k(tokenizer, [rows[i]])[0]
        if len(ex["input_ids"]) <= args.max_length:  # keep whole solutions: the final answer is never cut
            pool_rows.append(rows[i])
            pool_examples.append(ex)
        if len(pool_rows) == args.pool:
            break
    return pool_rows, pool_examples


def make_diet(method: str, seed: int, args) -> DataDiet:
    """The library preset of each method; no warm-up, so all three start from the same model."""
    if method == "full":
        return DataDiet.full(seed=seed, progress=False)
    if method == "random":
        return DataDiet.random(keep=args.keep, dynamic=True, warmup_epochs=0, seed=seed, progress=False)
    rescore = {"rescore": "all"} if method == "p3" else {"rescore": "stale", "rescore_fraction": args.rescore_fraction}
    return DataDiet.p3(budget=args.keep, start=args.p_start, end=args.p_end, seed=seed,
                       scoring_batch_size=args.score_batch_size, progress=False, **rescore)


def evaluate(model, tokenizer, test_rows, args) -> dict:
    start = time.perf_counter()
    res = evaluate_gsm8k(model, tokenizer, test_rows, batch_size=args.eval_batch_size,
                         max_new_tokens=args.max_new_tokens)
    res["seconds"] = time.perf_counter() - start
    return res


def run_method(method, seed, pool_examples, test_rows, args) -> dict:
    """Fine-tune a fresh SmolLM2 with ``DataDietTrainer`` and the method's diet; time it and evaluate."""
    model, tokenizer = load_smollm2()
    # The diet indexes examples by position; the GSM8K row ids stay in the results.
    train = Dataset.from_list([{**ex, "example_id": i} for i, ex in enumerate(pool_examples)])
    diet = make_diet(method, seed, args)
    with tempfile.TemporaryDirectory() as tmp:
        targs = TrainingArguments(
            output_dir=tmp, num_train_epochs=args.epochs, per_device_train_batch_size=args.batch_size,
            learning_rate=args.lr, lr_scheduler_type="constant", weight_decay=0.0, max_grad_norm=1.0,
            seed=seed, logging_strategy="epoch", save_strategy="no", report_to=[], disable_tqdm=True,
            use_cpu=True, dataloader_num_workers=0)
        trainer = DataDietTrainer(diet=diet, model=model, args=targs, train_dataset=train,
                                  data_collator=CausalLMCollator(tokenizer))
        start = time.perf_counter()
        trainer.train()
        total = time.perf_counter() - start
    summary = diet.summary()
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    losses += [float("nan")] * (len(diet.log) - len(losses))  # an epoch the Trainer logged no loss for
    kept = diet.kept_matrix()
    epochs = []
    for record, loss, mask in zip(diet.log, losses, kept):
        info = {"epoch": record["epoch"], "train_loss": loss, "kept": record["kept"], "scored": record["scored"],
                "scoring_seconds": record["scoring_seconds"], "selection_seconds": record["selection_seconds"],
                "example_ids": [int(pool_examples[i]["example_id"]) for i in np.flatnonzero(mask)]}
        if method.startswith("p3"):
            info.update(percentile=record["p3_percentile"], eligible=record["p3_eligible"],
                        difficulty_mean=record["difficulty_mean"],
                        selected_difficulty_mean=record["selected_difficulty_mean"],
                        infinite=record["unscorable"])
        epochs.append(info)
        logger.info("%s seed %d epoch %d: kept %d, loss %.4f", method, seed, record["epoch"], record["kept"], loss)
    ev = evaluate(trainer.model, tokenizer, test_rows, args)
    score_s, select_s = summary["scoring_seconds"], summary["selection_seconds"]
    return {
        "method": method, "seed": seed, "diet": diet.strategy.to_dict(),
        "budget_per_epoch": int(round(args.keep * len(pool_examples))) if method != "full" else len(pool_examples),
        "steps": trainer.state.global_step, "load_avg_1min_at_end": os.getloadavg()[0],
        "seconds": {"train": total - score_s - select_s, "score": score_s, "select": select_s, "total": total,
                    "eval": ev["seconds"], "observe": summary["observe_seconds"]},
        "test_nll": ev["nll"], "test_exact_match": ev["exact_match"], "epochs": epochs,
        "predictions": ev.get("predictions", []),
    }


def _em(em, n) -> str:
    return "" if em is None else f"{em:.1%} ({round(em * n)}/{n})"


def summarize(result: dict) -> str:
    runs = result["runs"]
    full_total = np.mean([r["seconds"]["total"] for r in runs if r["method"] == "full"] or [np.nan])
    cfg = result["config"]
    lines = [
        "# GSM8K: P3 vs random vs full data (SmolLM2-135M-Instruct, CPU)",
        "",
        f"Command: `{result['command']}`",
        "",
        f"Pool: {cfg['pool']} GSM8K train examples (random sample, data seed {cfg['data_seed']}, at most "
        f"{cfg['max_length']} tokens); `DataDietTrainer` (the transformers Trainer), {cfg['epochs']} epochs, batch "
        f"{cfg['batch_size']}, AdamW lr {cfg['lr']} (constant), grad clip 1.0; P3 and random keep {cfg['keep']:.0%} of the pool per epoch; P3 percentile "
        f"{cfg['p_start']} -> {cfg['p_end']}. Test: the first {cfg['test']} GSM8K test questions; NLL per solution "
        f"token (teacher-forced, EOS included) and exact match of the final number with greedy decoding "
        f"(at most {cfg['max_new_tokens']} new tokens). Time = training + scoring + selection (eval excluded); "
        "ratio to full data in the same run.",
        "",
        "| method | seed | examples/epoch | steps | test NLL | exact match | train s | score s | select s | total s | "
        "scoring share | time / full |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = result.get("base")
    if base:
        em = base["exact_match"]
        lines.append(f"| base model (no fine-tuning) | - | - | 0 | {base['nll']:.4f} | {_em(em, cfg['test'])} "
                     "| - | - | - | - | - | - |")
    for r in runs:
        s = r["seconds"]
        em = r["test_exact_match"]
        ratio = "-" if np.isnan(full_total) else f"{s['total'] / full_total:.2f}"
        lines.append(
            f"| {r['method']} | {r['seed']} | {r['budget_per_epoch']} | {r['steps']} | {r['test_nll']:.4f} | "
            f"{_em(em, cfg['test'])} | {s['train']:.0f} | {s['score']:.0f} | {s['select']:.2f} | "
            f"{s['total']:.0f} | {s['score'] / s['total']:.1%} | {ratio} |"
        )
    p3 = [r for r in runs if r["method"].startswith("p3")]
    if p3:
        lines += ["", "P3 per epoch (first P3 run): percentile, eligible examples, mean difficulty of the pool and of "
                  "the selection.", "", "| epoch | percentile | eligible | pool mean d | selected mean d | train loss |",
                  "|---:|---:|---:|---:|---:|---:|"]
        for e in p3[0]["epochs"]:
            lines.append(f"| {e['epoch']} | {e['percentile']:.1f} | {e['eligible']} | {e['difficulty_mean']:.4f} | "
                         f"{e['selected_difficulty_mean']:.4f} | {e['train_loss']:.4f} |")
        lines += selection_overlap(runs)
    lines += ["", *(f"- {note}" for note in result.get("notes", []))]
    return "\n".join(lines) + "\n"


def selection_overlap(runs: list) -> list:
    """Rows of a table comparing the first ``p3`` and ``p3_free`` runs of each seed, epoch by epoch:
    examples scored by a pass and the shared fraction of the selections (|A & B| / |A|)."""
    lines = []
    for seed in sorted({r["seed"] for r in runs}):
        pair = {r["method"]: r for r in runs if r["seed"] == seed and r["method"] in ("p3", "p3_free")}
        if len(pair) < 2:
            continue
        lines += ["", f"P3 full pass every epoch (`p3`) vs free scores (`p3_free`), seed {seed}: examples scored by a pass, "
                  "the selections' overlap (shared / budget), mean pool difficulty.", "",
                  "| epoch | scored p3 | scored p3_free | overlap | pool mean d p3 | pool mean d p3_free |",
                  "|---:|---:|---:|---:|---:|---:|"]
        for a, b in zip(pair["p3"]["epochs"], pair["p3_free"]["epochs"]):
            shared = len(set(a["example_ids"]) & set(b["example_ids"])) / max(len(a["example_ids"]), 1)
            lines.append(f"| {a['epoch']} | {a['scored']} | {b['scored']} | {shared:.0%} | {a['difficulty_mean']:.4f} | "
                         f"{b['difficulty_mean']:.4f} |")
    return lines


def save(result: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "results.md").write_text(summarize(result))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pool", type=int, default=160, help="train examples in the pool")
    ap.add_argument("--keep", type=float, default=0.5, help="fraction of the pool P3 and random train on per epoch")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--max-length", type=int, default=192, help="pool examples longer than this are skipped")
    ap.add_argument("--test", type=int, default=40, help="first N GSM8K test rows")
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--score-batch-size", type=int, default=8)
    ap.add_argument("--eval-batch-size", type=int, default=8)
    ap.add_argument("--p-start", type=float, default=50.0)
    ap.add_argument("--p-end", type=float, default=95.0)
    ap.add_argument("--rescore-fraction", type=float, default=0.1,
                    help="p3_free: at most this fraction of the pool is re-scored by a pass per epoch (stale ones)")
    ap.add_argument("--methods", nargs="+", default=["p3", "random", "full"],
                    choices=["full", "random", "p3", "p3_free"],
                    help="run in this order (results are saved after each)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--no-base-eval", action="store_true", help="skip evaluating the model before fine-tuning")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads. 1 by default: on a 2-core machine shared with other jobs, two "
                         "threads spin at every op's barrier and made decoding 10x and training 2x slower")
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", force=True)

    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__, Path.cwd()), *sys.argv[1:]])
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    import transformers

    result = {
        "command": command,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "numpy": np.__version__, "datadiet_commit": commit},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()},
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "base": None,
        "runs": [],
        "notes": [
            "One seed per method unless more are listed: with a pool this small, differences smaller than the "
            "seed-to-seed spread are ties (docs/methods.md, section 6). Timings come from a 2-core machine that other jobs "
            "may share, with `--threads` torch threads; the 1-minute load average at the end of each run is in "
            "results.json. Compare time ratios within one run only.",
        ],
    }
    model, tokenizer = load_smollm2()
    pool_rows, pool_examples = build_pool(tokenizer, args)
    test_rows = read_gsm8k("test", limit=args.test)
    result["pool_example_ids"] = [r["example_id"] for r in pool_rows]
    result["pool_tokens_mean"] = float(np.mean([len(e["input_ids"]) for e in pool_examples]))
    logger.info("pool: %d examples, %.0f tokens on average", len(pool_examples), result["pool_tokens_mean"])
    if not args.no_base_eval:
        ev = evaluate(model, tokenizer, test_rows, args)
        result["base"] = {"nll": ev["nll"], "exact_match": ev["exact_match"], "seconds": ev["seconds"]}
        logger.info("base model: NLL %.4f, EM %s", ev["nll"], ev["exact_match"])
        save(result, args.out)
    del model
    for seed in args.seeds:
        for method in args.methods:
            run = run_method(method, seed, pool_examples, test_rows, args)
            result["runs"].append(run)
            logger.info("%s seed %d: NLL %.4f EM %s, %.0f s", method, seed, run["test_nll"], run["test_exact_match"],
                        run["seconds"]["total"])
            save(result, args.out)
    result["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    save(result, args.out)


if __name__ == "__main__":
    main()
