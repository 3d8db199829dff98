"""Pruning methods by name, each a one-line DataDiet preset: the ``method`` of ``datadiet train``
configs, ``datadiet demo`` and the benchmark grids."""

from __future__ import annotations

from typing import Callable

from datadiet.diet import DataDiet
from datadiet.select.validation import check_keep

METHOD_FACTORIES: dict[str, Callable[..., DataDiet]] = {
    "full": lambda keep, **kw: DataDiet.full(**kw),
    "random_static": lambda keep, **kw: DataDiet.random(keep=keep, dynamic=False, **kw),
    "random": lambda keep, **kw: DataDiet.random(keep=keep, dynamic=True, **kw),
    "static_el2n": lambda keep, **kw: DataDiet.static(keep=keep, **kw),
    "forgetting": lambda keep, **kw: DataDiet(keep=keep, score="forgetting", rescore="none", epsilon=0.0, **kw),
    "nlu_data_diets": lambda keep, **kw: DataDiet.nlu_data_diets(keep=keep, **kw),
    # InfoBatch prunes a fraction r of the below-mean-loss examples; r = 1 - keep (at most 0.9) is
    # the closest it comes to a kept fraction. Its actual kept fraction is recorded with each run.
    "infobatch": lambda keep, **kw: DataDiet.infobatch(prune_ratio=min(0.9, 1.0 - keep), **kw),
    "default": lambda keep, **kw: DataDiet(keep=keep, **kw),
    "default_anneal": lambda keep, **kw: DataDiet(keep=keep, anneal_epochs=1, **kw),
    "importance": lambda keep, **kw: DataDiet(keep=keep, selector="importance", selector_options={"hard_share": 0.5}, **kw),
    "importance_anneal": lambda keep, **kw: DataDiet(keep=keep, selector="importance", selector_options={"hard_share": 0.5},
                                                     anneal_epochs=1, **kw),
    "default_tokens": lambda keep, **kw: DataDiet(keep=keep, budget_unit="tokens", **kw),
    "class_balanced": lambda keep, **kw: DataDiet(keep=keep, class_balanced=True, **kw),
    "default_ramp": lambda keep, **kw: DataDiet(keep=(min(1.0, 1.5 * keep), 0.5 * keep), **kw),
    "cold": lambda keep, **kw: DataDiet(keep=keep, warmup_epochs=0, cold_start="random", **kw),
    "cold_importance_anneal": lambda keep, **kw: DataDiet(keep=keep, warmup_epochs=0, cold_start="random", selector="importance",
                                                          selector_options={"hard_share": 0.5}, anneal_epochs=1, **kw),
    "ccs": lambda keep, **kw: DataDiet(keep=keep, selector="ccs", **kw),
    "grand": lambda keep, **kw: DataDiet(keep=keep, score="grand", rescore="all", epsilon=0.0, **kw),
}
"""``full``: no pruning. ``random_static`` / ``random``: one fixed / a fresh random subset.
``static_el2n``: EL2N once after warm-up (Paul et al. 2021). ``forgetting``: forgetting events
(Toneva et al. 2019). ``nlu_data_diets``: the published dynamic protocol (Attendu & Corbeil 2023).
``infobatch``: Qin et al. 2024. ``default``: the library's default (free scores, stale re-scoring).
``default_anneal``: the default with its last epoch on all the data (InfoBatch's annealing, applied
to hard pruning). ``ccs``: the default with coverage-centric selection (Zheng et al. 2023).
``grand``: dynamic pruning by GraNd at the last layer, re-scored every epoch (Paul et al. 2021).
The issue-13 screen (``benchmarks/results/screen-atis``): ``importance`` / ``importance_anneal``
(the ``importance`` selector, hardest half kept, the rest sampled with weight 1/p), ``cold`` /
``cold_importance_anneal`` (no warm-up, ``cold_start="random"``), ``default_tokens``
(``budget_unit="tokens"``), ``class_balanced`` (the band within each class) and ``default_ramp``
(a kept fraction falling linearly from 1.5 keep to 0.5 keep: the same mean)."""

METHOD_NAMES = tuple(METHOD_FACTORIES)


def make_diet(method: str, keep: float, **kwargs) -> DataDiet:
    """The diet of ``method`` at kept fraction ``keep`` (a number in (0, 1]; ignored by ``full``);
    ``kwargs`` go to the preset (``seed``, ``scoring_batch_size``, any :class:`DataDiet` option)."""
    try:
        factory = METHOD_FACTORIES[method]
    except (KeyError, TypeError):
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(METHOD_NAMES)}") from None
    return factory(check_keep(keep), **kwargs)
