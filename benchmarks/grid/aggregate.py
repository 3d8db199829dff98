"""Numbers of a benchmark grid from its run records: time ratios, mean and std over seeds per
(dataset, method, keep) (:mod:`benchmarks.grid.goals` checks the issue's goals against them).

Definitions (METHODS.md section 6):

- run time = ``training_seconds + scoring_seconds + selection_seconds``: the wall time of
  ``trainer.train()`` (training steps, scoring passes, selection, data loading); evaluation is timed
  apart and excluded;
- time ratio of a run = its run time / the run time of the full-data run of the **same dataset
  and seed in the same results folder**; a run without that full-data run has no ratio;
- mean and std over seeds: arithmetic mean and sample standard deviation (ddof=1; undefined for a
  single seed); a difference smaller than the seed std is a tie.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from benchmarks.grid.budget_api import DEFAULT_BUDGET, diet_method
from benchmarks.grid.fewer_epochs import FEWER_EPOCHS, FEWER_STEPS, epochs_ratio, steps_ratio
from benchmarks.grid.store import OK, latest_by_key
from datadiet.diet import DataDiet
from datadiet.planning import PASS_COST
from datadiet.strategies import available_methods
from datadiet.toolkit.experiment import keep_unless_budgeted

METRICS = ("intent_accuracy", "slot_f1", "exact_match", "accuracy")
"""Task metrics reported, in this order, where a run has them."""

METRIC_LABELS = {"intent_accuracy": "intent acc", "slot_f1": "slot F1", "exact_match": "exact match",
                 "accuracy": "accuracy"}


def main_metric(metrics: Iterable[str]) -> str:
    """The metric goals and frontier plots use: sentence-level exact match (semantic frame accuracy:
    intent and every slot right) for joint NLU, accuracy for classification."""
    metrics = list(metrics)
    for name in ("exact_match", "accuracy", "intent_accuracy"):
        if name in metrics:
            return name
    raise ValueError(f"no known task metric among {metrics}")


def run_time(record: dict[str, Any]) -> float:
    """Seconds that count for the time ratio: training + scoring + selection (evaluation excluded)."""
    return float(record["training_seconds"] + record["scoring_seconds"] + record["selection_seconds"])


def full_key(record: dict[str, Any]) -> str:
    """Key of the full-data run a record's time ratio divides by (same dataset and seed)."""
    c = record["config"]
    return f"{c['dataset']}|full|1.0|{c['seed']}"


def cpu_time(record: dict[str, Any]) -> float | None:
    """Process CPU seconds of training (``cpu_seconds``; None in records without it). With one
    torch thread it is what the wall time would be on an idle machine, so its ratio is a check on
    the wall-time ratio when other jobs share the cores."""
    value = record.get("cpu_seconds")
    return None if value is None else float(value)


def token_compute(record: dict[str, Any]) -> float | None:
    """A run's compute in tokens, the machine-independent cost: tokens trained, plus its scored
    examples at :data:`~datadiet.planning.PASS_COST` of a trained example of the set's mean length
    (a forward-only pass; records count scored examples, not their tokens). None in records from
    before the grid counted tokens. Its ratio to the full-data run's is what the time ratio would
    be if time followed the tokens, whatever else ran on the machine."""
    if record.get("tokens_trained") is None or not record.get("tokens_full") or not record.get("examples_full"):
        return None
    mean_tokens = record["tokens_full"] / record["examples_full"]
    return float(record["tokens_trained"] + PASS_COST * record.get("scored_examples", 0) * mean_tokens)


TIME_BASES = {"wall": run_time, "cpu": cpu_time, "tokens": token_compute}
"""What a ratio against the full-data run can divide: wall seconds, process CPU seconds (one torch
thread: an idle machine's wall time), or :func:`token_compute` (no clock at all)."""


def time_ratios(records: Sequence[dict[str, Any]], seconds=run_time) -> dict[str, float]:
    """Ratio ``seconds(run) / seconds(full-data run of the same dataset and seed)`` of every
    successful run whose full-data run succeeded (wall time by default; ``seconds=cpu_time`` for CPU time)."""
    ok = latest_by_key(records, OK)
    out = {}
    for key, r in ok.items():
        full = ok.get(full_key(r))
        if full is None:
            continue
        num, den = seconds(r), seconds(full)
        if num is not None and den:
            out[key] = num / den
    return out


@dataclass
class Stat:
    """Mean and sample std (None below 2 values) of n values."""

    mean: float | None
    std: float | None
    n: int

    @classmethod
    def of(cls, values: Iterable[float | None]) -> "Stat":
        v = np.array([x for x in values if x is not None and not math.isnan(x)], dtype=float)
        if len(v) == 0:
            return cls(None, None, 0)
        return cls(float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else None, len(v))


@dataclass
class Row:
    """One (method, keep) of a dataset, or one (method, time budget) with the keep it resolved to,
    over its seeds."""

    dataset: str
    method: str
    keep: float
    seeds: list[int]
    metrics: dict[str, Stat]
    time_ratio: Stat
    cpu_ratio: Stat
    predicted_ratio: Stat
    run_seconds: Stat
    scoring_share: Stat
    trained_fraction: Stat
    token_fraction: Stat = field(default_factory=lambda: Stat(None, None, 0))
    """Tokens trained on over full data's (records from before the grid counted tokens have none)."""
    keys: list[str] = field(default_factory=list)
    budget: float | None = None
    epochs: int | None = None
    """The epochs its runs trained, where fewer than the protocol's (the ``fewer_epochs`` and
    ``fewer_steps`` peers; for ``fewer_steps`` the last of them trains ``keep`` of the data)."""

    @property
    def n(self) -> int:
        return len(self.seeds)

    def keep_text(self) -> str:
        """The keep column: ``0.3``, or ``1, 4 epochs`` for a row of the ``fewer_epochs`` peer
        (``1, 1.5 epochs`` for ``fewer_steps``, whose last epoch trained half the data)."""
        if self.epochs is None:
            return f"{self.keep:g}"
        if self.method == FEWER_STEPS:
            epochs = round(self.epochs - 1 + self.keep, 6)
            return f"1, {epochs:g} epoch" + ("" if epochs == 1 else "s")
        return f"{self.keep:g}, {self.epochs} epoch" + ("" if self.epochs == 1 else "s")


def method_order() -> tuple[str, ...]:
    """The order of a dataset's rows: full data, full data for fewer (whole, then fractional) epochs,
    then the library's registered methods in the order registered, ``default_budget`` after ``default``."""
    registered = [m for m in available_methods() if m != "full"]
    registered.insert(registered.index("default") + 1, DEFAULT_BUDGET)
    return ("full", FEWER_EPOCHS, FEWER_STEPS) + tuple(registered)


def _method_order(method: str) -> int:
    order = method_order()
    return order.index(method) if method in order else len(order)


def predicted_time_ratio(record: dict[str, Any]) -> float | None:
    """The time ratio the run's diet predicted before training (``DataDiet.plan``), from its config
    and training-set size; None for a record without them. A run given its time budget itself
    (``time_budget`` among its diet options) reports the prediction it was resolved with, when
    recorded: its plan is the library's rule of that day, which a later version may change."""
    c = record.get("config", {})
    if "num_train" not in record or "method" not in c:
        return None
    if c["method"] == FEWER_EPOCHS:
        return epochs_ratio(c["epochs"], c.get("protocol_epochs") or c["epochs"])
    if c["method"] == FEWER_STEPS:
        return steps_ratio(c["epochs"], c["keep"], c.get("protocol_epochs") or c["epochs"])
    options = c.get("diet_options", {})
    recorded = (record.get("budget_resolution") or {}).get("predicted_ratio")
    if options.get("time_budget") is not None and recorded is not None:
        return float(recorded)
    diet = DataDiet(method=diet_method(c["method"]), seed=c.get("seed", 0),
                    **keep_unless_budgeted(c.get("keep", 1.0), options), **options)
    return diet.plan(record["num_train"], c["epochs"]).predicted_time_ratio


def _epochs_share(record: dict[str, Any]) -> float:
    """The epochs the run's diet trained over the protocol's: a ``fewer_epochs`` run's count, and a
    diet that chose fewer epochs itself (``budget_epochs="auto"``), whose config keeps the protocol's
    epochs (``examples_full`` counts full data over the epochs the diet ran, so it says how many)."""
    c = record["config"]
    protocol_epochs = c.get("protocol_epochs") or c["epochs"]
    if record.get("num_train"):
        return record["examples_full"] / record["num_train"] / protocol_epochs
    return c["epochs"] / protocol_epochs


def trained_fraction(record: dict[str, Any]) -> float | None:
    """Examples trained on / (the protocol's epochs x training-set size): a run of fewer epochs
    (``fewer_epochs``, or a diet that chose them) counts against the protocol's epochs, not the
    fewer it trained (``examples_full`` counts those)."""
    if not record["examples_full"]:
        return None
    return record["examples_trained"] / record["examples_full"] * _epochs_share(record)


def token_fraction(record: dict[str, Any]) -> float | None:
    """Tokens trained on / full data's over the protocol's epochs (as :func:`trained_fraction` counts
    examples): the machine-independent cost. None for a record without token counts."""
    if not record.get("tokens_full") or record.get("tokens_trained") is None or not record["examples_full"]:
        return None
    return record["tokens_trained"] / record["tokens_full"] * _epochs_share(record)


def summarize(records: Sequence[dict[str, Any]],
              ratios: tuple[dict[str, float], dict[str, float]] | None = None) -> dict[str, list[Row]]:
    """Per dataset, one :class:`Row` per (method, keep) and per (method, time budget, resolved
    keep): full data first, then methods in the order of :func:`~datadiet.strategies.available_methods`,
    each with its keep rows from high to low keep, then its budget rows from high to low budget.
    ``ratios``: each run's (wall, CPU) time ratio by key, when they were computed elsewhere (runs
    pooled from several folders, each against its own full-data runs); by default from ``records``."""
    ok = latest_by_key(records, OK)
    ratios, cpu_ratios = ratios or (time_ratios(records), time_ratios(records, cpu_time))
    groups: dict[tuple[str, str, float, float | None], list[dict]] = {}
    for r in ok.values():
        c = r["config"]
        keep = 1.0 if c["method"] == "full" else float(c["keep"])
        budget = None if c["method"] == "full" or c.get("budget") is None else float(c["budget"])
        groups.setdefault((c["dataset"], c["method"], keep, budget), []).append(r)
    out: dict[str, list[Row]] = {}
    order = sorted(groups, key=lambda g: (g[0], _method_order(g[1]), g[3] is not None, -(g[3] or 0.0), -g[2]))
    for (dataset, method, keep, budget), runs in ((g, groups[g]) for g in order):
        runs = sorted(runs, key=lambda r: r["config"]["seed"])
        names = [m for m in METRICS if all(m in r["metrics"] for r in runs)]
        out.setdefault(dataset, []).append(Row(
            dataset=dataset, method=method, keep=keep, seeds=[r["config"]["seed"] for r in runs],
            metrics={m: Stat.of(r["metrics"][m] for r in runs) for m in names},
            time_ratio=Stat.of(ratios.get(r["key"]) for r in runs),
            cpu_ratio=Stat.of(cpu_ratios.get(r["key"]) for r in runs),
            predicted_ratio=Stat.of(predicted_time_ratio(r) for r in runs),
            run_seconds=Stat.of(run_time(r) for r in runs),
            scoring_share=Stat.of(r["scoring_seconds"] / run_time(r) if run_time(r) > 0 else None for r in runs),
            trained_fraction=Stat.of(trained_fraction(r) for r in runs),
            token_fraction=Stat.of(token_fraction(r) for r in runs),
            keys=[r["key"] for r in runs], budget=budget,
            epochs=runs[0]["config"]["epochs"] if runs[0]["config"].get("protocol_epochs") else None,
        ))
    return out
