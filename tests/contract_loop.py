"""A plain PyTorch training loop driven by a DataDiet, for the strategy contract tests: it can stop
after any optimizer step and resume from the saved state, and run as one rank of a gloo group."""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch.utils.data import DataLoader

from datadiet import DataDiet
from datadiet.recorder import as_id_array
from helpers import pad_collate, tiny_classifier, toy_classification_dataset

N, EPOCHS, BATCH = 40, 4, 8

DIETS = {
    "full": lambda: DataDiet.full(),
    "full_budget": lambda: DataDiet.full(time_budget=0.875),  # 3.5 of 4 epochs: the last a random half
    "random_budget": lambda: DataDiet.random(time_budget=0.6),
    "dynamic": lambda: DataDiet(keep=0.5),
    # the default's time budget spent on fewer epochs: 1.8 of 4 epochs would keep 0.25 over all 4,
    # under the floor 0.3, so 3 epochs, the last two at keep 0.38
    "dynamic_budget": lambda: DataDiet(time_budget=0.45),
    "nlu_data_diets": lambda: DataDiet.nlu_data_diets(keep=0.5),
    "class_balanced": lambda: DataDiet(keep=0.5, class_balanced=True),
    "forgetting": lambda: DataDiet(keep=0.5, score="forgetting"),
    "ccs": lambda: DataDiet(keep=0.4, selector="ccs"),
    "importance": lambda: DataDiet(keep=0.4, selector="importance", selector_options={"hard_share": 0.5}),
    "cold_random": lambda: DataDiet(keep=0.4, warmup_epochs=0, cold_start="random"),
    "cold_random_grand": lambda: DataDiet(keep=0.4, warmup_epochs=0, cold_start="random", score="grand"),
    "tokens": lambda: DataDiet(keep=0.5, budget_unit="tokens"),
    "grand": lambda: DataDiet(keep=0.5, score="grand"),
    "static": lambda: DataDiet.static(keep=0.5),
    "random": lambda: DataDiet.random(keep=0.5),
    "random_static": lambda: DataDiet.random(keep=0.5, dynamic=False),
    "infobatch": lambda: DataDiet.infobatch(prune_ratio=0.5),
    "p3": lambda: DataDiet.p3(budget=0.5, score="el2n", start=40.0, end=100.0),
    "p3_cold": lambda: DataDiet.p3(budget=0.5, score="el2n", start=40.0, end=100.0, cold_start="random"),
}
"""One diet per registered method (and per selector or score that changes the control flow)."""


def make_diet(name: str, **settings) -> DataDiet:
    diet = DIETS[name]()
    return DataDiet(diet.strategy, **{"seed": 3, "progress": False, **settings})


def run(name: str, *, stop_after: int | None = None, resume: dict | None = None, world: int = 1, rank: int = 0,
        drop_last: bool = False, model: torch.nn.Module | None = None) -> dict:
    """Train the ``EPOCHS`` epochs asked for (those planned; or stop after ``stop_after`` optimizer steps) and return the diet, the
    model, the steps per epoch and, when stopped, the state to resume from."""
    dataset = toy_classification_dataset(N, seed=0)
    model = model if model is not None else tiny_classifier(seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    diet = make_diet(name)
    sampler = diet.sampler(N, EPOCHS, num_replicas=world, rank=rank, drop_last=drop_last)
    loader = DataLoader(dataset, batch_size=BATCH, sampler=sampler, collate_fn=pad_collate, drop_last=drop_last)
    done, skip = 0, 0
    if resume is not None:
        diet.load_state_dict(resume["diet"])
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        done, skip = resume["step"], resume["step_in_epoch"]
    steps = {}
    start_epoch = max(diet.epoch, 0)
    for epoch in range(start_epoch, diet.schedule.num_epochs):  # EPOCHS, or the fewer a time budget planned
        diet.begin_epoch(epoch, model=model, dataset=dataset, collate_fn=pad_collate)
        model.train()
        for i, batch in enumerate(loader):
            if epoch == start_epoch and i < skip:
                continue
            ids = batch.pop("example_id")
            loss = diet.weighted_loss(ids, model(**batch), batch)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            done += 1
            steps[epoch] = steps.get(epoch, 0) + 1
            if stop_after is not None and done == stop_after:
                diet.flush()
                return {"diet": diet, "state": {"diet": copy.deepcopy(diet.state_dict()),
                                                "model": copy.deepcopy(model.state_dict()),
                                                "optimizer": copy.deepcopy(optimizer.state_dict()),
                                                "step": done, "step_in_epoch": i + 1}}
    diet.flush()
    return {"diet": diet, "model": model, "steps": steps, "total": done}


def ids_of(batch) -> np.ndarray:
    return as_id_array(batch["example_id"])
