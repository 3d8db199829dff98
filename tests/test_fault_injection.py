"""Kill a real training process with SIGKILL at random points (inside an epoch, inside a scoring
pass, between the diet state and transformers' checkpoint files, at a random time) and resume each
time from the latest complete checkpoint: the final selections, score history, log and parameters
equal those of the uninterrupted run, bit for bit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from resume_setups import assert_same_outcome

SCRIPT = Path(__file__).parent / "scripts" / "fault_train.py"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
       "TOKENIZERS_PARALLELISM": "false",
       "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "src"), os.environ.get("PYTHONPATH", "")])}


def run(out: Path, kill: str | None = None, kill_after: float | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(SCRIPT), str(out)] + ([kill] if kill else [])
    if kill_after is None:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=ENV)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


@pytest.mark.slow
def _resume_lines(stdout: str) -> list[str]:
    """The lines a run printed about resuming (libraries may print their own lines first: DeepSpeed,
    when installed, announces its accelerator)."""
    return [line for line in stdout.splitlines() if "resuming from" in line]


def test_sigkill_at_random_points_then_resume_equals_the_uninterrupted_run(tmp_path):
    reference = run(tmp_path / "reference")
    assert reference.returncode == 0, reference.stderr[-3000:]
    expected = torch.load(tmp_path / "reference" / "result.pt", weights_only=False)

    # nlu_data_diets, 48 examples, batch 8, 4 epochs: steps 6 + 3 + 3 + 3 = 15, a checkpoint every 2 steps
    # (only the newest kept), a full scoring pass (1 batch) before each of epochs 1-3
    rng = np.random.default_rng(int(time.time()))
    kills = [f"step:{rng.integers(2, 8)}",             # inside epoch 0 or 1
             f"scoring:{rng.integers(2, 4)}",          # inside the scoring pass of epoch 2 or 3
             f"diet_saved:{rng.integers(1, 3)}",       # the diet state of a checkpoint written, the model not
             f"step:{rng.integers(11, 15)}"]           # inside the last epochs
    out = tmp_path / "killed"
    log = []
    for kill in kills:
        done = run(out, kill)
        log.append((kill, done.returncode, _resume_lines(done.stdout)))
        if done.returncode == 0:  # the kill point was already behind this resumed run: it finished
            break
        assert done.returncode == -signal.SIGKILL, (kill, done.stderr[-3000:])
    else:
        killed = run(out, kill_after=float(rng.uniform(2.0, 6.0)))  # and one at a random moment
        log.append(("timer", killed.returncode, _resume_lines(killed.stdout)))
        final = run(out)
        log.append(("final", final.returncode, _resume_lines(final.stdout)))
        assert final.returncode == 0, (log, final.stderr[-3000:])
    assert sum(rc == -signal.SIGKILL for _, rc, _ in log) >= 3, log
    assert any("resuming from" in " ".join(first) for _, _, first in log), log
    assert_same_outcome(torch.load(out / "result.pt", weights_only=False), expected)
    checkpoints = sorted(p.name for p in out.glob("checkpoint-*"))
    assert len(checkpoints) <= 2, checkpoints  # rotation ran (save_total_limit=1, +1 left by a kill at most)
