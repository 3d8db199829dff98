"""End to end on real data with the real pretrained encoder (slow: run in CI, skip while editing
with -m "not slow")."""

import json
import subprocess
import sys

import pytest
import torch
from transformers import TrainingArguments

from datadiet import DataDiet, DataDietTrainer
from datadiet.planning import full_data_epochs
from datadiet.toolkit.data import load_dataset_by_name
from datadiet.toolkit.tasks import JointIntentSlotModel, build_task

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def snips_slice():
    train = load_dataset_by_name("snips", "train").select(range(200))
    test = load_dataset_by_name("snips", "test").select(range(100))
    return train, test


@pytest.mark.parametrize("make_diet,expect_scored", [
    (lambda: DataDiet(keep=0.4, progress=False), False),
    (lambda: DataDiet.nlu_data_diets(keep=0.4, progress=False), True),
])
def test_snips_slice_with_pretrained_minilm_follows_the_plan(tmp_path, snips_slice, make_diet, expect_scored):
    train, test = snips_slice
    torch.manual_seed(0)
    spec = build_task("joint_intent_slot", train, test, num_hidden_layers=1, max_length=48)
    diet = make_diet()
    args = TrainingArguments(str(tmp_path), num_train_epochs=3, per_device_train_batch_size=16, learning_rate=5e-4,
                             logging_strategy="epoch", save_strategy="no", report_to=[], disable_tqdm=True,
                             label_names=spec.label_names, use_cpu=True)
    trainer = DataDietTrainer(diet=diet, model=spec.model, args=args, train_dataset=spec.train_dataset,
                              data_collator=spec.data_collator, compute_metrics=spec.compute_metrics)
    trainer.train()
    assert diet.adapter.task == "joint_intent_slot" and diet.score.name == "joint_el2n"
    assert [r["kept"] for r in diet.log] == [200, 80, 80]
    assert trainer.state.global_step == diet.planned_steps(batch_size=16) == 13 + 5 + 5
    logged = [h for h in trainer.state.log_history if "datadiet/kept" in h]
    assert [h["datadiet/kept_fraction"] for h in logged] == [1.0, 0.4, 0.4]
    scored = [h["datadiet/scored"] for h in logged]
    if expect_scored:  # the paper's protocol re-scores the whole train set every pruned epoch
        assert scored == [0, 200, 200] and all(h["datadiet/scoring_seconds"] > 0 for h in logged[1:])
    else:  # the default's scores come free from training: nothing stale after one pruned epoch
        assert scored[:2] == [0, 0] and scored[2] <= 20
    metrics = trainer.evaluate(spec.eval_dataset)
    assert 0.0 <= metrics["eval_intent_accuracy"] <= 1.0 and "eval_slot_f1" in metrics
    # the joint model and its diet state survive a save / reload
    trainer.save_model(str(tmp_path / "model"))
    again = JointIntentSlotModel.from_pretrained(str(tmp_path / "model"))
    assert again.config.num_intents == spec.model.config.num_intents


def test_demo_command_prints_the_table_and_writes_the_plot(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "datadiet.cli.main", "demo", "--dataset", "snips", "--train-size", "160", "--epochs", "3",
         "--layers", "1", "--keep", "0.5", "--threads", "1", "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "torch threads: 1 (as asked)" in proc.stdout and "estimated duration: about" in proc.stdout
    assert "speed-up" in proc.stdout and "slot F1" in proc.stdout and "default (keep 0.5)" in proc.stdout
    assert "exact match after each epoch" in proc.stdout
    assert "LOAD REPORT" not in proc.stderr and "pin_memory" not in proc.stderr
    assert (out / "demo.png").read_bytes()[:4] == b"\x89PNG"
    result = json.loads((out / "results.json").read_text())
    assert result["threads"] == 1 and result["estimated_seconds"] > 0
    full, pruned, *peers = result["runs"]
    assert [full["method"], pruned["method"]] == ["full", "default"]
    assert full["kept_per_epoch"] == [160, 160, 160] and pruned["kept_per_epoch"] == [160, 80, 80]
    assert pruned["examples_trained"] == 160 + 80 + 80
    for run in (full, pruned):  # one evaluation per epoch, on a clock that only moves forward
        seconds = [p["seconds"] for p in run["curve"]]
        assert [p["epoch"] for p in run["curve"]] == [1, 2, 3] and seconds == sorted(seconds)
        assert seconds[-1] <= run["wall_seconds"] and "exact_match" in run["curve"][-1]["metrics"]
    assert (out / "default" / "diet" / "data_map.png").is_file()
    # the third run: full data for the pruned run's measured share of full data's time
    ratio = pruned["wall_seconds"] / full["wall_seconds"]
    if ratio >= 1:  # a loaded machine can make the tiny pruned run slower: then there is no peer
        assert peers == [] and "no third run" in proc.stdout
        return
    (peer,) = peers
    assert peer["method"] == "full" and peer["time_budget"] == pytest.approx(ratio)
    whole, last = full_data_epochs(ratio, 3)
    assert peer["kept_per_epoch"][:whole] == [160] * whole and peer["examples_trained"] == int(160 * (whole + last) + 1e-6)
    assert len(peer["curve"]) == len(peer["kept_per_epoch"]) and "in the pruned run's time" in proc.stdout
    assert f"full data for {peer['epochs_of_data']:.2g} epochs, in " in proc.stdout


def test_train_command_writes_model_metrics_and_history(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(f"dataset: sst2\nmethod: nlu_data_diets\nkeep: 0.5\nepochs: 2\nlayers: 1\ntrain_size: 128\n"
                      f"output_dir: {tmp_path / 'out'}\n")
    proc = subprocess.run([sys.executable, "-m", "datadiet.cli.main", "train", str(config)], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "out"
    record = json.loads((out / "metrics.json").read_text())
    assert record["examples_trained"] == 128 + 64 and "accuracy" in record["metrics"]
    assert (out / "model" / "config.json").is_file() and (out / "diet" / "history.npz").is_file()
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: snips\nkepp: 0.5\n")
    proc = subprocess.run([sys.executable, "-m", "datadiet.cli.main", "train", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2 and "kepp: unknown key (did you mean 'keep'?)" in proc.stderr
    assert "Traceback" not in proc.stderr
