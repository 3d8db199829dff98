"""The built-in methods, one registry line each (see :mod:`datadiet.strategies.method_registry`).

In the order of the benchmark tables: the baselines and papers, the library's default and the
issue-13 screen's variants (``benchmarks/results/screen-atis``), then the strategies under their
own names (``dynamic``, ``static``, ``p3``) and the P3 variant of the GSM8K benchmark."""

from __future__ import annotations

from typing import Any

from datadiet.select.validation import check_keep
from datadiet.strategies.base import Strategy
from datadiet.strategies.method_registry import MethodBuilder, preset, register_method
from datadiet.strategies.registry import strategy_from_settings

IMPORTANCE = {"selector": "importance", "selector_options": {"hard_share": 0.5}}
"""The ``importance`` selector keeping the hardest half of the kept slots, the rest sampled with weight 1/p."""


def full_data(keep: Any = None, **overrides: Any) -> Strategy:
    """No pruning. ``keep`` is checked and then ignored, so that a grid can give every method one keep."""
    if keep is not None:
        check_keep(keep)
    return strategy_from_settings("full", **overrides)


def infobatch(keep: Any = None, **overrides: Any) -> Strategy:
    """InfoBatch prunes a fraction r of the below-mean-loss examples; ``r = 1 - keep`` (at most 0.9)
    is the closest it comes to a kept fraction (its actual kept fraction is recorded with each run).
    Without ``keep``, ``prune_ratio`` (default 0.5) is InfoBatch's own setting."""
    if keep is not None:
        if "prune_ratio" in overrides:
            raise ValueError("infobatch takes keep (prune_ratio = 1 - keep, at most 0.9) or prune_ratio, not both")
        overrides["prune_ratio"] = min(0.9, 1.0 - check_keep(keep))
    return strategy_from_settings("infobatch", **overrides)


def p3_budget(**defaults: Any):
    """A P3 method builder: ``keep`` is the budget (a fraction of the pool, or a count given as ``budget``)."""

    def build(keep: Any = None, **overrides: Any) -> Strategy:
        if keep is not None:
            if "budget" in overrides:
                raise ValueError("P3 takes keep (the budget as a fraction) or budget, not both")
            overrides["budget"] = check_keep(keep)
        return strategy_from_settings("p3", **{**defaults, **overrides})

    return build


def ramp(keep: Any = 0.5, **overrides: Any) -> Strategy:
    """A kept fraction falling linearly from 1.5 keep (at most 1) to 0.5 keep: the same mean as ``keep``."""
    keep = check_keep(0.5 if keep is None else keep)
    return strategy_from_settings("dynamic", **{"keep": (min(1.0, 1.5 * keep), 0.5 * keep), **overrides})


register_method("full", full_data, "no pruning (keep is ignored): the reference of every time ratio; "
                "time_budget=b: full data for b x E epochs of steps")
register_method("random_static", preset("random_static"), "one fixed uniform random subset")
register_method("random", preset("random"), "a fresh uniform random subset every epoch")
register_method("static_el2n", preset("static"), "EL2N once after warm-up (Paul et al. 2021)")
register_method("forgetting", preset("dynamic", score="forgetting", rescore="none", epsilon=0.0),
                "forgetting events (Toneva et al. 2019)")
register_method("nlu_data_diets",
                preset("dynamic", warmup_epochs=1, period=1, smoothing="as_published", rescore="all", selector="band",
                       offset=0.0),
                "the published dynamic protocol (Attendu & Corbeil 2023): whole-set re-scoring, the hardest band")
register_method("infobatch", infobatch, "InfoBatch (Qin et al. 2024): prune_ratio = 1 - keep, at most 0.9")
register_method("default", preset("dynamic"), "the library's default: free scores, stale re-scoring")
register_method("default_anneal", preset("dynamic", anneal_epochs=1),
                "the default with its last epoch on all the data (InfoBatch's annealing, applied to hard pruning)")
register_method("importance", preset("dynamic", **IMPORTANCE), "the importance selector, hardest half kept")
register_method("importance_anneal", preset("dynamic", **IMPORTANCE, anneal_epochs=1),
                "importance, last epoch on all the data")
register_method("default_tokens", preset("dynamic", budget_unit="tokens"), "the default, keep counted in tokens")
register_method("class_balanced", preset("dynamic", class_balanced=True), "the default's band within each class")
register_method("default_ramp", ramp, "a kept fraction falling linearly from 1.5 keep to 0.5 keep: the same mean")
register_method("cold", preset("dynamic", warmup_epochs=0, cold_start="random"),
                "the default with no warm-up (cold_start='random')")
register_method("cold_importance_anneal",
                preset("dynamic", warmup_epochs=0, cold_start="random", **IMPORTANCE, anneal_epochs=1),
                "no warm-up, the importance selector, last epoch on all the data")
register_method("ccs", preset("dynamic", selector="ccs"), "the default with coverage-centric selection (Zheng et al. 2023)")
register_method("grand", preset("dynamic", score="grand", rescore="all", epsilon=0.0),
                "dynamic pruning by GraNd at the last layer, re-scored every epoch (Paul et al. 2021)")
register_method("dynamic", preset("dynamic"), "the ScoreBased strategy with its defaults (DataDiet(keep=...))")
register_method("static", preset("static"), "score once after the warm-up, keep the hardest fraction for the rest")
register_method("p3", p3_budget(), "P3 (Yang et al. 2024): budget = keep, self-paced difficulty, a DPP for diversity")
register_method("p3_cold", p3_budget(cold_start="random"),
                "P3 whose first epoch trains a random budget instead of scoring the whole pool first")


def budgeted(builder: MethodBuilder, name: str) -> MethodBuilder:
    """``builder`` for a method that only means something at a time budget: without ``time_budget`` it
    raises (it would be the default at a keep under another name)."""

    def build(keep: Any = None, **overrides: Any) -> Strategy:
        if overrides.get("time_budget") is None:
            raise ValueError(f"method {name!r} says how a time budget is spent: give time_budget")
        return builder(keep, **overrides)

    return build


# Issue 27: the two rules a time budget can be spent by, each under its own name (the default is
# budget_epochs="auto" with keep_floor 0.3); default_auto is the first auto rule, with the floor at
# 0.5, as benchmarks/results/fewer-epochs-atis and sst2-3epochs measured it.
register_method("default_auto", budgeted(preset("dynamic", budget_epochs="auto", keep_floor=0.5), "default_auto"),
                "the first rule to spend a time budget on fewer epochs too: the most epochs keeping 0.5 or more")
register_method("default_all", budgeted(preset("dynamic", budget_epochs="all"), "default_all"),
                "the default with its time budget spent over every epoch (budget_epochs='all', the rule before "
                "'auto' became the default)")
