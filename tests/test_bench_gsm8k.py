"""The GSM8K benchmark's bookkeeping (benchmarks/gsm8k_p3): method specs, the diet each one means,
seeds pooled against the same seed's full run, and a resume that refuses to mix settings."""

import json
import math

import pytest

from benchmarks.gsm8k_p3.methods import MethodSpec
from benchmarks.gsm8k_p3.report import cpu_time_ratio, pooled, summarize, time_ratio
from benchmarks.gsm8k_p3.run import RUN_SETTINGS, matched_time_ratio, parse_args, resume


def test_method_specs_name_a_method_and_optionally_its_keep():
    assert MethodSpec.parse("random", 0.5) == MethodSpec("random", 0.5)
    assert MethodSpec.parse("random", 0.5).label == "random"
    spec = MethodSpec.parse("random@0.62", 0.5)
    assert (spec.keep, spec.label) == (0.62, "random@0.62")
    assert MethodSpec.parse("full", 0.5).keep is None
    timed = MethodSpec.parse("default@time=p3_free", 0.5)
    assert (timed.time_of, timed.keep, timed.label) == ("p3_free", None, "default@time=p3_free")
    for bad, message in [("p4", "unknown method"), ("full@0.5", "no @KEEP"), ("random@1.5", r"\(0, 1\]"),
                         ("random@half", "kept fraction"), ("p3@time=random", "only full, random and default"),
                         ("random@time=", "name the method")]:
        with pytest.raises(ValueError, match=message):
            MethodSpec.parse(bad, 0.5)


def test_each_method_runs_its_library_preset():
    diets = {name: MethodSpec.parse(name, 0.25).diet(3, scoring_batch_size=4, rescore_fraction=0.2).strategy
             for name in ("full", "random", "default", "p3", "p3_free", "p3_cold", "p3_cold_hard")}
    assert diets["full"].method == "full"
    assert diets["random"].method == "random" and diets["random"].keep == 0.25
    assert diets["default"].keep == 0.25 and diets["default"].warmup_epochs == 1
    assert diets["p3"].rescore == "all" and diets["p3"].budget == 0.25
    assert diets["p3_free"].rescore == "stale" and diets["p3_free"].rescore_fraction == 0.2
    assert diets["p3_free"].cold_start == "score" and diets["p3_cold"].cold_start == "random"
    assert diets["p3_cold"].rescore == "stale" and diets["p3_cold"].rescore_fraction == 0.2
    assert diets["p3_cold"].quality == "easiness" and diets["p3_cold_hard"].quality == "difficulty"
    assert diets["p3_cold_hard"].cold_start == "random" and diets["p3_cold_hard"].budget == 0.25
    # where the paper is silent P3 follows the authors' code in both
    assert diets["p3"].shape == diets["p3_free"].shape == "p3_code"


def _run(method, seed, total, nll, em, score=0.0, tokens=100):
    return {"method": method, "seed": seed, "test_nll": nll, "test_exact_match": em, "trained_tokens": tokens,
            "seconds": {"total": total, "score": score, "train": total - score, "select": 0.0},
            "budget_per_epoch": 1, "steps": 1, "epochs": []}


def test_seeds_pool_against_the_full_run_of_the_same_seed():
    runs = [_run("full", 0, 100.0, 1.0, 0.2, tokens=1000), _run("full", 1, 200.0, 1.2, 0.3, tokens=1000),
            _run("p3", 0, 60.0, 1.1, 0.1, score=12.0, tokens=500), _run("p3", 1, 100.0, 1.3, 0.2, score=30.0, tokens=500)]
    runs[2]["predicted_time_ratio"], runs[3]["predicted_time_ratio"] = 0.5, 0.6
    assert time_ratio(runs[2], runs) == pytest.approx(0.6) and time_ratio(runs[3], runs) == pytest.approx(0.5)
    row = next(r for r in pooled(runs) if r["method"] == "p3")
    assert row["seeds"] == [0, 1]
    assert row["time_ratio"][0] == pytest.approx(0.55)
    assert row["time_ratio"][1] == pytest.approx(math.sqrt(((0.6 - 0.55) ** 2 + (0.5 - 0.55) ** 2) / 1))
    assert row["nll"][0] == pytest.approx(1.2) and row["exact_match"][0] == pytest.approx(0.15)
    assert row["token_ratio"][0] == pytest.approx(0.5) and row["predicted"][0] == pytest.approx(0.55)
    assert row["scoring_share"][0] == pytest.approx((0.2 + 0.3) / 2)
    single = pooled([runs[0]])[0]
    assert single["nll"][0] == 1.0 and math.isnan(single["nll"][1])  # one seed has no std


def test_cpu_time_ratios_pool_the_runs_that_measured_it():
    runs = [_run("full", 0, 100.0, 1.0, 0.2), _run("full", 1, 200.0, 1.2, 0.3), _run("p3", 0, 60.0, 1.1, 0.1),
            _run("p3", 1, 100.0, 1.3, 0.2)]
    for run, cpu in zip(runs, (90.0, 180.0, 36.0, 63.0)):
        run["seconds"]["cpu_total"] = cpu
    assert cpu_time_ratio(runs[2], runs) == pytest.approx(0.4) and cpu_time_ratio(runs[3], runs) == pytest.approx(0.35)
    assert next(r for r in pooled(runs) if r["method"] == "p3")["cpu_time_ratio"][0] == pytest.approx(0.375)
    del runs[0]["seconds"]["cpu_total"]  # a full run recorded before the runner measured CPU time
    assert math.isnan(cpu_time_ratio(runs[2], runs))
    assert next(r for r in pooled(runs) if r["method"] == "p3")["cpu_time_ratio"][0] == pytest.approx(0.35)


def test_the_report_names_the_fine_tuning_and_pools_seeds():
    result = {"command": "python run.py", "machine": {"device": "cpu"}, "runs": [_run("full", 0, 10.0, 1.0, 0.5)],
              "config": {"pool": 8, "data_seed": 0, "max_length": 64, "epochs": 2, "batch_size": 2, "lr": 2e-4,
                         "keep": 0.5, "test": 4, "max_new_tokens": 8, "finetune": "lora", "lora_r": 16,
                         "lora_alpha": 32}}
    text = summarize(result)
    assert "LoRA (r 16, alpha 32" in text and "## Seeds pooled" in text and "| full | 0 | 1.0000 |" in text


def test_resume_refuses_results_made_with_other_settings(tmp_path):
    config = vars(parse_args(["--out", str(tmp_path), "--device", "cpu"]))
    config = {k: v for k, v in config.items() if k in RUN_SETTINGS}
    assert resume(tmp_path, config) is None  # nothing there yet
    (tmp_path / "results.json").write_text(json.dumps({"config": config, "runs": [{"method": "full", "seed": 0}]}))
    assert resume(tmp_path, config)["runs"] == [{"method": "full", "seed": 0}]
    with pytest.raises(SystemExit, match="epochs: 5 -> 3"):
        resume(tmp_path, {**config, "epochs": 3})


def test_time_matched_methods_take_the_ratio_of_the_same_seed():
    runs = [_run("full", 0, 100.0, 1.0, 0.0), _run("full", 1, 120.0, 1.0, 0.0),
            _run("p3_free", 0, 55.0, 1.0, 0.0), _run("p3_free", 1, 72.0, 1.0, 0.0)]
    assert matched_time_ratio(runs, "p3_free", 0) == pytest.approx(0.55)
    assert matched_time_ratio(runs, "p3_free", 1) == pytest.approx(0.60)
    with pytest.raises(SystemExit, match="seed 2"):
        matched_time_ratio(runs, "p3_free", 2)
    random = MethodSpec.parse("random@time=p3_free", 0.5).diet(0, scoring_batch_size=4, rescore_fraction=0.1,
                                                                time_ratio=0.55)
    assert random.strategy.keep == pytest.approx(0.55)
    default = MethodSpec.parse("default@time=p3_free", 0.5).diet(0, scoring_batch_size=4, rescore_fraction=0.1,
                                                                  time_ratio=0.55)
    assert default.strategy.time_budget == pytest.approx(0.55)
    # its plan, warm-up epoch included, predicts the matched time
    assert default.plan(1000, 5).predicted_time_ratio == pytest.approx(0.55, abs=0.005)
    with pytest.raises(ValueError, match="needs the time ratio"):
        MethodSpec.parse("random@time=p3_free", 0.5).diet(0, scoring_batch_size=4, rescore_fraction=0.1)
    with pytest.raises(SystemExit):  # the matched run must come earlier in --methods
        parse_args(["--methods", "full", "random@time=p3_free", "p3_free", "--device", "cpu"])


def test_help_lists_every_method(capsys):
    with pytest.raises(SystemExit) as stop:  # a '%' in a method's text once broke argparse's help
        parse_args(["--help"])
    assert stop.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert all(f"{name}:" in out for name in ("full", "random", "default", "p3", "p3_free", "p3_cold"))
    assert "10% exploration" in out
