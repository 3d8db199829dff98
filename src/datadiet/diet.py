"""``DataDiet``: the orchestrator that decides, every epoch, which examples to train on.

It holds the configuration, the per-example score history and the epoch schedule. Each epoch,
``begin_epoch`` may run a scoring pass over stale examples and computes the selection; during the
epoch, ``observe`` / ``weighted_loss`` record the scores that come free with every training forward
pass. Every rank of a distributed run computes the identical selection.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Callable, Sequence

import numpy as np
import torch

from datadiet.adapters import TaskAdapter, infer_task
from datadiet.config import HISTORY_SCORES, DietConfig
from datadiet.distributed import all_gather_arrays
from datadiet.history import SOURCE_PASS, SOURCE_TRAIN, ScoreHistory
from datadiet.rng import epoch_rng
from datadiet.sampler import DietSampler
from datadiet.schedule import PRUNE, SHARD_EXAMPLES, Schedule, epoch_optimizer_steps
from datadiet.scores import get_score
from datadiet.scores.classification import true_class_probability
from datadiet.scores.inputs import ScoreInputs
from datadiet.scoring_pass import example_lengths, score_examples
from datadiet.select.infobatch import infobatch_prune
from datadiet.select.quantile import class_balanced_band, epsilon_greedy, quantile_band
from datadiet.select.random import random_subset
from datadiet.select.selection import Selection

logger = logging.getLogger("datadiet")

STATE_VERSION = 1


class DataDiet:
    """Dynamic data pruning for one training run.

    Build one with a preset (:meth:`nlu_data_diets`, :meth:`infobatch`, :meth:`random`,
    :meth:`static`, :meth:`p3`, :meth:`full`) or the library's default, ``DataDiet(keep=0.5)``:
    dynamic EL2N-style pruning whose scores of kept examples come free from the training forward
    pass, with only the stalest pruned examples re-scored (``rescore="stale"``).

    Args (all keyword; see :class:`~datadiet.config.DietConfig`):
        method: one of ``full, dynamic, static, random, random_static, infobatch, p3``.
        keep: kept fraction of pruned epochs in (0, 1], or a ``(start, end)`` ramp.
        score: a registered score name (``datadiet.scores.available_scores()``), ``forgetting``,
            or ``auto`` (the task's EL2N: ``el2n``, ``token_el2n``, ``joint_el2n``; causal LM: ``token_nll``).
        smoothing: ``latest``, ``ema`` or ``ucb`` over each example's score history.
        rescore: ``all`` | ``stale`` | ``none`` (see ``datadiet.config.RESCORE``), with
            ``rescore_fraction`` the most examples a ``stale`` pass scores, as a fraction of N.
        epsilon: fraction of the kept examples drawn uniformly from the rest (exploration).
        offset: fraction of the hardest examples skipped (quantile band offset).
        class_balanced: apply the band within each class (needs ``labels`` in ``begin_epoch``).
        warmup_epochs, period, anneal_epochs, num_epochs: the :class:`~datadiet.schedule.Schedule`.
            ``anneal_epochs=1`` (a last epoch on all the data) gained 3.5 to 4 points of exact match
            at keep 0.2 on ATIS and SNIPS, but a larger keep costing the same time gained as much
            (``benchmarks/README.md``): pick ``keep`` for the time you can spend first.
        seed: every random choice comes from a generator seeded by ``(seed, epoch)``.
        task: the task adapter's task; default: inferred from the model.
        scoring_batch_size: batch size of scoring passes (forward only: larger than training's).
    """

    def __init__(self, config: DietConfig | None = None, **kwargs: Any) -> None:
        if config is not None and kwargs:
            raise TypeError("pass either a DietConfig or keyword arguments, not both")
        self.config = config if config is not None else DietConfig(**kwargs)
        self.seed = self.config.seed
        self.num_examples: int | None = None
        self.schedule: Schedule | None = None
        self.history: ScoreHistory | None = None
        self.adapter: TaskAdapter | None = TaskAdapter(self.config.task) if self.config.task else None
        self.epoch = -1
        self.selection: Selection | None = None
        self.log: list[dict] = []
        self.kept_masks: list[np.ndarray] = []
        self.features: np.ndarray | None = None
        self._previous_difficulty: np.ndarray | None = None
        self._weights: np.ndarray | None = None
        self._uniform_weights = True
        self._pending: list[dict[str, np.ndarray]] = []
        self._observe_seconds = 0.0
        self._lengths: np.ndarray | None = None
        self._score = None

    # ---------------------------------------------------------------- presets
    @classmethod
    def nlu_data_diets(cls, keep: float = 0.5, warmup_epochs: int = 1, period: int = 1, offset: float = 0.0,
                       score: str = "auto", **kwargs: Any) -> "DataDiet":
        """The published protocol of Attendu & Corbeil 2023 ("NLU on Data Diets"): warm up on the
        full data, then every ``period`` epochs re-score the *whole* train set in eval mode and keep
        the ``keep`` fraction in the quantile band (offset 0 = the hardest), no smoothing, no
        exploration."""
        return cls(method="dynamic", keep=keep, warmup_epochs=warmup_epochs, period=period, offset=offset,
                   score=score, smoothing="latest", rescore="all", epsilon=0.0, **kwargs)

    @classmethod
    def static(cls, keep: float = 0.5, warmup_epochs: int = 1, score: str = "auto", **kwargs: Any) -> "DataDiet":
        """Static pruning: score every example once after the warm-up, keep the hardest ``keep``
        fraction for the rest of training (static EL2N of Paul et al. 2021 with ``score="auto"``)."""
        return cls(method="static", keep=keep, warmup_epochs=warmup_epochs, score=score, smoothing="latest",
                   rescore="all", epsilon=0.0, **kwargs)

    @classmethod
    def random(cls, keep: float = 0.5, dynamic: bool = True, warmup_epochs: int = 1, **kwargs: Any) -> "DataDiet":
        """Random pruning: a fresh uniform subset every cycle (``dynamic=True``) or one fixed subset."""
        return cls(method="random" if dynamic else "random_static", keep=keep, warmup_epochs=warmup_epochs,
                   rescore="none", **kwargs)

    @classmethod
    def infobatch(cls, prune_ratio: float = 0.5, anneal_fraction: float = 0.125, **kwargs: Any) -> "DataDiet":
        """InfoBatch (Qin et al. 2024): each epoch drop a random ``prune_ratio`` of the examples whose
        latest training loss is below the mean, up-weight the kept ones of that set by
        ``1 / (1 - prune_ratio)``, and train on everything in the last ``anneal_fraction`` of epochs
        (``delta = 1 - anneal_fraction``, paper: 0.875). Dropped examples keep stale losses."""
        return cls(method="infobatch", prune_ratio=prune_ratio, anneal_fraction=anneal_fraction, score="loss",
                   smoothing="latest", rescore="none", warmup_epochs=0, epsilon=0.0, keep=1.0, **kwargs)

    @classmethod
    def p3(cls, budget: int | float, start: float = 50.0, end: float = 95.0, shape: str = "linear",
           theta: float | None = None, trend_alpha: float = 0.0, **kwargs: Any) -> "DataDiet":
        """P3 (Yang et al. 2024, arXiv 2408.05541) for causal LMs: every epoch, policy-driven
        difficulty of every example, the self-paced eligible set (difficulty at or below a
        percentile rising from ``start`` to ``end``), and a DPP greedy MAP of ``budget`` examples
        over the model's last hidden state averaged over each example's attended tokens."""
        kwargs.setdefault("warmup_epochs", 0)
        kwargs.setdefault("rescore", "all")
        return cls(method="p3", budget=budget, p3_start=start, p3_end=end, p3_shape=shape, p3_theta=theta,
                   trend_alpha=trend_alpha, score=kwargs.pop("score", "policy_difficulty"), smoothing="latest", epsilon=0.0,
                   keep=1.0, **kwargs)

    @classmethod
    def full(cls, **kwargs: Any) -> "DataDiet":
        """No pruning: every epoch on all the data (the reference every ratio is measured against)."""
        return cls(method="full", warmup_epochs=0, rescore="none", **kwargs)

    # ---------------------------------------------------------------- set-up
    def setup(self, num_examples: int, num_epochs: int | None = None, model: torch.nn.Module | None = None) -> "DataDiet":
        """Bind the diet to a training set of ``num_examples`` and ``num_epochs`` epochs (and infer the
        task from ``model``). Idempotent for the same sizes; raises if they change."""
        num_epochs = num_epochs if num_epochs is not None else self.config.num_epochs
        if num_epochs is None:
            raise ValueError("the diet needs the number of epochs: DataDiet(..., num_epochs=E) or setup(n, num_epochs=E)")
        if self.config.num_epochs is not None and num_epochs != self.config.num_epochs:
            raise ValueError(f"the diet was configured for {self.config.num_epochs} epochs but training runs {num_epochs}")
        if num_examples < 1:
            raise ValueError(f"the training set is empty (num_examples={num_examples})")
        if self.num_examples is not None:
            if (num_examples, num_epochs) != (self.num_examples, self.schedule.num_epochs):
                raise ValueError(
                    f"this diet is set up for {self.num_examples} examples x {self.schedule.num_epochs} epochs, "
                    f"not {num_examples} x {num_epochs}: use a new DataDiet for a different training set"
                )
        else:
            self.schedule = self._make_schedule(int(num_examples), int(num_epochs))
            self.num_examples = int(num_examples)
            self.history = ScoreHistory(self.num_examples, alpha=self.config.ema_alpha, ucb_c=self.config.ucb_c)
            self.selection = Selection.full(self.num_examples)
            self._set_weights(self.selection)
        if model is not None and self.adapter is None:
            self.adapter = TaskAdapter(infer_task(model))
        if self.adapter is not None:
            self.adapter.check_supports(self.score)  # fail now, not at the first training batch
        return self

    def _make_schedule(self, n: int, num_epochs: int) -> Schedule:
        c = self.config
        if c.method == "full":
            return Schedule(num_epochs, keep=1.0, warmup_epochs=num_epochs)
        if c.method == "infobatch":
            anneal = num_epochs - int(np.ceil((1.0 - c.anneal_fraction) * num_epochs))
            return Schedule(num_epochs, keep=1.0, warmup_epochs=0, anneal_epochs=min(anneal, num_epochs - 1))
        keep = c.keep
        if c.method == "p3":
            budget = c.budget if isinstance(c.budget, int) else max(1, int(round(c.budget * n)))
            if budget > n:
                raise ValueError(f"P3 budget {budget} is larger than the training set ({n} examples)")
            keep = budget / n
        return Schedule(num_epochs, keep=keep, warmup_epochs=c.warmup_epochs, period=c.period, anneal_epochs=c.anneal_epochs)

    def _require_setup(self) -> None:
        if self.num_examples is None:
            raise RuntimeError("call diet.setup(num_examples, num_epochs) (or diet.sampler(...)) before training")

    @property
    def score(self):
        """The per-observation score (a :class:`~datadiet.scores.Score`)."""
        if self._score is None:
            name = self.config.score
            if name in HISTORY_SCORES:
                name = "loss"  # forgetting is read from the history; observations record the loss
            elif name == "auto":
                if self.adapter is None:
                    raise ValueError("score='auto' needs the task: pass task= or a model to setup()")
                name = self.adapter.default_score
            self._score = get_score(name)
        return self._score

    # ---------------------------------------------------------------- plain-loop helpers
    def sampler(self, num_examples: int, num_epochs: int | None = None, *, num_replicas: int | None = None,
                rank: int | None = None, shuffle: bool = True, drop_last: bool = False) -> DietSampler:
        """A ``torch.utils.data.Sampler`` over the current selection (data-parallel aware)."""
        self.setup(num_examples, num_epochs)
        return DietSampler(self, num_replicas=num_replicas, rank=rank, shuffle=shuffle, drop_last=drop_last)

    def kept_counts(self) -> list[int]:
        """Planned examples per epoch (InfoBatch: an upper bound, its kept count depends on the losses)."""
        self._require_setup()
        return self.schedule.kept_counts(self.num_examples)

    def planned_steps(self, batch_size: int, world_size: int = 1, grad_accum: int = 1, drop_last: bool = False,
                      sharding: str = SHARD_EXAMPLES) -> int:
        """Optimizer steps of the whole run, known before training starts
        (:func:`~datadiet.schedule.epoch_optimizer_steps` summed over :meth:`kept_counts`)."""
        return sum(epoch_optimizer_steps(k, batch_size, world_size=world_size, grad_accum=grad_accum,
                                         drop_last=drop_last, sharding=sharding) for k in self.kept_counts())

    # ---------------------------------------------------------------- the epoch
    def begin_epoch(self, epoch: int, model: torch.nn.Module | None = None, dataset: Sequence | None = None,
                    collate_fn: Callable[[list], dict] | None = None, labels: np.ndarray | None = None) -> Selection:
        """Decide the examples of ``epoch`` (and run a scoring pass first if the method needs one).

        ``model``, ``dataset`` and ``collate_fn`` are needed only by methods that re-score
        (``dynamic`` with ``rescore`` other than none, ``static``, ``p3``); ``labels`` only by
        ``class_balanced``. Calling it again for the current epoch returns the same selection
        (that is how a run resumed mid-epoch keeps its selection).
        """
        self._require_setup()
        if epoch == self.epoch:
            return self.selection
        if epoch < self.epoch:
            raise ValueError(f"epoch {epoch} was already run (the diet is at epoch {self.epoch})")
        if model is not None and self.adapter is None:
            self.adapter = TaskAdapter(infer_task(model))
        self.flush()
        record = {"epoch": epoch, "phase": self.schedule.phase(epoch), "scored": 0,
                  "scoring_seconds": 0.0, "selection_seconds": 0.0}
        selection = self._select(epoch, model, dataset, collate_fn, labels, record)
        self.epoch = epoch
        self.selection = selection
        self._set_weights(selection)
        mask = np.zeros(self.num_examples, dtype=bool)
        mask[selection.indices] = True
        self.kept_masks.append(np.packbits(mask))
        record.update(kept=len(selection), kept_fraction=len(selection) / self.num_examples,
                      observe_seconds=self._observe_seconds)
        self._observe_seconds = 0.0
        self.log.append(record)
        logger.info("datadiet epoch %d (%s): training on %d of %d examples", epoch, record["phase"],
                    len(selection), self.num_examples)
        return selection

    def _select(self, epoch, model, dataset, collate_fn, labels, record) -> Selection:
        c, n = self.config, self.num_examples
        phase = self.schedule.phase(epoch)
        if phase != PRUNE or c.method == "full":
            return Selection.full(n)
        if not self.schedule.is_selection_epoch(epoch):
            return self.selection  # between re-selections (period > 1) the subset stays
        if c.method in ("static", "random_static") and epoch != self.schedule.warmup_epochs:
            return self.selection  # static methods select once, at the first pruned epoch
        keep = self.schedule.keep_at(epoch)
        if c.method == "random":
            return self._timed(record, lambda: random_subset(n, keep, epoch_rng(self.seed, epoch, "random")))
        if c.method == "random_static":
            return self._timed(record, lambda: random_subset(n, keep, epoch_rng(self.seed, 0, "random")))
        ids = self._ids_to_rescore(epoch)
        if len(ids):
            self._scoring_pass(epoch, ids, model, dataset, collate_fn, record)
        rng = epoch_rng(self.seed, epoch, "select")
        if c.method == "infobatch":
            losses = np.nan_to_num(self.history.latest, nan=np.inf)  # unscored = initialised high
            return self._timed(record, lambda: infobatch_prune(losses, c.prune_ratio, rng))
        scores = self._ranking_scores()
        if c.method == "p3":
            return self._timed(record, lambda: self._select_p3(epoch, scores, keep, rng, record))
        if c.class_balanced:
            if labels is None:
                raise ValueError("class_balanced=True needs labels=... (one class id per example) in begin_epoch")
            return self._timed(record, lambda: class_balanced_band(scores, labels, keep, c.offset))
        return self._timed(record, lambda: epsilon_greedy(scores, keep, c.epsilon, rng, c.offset))

    def _timed(self, record: dict, fn: Callable[[], Selection]) -> Selection:
        start = time.perf_counter()
        selection = fn()
        record["selection_seconds"] += time.perf_counter() - start
        return selection

    def _ids_to_rescore(self, epoch: int) -> np.ndarray:
        c, h = self.config, self.history
        never = np.flatnonzero(h.count == 0)
        if c.rescore == "all":
            return np.arange(self.num_examples)
        if c.rescore == "none" or c.method == "infobatch":
            return never if c.method != "infobatch" else np.zeros(0, np.int64)
        # stale: examples not seen last epoch, oldest first (random among equals), up to the budget
        budget = int(round(c.rescore_fraction * self.num_examples))
        age = h.age(epoch)
        candidates = np.flatnonzero((age > 1) & (h.count > 0))
        if budget and len(candidates):
            tiebreak = epoch_rng(self.seed, epoch, "rescore").random(len(candidates))
            candidates = candidates[np.lexsort((tiebreak, -age[candidates]))][:budget]
        else:
            candidates = candidates[:0]
        return np.union1d(never, candidates)

    def _scoring_pass(self, epoch, ids, model, dataset, collate_fn, record) -> None:
        if model is None or dataset is None or collate_fn is None:
            raise ValueError(
                f"epoch {epoch} needs a scoring pass over {len(ids)} examples ({self.config.method} pruning, "
                f"rescore={self.config.rescore!r}): pass model=, dataset= and collate_fn= to begin_epoch"
            )
        if len(dataset) != self.num_examples:
            raise ValueError(f"the dataset has {len(dataset)} examples but the diet was set up for {self.num_examples}")
        if self._lengths is None:
            self._lengths = example_lengths(dataset)
        want_features = self.config.method == "p3"
        result = score_examples(model, dataset, ids, collate_fn, self.adapter, self.score,
                                batch_size=self.config.scoring_batch_size, lengths=self._lengths,
                                want_features=want_features, progress=self.config.progress)
        self.history.update(result.ids, result.scores, epoch, SOURCE_PASS, result.confidence, result.correct)
        if want_features:
            if self.features is None:
                self.features = np.zeros((self.num_examples, result.features.shape[1]), np.float32)
            self.features[result.ids] = result.features
        record["scored"] += len(result.ids)
        record["scoring_seconds"] += result.seconds

    def _ranking_scores(self) -> np.ndarray:
        if self.config.score in HISTORY_SCORES:
            return self.history.forgetting_scores()
        return self.history.smoothed(self.config.smoothing)

    def _select_p3(self, epoch: int, scores: np.ndarray, keep: float, rng: np.random.Generator,
                   record: dict) -> Selection:
        from datadiet.scores.policy import difficulty_with_trend
        from datadiet.select.self_paced import select_p3

        c = self.config
        difficulty = scores
        if c.trend_alpha and self._previous_difficulty is not None:
            difficulty = difficulty_with_trend(scores, self._previous_difficulty, c.trend_alpha)
        self._previous_difficulty = scores.copy()
        budget = max(1, int(round(keep * self.num_examples)))
        selection = select_p3(difficulty, self.features, epoch, self.schedule.num_epochs, budget, start=c.p3_start,
                              end=c.p3_end, shape=c.p3_shape, theta=c.p3_theta, rng=rng)
        record.update(self._p3_epoch_stats(epoch, difficulty, selection))
        return selection

    def _p3_epoch_stats(self, epoch: int, d: np.ndarray, selection: Selection) -> dict:
        """What P3 did this epoch, for the log: the percentile, how many examples it made eligible,
        the mean finite difficulty ``d`` of the pool and of the selection, and how many examples
        had no action to score (``d = inf``)."""
        from datadiet.select.self_paced import self_paced_eligible, self_paced_percentile

        c = self.config
        percentile = self_paced_percentile(epoch, self.schedule.num_epochs, c.p3_start, c.p3_end, c.p3_shape)
        finite = np.isfinite(d)
        picked = d[selection.indices]
        return {"p3_percentile": percentile, "p3_eligible": int(len(self_paced_eligible(d, percentile))),
                "difficulty_mean": float(d[finite].mean()) if finite.any() else float("inf"),
                "selected_difficulty_mean": float(picked[np.isfinite(picked)].mean())
                if np.isfinite(picked).any() else float("inf"),
                "unscorable": int((~finite).sum())}

    # ---------------------------------------------------------------- free scores
    def _set_weights(self, selection: Selection) -> None:
        self._weights = selection.weight_lookup(self.num_examples)
        self._uniform_weights = bool(np.all(selection.weights == 1.0))

    def observe(self, example_ids: torch.Tensor | np.ndarray, inputs: ScoreInputs) -> None:
        """Record the scores of a training batch (free: computed from logits the forward pass made).

        Buffered, then all-gathered and applied at the next ``begin_epoch`` so every rank's history
        stays identical.
        """
        self._require_setup()
        start = time.perf_counter()
        ids = np.asarray(example_ids.cpu() if torch.is_tensor(example_ids) else example_ids, dtype=np.int64).reshape(-1)
        score = self.score
        score.check_inputs(inputs)
        with torch.no_grad():
            values = score(inputs).float().cpu().numpy()
            entry = {"ids": ids, "scores": values.astype(np.float64), "epoch": np.full(len(ids), max(self.epoch, 0))}
            try:
                conf, correct = true_class_probability(inputs)
                entry.update(confidence=conf.float().cpu().numpy().astype(np.float64), correct=correct.cpu().numpy())
            except ValueError:
                pass
        self._pending.append(entry)
        self._observe_seconds += time.perf_counter() - start

    def flush(self) -> None:
        """Apply the buffered training-pass scores to the history (all-gathered across ranks)."""
        self._require_setup()
        keys = ("ids", "scores", "epoch", "confidence", "correct")
        local = {k: np.concatenate([p[k] for p in self._pending]) if self._pending and all(k in p for p in self._pending)
                 else None for k in keys}
        local = {k: v for k, v in local.items() if v is not None}
        if not local:
            local = {"ids": np.zeros(0, np.int64), "scores": np.zeros(0), "epoch": np.zeros(0, np.int64)}
        merged = all_gather_arrays(local)
        self._pending = []
        if len(merged["ids"]) == 0:
            return
        for e in np.unique(merged["epoch"]):
            m = merged["epoch"] == e
            self.history.update(merged["ids"][m], merged["scores"][m], int(e), SOURCE_TRAIN,
                                merged["confidence"][m] if "confidence" in merged else None,
                                merged["correct"][m] if "correct" in merged else None)

    def weighted_loss(self, example_ids: torch.Tensor, outputs: Any, batch: dict) -> torch.Tensor:
        """The batch's training loss with the selection's loss weights applied, after observing its
        free scores. Uniform weights return the model's own ``outputs.loss`` unchanged."""
        if self.adapter is None:
            raise ValueError("the diet does not know the task yet: pass task= to the DataDiet or model= to setup()")
        self.observe(example_ids, self.adapter.score_inputs(outputs, batch))
        loss = outputs["loss"] if isinstance(outputs, dict) else getattr(outputs, "loss", None)
        if loss is None:
            raise ValueError("the model returned no loss: include the labels in the batch")
        return self.apply_weights(example_ids, loss, outputs, batch)

    def apply_weights(self, example_ids: torch.Tensor, loss: torch.Tensor, outputs: Any, batch: dict) -> torch.Tensor:
        """``loss`` itself when every kept example has weight 1, else the mean of the per-example
        losses times their weights (InfoBatch's rescaling)."""
        if self._uniform_weights:
            return loss
        ids = torch.as_tensor(np.asarray(example_ids.cpu() if torch.is_tensor(example_ids) else example_ids)).long()
        weights = torch.as_tensor(self._weights[ids.numpy()], dtype=torch.float32)
        per_example = self.adapter.per_example_loss(outputs, batch)
        return (per_example * weights.to(per_example.device)).mean()

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """Everything needed to continue with the identical selections (saved with checkpoints)."""
        self._require_setup()
        return {
            "version": STATE_VERSION,
            "config": self.config.to_dict(),
            "num_examples": self.num_examples,
            "num_epochs": self.schedule.num_epochs,
            "epoch": self.epoch,
            "selection_indices": self.selection.indices.copy(),
            "selection_weights": self.selection.weights.copy(),
            "history": self.history.state_dict(),
            "pending": [dict(p) for p in self._pending],
            "log": [dict(r) for r in self.log],
            "kept_masks": [m.copy() for m in self.kept_masks],
            "previous_difficulty": None if self._previous_difficulty is None else self._previous_difficulty.copy(),
            "task": None if self.adapter is None else self.adapter.task,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict`; the training set must have the same size."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported diet state version {state.get('version')!r}")
        if self.num_examples is not None and state["num_examples"] != self.num_examples:
            raise ValueError(
                f"the checkpoint's diet was saved for {state['num_examples']} training examples but this training "
                f"set has {self.num_examples}: resume with the same training set"
            )
        saved = {k: v for k, v in state["config"].items() if k != "progress"}
        mine = {k: v for k, v in self.config.to_dict().items() if k != "progress"}
        if saved != mine:
            changed = sorted(k for k in mine if saved.get(k) != mine[k])
            logger.warning("resuming a diet whose configuration differs from the saved one in: %s", ", ".join(changed))
        self.setup(state["num_examples"], state["num_epochs"])
        self.history.load_state_dict(state["history"])
        self.epoch = int(state["epoch"])
        self.selection = Selection.of(state["selection_indices"], state["selection_weights"])
        self._set_weights(self.selection)
        self._pending = [dict(p) for p in state["pending"]]
        self.log = [dict(r) for r in state["log"]]
        self.kept_masks = [np.asarray(m) for m in state["kept_masks"]]
        self._previous_difficulty = state.get("previous_difficulty")
        if state.get("task") and self.adapter is None:
            self.adapter = TaskAdapter(state["task"])

    def kept_matrix(self) -> np.ndarray:
        """``(epochs run, N)`` booleans: which examples each epoch trained on."""
        self._require_setup()
        if not self.kept_masks:
            return np.zeros((0, self.num_examples), dtype=bool)
        return np.stack([np.unpackbits(m, count=self.num_examples).astype(bool) for m in self.kept_masks])

    def summary(self) -> dict:
        """Totals of the run so far: examples trained on, seconds scoring / selecting / observing."""
        return {
            "method": self.config.method,
            "examples_trained": int(sum(r["kept"] for r in self.log)),
            "examples_full": int(self.num_examples * len(self.log)) if self.num_examples else 0,
            "scored_examples": int(sum(r["scored"] for r in self.log)),
            "scoring_seconds": float(sum(r["scoring_seconds"] for r in self.log)),
            "selection_seconds": float(sum(r["selection_seconds"] for r in self.log)),
            "observe_seconds": float(sum(r["observe_seconds"] for r in self.log)) + self._observe_seconds,
        }

    def report(self, out_dir) -> dict:
        """Write what this diet did to ``out_dir``: ``diet.json`` (config, per-epoch kept / scored /
        seconds, totals), ``epochs.png``, ``data_map.png`` and ``history.npz``. Returns the paths."""
        from datadiet.report import write_report

        return write_report(self, out_dir)

    def __repr__(self) -> str:
        c = self.config
        fields = [f"{f.name}={getattr(c, f.name)!r}" for f in dataclasses.fields(c)
                  if getattr(c, f.name) != f.default]
        return f"DataDiet({', '.join(fields)})"
