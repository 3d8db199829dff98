"""Benchmarks: one timed fine-tuning run (experiment), the compared methods, and the grid runner."""

from datadiet._extras import require_installed

require_installed("transformers", "datasets", "accelerate", extra="hf", purpose="datadiet.bench")
