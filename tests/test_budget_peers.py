"""The peers at a time budget in one line (issue 27): ``DataDiet(method="full", time_budget=b)`` is
full data for ``b x E`` epochs of steps (what ``max_steps`` gives, the LR schedule over them), and
``DataDiet(method="random", time_budget=b)`` the random subset that costs ``b``, so a user compares
the default against both on their own data with the same budget accounting."""

import dataclasses

import numpy as np
import pytest
import torch
from transformers import TrainingArguments

from datadiet import DataDiet, DataDietTrainer
from datadiet.contract import RunContract
from helpers import pad_collate, tiny_classifier, toy_classification_dataset


@pytest.mark.parametrize("budget, epochs, kept", [
    (0.5, 3, [40, 20]),            # 1.5 epochs: one whole, then half the data
    (0.25, 3, [30]),               # 0.75 of one epoch
    (2 / 3, 3, [40, 40]),          # 2 whole epochs, none partial
    (0.45, 10, [40] * 4 + [20]),   # 4.5 epochs
    (1.0, 3, [40, 40, 40]),        # the whole run
])
def test_full_data_at_a_budget_plans_that_many_epochs_of_steps(budget, epochs, kept):
    plan = DataDiet(method="full", time_budget=budget).plan(40, epochs)
    assert [e.trained for e in plan.epochs] == kept
    assert plan.predicted_time_ratio == pytest.approx(sum(kept) / (40 * epochs))
    assert [e.scored for e in plan.epochs] == [0] * len(kept)  # it never scores
    assert [e.phase for e in plan.epochs][-1] == ("full" if kept[-1] == 40 else "partial")
    assert f"full data for {sum(kept) / 40:.3g} of the {epochs} epochs" in plan.note


def test_full_data_at_a_budget_never_trains_more_than_it_pays_for():
    # 0.9 of 60,614 examples is 54,552.6: the partial epoch trains 54,552, not the rounded 54,553
    plan = DataDiet(method="full", time_budget=0.3).plan(60614, 3)
    assert [e.trained for e in plan.epochs] == [54552] and plan.predicted_time_ratio <= 0.3
    with pytest.raises(ValueError, match="buys less than one of the 10 examples"):
        DataDiet(method="full", time_budget=0.01).plan(10, 3)


def test_plain_full_data_never_selects():
    """Without a budget no epoch of full data is a selection (no draw, no pass, phase "full")."""
    diet = DataDiet(method="full")
    plan = diet.plan(10, 3)
    assert [e.phase for e in plan.epochs] == ["full"] * 3 and plan.note is None
    assert not any(diet.strategy.selects_at(e, diet.schedule) for e in range(3))


def test_the_note_says_what_the_plan_trains_when_the_partial_epoch_rounds_away():
    # 0.34 of 3 epochs of 10 examples: 1.02 epochs, and 0.02 of 10 examples is none: one epoch
    plan = DataDiet(method="full", time_budget=0.34).plan(10, 3)
    assert [e.trained for e in plan.epochs] == [10]
    assert "full data for 1 of the 3 epochs (1 whole epoch;" in plan.note


def test_random_at_a_budget_keeps_what_the_budget_pays_for():
    # 1 warm-up of 10 epochs, nothing scored: keep = (0.45 x 10 - 1) / 9 = 0.3889 -> 38 of 100 (not
    # the rounded 39, which would cost 0.451)
    plan = DataDiet(method="random", time_budget=0.45).plan(100, 10)
    assert [e.trained for e in plan.epochs] == [100] + [38] * 9 and plan.predicted_time_ratio <= 0.45
    assert "a random 0.380 of the data" in plan.note
    with pytest.raises(ValueError, match="less than one of the 10 examples"):
        DataDiet(method="random", time_budget=0.105).plan(10, 10)  # (1.05 - 1) / 9 = 0.0056 of 10
    cold = DataDiet(method="random", time_budget=0.45, warmup_epochs=0).plan(100, 10)
    assert [e.trained for e in cold.epochs] == [45] * 10
    with pytest.raises(ValueError, match="cannot pay for 1 warm-up"):
        DataDiet(method="random_static", time_budget=0.3).plan(100, 3)


@pytest.mark.parametrize("method", ["full", "random", "infobatch", "default"])
def test_a_budget_outside_0_1_is_refused(method):
    for bad in (0, 0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="time_budget"):
            DataDiet(method=method, time_budget=bad)


def _train(tmp_path, diet, epochs, name):
    args = TrainingArguments(str(tmp_path / name), num_train_epochs=epochs, per_device_train_batch_size=8,
                             learning_rate=1e-2, lr_scheduler_type="linear", report_to=[], save_strategy="no",
                             disable_tqdm=True, use_cpu=True, seed=0)
    trainer = DataDietTrainer(diet=diet, model=tiny_classifier(), args=args, train_dataset=toy_classification_dataset(64),
                              data_collator=pad_collate)
    trainer.train()
    return trainer


def test_full_data_at_a_budget_trains_what_a_shorter_run_with_a_random_last_epoch_trains(tmp_path):
    """Brute force: 1.5 epochs of full data asked as a budget of 3 epochs train the same examples, in
    the same order, with the same LR schedule (to 0 at the end), to the same weights as a 2-epoch run
    whose second epoch is a random half (the construction the benchmarks used)."""
    budget = _train(tmp_path, DataDiet(method="full", time_budget=0.5, seed=3, progress=False), 3, "budget")
    shorter = _train(tmp_path, DataDiet(method="random", keep=0.5, warmup_epochs=1, seed=3, progress=False), 2, "shorter")
    diet = budget.diet
    assert diet.num_epochs == 3 and diet.schedule.num_epochs == 2 and [r["kept"] for r in diet.log] == [64, 32]
    assert budget.state.global_step == shorter.state.global_step == budget.state.max_steps == 8 + 4
    assert budget.lr_scheduler.get_last_lr()[0] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_array_equal(diet.kept_matrix(), shorter.diet.kept_matrix())
    for (name, a), (_, b) in zip(budget.model.named_parameters(), shorter.model.named_parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_a_checkpoint_from_before_a_setting_existed_still_resumes():
    """A checkpoint's diet settings lack a setting added later (``time_budget`` of ``full``): absent
    and None are the same setting, so the resume is exact; a real change is still refused."""
    now = RunContract(64, 3, 0, DataDiet(method="full").strategy.to_dict())
    assert now.method == {"method": "full", "time_budget": None}
    assert now.changes(RunContract(64, 3, 0, {"method": "full"}), [64, 64, 64]) == []
    changed = now.changes(RunContract(64, 3, 0, {"method": "full", "time_budget": 0.5}), [64, 64, 64])
    assert len(changed) == 1 and "time_budget 0.5 -> None" in changed[0]


def test_a_checkpoint_naming_a_setting_this_run_has_no_use_for_still_resumes():
    """A keep run's checkpoint from when ``budget_epochs`` and ``keep_floor`` were always saved ("all",
    0.5): without a time budget they are inert (``inert_settings``), left out of the settings and not
    compared, so the resume is exact. A budgeted run that changed its rule is refused, naming it, and
    a saved setting the method does not declare inert still counts."""
    def contract(diet):
        return RunContract(64, 3, 0, diet.strategy.to_dict(), inert=diet.strategy.inert_settings())

    keep_run = DataDiet(keep=0.5)
    assert {"budget_epochs", "keep_floor"} <= keep_run.strategy.inert_settings()
    old = {**keep_run.strategy.to_dict(), "budget_epochs": "all", "keep_floor": 0.5}
    assert contract(keep_run).changes(RunContract(64, 3, 0, old), [64, 32, 32]) == []
    unknown = {**keep_run.strategy.to_dict(), "some_removed_setting": 3}
    assert "some_removed_setting 3 -> None" in contract(keep_run).changes(RunContract(64, 3, 0, unknown), [64, 32, 32])[0]
    budgeted = DataDiet(time_budget=0.5)  # now "auto", floor 0.3
    saved = {**budgeted.strategy.to_dict(), "budget_epochs": "all", "keep_floor": 0.5}
    changed = contract(budgeted).changes(RunContract(64, 3, 0, saved), [64, 32, 32])
    assert len(changed) == 1 and "budget_epochs 'all' -> 'auto'" in changed[0] and "keep_floor 0.5 -> 0.3" in changed[0]
    assert "pass budget_epochs='all'" in changed[0]
    pinned = DataDiet(time_budget=0.5, budget_epochs="all")  # the old rule, asked for: the floor is inert
    assert contract(pinned).changes(RunContract(64, 3, 0, saved), [64, 32, 32]) == []


def test_a_budget_checkpoint_from_before_budget_epochs_existed_resumes_as_the_rule_it_ran():
    """Budgets were spent over every epoch before ``budget_epochs`` existed: such a checkpoint saved
    neither it nor ``keep_floor``. It resumes with ``budget_epochs="all"``, and the default "auto" is
    refused with the hint to pass it (absent is read as "all" there, not None)."""
    def contract(diet):
        return RunContract(64, 3, 0, diet.strategy.to_dict(), inert=diet.strategy.inert_settings(),
                           unsaved=diet.strategy.unsaved_defaults())

    legacy = {k: v for k, v in DataDiet(time_budget=0.5).strategy.to_dict().items()
              if k not in ("budget_epochs", "keep_floor")}
    assert contract(DataDiet(time_budget=0.5, budget_epochs="all")).changes(RunContract(64, 3, 0, legacy),
                                                                             [64, 32, 32]) == []
    refused = contract(DataDiet(time_budget=0.5)).changes(RunContract(64, 3, 0, legacy), [64, 32, 32])
    assert len(refused) == 1 and "budget_epochs 'all' -> 'auto'" in refused[0] and "pass budget_epochs='all'" in refused[0]
    # without a budget nothing is read in: a keep run's checkpoint never had the setting
    assert DataDiet(keep=0.5).strategy.unsaved_defaults() == {}


def test_the_same_settings_planning_another_run_are_refused_on_resume(tmp_path):
    """A checkpoint saves its plan (examples per epoch); a datadiet whose rule plans the same settings
    otherwise (here: the saved plan edited, as a changed budget rule would leave it) refuses to resume
    instead of continuing a different run; a checkpoint without a saved plan is not compared on it."""
    diet = DataDiet(time_budget=0.3, progress=False)
    diet.setup(4478, 10)
    saved = diet.contract()
    assert saved.plan == tuple(diet.kept_counts()) and len(saved.plan) == 7  # 7 epochs at keep 0.315
    assert RunContract.from_dict(saved.to_dict()) == dataclasses.replace(saved, inert=frozenset(), unsaved={})
    other = dataclasses.replace(saved, plan=saved.plan[:6] + (saved.plan[6] + 1,))
    changed = diet.contract().changes(other, list(saved.plan))
    assert len(changed) == 1 and "the same settings plan another run under this datadiet version" in changed[0]
    assert f"7 epochs of 4478, {saved.plan[1]}" in changed[0]
    assert diet.contract().changes(dataclasses.replace(saved, plan=None), list(saved.plan)) == []


def test_a_checkpoint_from_before_plans_were_saved_is_checked_on_the_epochs_it_logged():
    """No saved plan: the kept counts its log holds are the plan it ran, so a datadiet that now plans
    those epochs otherwise refuses, and one that plans them alike resumes."""
    import copy

    from datadiet.contract import ResumeMismatch

    def run_two_epochs():
        diet = DataDiet(method="random", time_budget=0.5, progress=False)
        diet.setup(100, 4)
        for epoch in range(2):
            diet.begin_epoch(epoch)
        return diet

    state = run_two_epochs().state_dict()
    del state["contract"]["plan"]
    same = DataDiet(method="random", time_budget=0.5, progress=False)
    same.load_state_dict(copy.deepcopy(state))
    assert same.epoch == 1
    other_rule = copy.deepcopy(state)
    other_rule["run_log"]["records"][1]["kept"] += 1  # as if its rule had kept one more
    with pytest.raises(ResumeMismatch, match="the same settings plan another run under this datadiet version"):
        DataDiet(method="random", time_budget=0.5, progress=False).load_state_dict(other_rule)
