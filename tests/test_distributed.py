"""Real torch.distributed: two processes with the gloo backend on CPU."""

import os

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
        # a feature projection fitted on each rank's own first training batch: the moments of both
        from datadiet.select.compress import LazyProjection
        projection = LazyProjection(2, seed=3)
        batch = torch.tensor(np.random.default_rng(10 + rank).normal(rank, 1 + rank, size=(5, 6)), dtype=torch.float32)
        projected = projection(batch)
        np.savez(os.path.join(out_dir, f"rank{rank}.npz"), shard0=shard0, shard1=shard1, sel=sel.indices,
                 ids=res.ids, scores=res.scores, hist=diet.history.latest, batch=batch.numpy(),
                 fit_mean=projection.mean, fit_std=projection.std, projected=projected.numpy())
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_ranks(free_port, tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(2, free_port(), str(out)), nprocs=2, join=True)
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


@pytest.mark.parametrize("method", ["default", "nlu"])
def test_trainer_under_torchrun_gloo_two_processes(free_port, tmp_path, method):
    """DataDietTrainer under real DDP (torchrun, 2 CPU processes): identical selections and histories
    on both ranks, every kept example trained on, and the steps of the plan."""
    import json
    import subprocess
    import sys

    script = os.path.join(os.path.dirname(__file__), "scripts", "ddp_trainer.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port",
                           str(free_port()), script, str(tmp_path), method], capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2))
    assert r0["world"] == 2
    assert r0["kept"] == r1["kept"] and r0["latest"] == r1["latest"]
    assert r0["log"] == r0["counts"] == [101, 30, 30]
    # accelerate shards whole batches of 8: ceil(ceil(kept / 8) / 2) steps per epoch on each rank
    assert r0["global_step"] == r1["global_step"] == r0["max_steps"] == 7 + 2 + 2
    # every example was observed on some rank during warm-up and the gathered history has them all
    assert min(r0["latest"]) >= 0
    if method == "nlu":
        assert r0["scored"] == [0, 101, 101]


def test_a_feature_projection_fits_one_map_over_every_ranks_first_batch(two_ranks):
    from datadiet.select.compress import FeatureProjection

    both = np.concatenate([r["batch"] for r in two_ranks])
    for r in two_ranks:
        np.testing.assert_allclose(r["fit_mean"], both.mean(0), rtol=1e-5)
        np.testing.assert_allclose(r["fit_std"], both.std(0), rtol=1e-5)
        proj = FeatureProjection.random(6, 2, seed=3, mean=both.mean(0), std=both.std(0))
        np.testing.assert_allclose(r["projected"], proj(r["batch"]), rtol=1e-4, atol=1e-5)
