"""Speed and memory of the DPP greedy MAP (datadiet.select.dpp.dpp_greedy_map).

Setting: ``budget`` picks (default 10,000, fixed for every N, so for N = 10,000 it picks every
item) out of N items with d = 384 features, standard-normal features (float32 or float64) and
uniform(0, 1) qualities, seed 0. Each (N, dtype) runs in its own subprocess so that its peak
resident memory (``resource.getrusage(...).ru_maxrss``) is its own; the table reports the peak
RSS of the whole process (interpreter, numpy, the features themselves) and the extra memory the
call needed on top of what was resident before it. Also run, for small N, the plain
(unblocked) fast greedy of Chen et al. (2018), one incremental-Cholesky update of every item per
pick, as a reference for speed and for the picks themselves.

    python benchmarks/dpp_speed/run.py                 # the full curve (about 15-30 min on 2 cores)
    python benchmarks/dpp_speed/run.py --sizes 10000 100000 --dtypes float32

LLM scale (``--llm-scale``): P3's selection of ``--budget`` examples out of ``--sizes`` examples
whose features are ``--raw-d``-dimensional (4,096: a 7-8B model's hidden size). The raw features
are generated block by block (``synthetic.LLMLikeFeatures``, standing in for the scoring pass) and
projected on the fly to ``--d`` dimensions with a seeded Gaussian JL projection after z-scoring
with statistics from the first ``--fit-rows`` rows (``datadiet.select.compress``), so only the
compressed ``N x d`` float32 matrix is ever held; then ``select_p3`` at the last epoch (every
example eligible, the worst case) with ``standardize="center"``. The row is added to the existing
results (rows of other settings are kept)::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/dpp_speed/run.py --llm-scale \
        --sizes 1000000 --budget 100000 --raw-d 4096 --d 256

Writes ``results.json``, ``results.md`` and ``dpp_speed.png`` next to this file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _rss_mb() -> float:
    """Current resident set size in MB (Linux /proc)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def chen_unblocked(features: np.ndarray, quality: np.ndarray, budget: int, eps: float = 1e-10) -> np.ndarray:
    """Chen, Zhang & Zhou (2018) fast greedy, one item-wide update per pick, with the same restart
    and relative rank rule as datadiet's. ``c`` holds at most d rows per round: O(N d) memory."""
    X = features / np.linalg.norm(features, axis=1, keepdims=True)
    n, d = X.shape
    q2 = quality.astype(np.float64) ** 2
    alive = q2 > 0
    picked: list[int] = []
    while len(picked) < budget and alive.any():
        d2 = np.where(alive, q2, -np.inf)
        c = np.empty((min(d, budget - len(picked)), n), dtype=X.dtype)
        k = 0
        while len(picked) < budget and k < c.shape[0]:
            gains = np.where(alive & (d2 >= eps * q2), d2, -np.inf)
            j = int(np.argmax(gains))
            if gains[j] == -np.inf:
                break
            # e_i = (L_ji - <c_j, c_i>) / sqrt(d2_j), with L_ji = q_j q_i <x_j, x_i>
            e = (np.sqrt(q2[j]) * np.sqrt(q2) * (X @ X[j]) - c[:k, j] @ c[:k]) / np.sqrt(d2[j])
            c[k] = e
            d2 = d2 - e * e
            picked.append(j)
            alive[j] = False
            k += 1
    return np.asarray(picked, dtype=np.int64)


def worker_llm_scale(args) -> None:
    """Generate raw features block by block, compress on the fly, then P3's selection."""
    sys.path.insert(0, str(HERE))
    from synthetic import BLOCK, LLMLikeFeatures

    from datadiet.select.compress import FeatureProjection, feature_moments
    from datadiet.select.self_paced import select_p3

    gen = LLMLikeFeatures(args.n, args.raw_d, seed=args.seed)
    t0 = time.perf_counter()
    fit_rows = min(args.fit_rows, args.n)
    buffers: dict = {}  # the generator reuses two BLOCK x raw_d arrays instead of allocating per block
    mean, std = feature_moments(gen.block(j, buffers)[: fit_rows - j * BLOCK]
                                for j in range((fit_rows + BLOCK - 1) // BLOCK))
    proj = FeatureProjection.random(args.raw_d, args.d, seed=args.seed + 1, kind="gaussian", mean=mean, std=std)
    fit_seconds = time.perf_counter() - t0
    C = np.empty((args.n, args.d), dtype=np.float32)
    gen_seconds = proj_seconds = 0.0
    for j in range((args.n + BLOCK - 1) // BLOCK):
        t = time.perf_counter()
        block = gen.block(j, buffers)
        t2 = time.perf_counter()
        C[j * BLOCK : j * BLOCK + len(block)] = proj(block)
        gen_seconds += t2 - t
        proj_seconds += time.perf_counter() - t2
    del block, buffers
    difficulty = np.random.default_rng(args.seed).uniform(0.0, 1.0, args.n)
    before = _rss_mb()
    peak_before_select = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    t0 = time.perf_counter()
    sel = select_p3(difficulty, C, 4, 5, args.budget, standardize="center")
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    np.save(args.picks_out, sel.indices)
    print(json.dumps({"seconds": seconds, "rss_before_mb": before, "peak_rss_mb": peak,
                      "peak_rss_before_select_mb": peak_before_select, "features_mb": C.nbytes / 1e6,
                      "raw_features_mb_never_held": args.n * args.raw_d * 4 / 1e6, "fit_seconds": fit_seconds,
                      "generate_seconds": gen_seconds, "project_seconds": proj_seconds,
                      "picks": len(sel), "unique": len(np.unique(sel.indices))}))


def worker(args) -> None:
    if args.method == "p3_compressed":
        worker_llm_scale(args)
        return
    from datadiet.select.dpp import dpp_greedy_map

    dtype = np.dtype(args.dtype)
    # The same values for both dtypes (drawn in float32, chunk by chunk so that no second full-size
    # temporary raises the process's peak memory before the call).
    rng = np.random.default_rng(args.seed)
    X = np.empty((args.n, args.d), dtype=dtype)
    for s in range(0, args.n, 65_536):
        X[s : s + 65_536] = rng.standard_normal((min(65_536, args.n - s), args.d), dtype=np.float32)
    q = rng.uniform(0.0, 1.0, args.n)
    before = _rss_mb()
    t0 = time.perf_counter()
    if args.method == "datadiet":
        picks = dpp_greedy_map(X, q, args.budget)
    else:
        picks = chen_unblocked(X, q, args.budget)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # kB -> MB on Linux
    np.save(args.picks_out, picks)
    print(json.dumps({"seconds": seconds, "rss_before_mb": before, "peak_rss_mb": peak,
                      "features_mb": X.nbytes / 1e6, "picks": len(picks), "unique": len(np.unique(picks))}))


def machine() -> dict:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"platform": platform.platform(), "cpu": cpu, "cpus": os.cpu_count(),
            "mem_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1)}


def versions() -> dict:
    import torch

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    return {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
            "datadiet_commit": commit}


def run_one(n, dtype, budget, d, method, seed, tmp, extra=()) -> dict:
    out = Path(tmp) / f"picks_{method}_{n}_{dtype}.npy"
    cmd = [sys.executable, __file__, "--worker", "--n", str(n), "--dtype", dtype, "--budget", str(budget),
           "--d", str(d), "--method", method, "--seed", str(seed), "--picks-out", str(out), *extra]
    load = os.getloadavg()[0]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"worker failed for n={n} {dtype} {method}:\n{res.stderr}")
    row = json.loads(res.stdout.strip().splitlines()[-1])
    row.update({"n": n, "dtype": dtype, "budget": budget, "d": d, "method": method, "load_avg_1min_before": load,
                "extra_mb": row["peak_rss_mb"] - row["rss_before_mb"], "picks_file": str(out)})
    print(f"{method:9s} N={n:>9,d} {dtype}: {row['seconds']:8.2f} s  peak RSS {row['peak_rss_mb']:8.0f} MB "
          f"(+{row['extra_mb']:.0f} MB over the {row['features_mb']:.0f} MB features), load {load:.2f}", flush=True)
    return row


def write_outputs(result: dict) -> None:
    (HERE / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = result["rows"]
    lines = [
        "# DPP greedy MAP: speed and memory",
        "",
        f"{result['setting']}",
        "",
        f"Command: `{result['command']}`",
        "",
        f"Machine: {result['machine']['cpu']}, {result['machine']['cpus']} CPUs (shared with other jobs; "
        "1-minute load average before each run in the last column), "
        f"{result['machine']['mem_gb']} GB. numpy {result['versions']['numpy']}, python {result['versions']['python']}.",
        "",
        "| method | N | dtype | budget | time (s) | peak RSS (MB) | extra over resident (MB) | features (MB) | same picks as float64 | load |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        if "raw_d" in r:
            continue
        lines.append(
            f"| {r['method']} | {r['n']:,} | {r['dtype']} | {r['budget']:,} | {r['seconds']:.1f} | {r['peak_rss_mb']:.0f} | "
            f"{r['extra_mb']:.0f} | {r['features_mb']:.0f} | {r.get('agreement', '')} | {r['load_avg_1min_before']:.2f} |"
        )
    lines += ["", *(f"- {note}" for note in result.get("notes", []))]
    llm = [r for r in rows if "raw_d" in r]
    if llm:
        lines += [
            "", "## LLM scale: compressed features", "",
            "P3's selection (`select_p3`, last epoch: every example eligible) from features of `raw d` dimensions, "
            "generated block by block (`synthetic.LLMLikeFeatures`) and compressed on the fly to `d` dimensions "
            "(seeded Gaussian JL after z-scoring with the first rows' statistics, `datadiet.select.compress`): the "
            "`N x raw d` float32 matrix is never held. Time of the selection alone; generating the features stands in "
            "for the model's scoring pass and is listed apart. Peak RSS is the whole process's maximum (generation, "
            "projection and selection). No GPU was lent to this session, so every row ran on the CPU, one thread "
            "(`OMP_NUM_THREADS=1`, `nice -n 10`). The DPP's work grows as N x d x budget, so d = 256 would take "
            "about twice as long; d = 128 was run to finish within the session's time (the compression study, "
            "`compression.md`, shows what a smaller d costs in picks).", "",
            "| N | raw d (never held) | d | budget | select_p3 time (s) | peak RSS (MB) | compressed features (MB) | "
            "raw features would be (MB) | generate (s) | project (s) | fit stats (s) | load | command |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in llm:
            lines.append(
                f"| {r['n']:,} | {r['raw_d']:,} | {r['d']} | {r['budget']:,} | {r['seconds']:.1f} | "
                f"{r['peak_rss_mb']:.0f} | {r['features_mb']:.0f} | {r['raw_features_mb_never_held']:.0f} | "
                f"{r['generate_seconds']:.1f} | {r['project_seconds']:.1f} | {r['fit_seconds']:.1f} | "
                f"{r['load_avg_1min_before']:.2f} | `{r['command']}` |"
            )
    (HERE / "results.md").write_text("\n".join(lines) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    rows = [r for r in rows if "raw_d" not in r]
    for method in sorted({r["method"] for r in rows}):
        for dtype in sorted({r["dtype"] for r in rows}):
            sel = sorted((r for r in rows if r["method"] == method and r["dtype"] == dtype), key=lambda r: r["n"])
            if not sel:
                continue
            label = f"{method} {dtype}"
            axes[0].plot([r["n"] for r in sel], [r["seconds"] for r in sel], "o-", label=label)
            axes[1].plot([r["n"] for r in sel], [r["peak_rss_mb"] for r in sel], "o-", label=label)
    axes[0].axhline(30, color="grey", ls=":", lw=1)
    axes[1].axhline(2000, color="grey", ls=":", lw=1)
    for ax, ylabel in zip(axes, ["time (s)", "peak RSS (MB)"]):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("N (pool size)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(f"DPP greedy MAP, {rows[0]['budget']:,} picks, d = {rows[0]['d']}")
    fig.tight_layout()
    fig.savefig(HERE / "dpp_speed.png", dpi=120)


def run_llm_scale(args, command: str) -> None:
    """Add (or replace) the --llm-scale rows in the existing results.json and rewrite the outputs."""
    env = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    command = " ".join(f"{k}={v}" for k, v in env.items() if v) + (" " if any(env.values()) else "") + command
    result = json.loads((HERE / "results.json").read_text())
    note = ("The rows above were measured with datadiet_commit " + result["versions"]["datadiet_commit"][:7] +
            "; since then the default pool grew with N (N // 16, within [4096, 65536]) and the pool is found with one "
            "partition, which leaves the picks identical and makes large N faster (10^6 x 64 random features, 2,000 "
            "picks, one thread on the busy machine: 44 s before, 26 s after).")
    if note not in result["notes"]:
        result["notes"].append(note)
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            extra = ["--raw-d", str(args.raw_d), "--fit-rows", str(args.fit_rows)]
            row = run_one(n, "float32", min(args.budget, n), args.d, "p3_compressed", args.seed, tmp, extra)
            row.pop("picks_file")
            row.update({"raw_d": args.raw_d, "fit_rows": args.fit_rows, "command": command,
                        "threads": env, "gpu": "none lent to this session: CPU only"})
            print(json.dumps(row), flush=True)
            result["rows"] = [r for r in result["rows"]
                              if not ("raw_d" in r and (r["n"], r["d"], r["raw_d"], r["budget"]) ==
                                      (row["n"], row["d"], row["raw_d"], row["budget"]))]
            result["rows"].append(row)
            result["llm_scale_versions"] = versions()
            write_outputs(result)
    print(f"wrote {HERE / 'results.json'}, results.md")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000, 300_000, 1_000_000])
    ap.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    ap.add_argument("--budget", type=int, default=10_000)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reference-sizes", type=int, nargs="*", default=[10_000],
                    help="N for which the unblocked Chen et al. greedy also runs (float64)")
    ap.add_argument("--llm-scale", action="store_true",
                    help="P3 selection from --raw-d features compressed on the fly to --d (added to the existing results)")
    ap.add_argument("--raw-d", type=int, default=4096, help="raw feature dimension for --llm-scale")
    ap.add_argument("--fit-rows", type=int, default=65_536, help="rows whose statistics z-score before the projection")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--dtype", help=argparse.SUPPRESS)
    ap.add_argument("--method", default="datadiet", help=argparse.SUPPRESS)
    ap.add_argument("--picks-out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return

    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__, Path.cwd()), *sys.argv[1:]])
    if args.llm_scale:
        run_llm_scale(args, command)
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            budget = min(args.budget, n)
            for dtype in args.dtypes:
                rows.append(run_one(n, dtype, budget, args.d, "datadiet", args.seed, tmp))
            if n in args.reference_sizes:
                rows.append(run_one(n, "float64", budget, args.d, "chen", args.seed, tmp))
        # Agreement with the float64 run of datadiet at the same N: same picks in the same order
        # (prefix length) and overlap of the picked sets.
        for r in rows:
            ref = next((x for x in rows if x["n"] == r["n"] and x["method"] == "datadiet" and x["dtype"] == "float64"), None)
            if ref is None or ref is r:
                continue
            a, b = np.load(r["picks_file"]), np.load(ref["picks_file"])
            same = np.flatnonzero(a != b)
            prefix = int(same[0]) if len(same) else len(a)
            r["agreement"] = f"first {prefix:,} identical; sets overlap {len(np.intersect1d(a, b)) / len(a):.1%}"
        for r in rows:
            r.pop("picks_file")
    result = {
        "setting": (
            f"{args.budget:,} picks (fixed, or all N if smaller) out of N items, d = {args.d}, features "
            f"standard normal, quality uniform(0, 1), seed {args.seed}; datadiet = blocked exact greedy "
            "(datadiet.select.dpp.dpp_greedy_map, default pool size), chen = unblocked fast greedy of "
            "Chen et al. 2018 (one item-wide update per pick), both with restarts when the rank (d) is exhausted."
        ),
        "command": command,
        "machine": machine(),
        "versions": versions(),
        "rows": rows,
        "notes": [
            "Peak RSS includes the interpreter, numpy and the features array (N x d); the extra column is the "
            "peak minus the RSS just before the call. No N x N (or N x budget) matrix is ever built.",
            "Times are wall-clock on a machine shared with other developers' jobs, so they vary by up to 2x "
            "from run to run; compare rows within one run.",
        ],
    }
    write_outputs(result)
    print(f"wrote {HERE / 'results.json'}, results.md, dpp_speed.png")


if __name__ == "__main__":
    main()
