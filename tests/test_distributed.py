"""Real torch.distributed: two processes with the gloo backend on CPU."""

import os
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from datadiet import DataDiet
from datadiet.adapters import TaskAdapter
from datadiet.scores import ScoreInputs, get_score
from datadiet.scoring_pass import score_examples

N = 53


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, out_dir):
    import sys
    sys.path.insert(0, os.path.dirname(__file__))
    from helpers import pad_collate, tiny_classifier, toy_classification_dataset

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        diet = DataDiet(keep=0.4, num_epochs=3, score="loss", epsilon=0.25, rescore="none",
                        task="sequence_classification", seed=7)
        sampler = diet.sampler(N)  # world and rank from the process group
        diet.begin_epoch(0)
        shard0 = list(sampler)
        # each rank observes different examples (its own shard) with rank-dependent scores
        rng = np.random.default_rng(rank)
        logits = torch.tensor(rng.normal(size=(len(shard0), 2)), dtype=torch.float32)
        diet.observe(torch.tensor(shard0), ScoreInputs(logits=logits, labels=torch.zeros(len(shard0), dtype=torch.long)))
        sel = diet.begin_epoch(1)
        shard1 = list(sampler)
        # scoring pass sharded across ranks, gathered
        ds, model = toy_classification_dataset(N), tiny_classifier()
        res = score_examples(model, ds, np.arange(N), pad_collate, TaskAdapter("sequence_classification"),
                             get_score("el2n"), batch_size=8, progress=False)
        np.savez(os.path.join(out_dir, f"rank{rank}.npz"), shard0=shard0, shard1=shard1, sel=sel.indices,
                 ids=res.ids, scores=res.scores, hist=diet.history.latest)
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(2, _free_port(), str(out)), nprocs=2, join=True)
    return [dict(np.load(out / f"rank{r}.npz")) for r in range(2)]


def test_every_rank_computes_the_identical_selection(two_ranks):
    r0, r1 = two_ranks
    np.testing.assert_array_equal(r0["sel"], r1["sel"])
    np.testing.assert_array_equal(r0["hist"], r1["hist"])  # scores were all-gathered
    assert len(r0["sel"]) == round(0.4 * N) and not np.isnan(r0["hist"]).any()


def test_shards_are_disjoint_and_complete_like_distributed_sampler(two_ranks):
    r0, r1 = two_ranks
    # epoch 0: all 53 examples, padded to 54: every example appears, one twice, 27 per rank
    assert len(r0["shard0"]) == len(r1["shard0"]) == 27
    assert sorted(set(r0["shard0"]) | set(r1["shard0"])) == list(range(N))
    # epoch 1: 21 kept, padded to 22: 11 per rank, the union is exactly the selection
    assert len(r0["shard1"]) == len(r1["shard1"]) == 11
    assert sorted(set(r0["shard1"]) | set(r1["shard1"])) == r0["sel"].tolist()
    assert len(set(r0["shard1"]) & set(r1["shard1"])) == 1  # only the padding repeat
    assert list(r0["shard0"]) != list(r0["shard1"])[: len(r0["shard0"])]


def test_sharded_scoring_pass_equals_single_process(two_ranks):
    import sys
    sys.path.insert(0, os.path.dirname(__file__))
    from helpers import pad_collate, tiny_classifier, toy_classification_dataset

    r0, r1 = two_ranks
    np.testing.assert_array_equal(r0["ids"], r1["ids"])
    res = score_examples(tiny_classifier(), toy_classification_dataset(N), np.arange(N), pad_collate,
                         TaskAdapter("sequence_classification"), get_score("el2n"), batch_size=8, progress=False)
    single = dict(zip(res.ids.tolist(), res.scores.tolist()))
    assert sorted(r0["ids"].tolist()) == list(range(N))
    for i, s in zip(r0["ids"].tolist(), r0["scores"].tolist()):
        assert s == pytest.approx(single[i], abs=1e-5)
