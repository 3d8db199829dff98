"""How many rows a feature projection's z-scoring moments need: P3's picks on compressed features
(k = 256) when the moments come from the first n rows a run sees (random order), against the
uncompressed DPP (the reference) and against projecting without z-scoring.

Same setting as ``compression.py`` (20,000 LLM-like 4,096-d features, epoch 2 of 5, authors'
rules). ``gain kept``: the share of the reference picks' DPP-objective lead over random picks
that the compressed picks keep.

    python benchmarks/dpp_speed/moments_fit.py     # a few minutes on one core

Writes ``moments_fit.json`` and ``moments_fit.md`` next to this file.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compression import objective  # noqa: E402
from synthetic import LLMLikeFeatures  # noqa: E402

from datadiet.select.compress import compress_features  # noqa: E402
from datadiet.select.self_paced import (select_p3, self_paced_eligible, self_paced_percentile,  # noqa: E402
                                        standardize_features)

HERE = Path(__file__).resolve().parent


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__, Path.cwd()), *sys.argv[1:]])
    n, d, k = 20_000, 4096, 256
    X = LLMLikeFeatures(n, d, seed=0).all()
    rng = np.random.default_rng(1)
    difficulty = rng.uniform(0, 1, n)
    epoch, num_epochs = 2, 5
    elig = self_paced_eligible(difficulty, self_paced_percentile(epoch, num_epochs))
    q = 1 - difficulty[elig]
    Z = standardize_features(X, elig)
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)
    pos = {int(i): j for j, i in enumerate(elig)}
    local = lambda idx: np.array([pos[int(i)] for i in idx])  # noqa: E731
    order = np.random.default_rng(5).permutation(n)  # the order a run meets the examples in
    rows = []
    for budget in (200, 2000):
        ref = select_p3(difficulty, X, epoch, num_epochs, budget).indices
        ref_obj = objective(Z, q, local(ref))
        rand_gap = np.mean([objective(Z, q, rng.choice(len(elig), budget, replace=False)) for _ in range(3)]) - ref_obj
        for label, fit in [("no z-scoring (project raw features)", 0), ("moments of the first 8 rows", 8),
                           ("moments of the first 64 rows", 64), ("moments of the first 256 rows", 256),
                           ("moments of all rows", n)]:
            if fit == 0:
                C, mode = compress_features(X, k, seed=1, standardize=False), "zscore"
            else:
                C, mode = np.empty((n, k), np.float32), "center"
                C[order] = compress_features(X[order], k, seed=1, fit_rows=fit)
            picks = select_p3(difficulty, C, epoch, num_epochs, budget, standardize=mode).indices
            gap = objective(Z, q, local(picks)) - ref_obj
            row = {"budget": budget, "moments": label, "fit_rows": fit,
                   "overlap": len(np.intersect1d(picks, ref)) / budget, "gain_kept": 1 - gap / rand_gap}
            rows.append(row)
            print(json.dumps(row), flush=True)
    (HERE / "moments_fit.json").write_text(json.dumps({"command": command, "n": n, "d": d, "k": k, "rows": rows},
                                                      indent=2) + "\n")
    lines = ["# Feature projection: rows needed for the z-scoring moments", "", f"Command: `{command}`", "",
             f"{n:,} LLM-like {d:,}-d features compressed to k = {k} (seeded Gaussian), P3 epoch 2 of 5 "
             f"({len(elig):,} eligible), authors' rules. Overlap: the reference's picks also picked. Gain kept: "
             "the share of the uncompressed picks' DPP-objective lead over random picks kept.", "",
             "| budget | moments | overlap with reference | gain kept |", "|---:|---|---:|---:|"]
    lines += [f"| {r['budget']:,} | {r['moments']} | {r['overlap']:.1%} | {r['gain_kept']:.1%} |" for r in rows]
    (HERE / "moments_fit.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
