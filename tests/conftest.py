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


# ---------------------------------------------------------------- shared fixtures
# Builders every test reaches the same way: a fixture parameter named after what it builds. Each is
# a factory (call it, with arguments, for a fresh object), session-scoped so that module- and
# session-scoped fixtures can use it too. The builders themselves live in tests/helpers.py and
# tests/lm_helpers.py, beside the datasets and collators they go with.

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_classifier():
    """``tiny_classifier(seed=0, num_labels=3)``: a random 1-layer BERT sequence classifier."""
    from helpers import tiny_classifier as build

    return build


@pytest.fixture(scope="session")
def tiny_causal_lm():
    """``tiny_causal_lm(vocab_size, hidden_size=16, layers=1, ..., seed=0)``: a random tiny Llama."""
    from lm_helpers import tiny_causal_lm as build

    return build


@pytest.fixture(scope="session")
def free_port():
    """``free_port()``: a TCP port free on the loopback address, for a process group's rendezvous."""
    from helpers import free_port as pick

    return pick
