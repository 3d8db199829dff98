"""How much does compressing the DPP's features change P3's picks?

Reference: ``select_p3`` on the full 4,096-d features with the authors' rules (quality ``1 - d``,
each dimension z-scored over the eligible examples). Compressed: the same selection on features
projected to k dimensions (``datadiet.select.compress``), with

- ``gaussian``/``sparse``: a seeded JL projection of the features z-scored over the pool first,
  then ``select_p3(standardize="center")`` (the recommended recipe);
- ``gaussian-raw``: the projection of the raw features, z-scored only afterwards (the wrong
  order: the massive dimensions dominate the projection);
- ``pca``: the top-k principal directions of the z-scored features, then ``"center"``;
- ``gaussian-seed2``: the recommended recipe with another projection seed, compared with
  the seed-1 picks (how much the picks move with the projection alone).

Metrics: overlap of the picked sets with the reference's, and the DPP objective of the picks
under the *reference* kernel, ``log det(L_Y)`` with ``L = diag(q) S diag(q)`` from the full
z-scored features, as the gap to the reference's picks (0 = as good; random eligible subsets
for scale). Features: ``synthetic.LLMLikeFeatures`` (LLM-like: low-rank, anisotropic, a shared
offset, 4 massive dimensions); difficulty uniform(0, 1); epoch 2 of 5 (P = 60).

    python benchmarks/dpp_speed/compression.py            # N = 20,000, budgets 200 and 2,000

Writes ``compression.json`` and ``compression.md`` next to this file.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from synthetic import LLMLikeFeatures  # noqa: E402

from datadiet.select.compress import FeatureProjection, compress_features, feature_moments  # noqa: E402
from datadiet.select.self_paced import select_p3, self_paced_eligible, self_paced_percentile, standardize_features  # noqa: E402


def objective(Z_unit: np.ndarray, q: np.ndarray, picks_local: np.ndarray) -> float:
    """log det(L_Y) for the reference kernel, Y given as rows of the eligible set."""
    G = Z_unit[picks_local].astype(np.float64)
    sign, logdet = np.linalg.slogdet(G @ G.T)
    if sign <= 0:
        return -np.inf
    return float(logdet + 2 * np.log(q[picks_local]).sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--d", type=int, default=4096)
    ap.add_argument("--dims", type=int, nargs="+", default=[64, 128, 256, 512])
    ap.add_argument("--budgets", type=int, nargs="+", default=[200, 2000])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__, Path.cwd()), *sys.argv[1:]])

    gen = LLMLikeFeatures(args.n, args.d, seed=args.seed)
    X = gen.all()
    rng = np.random.default_rng(args.seed + 1)
    difficulty = rng.uniform(0, 1, args.n)
    epoch, num_epochs = 2, 5
    P = self_paced_percentile(epoch, num_epochs)
    elig = self_paced_eligible(difficulty, P)
    q = 1 - difficulty[elig]
    Z = standardize_features(X, elig)
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)

    mean, std = feature_moments(X)
    t0 = time.perf_counter()
    pca_full = FeatureProjection.pca(X, max(args.dims))
    pca_seconds = time.perf_counter() - t0

    def compressed(kind: str, k: int) -> tuple[np.ndarray, str, float]:
        t = time.perf_counter()
        if kind in ("gaussian", "sparse"):
            C = compress_features(X, k, method=kind, seed=1)
            mode = "center"
        elif kind == "gaussian-seed2":
            C = compress_features(X, k, method="gaussian", seed=2)
            mode = "center"
        elif kind == "gaussian-raw":
            C = compress_features(X, k, method="gaussian", seed=1, standardize=False)
            mode = "zscore"
        else:  # pca: the top k of the fitted top max(dims)
            C = FeatureProjection(pca_full.matrix[:, :k], mean=mean, std=std, kind="pca")(X)
            mode = "center"
        return C, mode, time.perf_counter() - t

    rows = []
    for budget in args.budgets:
        t = time.perf_counter()
        ref = select_p3(difficulty, X, epoch, num_epochs, budget).indices
        ref_seconds = time.perf_counter() - t
        pos = {int(i): j for j, i in enumerate(elig)}
        local = lambda idx: np.array([pos[int(i)] for i in idx])  # noqa: E731
        ref_obj = objective(Z, q, local(ref))
        rand_obj = [objective(Z, q, rng.choice(len(elig), budget, replace=False)) for _ in range(3)]
        rows.append({"budget": budget, "method": f"reference ({args.d:,}-d)", "k": args.d, "standardize": "zscore",
                     "overlap": 1.0, "objective_gap": 0.0, "gain_kept": 1.0, "select_seconds": ref_seconds})
        rand_gap = float(np.mean(rand_obj) - ref_obj)
        rows.append({"budget": budget, "method": "random eligible subset", "k": None,
                     "overlap": budget / len(elig), "objective_gap": rand_gap, "gain_kept": 0.0})
        # How stable is the greedy itself? The reference on features with 1% noise added.
        noisy = X + 0.01 * X.std(0) * np.random.default_rng(7).standard_normal(X.shape, dtype=np.float32)
        picks = select_p3(difficulty, noisy, epoch, num_epochs, budget).indices
        del noisy
        gap = objective(Z, q, local(picks)) - ref_obj
        rows.append({"budget": budget, "method": "reference + 1% feature noise", "k": args.d, "standardize": "zscore",
                     "overlap": len(np.intersect1d(picks, ref)) / budget, "objective_gap": gap,
                     "gain_kept": 1 - gap / rand_gap})
        seed1 = {}
        for k in args.dims:
            for kind in ("gaussian", "gaussian-seed2", "sparse", "pca", "gaussian-raw"):
                C, mode, comp_seconds = compressed(kind, k)
                t = time.perf_counter()
                picks = select_p3(difficulty, C, epoch, num_epochs, budget, standardize=mode).indices
                sel_seconds = time.perf_counter() - t
                row = {"budget": budget, "method": kind, "k": k, "standardize": mode,
                       "overlap": len(np.intersect1d(picks, ref)) / budget,
                       "objective_gap": objective(Z, q, local(picks)) - ref_obj,
                       "gain_kept": 1 - (objective(Z, q, local(picks)) - ref_obj) / rand_gap,
                       "compress_seconds": comp_seconds, "select_seconds": sel_seconds}
                if kind == "gaussian":
                    seed1[k] = picks
                if kind == "gaussian-seed2":
                    row["overlap_with_seed1"] = len(np.intersect1d(picks, seed1[k])) / budget
                rows.append(row)
                print(json.dumps(row), flush=True)

    result = {"setting": {"n": args.n, "d": args.d, "eligible": int(len(elig)), "percentile": P,
                          "epoch": f"{epoch} of {num_epochs}", "seed": args.seed,
                          "features": "synthetic.LLMLikeFeatures (rank 64, 32 clusters, 4 massive dims)",
                          "pca_fit_seconds": pca_seconds},
              "command": command, "rows": rows}
    (HERE / "compression.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# DPP feature compression: effect on P3's picks", "",
        f"N = {args.n:,} LLM-like synthetic features of d = {args.d:,} (`synthetic.py`), difficulty uniform(0, 1), "
        f"epoch {epoch} of {num_epochs} (P = {P:g}: {len(elig):,} eligible), authors' rules (q = 1 - d). "
        "Reference: `select_p3` on the full features (z-scored over the eligible examples). "
        "Overlap: share of the reference's picks also picked. Objective gap: log det(L_Y) of the picks under the "
        "reference kernel minus the reference picks' (0 = as good, more negative = less diverse/lower quality). "
        "Gain kept: 1 - gap / (random subset's gap), the share of the reference's advantage over random picks "
        "that the compressed picks keep.", "",
        f"Command: `{command}`", "",
        "| budget | method | k | standardize in select_p3 | overlap with reference | objective gap | gain kept | overlap with seed 1 |",
        "|---:|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        seedcol = f"{r['overlap_with_seed1']:.1%}" if "overlap_with_seed1" in r else ""
        lines.append(f"| {r['budget']:,} | {r['method']} | {r['k'] or ''} | {r.get('standardize', '')} | "
                     f"{r['overlap']:.1%} | {r['objective_gap']:.1f} | {r['gain_kept']:.1%} | {seedcol} |")
    (HERE / "compression.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {HERE / 'compression.json'} and compression.md")


if __name__ == "__main__":
    main()
