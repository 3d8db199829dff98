"""Run datadiet where only torch and numpy (and what they need) are installed.

Run by tests/test_extras.py with ``python -S`` and a ``sys.path`` of the sources plus a folder that
links only torch's and numpy's distributions. Trains a tiny plain PyTorch classifier with
``DataDiet`` + its sampler for 3 epochs, then checks that each part which needs an extra raises a
message naming that extra. Prints ``OK <json>`` at the end.
"""

import importlib.util
import json
import sys

OPTIONAL = ("transformers", "datasets", "tqdm", "matplotlib", "seqeval", "accelerate", "rich", "yaml",
            "peft", "gguf", "trl")
if any(importlib.util.find_spec(m) is not None for m in OPTIONAL):
    raise SystemExit(f"not a torch-only environment: {[m for m in OPTIONAL if importlib.util.find_spec(m)]}")

import torch  # noqa: E402
from torch.utils.data import DataLoader, Dataset, default_collate  # noqa: E402

import datadiet  # noqa: E402
from datadiet import DataDiet  # noqa: E402


class Toy(Dataset):
    def __init__(self, n: int) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 8, generator=g)
        self.y = (self.x[:, 0] > 0).long()

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"features": self.x[i], "labels": self.y[i], "example_id": i}


class Classifier(torch.nn.Module):
    datadiet_task = "sequence_classification"

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(8, 2)

    def forward(self, features, labels=None):
        logits = self.linear(features)
        loss = None if labels is None else torch.nn.functional.cross_entropy(logits, labels)
        return {"logits": logits, "loss": loss}


def main() -> None:
    torch.manual_seed(0)
    data, model = Toy(64), Classifier()
    diet = DataDiet(keep=0.5, num_epochs=3)
    sampler = diet.sampler(len(data))
    loader = DataLoader(data, batch_size=8, sampler=sampler)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    trained = []
    for epoch in range(3):
        diet.begin_epoch(epoch, model=model, dataset=data, collate_fn=default_collate)
        seen = 0
        for batch in loader:
            ids = batch.pop("example_id")
            loss = diet.weighted_loss(ids, model(**batch), batch)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            seen += len(ids)
        trained.append(seen)
    diet.flush()

    messages = {}
    for module, call in (("datadiet.toolkit.data", lambda: __import__("datadiet.toolkit.data")),
                         ("datadiet.toolkit.tasks", lambda: __import__("datadiet.toolkit.tasks")),
                         ("DataDietTrainer", lambda: datadiet.DataDietTrainer),
                         ("report", lambda: diet.report("/tmp/never-written")),
                         ("slot_scores",
                          lambda: importlib.import_module("datadiet.toolkit.metrics").slot_scores([["O"]], [["O"]]))):
        try:
            call()
            messages[module] = None
        except ImportError as error:  # MissingExtraError is an ImportError
            messages[module] = f"{type(error).__name__}: {error}"
    print("OK " + json.dumps({"trained": trained, "kept": diet.kept_counts(), "messages": messages,
                              "loaded": sorted(m for m in OPTIONAL if m in sys.modules)}))


if __name__ == "__main__":
    main()
