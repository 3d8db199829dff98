"""Test-wide settings. Tiny models run faster on one thread, and the suite must stay quick on 2 cores."""

import os
import sys
from pathlib import Path

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
torch.set_num_threads(1)

# the benchmark package (benchmarks/grid) is imported from the repository root, as `python -m benchmarks.grid` does
REPO = str(Path(__file__).resolve().parents[1])
if REPO not in sys.path:
    sys.path.append(REPO)
