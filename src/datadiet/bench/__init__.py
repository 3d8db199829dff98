"""Benchmarks: one timed fine-tuning run (experiment), the compared methods, and the grid runner."""
