"""What a diet did, for people: a JSON record and PNG plots (kept per epoch, time split, data map)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import numpy as np

from datadiet._extras import require
from datadiet.history import ScoreHistory
from datadiet.schedule import Schedule
from datadiet.strategies.base import Strategy


class DietRecord(Protocol):
    """What a report reads from a diet (a :class:`~datadiet.DataDiet` after :meth:`setup` is one)."""

    strategy: Strategy
    schedule: Schedule
    num_examples: int
    history: ScoreHistory
    log: list[dict]

    def kept_matrix(self) -> np.ndarray: ...

    def summary(self) -> dict: ...


def _pyplot():
    matplotlib = require("matplotlib", extra="report", purpose="datadiet.report")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_data_map(confidence: np.ndarray, variability: np.ndarray, pruned_fraction: np.ndarray, path: str | Path,
                  title: str = "Data map") -> Path:
    """Dataset-cartography scatter (Swayamdipta et al. 2020): mean confidence p(y) against its
    variability over training, each example coloured by the fraction of epochs it was pruned."""
    plt = _pyplot()
    ok = np.isfinite(confidence) & np.isfinite(variability)
    fig, ax = plt.subplots(figsize=(6, 5))
    sc = ax.scatter(variability[ok], confidence[ok], c=pruned_fraction[ok], cmap="coolwarm", s=6, alpha=0.7,
                    vmin=0, vmax=1)
    fig.colorbar(sc, ax=ax, label="fraction of epochs pruned")
    ax.set_xlabel("variability (std of p(y) over observations)")
    ax.set_ylabel("confidence (mean p(y))")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_epochs(log: list[dict], num_examples: int, path: str | Path, title: str = "Examples per epoch") -> Path:
    """Bars of examples trained per epoch, with the scoring-pass examples stacked on top."""
    plt = _pyplot()
    epochs = [r["epoch"] for r in log]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(epochs, [r["kept"] for r in log], label="trained on", color="#4c72b0")
    ax.bar(epochs, [r["scored"] for r in log], bottom=[r["kept"] for r in log], label="scored (forward only)",
           color="#dd8452")
    ax.axhline(num_examples, color="grey", ls="--", lw=1, label="full data")
    ax.set_xlabel("epoch")
    ax.set_ylabel("examples")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def write_report(diet: DietRecord, out_dir: str | Path) -> dict[str, Path]:
    """Write ``diet.json`` (settings, per-epoch log, totals), ``epochs.png`` and ``data_map.png``."""
    kept = diet.kept_matrix()  # raises if the diet was never set up
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pruned_fraction = 1.0 - kept.mean(0) if len(kept) else np.zeros(diet.num_examples)
    dyn = diet.history.dynamics()
    record = {
        "strategy": diet.strategy.to_dict(),
        "num_examples": diet.num_examples,
        "num_epochs": diet.schedule.num_epochs,
        "epochs": diet.log,
        "summary": diet.summary(),
        "never_pruned": int((pruned_fraction == 0).sum()),
        "pruned_every_pruned_epoch": int((kept.sum(0) == (kept.all(1)).sum()).sum()) if len(kept) else 0,
    }
    paths = {"json": out / "diet.json"}
    paths["json"].write_text(json.dumps(record, indent=2, default=float))
    paths["epochs"] = plot_epochs(diet.log, diet.num_examples, out / "epochs.png")
    paths["data_map"] = plot_data_map(dyn["confidence"], dyn["variability"], pruned_fraction, out / "data_map.png")
    np.savez_compressed(out / "history.npz", kept=kept, **{k: v for k, v in dyn.items()},
                        latest=diet.history.latest, ema=diet.history.ema)
    paths["history"] = out / "history.npz"
    return paths
