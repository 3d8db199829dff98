"""Run by tests/test_engines_distributed.py under torchrun: P3 on a tiny Llama sharded by torch's
FSDP1 or FSDP2 over 2 CPU processes (gloo), through the plain loop with free difficulty and features.

    python -m torch.distributed.run --nproc_per_node=2 fsdp_p3.py OUT fsdp1|fsdp2
"""

import json
import os
import sys

import numpy as np
import torch
import torch.distributed as dist
from datasets import Dataset
from torch.utils.data import DataLoader

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lm_helpers import chat_tokenizer, prompt_completion_rows, tiny_llama  # noqa: E402

from datadiet import DataDiet  # noqa: E402
from datadiet.llm.tokenization import CausalLMCollator, model_inputs, tokenize_pairs  # noqa: E402

torch.set_num_threads(1)
out, which = sys.argv[1], sys.argv[2]
dist.init_process_group("gloo")
tok = chat_tokenizer()
rows = prompt_completion_rows(40)
ds = Dataset.from_list(tokenize_pairs(tok, [r["prompt"] for r in rows], [r["completion"] for r in rows]))
collate = CausalLMCollator(tok)
model = tiny_llama(tok)
if which == "fsdp1":
    from torch.distributed.fsdp import FullyShardedDataParallel
    from torch.distributed.fsdp.wrap import ModuleWrapPolicy

    model = FullyShardedDataParallel(model, auto_wrap_policy=ModuleWrapPolicy({type(model.model.layers[0])}),
                                     device_id=torch.device("cpu"))
else:
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh("cpu", (dist.get_world_size(),))
    for layer in model.model.layers:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
diet = DataDiet.p3(budget=12, num_epochs=3, progress=False, scoring_batch_size=8)
opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
loader = DataLoader(ds, batch_size=4, sampler=diet.sampler(len(ds)), collate_fn=collate)
for epoch in range(3):
    diet.begin_epoch(epoch, model=model, dataset=ds, collate_fn=collate)
    for batch in loader:
        inputs = model_inputs(batch)
        with diet.capture_features(model, inputs) as captured:
            outputs = model(**inputs)
        loss = diet.training_loss(batch["example_id"], outputs, batch, features=captured.get("features"))
        loss.backward()
        opt.step()
        opt.zero_grad()
    diet.end_epoch()
result = {"log": [r["kept"] for r in diet.log], "scored": [r["scored"] for r in diet.log],
          "kept": diet.kept_matrix().astype(int).tolist(), "latest": np.nan_to_num(diet.history.latest, nan=-1).tolist(),
          "features": None if diet.features is None else np.round(diet.features, 5).tolist()}
with open(os.path.join(out, f"p3_{which}.rank{dist.get_rank()}.json"), "w") as f:
    json.dump(result, f)
dist.barrier()
sys.stdout.flush()
os._exit(0)
