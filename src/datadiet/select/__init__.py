"""Selectors: pure functions from scores (and labels, features) to a :class:`Selection`.

Each is registered under a name with one signature, ``SelectionRequest -> Selection``
(:mod:`datadiet.select.registry`); ``available_selectors()`` lists them.
"""

from datadiet.select.ccs import coverage_centric
from datadiet.select.importance import hard_and_sampled
from datadiet.select.infobatch import infobatch_prune
from datadiet.select.quantile import class_balanced_band, epsilon_greedy, quantile_band
from datadiet.select.random import random_subset
from datadiet.select.registry import (
    SelectionRequest,
    Selector,
    any_value,
    available_selectors,
    get_selector,
    number_in,
    register_selector,
)
from datadiet.select.selection import Selection
from datadiet.select.self_paced import select_p3
from datadiet.select.validation import kept_count

register_selector("band", lambda r: quantile_band(r.scores, r.keep, r.option("offset", 0.0)),
                  options={"offset": number_in("offset", 0, 1, high_open=True)},
                  description="the quantile band [Q(1-offset-keep), Q(1-offset)] of the scores (Attendu & Corbeil 2023)")
register_selector("epsilon_greedy",
                  lambda r: epsilon_greedy(r.scores, r.keep, r.option("epsilon", 0.1), r.rng, r.option("offset", 0.0)),
                  options={"epsilon": number_in("epsilon", 0, 1), "offset": number_in("offset", 0, 1, high_open=True)},
                  description="the band, with an epsilon share of the kept slots drawn uniformly (Raju et al. 2021)")
register_selector("class_balanced", lambda r: class_balanced_band(r.scores, r.labels, r.keep, r.option("offset", 0.0)),
                  needs=("scores", "labels"), options={"offset": number_in("offset", 0, 1, high_open=True)},
                  description="the band within each class, every class kept")
register_selector("random", lambda r: random_subset(r.num_examples, r.keep, r.rng), needs=(),
                  description="a uniform random subset")
register_selector("ccs", lambda r: coverage_centric(r.scores, r.keep, r.rng, r.option("beta", 0.1),
                                                    r.option("num_strata", 50)),
                  options={"beta": number_in("beta", 0, 1, high_open=True),
                           "num_strata": number_in("num_strata", 1, 10**6, integer=True)},
                  description="coverage-centric: drop the hardest beta, sample evenly across score strata (Zheng et al. 2023)")
register_selector("infobatch", lambda r: infobatch_prune(r.scores, r.option("prune_ratio", 0.5), r.rng),
                  options={"prune_ratio": number_in("prune_ratio", 0, 1, high_open=True)},
                  description="InfoBatch: drop a random share of the below-mean examples, rescale the rest (Qin et al. 2024)")
register_selector("importance", lambda r: hard_and_sampled(r.scores, r.keep, r.option("hard_share", 0.5), r.rng),
                  options={"hard_share": number_in("hard_share", 0, 1)},
                  description="the hardest hard_share of the kept slots, the rest sampled uniformly with loss weight 1/p (unbiased)")
register_selector("p3", lambda r: select_p3(r.scores, r.features, r.epoch, r.num_epochs, kept_count(r.keep, r.num_examples),
                                            rng=r.rng, **r.options),
                  needs=("scores", "features"),
                  options={"start": number_in("start", 0, 100), "end": number_in("end", 0, 100), "shape": any_value,
                           "quality": any_value, "standardize": any_value, "theta": any_value, "device": any_value},
                  description="P3: self-paced eligible set, then a DPP greedy MAP (Yang et al. 2024)")

__all__ = ["Selection", "SelectionRequest", "Selector", "available_selectors", "get_selector", "register_selector"]
