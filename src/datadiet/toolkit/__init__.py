"""The application layer on top of the engine: what the ``datadiet`` command, the examples, the
tests and the benchmarks use to run experiments, and what the engine itself never imports.

- :mod:`~datadiet.toolkit.data`: dataset readers (SNIPS, ATIS, CLINC150, SST-2, local files, the Hub);
- :mod:`~datadiet.toolkit.tasks`: pretrained encoders, tokenization, the joint intent + slot
  model, :func:`~datadiet.toolkit.tasks.build_task`;
- :mod:`~datadiet.toolkit.metrics`: intent accuracy, slot F1, exact match;
- :mod:`~datadiet.toolkit.experiment`: one timed run (the demo's and the benchmarks' unit), its
  settings checked through :mod:`~datadiet.toolkit.fields`;
- :mod:`~datadiet.toolkit.llm`: GSM8K, the packaged SmolLM2, causal-LM evaluation.

The layers: the engine (every other module of ``datadiet``) <- ``datadiet.toolkit`` <- ``datadiet.cli``;
a module imports only from its own layer and those before it (``tests/test_architecture.py``).
"""
