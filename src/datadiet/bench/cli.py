"""``datadiet bench``: run a benchmark grid (resumable) and write its report.

``add_bench_parser(subparsers)`` adds the sub-command to the ``datadiet`` parser; ``run_bench(args)``
runs it. Settings come from, in increasing priority: the built-in defaults, ``--quick`` or
``--config FILE.yaml``, then the individual flags.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from datadiet.bench.grid import PAPER_METHODS, GridConfig, command_line, run_grid
from datadiet.bench.methods import METHOD_NAMES

QUICK = GridConfig(name="quick", datasets=["snips"], methods=["full", "random", "nlu_data_diets", "default"],
                   keeps=[0.5], seeds=[0], epochs=8, layers=2, learning_rate=5e-4, train_size=3000, threads=1)
"""``--quick``: a grid of about 10 minutes on 2 cores, to check a change (not to quote: 1 seed)."""

RESULTS_ROOT = Path("benchmarks") / "results"


def _int_or_all(text: str) -> int | str:
    return "all" if text.lower() in ("all", "none") else int(text)


def add_bench_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``bench`` to an ``argparse`` sub-parsers object and return its parser."""
    default = GridConfig()
    p = subparsers.add_parser(
        "bench", help="run a benchmark grid (datasets x methods x keeps x seeds) and write its report",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Fine-tune once per dataset x method x kept fraction x seed (full data once per dataset "
                    "and seed), timing training, scoring and selection apart from evaluation. Every finished run "
                    "is appended to OUT/results.jsonl: run the same command again to continue an interrupted "
                    "grid (finished runs are skipped, failed ones re-run); invocations sharing OUT (e.g. one per "
                    "dataset) merge into one report: OUT/results.md, results.json, frontier_<dataset>.png and "
                    "data_map_<dataset>.png.",
        epilog="examples:\n"
               "  datadiet bench --quick                           # ~10 min check of a change\n"
               "  datadiet bench --config benchmarks/configs/full.yaml --datasets snips\n"
               "  datadiet bench --config benchmarks/configs/full.yaml --datasets atis   # same folder, merged\n"
               "  datadiet bench --report-only --out benchmarks/results/full\n"
               f"\nmethods: {', '.join(METHOD_NAMES)}")
    src = p.add_argument_group("grid")
    src.add_argument("--config", metavar="YAML", help="grid config file (keys: the long option names below with "
                     "underscores, e.g. learning_rate, train_size; see benchmarks/configs/)")
    src.add_argument("--quick", action="store_true",
                     help=f"the quick check grid: {QUICK.datasets[0]} ({QUICK.train_size} train examples, a fixed random subsample), "
                          f"{QUICK.layers} layers, {QUICK.epochs} epochs, lr {QUICK.learning_rate:g}, methods "
                          f"{'/'.join(QUICK.methods)} at keep {QUICK.keeps[0]:g}, 1 seed; about 10 min on 2 cores")
    src.add_argument("--datasets", nargs="+", metavar="NAME",
                     help=f"datasets, space or comma separated (default: {', '.join(default.datasets)})")
    src.add_argument("--methods", nargs="+", metavar="NAME",
                     help=f"methods (default: {', '.join(PAPER_METHODS)}); 'full' always runs, as the reference")
    src.add_argument("--keeps", nargs="+", metavar="K",
                     help=f"kept fractions in (0, 1) (default: {', '.join(map(str, default.keeps))})")
    src.add_argument("--seeds", nargs="+", metavar="S",
                     help=f"seeds (default: {', '.join(map(str, default.seeds))})")
    proto = p.add_argument_group("protocol (shared by every run)")
    proto.add_argument("--epochs", type=int, help=f"training epochs (default: {default.epochs})")
    proto.add_argument("--layers", type=_int_or_all,
                       help=f"first n encoder layers, or 'all' (default: {default.layers})")
    proto.add_argument("--batch-size", type=int, help=f"training batch size (default: {default.batch_size})")
    proto.add_argument("--lr", type=float, dest="learning_rate",
                       help=f"learning rate (default: {default.learning_rate:g})")
    proto.add_argument("--max-length", type=int, help=f"truncation length in tokens (default: {default.max_length})")
    proto.add_argument("--train-size", type=_int_or_all,
                       help="train on a fixed random subsample of n training examples, or 'all' (default: all)")
    proto.add_argument("--eval-split", help=f"split the metrics come from (default: {default.eval_split})")
    proto.add_argument("--threads", type=_int_or_all,
                       help=f"torch CPU threads, or 'all' for torch's default (default: {default.threads}; "
                            "on shared cores more threads than free cores is much slower)")
    proto.add_argument("--model", dest="encoder", help=f"pretrained encoder (default: {default.encoder})")
    proto.add_argument("--data-root", help="folder with the datasets (default: $DATADIET_DATA or ../shared/data)")
    run = p.add_argument_group("output")
    run.add_argument("--name", help="grid name (default: the config file's stem; 'quick-<datasets>' with --quick)")
    run.add_argument("--out", help="results folder (default: benchmarks/results/<name>)")
    run.add_argument("--report-only", action="store_true", help="re-aggregate OUT/results.jsonl without running")
    run.add_argument("--dry-run", action="store_true", help="list the runs in order (and which are done), run nothing")
    run.add_argument("--max-runs", type=int, help="stop after this many runs (continue later with the same command)")
    return p


def grid_from_args(args: argparse.Namespace) -> GridConfig:
    """The grid of a ``bench`` command line: defaults < --quick / --config < flags."""
    if args.quick and args.config:
        raise ValueError("use --quick or --config, not both")
    base = QUICK if args.quick else GridConfig.from_yaml(args.config) if args.config else GridConfig()
    values = {f: getattr(base, f) for f in base.__dataclass_fields__}
    for k in ("datasets", "methods", "keeps", "seeds", "epochs", "batch_size", "learning_rate", "max_length",
              "eval_split", "encoder", "data_root", "layers", "train_size", "threads"):
        value = getattr(args, k, None)
        if value is not None:
            values[k] = None if value == "all" else " ".join(value) if isinstance(value, list) else value
    grid = GridConfig.from_dict(values)
    if args.name:
        grid.name = args.name
    elif args.quick:
        grid.name = "quick-" + "-".join(grid.datasets)
    return grid


def run_bench(args: argparse.Namespace) -> int:
    """Run (or with --report-only, only report) the grid of a parsed ``bench`` command line."""
    from datadiet.bench.render import write_report

    try:
        grid = grid_from_args(args)
    except (ValueError, OSError) as exc:
        print(f"datadiet bench: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else RESULTS_ROOT / grid.name
    if args.dry_run:
        from datadiet.bench.store import OK, RESULTS_FILE, latest_by_key, read_jsonl

        done = set(latest_by_key(read_jsonl(out / RESULTS_FILE), OK))
        for i, cfg in enumerate(grid.runs(), 1):
            print(f"{i:4d} {'done' if cfg.key() in done else 'todo'} {cfg.key()}")
        return 0
    interrupted = False
    if not args.report_only:
        try:
            grid.check_datasets()
            counts = run_grid(grid, out, command=command_line(getattr(args, "argv", None)), max_runs=args.max_runs)
        except ValueError as exc:
            print(f"datadiet bench: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            interrupted = True
            print("\ninterrupted: finished runs are saved; the same command continues the grid", file=sys.stderr)
        else:
            print(f"{counts['ran']} runs ({counts['failed']} failed), {counts['skipped']} already done")
    try:
        paths = write_report(out)
    except FileNotFoundError as exc:
        print(f"datadiet bench: {exc}", file=sys.stderr)
        return 2 if args.report_only else 1
    print(f"report: {paths['markdown']}")
    return 130 if interrupted else 0
