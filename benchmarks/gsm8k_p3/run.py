"""P3 vs random vs full data: fine-tuning SmolLM2-135M-Instruct on a GSM8K subset, on CPU.

Same model (fresh copy for every run), same train pool, optimizer, batch size, epochs and seed:

- ``full``: every pool example, every epoch;
- ``random``: a fresh uniform random ``keep * pool`` examples each epoch (dynamic random);
- ``p3``: each epoch, score the whole pool with the current model (policy-driven difficulty and
  mean-pooled last hidden states, :func:`datadiet.llm.score_policy`), then
  :func:`datadiet.select.self_paced.select_p3` (percentile 50 -> 95, DPP of ``keep * pool``).

Time is wall-clock per method: training steps + scoring passes + selection (evaluation excluded
and reported apart), as ratios to ``full``. Metrics on a fixed test subset (the first ``--test``
rows of GSM8K test): mean NLL per solution token (teacher-forced) and exact match of the final
number with greedy decoding. A base-model evaluation is included as reference.

This uses its own plain-PyTorch loop calling the library's functions; once ``DataDiet.p3`` and
``DataDietTrainer`` exist it should switch to them.

    nice -n 10 python benchmarks/gsm8k_p3/run.py     # ~30 min on 2 idle cores; hours on a busy machine
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
import time
from pathlib import Path

import numpy as np
import torch

from datadiet.llm import (
    CausalLMCollator,
    evaluate_gsm8k,
    load_smollm2,
    model_inputs,
    read_gsm8k,
    score_policy,
    tokenize_gsm8k,
)
from datadiet.select.self_paced import select_p3, self_paced_eligible, self_paced_percentile

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


def train_epoch(model, optimizer, examples, indices, collator, batch_size, rng) -> tuple[float, int]:
    """One pass over ``indices`` in random order; returns (mean loss, optimizer steps)."""
    model.train()
    order = rng.permutation(np.asarray(indices))
    losses = []
    for s in range(0, len(order), batch_size):
        batch = collator([examples[i] for i in order[s : s + batch_size]])
        loss = model(**model_inputs(batch)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
    return float(np.mean(losses)), len(losses)


def evaluate(model, tokenizer, test_rows, args) -> dict:
    start = time.perf_counter()
    res = evaluate_gsm8k(model, tokenizer, test_rows, batch_size=args.eval_batch_size,
                         max_new_tokens=args.max_new_tokens)
    res["seconds"] = time.perf_counter() - start
    return res


def run_method(method, seed, pool_examples, test_rows, args) -> dict:
    torch.manual_seed(seed)
    model, tokenizer = load_smollm2()
    collator = CausalLMCollator(tokenizer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    n = len(pool_examples)
    budget = n if method == "full" else int(round(args.keep * n))
    rng = np.random.default_rng(seed)
    t_train = t_score = t_select = 0.0
    steps = 0
    epochs = []
    for epoch in range(args.epochs):
        info: dict = {"epoch": epoch}
        t0 = time.perf_counter()
        if method == "full":
            indices = np.arange(n)
        elif method == "random":
            indices = np.sort(rng.choice(n, size=budget, replace=False))
        else:  # p3
            scores = score_policy(model, pool_examples, collator, batch_size=args.score_batch_size)
            t1 = time.perf_counter()
            t_score += t1 - t0
            sel = select_p3(scores.difficulty, scores.features, epoch, args.epochs, budget,
                            start=args.p_start, end=args.p_end, rng=rng)
            indices = sel.indices
            t0 = time.perf_counter()
            t_select += t0 - t1
            d = scores.difficulty
            finite = d[np.isfinite(d)]
            percentile = self_paced_percentile(epoch, args.epochs, args.p_start, args.p_end)
            info.update({
                "percentile": percentile,
                "eligible": int(len(self_paced_eligible(d, percentile))),
                "difficulty_mean": float(finite.mean()), "difficulty_min": float(finite.min()),
                "difficulty_max": float(finite.max()), "infinite": int((~np.isfinite(d)).sum()),
                "selected_difficulty_mean": float(d[indices].mean()),
                "scoring_seconds": scores.seconds,
            })
        loss, k = train_epoch(model, optimizer, pool_examples, indices, collator, args.batch_size,
                              np.random.default_rng([seed, epoch]))
        t_train += time.perf_counter() - t0
        steps += k
        info.update({"train_loss": loss, "steps": k, "kept": int(len(indices)),
                     "example_ids": [int(pool_examples[i]["example_id"]) for i in indices]})
        epochs.append(info)
        logger.info("%s seed %d epoch %d: kept %d, loss %.4f, train %.0fs score %.0fs", method, seed, epoch,
                    len(indices), loss, t_train, t_score)
    ev = evaluate(model, tokenizer, test_rows, args)
    return {
        "method": method, "seed": seed, "budget_per_epoch": budget, "steps": steps,
        "load_avg_1min_at_end": os.getloadavg()[0],
        "seconds": {"train": t_train, "score": t_score, "select": t_select, "total": t_train + t_score + t_select,
                    "eval": ev["seconds"]},
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
        f"{cfg['max_length']} tokens); {cfg['epochs']} epochs, batch {cfg['batch_size']}, AdamW lr {cfg['lr']} "
        f"(constant), grad clip 1.0; P3 and random keep {cfg['keep']:.0%} of the pool per epoch; P3 percentile "
        f"{cfg['p_start']} -> {cfg['p_end']}. Test: the first {cfg['test']} GSM8K test questions; NLL per solution "
        f"token (teacher-forced, EOS included) and exact match of the final number with greedy decoding "
        f"(at most {cfg['max_new_tokens']} new tokens). Time = training + scoring + selection (eval excluded); "
        "ratio to full data in the same run.",
        "",
        "| method | seed | examples/epoch | steps | test NLL | exact match | train s | score s | select s | total s | time / full |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = result.get("base")
    if base:
        em = base["exact_match"]
        lines.append(f"| base model (no fine-tuning) | - | - | 0 | {base['nll']:.4f} | {_em(em, cfg['test'])} "
                     "| - | - | - | - | - |")
    for r in runs:
        s = r["seconds"]
        em = r["test_exact_match"]
        ratio = "-" if np.isnan(full_total) else f"{s['total'] / full_total:.2f}"
        lines.append(
            f"| {r['method']} | {r['seed']} | {r['budget_per_epoch']} | {r['steps']} | {r['test_nll']:.4f} | "
            f"{_em(em, cfg['test'])} | {s['train']:.0f} | {s['score']:.0f} | {s['select']:.2f} | "
            f"{s['total']:.0f} | {ratio} |"
        )
    p3 = [r for r in runs if r["method"] == "p3"]
    if p3:
        lines += ["", "P3 per epoch (first P3 run): percentile, eligible examples, mean difficulty of the pool and of "
                  "the selection.", "", "| epoch | percentile | eligible | pool mean d | selected mean d | train loss |",
                  "|---:|---:|---:|---:|---:|---:|"]
        for e in p3[0]["epochs"]:
            lines.append(f"| {e['epoch']} | {e['percentile']:.1f} | {e['eligible']} | {e['difficulty_mean']:.4f} | "
                         f"{e['selected_difficulty_mean']:.4f} | {e['train_loss']:.4f} |")
    lines += ["", *(f"- {note}" for note in result.get("notes", []))]
    return "\n".join(lines) + "\n"


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
    ap.add_argument("--methods", nargs="+", default=["p3", "random", "full"], choices=["full", "random", "p3"],
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
            "seed-to-seed spread are ties (METHODS.md sec. 6). Timings come from a 2-core machine shared with other "
            "jobs, run under `nice -n 10` with one torch thread; the 1-minute load average at the end of each run "
            "is in results.json. Compare time ratios within one run only.",
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
