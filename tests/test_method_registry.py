"""One method vocabulary: every name of the registry reaches ``DataDiet(method=...)``, the CLI's
config validation and the benchmark grid, and builds what the old ``datadiet/methods.py`` built."""

from __future__ import annotations

import pytest

from benchmarks.grid.aggregate import method_order
from benchmarks.grid.config import GridConfig, GridRun, grid_methods, predicted_ratio
from benchmarks.gsm8k_p3.methods import MethodSpec
from datadiet import METHODS, DataDiet
from datadiet.strategies import available_methods, preset, registered_method
from datadiet.toolkit.experiment import RunConfig
from datadiet.toolkit.fields import ConfigError
from datadiet.validation import UnknownName

DYNAMIC = {"method": "dynamic", "keep": 0.3, "score": "auto", "smoothing": "ema", "selector": "epsilon_greedy",
           "selector_options": {"epsilon": 0.1}, "warmup_epochs": 1, "ema_alpha": 0.8, "ucb_c": 1.0,
           "rescore": "stale", "rescore_fraction": 0.1, "period": 1, "anneal_epochs": 0, "time_budget": None,
           "cold_start": "score", "budget_unit": "examples"}  # budget_epochs, keep_floor: inert without a budget
IMPORTANCE = {"selector": "importance", "selector_options": {"hard_share": 0.5}}
P3 = {"method": "p3", "budget": 0.3, "start": 0.0, "end": 100.0, "shape": "p3_code", "quality": "easiness",
      "standardize": True, "theta": None, "trend_alpha": 0.0, "score": "policy_difficulty", "rescore": "stale",
      "rescore_fraction": 0.1, "warmup_epochs": 0, "cold_start": "score", "feature_dim": None}

BEFORE = {
    # read from datadiet/methods.py's METHOD_FACTORIES as it was, at keep 0.3
    # (and "time_budget": None since full and random take one: the setting is off, as it was)
    "full": {"method": "full", "time_budget": None},
    "random_static": {"method": "random_static", "keep": 0.3, "dynamic": False, "warmup_epochs": 1, "period": 1,
                      "anneal_epochs": 0, "time_budget": None},
    "random": {"method": "random", "keep": 0.3, "dynamic": True, "warmup_epochs": 1, "period": 1, "anneal_epochs": 0,
               "time_budget": None},
    "static_el2n": {"method": "static", "keep": 0.3, "score": "auto", "smoothing": "latest", "selector": "band",
                    "selector_options": {}, "warmup_epochs": 1, "ema_alpha": 0.8, "ucb_c": 1.0},
    "forgetting": {**DYNAMIC, "score": "loss", "smoothing": "forgetting", "selector_options": {"epsilon": 0.0},
                   "rescore": "none"},
    "nlu_data_diets": {**DYNAMIC, "smoothing": "as_published", "selector": "band", "selector_options": {"offset": 0.0},
                       "rescore": "all"},
    # (less max_prune_ratio, which acts only under a time budget: an inert setting, not shown)
    "infobatch": {"method": "infobatch", "prune_ratio": 0.7, "anneal_fraction": 0.125, "time_budget": None},
    "default": DYNAMIC,
    "default_anneal": {**DYNAMIC, "anneal_epochs": 1},
    "importance": {**DYNAMIC, **IMPORTANCE},
    "importance_anneal": {**DYNAMIC, **IMPORTANCE, "anneal_epochs": 1},
    "default_tokens": {**DYNAMIC, "budget_unit": "tokens"},
    "class_balanced": {**DYNAMIC, "selector": "class_balanced", "selector_options": {}},
    "default_ramp": {**DYNAMIC, "keep": [0.44999999999999996, 0.15]},
    "cold": {**DYNAMIC, "warmup_epochs": 0, "cold_start": "random"},
    "cold_importance_anneal": {**DYNAMIC, **IMPORTANCE, "warmup_epochs": 0, "anneal_epochs": 1, "cold_start": "random"},
    "ccs": {**DYNAMIC, "selector": "ccs", "selector_options": {}},
    "grand": {**DYNAMIC, "score": "grand", "selector_options": {"epsilon": 0.0}, "rescore": "all"},
}
ADDED = {  # the strategies under their own names, and the GSM8K benchmark's cold-start P3
    "dynamic": DYNAMIC,
    "static": BEFORE["static_el2n"],
    "p3": P3,
    "p3_cold": {**P3, "cold_start": "random"},
}


BUDGETED = ("default_auto", "default_all")  # methods that need a time budget: DataDiet(method=..., time_budget=b)


def test_the_vocabulary_is_the_old_presets_in_their_order_then_the_strategies():
    assert available_methods() == METHODS == tuple(BEFORE) + tuple(ADDED) + BUDGETED


def test_the_budget_rules_have_names_and_need_a_budget():
    with pytest.raises(ValueError, match="give time_budget"):
        DataDiet(method="default_auto")
    planned_keep = {k: v for k, v in DYNAMIC.items() if k != "keep"}  # a budget plans the keep: not shown
    built = DataDiet(method="default_auto", time_budget=0.3).strategy.to_dict()
    assert built == {**planned_keep, "time_budget": 0.3, "budget_epochs": "auto", "keep_floor": 0.5}
    plan = DataDiet(method="default_auto", time_budget=0.3).plan(4478, 10)
    assert len(plan.epochs) == 4 and "4 epochs at keep" in str(plan)  # 10 epochs would keep 0.2 < 0.5
    every = DataDiet(method="default_all", time_budget=0.3)
    assert every.strategy.to_dict() == {**planned_keep, "time_budget": 0.3, "budget_epochs": "all"}
    assert len(every.plan(4478, 10).epochs) == 10
    library = DataDiet(time_budget=0.3).strategy.to_dict()  # the default: "auto" at the floor 0.3
    assert library == {**planned_keep, "time_budget": 0.3, "budget_epochs": "auto", "keep_floor": 0.3}
    assert len(DataDiet(time_budget=0.3).plan(4478, 10).epochs) == 7


@pytest.mark.parametrize("name", list(BEFORE) + list(ADDED))
def test_every_name_builds_what_it_built_before(name):
    assert DataDiet(method=name, keep=0.3).strategy.to_dict() == {**BEFORE, **ADDED}[name]


def test_keywords_override_a_presets_defaults_and_infobatch_caps_its_ratio():
    assert DataDiet(method="nlu_data_diets", keep=0.5, rescore="stale").strategy.rescore == "stale"
    assert DataDiet(method="default_tokens", keep=0.5, budget_unit="examples").strategy.budget_unit == "examples"
    assert DataDiet(method="infobatch", keep=0.05).strategy.prune_ratio == 0.9
    assert DataDiet(method="infobatch", prune_ratio=0.3).strategy.prune_ratio == 0.3
    assert DataDiet(method="nlu_data_diets").strategy == DataDiet.nlu_data_diets().strategy
    assert DataDiet(method="p3", budget=128).strategy.budget == 128
    with pytest.raises(ValueError, match="keep .* must be a number in"):
        DataDiet(method="full", keep=0)


def test_an_unknown_name_is_one_error_listing_the_valid_names():
    with pytest.raises(UnknownName, match="unknown method 'nlu_diets'; valid methods: .*nlu_data_diets"):
        DataDiet(method="nlu_diets", keep=0.5)
    assert issubclass(UnknownName, ValueError)


def test_a_method_registered_in_a_test_reaches_the_diet_the_cli_and_the_grid():
    build = preset("dynamic", anneal_epochs=2, epsilon=0.0)
    with registered_method("my_anneal2", build, "the default, last two epochs on all data"):
        diet = DataDiet(method="my_anneal2", keep=0.4)
        assert (diet.strategy.anneal_epochs, diet.strategy.selector_options) == (2, {"epsilon": 0.0})
        cfg = RunConfig(method="my_anneal2", keep=0.4, epochs=4)
        assert cfg.errors() == [] and cfg.diet().strategy == diet.strategy
        assert "my_anneal2" in grid_methods() and "my_anneal2" in method_order()
        run = GridRun(dataset="toy", method="my_anneal2", keep=0.4, epochs=4)
        assert run.errors() == [] and run.diet().strategy == diet.strategy
        GridConfig(methods=["full", "my_anneal2"], keeps=[0.4], epochs=4)
        assert 0 < predicted_ratio("my_anneal2", 0.4, 1000, 4) < 1
    assert "my_anneal2" not in available_methods()  # nothing left behind
    with pytest.raises(UnknownName):
        DataDiet(method="my_anneal2")
    with pytest.raises(ConfigError, match="method: got 'my_anneal2'"):
        RunConfig(method="my_anneal2")


def test_a_name_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="already registered"):
        with registered_method("default", preset("dynamic")):
            pass
    assert DataDiet(method="default", keep=0.3).strategy.to_dict() == DYNAMIC


GSM8K_BEFORE = {  # benchmarks/gsm8k_p3/methods.py's diets as they were (keep 0.4, time ratio 0.5, 3 epochs)
    "full": ({"method": "full", "time_budget": None}, 256),
    "random": ({**BEFORE["random"], "keep": 0.4, "warmup_epochs": 0}, 256),
    "default": ({**DYNAMIC, "keep": 0.4}, 8),
    "p3": ({**P3, "budget": 0.4, "rescore": "all"}, 8),
    "p3_free": ({**P3, "budget": 0.4, "rescore_fraction": 0.2}, 8),
    "p3_cold": ({**P3, "budget": 0.4, "rescore_fraction": 0.2, "cold_start": "random"}, 8),
    "random@time=p3_free": ({**BEFORE["random"], "keep": 0.5, "warmup_epochs": 0}, 256),
    # the rule its seeds 0-1 were measured with, pinned when "auto" became the default
    # (keep, planned by the budget, no longer shown)
    "default@time=p3_free": ({**{k: v for k, v in DYNAMIC.items() if k != "keep"}, "time_budget": 0.5,
                              "budget_epochs": "all"}, 8),
    "full@time=p3_free": ({**BEFORE["random"], "keep": 0.5}, 256),
}


@pytest.mark.parametrize("text", list(GSM8K_BEFORE))
def test_the_gsm8k_benchmark_builds_its_diets_through_the_registry_as_before(text):
    diet = MethodSpec.parse(text, 0.4).diet(1, scoring_batch_size=8, rescore_fraction=0.2, time_ratio=0.5, num_epochs=3)
    strategy, scoring_batch_size = GSM8K_BEFORE[text]
    assert diet.strategy.to_dict() == strategy
    assert (diet.settings.seed, diet.settings.scoring_batch_size, diet.settings.progress) == (1, scoring_batch_size, False)
