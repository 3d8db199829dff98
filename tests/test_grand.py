"""GraNd at the last layer against autograd, and through the diet's scoring passes."""

import numpy as np
import torch

from datadiet import DataDiet
from datadiet.adapters import TaskAdapter
from datadiet.scores import get_score
from datadiet.scoring_pass import score_examples
from helpers import pad_collate, toy_classification_dataset


def test_grand_equals_the_autograd_norm_of_the_heads_gradient(tiny_classifier):
    model = tiny_classifier(seed=3).eval()
    ds = toy_classification_dataset(12, seed=2)
    result = score_examples(model, ds, np.arange(12), pad_collate, TaskAdapter("sequence_classification"),
                            get_score("grand"), batch_size=5, progress=False)
    head = model.classifier
    for i, score in zip(result.ids, result.scores):
        batch = pad_collate([ds[int(i)]])
        batch.pop("example_id")
        model.zero_grad()
        model(**batch).loss.backward()
        brute = torch.sqrt(head.weight.grad.square().sum() + head.bias.grad.square().sum()).item()
        assert abs(score - brute) < 1e-5 * max(1.0, brute)


def test_grand_runs_in_scoring_passes_because_training_cannot_give_it(tiny_classifier):
    model = tiny_classifier(seed=0)
    ds = toy_classification_dataset(20, seed=0)
    diet = DataDiet(keep=0.5, score="grand", num_epochs=3, progress=False).setup(20, model=model)
    assert not diet.training_records_scores()
    diet.begin_epoch(0, model=model, dataset=ds, collate_fn=pad_collate)
    batch = pad_collate([ds[i] for i in range(20)])
    ids = batch.pop("example_id")
    diet.weighted_loss(ids, model(**batch), batch)  # records nothing: no head input in a training forward
    sel = diet.begin_epoch(1, model=model, dataset=ds, collate_fn=pad_collate)
    assert diet.log[-1]["scored"] == 20 and len(sel) == 10  # routed to a full pass, then selected
    assert (diet.history.count == 1).all()
