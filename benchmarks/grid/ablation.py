"""Variants read against a reference method's frontier at equal time: the ablation table of a
screening grid (``python -m benchmarks.grid.ablation OUT [--reference default] [--time predicted]``).

For each point (time t, accuracy a) of every other method, the reference's accuracy at t is read off
its frontier (piecewise-linear through its own points, :func:`benchmarks.grid.goals.interpolate_at`)
and the difference is reported; outside the reference's time range there is no reading. ``--time
predicted`` uses the plan's predicted ratio, which does not move with the machine's load (use it to
screen on a shared machine), ``measured`` the wall-time ratio, ``cpu`` the CPU-time ratio.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Sequence

from benchmarks.grid.aggregate import Row, main_metric, summarize
from benchmarks.grid.goals import interpolate_at
from benchmarks.grid.store import RESULTS_FILE, read_jsonl

TIME_FIELDS = {"predicted": "predicted_ratio", "measured": "time_ratio", "cpu": "cpu_ratio"}


def versus_reference(rows: Sequence[Row], reference: str, time: str = "predicted") -> list[dict]:
    """One line per (method, keep) other than ``reference`` and full data: its time and main metric,
    the reference's interpolated metric at that time (None outside its range) and the difference."""
    attr = TIME_FIELDS[time]
    metric = main_metric(next(iter(r.metrics for r in rows if r.metrics), {}))
    point = lambda r: (getattr(r, attr).mean, r.metrics[metric].mean)  # noqa: E731
    ref = [point(r) for r in rows if r.method == reference and metric in r.metrics and getattr(r, attr).mean is not None]
    out = []
    for r in rows:
        if r.method in (reference, "full") or metric not in r.metrics or getattr(r, attr).mean is None:
            continue
        t, a = point(r)
        y = interpolate_at(ref, t)
        out.append({"method": r.method, "keep": r.keep, "time": t, "metric": metric, "value": a, "n": r.n,
                    "reference": y, "diff": None if y is None else a - y})
    return out


def markdown(dataset: str, lines: Sequence[dict], reference: str, time: str, command: str) -> str:
    head = [f"## {dataset}: against `{reference}` at equal {time} time ratio", "",
            f"Written by `{command}`.", "",
            f"| method | keep | {time} time ratio | {lines[0]['metric'] if lines else 'metric'} (%) | seeds | "
            f"`{reference}` at that time (%) | difference |", "|---|---:|---:|---:|---:|---:|---:|"]
    for x in lines:
        ref = "outside its range" if x["reference"] is None else f"{100 * x['reference']:.2f}"
        diff = "" if x["diff"] is None else f"{100 * x['diff']:+.2f}"
        head.append(f"| {x['method']} | {x['keep']:g} | {x['time']:.3f} | {100 * x['value']:.2f} | {x['n']} | {ref} | {diff} |")
    return "\n".join(head) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="a results folder of the grid")
    parser.add_argument("--reference", default="default")
    parser.add_argument("--time", choices=sorted(TIME_FIELDS), default="predicted")
    args = parser.parse_args(argv)
    out = Path(args.out)
    summary = summarize(read_jsonl(out / RESULTS_FILE))
    command = "python -m benchmarks.grid.ablation " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    text = "".join(markdown(d, versus_reference(rows, args.reference, args.time), args.reference, args.time, command)
                   for d, rows in summary.items())
    (out / "ablation.md").write_text("# Ablation\n\n" + text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
