"""The benchmarks of datadiet: the grid runner (``python -m benchmarks.grid``) and stand-alone
benchmark scripts, built on the library's public API. Run from the repository root."""
