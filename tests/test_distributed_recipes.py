"""The recipes of docs/distributed.md, run as written: `accelerate launch --config_file
examples/accelerate/<engine>.yaml examples/distributed_trainer.py` on 2 CPU processes (gloo; the
script sets use_cpu without a GPU), with the pretrained MiniLM (1 layer) on 128 ATIS examples."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("config, engine", [("ddp", "DistributedDataParallel"), ("zero3", "DeepSpeedEngine")])
def test_the_docs_recipe_runs_on_two_processes(free_port, tmp_path, config, engine):
    accelerate = Path(sys.executable).with_name("accelerate")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([str(accelerate), "launch", "--config_file", str(REPO / "examples/accelerate" / f"{config}.yaml"),
                           "--main_process_port", str(free_port()), str(REPO / "examples/distributed_trainer.py"),
                           "--train-size", "128", "--epochs", "2", "--layers", "1", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{"engine"')]
    assert len(lines) == 1  # the main process alone prints and writes the report
    result = lines[0]
    assert result["engine"] == engine and result["world_size"] == 2
    # 128 examples, then keep 0.5: batches of 32 dealt over 2 ranks -> 2 steps, then 1
    assert result["kept_per_epoch"] == [128, 64] and result["optimizer_steps"] == 3
    assert Path(result["report"]).is_file()
