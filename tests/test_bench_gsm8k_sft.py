"""The GSM8K benchmark through TRL (benchmarks/gsm8k_p3 --trainer sft): DataDietSFTTrainer with a
prompt/completion dataset and LoRA trains and writes its results, and full data for fewer epochs
fits its epochs to another run's measured time."""

import json
import math

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

from benchmarks.gsm8k_p3 import run as bench  # noqa: E402
from benchmarks.gsm8k_p3.methods import MethodSpec, fewer_epochs  # noqa: E402
from lm_helpers import chat_tokenizer, tiny_llama  # noqa: E402


def test_fewer_epochs_splits_the_time_into_whole_and_fractional_epochs():
    assert fewer_epochs(0.5, 3) == (1, 0.5)          # 1.5 epochs of 3
    assert fewer_epochs(0.25, 4) == (1, 0.0)         # exactly one epoch: no fractional one
    whole, last = fewer_epochs(0.2, 3)               # 0.6 of one epoch
    assert whole == 0 and last == pytest.approx(0.6)
    assert fewer_epochs(1.3, 3) == (3, 0.0)          # never longer than full data itself
    with pytest.raises(ValueError, match="> 0"):
        fewer_epochs(0.0, 3)


def test_full_at_time_trains_whole_epochs_then_a_random_fraction():
    spec = MethodSpec.parse("full@time=p3_cold", 0.5)
    assert (spec.name, spec.time_of, spec.label) == ("full", "p3_cold", "full@time=p3_cold")
    assert spec.train_epochs(3, time_ratio=0.55) == 2            # 1.65 epochs: one whole, one of 0.65
    diet = spec.diet(0, scoring_batch_size=4, rescore_fraction=0.1, time_ratio=0.55, num_epochs=3)
    assert diet.strategy.method == "random" and diet.strategy.keep == pytest.approx(0.65)
    assert diet.strategy.to_dict()["warmup_epochs"] == 1                # the whole epoch: every example
    plan = diet.plan(100, 2)
    assert plan.predicted_time_ratio * 2 == pytest.approx(1.65)  # 100 + 65 examples over 2 x 100
    exact = spec.diet(0, scoring_batch_size=4, rescore_fraction=0.1, time_ratio=2 / 3, num_epochs=3)
    assert exact.strategy.method == "full" and spec.train_epochs(3, time_ratio=2 / 3) == 2
    with pytest.raises(ValueError, match="needs the time ratio"):
        spec.train_epochs(3)
    with pytest.raises(ValueError, match="no @KEEP"):
        MethodSpec.parse("full@0.5", 0.5)


@pytest.fixture
def tiny_smollm2(monkeypatch):
    """run.py's model loader replaced by a tiny random Llama with a word-level tokenizer."""
    tok = chat_tokenizer()
    monkeypatch.setattr(bench, "load_smollm2", lambda: (tiny_llama(tok), tok))
    return tok


def test_sft_path_trains_through_trl_and_fits_fewer_epochs_to_the_time(tiny_smollm2, tmp_path):
    out = tmp_path / "sft"
    bench.main(["--trainer", "sft", "--finetune", "lora", "--pool", "8", "--test", "3", "--exact-match", "2",
                "--epochs", "3", "--batch-size", "4", "--max-length", "128", "--max-new-tokens", "4",
                "--lr", "1e-2", "--keep", "0.5", "--score-batch-size", "4", "--eval-batch-size", "4", "--seeds", "0",
                "--group-by-length", "--methods", "full", "p3_cold", "full@time=p3_cold", "random@time=p3_cold",
                "default@time=p3_cold", "p3_free", "--device", "cpu", "--out", str(out)])
    result = json.loads((out / "results.json").read_text())
    assert result["config"]["trainer"] == "sft" and result["config"]["lr_scheduler"] == "linear"
    runs = {r["method"]: r for r in result["runs"]}
    assert list(runs) == ["full", "p3_cold", "full@time=p3_cold", "random@time=p3_cold", "default@time=p3_cold",
                          "p3_free"]
    assert runs["p3_free"]["epochs"][0]["scored"] == 8  # the authors' first pass scores the whole pool
    for r in runs.values():
        assert math.isfinite(r["test_nll"]) and r["exact_match_n"] == 2 and r["trained_tokens"] > 0
        assert r["seconds"]["total"] > 0
    assert result["base"]["exact_match_n"] == 2
    full, p3 = runs["full"], runs["p3_cold"]
    assert [e["kept"] for e in full["epochs"]] == [8, 8, 8]
    assert p3["diet"]["method"] == "p3" and p3["diet"]["cold_start"] == "random"
    # the fewer-epochs run, by hand: p3_cold's time over full's, times 3 epochs
    ratio = p3["seconds"]["total"] / full["seconds"]["total"]
    fewer = runs["full@time=p3_cold"]
    assert fewer["matched_time_ratio"] == pytest.approx(ratio)
    target = min(1.0, ratio) * 3
    whole = math.floor(target + 1e-9)
    last = target - whole
    assert fewer["fewer_epochs"]["whole"] == whole and fewer["fewer_epochs"]["last_fraction"] == pytest.approx(last if last >= 1e-6 else 0.0)
    kept = [e["kept"] for e in fewer["epochs"]]
    assert kept[:whole] == [8] * whole and len(kept) == fewer["train_epochs"] == whole + (last >= 1e-6)
    if last >= 1e-6:
        assert kept[-1] == pytest.approx(last * 8, abs=1)
    assert fewer["steps"] == sum(math.ceil(k / 4) for k in kept)  # the LR schedule's own steps
    assert fewer["predicted_time_ratio"] == pytest.approx(sum(kept) / 24)  # over the protocol's 3 epochs
    assert runs["random@time=p3_cold"]["diet"]["keep"] == pytest.approx(min(1.0, ratio))
    text = (out / "results.md").read_text()
    assert "DataDietSFTTrainer" in text and "full@time=p3_cold" in text and (out / "frontier.png").is_file()

    # a second invocation with the same settings skips every finished run
    bench.main(["--trainer", "sft", "--finetune", "lora", "--pool", "8", "--test", "3", "--exact-match", "2",
                "--epochs", "3", "--batch-size", "4", "--max-length", "128", "--max-new-tokens", "4",
                "--lr", "1e-2", "--keep", "0.5", "--score-batch-size", "4", "--eval-batch-size", "4", "--seeds", "0",
                "--group-by-length", "--methods", "full", "p3_cold", "full@time=p3_cold", "--device", "cpu",
                "--out", str(out)])
    again = json.loads((out / "results.json").read_text())
    assert [r["method"] for r in again["runs"]] == list(runs)


def test_a_failed_run_is_recorded_and_the_grid_goes_on(tiny_smollm2, tmp_path, monkeypatch):
    real = bench.run_method

    def failing(spec, *args, **kwargs):
        if spec.label == "p3_cold":
            raise RuntimeError("out of memory")
        return real(spec, *args, **kwargs)

    monkeypatch.setattr(bench, "run_method", failing)
    out = tmp_path / "grid"
    bench.main(["--trainer", "sft", "--pool", "4", "--test", "2", "--epochs", "2", "--batch-size", "2",
                "--max-length", "128", "--max-new-tokens", "2", "--seeds", "0", "--no-base-eval",
                "--methods", "full", "p3_cold", "full@time=p3_cold", "random", "--device", "cpu", "--out", str(out)])
    result = json.loads((out / "results.json").read_text())
    assert [r["method"] for r in result["runs"]] == ["full", "random"]
    first, dependent = result["failed"]
    assert (first["method"], "out of memory" in first["error"]) == ("p3_cold", True)
    # the run fitted to p3_cold's time cannot run without it: recorded too, not a stop
    assert dependent["method"] == "full@time=p3_cold" and "p3_cold" in dependent["error"]
    assert "Failed (retried" in (out / "results.md").read_text()


SMALL_SFT = ["--trainer", "sft", "--finetune", "lora", "--pool", "8", "--test", "3", "--exact-match", "1", "--epochs", "3",
             "--batch-size", "4", "--max-length", "128", "--max-new-tokens", "2", "--lr", "1e-2", "--keep", "0.5",
             "--score-batch-size", "4", "--eval-batch-size", "4", "--seeds", "0", "--device", "cpu",
             "--no-base-eval"]


def test_an_interrupted_run_resumes_from_its_last_epoch_and_ends_as_an_uninterrupted_one(tiny_smollm2, tmp_path,
                                                                                        monkeypatch):
    whole = tmp_path / "whole"
    bench.main([*SMALL_SFT, "--methods", "p3_cold", "--out", str(whole)])
    reference = json.loads((whole / "results.json").read_text())["runs"][0]
    assert not reference["resumed"] and not (whole / "checkpoints").exists()  # a finished run leaves none

    save = bench.ElapsedAtSave.on_save

    def killed_after_epoch_two(self, args, state, control, **kwargs):
        save(self, args, state, control, **kwargs)
        if state.epoch >= 2:
            raise RuntimeError("killed")  # as a kill after the second epoch's checkpoint

    cut = tmp_path / "cut"
    monkeypatch.setattr(bench.ElapsedAtSave, "on_save", killed_after_epoch_two)
    bench.main([*SMALL_SFT, "--methods", "p3_cold", "--out", str(cut)])
    first = json.loads((cut / "results.json").read_text())
    assert first["runs"] == [] and first["failed"][0]["error"] == "RuntimeError('killed')"
    checkpoint, before, cpu_before = bench.last_checkpoint(bench.run_dir(cut, "p3_cold", 0))
    assert checkpoint is not None and before > 0 and 0 < cpu_before

    monkeypatch.setattr(bench.ElapsedAtSave, "on_save", save)
    bench.main([*SMALL_SFT, "--methods", "p3_cold", "--out", str(cut)])
    resumed = json.loads((cut / "results.json").read_text())["runs"][0]
    assert resumed["resumed"] and resumed["seconds"]["total"] > before and resumed["seconds"]["cpu_total"] > cpu_before
    assert not bench.run_dir(cut, "p3_cold", 0).exists()
    # the diet's state came back with the checkpoint: the same selections, losses and model
    assert [e["example_ids"] for e in resumed["epochs"]] == [e["example_ids"] for e in reference["epochs"]]
    assert resumed["steps"] == reference["steps"] and resumed["trained_tokens"] == reference["trained_tokens"]
    assert resumed["test_nll"] == pytest.approx(reference["test_nll"], rel=1e-4)
