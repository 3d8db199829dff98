"""``python -m benchmarks.grid`` (from the repository root): run a benchmark grid (resumable) and write
its report. Settings come from, in increasing priority: the built-in defaults, ``--quick`` or
``--config FILE.yaml``, then the individual flags, which are generated from the fields of
:class:`~benchmarks.grid.config.GridConfig` (one definition for a setting and its flag).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from benchmarks.grid.config import PAPER_METHODS, GridConfig, grid_methods
from datadiet.cli.options import add_options, option_values
from datadiet.toolkit.experiment import Protocol
from datadiet.toolkit.fields import ConfigError

QUICK = GridConfig(name="quick", datasets=["snips"], methods=["full", "random", "nlu_data_diets", "default"],
                   keeps=[0.5], seeds=[0], epochs=8, layers=2, learning_rate=5e-4, train_size=3000, threads=1)
"""``--quick``: a grid of about 10 minutes on 2 cores, to check a change (not to quote: 1 seed)."""

RESULTS_ROOT = Path("benchmarks") / "results"

GRID_OPTIONS = ("datasets", "methods", "keeps", "budgets", "seeds")
PROTOCOL_OPTIONS = tuple(f.name for f in fields(Protocol)) + ("threads",)


def build_parser(prog: str = "python -m benchmarks.grid") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Fine-tune once per dataset x method x kept fraction x seed (full data once per dataset "
                    "and seed), timing training, scoring and selection apart from evaluation. Every finished run "
                    "is appended to OUT/results.jsonl: run the same command again to continue an interrupted "
                    "grid (finished runs are skipped, failed ones re-run); invocations sharing OUT (e.g. one per "
                    "dataset) merge into one report: OUT/results.md, results.json, frontier_<dataset>.png and "
                    "data_map_<dataset>.png.",
        epilog="examples:\n"
               f"  {prog} --quick                           # ~10 min check of a change\n"
               f"  {prog} --config benchmarks/configs/full.yaml --datasets snips\n"
               f"  {prog} --config benchmarks/configs/full.yaml --datasets atis   # same folder, merged\n"
               f"  {prog} --report-only --out benchmarks/results/full\n"
               f"\nmethods: {', '.join(grid_methods())} (default: {', '.join(PAPER_METHODS)}; fewer_epochs: full data "
               "for the most whole epochs within each --budgets value, with its own LR schedule; fewer_steps: "
               "for budget x epochs epochs of steps, the last one partial, as max_steps would; default_budget: "
               "DataDiet(time_budget=b) as a user writes it, the library's own choice of epochs and keep)")
    src = p.add_argument_group("grid")
    src.add_argument("--config", metavar="YAML", help="grid config file (keys: the long option names below with "
                     "underscores, e.g. learning_rate, train_size; see benchmarks/configs/)")
    src.add_argument("--quick", action="store_true",
                     help=f"the quick check grid: {QUICK.datasets[0]} ({QUICK.train_size} train examples, a fixed "
                          f"random subsample), {QUICK.layers} layers, {QUICK.epochs} epochs, lr {QUICK.learning_rate:g}, "
                          f"methods {'/'.join(QUICK.methods)} at keep {QUICK.keeps[0]:g}, 1 seed; about 10 min on 2 cores")
    add_options(src, GridConfig, GRID_OPTIONS, use_defaults=False)
    add_options(p.add_argument_group("protocol (shared by every run)"), GridConfig, PROTOCOL_OPTIONS,
                use_defaults=False)
    run = p.add_argument_group("output")
    run.add_argument("--name", help="grid name (default: the config file's stem; 'quick-<datasets>' with --quick)")
    run.add_argument("--out", help="results folder (default: benchmarks/results/<name>)")
    run.add_argument("--report-only", action="store_true", help="re-aggregate OUT/results.jsonl without running")
    run.add_argument("--dry-run", action="store_true", help="list the runs in order (and which are done), run nothing")
    run.add_argument("--max-runs", type=int, help="stop after this many runs (continue later with the same command)")
    run.add_argument("--goal-method", default="default", choices=grid_methods(),
                     help="the method the report's goals are checked for (default: default)")
    run.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    return p


def grid_from_args(args: argparse.Namespace) -> GridConfig:
    """The grid of a command line: defaults < --quick / --config < flags."""
    if args.quick and args.config:
        raise ConfigError(["--quick and --config: use one of them, not both"])
    base = QUICK if args.quick else GridConfig.from_yaml(args.config) if args.config else GridConfig()
    values = {f.name: getattr(base, f.name) for f in fields(base)}
    values.update(option_values(args, GridConfig, GRID_OPTIONS + PROTOCOL_OPTIONS))
    grid = GridConfig.from_dict(values)
    if args.name:
        grid.name = args.name
    elif args.quick:
        grid.name = "quick-" + "-".join(grid.datasets)
    return grid


def run_bench(args: argparse.Namespace) -> int:
    """Run (or with --report-only, only report) the grid of a parsed command line."""
    from benchmarks.grid.render import write_report
    from benchmarks.grid.runner import command_line, run_grid

    grid = grid_from_args(args)
    out = Path(args.out) if args.out else RESULTS_ROOT / grid.name
    if args.dry_run:
        from benchmarks.grid.store import OK, RESULTS_FILE, latest_by_key, read_jsonl

        done = set(latest_by_key(read_jsonl(out / RESULTS_FILE), OK))
        for i, cfg in enumerate(grid.runs(), 1):
            print(f"{i:4d} {'done' if cfg.key() in done else 'todo'} {cfg.key()}")
        return 0
    interrupted = False
    if not args.report_only:
        errors = grid.dataset_errors()
        if errors:
            raise ConfigError(errors)
        try:
            counts = run_grid(grid, out, command=command_line(), max_runs=args.max_runs)
        except KeyboardInterrupt:
            interrupted = True
            print("\ninterrupted: finished runs are saved; the same command continues the grid", file=sys.stderr)
        else:
            print(f"{counts['ran']} runs ({counts['failed']} failed), {counts['skipped']} already done"
                  + (f", {counts['out_of_budget']} skipped: no keep fits the budget" if counts["out_of_budget"] else ""))
    try:
        paths = write_report(out, goal_method=args.goal_method)
    except FileNotFoundError as exc:
        if args.report_only:
            raise ConfigError([str(exc)]) from None
        raise
    print(f"report: {paths['markdown']}")
    return 130 if interrupted else 0


def main(argv: list[str] | None = None, prog: str = "python -m benchmarks.grid") -> int:
    """Parse ``argv`` and run; a bad setting prints one line each and returns 2, another error one
    line and 1 (``--debug``: the traceback instead)."""
    from datadiet.cli.main import report_errors

    args = build_parser(prog).parse_args(argv)
    return report_errors(lambda: run_bench(args), prog, args.debug)
