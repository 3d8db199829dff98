"""The one optimizer-steps formula against the real samplers it must predict (brute force)."""

import itertools
import math

import pytest
from accelerate.data_loader import BatchSamplerShard
from torch.utils.data import BatchSampler, DistributedSampler, SequentialSampler

from datadiet.schedule import epoch_optimizer_steps

CASES = list(itertools.product([1, 7, 16, 47, 48, 101], [1, 4, 16], [1, 2, 3], [False, True], [1, 3]))


@pytest.mark.parametrize("n,batch,world,drop_last,accum", CASES)
def test_examples_sharding_matches_distributed_sampler(n, batch, world, drop_last, accum):
    data = list(range(n))
    for rank in range(world):
        sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=False, drop_last=drop_last)
        batches = len(list(BatchSampler(sampler, batch, drop_last=drop_last)))
        assert epoch_optimizer_steps(n, batch, world_size=world, grad_accum=accum, drop_last=drop_last) \
            == math.ceil(batches / accum)


@pytest.mark.parametrize("n,batch,world,drop_last,accum", CASES)
def test_batches_sharding_matches_accelerate(n, batch, world, drop_last, accum):
    for rank in range(world):
        inner = BatchSampler(SequentialSampler(range(n)), batch, drop_last=drop_last)
        shard = BatchSamplerShard(inner, num_processes=world, process_index=rank, split_batches=False,
                                  even_batches=True)
        batches = len(list(shard))
        assert epoch_optimizer_steps(n, batch, world_size=world, grad_accum=accum, drop_last=drop_last,
                                     sharding="batches") == math.ceil(batches / accum)


def test_issue_case_and_bad_arguments():
    # N=48, batch 16, world 2, drop_last: accelerate deals 3 batches to 2 ranks -> 1 each
    assert epoch_optimizer_steps(48, 16, world_size=2, drop_last=True, sharding="batches") == 1
    with pytest.raises(ValueError, match="sharding must be one of"):
        epoch_optimizer_steps(10, 2, sharding="rows")
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        epoch_optimizer_steps(10, 0)
