"""``datadiet train CONFIG.yaml``: one fine-tuning run of any supported task and method."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import yaml

from datadiet.toolkit.experiment import RunConfig, run_experiment
from datadiet.toolkit.fields import ConfigError, allowed_text

TRAIN_KEYS = tuple(f.name for f in fields(RunConfig)) + ("output_dir",)
"""The keys of a ``datadiet train`` config: the :class:`~datadiet.toolkit.experiment.RunConfig` settings
and ``output_dir`` (default ``runs/<config file stem>``)."""


def load_run_config(path: str | Path) -> tuple[RunConfig, Path]:
    """Read and check a YAML run config without loading data or model: every unknown key, wrong
    type, bad value and missing dataset raises at once, as :class:`~datadiet.toolkit.fields.ConfigError`
    with one line per error, each starting with the file name."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError([f"{path}: the config file does not exist"])
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML: {' '.join(str(exc).split())}"]) from None
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError([f"{path}: a config is a mapping of settings (key: value lines), got {type(raw).__name__}"])
    output_dir = raw.get("output_dir", f"runs/{path.stem}")
    errors = [] if isinstance(output_dir, str) else [allowed_text("output_dir", output_dir, "a folder path")]
    try:
        cfg = RunConfig.from_dict(raw, extra_keys=("output_dir",))
    except ConfigError as exc:
        errors += exc.errors
    else:
        errors += cfg.data_errors()
    if errors:
        raise ConfigError([f"{path}: {line}" for line in errors])
    return cfg, Path(output_dir)


def run_train(config_path: str) -> int:
    cfg, out = load_run_config(config_path)
    out.mkdir(parents=True, exist_ok=True)
    record = run_experiment(cfg, output_dir=out, progress=True, report=True, save_model=True)
    if not record["main_process"]:
        return 0  # `accelerate launch datadiet train ...`: the main process writes and prints
    (out / "metrics.json").write_text(json.dumps(record, indent=2, default=str))
    print(json.dumps({"output_dir": str(out), "metrics": record["metrics"], "wall_seconds": round(record["wall_seconds"], 1),
                      "examples_trained": record["examples_trained"]}, indent=2))
    return 0


def run_plan(config_path: str) -> int:
    """Print the config's plan: reads the training set's size (no model is loaded)."""
    cfg, _ = load_run_config(config_path)
    from datadiet.toolkit.data import load_dataset_by_name

    n = len(load_dataset_by_name(cfg.dataset, "train", cfg.data_root, **cfg.dataset_kwargs()))
    n = min(n, cfg.train_size) if cfg.train_size is not None else n
    print(cfg.diet().plan(n, cfg.epochs))
    return 0
