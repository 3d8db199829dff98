"""Running a benchmark grid: every run not yet finished in the results folder, one after another in
one process, each record appended to ``results.jsonl`` as soon as it finishes.

Resuming: keys with a successful record in the folder are skipped; keys whose last attempt failed
are run again. A run at a time budget gets its kept fraction just before it starts, once the
training-set size is known (:func:`~benchmarks.grid.config.resolve_budget`); a budget its method
cannot fit is logged and recorded with ``status: "skipped"`` and the reason (looked at again, and
not recorded twice, by the next invocation). Several invocations (one per dataset, say) may share a folder; their runs merge
into one report (:mod:`benchmarks.grid.aggregate` computes it, :mod:`benchmarks.grid.render`
writes it).
"""

from __future__ import annotations

import datetime
import os
import shlex
import sys
import time
import traceback
import uuid
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import numpy as np

from benchmarks.grid.config import GridConfig, GridRun, check_compatible, resolve_budget
from benchmarks.grid.fewer_epochs import FEWER_EPOCHS, FEWER_STEPS
from benchmarks.grid.store import (ERROR, INVOCATIONS_FILE, OK, RESULTS_FILE, SKIPPED, append_jsonl, latest_by_key,
                                   read_jsonl)
from datadiet.history import ScoreHistory
from datadiet.toolkit.experiment import RunConfig
from datadiet.toolkit.fields import ConfigError

RUN_LOG = "runs.log"
"""What the runs print (Trainer logs, warnings), appended in the results folder."""

REPORTS_DIR = "diet_reports"
"""Where the data-map run writes its diet report (data map, per-epoch log, history), one folder per key."""

RunFn = Callable[..., dict]
"""``run_fn(cfg: RunConfig, output_dir=None, progress=True, report=False) -> record`` (like
:func:`~datadiet.toolkit.experiment.run_experiment`)."""

SCORING_COST = 1.0 / 3.0
"""Cost of scoring one example with a forward pass, in training steps of one example (a forward
is about a third of forward + backward)."""


NumTrainFn = Callable[[RunConfig], int]
"""``num_train_fn(cfg) -> int``: the training-set size of a run, known before it starts."""


def num_train(cfg: RunConfig) -> int:
    """The training-set size of ``cfg``'s run, as :func:`~datadiet.toolkit.experiment.build_run` will give
    it: the train split read from disk (no tokenisation, no model) cut to ``train_size``."""
    from datadiet.toolkit.data import load_dataset_by_name

    n = len(load_dataset_by_name(cfg.dataset, "train", cfg.data_root))
    return n if cfg.train_size is None else min(n, cfg.train_size)


def estimated_cost(cfg: RunConfig, num_examples: int = 1000) -> float:
    """Rough cost of a run as a fraction of the full-data run (for the ETA only), read off the run's
    diet: the examples it plans to train on (``kept_counts``; InfoBatch's are an upper bound), plus
    the examples its strategy re-scores at each selection epoch (``ids_to_rescore``, asked of a
    history in which every example was scored in the first epoch), each costing a forward pass."""
    if getattr(cfg, "budget", None) is not None and cfg.method != "full":
        return float(cfg.budget)  # its keep is resolved only when the run starts
    diet = cfg.diet().setup(num_examples, cfg.epochs)
    kept = diet.kept_counts()
    strategy, history = diet.strategy, ScoreHistory(num_examples)
    history.update(np.arange(num_examples), np.zeros(num_examples), 0)
    rescored = sum(len(strategy.ids_to_rescore(epoch, history, cfg.seed)) for epoch in range(cfg.epochs)
                   if strategy.selects_at(epoch, diet.schedule))
    return (sum(kept) + rescored * SCORING_COST) / (num_examples * cfg.epochs)


def _format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {(seconds % 3600) // 60:02d} min"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def command_line(argv: list[str] | None = None) -> str:
    """The command that launched this process, shell-quoted: ``python -m benchmarks.grid ...``."""
    argv = list(sys.argv if argv is None else argv)
    if argv and Path(argv[0]).name == "__main__.py" and Path(argv[0]).parent.name == "grid":
        argv[:1] = ["python", "-m", "benchmarks.grid"]
    return shlex.join(argv)


def _short_metrics(metrics: dict[str, float]) -> str:
    names = [m for m in ("intent_accuracy", "slot_f1", "exact_match", "accuracy") if m in metrics]
    return ", ".join(f"{m} {100 * metrics[m]:.2f}" for m in names)


def run_grid(grid: GridConfig, out_dir: str | os.PathLike, *, run_fn: RunFn | None = None,
             command: str | None = None, log: Callable[[str], None] | None = None,
             max_runs: int | None = None, num_train_fn: NumTrainFn | None = None) -> dict[str, Any]:
    """Run every run of ``grid`` not yet finished in ``out_dir`` and append each record to
    ``out_dir/results.jsonl`` as soon as it finishes.

    A run that raises is recorded with ``status: "error"``, its error and traceback, and the grid
    goes on; the next invocation runs that key again (only successful keys are skipped).
    KeyboardInterrupt stops the grid; finished runs stay recorded. ``max_runs`` stops after that
    many runs (for tests and partial sessions). ``num_train_fn`` gives the training-set size a
    budget run's keep is resolved for (default :func:`num_train`). Returns counts: planned,
    skipped (already done), ran, failed, out_of_budget (budget runs skipped: no keep fits).
    """
    if run_fn is None:
        from datadiet.toolkit.experiment import run_experiment as run_fn

        errors = grid.dataset_errors()
        if errors:
            raise ConfigError(errors)
    log = log or _console_log()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = out / RESULTS_FILE
    existing = read_jsonl(results)
    check_compatible(grid, existing)
    done = set(latest_by_key(existing, OK))
    planned = grid.runs()
    todo = [cfg for cfg in planned if cfg.key() not in done]
    if max_runs is not None:
        todo = todo[:max_runs]
    invocation = {"invocation": uuid.uuid4().hex[:12], "started": _now(), "command": command or command_line(),
                  "cwd": os.getcwd(), "grid": asdict(grid), "planned": len(planned), "to_run": len(todo)}
    append_jsonl(out / INVOCATIONS_FILE, invocation)
    finished = sum(cfg.key() in done for cfg in planned)
    log(f"grid {grid.name!r}: {len(planned)} runs planned, {finished} already in {results}, {len(todo)} to run now")
    # one data map per dataset and method: a later invocation (other seeds, other methods) adds none
    mapped = {(r["config"]["dataset"], r["config"]["method"]) for r in existing
              if r.get("status", OK) == OK and r.get("report")}
    map_runs = [run for run in (grid.data_map_run(d) for d in grid.datasets)
                if run is not None and (run.dataset, run.method) not in mapped]
    import torch

    threads = torch.get_num_threads()
    if grid.threads is not None:
        torch.set_num_threads(grid.threads)
    try:
        skips = {k: r.get("reason") for k, r in latest_by_key(existing, None).items() if r.get("status") == SKIPPED}
        failed, unfit = _run_all(todo, {run.key() for run in map_runs}, out, invocation["invocation"], run_fn, log,
                                 num_train_fn or num_train, skips)
    finally:
        torch.set_num_threads(threads)
    return {"planned": len(planned), "skipped": finished, "ran": len(todo) - unfit, "failed": failed,
            "out_of_budget": unfit}


def _resolve(cfg: RunConfig, sizes: dict[tuple, int], num_train_fn: NumTrainFn) -> tuple[RunConfig, dict | None]:
    """``cfg`` at its budget's keep, with the facts of that choice for the record (None for a keep
    run); the training-set size is asked once per (dataset, data root, train size)."""
    if not isinstance(cfg, GridRun) or cfg.budget is None or cfg.method == "full":
        return cfg, None
    where = (cfg.dataset, cfg.data_root, cfg.train_size)
    if where not in sizes:
        sizes[where] = num_train_fn(cfg)
    resolved, ratio = resolve_budget(cfg, sizes[where])
    resolution = {"budget": cfg.budget, "keep": resolved.keep, "predicted_ratio": ratio, "num_train": sizes[where]}
    if resolved.epochs != cfg.epochs:  # fewer_epochs: the budget chose the epochs
        resolution["epochs"] = resolved.epochs
    return resolved, resolution


def _resolved_text(cfg: RunConfig) -> str:
    """What a budget run was resolved to: its keep, or the epochs of a ``fewer_epochs`` or
    ``fewer_steps`` run."""
    if cfg.method == FEWER_EPOCHS:
        return f"for {cfg.epochs} of {cfg.protocol_epochs} epochs"
    if cfg.method == FEWER_STEPS:
        return f"for {cfg.epochs - 1 + cfg.keep:g} of {cfg.protocol_epochs} epochs"
    return f"at keep {cfg.keep:g}"


def _run_all(todo: list[RunConfig], map_keys: set[str], out: Path, invocation: str, run_fn: RunFn,
             log: Callable[[str], None], num_train_fn: NumTrainFn = num_train,
             skips: dict[str, str] | None = None) -> tuple[int, int]:
    """Run ``todo`` in order, appending each record as it finishes; returns how many failed and how
    many budget runs were skipped because no keep fits their budget (recorded with the reason
    unless ``skips``, the reasons already recorded by key, holds the same one).
    Runs whose key is in ``map_keys`` also write their diet report (data map) under ``out/diet_reports``."""
    spent, cost_done, failed, unfit = 0.0, 0.0, 0, 0
    cost_left = sum(estimated_cost(c) for c in todo)
    sizes: dict[tuple, int] = {}
    skips = skips or {}
    for i, cfg in enumerate(todo, 1):
        key = cfg.key()
        try:
            cfg, resolution = _resolve(cfg, sizes, num_train_fn)
        except ValueError as exc:
            reason = " ".join(str(exc).split())
            log(f"[{i}/{len(todo)}] skip  {key}: {reason}")
            if skips.get(key) != reason:
                append_jsonl(out / RESULTS_FILE, {"key": key, "config": asdict(cfg), "status": SKIPPED, "reason": reason,
                                                  "invocation": invocation, "finished": _now()})
            unfit += 1
            cost_left -= estimated_cost(cfg)
            continue
        eta = f", ETA {_format_seconds(spent / cost_done * cost_left)}" if cost_done else ""
        chosen = "" if resolution is None else f" {_resolved_text(cfg)} (predicted time ratio {resolution['predicted_ratio']:.3f})"
        log(f"[{i}/{len(todo)}] start {key}{chosen}{eta}")
        report = key in map_keys
        run_dir = out / REPORTS_DIR / key.replace("|", "_") if report else None
        start = time.perf_counter()
        try:  # the run's own output (Trainer logs, warnings) goes to runs.log; the console gets one line a run
            with open(out / RUN_LOG, "a", encoding="utf-8") as f, redirect_stdout(f), redirect_stderr(f):
                print(f"===== {_now()} {key}", flush=True)
                record = run_fn(cfg, output_dir=run_dir, progress=False, report=report)
            record["status"] = OK
            if resolution is not None:
                record["budget_resolution"] = resolution
                if record.get("num_train", resolution["num_train"]) != resolution["num_train"]:
                    log(f"warning: {key} trained on {record['num_train']:,} examples; its keep was resolved for "
                        f"{resolution['num_train']:,}")
            if "report" in record:  # paths relative to the results folder, so the folder can move
                record["report"] = {k: _relative(v, out) for k, v in record["report"].items()}
        except Exception as exc:  # noqa: BLE001 -- one failed run must not stop the grid
            record = {"key": key, "config": asdict(cfg), "status": ERROR, "error": f"{type(exc).__name__}: {exc}",
                      "traceback": traceback.format_exc()}
            if resolution is not None:
                record["budget_resolution"] = resolution
            failed += 1
        duration = time.perf_counter() - start
        record.update(invocation=invocation, finished=_now(), duration_seconds=duration)
        append_jsonl(out / RESULTS_FILE, record)
        spent += duration
        cost = estimated_cost(cfg)
        cost_done += cost
        cost_left -= cost
        eta = _format_seconds(spent / cost_done * cost_left) if cost_left > 1e-9 else "done"
        if record["status"] == OK:
            log(f"[{i}/{len(todo)}] done  {key} in {_format_seconds(duration)} (train {record['wall_seconds']:.1f} s, "
                f"scoring {record['scoring_seconds']:.1f} s; {_short_metrics(record['metrics'])}), ETA {eta}")
        else:
            log(f"[{i}/{len(todo)}] FAILED {key} after {_format_seconds(duration)}: {record['error']} "
                f"(recorded; it runs again next time), ETA {eta}")
    return failed, unfit


def _relative(path: str, base: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def _console_log() -> Callable[[str], None]:
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    return lambda text: console.print(f"{datetime.datetime.now():%H:%M:%S} {text}", markup=False)
