"""One dataset's frontier and issue-13 goals over several results folders, for grids that grew
over sessions: ``python -m benchmarks.grid.combine OUT --from FOLDER [FOLDER ...] --dataset atis``.

Each run's time ratio stays against the full-data run of the same seed in its own folder (its own
session and machine load); the runs are then pooled by (method, keep or budget) over the folders,
so a folder can add seeds to another's rows. A run key (method, keep, seed) present in several
folders is taken from the first folder that has it. ``--time cpu`` reads every row's
CPU-time ratio instead of the wall-time one: with one torch thread it is what an idle machine
would show, the better basis when some folders ran beside other jobs. ``--time tokens`` reads no
clock: each run's compute in tokens (:func:`~benchmarks.grid.aggregate.token_compute`) over its
full-data run's, for records that count tokens. ``--exclude FOLDER:METHOD``
leaves one method's runs of one folder out (runs whose time ratios are known to be unusable, e.g.
against a full-data run of another session's machine, superseded by a later folder's). Writes ``OUT/frontier.md``
(the pooled rows with their folder, the issue-13 goal lines of the default and, where it has
points, of ``DataDiet(time_budget=b)`` as written: :func:`~benchmarks.grid.budget_api.budget_api_rows`)
and ``OUT/frontier_<dataset>.png``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Sequence

from benchmarks.grid.aggregate import TIME_BASES, Row, main_metric, summarize, time_ratios
from benchmarks.grid.budget_api import DEFAULT_BUDGET, budget_api_rows
from datadiet.planning import KEEP_FLOOR, PASS_COST
from benchmarks.grid.goals import issue13_goals
from benchmarks.grid.render import fmt, goals_table, plot_frontier
from benchmarks.grid.store import OK, RESULTS_FILE, latest_by_key, read_jsonl


def pooled_rows(folders: Sequence[Path], dataset: str, time: str = "wall",
                exclude: Sequence[tuple[Path, str]] = ()) -> list[tuple[Row, str]]:
    """The rows of ``dataset`` over the runs of every folder (first folder wins per run key), each
    run's time ratio against its own folder's full-data run, with ``time_ratio`` replaced by the
    CPU-time ratio when ``time == "cpu"``; each row with the folders its runs came from.
    ``exclude``: (folder, method) pairs whose runs are left out (the folder's full-data runs still
    serve as its other runs' reference)."""
    if time not in TIME_BASES:
        raise ValueError(f"time basis {time!r}: one of {', '.join(TIME_BASES)}")
    records, origin = [], {}
    ratios: dict[str, dict[str, float]] = {basis: {} for basis in TIME_BASES}
    left_out = {(Path(f).resolve(), m) for f, m in exclude}
    for folder in folders:
        found = read_jsonl(Path(folder) / RESULTS_FILE)
        folder_ratios = {basis: time_ratios(found, seconds) for basis, seconds in TIME_BASES.items()}
        for key, record in latest_by_key(found, OK).items():
            if record["config"]["dataset"] != dataset or key in origin:
                continue
            if (Path(folder).resolve(), record["config"]["method"]) in left_out:
                continue
            origin[key] = str(folder)
            records.append(record)
            for basis, theirs in folder_ratios.items():
                if key in theirs:
                    ratios[basis][key] = theirs[key]
    out = []
    for row in summarize(records, ratios=(ratios[time], ratios["cpu"])).get(dataset, []):
        sources = ", ".join(str(f) for f in folders if str(f) in {origin[k] for k in row.keys})
        out.append((row, sources))
    return out


BASIS_TEXT = {"wall": "wall-time", "cpu": "CPU-time",
              "tokens": f"compute in tokens (tokens trained + {PASS_COST:g} x a scored example of mean length)"}


def markdown(pooled: Sequence[tuple[Row, str]], dataset: str, time: str, command: str, goal_method: str) -> str:
    rows = [r for r, _ in pooled]
    metric = main_metric(next((r.metrics for r in rows if r.metrics), {}))
    lines = [f"# {dataset}: the frontier over several results folders", "",
             f"Written by `{command}`. Time basis: {BASIS_TEXT[time]} ratio, each "
             "against the full-data runs of its own folder.", "",
             f"| method | keep | {metric} (%) | time ratio ({time}) | seeds | folder |", "|---|---:|---:|---:|---:|---|"]
    lines += [f"| {r.method} | {r.keep_text()} | {fmt(r.metrics[metric], 100)} | {fmt(r.time_ratio, digits=3)} | {r.n} | "
              f"{folder} |" for r, folder in pooled if metric in r.metrics]
    lines += ["", f"## Goals (issue 13), {goal_method}", "", goals_table(issue13_goals(rows, method=goal_method)), ""]
    api = budget_api_rows(rows) if goal_method == "default" else []
    own = {id(r) for r in rows if r.method == DEFAULT_BUDGET}
    if api:
        lines += [f"## Goals (issue 13), {DEFAULT_BUDGET}: `DataDiet(time_budget=b)` as written", "",
                  f"Its own runs, and the default's at the budgets where every epoch keeps at least {KEEP_FLOOR:g} "
                  "(there the library's `\"auto\"` rule plans what the default's keep over all epochs is): "
                  + ", ".join(f"{r.budget:g} ({'its own' if id(r) in own else 'the default'})" for r in api) + ".", "",
                  goals_table(issue13_goals([r for r in rows if r.method != DEFAULT_BUDGET] + api,
                                            method=DEFAULT_BUDGET)), ""]
    lines += [f"![frontier](frontier_{dataset}.png)", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--from", dest="folders", nargs="+", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--time", choices=tuple(TIME_BASES), default="wall",
                        help="the cost axis: wall or CPU seconds, or tokens (machine-independent; records that "
                             "count tokens only)")
    parser.add_argument("--goal-method", default="default")
    parser.add_argument("--exclude", nargs="+", default=[], metavar="FOLDER:METHOD",
                        help="leave METHOD's runs of FOLDER (one of --from) out")
    args = parser.parse_args(argv)
    exclude = []
    for item in args.exclude:
        folder, _, method = item.rpartition(":")
        if folder not in args.folders or not method:
            parser.error(f"--exclude {item}: expected FOLDER:METHOD with FOLDER one of --from")
        exclude.append((Path(folder), method))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pooled = pooled_rows([Path(f) for f in args.folders], args.dataset, args.time, exclude)
    if not pooled:
        raise SystemExit(f"no {args.dataset} runs in {', '.join(args.folders)}")
    command = "python -m benchmarks.grid.combine " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    (out / "frontier.md").write_text(markdown(pooled, args.dataset, args.time, command, args.goal_method))
    plot_frontier([r for r, _ in pooled], out / f"frontier_{args.dataset}.png",
                  title=f"{args.dataset}: time ({args.time}) vs accuracy")
    print((out / "frontier.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
