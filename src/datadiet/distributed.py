"""Thin helpers over ``torch.distributed``: a single process behaves as a world of one."""

from __future__ import annotations

import numpy as np
import torch.distributed as dist


def world() -> tuple[int, int]:
    """``(rank, world_size)`` of the default process group, ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def all_gather_arrays(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Concatenate each named array across ranks, in rank order (identity for one process).

    Every rank gets the identical result, so every rank computes the identical selection.
    """
    _, size = world()
    if size == 1:
        return arrays
    gathered: list = [None] * size
    dist.all_gather_object(gathered, arrays)
    # a rank with nothing to contribute may not know the trailing shape (e.g. (0, 0) features)
    return {k: np.concatenate([g[k] for g in gathered if len(g[k])] or [gathered[0][k]]) for k in arrays}


def broadcast_object(obj):
    """Rank 0's ``obj`` on every rank (identity for one process)."""
    _, size = world()
    if size == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def any_across_ranks(mask: np.ndarray) -> np.ndarray:
    """The element-wise OR of a boolean ``mask`` over every rank (identity for one process)."""
    _, size = world()
    if size == 1:
        return mask
    import torch

    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    tensor = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.uint8)).to(device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return tensor.cpu().numpy().astype(bool)
