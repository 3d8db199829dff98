"""``datadiet``: the command line. ``datadiet demo``, ``datadiet train CONFIG.yaml``, ``datadiet plan
CONFIG.yaml``. (The benchmark grid is part of the repository, not of the package: ``python -m
benchmarks.grid`` from the root of a checkout.)

Every setting is checked before any data or model is loaded: each bad one prints one line (the key,
the value, what is allowed) and the command exits with status 2. Any other error prints one line
and exits with status 1; ``--debug`` shows its traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys

from datadiet.cli.options import add_options, option_values
from datadiet.strategies import available_methods
from datadiet.toolkit.experiment import RunConfig
from datadiet.toolkit.fields import ConfigError

DEMO_OPTIONS = ("dataset", "encoder", "layers", "epochs", "batch_size", "learning_rate", "max_length", "train_size",
                "eval_split", "seed", "data_root", "keep", "method")
"""The :class:`~datadiet.toolkit.experiment.RunConfig` settings ``datadiet demo`` takes as flags."""

DEMO_DEFAULTS = {"dataset": "atis", "epochs": 10, "layers": 1, "keep": 0.5}
"""The demo's own defaults: about 5 minutes on an idle 2-core CPU, and a setting where pruning
keeps full data's accuracy within the seed noise (ATIS, MiniLM's first layer, 10 epochs)."""


def _quiet_libraries() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import transformers

    transformers.logging.set_verbosity_error()
    import datasets

    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="datadiet", description="Dynamic data pruning for fine-tuning transformers.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", parents=[debug], help="fine-tune with and without pruning; plot accuracy against time",
                          description="Fine-tune the pretrained MiniLM encoder from the same weights on the full "
                                      "data, with dynamic pruning, and on full data for fewer epochs in the pruned "
                                      "run's time, evaluating after every epoch; print time and accuracy of each and "
                                      "plot accuracy against wall-clock time.")
    add_options(demo, RunConfig, DEMO_OPTIONS, defaults=DEMO_DEFAULTS,
                choices={"method": [m for m in available_methods() if m != "full"]})
    demo.add_argument("--threads", type=int, default=None,
                      help="torch threads (default: the cores the load average leaves free, at least 1)")
    demo.add_argument("--no-peer", dest="peer", action="store_false",
                      help="skip the third run: full data for fewer epochs in the pruned run's measured time")
    demo.add_argument("--out", default="runs/demo", help="output folder for results.json and demo.png (default: %(default)s)")

    train = sub.add_parser("train", parents=[debug], help="one fine-tuning run from a YAML config",
                           description="One fine-tuning run of any supported task and method from a YAML config; "
                                       "writes the model, the metrics and the per-example score history.")
    train.add_argument("config", help="YAML file; keys: " + ", ".join(_train_keys()))

    plan = sub.add_parser("plan", parents=[debug], help="print a run config's per-epoch plan and predicted time ratio",
                          description="The per-epoch plan of a `datadiet train` config (examples trained and scored "
                                      "each epoch) and its predicted time ratio against full-data training, "
                                      "without loading a model.")
    plan.add_argument("config", help="YAML file, as for `datadiet train`")
    return parser


def _train_keys() -> list[str]:
    from datadiet.cli.train import TRAIN_KEYS

    return list(TRAIN_KEYS)


def demo_configs(args: argparse.Namespace) -> list[RunConfig]:
    """The runs of ``datadiet demo`` that the flags configure (full data, then the method; the peer
    run is full data's, at a time budget), checked: raises
    :class:`~datadiet.toolkit.fields.ConfigError` before anything is loaded."""
    values = option_values(args, RunConfig, DEMO_OPTIONS)
    runs = [RunConfig(**{**values, "method": "full"}), RunConfig(**values)]
    errors = runs[1].data_errors()
    if errors:
        raise ConfigError(errors)
    return runs


def run(args: argparse.Namespace) -> int:
    """Run the parsed command."""
    if args.command == "demo":
        demo_configs(args)
        _quiet_libraries()
        from datadiet.cli.demo import run_demo

        return run_demo(args)
    from datadiet.cli.train import load_run_config, run_plan, run_train

    load_run_config(args.config)
    if args.command == "plan":
        return run_plan(args.config)
    _quiet_libraries()
    return run_train(args.config)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    return report_errors(lambda: run(args), f"datadiet {args.command}", args.debug)


def report_errors(run_command, prog: str, debug: bool) -> int:
    """Run a command the way every datadiet command line reports trouble: a bad setting prints one
    line each (``prog: key: got ...; allowed: ...``) and returns 2, an interrupt returns 130,
    another error prints one line and returns 1; with ``debug`` the traceback instead."""
    try:
        return run_command()
    except ConfigError as exc:
        if debug:
            raise
        for line in exc.errors:
            print(f"{prog}: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 -- one line, not a traceback, unless --debug
        if debug:
            raise
        print(f"{prog}: {type(exc).__name__}: {exc} (--debug shows the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
