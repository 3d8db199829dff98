"""GSM8K: P3 vs the default diet vs random vs full data, fine-tuning SmolLM2-135M-Instruct (all
weights or LoRA), over several seeds, on a CPU or a GPU.

Every run fine-tunes a fresh copy of the model on the same train pool, batch size, epochs and seed;
only the diet differs. ``--trainer hf`` (the default) trains with the library's ``DataDietTrainer``
(the real ``transformers`` Trainer: AdamW, constant lr, grad clip 1.0) on datadiet's own
tokenization and collator; ``--trainer sft`` trains as a TRL user writes it (``sft.py``): a
prompt/completion dataset, ``DataDietSFTTrainer`` with TRL's tokenization, collator and
completion-only loss, LoRA through ``peft_config=``, TRL's linear lr decay over the steps the diet
plans. The methods (``--methods``, see ``methods.py``):

- ``full``: every pool example, every epoch (the reference of every ratio);
- ``random``: a fresh uniform random ``keep * pool`` examples each epoch;
- ``default``: the library's ``DataDiet(keep)``, the EL2N-style diet of the encoder benchmarks;
- ``p3``: P3 as the authors' code runs it, a scoring pass over the whole pool every epoch;
- ``p3_free``: the library's ``DataDiet.p3(budget)``: the same rules, with the trained examples'
  difficulty and features taken from their training forward;
- ``p3_cold``: ``p3_free`` with ``cold_start="random"``: the first epoch trains a random budget
  instead of scoring the whole pool first. With ``p3`` and a cheaper P3 run the report gives the
  overlap of their per-epoch selections.

``NAME@KEEP`` runs a method at another kept fraction; ``random@time=p3_free``,
``default@time=p3_free`` and ``full@time=p3_free`` (full data for fewer epochs, the last one
fractional) are fitted, seed by seed, to the time ratio the ``p3_free`` run of the same seed
measured: the comparison at equal time beside the one at equal example budget.

Time is the wall-clock of ``trainer.train()``: training steps + scoring passes + selection
(evaluation excluded and reported apart), as a ratio to the full-data run of the same seed; the
tokens trained on are reported beside it. Metrics on a fixed test subset (the first ``--test`` rows
of GSM8K test): mean NLL per solution token (teacher-forced) and exact match of the final number
with batched greedy decoding (on the first ``--exact-match`` of them). A base-model evaluation is
included as reference.

    # the issue's protocol: pool 1,000, 250 test questions, 3 seeds, all weights and LoRA
    python benchmarks/gsm8k_p3/run.py --out benchmarks/gsm8k_p3/results/full-ft
    python benchmarks/gsm8k_p3/run.py --finetune lora --out benchmarks/gsm8k_p3/results/lora
    # on a GPU, the whole split
    python benchmarks/gsm8k_p3/run.py --pool 7473 --test 1319 --bf16 --eval-batch-size 64 --out ...
    # a smoke run (minutes on a CPU)
    python benchmarks/gsm8k_p3/run.py --pool 24 --test 4 --epochs 2 --max-new-tokens 16 --seeds 0 --out /tmp/p3_smoke

Writes ``results.json``, ``results.md`` and ``frontier.png`` into ``--out`` after every run; a
benchmark started again with the same settings skips the runs already there (``--fresh`` starts
over), so a killed benchmark loses at most the run in progress.
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
import re
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from datasets import Dataset
from transformers import TrainerCallback, TrainingArguments, set_seed
from transformers.trainer_utils import get_last_checkpoint

from datadiet import DataDietTrainer
from datadiet.llm import CausalLMCollator
from datadiet.toolkit.llm import evaluate_gsm8k, load_smollm2, read_gsm8k, tokenize_gsm8k
from datadiet.planning import plan_run

if __package__ in (None, ""):  # run as a script: python benchmarks/gsm8k_p3/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from methods import METHODS, LoraSettings, MethodSpec, fewer_epochs
    from report import save
    from sft import length_grouping, sft_dataset, sft_trainer
else:
    from .methods import METHODS, LoraSettings, MethodSpec, fewer_epochs
    from .report import save
    from .sft import length_grouping, sft_dataset, sft_trainer

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


def evaluate(model, tokenizer, test_rows, args) -> dict:
    """Test NLL on every test row and greedy exact match (batched generation) on the first
    ``--exact-match`` of them, timed; the NLL is token-weighted over both parts."""
    start = time.perf_counter()
    kw = dict(batch_size=args.eval_batch_size, autocast=torch.bfloat16 if args.bf16 else None)
    n_em = len(test_rows) if args.exact_match is None else min(args.exact_match, len(test_rows))
    res = evaluate_gsm8k(model, tokenizer, test_rows[:n_em], max_new_tokens=args.max_new_tokens, **kw)
    if n_em < len(test_rows):
        rest = evaluate_gsm8k(model, tokenizer, test_rows[n_em:], exact_match=False, **kw)
        tokens = res["nll_tokens"] + rest["nll_tokens"]
        res["nll"] = (res["nll"] * res["nll_tokens"] + rest["nll"] * rest["nll_tokens"]) / tokens
        res["nll_tokens"], res["n"] = tokens, len(test_rows)
    res["exact_match_n"] = n_em
    res["seconds"] = time.perf_counter() - start
    return res


ELAPSED_FILE = "gsm8k_p3_elapsed.json"
"""Beside each checkpoint of a run: its training seconds up to that checkpoint."""


class ElapsedAtSave(TrainerCallback):
    """Writes into each checkpoint the run's wall and process CPU seconds so far (``before``,
    ``cpu_before``: those of the pieces before a resume), so that a run resumed from it counts the
    time spent before it and not the time lost after it (the work after the last checkpoint is done
    again). The CPU seconds (one torch thread) are what the run would take on idle cores, robust to
    other jobs beside it; None once a piece came from a checkpoint that did not record them."""

    def __init__(self, before: float = 0.0, cpu_before: float | None = 0.0) -> None:
        self.before, self.start = before, time.perf_counter()
        self.cpu_before, self.cpu_start = cpu_before, time.process_time()

    def seconds(self) -> float:
        return self.before + time.perf_counter() - self.start

    def cpu_seconds(self) -> float | None:
        return None if self.cpu_before is None else self.cpu_before + time.process_time() - self.cpu_start

    def on_save(self, args, state, control, **kwargs):
        checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if checkpoint.is_dir():  # the main process wrote it
            (checkpoint / ELAPSED_FILE).write_text(json.dumps({"seconds": self.seconds(),
                                                               "cpu_seconds": self.cpu_seconds()}))
        return control


def run_dir(out: Path, label: str, seed: int) -> Path:
    """Where a run keeps its checkpoints until it is done: ``OUT/checkpoints/LABEL-seedN``."""
    return out / "checkpoints" / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', label)}-seed{seed}"


def forget_checkpoints(out: Path, label: str, seed: int) -> None:
    """A finished run's checkpoints are removed (and the checkpoints folder once it is empty)."""
    shutil.rmtree(run_dir(out, label, seed), ignore_errors=True)
    try:
        (out / "checkpoints").rmdir()
    except OSError:
        pass  # other runs' checkpoints are still there, or there never were any


def last_checkpoint(directory: Path) -> tuple[str | None, float, float | None]:
    """The latest complete checkpoint in ``directory`` and the run's wall and CPU seconds up to it
    ((None, 0, 0) if none; CPU None where the checkpoint did not record it). A checkpoint without
    its seconds (killed while saving) does not count."""
    if not directory.is_dir():
        return None, 0.0, 0.0
    latest = get_last_checkpoint(str(directory))
    if latest is None or not (Path(latest) / ELAPSED_FILE).exists():
        return None, 0.0, 0.0
    saved = json.loads((Path(latest) / ELAPSED_FILE).read_text())
    return latest, float(saved["seconds"]), saved.get("cpu_seconds")


def hf_trainer(model, tokenizer, pool_rows, pool_examples, diet, output_dir, epochs: int, seed: int, args):
    """``DataDietTrainer`` on datadiet's own tokenization (``tokenize_gsm8k``) and collator."""
    if args.finetune == "lora":
        set_seed(seed)  # the adapters' initialisation, as the Trainer seeds everything after it
        model = LoraSettings(args.lora_r, args.lora_alpha).apply(model)
    # The diet indexes examples by position; the GSM8K row ids stay in the results.
    train = Dataset.from_list([{**ex, "example_id": i} for i, ex in enumerate(pool_examples)])
    targs = TrainingArguments(
        output_dir=output_dir, num_train_epochs=epochs, per_device_train_batch_size=args.batch_size,
        learning_rate=args.lr, lr_scheduler_type=args.lr_scheduler, weight_decay=0.0, max_grad_norm=1.0,
        seed=seed, logging_strategy="epoch", save_strategy="epoch", save_total_limit=1, report_to=[], disable_tqdm=True,
        use_cpu=args.device == "cpu", bf16=args.bf16, dataloader_num_workers=0,
        **length_grouping(TrainingArguments, args.group_by_length))
    return DataDietTrainer(diet=diet, model=model, args=targs, train_dataset=train,
                           data_collator=CausalLMCollator(tokenizer))


def trl_sft_trainer(model, tokenizer, pool_rows, pool_examples, diet, output_dir, epochs: int, seed: int, args):
    """``DataDietSFTTrainer`` on the pool as a prompt/completion dataset, LoRA via ``peft_config``."""
    set_seed(seed)  # TRL wraps the model in its adapters before the Trainer seeds anything
    peft_config = LoraSettings(args.lora_r, args.lora_alpha).config() if args.finetune == "lora" else None
    return sft_trainer(model, tokenizer, sft_dataset(pool_rows), diet, output_dir, epochs=epochs,
                       batch_size=args.batch_size, lr=args.lr, max_length=args.max_length, seed=seed,
                       peft_config=peft_config, lr_scheduler=args.lr_scheduler, group_by_length=args.group_by_length,
                       bf16=args.bf16, use_cpu=args.device == "cpu", save_strategy="epoch")


TRAINERS = {"hf": hf_trainer, "sft": trl_sft_trainer}
"""``--trainer``: how a run's trainer is built from the pool and the diet."""


def run_method(spec: MethodSpec, seed: int, pool_rows, pool_examples, test_rows, args,
               time_ratio: float | None = None) -> dict:
    """Fine-tune a fresh SmolLM2 (all weights or LoRA) with the ``--trainer`` and the method's diet
    (``time_ratio``: the time to fit for ``NAME@time=OTHER``); time it and evaluate."""
    model, tokenizer = load_smollm2()
    epochs = spec.train_epochs(args.epochs, time_ratio)
    diet = spec.diet(seed, scoring_batch_size=args.score_batch_size, rescore_fraction=args.rescore_fraction,
                     time_ratio=time_ratio, num_epochs=args.epochs)
    directory = run_dir(args.out, spec.label, seed)
    checkpoint, before, cpu_before = last_checkpoint(directory)
    if checkpoint is not None:
        logger.info("%s seed %d: resuming from %s (%.0f s trained before it)", spec.label, seed, checkpoint, before)
    trainer = TRAINERS[args.trainer](model, tokenizer, pool_rows, pool_examples, diet, str(directory), epochs, seed, args)
    # the rows as this trainer tokenized them (TRL's own tokenization for --trainer sft)
    lengths = np.array([len(ids) for ids in trainer.train_dataset["input_ids"]])
    if len(lengths) != len(pool_rows):
        raise RuntimeError(f"the trainer prepared {len(lengths)} rows from a pool of {len(pool_rows)}")
    clock = ElapsedAtSave(before, cpu_before)
    trainer.add_callback(clock)
    trainer.train(resume_from_checkpoint=checkpoint)
    total, cpu_total = clock.seconds(), clock.cpu_seconds()
    summary = diet.summary()
    plan = plan_run(diet.strategy, diet.schedule, diet.num_examples, free_scores=diet.training_records_scores())
    losses = epoch_losses(trainer.state.log_history, len(diet.log))
    kept = diet.kept_matrix()
    epochs_info = []
    for record, loss, mask in zip(diet.log, losses, kept):
        info = {"epoch": record["epoch"], "train_loss": loss, "kept": record["kept"], "scored": record["scored"],
                "scoring_seconds": record["scoring_seconds"], "selection_seconds": record["selection_seconds"],
                "example_ids": [int(pool_rows[i]["example_id"]) for i in np.flatnonzero(mask)]}
        if spec.name.startswith("p3"):
            info.update(percentile=record.get("p3_percentile"), eligible=record.get("p3_eligible"),
                        difficulty_mean=record.get("difficulty_mean"),  # absent in a random first epoch
                        selected_difficulty_mean=record.get("selected_difficulty_mean"),
                        infinite=record.get("unscorable"))
        epochs_info.append(info)
        logger.info("%s seed %d epoch %d: kept %d, loss %.4f", spec.label, seed, record["epoch"], record["kept"], loss)
    ev = evaluate(trainer.model, tokenizer, test_rows, args)
    score_s, select_s = summary["scoring_seconds"], summary["selection_seconds"]
    fewer = fewer_epochs(time_ratio, args.epochs) if spec.name == "full" and spec.time_of else None
    return {
        "method": spec.label, "seed": seed, "keep": spec.keep, "matched_time_ratio": time_ratio,
        "diet": diet.strategy.to_dict(), "train_epochs": epochs,
        "fewer_epochs": None if fewer is None else {"whole": fewer[0], "last_fraction": fewer[1]},
        "budget_per_epoch": int(np.median(kept.sum(1))) if spec.name != "full" else len(pool_examples),
        "max_trained_length": int(lengths.max()),
        "steps": trainer.state.global_step, "load_avg_1min_at_end": os.getloadavg()[0],
        "trained_tokens": int((kept.astype(np.int64) @ lengths).sum()),
        # the plan's ratio is over this run's own epochs; full@time= runs fewer than the protocol's
        "predicted_time_ratio": plan.predicted_time_ratio * epochs / args.epochs, "plan_exact": plan.exact,
        "scored_examples": summary["scored_examples"],
        "seconds": {"train": total - score_s - select_s, "score": score_s, "select": select_s, "total": total,
                    "cpu_total": cpu_total, "eval": ev["seconds"], "observe": summary["observe_seconds"]},
        "test_nll": ev["nll"], "test_exact_match": ev["exact_match"], "exact_match_n": ev["exact_match_n"],
        "epochs": epochs_info,
        "predictions": ev.get("predictions", []),
        "resumed": checkpoint is not None,
    }


def epoch_losses(log_history: list[dict], num_epochs: int) -> list[float]:
    """The mean training loss the Trainer logged at the end of each epoch (NaN where it logged none)."""
    losses = [float("nan")] * num_epochs
    for entry in log_history:
        if "loss" in entry and "epoch" in entry:
            e = int(round(entry["epoch"])) - 1
            if 0 <= e < num_epochs:
                losses[e] = float(entry["loss"])
    return losses


def matched_time_ratio(runs: list[dict], label: str, seed: int) -> float:
    """The time ratio to full data of the ``label`` run of ``seed`` (both in ``runs``)."""
    by = {(r["method"], r["seed"]): r for r in runs}
    if (label, seed) not in by or ("full", seed) not in by:
        raise SystemExit(f"@time={label} needs the {label} and full runs of seed {seed} first: list them earlier "
                         "in --methods")
    return by[(label, seed)]["seconds"]["total"] / by[("full", seed)]["seconds"]["total"]


RUN_SETTINGS = ("pool", "keep", "epochs", "batch_size", "lr", "max_length", "test", "max_new_tokens", "data_seed",
                "finetune", "lora_r", "lora_alpha", "rescore_fraction", "bf16", "trainer", "lr_scheduler",
                "group_by_length", "exact_match")
"""The settings every run of one results file shares; a resumed benchmark must not change them."""

LEGACY_SETTINGS = {"trainer": "hf", "lr_scheduler": "constant", "group_by_length": False, "exact_match": None}
"""What the settings added later were in results files written before them."""


def resume(out: Path, config: dict) -> dict | None:
    """The results already in ``out`` when they were made with the same run settings (None when
    there are none); a different setting stops the benchmark rather than mixing two protocols."""
    path = out / "results.json"
    if not path.exists():
        return None
    old = json.loads(path.read_text())
    before = {k: old["config"].get(k, LEGACY_SETTINGS.get(k)) for k in RUN_SETTINGS}
    changed = {k: (before[k], config.get(k)) for k in RUN_SETTINGS if before[k] != config.get(k)}
    if changed:
        raise SystemExit(f"{path} holds runs made with other settings ({', '.join(f'{k}: {a} -> {b}' for k, (a, b) in changed.items())}); "
                         "pass another --out, or --fresh to overwrite it")
    return old


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pool", type=int, default=1000, help="train examples in the pool")
    ap.add_argument("--keep", type=float, default=0.5, help="fraction of the pool the pruned methods train on per epoch")
    ap.add_argument("--epochs", type=int, default=5, help="5: the authors' percentile schedule is 20, 40, ..., 100")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--trainer", choices=sorted(TRAINERS), default="hf",
                    help="hf: DataDietTrainer on datadiet's tokenization and collator; sft: DataDietSFTTrainer (TRL) "
                         "on a prompt/completion dataset, LoRA through peft_config=")
    ap.add_argument("--lr", type=float, default=None,
                    help="AdamW learning rate; default 5e-5 for all weights, 2e-4 for LoRA")
    ap.add_argument("--lr-scheduler", choices=["constant", "linear"], default=None,
                    help="the lr schedule over the steps the diet plans; default constant (hf), linear (sft: TRL's)")
    ap.add_argument("--group-by-length", action="store_true",
                    help="batches of examples of similar length (the Trainer's own option): less padding")
    ap.add_argument("--finetune", choices=["full", "lora"], default="full",
                    help="train all weights, or LoRA adapters on every linear layer (peft)")
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--lora-alpha", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=192, help="pool examples longer than this are skipped")
    ap.add_argument("--test", type=int, default=250, help="first N GSM8K test rows (test NLL)")
    ap.add_argument("--exact-match", type=int, default=None, metavar="N",
                    help="greedy exact match on the first N of the --test rows (default: all of them)")
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--score-batch-size", type=int, default=8)
    ap.add_argument("--eval-batch-size", type=int, default=16)
    ap.add_argument("--rescore-fraction", type=float, default=0.1,
                    help="p3_free and default: at most this fraction of the pool is re-scored by a pass per epoch")
    ap.add_argument("--methods", nargs="+", default=["full", "random", "default", "p3", "p3_free",
                                                     "random@time=p3_free", "default@time=p3_free"],
                    metavar="NAME[@KEEP]",
                    help="run in this order for each seed, results saved after each. NAME is one of: "
                         + "; ".join(f"{k}: {v}" for k, v in METHODS.items()).replace("%", "%%")
                         + ". NAME@KEEP runs it at another kept fraction; random@time=p3_free and "
                           "default@time=p3_free are fitted, seed by seed, to that run's measured time ratio")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                    help="auto: the GPU when torch sees one")
    ap.add_argument("--bf16", action="store_true", help="bfloat16 mixed precision (GPU)")
    ap.add_argument("--no-base-eval", action="store_true", help="skip evaluating the model before fine-tuning")
    ap.add_argument("--fresh", action="store_true",
                    help="start over; by default runs already in --out (same settings) are kept and skipped")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads. 1 by default: on a 2-core machine shared with other jobs, two "
                         "threads spin at every op's barrier and made decoding 10x and training 2x slower")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)
    try:
        args.specs = [MethodSpec.parse(m, args.keep) for m in args.methods]
    except ValueError as err:
        ap.error(str(err))
    for i, spec in enumerate(args.specs):
        earlier = [s.label for s in args.specs[:i]]
        if spec.time_of is not None and (spec.time_of not in earlier or "full" not in earlier):
            ap.error(f"{spec.label}: list full and {spec.time_of} before it in --methods (its time is read off them)")
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda, but torch sees no GPU")
    if args.lr is None:
        args.lr = 2e-4 if args.finetune == "lora" else 5e-5
    if args.lr_scheduler is None:
        args.lr_scheduler = "linear" if args.trainer == "sft" else "constant"
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", force=True)

    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__, Path.cwd()), *sys.argv[1:]])
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    import transformers

    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "specs"}
    result = None if args.fresh else resume(args.out, config)
    if args.fresh:
        shutil.rmtree(args.out / "checkpoints", ignore_errors=True)  # the interrupted runs of the old results
    if result is None:
        result = {"command": command, "config": config, "base": None, "runs": [], "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    else:
        logger.info("resuming %s: %d runs already there", args.out / "results.json", len(result["runs"]))
        result.setdefault("commands", []).append(command)
    result.update({
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "numpy": np.__version__, "datadiet_commit": commit},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu"},
        "notes": [
            "Seeds change the model's data order, LoRA initialisation and every random choice of the diet; the pool "
            "and the test questions are the same for every run. Differences smaller than the seed std are ties "
            "(docs/methods.md, section 6). On a CPU shared with other jobs the 1-minute load average at the end of "
            "each run is in results.json; compare time ratios within one results file only.",
        ],
    })
    model, tokenizer = load_smollm2()
    pool_rows, pool_examples = build_pool(tokenizer, args)
    if len(pool_examples) < args.pool:
        logger.warning("only %d GSM8K train examples fit --max-length %d (asked for %d)",
                       len(pool_examples), args.max_length, args.pool)
    test_rows = read_gsm8k("test", limit=args.test)
    result["pool_size"] = len(pool_examples)
    result["pool_example_ids"] = [r["example_id"] for r in pool_rows]
    result["pool_tokens_mean"] = float(np.mean([len(e["input_ids"]) for e in pool_examples]))
    logger.info("pool: %d examples, %.0f tokens on average", len(pool_examples), result["pool_tokens_mean"])
    if not args.no_base_eval and result["base"] is None:
        ev = evaluate(model.to(args.device), tokenizer, test_rows, args)
        result["base"] = {"nll": ev["nll"], "exact_match": ev["exact_match"], "seconds": ev["seconds"],
                          "exact_match_n": ev["exact_match_n"]}
        logger.info("base model: NLL %.4f, EM %s", ev["nll"], ev["exact_match"])
        save(result, args.out)
    del model
    done = {(r["method"], r["seed"]) for r in result["runs"]}
    for seed in args.seeds:
        for spec in args.specs:
            if (spec.label, seed) in done:
                logger.info("%s seed %d: already in %s", spec.label, seed, args.out)
                continue
            try:
                ratio = None
                if spec.time_of is not None:
                    ratio = matched_time_ratio(result["runs"], spec.time_of, seed)
                    logger.info("%s seed %d: fitted to %s's time ratio %.3f", spec.label, seed, spec.time_of, ratio)
                run = run_method(spec, seed, pool_rows, pool_examples, test_rows, args, time_ratio=ratio)
            except (Exception, SystemExit) as err:  # one failed run must not stop a grid that runs for hours
                logger.exception("%s seed %d failed; the other runs go on, and a resumed benchmark retries it",
                                 spec.label, seed)
                result.setdefault("failed", []).append({"method": spec.label, "seed": seed, "error": repr(err),
                                                        "at": time.strftime("%Y-%m-%d %H:%M:%S")})
                save(result, args.out)
                continue
            result["runs"].append(run)
            forget_checkpoints(args.out, spec.label, seed)
            logger.info("%s seed %d: NLL %.4f EM %s, %.0f s", spec.label, seed, run["test_nll"],
                        run["test_exact_match"], run["seconds"]["total"])
            save(result, args.out)
    result["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    save(result, args.out)


if __name__ == "__main__":
    main()
