"""P3 in a plain PyTorch loop: fine-tune SmolLM2-135M on a few GSM8K problems, pruning each epoch.

Each epoch: score every example with the current model (policy-driven difficulty + pooled hidden
states), keep the easy-enough ones (self-paced percentile, widening from 50 to 95), pick a diverse,
hard-leaning half of them with the DPP, and train one epoch on that half.

    python examples/gsm8k_p3.py            # 32 examples, 2 epochs: a few minutes on 2 CPU cores
"""

import numpy as np
import torch

from datadiet.llm import CausalLMCollator, model_inputs, score_policy
from datadiet.select.self_paced import select_p3
from datadiet.toolkit.llm import load_smollm2, read_gsm8k, tokenize_gsm8k

EPOCHS, KEEP, BATCH = 2, 0.5, 8

torch.manual_seed(0)
rng = np.random.default_rng(0)
model, tokenizer = load_smollm2()  # dequantized once from the GGUF file, then cached
train = tokenize_gsm8k(tokenizer, read_gsm8k("train", limit=32), max_length=256)
collate = CausalLMCollator(tokenizer)
optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
budget = int(KEEP * len(train))

for epoch in range(EPOCHS):
    scores = score_policy(model, train, collate)  # eval mode, inference only, length-bucketed
    selection = select_p3(scores.difficulty, scores.features, epoch, EPOCHS, budget, rng=rng)
    print(f"epoch {epoch}: mean difficulty {np.mean(scores.difficulty):.3f}, "
          f"training on {len(selection)} of {len(train)} (scored in {scores.seconds:.0f} s)")
    model.train()
    order = rng.permutation(selection.indices)
    for start in range(0, len(order), BATCH):
        batch = collate([train[i] for i in order[start : start + BATCH]])
        loss = model(**model_inputs(batch)).loss  # action_ids / example_id stay out of forward
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        print(f"  loss {loss.item():.4f}")
