"""The settings of a benchmark grid: the training protocol every run shares
(:class:`datadiet.toolkit.experiment.Protocol`) plus the datasets, methods, kept fractions, time budgets
and seeds.

A run at a time budget ``b`` (a :class:`GridRun` with ``budget`` set) trains at the kept fraction
whose *predicted* time ratio (``DataDiet.plan``) is closest to ``b`` without exceeding it
(:func:`keep_for_budget`); that needs the training-set size, so the runner resolves it just before
the run. Its key names the budget, not the keep (``atis|default|b0.3|0``), so a grid can be listed
and resumed without loading any data.

The grid's methods are the library's registered methods (:func:`datadiet.strategies.available_methods`) and
``fewer_epochs`` and ``fewer_steps`` (:mod:`benchmarks.grid.fewer_epochs`): full data for fewer whole
epochs, or for a fractional number of them, at time budgets only; their budget resolves to an epoch
count (and ``fewer_steps``' last-epoch fraction) instead of a keep.

Order of the runs: per dataset and seed, the full-data run first (every time ratio divides by it),
then every (method, keep) pair in an order rotated by the seed's position, so that slow drift of
the machine (thermal, other jobs) does not always hit the same method.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.grid.budget_api import DEFAULT_BUDGET, diet_method
from benchmarks.grid.fewer_epochs import FEWER_EPOCHS, FEWER_STEPS, epochs_for_budget, steps_for_budget
from benchmarks.grid.store import OK
from datadiet.diet import DataDiet
from datadiet.strategies import available_methods
from datadiet.toolkit.experiment import Protocol, RunConfig
from datadiet.toolkit.fields import ConfigError, Rule, from_mapping, setting

PAPER_METHODS = ("full", "random_static", "random", "static_el2n", "nlu_data_diets", "infobatch", "default")
"""The methods of issue 5: full data, both random baselines, static EL2N, the published dynamic
protocol, InfoBatch and the library's default."""

def grid_methods() -> tuple[str, ...]:
    """Every method a grid runs: the library's registered methods (read when asked, so a method
    registered later is one too), the ``fewer_epochs`` and ``fewer_steps`` peers and
    ``default_budget`` (:mod:`benchmarks.grid.budget_api`)."""
    return available_methods() + (FEWER_EPOCHS, FEWER_STEPS, DEFAULT_BUDGET)

BUDGET_ONLY = (FEWER_EPOCHS, FEWER_STEPS, DEFAULT_BUDGET, "default_auto", "default_all")
"""Methods that run at time budgets only (a kept fraction means nothing to them, or they choose it)."""


def _unique(values: list) -> bool:
    return len(set(values)) == len(values)


@dataclass
class GridRun(RunConfig):
    """One run of a grid: a :class:`~datadiet.toolkit.experiment.RunConfig`, and for a run at a time budget
    the budget (a fraction of full-data time). Until :func:`resolve_budget` sets it, the ``keep``
    of a budget run is a stand-in (the budget itself). A ``fewer_epochs`` run trains ``full``'s
    diet; once resolved, its ``epochs`` are the shorter count it trains and ``protocol_epochs`` the
    protocol's. A resolved ``fewer_steps`` run is the same, its ``keep`` the fraction of the data its
    last epoch trains (1.0: whole epochs only)."""

    budget: float | None = setting(None, help="time budget the kept fraction was resolved from (None: a keep run)")
    protocol_epochs: int | None = setting(None, help="fewer_epochs runs: the protocol's epochs, of which their "
                                          "budget is a fraction (their epochs: the shorter count they train)")

    def rules(self) -> list[Rule]:
        return [rule for rule in super().rules() if rule[0] != "method"] + [
            ("method", lambda v: v in grid_methods(), "one of " + ", ".join(grid_methods())),
            ("protocol_epochs", lambda v: v >= self.epochs, "an integer >= epochs, or null"),
        ]

    def errors(self) -> list[str]:
        """The settings' errors. A budget a method given ``time_budget`` cannot reach (InfoBatch's first
        and annealing epochs cost more) is no error of the grid: the run is skipped with the reason
        when it comes up (:func:`resolve_budget`), like every out-of-reach budget; the rest of its
        diet is checked at a budget of 1."""
        if self.budget is None and "time_budget" in self.diet_options:  # the run key would not say it
            return [f"diet_options: time_budget: a grid gives time budgets as `budgets:` (a run key per budget; "
                    f"full data at a budget is the {FEWER_EPOCHS} / {FEWER_STEPS} peers), not as a diet option"]
        if self.budget is None or "time_budget" not in self.diet_options:
            return super().errors()
        reachable = copy.copy(self)  # not dataclasses.replace: that would validate it, and so on
        reachable.diet_options = {**self.diet_options, "time_budget": 1.0}
        return RunConfig.errors(reachable)

    def diet(self):
        if self.method == FEWER_STEPS and self.keep < 1.0:  # resolved to a partial last epoch:
            # every example for the whole epochs (the warm-up), then a random `keep` of them
            return DataDiet(method="random", keep=self.keep, warmup_epochs=self.epochs - 1, seed=self.seed,
                            scoring_batch_size=self.scoring_batch_size, **self.diet_options)
        if self.method in (FEWER_EPOCHS, FEWER_STEPS):
            return DataDiet(method="full", seed=self.seed, scoring_batch_size=self.scoring_batch_size,
                            **self.diet_options)
        if self.method == DEFAULT_BUDGET:
            return DataDiet(seed=self.seed, scoring_batch_size=self.scoring_batch_size, **self.diet_options)
        return super().diet()

    def key(self) -> str:
        if self.budget is None or self.method == "full":
            return super().key()
        return f"{self.dataset}|{self.method}|b{self.budget:g}|{self.seed}"


KEEP_STEP = 0.001
"""Resolution of the kept fractions :func:`keep_for_budget` searches: every multiple of it in (0, 1]."""


def predicted_ratio(method: str, keep: float, num_train: int, epochs: int, **diet_options: Any) -> float:
    """The time ratio ``method`` at ``keep`` is planned to cost (``DataDiet.plan``, see
    :mod:`datadiet.planning`) for ``num_train`` examples over ``epochs`` epochs."""
    return DataDiet(method=method, keep=keep, **diet_options).plan(num_train, epochs).predicted_time_ratio


def keep_for_budget(method: str, budget: float, num_train: int, epochs: int, step: float = KEEP_STEP,
                    **diet_options: Any) -> tuple[float, float]:
    """``(keep, predicted ratio)``: among the kept fractions ``step, 2 step, ..., 1``, the one whose
    predicted time ratio is closest to ``budget`` without exceeding it (the larger keep on a tie).
    Raises ValueError, with the cheapest plan's ratio, when no kept fraction fits the budget
    (the warm-up epochs or the method's fixed costs alone exceed it)."""
    best: tuple[float, float] | None = None
    cheapest = None
    for i in range(1, int(round(1 / step)) + 1):
        keep = round(i * step, 6)
        ratio = predicted_ratio(method, keep, num_train, epochs, **diet_options)
        cheapest = ratio if cheapest is None else min(cheapest, ratio)
        if ratio <= budget + 1e-12 and (best is None or ratio >= best[1]):
            best = (keep, ratio)
    if best is None:
        raise ValueError(f"{method} cannot fit a time budget of {budget:g}: its cheapest plan (keep {step:g}) is "
                         f"predicted at {cheapest:.3f} of full-data time ({num_train:,} examples, {epochs} epochs)")
    return best


NATIVE_TIME_BUDGET = ("infobatch", "default_auto", "default_all", DEFAULT_BUDGET)
"""Methods given the budget itself (``time_budget=b``) instead of a kept fraction: InfoBatch's kept
count follows its losses, so no fixed prune ratio fits a budget; given one, it chooses each epoch's
ratio to spend it. ``default_auto`` and ``default_budget`` choose their epochs and keep from the
budget (``budget_epochs="auto"``, floors 0.5 and the library's), ``default_all`` its keep over every epoch."""


def resolve_budget(cfg: GridRun, num_train: int) -> tuple[GridRun, float | None]:
    """``cfg`` at the kept fraction of its budget (:func:`keep_for_budget`), and that keep's predicted
    ratio; ``cfg`` unchanged (ratio None) for a keep run. A method of :data:`NATIVE_TIME_BUDGET` gets
    ``time_budget`` in its diet options instead, and its plan's target kept fraction of the pruned
    epochs as ``keep`` (for the report); ``fewer_epochs`` gets the epochs of
    :func:`~benchmarks.grid.fewer_epochs.epochs_for_budget` (keep 1), ``fewer_steps`` those of
    :func:`~benchmarks.grid.fewer_epochs.steps_for_budget` (keep: its last epoch's fraction). Raises
    ValueError for a budget out of reach."""
    if cfg.budget is None or cfg.method == "full":
        return cfg, None
    if cfg.method == FEWER_EPOCHS:
        protocol_epochs = cfg.protocol_epochs or cfg.epochs
        epochs, ratio = epochs_for_budget(cfg.budget, protocol_epochs)
        return dataclasses.replace(cfg, epochs=epochs, protocol_epochs=protocol_epochs), ratio
    if cfg.method == FEWER_STEPS:
        protocol_epochs = cfg.protocol_epochs or cfg.epochs
        epochs, last, ratio = steps_for_budget(cfg.budget, protocol_epochs)
        return dataclasses.replace(cfg, epochs=epochs, keep=last, protocol_epochs=protocol_epochs), ratio
    options = {k: v for k, v in cfg.diet_options.items() if k != "progress"}
    if cfg.method in NATIVE_TIME_BUDGET:
        try:
            diet = DataDiet(method=diet_method(cfg.method), seed=cfg.seed, scoring_batch_size=cfg.scoring_batch_size,
                            **{**options, "time_budget": cfg.budget})
            plan = diet.setup(num_train, cfg.epochs).plan(num_train, cfg.epochs)
        except ValueError as error:
            raise ValueError(f"{cfg.method} cannot fit a time budget of {cfg.budget:g}: {error}") from None
        budgeted = dataclasses.replace(cfg, keep=round(float(diet.schedule.keep), 6),
                                       diet_options={**cfg.diet_options, "time_budget": cfg.budget})
        return budgeted, plan.predicted_time_ratio
    keep, ratio = keep_for_budget(cfg.method, cfg.budget, num_train, cfg.epochs, seed=cfg.seed,
                                  scoring_batch_size=cfg.scoring_batch_size, **options)
    return dataclasses.replace(cfg, keep=keep), ratio


@dataclass
class GridConfig(Protocol):
    """A benchmark grid. Every run shares the :class:`~datadiet.toolkit.experiment.Protocol` fields;
    ``full`` always runs once per dataset and seed at keep 1.0, whether or not it is listed in
    ``methods``. A wrong setting raises :class:`~datadiet.toolkit.fields.ConfigError`, one line each."""

    name: str = setting("grid", help="grid name (default folder: benchmarks/results/<name>)")
    datasets: list[str] = setting(default_factory=lambda: ["snips"], help="datasets, space or comma separated")
    methods: list[str] = setting(default_factory=lambda: list(PAPER_METHODS),
                                 help="methods ('full' always runs, as the reference; 'fewer_epochs' and "
                                      "'fewer_steps', full data for fewer whole or fractional epochs, and "
                                      "'default_budget', DataDiet(time_budget=b), run at the budgets only)")
    keeps: list[float] = setting(default_factory=lambda: [0.5, 0.2], help="kept fractions in (0, 1)")
    budgets: list[float] = setting(default_factory=list, help="time budgets in (0, 1]: fractions of full-data time; "
                                   "each pruning method runs at the keep whose predicted time ratio is closest "
                                   "below; full data ignores them (default: none)")
    seeds: list[int] = setting(default_factory=lambda: [0, 1, 2], help="seeds")
    threads: int | None = setting(1, none="all", help="torch CPU threads for the whole grid ('all': torch's "
                                  "default; on shared cores more threads than free cores is much slower)")
    data_map: bool = setting(True, help="the first seed's run of the default method (keep nearest 0.5) also "
                                        "writes the diet report with its data map")

    def __post_init__(self) -> None:
        for name, kind in (("datasets", str), ("methods", str), ("keeps", float), ("budgets", float), ("seeds", int)):
            setattr(self, name, _as_list(getattr(self, name), kind))
        super().__post_init__()

    def rules(self) -> list[Rule]:
        pruning = [m for m in self.methods if m != "full"] if isinstance(self.methods, list) else []
        return super().rules() + [
            ("datasets", lambda v: len(v) > 0 and _unique(v), "one or more dataset names, no duplicates"),
            ("methods", lambda v: all(m in grid_methods() for m in v) and _unique(v)
             and (bool(self.budgets) or not set(v) & set(BUDGET_ONLY)),
             "methods among " + ", ".join(grid_methods()) + ", no duplicates; "
             + ", ".join(BUDGET_ONLY) + " only with --budgets"),
            ("keeps", lambda v: all(0.0 < k < 1.0 for k in v) and _unique(v)
             and (len(v) > 0 or not pruning or bool(self.budgets)),
             "kept fractions in (0, 1), no duplicates, at least one (or a budget) for pruning methods "
             "(full data is the 'full' method)"),
            ("budgets", lambda v: all(0.0 < b <= 1.0 for b in v) and _unique(v),
             "time budgets in (0, 1] (fractions of full-data time), no duplicates"),
            ("seeds", lambda v: len(v) > 0 and _unique(v), "one or more integer seeds, no duplicates"),
            ("threads", lambda v: v >= 1, "an integer >= 1, or null for torch's default"),
        ]

    def dataset_errors(self) -> list[str]:
        """One line per dataset the benchmark cannot load (it needs a built-in dataset), and one if
        the data folder is missing."""
        from datadiet.toolkit.data import available_datasets, dataset_task, resolve_data_root

        errors = []
        for name in self.datasets:
            try:
                dataset_task(name)
            except ValueError:
                errors.append(f"datasets: got {name!r}; allowed: built-in datasets ({', '.join(available_datasets())})")
        try:
            resolve_data_root(self.data_root)
        except FileNotFoundError as exc:
            errors.append(f"data_root: {exc}")
        return errors

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "GridConfig":
        """A grid from a mapping of settings, every unknown key and bad value reported at once."""
        return from_mapping(cls, values)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "GridConfig":
        """A grid from a YAML mapping of the fields above; ``name`` defaults to the file's stem."""
        import yaml

        path = Path(path)
        if not path.is_file():
            raise ConfigError([f"{path}: the grid config file does not exist"])
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError([f"{path}: not valid YAML: {' '.join(str(exc).split())}"]) from None
        if not isinstance(values, dict):
            raise ConfigError([f"{path}: a grid config is a YAML mapping of settings, got {type(values).__name__}"])
        values.setdefault("name", path.stem)
        try:
            return cls.from_dict(values)
        except ConfigError as exc:
            raise ConfigError([f"{path}: {line}" for line in exc.errors]) from None

    def replace(self, **changes: Any) -> "GridConfig":
        """A copy with the given settings changed (None values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def run_config(self, dataset: str, method: str, keep: float, seed: int, budget: float | None = None) -> GridRun:
        """The run of ``method`` at ``keep`` (or at the time ``budget``: then ``keep`` is a stand-in
        until :func:`resolve_budget`)."""
        if method == "full":
            keep, budget = 1.0, None
        elif method in BUDGET_ONLY:
            keep = 1.0
        elif budget is not None:
            keep = min(budget, 1.0)
        options = {"progress": False}
        if method in NATIVE_TIME_BUDGET and budget is not None:
            options["time_budget"] = budget  # a method that needs its budget to be built at all
        return GridRun(dataset=dataset, method=method, keep=keep, seed=seed, budget=budget,
                       diet_options=options, **self.protocol_fields())

    def runs(self) -> list[GridRun]:
        """Every run of the grid, in the order it runs (see the module docstring): the keep runs
        and then the budget runs of each method form the pairs that rotate."""
        pairs = [(m, k, None) for k in self.keeps for m in self.methods if m != "full" and m not in BUDGET_ONLY]
        pairs += [(m, None, b) for b in self.budgets for m in self.methods if m != "full"]
        out = []
        for dataset in self.datasets:
            for i, seed in enumerate(self.seeds):
                shift = (i * len(pairs)) // len(self.seeds) if pairs else 0
                rotated = pairs[shift:] + pairs[:shift]
                out.append(self.run_config(dataset, "full", 1.0, seed))
                out.extend(self.run_config(dataset, m, k, seed, budget=b) for m, k, b in rotated)
        return out

    def data_map_run(self, dataset: str) -> RunConfig | None:
        """The run that writes the diet report: the default method (else the first pruning method)
        at the keep nearest 0.5, first seed."""
        if not self.data_map:
            return None
        pruning = [m for m in self.methods if m != "full" and m not in BUDGET_ONLY]
        if not pruning or not self.keeps:
            return None
        method = "default" if "default" in pruning else pruning[0]
        keep = min(self.keeps, key=lambda k: (abs(k - 0.5), -k))
        return self.run_config(dataset, method, keep, self.seeds[0])

    def data_map_key(self, dataset: str) -> str | None:
        """The key of :meth:`data_map_run`."""
        run = self.data_map_run(dataset)
        return None if run is None else run.key()


def _as_list(value: Any, kind: type) -> Any:
    """A list from a list, a single value, or a comma-separated string (the value unchanged if its
    items are not of ``kind``: the type check then names it)."""
    if isinstance(value, str):
        value = [v for v in value.replace(",", " ").split() if v]
    elif value is not None and not isinstance(value, (list, tuple)):
        value = [value]
    if value is None:
        return value
    try:
        return [kind(v) if isinstance(v, str) or kind is float and isinstance(v, int) and not isinstance(v, bool)
                else v for v in value]
    except (TypeError, ValueError):
        return list(value)


PROTOCOL_EXCLUDED = ("dataset", "method", "keep", "budget", "seed", "data_root", "protocol_epochs")


def protocol(config: dict[str, Any]) -> dict[str, Any]:
    """The settings every run of one dataset in a results folder must share (so that time ratios
    and seed statistics compare like with like): the run config without dataset/method/keep/budget/seed
    (nor the budget that :func:`resolve_budget` hands a method of :data:`NATIVE_TIME_BUDGET` in its
    diet options); a ``fewer_epochs`` run shares its ``protocol_epochs``, not the epochs it trained."""
    shared = {k: v for k, v in config.items() if k not in PROTOCOL_EXCLUDED}
    if config.get("protocol_epochs") is not None:
        shared["epochs"] = config["protocol_epochs"]
    if "time_budget" in (shared.get("diet_options") or {}):
        shared["diet_options"] = {k: v for k, v in shared["diet_options"].items() if k != "time_budget"}
    return shared


def with_later_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """A recorded run config with the settings added to :class:`GridRun` after it was written at
    their defaults (a record from before ``text_column`` existed ran with what is now its default)."""
    defaults = {}
    for f in dataclasses.fields(GridRun):
        if f.name in config:
            continue
        if f.default is not dataclasses.MISSING:
            defaults[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            defaults[f.name] = f.default_factory()
    return {**defaults, **config}


def check_compatible(grid: GridConfig, records: list[dict]) -> None:
    """Raise :class:`~datadiet.toolkit.fields.ConfigError` if the folder already holds successful runs of a
    grid dataset under another protocol."""
    for dataset in grid.datasets:
        want = protocol(asdict(grid.run_config(dataset, "full", 1.0, grid.seeds[0])))
        for r in records:
            if r.get("status", OK) != OK or r["config"]["dataset"] != dataset:
                continue
            have = protocol(with_later_defaults(r["config"]))
            diff = {k: (have.get(k), want.get(k)) for k in set(have) | set(want) if have.get(k) != want.get(k)}
            if diff:
                text = ", ".join(f"{k}: {a!r} there, {b!r} here" for k, a, b in
                                 sorted((k, *v) for k, v in diff.items()))
                raise ConfigError([f"the results folder already holds {dataset} runs under another protocol "
                                   f"({text}); use another --out folder, or the same settings to continue that grid"])
