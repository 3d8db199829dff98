"""Run by tests/test_engines_distributed.py under torchrun: torch's FSDP1 or FSDP2 on 2 CPU processes
(gloo), a scoring pass with uneven batch counts per rank and a plain training loop with a diet.

    python -m torch.distributed.run --nproc_per_node=2 fsdp_loop.py OUT fsdp1|fsdp2

accelerate refuses FSDP without an accelerator (its FSDP plugin asks for a CUDA/XPU/... device),
so this runs the wrapper accelerate builds on a GPU, torch's own, directly: every parameter
sharded over the two ranks, each forward a collective.
"""

import json
import os
import sys

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from helpers import pad_collate, tiny_classifier, toy_classification_dataset  # noqa: E402

from datadiet import DataDiet  # noqa: E402
from datadiet.adapters import TaskAdapter  # noqa: E402
from datadiet.engines import engine_of  # noqa: E402
from datadiet.scores import get_score  # noqa: E402
from datadiet.scoring_pass import score_examples  # noqa: E402

torch.set_num_threads(1)
out, which = sys.argv[1], sys.argv[2]
N = 53
dist.init_process_group("gloo")
rank = dist.get_rank()


def sharded(model):
    layers = model.bert.encoder.layer
    if which == "fsdp1":
        from torch.distributed.fsdp import FullyShardedDataParallel
        from torch.distributed.fsdp.wrap import ModuleWrapPolicy

        return FullyShardedDataParallel(model, auto_wrap_policy=ModuleWrapPolicy({type(layers[0])}),
                                        device_id=torch.device("cpu"))
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh("cpu", (dist.get_world_size(),))
    for layer in layers:
        fully_shard(layer, mesh=mesh)
    return fully_shard(model, mesh=mesh)


ds = toy_classification_dataset(N)
model = sharded(tiny_classifier())
engine = engine_of(model)
result = {"engine": engine.name, "shards": engine.shards_parameters}
adapter = TaskAdapter("sequence_classification")
# 53 examples in batches of 8: 7 batches, 4 on rank 0 and 3 on rank 1 (rank 1 repeats one)
for name in ("el2n", "grand"):
    res = score_examples(model, ds, np.arange(N), pad_collate, adapter, get_score(name), batch_size=8, progress=False)
    result[name] = dict(zip(map(int, res.ids), map(float, res.scores)))

diets = {"nlu": DataDiet.nlu_data_diets(keep=0.4, num_epochs=3, task="sequence_classification", progress=False,
                                        scoring_batch_size=8),
         "default": DataDiet(keep=0.4, num_epochs=3, task="sequence_classification", progress=False,
                             scoring_batch_size=4),
         "infobatch": DataDiet.infobatch(prune_ratio=0.5, num_epochs=3, task="sequence_classification", progress=False)}
for method, diet in diets.items():
    model = sharded(tiny_classifier())
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    loader = DataLoader(ds, batch_size=8, sampler=diet.sampler(N), collate_fn=pad_collate)
    for epoch in range(3):
        diet.begin_epoch(epoch, model=model, dataset=ds, collate_fn=pad_collate)
        for batch in loader:
            outputs = model(**{k: v for k, v in batch.items() if k != "example_id"})
            loss = diet.weighted_loss(batch["example_id"], outputs, batch)
            loss.backward()
            opt.step()
            opt.zero_grad()
        diet.end_epoch()  # a collective: every rank's trained examples against the plan
    result[method] = {"kept": diet.kept_matrix().astype(int).tolist(), "log": [r["kept"] for r in diet.log],
                      "scored": [r["scored"] for r in diet.log],
                      "latest": np.nan_to_num(diet.history.latest, nan=-1).tolist()}
with open(os.path.join(out, f"{which}.rank{rank}.json"), "w") as f:
    json.dump(result, f)
dist.barrier()
sys.stdout.flush()
os._exit(0)
