"""The TRL and LoRA examples run as users run them (on a tiny random model with SmolLM2's
tokenizer), and their output shows the plan kept and the selections reproduced on resume."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str, *args: str, tmp_path) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLES.parent / "src"), os.environ.get("PYTHONPATH", "")]),
           "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(EXAMPLES / name), "--tiny", "--output-dir", str(tmp_path), *args],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_trl_sft_example_keeps_its_plan(tmp_path):
    out = run_example("trl_sft.py", tmp_path=tmp_path)
    steps = re.search(r"optimizer steps (\d+) \(planned (\d+)\), free scores from the training pass: (\d+)", out)
    assert steps and steps.group(1) == steps.group(2) == "4"  # 8 + 4 + 4 examples at batch 4
    assert int(steps.group(3)) == 16
    assert "epoch 1: trained on 4 of 8 examples, scored 0" in out


@pytest.mark.slow
def test_trl_sft_example_with_p3_on_conversations(tmp_path):
    out = run_example("trl_sft.py", "--diet", "p3", "--format", "messages", tmp_path=tmp_path)
    assert "score policy_difficulty" in out
    assert re.search(r"optimizer steps 3 \(planned 3\)", out)


@pytest.mark.slow
def test_trl_lora_example_resumes_with_the_same_selections(tmp_path):
    out = run_example("trl_lora.py", tmp_path=tmp_path)
    assert "trainable params" in out
    assert re.search(r"optimizer steps 3 \(planned 3\)", out)
    assert "adapters: True" in out and "identical selections: True" in out
