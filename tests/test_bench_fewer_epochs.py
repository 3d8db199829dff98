"""The "full data, fewer epochs" peers of the benchmark grid (issue 27): their budget -> epochs rules
(whole epochs, and ``fewer_steps``' fractional last one) worked out by hand, its runs in a grid (recorded with their budget, resumable, the folder's
protocol unchanged), and its place in every frontier and goal table. One real run through
``run_experiment`` (ATIS, 64 examples, 1 layer) is marked slow."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict

import pytest

from benchmarks.grid.aggregate import summarize
from benchmarks.grid.budget_api import DEFAULT_BUDGET
from benchmarks.grid.combine import main as combine_main
from benchmarks.grid.config import GridConfig, GridRun, check_compatible, protocol, resolve_budget
from benchmarks.grid.fewer_epochs import FEWER_EPOCHS, FEWER_STEPS, epochs_for_budget, epochs_ratio, steps_for_budget
from benchmarks.grid.goals import MET, frontier_goal, issue13_goals
from benchmarks.grid.render import write_report
from benchmarks.grid.runner import run_grid
from benchmarks.grid.store import OK, SKIPPED, read_jsonl
from datadiet.toolkit.fields import ConfigError
from bench_helpers import DEFAULT, FULL, peer, tiny_grid, tiny_run

QUIET = dict(log=lambda s: None, num_train_fn=lambda cfg: cfg.train_size)


# ------------------------------------------------------------------ budget -> epochs, by hand
@pytest.mark.parametrize("budget, protocol_epochs, epochs, ratio", [
    (0.3, 10, 3, 0.3),     # 0.3 x 10 = 3.0000000000000004: 3 epochs, exactly the budget
    (0.45, 10, 4, 0.4),    # 4.5: the 5th epoch would cost 0.5 > 0.45
    (0.55, 10, 5, 0.5),
    (0.7, 10, 7, 0.7),
    (1.0, 10, 10, 1.0),    # the whole protocol: full data itself
    (0.45, 3, 1, 1 / 3),   # the few-epoch regime: 1.35 -> 1 epoch of 3
    (0.7, 3, 2, 2 / 3),
])
def test_budget_buys_the_most_whole_epochs_that_fit(budget, protocol_epochs, epochs, ratio):
    assert epochs_for_budget(budget, protocol_epochs) == (epochs, pytest.approx(ratio))
    assert epochs == protocol_epochs or epochs_ratio(epochs + 1, protocol_epochs) > budget  # one more does not fit


def test_a_budget_below_one_epoch_cannot_be_resolved():
    with pytest.raises(ValueError, match=r"fewer_epochs cannot fit a time budget of 0.3: one epoch of 3 costs 0.333"):
        epochs_for_budget(0.3, 3)


def test_a_resolved_run_trains_full_data_for_the_shorter_count_and_keeps_the_protocol():
    grid = GridConfig(name="t", datasets=["atis"], methods=["full", FEWER_EPOCHS], keeps=[], budgets=[0.45], seeds=[0])
    full, run = grid.runs()
    assert run.key() == "atis|fewer_epochs|b0.45|0" and run.keep == 1.0 and run.epochs == 10
    resolved, ratio = resolve_budget(run, 4478)
    assert (resolved.epochs, resolved.protocol_epochs, resolved.keep, ratio) == (4, 10, 1.0, pytest.approx(0.4))
    assert resolve_budget(resolved, 4478)[0] == resolved  # resolving again changes nothing
    assert resolved.key() == run.key()
    diet = resolved.diet()  # full data's diet, planned over the 4 epochs it trains
    assert diet.plan(4478, resolved.epochs).predicted_time_ratio == 1.0
    assert diet.setup(4478, resolved.epochs).kept_counts() == [4478] * 4
    assert protocol(asdict(resolved)) == protocol(asdict(full))  # same protocol as the 10-epoch full run


def test_fewer_epochs_runs_at_budgets_only():
    with pytest.raises(ConfigError, match="fewer_epochs, fewer_steps, default_budget, default_auto, default_all only with --budgets"):
        GridConfig(methods=["full", FEWER_EPOCHS], keeps=[0.5], budgets=[])
    grid = GridConfig(datasets=["atis"], methods=["full", FEWER_EPOCHS, "default"], keeps=[0.5], budgets=[0.3],
                      seeds=[0])
    assert [r.key() for r in grid.runs()] == ["atis|full|1.0|0", "atis|default|0.5|0", "atis|fewer_epochs|b0.3|0",
                                              "atis|default|b0.3|0"]
    assert grid.data_map_run("atis").method == "default"
    with pytest.raises(ConfigError, match="method"):
        GridRun(method="fewer_epoch")


# ------------------------------------------------------------------ fewer_steps: a fractional last epoch, by hand
@pytest.mark.parametrize("budget, protocol_epochs, epochs, last, ratio", [
    (0.5, 3, 2, 0.5, 0.5),        # 1.5 epochs: one whole, then a random half
    (0.7, 3, 3, 0.1, 0.7),        # 2.1 epochs: 2 whole, then a random 0.1
    (0.45, 10, 5, 0.5, 0.45),     # 4.5 epochs
    (0.3, 10, 3, 1.0, 0.3),       # 3 whole epochs: no partial one (0.3 x 10 = 3.0000000000000004)
    (0.2, 3, 1, 0.6, 0.2),        # less than one epoch: 0.6 of the data once
    (1.0, 3, 3, 1.0, 1.0),        # full data itself
])
def test_fewer_steps_buys_budget_times_epochs_of_steps(budget, protocol_epochs, epochs, last, ratio):
    assert steps_for_budget(budget, protocol_epochs) == (epochs, pytest.approx(last), pytest.approx(ratio))
    assert (epochs - 1 + last) / protocol_epochs == pytest.approx(ratio)  # the examples it trains


def test_fewer_steps_refuses_a_budget_that_buys_nothing():
    with pytest.raises(ValueError, match="fewer_steps cannot fit a time budget of 0.0001"):
        steps_for_budget(0.0001, 3)


def test_a_resolved_fewer_steps_run_trains_whole_epochs_then_a_random_fraction():
    grid = GridConfig(name="t", datasets=["sst2"], methods=["full", FEWER_STEPS], keeps=[], budgets=[0.5, 0.7],
                      seeds=[0], epochs=3)
    full, half, most = grid.runs()
    assert half.key() == "sst2|fewer_steps|b0.5|0" and half.keep == 1.0 and half.epochs == 3
    resolved, ratio = resolve_budget(half, 1000)
    assert (resolved.epochs, resolved.protocol_epochs, resolved.keep, ratio) == (2, 3, 0.5, pytest.approx(0.5))
    assert resolve_budget(resolved, 1000)[0] == resolved and resolved.key() == half.key()
    assert resolved.diet().setup(1000, resolved.epochs).kept_counts() == [1000, 500]
    assert protocol(asdict(resolved)) == protocol(asdict(full))
    resolved, ratio = resolve_budget(most, 1000)
    assert resolved.diet().setup(1000, resolved.epochs).kept_counts() == [1000, 1000, 100]
    whole, _ = resolve_budget(dataclasses.replace(half, budget=2 / 3), 1000)  # whole epochs only: full's diet
    assert (whole.epochs, whole.keep) == (2, 1.0) and whole.diet().setup(1000, 2).kept_counts() == [1000, 1000]


# ------------------------------------------------------------------ in a grid (tiny BERT, real training)
def tiny_grid_run(cfg, **kw) -> dict:
    """``tiny_run`` for the grid's own methods too: ``fewer_epochs`` and ``fewer_steps`` train the diet
    of the epochs they were resolved to; the record keeps the grid run's config and key."""
    if cfg.method in (FEWER_EPOCHS, FEWER_STEPS):
        record = tiny_run(dataclasses.replace(cfg, method="full"), diet=cfg.diet(), **kw)
    elif cfg.method == DEFAULT_BUDGET:
        record = tiny_run(cfg, diet=cfg.diet(), **kw)
    else:
        record = tiny_run(cfg, **kw)
    return {**record, "config": asdict(cfg), "key": cfg.key()}


def test_a_fewer_epochs_grid_records_its_budget_resumes_and_reports(tmp_path):
    # 4 epochs of 48 examples: budget 0.5 -> 2 epochs, 0.3 -> 1 epoch, 0.2 -> none (one epoch costs 0.25)
    grid = lambda seeds: tiny_grid(methods=["full", FEWER_EPOCHS], keeps=[], budgets=[0.5, 0.3, 0.2],  # noqa: E731
                                   seeds=seeds, epochs=4, data_map=False)
    counts = run_grid(grid([0]), tmp_path, run_fn=tiny_grid_run, **QUIET)
    assert counts == {"planned": 4, "skipped": 0, "ran": 3, "failed": 0, "out_of_budget": 1}
    records = read_jsonl(tmp_path / "results.jsonl")
    ok = {r["key"]: r for r in records if r["status"] == OK}
    r = ok["toy|fewer_epochs|b0.5|0"]
    assert (r["config"]["epochs"], r["config"]["protocol_epochs"], r["config"]["budget"]) == (2, 4, 0.5)
    assert r["budget_resolution"] == {"budget": 0.5, "keep": 1.0, "predicted_ratio": 0.5, "num_train": 48, "epochs": 2}
    assert r["examples_trained"] == 2 * 48 and ok["toy|fewer_epochs|b0.3|0"]["examples_trained"] == 48
    assert [r["key"] for r in records if r["status"] == SKIPPED] == ["toy|fewer_epochs|b0.2|0"]
    # another seed in the same folder: the fewer_epochs records are not another protocol
    check_compatible(grid([1]), records)
    again = run_grid(grid([0, 1]), tmp_path, run_fn=tiny_grid_run, **QUIET)
    assert again == {"planned": 8, "skipped": 3, "ran": 3, "failed": 0, "out_of_budget": 2}
    records = read_jsonl(tmp_path / "results.jsonl")
    rows = {(r.method, r.budget): r for r in summarize(records)["toy"]}
    assert list(rows) == [("full", None), (FEWER_EPOCHS, 0.5), (FEWER_EPOCHS, 0.3)]
    half = rows[(FEWER_EPOCHS, 0.5)]
    assert half.seeds == [0, 1] and half.epochs == 2 and half.keep_text() == "1, 2 epochs"
    assert half.trained_fraction.mean == pytest.approx(0.5)  # against the protocol's 4 epochs
    assert half.predicted_ratio.mean == pytest.approx(0.5) and rows[("full", None)].epochs is None
    text = write_report(tmp_path)["markdown"].read_text()
    assert "| fewer_epochs | 1, 2 epochs | 0.5 |" in text and "| fewer_epochs | 1, 1 epoch | 0.3 |" in text
    assert "default's frontier dominates fewer_epochs's" in text


def test_a_fewer_steps_grid_trains_the_fractional_epoch_and_reports_it(tmp_path):
    # 4 epochs of 48 examples: budget 0.375 -> 1.5 epochs (48 + 24 examples), 0.5 -> 2 whole epochs
    grid = tiny_grid(methods=["full", FEWER_STEPS], keeps=[], budgets=[0.5, 0.375], seeds=[0], epochs=4,
                     data_map=False)
    assert run_grid(grid, tmp_path, run_fn=tiny_grid_run, **QUIET)["ran"] == 3
    ok = {r["key"]: r for r in read_jsonl(tmp_path / "results.jsonl") if r["status"] == OK}
    r = ok["toy|fewer_steps|b0.375|0"]
    assert (r["config"]["epochs"], r["config"]["keep"], r["config"]["protocol_epochs"]) == (2, 0.5, 4)
    assert r["examples_trained"] == 48 + 24 and ok["toy|fewer_steps|b0.5|0"]["examples_trained"] == 2 * 48
    rows = {(row.method, row.budget): row for row in summarize(list(ok.values()))["toy"]}
    part = rows[(FEWER_STEPS, 0.375)]
    assert part.keep_text() == "1, 1.5 epochs" and rows[(FEWER_STEPS, 0.5)].keep_text() == "1, 2 epochs"
    assert part.trained_fraction.mean == pytest.approx(0.375) and part.predicted_ratio.mean == pytest.approx(0.375)
    text = write_report(tmp_path)["markdown"].read_text()
    assert "| fewer_steps | 1, 1.5 epochs | 0.375 |" in text
    assert "default's frontier dominates fewer_steps's" in text


# ------------------------------------------------------------------ frontier and goals
def test_issue13_goals_compare_the_default_with_fewer_epochs():
    gs = issue13_goals([FULL] + DEFAULT)
    assert [g.goal for g in gs[-2:]] == [f"default's frontier dominates {m}'s for time ratios in [0.3, 0.7]"
                                         for m in (FEWER_EPOCHS, FEWER_STEPS)]
    # fewer epochs: (0.3, 80), (0.5, 86), (0.7, 90), std 0.5; default (0.3, 85), (0.5, 90), (0.7, 92), std 1
    # diffs +5 at 0.3, +4 at 0.5, +2 at 0.7, tolerance 1: met; worst 0.7 (+2), best 0.3 (+5)
    fewer = peer(FEWER_EPOCHS, (0.3, 0.80), (0.5, 0.86), (0.7, 0.90))
    g = frontier_goal(DEFAULT + fewer, "accuracy", other=FEWER_EPOCHS)
    assert g.status == MET
    assert g.evidence == ("41 time ratios in 0.300-0.700 (default 0.300-0.700, fewer_epochs 0.300-0.700); "
                          "worst t 0.700: diff +2.00 (tolerance 1.00); best t 0.300: diff +5.00 (tolerance 1.00)")
    assert issue13_goals([FULL] + DEFAULT + fewer)[-2].status == MET


def _record(method, seed, acc, seconds, budget=None, epochs=2, protocol_epochs=None):
    cfg = {"dataset": "d", "method": method, "keep": 1.0, "seed": seed, "epochs": epochs, "budget": budget,
           "protocol_epochs": protocol_epochs}
    key = f"d|{method}|1.0|{seed}" if budget is None else f"d|{method}|b{budget:g}|{seed}"
    return {"config": cfg, "key": key, "status": OK, "metrics": {"accuracy": acc}, "training_seconds": seconds,
            "scoring_seconds": 0.0, "selection_seconds": 0.0, "cpu_seconds": seconds,
            "examples_trained": 10 * epochs, "examples_full": 10 * epochs, "num_train": 10}


def test_combine_puts_fewer_epochs_in_the_frontier_table_plot_and_goals(tmp_path, capsys):
    """Full data 100 s (10 epochs) against fewer_epochs at budget 0.45: 4 epochs in 41 s, ratio 0.41."""
    folder = tmp_path / "runs"
    folder.mkdir()
    records = [_record("full", 0, 0.9, 100.0, epochs=10),
               _record(FEWER_EPOCHS, 0, 0.85, 41.0, budget=0.45, epochs=4, protocol_epochs=10)]
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    combine_main([str(tmp_path / "out"), "--from", str(folder), "--dataset", "d", "--time", "cpu"])
    text = (tmp_path / "out" / "frontier.md").read_text()
    assert f"| fewer_epochs | 1, 4 epochs | 85.00 | 0.410 | 1 | {folder} |" in text
    assert "default's frontier dominates fewer_epochs's" in text
    assert (tmp_path / "out" / "frontier_d.png").stat().st_size > 0
    capsys.readouterr()


# ------------------------------------------------------------------ the real run (slow)
@pytest.mark.slow
def test_a_real_fewer_epochs_run_has_the_trainers_schedule_over_its_own_steps(tmp_path):
    """ATIS, 64 training examples, MiniLM's first layer, a protocol of 2 epochs: at budget 0.5 the
    peer trains 1 epoch, 2 optimizer steps of 32, and the Trainer planned exactly those 2 steps
    (its linear schedule reaches 0 at the end of the shorter run, not halfway down a 2-epoch one)."""
    grid = GridConfig(name="t", datasets=["atis"], methods=["full", FEWER_EPOCHS], keeps=[], budgets=[0.5],
                      seeds=[0], epochs=2, layers=1, train_size=64, data_map=False)
    counts = run_grid(grid, tmp_path, log=lambda s: None)
    assert counts["ran"] == 2 and counts["failed"] == 0
    ok = {r["key"]: r for r in read_jsonl(tmp_path / "results.jsonl") if r["status"] == OK}
    full, fewer = ok["atis|full|1.0|0"], ok["atis|fewer_epochs|b0.5|0"]
    assert (full["optimizer_steps"], full["planned_steps"]) == (4, 4)
    assert (fewer["optimizer_steps"], fewer["planned_steps"], fewer["config"]["epochs"]) == (2, 2, 1)
    assert fewer["examples_trained"] == 64 and fewer["kept_per_epoch"] == [64]


@pytest.mark.slow
def test_a_real_fewer_steps_run_plans_the_schedule_over_its_fractional_epochs(tmp_path):
    """The same protocol at budget 0.75: 1.5 epochs, 64 then a random 32 examples, 3 optimizer steps,
    and the Trainer planned those 3 (the schedule ends with the partial epoch)."""
    grid = GridConfig(name="t", datasets=["atis"], methods=["full", FEWER_STEPS], keeps=[], budgets=[0.75],
                      seeds=[0], epochs=2, layers=1, train_size=64, data_map=False)
    assert run_grid(grid, tmp_path, log=lambda s: None)["failed"] == 0
    ok = {r["key"]: r for r in read_jsonl(tmp_path / "results.jsonl") if r["status"] == OK}
    part = ok["atis|fewer_steps|b0.75|0"]
    assert (part["optimizer_steps"], part["planned_steps"], part["config"]["epochs"]) == (3, 3, 2)
    assert part["kept_per_epoch"] == [64, 32] and part["examples_trained"] == 96


def test_a_budget_infobatch_cannot_reach_is_a_skipped_run_not_a_grid_error(tmp_path):
    """3 epochs: InfoBatch's first and annealing epochs alone cost 0.67, so a budget of 0.5 is out of
    its reach. The grid still builds (the other runs go ahead) and records that run as skipped,
    with InfoBatch's reason; at 0.7 it runs."""
    grid = tiny_grid(methods=["full", "infobatch"], keeps=[], budgets=[0.5, 0.7], seeds=[0], epochs=3,
                     data_map=False)
    assert [r.key() for r in grid.runs()] == ["toy|full|1.0|0", "toy|infobatch|b0.5|0", "toy|infobatch|b0.7|0"]
    counts = run_grid(grid, tmp_path, run_fn=tiny_grid_run, **QUIET)
    assert counts["out_of_budget"] == 1 and counts["failed"] == 0 and counts["ran"] == 2
    records = read_jsonl(tmp_path / "results.jsonl")
    skipped = [r for r in records if r["status"] == SKIPPED]
    assert [r["key"] for r in skipped] == ["toy|infobatch|b0.5|0"]
    assert "cannot pay for InfoBatch's first epoch and its 1 annealing epochs of 3" in json.dumps(skipped[0])
    with pytest.raises(ConfigError, match="diet_options"):  # other diet errors are still the grid's
        GridRun(method="infobatch", budget=0.5, keep=1.0, epochs=3, diet_options={"time_budget": 0.5, "period": 0})
    # a budget given as a diet option would share the run key of the run without it (full data's!)
    with pytest.raises(ConfigError, match="a grid gives time budgets as `budgets:`"):
        GridRun(method="full", keep=1.0, epochs=3, diet_options={"time_budget": 0.5})


def test_a_diet_that_chose_fewer_epochs_counts_against_the_protocols_epochs():
    """default_auto at 0.45 of 10 ATIS epochs trained 7 (4,478 + 6 x 2,532 examples): its config keeps
    the protocol's 10 epochs, its examples_full counts the 7 it ran. Against 10 full epochs that is
    19,670 / 44,780 = 0.439, not 19,670 / 31,346 = 0.628; tokens alike."""
    from benchmarks.grid.aggregate import token_fraction, trained_fraction

    trained = 4478 + 6 * 2532
    record = {"config": {"method": "default_auto", "epochs": 10, "protocol_epochs": None}, "num_train": 4478,
              "examples_trained": trained, "examples_full": 7 * 4478,
              "tokens_trained": 2 * trained, "tokens_full": 2 * 7 * 4478}
    assert trained_fraction(record) == pytest.approx(trained / 44780)
    assert token_fraction(record) == pytest.approx(trained / 44780)
    fewer = {"config": {"method": FEWER_EPOCHS, "epochs": 4, "protocol_epochs": 10}, "num_train": 4478,
             "examples_trained": 4 * 4478, "examples_full": 4 * 4478}
    assert trained_fraction(fewer) == pytest.approx(0.4)
    old = {"config": {"method": FEWER_EPOCHS, "epochs": 4, "protocol_epochs": 10},  # a record without num_train
           "examples_trained": 4 * 4478, "examples_full": 4 * 4478}
    assert trained_fraction(old) == pytest.approx(0.4)


def test_the_budget_api_peer_runs_what_dataDiet_time_budget_plans(tmp_path):
    """``default_budget``: DataDiet(time_budget=b) as a user writes it. 3 epochs of 48 examples at 0.5:
    all 3 would keep (1.5 - 1) / 2 - 0.018 = 0.232, under the floor 0.3, so the plan is 2 epochs, the
    warm-up (48) and round(0.482 x 48) = 23 examples: 71 of the protocol's 144. The grid's
    ``default`` at the same budget keeps its keep over all 3 epochs."""
    grid = tiny_grid(methods=["full", DEFAULT_BUDGET, "default"], keeps=[], budgets=[0.5], seeds=[0], epochs=3,
                     data_map=False)
    run = {r.method: r for r in grid.runs()}[DEFAULT_BUDGET]
    resolved, ratio = resolve_budget(run, 48)
    assert resolved.diet_options["time_budget"] == 0.5 and ratio == pytest.approx(0.5, abs=0.01)
    assert resolved.diet().strategy.budget_epochs == "auto" and resolved.diet().plan(48, 3).epochs[1].trained == 23
    counts = run_grid(grid, tmp_path, run_fn=tiny_grid_run, **QUIET)
    assert counts["ran"] == 3 and counts["failed"] == 0
    ok = {r["key"]: r for r in read_jsonl(tmp_path / "results.jsonl") if r["status"] == OK}
    api, spread = ok["toy|default_budget|b0.5|0"], ok["toy|default|b0.5|0"]
    assert (api["examples_trained"], api["examples_full"]) == (71, 96)  # 2 epochs run
    assert spread["examples_full"] == 144 and spread["examples_trained"] < 144 * 0.5
    rows = {r.method: r for r in summarize(list(ok.values()))["toy"]}
    assert list(rows) == ["full", "default", DEFAULT_BUDGET]  # beside the default in every table
    assert rows[DEFAULT_BUDGET].trained_fraction.mean == pytest.approx(71 / 144)
    assert rows[DEFAULT_BUDGET].predicted_ratio.mean == pytest.approx(0.5, abs=0.01)
    # the prediction is the one the run was resolved with, not a re-plan under today's rule
    from benchmarks.grid.aggregate import predicted_time_ratio
    assert predicted_time_ratio({**api, "budget_resolution": {**api["budget_resolution"], "predicted_ratio": 0.42}}) == 0.42
