"""The plan before training: per-epoch counts, the predicted time ratio, and keep from a time budget."""

import pytest

from datadiet import DataDiet
from datadiet.planning import PASS_COST, keep_for_budget


def test_plan_by_hand_for_the_default_and_the_paper_protocol():
    plan = DataDiet(keep=0.5).plan(1000, 10)
    assert [e.trained for e in plan.epochs] == [1000] + [500] * 9
    assert [e.scored for e in plan.epochs] == [0] + [100] * 9  # stale re-scoring: at most 10% of N
    assert plan.predicted_time_ratio == pytest.approx((1 + 9 * (0.5 + PASS_COST * 0.1)) / 10)
    paper = DataDiet.nlu_data_diets(keep=0.5).plan(1000, 10)
    assert [e.scored for e in paper.epochs] == [0] + [1000] * 9
    assert "predicted time ratio 0.71" in str(paper)
    static = DataDiet.static(keep=0.3).plan(1000, 4)
    assert [e.scored for e in static.epochs] == [0, 1000, 0, 0]
    assert DataDiet.full().plan(10, 3).predicted_time_ratio == 1.0


@pytest.mark.parametrize("budget", [0.3, 0.45, 0.6])
@pytest.mark.parametrize("rescore", ["stale", "all", "none"])
def test_a_time_budget_plans_the_keep_that_costs_the_budget(budget, rescore):
    diet = DataDiet(time_budget=budget, rescore=rescore, warmup_epochs=1)
    plan = diet.plan(2000, 10)
    assert plan.predicted_time_ratio == pytest.approx(budget, abs=2e-3)  # up to rounding to whole examples


def test_time_budget_checks_and_inverse():
    keep = keep_for_budget(0.5, 10, 1, 0, 0.1)
    assert keep == pytest.approx((5 - 1) / 9 - PASS_COST * 0.1)
    assert keep_for_budget(1.0, 10, 1, 0, 0.0) == 1.0
    with pytest.raises(ValueError, match="time_budget must be a number in"):
        DataDiet(time_budget=1.5)
    with pytest.raises(ValueError, match="needs period=1 and no keep ramp"):
        DataDiet(time_budget=0.4, period=2)
    # spread over every epoch, a budget that cannot pay for the warm-up is refused with its cost ...
    with pytest.raises(ValueError, match="cannot pay for 2 warm-up"):
        DataDiet(time_budget=0.2, warmup_epochs=2, num_epochs=10, budget_epochs="all")
    with pytest.raises(ValueError, match=r"cannot pay for 1 warm-up .* \(they and the scoring alone cost 0.26\)"):
        DataDiet(time_budget=0.25, rescore="all", num_epochs=10, budget_epochs="all")  # 0.1 + 0.9 x 0.18 = 0.262
    # ... while "auto" (the default) spends it on fewer epochs: no pruned plan of 2 warm-up epochs fits
    # 0.2 of 10, so full data for 2 of them
    fewer = DataDiet(time_budget=0.2, warmup_epochs=2).plan(1000, 10)
    assert [e.trained for e in fewer.epochs] == [1000, 1000] and fewer.predicted_time_ratio == pytest.approx(0.2)


def test_a_budget_that_prunes_nothing_warns_when_the_run_starts(caplog):
    with caplog.at_level("WARNING", logger="datadiet"):
        DataDiet(time_budget=0.2, warmup_epochs=2, progress=False).setup(1000, 10)
    assert "buys no pruned plan of 10 epochs" in caplog.text and "full data for 2 of them" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="datadiet"):
        DataDiet(time_budget=0.3, progress=False).setup(1000, 10)  # 7 pruned epochs
        DataDiet(method="full", time_budget=0.2, progress=False).setup(1000, 10)  # asked for
    assert "buys no pruned plan" not in caplog.text
    with pytest.raises(ValueError, match="1 epochs leave none to prune after 1 warm-up"):
        keep_for_budget(0.9, 1, 1, 0, 0.0)  # a ValueError (the budget cannot be planned), not a ZeroDivisionError


@pytest.mark.parametrize("budget", [0.25, 0.4])
def test_a_time_budget_with_a_random_cold_start_is_solved_on_its_own_plan(budget):
    """No warm-up: epoch 0 trains keep N unscored, epoch 1 scores the (1 - keep) N it did not train,
    later epochs 10%; the planned keep makes that plan cost the budget, not the closed form's."""
    plan = DataDiet(time_budget=budget, warmup_epochs=0, cold_start="random", budget_epochs="all").plan(2000, 10)
    k = plan.epochs[0].trained / 2000
    by_hand = (10 * k + PASS_COST * (1 - k) + 8 * PASS_COST * 0.1) / 10
    assert plan.predicted_time_ratio == pytest.approx(by_hand, abs=1e-3)
    assert budget - 2e-3 <= plan.predicted_time_ratio <= budget + 1e-9
    assert [e.scored for e in plan.epochs[:2]] == [0, 2000 - plan.epochs[0].trained]
