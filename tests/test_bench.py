"""The benchmark grid: order, resume after an interruption, failures re-run, merged invocations,
time ratios and the report's numbers against hand computations. Runs are real (a tiny BERT
fine-tuned by DataDietTrainer on a toy task), only small."""

import json
import re
import statistics
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from benchmarks.grid.aggregate import Row, Stat, cpu_time, summarize, time_ratios
from benchmarks.grid.cli import QUICK, build_parser, grid_from_args, main, run_bench
from benchmarks.grid.config import GridConfig, check_compatible
from benchmarks.grid.goals import MET, NOT_MET, UNDETERMINED, accuracy_goal, interpolate_at, issue5_goals, keep_goal, time_goal
from benchmarks.grid.render import data_map_record, write_report
from benchmarks.grid.runner import estimated_cost, run_grid
from benchmarks.grid.store import ERROR, OK, latest_by_key, read_jsonl
from datadiet.diet import DataDiet
from bench_helpers import tiny_grid, tiny_run
from datadiet.integrations.trainer import DataDietTrainer
from datadiet.toolkit.experiment import trained_tokens
from helpers import pad_collate, tiny_classifier, toy_classification_dataset
from transformers import TrainingArguments

REPO = Path(__file__).resolve().parents[1]


class Counting:
    """``tiny_run`` that counts calls, raises KeyboardInterrupt at call ``interrupt_at`` and an
    error for the keys in ``fail``."""

    def __init__(self, interrupt_at=None, fail=()):
        self.keys, self.interrupt_at, self.fail = [], interrupt_at, set(fail)

    def __call__(self, cfg, **kw):
        self.keys.append(cfg.key())
        if len(self.keys) == self.interrupt_at:
            raise KeyboardInterrupt
        if cfg.key() in self.fail:
            raise RuntimeError("boom")
        return tiny_run(cfg, **kw)


@pytest.fixture(scope="module")
def grid_folder(tmp_path_factory):
    """A 6-run grid interrupted during its third run, then continued: (folder, first calls, second calls)."""
    out = tmp_path_factory.mktemp("grid")
    first = Counting(interrupt_at=3)
    with pytest.raises(KeyboardInterrupt):
        run_grid(tiny_grid(), out, run_fn=first, command="python -m benchmarks.grid t", log=lambda s: None)
    second = Counting()
    counts = run_grid(tiny_grid(), out, run_fn=second, command="python -m benchmarks.grid t", log=lambda s: None)
    assert counts == {"planned": 6, "skipped": 2, "ran": 4, "failed": 0, "out_of_budget": 0}
    write_report(out)
    return out, first.keys, second.keys


def test_plan_runs_full_first_and_rotates_the_methods():
    grid = tiny_grid(methods=["random", "default", "infobatch"], keeps=[0.5, 0.2], seeds=[0, 1, 2])
    keys = [c.key() for c in grid.runs()]
    assert len(keys) == len(set(keys)) == 3 * (1 + 3 * 2)
    per_seed = [keys[i * 7:(i + 1) * 7] for i in range(3)]
    assert [s[0] for s in per_seed] == [f"toy|full|1.0|{s}" for s in range(3)]
    firsts = [s[1].split("|")[1:3] for s in per_seed]
    assert firsts == [["random", "0.5"], ["infobatch", "0.5"], ["default", "0.2"]]  # shifted by 6 // 3 = 2 pairs
    assert all(sorted(k.split("|")[1:3] for k in s[1:]) == sorted(k.split("|")[1:3] for k in per_seed[0][1:])
               for s in per_seed)
    assert grid.data_map_key("toy") == "toy|default|0.5|0"


def test_interrupted_grid_continues_without_rerunning(grid_folder):
    out, first, second = grid_folder
    records = read_jsonl(out / "results.jsonl")
    planned = [c.key() for c in tiny_grid().runs()]
    assert first == planned[:3]  # the third was interrupted: not recorded
    assert second == planned[2:]  # continues with it, finished ones skipped
    assert [r["key"] for r in records] == planned and all(r["status"] == OK for r in records)
    assert len({r["invocation"] for r in records}) == 2
    assert len(read_jsonl(out / "invocations.jsonl")) == 2
    # the default run of the first seed wrote its data map, copied beside the report
    assert (out / "data_map_toy.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "frontier_toy.png").stat().st_size > 1000


def test_time_ratio_is_run_time_over_full_run_of_the_same_seed(grid_folder):
    out, _, _ = grid_folder
    records = read_jsonl(out / "results.jsonl")
    by_key = {r["key"]: r for r in records}
    ratios = time_ratios(records)
    for seed in (0, 1):
        full = by_key[f"toy|full|1.0|{seed}"]
        run = by_key[f"toy|default|0.5|{seed}"]
        t_full = full["training_seconds"] + full["scoring_seconds"] + full["selection_seconds"]
        t_run = run["training_seconds"] + run["scoring_seconds"] + run["selection_seconds"]
        assert ratios[run["key"]] == pytest.approx(t_run / t_full)
        assert ratios[run["key"]] == pytest.approx(run["wall_seconds"] / full["wall_seconds"])  # eval excluded
        assert ratios[full["key"]] == pytest.approx(1.0)
        assert time_ratios(records, cpu_time)[run["key"]] == pytest.approx(run["cpu_seconds"] / full["cpu_seconds"])


def test_trained_tokens_are_the_kept_examples_token_counts_summed_over_epochs():
    train = toy_classification_dataset(48, seed=0)
    diet = DataDiet(keep=0.5, seed=3, progress=False)
    args = TrainingArguments("/tmp/unused", num_train_epochs=3, per_device_train_batch_size=16, learning_rate=3e-3,
                             save_strategy="no", report_to=[], disable_tqdm=True, use_cpu=True, logging_strategy="no")
    DataDietTrainer(diet=diet, model=tiny_classifier(), args=args, train_dataset=train, data_collator=pad_collate).train()
    lengths = [len(ids) for ids in train["input_ids"]]
    brute = sum(lengths[i] for row in diet.kept_matrix() for i in range(48) if row[i])
    assert diet.log[1]["kept"] == 24 and brute < 3 * sum(lengths)
    assert trained_tokens(diet, train, diet.summary()["examples_full"]) == (brute, 3 * sum(lengths))
    assert trained_tokens(diet, train.remove_columns("input_ids"), 144) == (None, None)


def test_markdown_table_holds_mean_and_std_over_seeds(grid_folder):
    out, _, _ = grid_folder
    records = read_jsonl(out / "results.jsonl")
    by_key = {r["key"]: r for r in records}
    md = (out / "results.md").read_text()
    for method in ("random", "default"):
        runs = [by_key[f"toy|{method}|0.5|{s}"] for s in (0, 1)]
        fulls = [by_key[f"toy|full|1.0|{s}"] for s in (0, 1)]
        acc = [100 * r["metrics"]["accuracy"] for r in runs]
        ratio = [r["wall_seconds"] / f["wall_seconds"] for r, f in zip(runs, fulls)]
        share = [100 * r["scoring_seconds"] / r["wall_seconds"] for r in runs]
        trained = [r["examples_trained"] / r["examples_full"] for r in runs]
        line = next(line for line in md.splitlines() if line.startswith(f"| {method} | 0.5 |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[2] == f"{statistics.mean(acc):.2f} ± {statistics.stdev(acc):.2f}"
        assert cells[3] == f"{statistics.mean(ratio):.3f} ± {statistics.stdev(ratio):.3f}"
        cpu = [r["cpu_seconds"] / f["cpu_seconds"] for r, f in zip(runs, fulls)]
        assert cells[4] == f"{statistics.mean(cpu):.3f} ± {statistics.stdev(cpu):.3f}"
        # predicted before training by the diet's plan: 1 warm-up epoch of 2 on all 48, then half
        # (random scores nothing; the default re-scores at most 10% of 48 = 5 at 0.18 each)
        predicted = (1 + 0.5 + (0.18 * 5 / 48 if method == "default" else 0)) / 2
        assert cells[5] == f"{predicted:.3f}"
        assert cells[6] == f"{statistics.mean(share):.1f} ± {statistics.stdev(share):.1f}"
        assert cells[7].split(" ± ")[0] == f"{statistics.mean(trained):.3f}"
        tokens = [r["tokens_trained"] / r["tokens_full"] for r in runs]
        assert cells[8].split(" ± ")[0] == f"{statistics.mean(tokens):.3f}"
        assert cells[-1] == "2"
    # random prunes half the data after the one warm-up epoch: (48 + 24) / 96
    random_row = next(r for r in summarize(records)["toy"] if r.method == "random")
    assert random_row.trained_fraction.mean == pytest.approx(0.75)
    report = json.loads((out / "results.json").read_text())
    assert report["commands"] == ["python -m benchmarks.grid t"] and len(report["runs"]) == 6
    assert report["environments"][0]["torch"] == torch.__version__
    assert "### Goals" in md and "| goal | status | numbers |" in md


def test_failed_run_is_recorded_the_grid_goes_on_and_resume_reruns_it(tmp_path):
    grid = tiny_grid(seeds=[0], methods=["full", "random"], data_map=False)
    first = Counting(fail={"toy|random|0.5|0"})
    counts = run_grid(grid, tmp_path, run_fn=first, log=lambda s: None)
    assert counts["failed"] == 1 and first.keys == ["toy|full|1.0|0", "toy|random|0.5|0"]
    bad = read_jsonl(tmp_path / "results.jsonl")[-1]
    assert bad["status"] == ERROR and bad["error"] == "RuntimeError: boom" and "Traceback" in bad["traceback"]
    write_report(tmp_path)
    assert "## Failing runs" in (tmp_path / "results.md").read_text()
    second = Counting()
    run_grid(grid, tmp_path, run_fn=second, log=lambda s: None)
    assert second.keys == ["toy|random|0.5|0"]  # only the failed key runs again
    records = read_jsonl(tmp_path / "results.jsonl")
    assert [r["status"] for r in records] == [OK, ERROR, OK]
    assert latest_by_key(records)["toy|random|0.5|0"]["status"] == OK
    write_report(tmp_path)
    assert "Failing runs" not in (tmp_path / "results.md").read_text()


def test_torn_last_line_is_ignored_and_that_run_repeated(tmp_path):
    grid = tiny_grid(seeds=[0], methods=["full"], data_map=False)
    run_grid(grid, tmp_path, run_fn=Counting(), log=lambda s: None)
    with open(tmp_path / "results.jsonl", "a") as f:
        f.write('{"key": "toy|full|1.0|1", "sta')  # killed mid-write
    again = Counting()
    run_grid(tiny_grid(seeds=[0, 1], methods=["full"], data_map=False), tmp_path, run_fn=again, log=lambda s: None)
    assert again.keys == ["toy|full|1.0|1"]


def test_bench_methods_are_the_library_presets_at_the_kept_fraction():
    assert DataDiet(method="default", keep=0.2).strategy == DataDiet(keep=0.2).strategy
    assert DataDiet(method="default_anneal", keep=0.2).strategy == DataDiet(keep=0.2, anneal_epochs=1).strategy
    assert DataDiet(method="nlu_data_diets", keep=0.3).strategy == DataDiet.nlu_data_diets(keep=0.3).strategy
    assert DataDiet(method="infobatch", keep=0.5).strategy.prune_ratio == 0.5
    assert DataDiet(method="infobatch", keep=0.05).strategy.prune_ratio == 0.9  # InfoBatch's ratio is capped
    with pytest.raises(ValueError, match="valid methods: .*default_anneal"):
        DataDiet(method="defualt", keep=0.5)


def test_one_data_map_per_dataset_and_method_and_the_report_shows_the_defaults(tmp_path):
    quiet = {"command": "python -m benchmarks.grid t", "log": lambda s: None}
    run_grid(tiny_grid(methods=["full", "random"], seeds=[1], epochs=2), tmp_path, run_fn=tiny_run, **quiet)
    run_grid(tiny_grid(methods=["full", "default"], seeds=[2], epochs=2), tmp_path, run_fn=tiny_run, **quiet)
    # continuing with other seeds or adding methods writes no second map of the same method
    run_grid(tiny_grid(methods=["full", "default", "random"], seeds=[0, 1], epochs=2), tmp_path, run_fn=tiny_run,
             **quiet)
    reports = sorted(p.name for p in (tmp_path / "diet_reports").iterdir())
    assert reports == ["toy_default_0.5_2", "toy_random_0.5_1"]
    records = read_jsonl(tmp_path / "results.jsonl")
    assert data_map_record(records, "toy")["key"] == "toy|default|0.5|2"
    assert data_map_record([r for r in records if r["config"]["method"] != "default"], "toy")["key"] == \
        "toy|random|0.5|1"
    assert data_map_record(records, "other") is None


def test_invocations_merge_and_protocol_changes_are_refused(tmp_path):
    run_grid(tiny_grid(datasets=["toy_a"], seeds=[0], methods=["full"]), tmp_path, run_fn=Counting(),
             command="python -m benchmarks.grid --datasets toy_a", log=lambda s: None)
    run_grid(tiny_grid(datasets=["toy_b"], seeds=[0], methods=["full"]), tmp_path, run_fn=Counting(),
             command="python -m benchmarks.grid --datasets toy_b", log=lambda s: None)
    write_report(tmp_path)
    md = (tmp_path / "results.md").read_text()
    assert "## toy_a" in md and "## toy_b" in md
    assert "python -m benchmarks.grid --datasets toy_a\npython -m benchmarks.grid --datasets toy_b" in md
    with pytest.raises(ValueError, match="another protocol.*epochs: 2 there, 3 here"):
        run_grid(tiny_grid(datasets=["toy_a"], seeds=[0], methods=["full"], epochs=3), tmp_path, run_fn=Counting(),
                 log=lambda s: None)


def test_a_budget_grid_with_infobatch_continues_in_its_folder(tmp_path):
    """InfoBatch's runs carry their budget in diet_options (time_budget); that is the budget, not a
    change of protocol, so a second invocation (another seed, or a resume) is accepted."""
    grid = lambda seeds: tiny_grid(methods=["full", "infobatch"], keeps=[], budgets=[0.7], seeds=seeds,  # noqa: E731
                                   epochs=8)
    quiet = dict(run_fn=Counting(), log=lambda s: None, num_train_fn=lambda cfg: cfg.train_size)
    run_grid(grid([0]), tmp_path, **quiet)
    records = read_jsonl(tmp_path / "results.jsonl")
    assert [r["config"]["diet_options"].get("time_budget") for r in records if r["status"] == OK] == [None, 0.7]
    run_grid(grid([1]), tmp_path, **quiet)
    ok = {r["key"] for r in read_jsonl(tmp_path / "results.jsonl") if r["status"] == OK}
    assert ok == {"toy|full|1.0|0", "toy|infobatch|b0.7|0", "toy|full|1.0|1", "toy|infobatch|b0.7|1"}


def _row(method, keep, acc, ratio):
    return Row("d", method, keep, seeds=list(range(len(acc))), metrics={"accuracy": Stat.of(acc)},
               time_ratio=Stat.of(ratio), cpu_ratio=Stat.of(ratio), predicted_ratio=Stat.of(ratio),
               run_seconds=Stat.of(ratio),
               scoring_share=Stat.of([0.0] * len(acc)),
               trained_fraction=Stat.of([keep] * len(acc)))


def test_goals_follow_their_definitions():
    full = _row("full", 1.0, [0.90, 0.92], [1.0, 1.0])  # mean 0.91, std 0.01414
    rows = [full, _row("default", 0.5, [0.90, 0.905], [0.50, 0.52]), _row("default", 0.2, [0.895, 0.905], [0.28, 0.30])]
    assert keep_goal(rows, 0.5, 0.55, "accuracy", max_drop=None).status == MET  # -0.75 points, std 1.41
    assert keep_goal(rows, 0.2, 0.30, "accuracy", max_drop=0.01).status == MET  # -1.0 point, ratio 0.29
    rows[2] = _row("default", 0.2, [0.89, 0.90], [0.28, 0.30])
    assert keep_goal(rows, 0.2, 0.30, "accuracy", max_drop=0.01).status == NOT_MET  # -1.5 points
    one_seed = [_row("full", 1.0, [0.9], [1.0]), _row("default", 0.5, [0.89], [0.5])]
    assert keep_goal(one_seed, 0.5, 0.55, "accuracy", max_drop=None).status == UNDETERMINED
    rows += [_row("nlu_data_diets", 0.5, [0.90, 0.91], [0.60, 0.62])]
    assert time_goal(rows, "accuracy").status == MET
    # random: (0.3, 0.80) and (0.6, 0.90); at t = 0.51 -> 0.87; default 0.9025 beats it by 3.25 > std
    rows += [_row("random", 0.2, [0.79, 0.81], [0.3, 0.3]), _row("random", 0.5, [0.89, 0.91], [0.6, 0.6])]
    assert interpolate_at([(0.3, 0.8), (0.6, 0.9)], 0.51) == pytest.approx(0.87)
    g = accuracy_goal(rows, "accuracy", other="random")
    assert g.status == MET  # keep 0.2: faster than every random run and 9.5 points above its fastest
    assert "keep 0.5 (time ratio 0.510): 90.25 vs random 87.00 interpolated (diff +3.25" in g.evidence
    # InfoBatch faster than default's keep 0.5 and more accurate: lost; default keep 0.2 faster but worse: unknown
    rows += [_row("infobatch", 0.5, [0.94, 0.96], [0.40, 0.40])]
    assert accuracy_goal(rows, "accuracy", other="infobatch").status == NOT_MET
    assert accuracy_goal(rows[:-2] + [_row("infobatch", 0.5, [0.94, 0.96], [0.60, 0.60])], "accuracy",
                         other="infobatch").status == UNDETERMINED
    assert [x.status for x in issue5_goals(rows)][:2] == [MET, NOT_MET]


def test_quick_yaml_is_the_builtin_quick_grid():
    from_yaml = GridConfig.from_yaml(REPO / "benchmarks" / "configs" / "quick.yaml")
    assert asdict(from_yaml) == asdict(QUICK)
    full = GridConfig.from_yaml(REPO / "benchmarks" / "configs" / "full.yaml")
    assert {"full", "random", "random_static", "static_el2n", "nlu_data_diets", "infobatch", "default"} <= set(
        full.methods)
    assert {0.5, 0.2} <= set(full.keeps) and len(full.seeds) >= 3 and full.epochs >= 10


def test_cli_flags_override_the_config_and_report_only_reaggregates(grid_folder, capsys):
    parser = build_parser()
    args = parser.parse_args(["--quick", "--datasets", "atis", "--seeds", "0,1", "--layers", "all",
                              "--keeps", "0.5", "0.2", "--lr", "1e-3"])
    grid = grid_from_args(args)
    assert (grid.name, grid.datasets, grid.seeds, grid.layers) == ("quick-atis", ["atis"], [0, 1], None)
    assert grid.keeps == [0.5, 0.2] and grid.learning_rate == 1e-3
    assert grid.train_size == QUICK.train_size and grid.epochs == QUICK.epochs
    with pytest.raises(ValueError, match="methods: got \\['nope'\\]; allowed: methods among"):
        grid_from_args(parser.parse_args(["--methods", "nope"]))
    out, _, _ = grid_folder
    (out / "results.md").unlink()
    assert run_bench(parser.parse_args(["--report-only", "--out", str(out)])) == 0
    assert re.search(r"^\| default \| 0\.5 \|", (out / "results.md").read_text(), re.M)


def test_every_protocol_field_is_a_flag_of_the_grid_command():
    """The flags are generated from the dataclass fields: a new protocol setting is a new flag."""
    from dataclasses import fields

    from datadiet.toolkit.experiment import Protocol

    help_text = build_parser().format_help()
    for f in fields(Protocol):
        flag = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
        assert flag in help_text and f.metadata["help"].split()[0] in help_text


@pytest.mark.parametrize("argv, line", [
    (["--keeps", "0.5", "1.5"], "keeps: got [0.5, 1.5]; allowed: kept fractions in (0, 1)"),
    (["--methods", "defualt"], "methods: got ['defualt']; allowed: methods among full"),
    (["--epochs", "0"], "epochs: got 0; allowed: an integer >= 1"),
    (["--datasets", "snipz"], "datasets: got 'snipz'; allowed: built-in datasets (atis"),
])
def test_bad_grid_settings_print_one_line_each_and_exit_2(argv, line, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path / "out"), "--max-runs", "0", "--data-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("python -m benchmarks.grid: " + line), err
    assert not (tmp_path / "out").exists()  # refused before anything ran


def test_bad_grid_yaml_lists_every_error(tmp_path, capsys):
    config = tmp_path / "g.yaml"
    config.write_text("epochs: '2'\nkeeps: [half]\nseed: [0]\n")
    assert main(["--config", str(config), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"python -m benchmarks.grid: {config}: seed: unknown key (did you mean 'seeds'?); allowed keys: "
        "batch_size, budgets, data_map, data_root, datasets, encoder, epochs, eval_split, keeps, layers, learning_rate, "
        "lr_scheduler, max_length, methods, name, scoring_batch_size, seeds, threads, train_size",
        f"python -m benchmarks.grid: {config}: epochs: got '2' (a string: write it without quotes); "
        "allowed: an integer >= 1",
        f"python -m benchmarks.grid: {config}: keeps: got ['half']; allowed: kept fractions in (0, 1), "
        "no duplicates, at least one (or a budget) for pruning methods (full data is the 'full' method)",
    ]


def test_estimated_cost_reads_the_plan_of_the_diet():
    """Examples trained (kept counts) plus a third of an example per re-scored one, over 10 x 1000
    examples. Every example counts as scored in epoch 0, so stale re-scoring starts at epoch 2."""
    grid = tiny_grid(epochs=10)
    cost = {c.method: estimated_cost(c) for c in grid.replace(methods=[
        "full", "random", "default", "default_anneal", "nlu_data_diets", "static_el2n"]).runs()[:6]}
    assert cost["full"] == 1.0
    assert cost["random"] == pytest.approx(0.1 + 0.9 * 0.5)  # warm-up epoch + 9 at half, no scoring
    assert cost["default"] == pytest.approx(0.1 + 0.9 * 0.5 + 8 * 0.1 / 3 / 10)  # stale: 10% of N, epochs 2..9
    assert cost["default_anneal"] == pytest.approx(0.2 + 0.8 * 0.5 + 7 * 0.1 / 3 / 10)
    assert cost["nlu_data_diets"] == pytest.approx(0.1 + 0.9 * 0.5 + 9 * 1.0 / 3 / 10)  # scores everything
    assert cost["static_el2n"] == pytest.approx(0.1 + 0.9 * 0.5 + 1 / 3 / 10)  # scores once


def test_a_missing_data_folder_is_refused_before_any_run(tmp_path, capsys):
    assert main(["--quick", "--data-root", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("python -m benchmarks.grid: data_root: no dataset folder found"), err
    assert not (tmp_path / "out").exists()


def test_a_record_written_before_a_setting_existed_ran_at_its_default(tmp_path):
    """A folder whose records predate a run setting (``text_column``, ``label_column`` and
    ``dataset_options`` came later) continues: the missing settings were their defaults. A record
    that names another value is still another protocol."""
    grid = tiny_grid(datasets=["toy_a"], seeds=[0], methods=["full"])
    record = {"config": asdict(grid.run_config("toy_a", "full", 1.0, 0)), "status": "ok"}
    old = {**record, "config": {k: v for k, v in record["config"].items()
                                if k not in ("text_column", "label_column", "dataset_options")}}
    check_compatible(grid, [old])
    other = {**record, "config": {**record["config"], "label_column": "intent"}}
    with pytest.raises(ValueError, match="another protocol.*label_column: 'intent' there, 'label' here"):
        check_compatible(grid, [other])
