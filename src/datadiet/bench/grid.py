"""The benchmark grid: datasets x methods x kept fractions x seeds, each run a full timed fine-tuning,
run one after another in one process, every finished run appended to ``results.jsonl``.

Order: per dataset and seed, the full-data run first (every time ratio divides by it), then every
(method, keep) pair in an order rotated by the seed's position, so that slow drift of the machine
(thermal, other jobs) does not always hit the same method. Resuming: keys with a successful record
in the folder are skipped; keys whose last attempt failed are run again. Several invocations (one
per dataset, say) may share a folder; their runs merge into one report
(:mod:`datadiet.bench.aggregate` computes it, :mod:`datadiet.bench.render` writes it).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import shlex
import sys
import time
import traceback
import uuid
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from datadiet.bench.experiment import Protocol, RunConfig
from datadiet.bench.methods import METHOD_NAMES
from datadiet.bench.store import ERROR, INVOCATIONS_FILE, OK, RESULTS_FILE, append_jsonl, latest_by_key, read_jsonl

PAPER_METHODS = ("full", "random_static", "random", "static_el2n", "nlu_data_diets", "infobatch", "default")
"""The methods of issue 5: full data, both random baselines, static EL2N, the published dynamic
protocol, InfoBatch and the library's default."""

RUN_LOG = "runs.log"
"""What the runs print (Trainer logs, warnings), appended in the results folder."""

REPORTS_DIR = "diet_reports"
"""Where the data-map run writes its diet report (data map, per-epoch log, history), one folder per key."""

RunFn = Callable[..., dict]
"""``run_fn(cfg: RunConfig, output_dir=None, progress=True, report=False) -> record`` (like
:func:`~datadiet.bench.experiment.run_experiment`)."""


@dataclass
class GridConfig(Protocol):
    """A benchmark grid. Every run shares the :class:`~datadiet.bench.experiment.Protocol` fields;
    ``full`` always runs once per dataset and seed at keep 1.0, whether or not it is listed in ``methods``.

    ``threads``: torch CPU threads for the whole grid (None: torch's default; on a shared machine 1
    is faster and steadier than oversubscribed cores). ``data_map``: the first seed's run of the
    default method (keep nearest 0.5) also writes the diet report with its data map.
    """

    name: str = "grid"
    datasets: list[str] = field(default_factory=lambda: ["snips"])
    methods: list[str] = field(default_factory=lambda: list(PAPER_METHODS))
    keeps: list[float] = field(default_factory=lambda: [0.5, 0.2])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    threads: int | None = 1
    data_map: bool = True

    def __post_init__(self) -> None:
        self.datasets = _as_list(self.datasets, str, "datasets")
        self.methods = _as_list(self.methods, str, "methods")
        self.keeps = _as_list(self.keeps, float, "keeps")
        self.seeds = _as_list(self.seeds, int, "seeds")
        self.validate()

    def validate(self) -> None:
        """Raise ValueError, saying what to change, on any setting that cannot run."""
        unknown = [m for m in self.methods if m not in METHOD_NAMES]
        if unknown:
            raise ValueError(f"unknown method(s) {', '.join(unknown)}; valid methods: {', '.join(METHOD_NAMES)}")
        bad = [k for k in self.keeps if not 0.0 < k < 1.0]
        if bad:
            raise ValueError(f"keeps must lie in (0, 1) (full data is the 'full' method), got {bad}")
        if not self.datasets or not self.seeds:
            raise ValueError("a grid needs at least one dataset and one seed")
        if any(m != "full" for m in self.methods) and not self.keeps:
            raise ValueError("pruning methods need at least one kept fraction (keeps)")
        for name in ("datasets", "methods", "keeps", "seeds"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"{name} has duplicates: {values}")
        for name in ("epochs", "batch_size", "max_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.layers is not None and self.layers < 1:
            raise ValueError(f"layers must be at least 1 (or None for all), got {self.layers}")
        if self.train_size is not None and self.train_size < 1:
            raise ValueError(f"train_size must be at least 1 (or None for all), got {self.train_size}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be at least 1 (or None for torch's default), got {self.threads}")

    def check_datasets(self) -> None:
        """Raise ValueError, listing the built-in datasets, on a name the benchmark cannot load."""
        from datadiet.data import dataset_task

        for name in self.datasets:
            dataset_task(name)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "GridConfig":
        valid = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - valid)
        if unknown:
            raise ValueError(f"unknown grid setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}")
        return cls(**values)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "GridConfig":
        """A grid from a YAML mapping of the fields above; ``name`` defaults to the file's stem."""
        import yaml

        values = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(values, dict):
            raise ValueError(f"{path}: a grid config is a YAML mapping of settings, got {type(values).__name__}")
        values.setdefault("name", Path(path).stem)
        return cls.from_dict(values)

    def replace(self, **changes: Any) -> "GridConfig":
        """A copy with the given settings changed (None values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def run_config(self, dataset: str, method: str, keep: float, seed: int) -> RunConfig:
        return RunConfig(dataset=dataset, method=method, keep=1.0 if method == "full" else keep, seed=seed,
                         diet_options={"progress": False}, **self.protocol_fields())

    def runs(self) -> list[RunConfig]:
        """Every run of the grid, in the order it runs (see the module docstring)."""
        pairs = [(m, k) for k in self.keeps for m in self.methods if m != "full"]
        out = []
        for dataset in self.datasets:
            for i, seed in enumerate(self.seeds):
                shift = (i * len(pairs)) // len(self.seeds) if pairs else 0
                rotated = pairs[shift:] + pairs[:shift]
                out.append(self.run_config(dataset, "full", 1.0, seed))
                out.extend(self.run_config(dataset, m, k, seed) for m, k in rotated)
        return out

    def data_map_key(self, dataset: str) -> str | None:
        """The run that writes the diet report: the default method (else the first pruning method)
        at the keep nearest 0.5, first seed."""
        if not self.data_map:
            return None
        pruning = [m for m in self.methods if m != "full"]
        if not pruning:
            return None
        method = "default" if "default" in pruning else pruning[0]
        keep = min(self.keeps, key=lambda k: (abs(k - 0.5), -k))
        return self.run_config(dataset, method, keep, self.seeds[0]).key()


def _as_list(value: Any, kind: type, name: str) -> list:
    """A list from a list, a single value, or a comma-separated string."""
    if value is None:
        raise ValueError(f"{name} must not be empty")
    if isinstance(value, str):
        value = [v for v in value.replace(",", " ").split() if v]
    elif not isinstance(value, (list, tuple)):
        value = [value]
    try:
        return [kind(v) for v in value]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a list of {kind.__name__} values, got {value!r}") from None


PROTOCOL_EXCLUDED = ("dataset", "method", "keep", "seed", "data_root")


def protocol(config: dict[str, Any]) -> dict[str, Any]:
    """The settings every run of one dataset in a results folder must share (so that time ratios
    and seed statistics compare like with like): the run config without dataset/method/keep/seed."""
    return {k: v for k, v in config.items() if k not in PROTOCOL_EXCLUDED}


def check_compatible(grid: GridConfig, records: list[dict]) -> None:
    """Raise if the folder already holds successful runs of a grid dataset under another protocol."""
    for dataset in grid.datasets:
        want = protocol(asdict(grid.run_config(dataset, "full", 1.0, grid.seeds[0])))
        for r in records:
            if r.get("status", OK) != OK or r["config"]["dataset"] != dataset:
                continue
            have = protocol(r["config"])
            diff = {k: (have.get(k), want.get(k)) for k in set(have) | set(want) if have.get(k) != want.get(k)}
            if diff:
                text = ", ".join(f"{k}: {a!r} there, {b!r} here" for k, a, b in
                                 sorted((k, *v) for k, v in diff.items()))
                raise ValueError(f"the results folder already holds {dataset} runs under another protocol ({text}); "
                                 "use another --out folder, or the same settings to continue that grid")


def estimated_cost(cfg: RunConfig) -> float:
    """Rough cost of a run as a fraction of the full-data run (for the ETA only): one warm-up
    epoch on everything, the other epochs on the kept fraction, plus scoring passes (a forward
    pass over N costs about a third of a training epoch over N)."""
    if cfg.method == "full":
        return 1.0
    if cfg.method == "infobatch":  # drops a fraction r of the ~half below the mean loss, 7/8 of the epochs
        return 1.0 - 0.5 * min(0.9, 1.0 - cfg.keep) * 0.875
    full_epochs = 2 if cfg.method == "default_anneal" else 1
    pruned = (cfg.epochs - full_epochs) / cfg.epochs
    rescored = {"nlu_data_diets": 1.0, "default": 0.1, "default_anneal": 0.1}.get(cfg.method, 0.0)
    return (1.0 - pruned) + pruned * (cfg.keep + rescored / 3.0)


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
    """The command that launched this process, shell-quoted (``datadiet bench ...``)."""
    argv = list(sys.argv if argv is None else argv)
    if argv and os.path.basename(argv[0]) == "datadiet":
        argv[0] = "datadiet"
    return shlex.join(argv)


def _short_metrics(metrics: dict[str, float]) -> str:
    names = [m for m in ("intent_accuracy", "slot_f1", "exact_match", "accuracy") if m in metrics]
    return ", ".join(f"{m} {100 * metrics[m]:.2f}" for m in names)


def run_grid(grid: GridConfig, out_dir: str | os.PathLike, *, run_fn: RunFn | None = None,
             command: str | None = None, log: Callable[[str], None] | None = None,
             max_runs: int | None = None) -> dict[str, Any]:
    """Run every run of ``grid`` not yet finished in ``out_dir`` and append each record to
    ``out_dir/results.jsonl`` as soon as it finishes.

    A run that raises is recorded with ``status: "error"``, its error and traceback, and the grid
    goes on; the next invocation runs that key again (only successful keys are skipped).
    KeyboardInterrupt stops the grid; finished runs stay recorded. ``max_runs`` stops after that
    many runs (for tests and partial sessions). Returns counts: planned, skipped, ran, failed.
    """
    if run_fn is None:
        from datadiet.bench.experiment import run_experiment as run_fn

        grid.check_datasets()
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
    map_keys = {k for k in (grid.data_map_key(d) for d in grid.datasets)
                if k is not None and tuple(k.split("|")[:2]) not in mapped}
    import torch

    threads = torch.get_num_threads()
    if grid.threads is not None:
        torch.set_num_threads(grid.threads)
    try:
        failed = _run_all(todo, map_keys, out, invocation["invocation"], run_fn, log)
    finally:
        torch.set_num_threads(threads)
    return {"planned": len(planned), "skipped": finished, "ran": len(todo), "failed": failed}


def _run_all(todo: list[RunConfig], map_keys: set[str], out: Path, invocation: str, run_fn: RunFn,
             log: Callable[[str], None]) -> int:
    """Run ``todo`` in order, appending each record as it finishes; returns how many failed.
    Runs whose key is in ``map_keys`` also write their diet report (data map) under ``out/diet_reports``."""
    spent, cost_done, failed = 0.0, 0.0, 0
    cost_left = sum(estimated_cost(c) for c in todo)
    for i, cfg in enumerate(todo, 1):
        key = cfg.key()
        eta = f", ETA {_format_seconds(spent / cost_done * cost_left)}" if cost_done else ""
        log(f"[{i}/{len(todo)}] start {key}{eta}")
        report = key in map_keys
        run_dir = out / REPORTS_DIR / key.replace("|", "_") if report else None
        start = time.perf_counter()
        try:  # the run's own output (Trainer logs, warnings) goes to runs.log; the console gets one line a run
            with open(out / RUN_LOG, "a", encoding="utf-8") as f, redirect_stdout(f), redirect_stderr(f):
                print(f"===== {_now()} {key}", flush=True)
                record = run_fn(cfg, output_dir=run_dir, progress=False, report=report)
            record["status"] = OK
            if "report" in record:  # paths relative to the results folder, so the folder can move
                record["report"] = {k: _relative(v, out) for k, v in record["report"].items()}
        except Exception as exc:  # noqa: BLE001 -- one failed run must not stop the grid
            record = {"key": key, "config": asdict(cfg), "status": ERROR, "error": f"{type(exc).__name__}: {exc}",
                      "traceback": traceback.format_exc()}
            failed += 1
        duration = time.perf_counter() - start
        record.update(invocation=invocation, finished=_now(), duration_seconds=duration)
        append_jsonl(out / RESULTS_FILE, record)
        spent += duration
        cost_done += estimated_cost(cfg)
        cost_left -= estimated_cost(cfg)
        eta = _format_seconds(spent / cost_done * cost_left) if cost_left > 1e-9 else "done"
        if record["status"] == OK:
            log(f"[{i}/{len(todo)}] done  {key} in {_format_seconds(duration)} (train {record['wall_seconds']:.1f} s, "
                f"scoring {record['scoring_seconds']:.1f} s; {_short_metrics(record['metrics'])}), ETA {eta}")
        else:
            log(f"[{i}/{len(todo)}] FAILED {key} after {_format_seconds(duration)}: {record['error']} "
                f"(recorded; it runs again next time), ETA {eta}")
    return failed


def _relative(path: str, base: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def _console_log() -> Callable[[str], None]:
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    return lambda text: console.print(f"{datetime.datetime.now():%H:%M:%S} {text}", markup=False)
