"""A time budget spent on epochs and kept fraction together (issue 27 item 2): DataDiet(time_budget=b)
(budget_epochs="auto", the default) plans the most epochs whose keep stays at or above the floor
(0.3), the epochs that keep the most when none does, says why in the plan and what else the budget
buys, and the Trainer runs that plan; budget_epochs="all" spreads the budget over every epoch."""

import pytest
from transformers import TrainingArguments

from datadiet import DataDiet, DataDietTrainer
from datadiet.planning import choose_budget_plan, keep_for_budget
from helpers import pad_collate, tiny_classifier, toy_classification_dataset


def _keep(budget, epochs):  # 1 warm-up epoch, nothing scored: keep = (b E - 1) / (E - 1)
    return keep_for_budget(budget, epochs, 1, 0, 0.0)


def test_the_choice_by_hand():
    # b = 0.45 of 10 epochs = 4.5 epochs of work; over e epochs: (4.5 - 1) / (e - 1)
    choice = choose_budget_plan(0.45, 10, _keep, keep_floor=0.5)
    assert choice.epochs == 8 and choice.keep == pytest.approx(3.5 / 7)  # 9 epochs: 3.5 / 8 < 0.5
    assert "all 10 epochs would keep 0.389, under the floor 0.5; 8 epochs" in choice.reason
    high = choose_budget_plan(0.8, 10, _keep, keep_floor=0.5)  # (8 - 1) / 9 = 0.78: every epoch
    assert (high.epochs, round(high.keep, 4)) == (10, round(7 / 9, 4))
    none = choose_budget_plan(0.3, 10, _keep, keep_floor=1.0)  # only full epochs would do: 3 of them
    assert (none.epochs, none.keep) == (3, 1.0) and "full data for 3 of the 10 epochs spends it" in none.reason


def test_under_the_floor_everywhere_it_spends_the_budget_on_the_most_kept():
    # 3 epochs, b = 0.5: 1.5 epochs of work; 3 epochs keep (1.5 - 1) / 2 = 0.25, 2 epochs (1.5 - 1) / 1 = 0.5,
    # 1 epoch cannot be planned (it is the warm-up). Floor 0.6: neither reaches it; 2 epochs keep the most.
    choice = choose_budget_plan(0.5, 3, _keep, keep_floor=0.6)
    assert (choice.epochs, choice.keep) == (2, pytest.approx(0.5))
    assert ("no number of epochs keeps 0.6 or more (all 3 epochs would keep 0.250, under the floor 0.6); 2 epochs at "
            "keep 0.500") in choice.reason
    # b = 0.45 of 10 epochs with a 5-epoch warm-up: no pruned plan fits, full data for 4 epochs (0.4)
    def five_warm(budget, epochs):
        return keep_for_budget(budget, epochs, 5, 0, 0.0)
    nothing = choose_budget_plan(0.45, 10, five_warm, keep_floor=0.5)
    assert (nothing.epochs, nothing.keep) == (4, 1.0) and "no number of epochs can be planned" in nothing.reason
    # b = 0.3 of 3 epochs (0.9 epochs of work) with a 1-epoch warm-up: not even that, and a plan never
    # exceeds its budget (it used to train one full epoch, 0.33)
    with pytest.raises(ValueError, match="a time budget of 0.3 of 3 epochs buys less than one epoch"):
        choose_budget_plan(0.3, 3, _keep, keep_floor=0.5)
    with pytest.raises(ValueError, match="cold_start='random'") as refused:
        DataDiet(time_budget=0.3).plan(60614, 3)
    assert "full data for 0.9 of an epoch (DataDiet(method='full', time_budget=0.3))" in str(refused.value)
    assert DataDiet(method="full", time_budget=0.3).plan(60614, 3).predicted_time_ratio == pytest.approx(0.3, abs=1e-4)
    cold = DataDiet(time_budget=0.3, warmup_epochs=0, cold_start="random").plan(60614, 3)
    assert cold.predicted_time_ratio <= 0.3 + 1e-9 and len(cold.epochs) >= 1


def test_sst2_like_three_epochs_spend_a_half_budget_in_two_pruned_epochs():
    """The diet itself (free scores, a tenth re-scored): with 60,614 examples and 3 epochs, a budget
    of 0.5 is two epochs, the warm-up and one at keep (1.5 - 1) - 0.18 x 0.1 = 0.482, not one full
    epoch (0.33 of the time)."""
    plan = DataDiet(time_budget=0.5).plan(60614, 3)
    assert len(plan.epochs) == 2 and plan.predicted_time_ratio == pytest.approx(0.5, abs=0.002)
    assert plan.epochs[1].trained / 60614 == pytest.approx(0.482, abs=0.002)


@pytest.mark.parametrize("budget", [0.3, 0.45, 0.55, 0.7])
def test_the_plan_spends_the_budget_over_the_epochs_asked_for(budget):
    plan = DataDiet(time_budget=budget).plan(4478, 10)
    assert plan.full_epochs == 10 and plan.predicted_time_ratio == pytest.approx(budget, abs=0.005)
    kept = [e.trained / 4478 for e in plan.epochs if e.phase == "prune"]
    assert min(kept) >= 0.3 - 1e-3  # the floor
    assert plan.note.startswith(f"time budget {budget:g}")
    every = DataDiet(time_budget=budget, budget_epochs="all").plan(4478, 10)  # the keep over all 10 epochs
    assert len(every.epochs) == 10 and len(plan.epochs) <= 10
    # over 10 epochs with a warm-up, "all" keeps (10 b - 1) / 9 - 0.018: under the floor only at 0.3
    assert len(plan.epochs) == (7 if budget == 0.3 else 10)
    first = DataDiet(method="default_auto", time_budget=budget).plan(4478, 10)  # the first rule: floor 0.5
    assert min(e.trained / 4478 for e in first.epochs if e.phase == "prune") >= 0.5 - 1e-3


def test_the_plan_of_a_budget_names_what_it_chose_and_what_else_the_budget_buys():
    """ATIS, 10 epochs. b = 0.45: keep (4.5 - 1) / 9 - 0.18 x 0.1 = 0.371 over all 10, above the floor.
    b = 0.3: all 10 would keep (3 - 1) / 9 - 0.018 = 0.204, under it; 8 epochs would keep 2 / 7 - 0.018
    = 0.268, 7 keep 2 / 6 - 0.018 = 0.315. Either way full data for b x 10 epochs spends the same. A
    plan without a budget gives no reason."""
    full_line = ("full data for {} of the 10 epochs spends the same budget (DataDiet(method='full', time_budget={})); "
                 "on sets that converge in a few epochs it can be as good: compare both on your data")
    assert DataDiet(time_budget=0.45).plan(4478, 10).note.splitlines() == [
        "time budget 0.45: keep 0.371 in the pruned epochs of all 10 (at or above the floor 0.3)",
        full_line.format(4.5, 0.45)]
    assert DataDiet(time_budget=0.3).plan(4478, 10).note.splitlines() == [
        "time budget 0.3: all 10 epochs would keep 0.204, under the floor 0.3; 7 epochs at keep 0.315 spend the "
        "same budget", "budget_epochs='all' would keep 0.204 in the pruned epochs of all 10", full_line.format(3, 0.3)]
    assert DataDiet(time_budget=0.45, budget_epochs="all").plan(4478, 10).note.splitlines() == [
        "time budget 0.45: keep 0.371 in the pruned epochs of all 10 (budget_epochs='all')",
        "budget_epochs='auto' would train 10 of the 10 epochs at keep 0.371", full_line.format(4.5, 0.45)]
    assert DataDiet(keep=0.5).plan(4478, 10).note is None
    # 3 epochs at 0.3, no warm-up: "auto" trains 2 epochs (all 3 would keep 0.249, under 0.3), full data 0.9 epochs
    cold = DataDiet(time_budget=0.3, warmup_epochs=0, cold_start="random", budget_epochs="all").plan(60614, 3)
    assert cold.note.splitlines()[:2] == ["time budget 0.3: keep 0.249 in the pruned epochs of all 3 "
                                          "(budget_epochs='all')",
                                          "budget_epochs='auto' would train 2 of the 3 epochs at keep 0.396"]
    assert cold.note.splitlines()[2].startswith("full data for 0.9 of the 3 epochs spends the same budget")
    assert not any("full data" in line for line in DataDiet(time_budget=1.0).plan(100, 3).note.splitlines())


def test_how_a_budget_is_spent_is_validated_and_means_nothing_without_one():
    with pytest.raises(ValueError, match="budget_epochs is one of all, auto"):
        DataDiet(time_budget=0.5, budget_epochs="some")
    with pytest.raises(ValueError, match="give keep or time_budget, not both"):
        DataDiet(keep=0.3, time_budget=0.5)  # the budget plans the keep: an explicit one would be ignored
    for name in ("default_auto", "default_all"):
        with pytest.raises(ValueError, match=f"method '{name}' says how a time budget is spent: give time_budget"):
            DataDiet(method=name)
    # without a budget the rule is inert: the same strategy, and its settings do not name it
    plain, other = DataDiet(keep=0.5).strategy, DataDiet(keep=0.5, budget_epochs="all", keep_floor=0.7).strategy
    assert plain.plan(4478, 10) == other.plan(4478, 10)
    assert plain.to_dict() == other.to_dict() and "budget_epochs" not in plain.to_dict()
    # with "all" the floor is inert; with "auto" both act
    assert "keep_floor" not in DataDiet(time_budget=0.5, budget_epochs="all").strategy.to_dict()
    assert DataDiet(time_budget=0.5).strategy.to_dict()["keep_floor"] == 0.3
    # a budget plans the kept fraction: the keep field (its unused default) is not shown, and a
    # checkpoint that saved it resumes (inert settings are not compared)
    budgeted = DataDiet(time_budget=0.5).strategy
    assert "keep" not in budgeted.to_dict() and "keep" in budgeted.inert_settings()
    assert "keep" not in DataDiet(method="random", time_budget=0.5).strategy.to_dict()
    assert DataDiet.infobatch(time_budget=0.6).strategy.to_dict().keys().isdisjoint({"prune_ratio"})
    assert "max_prune_ratio" not in DataDiet.infobatch().strategy.to_dict()
    assert DataDiet(keep=0.4).strategy.to_dict()["keep"] == 0.4


def test_a_trainer_runs_the_fewer_epochs_the_budget_chose(tmp_path):
    diet = DataDiet(time_budget=0.3, progress=False)
    args = TrainingArguments(str(tmp_path), num_train_epochs=10, per_device_train_batch_size=8, learning_rate=1e-2,
                             lr_scheduler_type="linear", report_to=[], save_strategy="no", disable_tqdm=True, use_cpu=True)
    trainer = DataDietTrainer(diet=diet, model=tiny_classifier(), args=args, train_dataset=toy_classification_dataset(64),
                              data_collator=pad_collate)
    trainer.train()
    epochs = diet.schedule.num_epochs
    assert 1 < epochs < 10 and len(diet.log) == epochs and diet.num_epochs == 10
    assert trainer.state.global_step == trainer.state.max_steps == sum(diet.steps_per_epoch())
    assert trainer.lr_scheduler.get_last_lr()[0] == pytest.approx(0.0, abs=1e-12)  # the schedule spans the shorter run
    assert sum(r["kept"] for r in diet.log) <= 0.3 * 10 * 64 + 1
    summary = diet.summary()  # full data over the epochs run, and over the 10 asked for (the budget's reference)
    assert (summary["examples_full"], summary["examples_asked"]) == (epochs * 64, 10 * 64)
    assert summary["examples_trained"] / summary["examples_asked"] <= 0.3 + 1 / 640


def test_a_plain_loop_past_the_plan_is_told_to_stop_where_the_plan_does():
    assert DataDiet(time_budget=0.3).setup(64, 10).schedule.num_epochs == 7  # the default: 7 of 10
    diet = DataDiet(method="full", time_budget=0.3, num_epochs=10, progress=False)  # 3 full epochs, no scoring
    diet.sampler(64)
    assert diet.schedule.num_epochs == 3
    for epoch in range(3):
        diet.begin_epoch(epoch)
    with pytest.raises(ValueError, match=r"epoch 3 is past the plan, which trains 3 of the 10 epochs asked for .*"
                                         r"range\(diet.schedule.num_epochs\)"):
        diet.begin_epoch(3)


def test_the_published_protocol_takes_a_time_budget_and_configs_refuse_a_keep_beside_one():
    from datadiet.toolkit.experiment import RunConfig
    from datadiet.toolkit.fields import ConfigError

    paper = DataDiet.nlu_data_diets(time_budget=0.6)  # no keep of its own in the way (0.5 unless given)
    assert paper.strategy.time_budget == 0.6 and DataDiet.nlu_data_diets().strategy.keep == 0.5
    assert paper.plan(4478, 10).predicted_time_ratio == pytest.approx(0.6, abs=2e-3)  # whole examples
    with pytest.raises(ConfigError, match="keep: got 0.3 beside diet_options.time_budget 0.5"):
        RunConfig.from_dict({"dataset": "atis", "keep": 0.3, "diet_options": {"time_budget": 0.5}})
    cfg = RunConfig.from_dict({"dataset": "atis", "diet_options": {"time_budget": 0.5}})
    assert cfg.diet().strategy.time_budget == 0.5 and len(cfg.diet().plan(4478, 10).epochs) == 10


@pytest.mark.parametrize("settings", [dict(warmup_epochs=0), dict(warmup_epochs=0, budget_epochs="all"),
                                      dict(score="grand"), dict(score="grand", budget_epochs="all"),
                                      dict(warmup_epochs=0, cold_start="random")])
def test_a_budget_whose_cost_has_no_closed_form_still_fits_its_plan(settings):
    """Without a warm-up the first selection scores every example (0.18 of an epoch), and a score
    training cannot record (GraNd needs the head's inputs) scores every example at each selection:
    the keep is solved on the plan itself, so the plan spends the budget and not more (brute force:
    one more example per pruned epoch would exceed it)."""
    diet = DataDiet(time_budget=0.5, **settings)
    plan = diet.plan(1000, 10)
    assert 0.49 <= plan.predicted_time_ratio <= 0.5 + 1e-9
    per_epoch = plan.predicted_time_ratio * 10
    pruned = sum(1 for e in plan.epochs if e.trained < 1000)
    assert per_epoch + pruned / 1000 > 0.5 * 10  # a larger keep would not fit


def test_a_budgets_plan_keeps_saying_its_counts_are_upper_bounds_and_rounds_its_keep_down():
    # token budgets: the reason for the budget's plan and the line on upper bounds, both
    text = str(DataDiet(time_budget=0.5, budget_unit="tokens").plan(1000, 3))
    assert "2 epochs at keep 0.482" in text and "the trained counts are upper bounds" in text
    # InfoBatch's own note on its targets replaces that line
    text = str(DataDiet.infobatch(time_budget=0.6).plan(1000, 10))
    assert "counts are targets" in text and "upper bounds" not in text
    # 10 examples at 0.8 of 10 epochs: keep (8 - 1) / 9 - 0.018 = 0.7598 of 10 is 7.6 examples; the
    # nearest count (8 a epoch) would spend 1 + 9 x (0.8 + 0.018) = 8.36 epochs, over the budget; 7 spend 7.46
    plan = DataDiet(time_budget=0.8, budget_epochs="all").plan(10, 10)
    assert [e.trained for e in plan.epochs] == [10] + [7] * 9
    assert plan.predicted_time_ratio == pytest.approx((10 + 9 * (7 + 0.18)) / 100)


def test_a_budget_of_one_is_full_data_said_plainly_and_without_a_warning(caplog):
    # "all" epochs keep 1: the plan is full data, named so; no warning that the budget buys no pruned plan
    with caplog.at_level("WARNING", logger="datadiet"):
        plan = DataDiet(time_budget=1.0, rescore="none").plan(100, 10)
    assert [e.trained for e in plan.epochs] == [100] * 10 and "full data for all 10 epochs" in str(plan)
    assert not [r for r in caplog.records if "buys no pruned plan" in r.getMessage()]
    # InfoBatch at 1 over 1 or 2 epochs (no room for its first epoch and annealing): full data, not refused
    for epochs in (1, 2):
        plan = DataDiet.infobatch(time_budget=1.0).plan(100, epochs)
        assert [e.trained for e in plan.epochs] == [100] * epochs and "targets" not in str(plan)


def test_infobatch_at_a_budget_of_one_trains_every_example_of_every_epoch(tmp_path):
    diet = DataDiet.infobatch(time_budget=1.0, progress=False)
    args = TrainingArguments(str(tmp_path), num_train_epochs=2, per_device_train_batch_size=8, report_to=[],
                             save_strategy="no", disable_tqdm=True, use_cpu=True)
    DataDietTrainer(diet=diet, model=tiny_classifier(), args=args, train_dataset=toy_classification_dataset(32),
                    data_collator=pad_collate).train()
    assert [r["kept"] for r in diet.log] == [32, 32]


def test_a_reason_never_says_under_the_floor_for_a_plan_that_cannot_be_made():
    # all 10 epochs cannot be planned (as if their phases did not fit); at 0.3 (3 epochs of work) with a
    # 1-epoch warm-up 9 epochs keep 2/8 = 0.25, 8 keep 2/7 = 0.286, 7 keep 2/6 = 0.333 >= 0.3
    def not_ten(budget, epochs):
        if epochs == 10:
            raise ValueError("no room")
        return keep_for_budget(budget, epochs, 1, 0, 0.0)
    choice = choose_budget_plan(0.3, 10, not_ten)
    assert (choice.epochs, round(choice.keep, 3)) == (7, 0.333)
    assert choice.reason == ("time budget 0.3: all 10 epochs cannot be planned within it; 7 epochs at keep 0.333 "
                             "spend the same budget")
    with pytest.raises(ValueError, match=r"\(they alone cost 0\.50\)"):  # random scores nothing: no "scoring"
        DataDiet(method="random", time_budget=0.1, warmup_epochs=5).plan(100, 10)


def test_a_selector_that_needs_features_fits_its_budget_on_a_classifier():
    # a diversity selector's features come from a scoring pass on a classifier: priced as such
    diet = DataDiet(time_budget=0.5, budget_epochs="all", selector="p3", progress=False)
    diet.setup(1000, 10, model=tiny_classifier())
    assert not diet.training_records_scores()
    assert diet.plan(1000, 10).predicted_time_ratio <= 0.5 + 1e-9
