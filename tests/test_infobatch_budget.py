"""InfoBatch under a time budget: each pruned epoch's prune ratio is chosen from its well-learned
count so the run spends the budget (the plan shows targets)."""

import numpy as np
import pytest
from transformers import TrainingArguments

from datadiet import DataDiet, DataDietTrainer
from datadiet.select.infobatch import well_learned
from datadiet.strategies.infobatch import InfoBatch, infobatch_budget_keep, ratio_for_target
from helpers import pad_collate, tiny_classifier, toy_classification_dataset


def test_the_target_keep_pays_for_the_first_and_the_annealing_epochs_by_hand():
    # 10 epochs, 1 annealing: 0.5 x 10 = 5 epochs of examples, 2 of them full: 3 over 8 pruned epochs
    assert infobatch_budget_keep(0.5, 10, 1) == pytest.approx(3 / 8)
    assert infobatch_budget_keep(1.0, 10, 1) == 1.0
    with pytest.raises(ValueError, match="cannot pay for InfoBatch's first epoch and its 1 annealing epochs"):
        infobatch_budget_keep(0.2, 10, 1)  # 2 epochs of examples = exactly the two full ones


def test_the_ratio_reaches_the_target_within_its_cap_by_hand():
    assert ratio_for_target(100, 60, 50, 0.9) == pytest.approx(50 / 60)
    assert ratio_for_target(100, 60, 20, 0.9) == 0.9  # would need 80 of 60: capped
    assert ratio_for_target(100, 60, 120, 0.9) == 0.0  # the budget allows more than everything
    assert ratio_for_target(100, 0, 50, 0.9) == 0.0  # nothing well-learned: nothing to drop


def test_well_learned_is_strictly_below_the_mean_of_the_finite_losses():
    losses = np.array([1.0, 2.0, 3.0, np.inf, 0.5])
    assert well_learned(losses).tolist() == [0, 4]  # mean of the finite ones: 1.625
    assert well_learned(np.full(4, np.inf)).tolist() == []


def test_the_plan_shows_targets_and_says_so():
    diet = DataDiet.infobatch(time_budget=0.6, num_epochs=8)
    plan = diet.plan(1000)
    trained = [e.trained for e in plan.epochs]
    # 8 epochs, 1 annealing: epoch 0 and 7 full, 6 pruned at (0.6 x 8 - 2) / 6 = 0.4667
    assert trained[0] == trained[-1] == 1000 and all(t == round(1000 * 2.8 / 6) for t in trained[1:-1])
    assert plan.predicted_time_ratio == pytest.approx(0.6, abs=1e-3)
    assert "targets" in str(plan) and "upper bounds" not in str(plan)
    assert "upper bounds" in str(DataDiet.infobatch(num_epochs=8).plan(1000))


@pytest.mark.parametrize("bad", [0.0, 1.5, -0.1])
def test_a_budget_outside_0_1_is_refused(bad):
    with pytest.raises(ValueError, match="time_budget"):
        InfoBatch(time_budget=bad)


def _train(tmp_path, n, epochs, budget):
    diet = DataDiet.infobatch(time_budget=budget)
    args = TrainingArguments(str(tmp_path), num_train_epochs=epochs, per_device_train_batch_size=16, learning_rate=3e-3,
                             save_strategy="no", report_to=[], disable_tqdm=True, use_cpu=True, seed=0)
    trainer = DataDietTrainer(diet=diet, model=tiny_classifier(), args=args, train_dataset=toy_classification_dataset(n),
                              data_collator=pad_collate)
    trainer.train()
    return diet, trainer


def test_a_budget_infobatch_cannot_reach_is_overspent_with_one_warning(tmp_path, caplog):
    # 8 epochs at 0.3: the first and the annealing epoch cost 0.25, so the 6 pruned epochs may keep
    # 0.067 of the examples each; InfoBatch drops at most 90% of the below-mean-loss ones
    n, epochs, budget = 192, 8, 0.3
    with caplog.at_level("WARNING", logger="datadiet"):
        diet, _ = _train(tmp_path, n, epochs, budget)
    pruned = [r for r in diet.log if "infobatch_target" in r]
    assert len(pruned) == epochs - 2 and all(r["kept"] > r["infobatch_target"] + 1 for r in pruned)
    assert all(r["infobatch_prune_ratio"] == diet.strategy.max_prune_ratio for r in pruned)
    assert sum(r["kept"] for r in diet.log) > budget * epochs * n
    warnings = [m for m in caplog.messages if "cannot keep to its time budget of 0.3" in m]
    assert len(warnings) == 1 and "DataDiet(time_budget=0.3)" in warnings[0]


def test_a_trained_run_spends_its_budget(tmp_path, caplog):
    n, epochs, budget = 192, 8, 0.75
    with caplog.at_level("WARNING", logger="datadiet"):
        diet, trainer = _train(tmp_path, n, epochs, budget)
    assert not [m for m in caplog.messages if "cannot keep to its time budget" in m]
    kept = [r["kept"] for r in diet.log]
    ratios = [r["infobatch_prune_ratio"] for r in diet.log if "infobatch_prune_ratio" in r]
    assert kept[0] == kept[-1] == n and len(ratios) == epochs - 2
    assert all(0 < r < diet.strategy.max_prune_ratio for r in ratios)  # every target was reachable...
    assert abs(sum(kept) - budget * epochs * n) <= 2  # ...so the run spent the budget to rounding
    # each epoch aimed at what the budget had left per pruned epoch: brute force from the log
    for e in range(1, epochs - 1):
        target = (budget * epochs * n - n - sum(kept[:e])) / (epochs - 1 - e)
        assert abs(kept[e] - target) <= 1, (e, kept[e], target)
    assert trainer.state.global_step == sum(-(-k // 16) for k in kept)
