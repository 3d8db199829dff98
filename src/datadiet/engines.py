"""The engine room: what differs, for a diet, between one process, DDP, DeepSpeed ZeRO and FSDP.

A scoring pass, the Trainer integration and a plain loop ask one :class:`Engine` (chosen once, by
:func:`engine_of`, from the model object training runs) and never test for an engine themselves:

- **which model object a pass runs**: DDP's and DeepSpeed's wrappers are unwrapped (their
  forward adds collectives a forward-only pass must not join); an FSDP1 root is kept (its
  ``FlatParameter`` s are only whole inside its own forward: the inner module's weights are flat
  1-D shards);
- **how many forwards each rank owes**: under ZeRO-3 and FSDP every forward all-gathers the
  parameters, a collective, so every rank runs the same number of forwards
  (:meth:`Engine.rank_batches` pads a rank's share with repeated batches whose results are dropped);
- **the grad mode**: ``torch.inference_mode`` where parameters stay put, ``torch.no_grad`` where the
  engine gathers them (a parameter gathered under inference mode cannot be saved for backward
  at the next training step);
- **whether a pass may run a submodule alone** (the causal-LM labelled-positions head runs the
  backbone and the LM head apart): not where parameters are sharded, since the root's own
  parameters are gathered only by the root's forward;
- **the data-parallel world** and **who writes files** (the main process).

The references for what each engine guarantees are accelerate's docs and DeepSpeed's and torch's
own FSDP tests: a sharded module's forward is a collective over its group.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch

from datadiet.distributed import world

SINGLE, DDP, DEEPSPEED, FSDP1, FSDP2 = "single", "ddp", "deepspeed", "fsdp1", "fsdp2"


@dataclass(frozen=True)
class Engine:
    """How a diet runs forwards and collectives under the engine that trains the model.

    ``name``: one of ``single``, ``ddp``, ``deepspeed``, ``fsdp1``, ``fsdp2``; ``zero_stage``: the
    DeepSpeed ZeRO stage (None for other engines); ``rank`` / ``world_size``: the data-parallel
    world (ranks that train different examples); ``shards_parameters``: a forward gathers
    parameters from every rank (ZeRO-3, FSDP), so it is a collective.
    """

    name: str = SINGLE
    rank: int = 0
    world_size: int = 1
    shards_parameters: bool = False
    zero_stage: int | None = None

    @property
    def is_main_process(self) -> bool:
        """Whether this rank writes the files of the run (reports, the diet's state)."""
        return self.rank == 0

    @property
    def runs_submodules_alone(self) -> bool:
        """Whether a pass may call a submodule on its own (the backbone, then the LM head at the
        labelled positions) and get the same parameters the whole model's forward would use."""
        return not self.shards_parameters

    def pass_model(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model object a forward-only pass calls: DDP's and DeepSpeed's wrapper removed (no
        gradient-sync collectives), an FSDP root kept (its forward gathers the parameters)."""
        if isinstance(model, torch.nn.parallel.DistributedDataParallel) or _is_deepspeed_engine(model):
            return model.module
        return model

    def grad_mode(self) -> contextlib.AbstractContextManager:
        """``torch.inference_mode()``, or ``torch.no_grad()`` where forwards gather parameters."""
        return torch.no_grad() if self.shards_parameters else torch.inference_mode()

    def rank_batches(self, batches: list[np.ndarray]) -> list[tuple[np.ndarray, bool]]:
        """This rank's share of a pass's ``batches`` (identical on every rank): every
        ``world_size``-th batch, as ``(ids, keep)`` pairs. Where forwards are collectives, a rank
        with fewer batches than the others runs repeats of a batch with ``keep=False`` (run it,
        drop its results), so every rank runs ``ceil(len(batches) / world_size)`` forwards."""
        mine = [(b, True) for b in batches[self.rank :: self.world_size]]
        if self.shards_parameters and batches:
            owed = -(-len(batches) // self.world_size)
            filler = (mine[-1][0] if mine else batches[0], False)
            mine += [filler] * (owed - len(mine))
        return mine

    def describe(self) -> str:
        """One line for messages: ``"deepspeed ZeRO-3 over 2 ranks"``."""
        name = f"deepspeed ZeRO-{self.zero_stage}" if self.name == DEEPSPEED else self.name
        return f"{name} over {self.world_size} rank{'s' if self.world_size != 1 else ''}"


def engine_of(model: torch.nn.Module | None) -> Engine:
    """The :class:`Engine` that trains ``model`` (the outermost object training calls: a DDP,
    DeepSpeed or FSDP wrapper, a model with FSDP2-sharded modules, or a plain module), in the
    default process group's world (one process without one)."""
    rank, size = world()
    if model is None:
        return Engine(DDP if size > 1 else SINGLE, rank, size)
    if _is_deepspeed_engine(model):
        stage = int(model.zero_optimization_stage())
        return Engine(DEEPSPEED, rank, size, shards_parameters=stage == 3, zero_stage=stage)
    modules = list(model.modules())
    fsdp1 = _fsdp1_class()
    if fsdp1 is not None and any(isinstance(m, fsdp1) for m in modules):
        return Engine(FSDP1, rank, size, shards_parameters=True)
    fsdp2 = _fsdp2_class()
    if fsdp2 is not None and any(isinstance(m, fsdp2) for m in modules):
        return Engine(FSDP2, rank, size, shards_parameters=True)
    if any(hasattr(p, "ds_id") for p in model.parameters()):  # ZeRO-3 parameters without their engine
        return Engine(DEEPSPEED, rank, size, shards_parameters=True, zero_stage=3)
    if isinstance(model, torch.nn.parallel.DistributedDataParallel) or size > 1:
        return Engine(DDP, rank, size)
    return Engine(SINGLE, rank, size)


def _is_deepspeed_engine(model) -> bool:
    return any(c.__name__ == "DeepSpeedEngine" and c.__module__.startswith("deepspeed") for c in type(model).__mro__)


def _fsdp1_class():
    try:
        from torch.distributed.fsdp import FullyShardedDataParallel
    except ImportError:  # a torch built without distributed
        return None
    return FullyShardedDataParallel


def _fsdp2_class():
    try:
        from torch.distributed.fsdp import FSDPModule
    except ImportError:
        return None
    return FSDPModule
