"""The benchmark grid: datasets x methods x kept fractions x seeds, each run one timed fine-tuning
(:func:`datadiet.toolkit.experiment.run_experiment`), every finished run appended to ``results.jsonl``,
then a report with the issue's goals checked.

- :mod:`.config`: the grid's settings (:class:`~benchmarks.grid.config.GridConfig`);
- :mod:`.fewer_epochs`: the grid's own peer, full data for fewer epochs (at time budgets);
- :mod:`.runner`: runs the grid, resumable (:func:`~benchmarks.grid.runner.run_grid`);
- :mod:`.store`: the results file; :mod:`.aggregate`: time ratios and seed statistics;
  :mod:`.goals`: the goals; :mod:`.render`: ``results.md``, ``results.json`` and plots;
- :mod:`.cli`: ``python -m benchmarks.grid``, from the repository root.
"""
