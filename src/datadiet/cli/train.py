"""``datadiet train CONFIG.yaml``: one fine-tuning run of any supported task and method."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import yaml

from datadiet.bench.experiment import RunConfig, run_experiment


def load_run_config(path: str | Path) -> tuple[RunConfig, Path]:
    """Read a YAML run config; unknown keys raise listing the valid ones."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path} must hold a mapping of settings, got {type(raw).__name__}")
    valid = {f.name for f in fields(RunConfig)}
    output_dir = Path(raw.pop("output_dir", f"runs/{path.stem}"))
    unknown = sorted(set(raw) - valid)
    if unknown:
        raise ValueError(f"unknown keys in {path}: {', '.join(unknown)}; valid keys: {', '.join(sorted(valid | {'output_dir'}))}")
    return RunConfig(**raw), output_dir


def run_train(config_path: str) -> int:
    cfg, out = load_run_config(config_path)
    out.mkdir(parents=True, exist_ok=True)
    record = run_experiment(cfg, output_dir=out, progress=True, report=True, save_model=True)
    (out / "metrics.json").write_text(json.dumps(record, indent=2, default=str))
    print(json.dumps({"output_dir": str(out), "metrics": record["metrics"], "wall_seconds": round(record["wall_seconds"], 1),
                      "examples_trained": record["examples_trained"]}, indent=2))
    return 0
