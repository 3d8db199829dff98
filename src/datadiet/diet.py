"""``DataDiet``: decides, every epoch, which examples to train on.

It composes a pruning :mod:`strategy <datadiet.strategies>` (what to keep) with the run's parts,
each owning its state: the per-example :class:`~datadiet.history.ScoreHistory`, the
:class:`~datadiet.observer.TrainingObserver` of the scores every training forward pass gives for
free, the :class:`~datadiet.free_features.FeatureStore`, the :class:`~datadiet.runlog.RunLog`, the
:class:`~datadiet.ledger.TrainedLedger` and the :class:`~datadiet.data_binding.DataBinding` (data,
layout, a resume's contract). Its plan and step arithmetic (:class:`~datadiet.run_steps.StepPlanning`)
and the per-batch calls of integrations (:class:`~datadiet.observer.TrainingSeam`) are mixins in
their own modules. Every rank of a distributed run computes the identical selection.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Sequence

import numpy as np
import torch

from datadiet.adapters import CAUSAL_LM, TaskAdapter, infer_task, may_be_free
from datadiet.contract import RunContract
from datadiet.data_binding import DataBinding
from datadiet.diet_state import diet_state_dict, load_diet_state
from datadiet.distributed import broadcast_object, world
from datadiet.free_features import FeatureStore
from datadiet.history import SOURCE_PASS, ScoreHistory
from datadiet.layout import BatchLayout
from datadiet.ledger import TrainedLedger
from datadiet.observer import TrainingObserver, TrainingSeam
from datadiet.presets import Presets
from datadiet.run_steps import StepPlanning
from datadiet.runlog import RunLog
from datadiet.schedule import PRUNE, Schedule
from datadiet.scores import get_score
from datadiet.scoring_pass import Autocast, PassResult, check_autocast, dataset_labels, model_device, score_examples
from datadiet.select.selection import Selection
from datadiet.settings import DietSettings, split_settings
from datadiet.strategies import EpochContext, Strategy, build_strategy

logger = logging.getLogger("datadiet")

_ANY_SIZE = 2**31 - 1  # a training-set size for checking a plan before the data is known


class DataDiet(Presets, StepPlanning, TrainingSeam):
    """Dynamic data pruning for one training run.

    ``DataDiet(keep=0.5)`` is the library's default: after one warm-up epoch, each epoch keeps the
    hardest half by EMA-smoothed score (10% of the kept slots explore at random); scores of kept
    examples come free from the training forward pass and at most 10% of N stale examples are
    re-scored. Keywords are those of :class:`~datadiet.strategies.ScoreBased` (or, with
    ``method=``, of that method's strategy) plus the run settings of
    :class:`~datadiet.settings.DietSettings` (``num_epochs``, ``seed``, ``task``,
    ``scoring_batch_size``, ``progress``). Presets name the published methods; any strategy object
    can be passed directly: ``DataDiet(P3(budget=128), seed=1)``.
    """

    def __init__(self, strategy: Strategy | None = None, **kwargs: Any) -> None:
        settings, method_kwargs = split_settings(kwargs)
        if strategy is not None and method_kwargs:
            raise TypeError(f"pass either a strategy or its settings, not both (got {sorted(method_kwargs)})")
        self.strategy = strategy if strategy is not None else build_strategy(**method_kwargs)
        self.settings = DietSettings(**settings)
        if self.settings.num_epochs is not None:  # a plan that cannot work fails now, not at set-up
            self.strategy.plan(_ANY_SIZE, self.settings.num_epochs)
        self.adapter: TaskAdapter | None = TaskAdapter(self.settings.task) if self.settings.task else None
        self.binding = DataBinding()
        self.labelled_head: bool | str = "verify"  # a causal LM's passes: LM head at labelled positions (checked once)
        self._forget_run()

    def _forget_run(self) -> None:
        """No run: the per-run parts are built by :meth:`setup`."""
        self.num_examples: int | None = None
        self.num_epochs: int | None = None  # asked for; the schedule may plan fewer (a time budget's choice)
        self.schedule: Schedule | None = None
        self.history: ScoreHistory | None = None
        self.run_log: RunLog | None = None
        self.ledger: TrainedLedger | None = None  # what the current epoch has trained (end_epoch checks it)
        self.feature_store: FeatureStore | None = None  # P3's diversity features, per example
        self.selection: Selection | None = None
        self.epoch = -1
        self.observer = TrainingObserver(self.strategy)

    # ---------------------------------------------------------------- set-up
    def setup(self, num_examples: int, num_epochs: int | None = None, model: torch.nn.Module | None = None) -> "DataDiet":
        """Bind the diet to ``num_examples`` examples and ``num_epochs`` epochs (and infer the task
        from ``model``). Idempotent for the same sizes; raises if they change."""
        num_epochs = self.settings.epochs_for(num_epochs)
        if num_examples < 1:
            raise ValueError(f"the training set is empty (num_examples={num_examples})")
        if self.num_examples is None:
            self.schedule = self.strategy.plan(int(num_examples), num_epochs)
            self.num_examples, self.num_epochs = int(num_examples), int(num_epochs)
            self._warn_if_budget_prunes_nothing()
            self.history = ScoreHistory(self.num_examples, **self.strategy.history_options())
            self.run_log, self.ledger = RunLog(self.num_examples), TrainedLedger(self.num_examples)
            self.feature_store, self.selection = FeatureStore(self.num_examples), Selection.full(self.num_examples)
        elif (num_examples, num_epochs) != (self.num_examples, self.num_epochs):
            raise ValueError(f"this diet is set up for {self.num_examples} examples x {self.num_epochs} "
                             f"epochs, not {num_examples} x {num_epochs}: resume with the same training set and "
                             f"number of epochs, or start a new DataDiet")
        if model is not None and self.adapter is None:
            self.adapter = TaskAdapter(infer_task(model))
        if self.adapter is not None:
            self.adapter.check_supports(self.score)  # fail now, not at the first training batch
        return self

    def use_adapter(self, adapter: TaskAdapter) -> None:
        """Read the model's outputs through ``adapter`` from now on (an integration's own, e.g. TRL's
        fused LM head), checked against the score at once."""
        if not isinstance(adapter, TaskAdapter):
            raise TypeError(f"adapter must be a datadiet.TaskAdapter, got {type(adapter).__name__}")
        self.adapter = adapter
        if self.num_examples is not None:
            adapter.check_supports(self.score)

    def reset(self, num_examples: int | None = None, num_epochs: int | None = None) -> "DataDiet":
        """Forget the run, for a new one with the same diet (``trainer.train()`` called again, a
        hyperparameter search): no scores, no log, epoch -1, set up again for ``num_examples`` x
        ``num_epochs`` (default: the current sizes). The task, the batch layout and the
        labelled-head check's verdict, facts about the model and the trainer, are kept."""
        self.require_setup()
        num_examples = self.num_examples if num_examples is None else num_examples
        num_epochs = self.num_epochs if num_epochs is None else num_epochs
        self._forget_run()
        self.binding.forget_data()  # read again (and the ids checked) from the next dataset
        self.strategy.load_state_dict({})
        return self.setup(num_examples, num_epochs)

    @property
    def seed(self) -> int:
        """The seed every random choice derives from (``settings.seed``)."""
        return self.settings.seed

    def require_setup(self) -> None:
        """Raise unless the diet is set up (sizes known): most of its methods need it."""
        if self.num_examples is None:
            raise RuntimeError("call diet.setup(num_examples, num_epochs) (or diet.sampler(...)) before training")

    @property
    def score(self):
        """The per-observation score (a :class:`~datadiet.scores.Score`)."""
        name = self.strategy.score_name
        if name == "auto":
            if self.adapter is None:
                raise ValueError("score='auto' needs the task: pass task= or a model to setup()")
            name = self.adapter.default_score
        return get_score(name)

    @property
    def log(self) -> list[dict]:
        """One record per epoch begun (phase, kept, scored, seconds, and the method's own fields)."""
        return self.run_log.records if self.run_log is not None else []

    @property
    def layout(self) -> BatchLayout | None:
        """How training batches each epoch (:meth:`set_layout`), None until an integration says."""
        return self.binding.layout

    # ---------------------------------------------------------------- the run's contract
    def bind_data(self, dataset) -> None:
        """Read what the diet needs of the training set, once (:class:`~datadiet.data_binding.DataBinding`)
        and compare a resumed run's checkpoint with it. ``begin_epoch`` calls it with its dataset."""
        if self.binding.bind(dataset, self.settings.example_id_column):
            self._check_saved_contract()

    def set_layout(self, layout: BatchLayout, max_steps: int | None = None) -> None:
        """How training batches each epoch: the plan's steps (:meth:`steps_per_epoch`), the examples
        :meth:`end_epoch` expects, and the resume check read it. A trainer also says the steps its run
        was given (``max_steps``, 0 when given in epochs), which a resume must keep."""
        self.binding.set_layout(layout, max_steps)
        self._check_saved_contract()

    def _warn_if_budget_prunes_nothing(self) -> None:
        """A pruning method whose time budget no pruned plan fits trains full data for fewer epochs
        (``budget_epochs="auto"``): say so where it shows, not only in the plan."""
        schedule, budget = self.schedule, getattr(self.strategy, "time_budget", None)
        if (budget is None or self.strategy.method == "full" or schedule.warmup_epochs < schedule.num_epochs
                or schedule.num_epochs == self.num_epochs):  # full data throughout: the budget pays for it all
            return
        logger.warning("datadiet: a time budget of %g buys no pruned plan of %d epochs (the warm-up and scoring cost "
                       "more), so this run trains full data for %d of them and prunes nothing; raise the budget, "
                       "lower warmup_epochs, or use DataDiet(method='full', time_budget=%g) to say so",
                       budget, self.num_epochs, schedule.num_epochs, budget)

    def contract(self) -> RunContract:
        """What this run's selections depend on (saved with the state, checked on resume)."""
        self.require_setup()
        return self.binding.contract(self.num_examples, self.num_epochs, self.seed, self.strategy.to_dict(),
                                     self.strategy.inert_settings(), self.strategy.unsaved_defaults(),
                                     tuple(self.kept_counts()))

    def _check_saved_contract(self) -> None:
        if self.binding.saved is not None and self.num_examples is not None:
            self.contract().check(self.binding.saved, self.kept_per_epoch())

    # ---------------------------------------------------------------- the epoch
    def begin_epoch(self, epoch: int, model: torch.nn.Module | None = None, dataset: Sequence | None = None,
                    collate_fn: Callable[[list], dict] | None = None, labels: np.ndarray | None = None,
                    autocast: Autocast = None) -> Selection:
        """Decide the examples of ``epoch``, after a scoring pass if the method needs one.

        ``model``, ``dataset`` and ``collate_fn`` are needed by methods that re-score; ``labels`` by
        class-aware selectors (read from the dataset's label column when not given). ``autocast``:
        the mixed precision training runs under, for the scoring pass (``torch.bfloat16``,
        ``torch.float16``, a ``torch.autocast(...)`` or a callable returning a context manager;
        None: the model's own dtype). Calling it again for the current epoch returns the same
        selection (a run resumed mid-epoch keeps it).
        """
        self.require_setup()
        check_autocast(autocast)
        if epoch == self.epoch:
            return self.selection
        if epoch < self.epoch:
            raise ValueError(f"epoch {epoch} was already run (the diet is at epoch {self.epoch}): epochs begin in "
                             "order; to train again from the start, build a new DataDiet or call diet.reset()")
        if epoch > self.epoch + 1:
            raise ValueError(f"epoch {epoch} cannot begin after epoch {self.epoch}: every epoch begins in order "
                             f"(begin epoch {self.epoch + 1} next), or its selection and scores would be skipped")
        if epoch >= self.schedule.num_epochs:
            raise ValueError(f"epoch {epoch} is past the plan, which trains {self.schedule.num_epochs} of the "
                             f"{self.num_epochs} epochs asked for (a time budget spent on fewer epochs: "
                             "print(diet.plan(len(train))) says why): loop over range(diet.schedule.num_epochs), as "
                             "DataDietTrainer does")
        if model is not None and self.adapter is None:
            self.adapter = TaskAdapter(infer_task(model))
        self.bind_data(dataset)
        self.flush()
        record = RunLog.start(epoch, self.strategy.phase_name(epoch, self.schedule))
        if self.strategy.selects_at(epoch, self.schedule):
            selection = self._select(epoch, model, dataset, collate_fn, labels, autocast, record)
        elif self.schedule.phase(epoch) != PRUNE:
            selection = Selection.full(self.num_examples)
        else:
            selection = self.selection  # between re-selections the subset stays
        self.epoch, self.selection = epoch, selection
        self.ledger.start(epoch)
        trained = len(selection) if self.layout is None else self.layout.trained(len(selection))
        self.run_log.finish(record, selection, self.observer.recorder.take_seconds(), trained)
        logger.info("datadiet epoch %d (%s): training on %d of %d examples", epoch, record["phase"], len(selection),
                    self.num_examples)
        return selection

    def _select(self, epoch, model, dataset, collate_fn, labels, autocast, record: dict) -> Selection:
        """Re-score what the strategy asks (none for a blind selection, all when training records no
        scores), then run its selection on rank 0's result."""
        if self.strategy.selects_blind(epoch):
            ids = np.zeros(0, dtype=np.int64)
        elif not self.training_records_scores():
            ids = np.arange(self.num_examples)  # what training does not record is refreshed by a pass
        else:
            ids = self.strategy.ids_to_rescore(epoch, self.history, self.seed)
        if len(ids):
            result = self.scoring_pass(epoch, ids, model, dataset, collate_fn, autocast)
            record["scored"] += len(result.ids)
            record["scoring_seconds"] += result.seconds
        if "labels" in self.strategy.needs and labels is None:
            labels = dataset_labels(dataset)
        device = model_device(model) if model is not None else None
        ctx = EpochContext(epoch, self.schedule, self.history, self.selection, self.seed, self.features, labels,
                           record, None if self.adapter is None else self.adapter.task,
                           str(device) if device is not None and device.type == "cuda" else None,
                           lengths=self.binding.lengths)
        start = time.perf_counter()
        selection = agreed(self.strategy.select(ctx))
        record["selection_seconds"] = time.perf_counter() - start
        return selection

    @property
    def features(self) -> np.ndarray | None:
        """``(N, d)`` diversity features of every example (the latest, from training or a pass),
        None until a method that selects on features has some."""
        return None if self.feature_store is None else self.feature_store.array

    def scoring_pass(self, epoch: int, ids: np.ndarray, model, dataset, collate_fn, autocast: Autocast = None) -> PassResult:
        """Re-score ``ids`` at ``epoch`` with a forward-only pass (with the features the strategy
        needs) and apply its result: scores to the history, features to the store, the
        labelled-head check's verdict (checked once: later passes trust or skip it)."""
        if model is None or dataset is None or collate_fn is None:
            raise ValueError(f"epoch {epoch} needs a scoring pass over {len(ids)} examples ({self.strategy.method}): "
                             "pass model=, dataset= and collate_fn= to begin_epoch")
        if len(dataset) != self.num_examples:
            raise ValueError(f"the dataset has {len(dataset)} examples but the diet was set up for {self.num_examples}")
        s, want_features = self.settings, self.observer.wants_features
        result = score_examples(model, dataset, ids, collate_fn, self.adapter, self.score,
                                batch_size=s.scoring_batch_size, lengths=self.binding.lengths,
                                tokens_per_batch=s.scoring_tokens_per_batch, id_column=s.example_id_column,
                                want_features=want_features, progress=s.progress,
                                feature_transform=self.feature_projection(), labelled_head=self.labelled_head,
                                autocast=autocast)
        if result.labelled_head is not None:
            self.labelled_head = result.labelled_head
        self.history.update(result.ids, result.scores, epoch, SOURCE_PASS, result.confidence, result.correct)
        if want_features:
            self.feature_store.update(result.ids, result.features)
        return result

    def end_epoch(self) -> None:
        """Check that the epoch trained every example its plan said (all of the selection, less what
        the layout's ``drop_last`` drops), over every rank (a collective); raise
        :class:`~datadiet.ledger.EpochShortfall` with both numbers if not. Integrations call it at
        each epoch's end; a plain loop may."""
        self.require_setup()
        kept = len(self.selection)
        expected = kept if self.layout is None else self.layout.trained(kept)
        self.ledger.check(self.selection.indices, expected, "" if self.layout is None else self.layout.describe())

    def training_records_scores(self) -> bool:
        """The one predicate of "this run records free scores": the strategy takes them, the training
        forward gives the score (a fact of the task and the score; while the task is unknown only an
        on-request field rules it out) and, for a method that selects on features, its features too
        (a causal LM's pooled hidden states; assumed while the task is unknown)."""
        if not self.strategy.records_free_scores:
            return False
        if self.adapter is None:
            return may_be_free(self.strategy.score_name)
        return self.adapter.provides_free(self.score) and (not self.observer.wants_features
                                                           or self.adapter.task == CAUSAL_LM)

    # ---------------------------------------------------------------- state and reports
    def state_dict(self) -> dict:
        """Everything needed to continue with the identical selections (saved with checkpoints)."""
        return diet_state_dict(self)

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict`; the training set and number of epochs must be the same."""
        self.binding.saved = load_diet_state(self, state)  # data, layout: checked when they are known

    def kept_matrix(self) -> np.ndarray:
        """``(epochs run, N)`` booleans: which examples each epoch trained on."""
        self.require_setup()
        return self.run_log.kept_matrix()

    def summary(self) -> dict:
        """Totals of the run so far: examples trained on (``examples_full``: full data over the epochs
        run so far; ``examples_asked``: over the epochs asked for, which a time budget's plan may
        shorten), examples scored, seconds scoring / selecting / observing."""
        self.require_setup()
        return self.run_log.summary(self.strategy.method, self.observer.recorder.seconds, self.num_epochs)

    def report(self, out_dir) -> dict:
        """Write ``diet.json``, ``epochs.png``, ``data_map.png`` and ``history.npz`` to ``out_dir``."""
        from datadiet.report import write_report

        return write_report(self, out_dir)

    def __repr__(self) -> str:
        settings = {k: v for k, v in self.strategy.to_dict().items() if k != "method"}
        body = ", ".join(f"{k}={v!r}" for k, v in settings.items())
        return f"DataDiet({self.strategy.method}: {body}; seed={self.seed})"


def agreed(selection: Selection) -> Selection:
    """Rank 0's ``selection`` on every rank, so ranks agree by construction (a selector run on each
    rank's own device, P3's DPP on a GPU, may round differently); itself for one process."""
    if world()[1] == 1:
        return selection
    return Selection.of(*broadcast_object((selection.indices, selection.weights)))
