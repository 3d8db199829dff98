"""The report of a results folder: ``results.json`` (every run, the commands, versions and machine),
``results.md`` (per dataset: table, goals, plots) and PNG plots (time-accuracy frontier per dataset,
data map of the default run). Everything is computed from ``results.jsonl``; rerun it any time."""

from __future__ import annotations

import datetime
import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

from benchmarks.grid.aggregate import METRIC_LABELS, Row, Stat, main_metric, summarize
from benchmarks.grid.goals import GOAL_SETS, Goal
from benchmarks.grid.store import ERROR, INVOCATIONS_FILE, OK, RESULTS_FILE, SKIPPED, latest_by_key, read_jsonl

GOAL_MARKS = {"met": "MET", "not met": "NOT MET", "undetermined": "UNDETERMINED", "not run": "NOT RUN"}


def write_report(out_dir: str | Path, goal_method: str = "default") -> dict[str, Path]:
    """Aggregate ``out_dir/results.jsonl`` into ``results.json``, ``results.md`` and the plots;
    returns the written paths by name. The goals (every set of :data:`~benchmarks.grid.goals.GOAL_SETS`)
    are those of ``goal_method``."""
    out = Path(out_dir)
    records = read_jsonl(out / RESULTS_FILE)
    if not records:
        raise FileNotFoundError(f"no run records in {out / RESULTS_FILE}: run the grid first")
    invocations = read_jsonl(out / INVOCATIONS_FILE)
    summary = summarize(records)
    dataset_goals = {d: {name: fn(rows, method=goal_method) for name, fn in GOAL_SETS.items()}
                     for d, rows in summary.items()}
    paths: dict[str, Path] = {}
    for dataset, rows in summary.items():
        frontier = plot_frontier(rows, out / f"frontier_{dataset}.png", title=f"{dataset}: time vs accuracy")
        if frontier is not None:
            paths[f"frontier_{dataset}"] = frontier
        data_map = copy_data_map(records, dataset, out)
        if data_map is not None:
            paths[f"data_map_{dataset}"] = data_map
    paths["json"] = out / "results.json"
    paths["json"].write_text(json.dumps({
        "generated": _now(),
        "definitions": _DEFINITIONS,
        "commands": _commands(invocations),
        "environments": _environments(records),
        "invocations": invocations,
        "summary": {d: [_row_dict(r) for r in rows] for d, rows in summary.items()},
        "goal_method": goal_method,
        "goals": {d: {name: [asdict(g) for g in gs] for name, gs in sets.items()} for d, sets in dataset_goals.items()},
        "runs": records,
    }, indent=1, default=str))
    paths["markdown"] = out / "results.md"
    paths["markdown"].write_text(markdown(records, invocations, summary, dataset_goals, paths, out))
    return paths


_DEFINITIONS = {
    "run_time": "training_seconds + scoring_seconds + selection_seconds: wall time of trainer.train(); "
                "evaluation excluded",
    "time_ratio": "run time / run time of the full-data run of the same dataset and seed in this results folder",
    "std": "sample standard deviation over seeds (ddof=1); undefined for one seed",
    "cpu_ratio": "process CPU seconds of training / the same for the full-data run (1 torch thread: the wall "
                 "time an idle machine would show; a check on time_ratio when other jobs share the cores)",
    "scoring_share": "scoring_seconds / run time",
    "examples_trained": "examples trained on / (epochs x training-set size); a run of fewer epochs (fewer_epochs, "
                        "fewer_steps, or a diet that chose them) counts against the protocol's epochs",
    "token_fraction": "tokens trained on (forward and backward) / full data's over the protocol's epochs: the "
                      "machine-independent cost (records from before the grid counted tokens have none)",
    "predicted_ratio": "the time ratio the diet's plan predicted before training (DataDiet.plan: a scored example "
                       "costs 0.18 of a trained one; counts examples, not tokens)",
    "main_metric": "exact_match (joint intent + slot) or accuracy (classification): used by the goals and plots",
    "budget": "a run at a time budget b trains at the kept fraction (searched in steps of 0.001) whose predicted "
              "ratio is closest to b without exceeding it; the keep column shows that fraction; fewer_epochs trains "
              "all the data for the most whole epochs n with n / epochs <= b (keep column: 1, n epochs); fewer_steps "
              "for b x epochs epochs of steps, its last epoch a random fraction of the data (keep column: 1, 1.5 "
              "epochs)",
    "frontier": "piecewise-linear interpolation of a method's mean main metric over its mean time ratio, through "
                "all its points (keep and budget runs)",
}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _commands(invocations: Sequence[dict]) -> list[str]:
    seen: list[str] = []
    for inv in invocations:
        if inv.get("command") and inv["command"] not in seen:
            seen.append(inv["command"])
    return seen


def _environments(records: Sequence[dict]) -> list[dict]:
    out: list[dict] = []
    for r in records:
        env = r.get("environment")
        if env and env not in out:
            out.append(env)
    return out


def _stat_dict(s: Stat) -> dict[str, Any]:
    return {"mean": s.mean, "std": s.std, "n": s.n}


def _row_dict(row: Row) -> dict[str, Any]:
    return {"method": row.method, "keep": row.keep, "budget": row.budget, "seeds": row.seeds, "keys": row.keys,
            "metrics": {m: _stat_dict(s) for m, s in row.metrics.items()},
            "time_ratio": _stat_dict(row.time_ratio), "cpu_ratio": _stat_dict(row.cpu_ratio),
            "predicted_ratio": _stat_dict(row.predicted_ratio),
            "run_seconds": _stat_dict(row.run_seconds),
            "scoring_share": _stat_dict(row.scoring_share), "trained_fraction": _stat_dict(row.trained_fraction),
            "token_fraction": _stat_dict(row.token_fraction)}


# ------------------------------------------------------------------------------------------ markdown
def fmt(s: Stat, scale: float = 1.0, digits: int = 2) -> str:
    """``mean ± std`` of a stat scaled by ``scale`` (``mean`` alone for one value, ``n/a`` for none)."""
    if s.mean is None:
        return "n/a"
    text = f"{scale * s.mean:.{digits}f}"
    return text if s.std is None else f"{text} ± {scale * s.std:.{digits}f}"


def table(rows: Sequence[Row]) -> str:
    """The markdown table of one dataset: kept fraction, time budget (where some run has one), task
    metrics in %, time ratio, CPU-time ratio (where the records have CPU time), scoring share in %, fraction of examples (and tokens, where the records count them) trained, run time in
    seconds, number of seeds."""
    metrics = [m for m in METRIC_LABELS if any(m in r.metrics for r in rows)]
    cpu = any(r.cpu_ratio.n for r in rows)
    tokens = any(r.token_fraction.n for r in rows)
    budgets = any(r.budget is not None for r in rows)
    head = ["method", "keep", *(["budget"] if budgets else []), *[f"{METRIC_LABELS[m]} (%)" for m in metrics],
            "time ratio",
            *(["CPU-time ratio"] if cpu else []), "predicted ratio", "scoring share (%)",
            "examples trained", *(["tokens trained"] if tokens else []), "run time (s)", "seeds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|"]
    for r in rows:
        budget = [] if not budgets else ["" if r.budget is None else f"{r.budget:g}"]
        cells = [r.method, r.keep_text(), *budget, *[fmt(r.metrics[m], 100) if m in r.metrics else "" for m in metrics],
                 fmt(r.time_ratio, digits=3), *([fmt(r.cpu_ratio, digits=3)] if cpu else []),
                 fmt(Stat(r.predicted_ratio.mean, None, r.predicted_ratio.n), digits=3), fmt(r.scoring_share, 100, 1), fmt(r.trained_fraction, digits=3),
                 *([fmt(r.token_fraction, digits=3)] if tokens else []), fmt(r.run_seconds, digits=0), str(r.n)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def goals_table(gs: Sequence[Goal]) -> str:
    lines = ["| goal | status | numbers |", "|---|---|---|"]
    lines += [f"| {g.goal} | **{GOAL_MARKS.get(g.status, g.status)}** | {g.evidence} |" for g in gs]
    return "\n".join(lines)


def _protocol_lines(records: Sequence[dict], dataset: str) -> list[str]:
    ok = [r for r in latest_by_key(records, OK).values() if r["config"]["dataset"] == dataset]
    if not ok:
        return []
    c, r = ok[0]["config"], ok[0]
    seeds = sorted({x["config"]["seed"] for x in ok})
    threads = sorted({x.get("environment", {}).get("torch_threads") for x in ok} - {None})
    layers = "all" if c["layers"] is None else c["layers"]
    return [f"- encoder `{c['encoder']}`, {layers} layers, {c['epochs']} epochs, batch {c['batch_size']}, "
            f"lr {c['learning_rate']:g} ({c['lr_scheduler']}), max length {c['max_length']}",
            f"- {r['num_train']:,} training examples"
            + ("" if c["train_size"] is None else f" (a fixed random subsample of {c['train_size']:,})")
            + f", evaluated on {c['eval_split']} ({r['num_eval']:,} examples); seeds {', '.join(map(str, seeds))}; "
            f"torch threads {', '.join(map(str, threads)) or 'n/a'}"]


def _planned_keys(invocations: Sequence[dict]) -> set[str]:
    from benchmarks.grid.config import GridConfig

    keys: set[str] = set()
    for inv in invocations:
        try:
            keys.update(c.key() for c in GridConfig.from_dict(inv["grid"]).runs())
        except (KeyError, TypeError, ValueError):
            continue
    return keys


def markdown(records: Sequence[dict], invocations: Sequence[dict], summary: dict[str, list[Row]],
             dataset_goals: dict[str, dict[str, list[Goal]]], paths: dict[str, Path], out: Path) -> str:
    """The report: commands, machine, then per dataset its protocol, table, plots and each goal set."""
    ok = latest_by_key(records, OK)
    latest = latest_by_key(records, None)
    failing = [r for r in latest.values() if r.get("status") == ERROR]
    skipped = [r for r in latest.values() if r.get("status") == SKIPPED]
    planned = _planned_keys(invocations)
    missing = sorted(planned - set(ok) - {r["key"] for r in failing + skipped})
    envs = _environments(records)
    parts = [
        f"# Benchmark results: {out.name}",
        "",
        f"Generated by `python -m benchmarks.grid` from `{RESULTS_FILE}` on {_now()}; do not edit by hand "
        f"(`python -m benchmarks.grid --report-only --out {out}` writes it again).",
        f"{len(ok)} runs finished" + (f" of {len(planned)} planned" if planned else "")
        + (f", {len(failing)} failing" if failing else "") + (f", {len(missing)} not yet run" if missing else "")
        + (f", {len(skipped)} skipped (budget out of reach)" if skipped else "") + ".",
        "",
        "Time ratio = (training + scoring + selection seconds) / the same for the full-data run of the same dataset "
        "and seed in this folder; evaluation is excluded. Values are mean ± sample std over seeds (std omitted for "
        "one seed); a difference smaller than the seed std is a tie. Metrics in %. The CPU-time ratio is the same "
        "ratio of process CPU time (with 1 torch thread, what the wall time would be on an idle machine): where the "
        "two disagree, other jobs slowed some runs down and the wall-time ratio is noisy.",
        "",
        "## Commands",
        "",
        "```",
        *(_commands(invocations) or ["(not recorded)"]),
        "```",
        "",
        "## Machine and versions",
        "",
    ]
    for env in envs:
        parts.append("- " + ", ".join(f"{k} {v}" for k, v in env.items()))
    for dataset, rows in summary.items():
        metric = main_metric(next(iter(rows)).metrics) if rows and next(iter(rows)).metrics else None
        parts += ["", f"## {dataset}", "", *_protocol_lines(records, dataset), "", table(rows), ""]
        if f"frontier_{dataset}" in paths:
            parts.append(f"![time-accuracy frontier]({paths[f'frontier_{dataset}'].name})")
        if f"data_map_{dataset}" in paths:
            source = next((r for r in records if r["config"]["dataset"] == dataset and r.get("report")), None)
            parts.append(f"![data map]({paths[f'data_map_{dataset}'].name})")
            if source is not None:
                folder = Path(source["report"]["json"]).parent
                parts.append(f"\nData map of run `{source['key']}` (its diet report: `{folder}`).")
        for name, gs in dataset_goals.get(dataset, {}).items():
            if gs:
                parts += ["", f"### Goals ({name}), on {METRIC_LABELS.get(metric, metric)}", "",
                          "Computed from the table above: *met* / *not met*; *undetermined* where the answer depends "
                          "on a seed std that one seed cannot give or on points outside the measured range; margins "
                          "and diffs in points.", "", goals_table(gs)]
    if failing:
        parts += ["", "## Failing runs", "", "Run again by the next invocation of the same grid.", ""]
        parts += [f"- `{r['key']}`: {r['error']}" for r in failing]
    if skipped:
        parts += ["", "## Skipped: no kept fraction fits the time budget", ""]
        parts += [f"- `{r['key']}`: {r['reason']}" for r in skipped]
    if missing:
        parts += ["", "## Not yet run", "", ", ".join(f"`{k}`" for k in missing)]
    return "\n".join(parts) + "\n"


# ------------------------------------------------------------------------------------------ plots
def plot_frontier(rows: Sequence[Row], path: Path, title: str) -> Path | None:
    """Main metric against time ratio: one line per method through its kept fractions (error bars:
    seed std on both axes), full data as a point at 1 with a band of +- its std."""
    metric_rows = [r for r in rows if r.metrics and r.time_ratio.mean is not None]
    if not metric_rows:
        return None
    plt = _pyplot()
    metric = main_metric(metric_rows[0].metrics)
    fig, ax = plt.subplots(figsize=(7, 5))
    full = next((r for r in metric_rows if r.method == "full"), None)
    if full is not None and metric in full.metrics:
        m = full.metrics[metric]
        ax.axhline(100 * m.mean, color="black", lw=1, ls="--")
        if m.std is not None:
            ax.axhspan(100 * (m.mean - m.std), 100 * (m.mean + m.std), color="grey", alpha=0.2, lw=0)
        ax.errorbar([1.0], [100 * m.mean], yerr=None if m.std is None else [100 * m.std], fmt="ks", label="full data")
    methods = [r.method for r in metric_rows if r.method != "full"]
    for method in dict.fromkeys(methods):
        pts = sorted((r for r in metric_rows if r.method == method and metric in r.metrics),
                     key=lambda r: (r.time_ratio.mean, r.keep))
        x = [r.time_ratio.mean for r in pts]
        y = [100 * r.metrics[metric].mean for r in pts]
        xerr = [r.time_ratio.std or 0.0 for r in pts]
        yerr = [100 * (r.metrics[metric].std or 0.0) for r in pts]
        line = ax.errorbar(x, y, xerr=xerr, yerr=yerr, marker="o", capsize=3, label=method)
        for r, xi, yi in zip(pts, x, y):
            label = f"{r.keep:g}" if r.budget is None else f"b{r.budget:g}"
            ax.annotate(label + ("" if r.epochs is None else f" ({r.epochs} ep)"), (xi, yi),
                        textcoords="offset points", xytext=(4, 4), fontsize=8, color=line[0].get_color())
    ax.set_xlabel("time ratio to full data (training + scoring + selection)")
    ax.set_ylabel(f"{METRIC_LABELS.get(metric, metric)} (%)")
    ax.set_title(title + " (labels: kept fraction, b: time budget, ep: epochs)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def data_map_record(records: Sequence[dict], dataset: str) -> dict | None:
    """The run whose data map the report shows, among the successful runs of ``dataset`` with a diet
    report: the ``default`` method's if there is one, then the lowest seed, then the latest."""
    with_map = [r for r in records if r.get("status") == OK and r["config"]["dataset"] == dataset
                and (r.get("report") or {}).get("data_map")]
    if not with_map:
        return None
    return min(reversed(with_map), key=lambda r: (r["config"]["method"] != "default", r["config"]["seed"]))


def copy_data_map(records: Sequence[dict], dataset: str, out: Path) -> Path | None:
    """``data_map_<dataset>.png`` beside the report: the data map of :func:`data_map_record`,
    re-plotted from its ``history.npz`` with the run in the title (the report's own PNG is copied
    if the history is missing)."""
    r = data_map_record(records, dataset)
    if r is None:
        return None
    source = _resolve(r["report"]["data_map"], out)
    history = _resolve(r["report"]["history"], out) if r["report"].get("history") else None
    target = out / f"data_map_{dataset}.png"
    if history is not None and history.exists():
        import numpy as np

        from datadiet.report import plot_data_map

        h = np.load(history)
        kept = h["kept"]
        pruned = 1.0 - kept.mean(0) if len(kept) else np.zeros(len(h["confidence"]))
        return plot_data_map(h["confidence"], h["variability"], pruned, target,
                             title=f"Data map: {dataset}, {r['config']['method']}, keep {r['config']['keep']:g}, "
                                   f"seed {r['config']['seed']}")
    if source.exists():
        shutil.copyfile(source, target)
        return target
    return None


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _resolve(path: str, out: Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else out / p
