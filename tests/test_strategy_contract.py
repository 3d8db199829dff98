"""The contract every registered strategy must keep, checked the same way for all of them:
planned steps equal the steps run (1 and 2 ranks, with and without drop_last), identical selections
on 2 gloo ranks, exact resume (mid-epoch and at an epoch boundary), state round-trip."""

import os
import sys

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, os.path.dirname(__file__))
from contract_loop import BATCH, DIETS, EPOCHS, N, make_diet, run  # noqa: E402

from datadiet.strategies import available_strategies  # noqa: E402
from datadiet.schedule import epoch_optimizer_steps  # noqa: E402

NAMES = sorted(DIETS)


def test_every_registered_strategy_is_in_the_contract():
    covered = {DIETS[name]().strategy.method for name in DIETS}
    assert set(available_strategies()) <= covered


@pytest.mark.parametrize("name", NAMES)
def test_planned_steps_equal_the_steps_run_and_resume_is_exact(name):
    whole = run(name)
    diet = whole["diet"]
    kept = [r["kept"] for r in diet.log]
    assert len(kept) == diet.schedule.num_epochs and (len(kept) == EPOCHS or name == "dynamic_budget")
    assert [whole["steps"][e] for e in range(len(kept))] == [epoch_optimizer_steps(k, BATCH) for k in kept]
    if not diet.strategy.exact_plan:  # InfoBatch, token budgets: the plan is an upper bound
        assert whole["total"] <= diet.planned_steps(BATCH)
    else:
        assert whole["total"] == diet.planned_steps(BATCH)
    plan = diet.plan(N, EPOCHS)  # the plan bounds what ran (examples trained and scored), knowing the model
    for record, planned in zip(diet.log, plan.epochs):
        assert record["scored"] <= planned.scored and record["kept"] <= planned.trained
        if diet.strategy.exact_plan:
            assert record["kept"] == planned.trained
    params = [p.detach().clone() for p in whole["model"].parameters()]
    boundary = sum(whole["steps"][e] for e in range(2))
    for stop in (boundary, boundary + 2):  # at an epoch boundary, and mid-epoch
        first = run(name, stop_after=stop)
        resumed = run(name, resume=first["state"])
        again = resumed["diet"]
        np.testing.assert_array_equal(again.kept_matrix(), diet.kept_matrix())
        for key, value in diet.history.state_dict().items():
            np.testing.assert_array_equal(again.history.state_dict()[key], value, err_msg=key)
        for a, b in zip(resumed["model"].parameters(), params):
            assert torch.equal(a.detach(), b)


@pytest.mark.parametrize("name", NAMES)
def test_state_round_trip(name):
    diet = run(name, stop_after=7)["diet"]
    state = diet.state_dict()
    fresh = make_diet(name)
    fresh.load_state_dict(state)
    for key, value in fresh.state_dict().items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, state[key])
        elif key in ("history", "ledger"):
            for k, v in value.items():
                np.testing.assert_array_equal(v, state[key][k])
        elif key not in ("recorder", "run_log", "strategy_state"):
            assert value == state[key], key



def _rank(rank, world, port, out, drop_last):
    sys.path.insert(0, os.path.dirname(__file__))
    from contract_loop import run as run_rank
    from helpers import tiny_classifier

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    for name in NAMES:
        model = torch.nn.parallel.DistributedDataParallel(tiny_classifier(seed=0))
        result = run_rank(name, world=world, rank=rank, drop_last=drop_last, model=model)
        np.savez(os.path.join(out, f"{name}-{rank}.npz"), kept=result["diet"].kept_matrix(),
                 steps=[result["steps"].get(e, 0) for e in range(len(result["diet"].log))],
                 planned=[epoch_optimizer_steps(r["kept"], BATCH, world_size=world, drop_last=drop_last)
                          for r in result["diet"].log])
    dist.barrier()
    # Skip interpreter teardown: torch can deadlock freeing a DDP reducer's gloo group (its destructor
    # joins gloo's thread while holding the GIL that thread needs). An error above still reaches the
    # parent through torch's spawn, as an exception.
    os._exit(0)


@pytest.mark.slow
@pytest.mark.parametrize("drop_last", [False, True])
def test_two_gloo_ranks_select_identically_and_run_the_planned_steps(free_port, tmp_path, drop_last):
    mp.spawn(_rank, args=(2, free_port(), str(tmp_path), drop_last), nprocs=2, join=True)
    for name in NAMES:
        r0, r1 = (dict(np.load(tmp_path / f"{name}-{r}.npz")) for r in range(2))
        np.testing.assert_array_equal(r0["kept"], r1["kept"], err_msg=name)
        assert r0["steps"].tolist() == r0["planned"].tolist() == r1["steps"].tolist(), name
