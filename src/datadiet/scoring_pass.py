"""The scoring pass: forward-only scores for a set of examples, as cheaply as a forward can be.

Eval mode (no dropout), no autograd, batches of examples of similar length (padding is wasted
compute), sharded across data-parallel ranks and gathered so every rank has every score. What the
engine that trains the model changes (the model object, the grad mode, forwards owed by each
rank) is asked of its :class:`~datadiet.engines.Engine`.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence, Union

import numpy as np
import torch
from datadiet._extras import progress_bar as tqdm  # a bar when tqdm ([hf]) is installed

from datadiet.adapters import ON_REQUEST, TaskAdapter, capture_on_request
from datadiet.distributed import all_gather_arrays
from datadiet.engines import Engine, engine_of
from datadiet.halving import HalvingForward
from datadiet.labelled_head import CheckedHead, pass_split
from datadiet.scores.classification import true_class_probability
from datadiet.scores.registry import Score
from datadiet.utils import EXAMPLE_ID_COLUMN

DIET_COLUMNS = (EXAMPLE_ID_COLUMN, "action_ids")
"""Batch keys the library reads but the model's forward never receives."""

LABEL_COLUMNS = ("labels", "intent_labels", "slot_labels")
"""Batch keys a scoring pass reads (through the adapter) but keeps out of the forward, so the model
computes no loss: for a causal LM that loss would upcast a ``(B, T, V)`` copy of the logits."""


def diet_columns(id_column: str = EXAMPLE_ID_COLUMN) -> tuple[str, ...]:
    """:data:`DIET_COLUMNS` with the ids under ``id_column`` (the diet's ``example_id_column``)."""
    return (id_column, *DIET_COLUMNS[1:])


def split_diet_columns(batch: dict, id_column: str = EXAMPLE_ID_COLUMN) -> tuple[dict, dict]:
    """``(model_inputs, diet_inputs)``: the batch without and with only the diet's columns
    (:func:`diet_columns`); the ids, read from ``id_column``, are ``diet_inputs["example_id"]``."""
    columns = diet_columns(id_column)
    model_inputs = {k: v for k, v in batch.items() if k not in columns}
    diet_inputs = {canonical: batch[k] for k, canonical in zip(columns, DIET_COLUMNS) if k in batch}
    return model_inputs, diet_inputs


def example_lengths(dataset) -> np.ndarray | None:
    """Token count of every example (``input_ids`` column), or None if the dataset has none."""
    try:
        column = dataset["input_ids"]
    except (KeyError, TypeError, IndexError, ValueError):
        return None
    return np.fromiter((len(x) for x in column), dtype=np.int64, count=len(dataset))


LABEL_COLUMN_NAMES = ("labels", "label", "intent_labels")
"""Columns :func:`dataset_labels` reads class ids from, in order of preference."""


def dataset_labels(dataset) -> np.ndarray:
    """One class id per example, from the dataset's first label column (``labels``, ``label``,
    ``intent_labels``), for class-aware selectors."""
    names = getattr(dataset, "column_names", None)
    if names is None and dataset is not None and len(dataset):
        names = list(dataset[0].keys()) if isinstance(dataset[0], dict) else []
    for name in LABEL_COLUMN_NAMES:
        if names and name in names:
            column = dataset[name] if hasattr(dataset, "column_names") else [row[name] for row in dataset]
            labels = np.asarray(column)
            if labels.ndim != 1:
                raise ValueError(f"the dataset's {name!r} column is not one class id per example (shape "
                                 f"{labels.shape}): pass labels= to begin_epoch")
            return labels
    raise ValueError(f"a class-aware selector needs class ids: the dataset has no {' / '.join(LABEL_COLUMN_NAMES)} "
                     "column; pass labels= (one class id per example) to begin_epoch")


def length_buckets(ids: np.ndarray, lengths: np.ndarray | None, batch_size: int,
                   tokens_per_batch: int | None = None) -> list[np.ndarray]:
    """Batches of ids of similar length, longest first (so a memory error shows at once), each of at
    most ``batch_size`` rows and, with ``lengths`` and ``tokens_per_batch``, at most that many padded
    tokens (rows x the batch's longest row): a few long rows get small batches of their own, short
    rows big ones. A row longer than the budget is a batch alone. Deterministic (ties by id), so
    every rank of a distributed run builds the same batches. Without ``lengths`` batches have
    ``batch_size`` rows in the order given."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if tokens_per_batch is not None and tokens_per_batch < 1:
        raise ValueError(f"tokens_per_batch must be at least 1 (or None), got {tokens_per_batch}")
    ids = np.asarray(ids, dtype=np.int64)
    if lengths is None:
        return [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]
    ids = ids[np.lexsort((ids, -lengths[ids]))]
    if tokens_per_batch is None:
        return [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]
    batches, start = [], 0
    while start < len(ids):
        longest = max(int(lengths[ids[start]]), 1)  # sorted longest first: the batch's first row is its longest
        rows = min(batch_size, max(1, tokens_per_batch // longest))
        batches.append(ids[start : start + rows])
        start += rows
    return batches


@dataclass
class PassResult:
    """Scores of one pass, aligned with ``ids``; ``features`` only when asked for."""

    ids: np.ndarray
    scores: np.ndarray
    confidence: np.ndarray | None
    correct: np.ndarray | None
    features: np.ndarray | None
    seconds: float
    labelled_head: bool | None = None
    """Under ``labelled_head="verify"``, what the check found: True (the labelled-positions head
    agrees with the model's forward and was used), False (it did not: the full forward was used);
    None when nothing was checked."""


Autocast = Union[None, torch.dtype, torch.autocast, Callable[[], AbstractContextManager]]
"""The mixed precision of a scoring pass (see :func:`scoring_precision`)."""

AUTOCAST_DTYPES = (torch.bfloat16, torch.float16)


def check_autocast(autocast: Autocast) -> Autocast:
    """``autocast`` if it is a valid :data:`Autocast`; a clear error otherwise."""
    if autocast is None or isinstance(autocast, torch.autocast) or callable(autocast) or autocast in AUTOCAST_DTYPES:
        return autocast
    raise ValueError(f"autocast is None, torch.bfloat16, torch.float16, a torch.autocast(...) or a callable returning "
                     f"a context manager (e.g. accelerator.autocast), got {autocast!r}")


def scoring_precision(autocast: Autocast, device: torch.device) -> AbstractContextManager:
    """The context a scoring pass runs its forwards in, so it computes in the precision training
    does: ``None``, none (the model's own dtype); ``torch.bfloat16`` / ``torch.float16``,
    ``torch.autocast`` on ``device``'s type with that dtype; a ``torch.autocast(...)``, itself (it
    can be entered again); a callable, the context it returns (the Trainer passes
    ``accelerator.autocast``: its mixed precision wraps only the model's ``forward``, which a pass
    that runs the backbone on its own would otherwise leave out)."""
    autocast = check_autocast(autocast)
    if autocast is None:
        return nullcontext()
    if isinstance(autocast, torch.dtype):
        return torch.autocast(device.type, dtype=autocast)
    if isinstance(autocast, torch.autocast):
        return autocast
    return autocast()


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def score_examples(
    model: torch.nn.Module,
    dataset: Sequence,
    ids: np.ndarray,
    collate_fn: Callable[[list], dict],
    adapter: TaskAdapter,
    score: Score,
    batch_size: int = 256,
    lengths: np.ndarray | None = None,
    tokens_per_batch: int | None = None,
    want_features: bool = False,
    progress: bool = True,
    feature_transform: Callable | None = None,
    labelled_head: bool | str = "verify",
    autocast: Autocast = None,
    id_column: str = EXAMPLE_ID_COLUMN,
) -> PassResult:
    """Score ``ids`` of ``dataset`` with a forward-only pass of ``model`` (restored to its mode after).

    Model outputs the score needs but a plain forward does not give (:data:`ON_REQUEST`: hidden
    states, the head's input) are asked for. ``model`` is the object training calls (a DDP,
    DeepSpeed or FSDP wrapper, or the plain module): its :class:`~datadiet.engines.Engine` picks
    the module to run and the grad mode. In a distributed run each rank scores every
    ``world_size``-th batch and the results are all-gathered, so the returned arrays are identical
    on every rank; under ZeRO-3 and FSDP, whose forwards are collectives, every rank runs the same
    number of forwards (repeats of a batch, their results dropped). ``feature_transform`` maps each batch's features before they leave the device
    (e.g. a projection to fewer dimensions, so the pass never holds ``N x h`` features).

    ``labelled_head``: for a causal LM and a score read from gold-token log-probabilities, run the
    backbone and apply the LM head at the labelled positions only (:mod:`datadiet.labelled_head`:
    the same scores, no logits for the prompt; not under an engine that shards parameters, where
    only the whole model's forward gathers them). ``"verify"`` (the default) first checks one batch
    against the model's own forward and falls back to it, with a warning, if they differ; True
    trusts it (a model already checked); False always runs the model's own forward.

    ``autocast``: the mixed precision of the forwards (:func:`scoring_precision`); give the one
    training runs under, so pass scores and free scores from training steps are alike.

    ``tokens_per_batch``: with ``lengths``, a batch holds at most that many padded tokens (and at
    most ``batch_size`` rows; :func:`length_buckets`). A batch that runs out of memory is retried
    in halves, down to one row (:class:`~datadiet.halving.HalvingForward`); not under an engine that
    shards parameters, where it raises :class:`~datadiet.halving.ScoringOutOfMemoryError` asking for
    a smaller budget instead (a split on one rank would desynchronise the ranks' forwards).

    ``id_column``: the batch key of the example ids (the diet's ``example_id_column``), kept out of
    the forward.
    """
    requested = tuple(f for f in ON_REQUEST if f in score.requires or (f == "features" and want_features))
    engine = engine_of(model)
    model = engine.pass_model(model)  # ranks score different batches: no wrapper's sync collectives
    start = time.perf_counter()
    batches = engine.rank_batches(length_buckets(ids, lengths, batch_size, tokens_per_batch))
    split = pass_split(model, adapter, score.name, requested) if labelled_head and engine.runs_submodules_alone else None
    head = CheckedHead(split, verify=labelled_head == "verify")
    out_ids, out_scores, out_conf, out_correct, out_feat = [], [], [], [], []
    dynamics_ok = True
    with eval_forward(model, engine) as device, capture_on_request(model, requested) as captured:
        def forward(batch_ids):
            batch = batch_to_device(collate_fn([dataset[int(i)] for i in batch_ids]), device)
            model_inputs, _ = split_diet_columns(batch, id_column)
            forward_inputs = {k: v for k, v in model_inputs.items() if k not in LABEL_COLUMNS}
            with scoring_precision(autocast, device):
                inputs = head.score_inputs(model, forward_inputs, batch, "features" in requested)
                if inputs is not None:
                    return inputs
                if "features" in requested:
                    forward_inputs["output_hidden_states"] = True
                return adapter.score_inputs(model(**forward_inputs), batch, captured)

        if want_features and getattr(feature_transform, "needs_fit", False):
            fit_feature_transform(feature_transform, ids, lengths, batch_size, forward, tokens_per_batch)
        forward_parts = HalvingForward(forward, lengths, may_split=not engine.shards_parameters,
                                       describe_engine=engine.describe())
        bar = tqdm(batches, desc="datadiet: scoring", unit="batch", disable=not progress or not engine.is_main_process,
                   leave=False)
        for whole_batch, keep in bar:
            for batch_ids, inputs in forward_parts(whole_batch):  # one part, or halves after running out of memory
                if not keep:
                    del inputs
                    continue  # a repeat that keeps this rank's forwards in step with the others' (sharded engines)
                score.check_inputs(inputs)
                out_ids.append(batch_ids)
                out_scores.append(score(inputs).float().cpu().numpy())
                if dynamics_ok:
                    try:
                        conf, correct = true_class_probability(inputs)
                        out_conf.append(conf.float().cpu().numpy())
                        out_correct.append(correct.cpu().numpy())
                    except ValueError:
                        dynamics_ok = False
                if want_features:
                    if inputs.features is None:
                        raise ValueError("diversity features were asked for but the model outputs have neither "
                                         "`pooled` nor `hidden_states`")
                    feats = inputs.features if feature_transform is None else feature_transform(inputs.features)
                    out_feat.append(feats.float().cpu().numpy())
                del inputs  # not held while the next part (a half after running out of memory) runs
    cat = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)  # noqa: E731
    local = {"ids": cat(out_ids, np.int64), "scores": cat(out_scores, np.float64)}
    if dynamics_ok:
        local["confidence"] = cat(out_conf, np.float64)
        local["correct"] = cat(out_correct, bool)
    if want_features:
        local["features"] = np.concatenate(out_feat).astype(np.float32) if out_feat else np.zeros((0, 0), np.float32)
    merged = all_gather_arrays(local)
    return PassResult(
        ids=merged["ids"], scores=merged["scores"], confidence=merged.get("confidence"),
        correct=merged.get("correct"), features=merged.get("features"), seconds=time.perf_counter() - start,
        labelled_head=head.verdict,
    )


FIT_ROWS = 64
"""Examples a scoring pass forwards to fit a feature projection's z-scoring moments (see
:class:`~datadiet.select.compress.LazyProjection`: 64 rows keep as much as all of them)."""


def fit_feature_transform(transform, ids: np.ndarray, lengths: np.ndarray | None, batch_size: int,
                          forward: Callable, tokens_per_batch: int | None = None) -> None:
    """Fit ``transform``'s moments on the features of up to :data:`FIT_ROWS` of ``ids``, spread
    over them and the same on every rank (each rank forwards them: no collective, so ranks that
    score different numbers of batches cannot wait on each other)."""
    ids = np.asarray(ids, dtype=np.int64)
    if not len(ids):
        return
    sample = ids[np.unique(np.linspace(0, len(ids) - 1, num=min(len(ids), FIT_ROWS)).round().astype(np.int64))]
    parts = [forward(chunk).features for chunk in length_buckets(sample, lengths, batch_size, tokens_per_batch)]
    if any(p is None for p in parts):
        return  # no features: the pass raises its own error
    transform.fit_sample(torch.cat([p.detach().float().cpu() for p in parts]))


def batch_to_device(batch: dict, device: torch.device) -> dict:
    """The batch with its tensors on ``device`` (other values unchanged)."""
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}


@contextmanager
def eval_forward(model: torch.nn.Module, engine: Engine | None = None) -> Iterator[torch.device]:
    """Forward-only passes of ``model``: eval mode (no dropout) without autograd (the ``engine``'s
    grad mode: ``torch.inference_mode``, or ``torch.no_grad`` where the engine gathers parameters;
    default: the engine of ``model``); the model's train/eval mode is restored after, also on an
    error. Yields the model's device (move batches there with :func:`batch_to_device`)."""
    engine = engine_of(model) if engine is None else engine
    was_training = model.training
    model.eval()
    try:
        with engine.grad_mode():
            yield model_device(model)
    finally:
        model.train(was_training)
