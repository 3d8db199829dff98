"""``datadiet demo``: the same fine-tuning on the full data and with pruning, side by side."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from datadiet.experiment import RunConfig, run_experiment

METRIC_LABELS = {"intent_accuracy": "intent acc", "slot_f1": "slot F1", "exact_match": "exact match",
                 "accuracy": "accuracy"}


def results_table(records: list[dict], title: str) -> Table:
    """Rich table: wall time, speed-up against the first (full-data) run, metrics, examples trained."""
    base = records[0]["wall_seconds"]
    metric_names = [m for m in METRIC_LABELS if m in records[0]["metrics"]]
    table = Table(title=title)
    for col in ["run", "wall time", "of which scoring", "speed-up", *[METRIC_LABELS[m] for m in metric_names],
                "examples trained"]:
        table.add_column(col, justify="left" if col == "run" else "right")
    for r in records:
        name = r["config"]["method"] + ("" if r["config"]["method"] == "full" else f" (keep {r['config']['keep']:g})")
        table.add_row(
            name, f"{r['wall_seconds']:.0f} s", f"{r['scoring_seconds']:.1f} s", f"{base / r['wall_seconds']:.2f}x",
            *[f"{100 * r['metrics'][m]:.2f}" for m in metric_names],
            f"{r['examples_trained']:,} ({r['examples_trained'] / r['examples_full']:.0%})",
        )
    return table


def plot_demo(records: list[dict], path: Path) -> Path:
    """Two panels: wall time split (training / scoring / selection) and the task metrics."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["config"]["method"] for r in records]
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    train = [r["training_seconds"] for r in records]
    score = [r["scoring_seconds"] for r in records]
    select = [r["selection_seconds"] for r in records]
    ax_t.bar(names, train, label="training", color="#4c72b0")
    ax_t.bar(names, score, bottom=train, label="scoring", color="#dd8452")
    ax_t.bar(names, select, bottom=[a + b for a, b in zip(train, score)], label="selection", color="#55a868")
    ax_t.set_ylabel("seconds")
    ax_t.set_title("wall time of fine-tuning")
    ax_t.legend()
    metric_names = [m for m in METRIC_LABELS if m in records[0]["metrics"]]
    width = 0.8 / len(records)
    for i, r in enumerate(records):
        ax_m.bar([j + i * width for j in range(len(metric_names))], [100 * r["metrics"][m] for m in metric_names],
                 width=width, label=names[i])
    ax_m.set_xticks([j + width * (len(records) - 1) / 2 for j in range(len(metric_names))])
    ax_m.set_xticklabels([METRIC_LABELS[m] for m in metric_names])
    ax_m.set_ylabel("%")
    ax_m.set_ylim(0, 100)
    ax_m.set_title("test metrics")
    ax_m.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def run_demo(args) -> int:
    console = Console()
    if not console.is_terminal:  # piped or captured: don't squeeze the table into 80 columns
        console = Console(width=140)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    common = dict(dataset=args.dataset, encoder=args.model, layers=args.layers, epochs=args.epochs,
                  batch_size=args.batch_size, learning_rate=args.lr, max_length=args.max_length,
                  train_size=args.train_size, seed=args.seed, data_root=args.data_root)
    runs = [RunConfig(method="full", **common), RunConfig(method=args.method, keep=args.keep, **common)]
    records = []
    for cfg in runs:
        label = "full data" if cfg.method == "full" else f"{cfg.method} pruning, keep {cfg.keep:g}"
        console.rule(f"[bold]{args.dataset}: {label}")
        records.append(run_experiment(cfg, output_dir=out / cfg.method, progress=True, report=cfg.method != "full"))
    (out / "results.json").write_text(json.dumps(records, indent=2, default=str))
    plot = plot_demo(records, out / "demo.png")
    layers = f"{args.layers} layers" if args.layers else "all layers"
    console.print(results_table(records, f"{args.dataset}, MiniLM ({layers}), {args.epochs} epochs, "
                                         f"{records[0]['num_train']:,} train / {records[0]['num_eval']:,} test"))
    console.print(f"wall time excludes evaluation; plot: {plot}; data map of the pruned run: "
                  f"{out / records[1]['config']['method'] / 'diet' / 'data_map.png'}; all numbers: {out / 'results.json'}")
    return 0
