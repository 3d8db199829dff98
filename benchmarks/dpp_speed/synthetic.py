"""LLM-like synthetic features for the DPP benchmarks, generated chunk by chunk from a seed.

Pooled hidden states of a decoder LM are far from isotropic: most of their variance lives in a
few dozen directions, dimensions have very different scales, there is a large shared offset, and
a handful of "massive activation" dimensions (Sun et al. 2024) are orders of magnitude larger
than the rest. This generator has each of those traits, so that z-scoring and compression matter
as they would on real features:

    x = offset + scale * (z @ B + noise),   z = centre[c] + s * g,   plus a few massive dimensions

with ``B`` a random (rank, d) basis, ``s_i = i^-0.5`` (a power-law spectrum), ``c`` one of 32
clusters, ``noise ~ N(0, 0.3^2)``, per-dimension ``scale`` log-normal (sigma 0.5); the typical
dimension has a standard deviation of about 4, the 4 massive ones ``300 + 100 g`` (about 35% of
the total variance, as in LLM states where a few dimensions dwarf the rest). Row block j is
drawn from ``default_rng([seed, j])``: any chunk can be regenerated alone, so 10^6 x 4,096
features never need to exist at once.
"""

from __future__ import annotations

import numpy as np

BLOCK = 16_384  # rows per independently seeded block


class LLMLikeFeatures:
    def __init__(self, n: int, d: int = 4096, *, rank: int = 64, clusters: int = 32, massive: int = 4, seed: int = 0):
        self.n, self.d, self.seed = int(n), int(d), int(seed)
        rng = np.random.default_rng([seed, 10**9])
        self.basis = (rng.standard_normal((rank, d)) / np.sqrt(rank)).astype(np.float32) * 4.0
        self.spectrum = (np.arange(1, rank + 1) ** -0.5).astype(np.float32)
        self.centres = rng.standard_normal((clusters, rank)).astype(np.float32)
        self.scale = np.exp(0.5 * rng.standard_normal(d)).astype(np.float32)
        self.offset = (2.0 * rng.standard_normal(d)).astype(np.float32)
        self.massive = rng.choice(d, size=massive, replace=False)

    def block(self, j: int, buffers: dict | None = None) -> np.ndarray:
        """Rows ``[j * BLOCK, min((j + 1) * BLOCK, n))`` as float32.

        ``buffers`` (a dict the caller keeps) lets consecutive calls reuse their two
        ``BLOCK x d`` arrays instead of allocating fresh ones; the values are the same either way,
        and the returned array is then overwritten by the next call.
        """
        rows = min(BLOCK, self.n - j * BLOCK)
        rng = np.random.default_rng([self.seed, j])
        c = rng.integers(0, len(self.centres), rows)
        z = self.centres[c] + rng.standard_normal((rows, len(self.spectrum)), dtype=np.float32) * self.spectrum
        if buffers is None:
            x = z @ self.basis
            noise = rng.standard_normal((rows, self.d), dtype=np.float32)
        else:
            if buffers.get("x") is None or buffers["x"].shape[0] < rows:
                buffers["x"] = np.empty((BLOCK, self.d), dtype=np.float32)
                buffers["noise"] = np.empty((BLOCK, self.d), dtype=np.float32)
            x = np.matmul(z, self.basis, out=buffers["x"][:rows])
            noise = rng.standard_normal(out=buffers["noise"][:rows], dtype=np.float32)
        noise *= 0.3
        x += noise
        x *= self.scale
        x += self.offset
        x[:, self.massive] = 300.0 + 100.0 * rng.standard_normal((rows, len(self.massive)), dtype=np.float32)
        return x

    def chunks(self):
        """Every row, block by block: ``(start, block)`` pairs."""
        for j in range((self.n + BLOCK - 1) // BLOCK):
            yield j * BLOCK, self.block(j)

    def all(self) -> np.ndarray:
        """Every row at once (only for small n)."""
        return np.concatenate([b for _, b in self.chunks()])
