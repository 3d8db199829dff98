"""Test-wide settings. Tiny models run faster on one thread, and the suite must stay quick on 2 cores."""

import os

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
torch.set_num_threads(1)
