"""Entry points and messages a new user meets: ``from datadiet import DataDietSFTTrainer`` (lazily,
naming the extra when TRL is missing), the sampler before ``begin_epoch``, the task of a model
subclass, external ids in a TRL dataset, the docs' state file name and the demo's epoch line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from datasets import Dataset
from transformers import BertForSequenceClassification

from datadiet import DataDiet
from datadiet.adapters import SEQUENCE, infer_task
from helpers import tiny_bert_config

ROOT = Path(__file__).resolve().parents[1]


# -- item 8: DataDietSFTTrainer from the package -------------------------------------------------
def test_the_sft_trainer_is_exported_lazily_from_the_package():
    import datadiet
    from datadiet.integrations.trl import DataDietSFTTrainer as from_module

    assert datadiet.DataDietSFTTrainer is from_module and "DataDietSFTTrainer" in datadiet.__all__
    done = subprocess.run([sys.executable, "-c", "import sys, datadiet; print(sorted({'trl', 'transformers'} & "
                           "set(sys.modules)))"], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr  # `import datadiet` loads neither


def test_the_sft_trainer_names_the_trl_extra_when_trl_is_missing(monkeypatch):
    import datadiet
    from datadiet._extras import MissingExtraError

    monkeypatch.setitem(sys.modules, "trl", None)  # what an environment without TRL gives to `import trl`
    monkeypatch.delitem(sys.modules, "datadiet.integrations.trl", raising=False)
    with pytest.raises(MissingExtraError, match=r'DataDietSFTTrainer needs `trl`.*pip install "datadiet\[trl\]"'):
        datadiet.DataDietSFTTrainer  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'DataDietSFTTrainr'"):
        datadiet.DataDietSFTTrainr  # noqa: B018


# -- item 9a: the sampler before begin_epoch ---------------------------------------------------
def test_iterating_the_sampler_before_begin_epoch_says_to_call_it():
    diet = DataDiet(keep=0.5, num_epochs=2)
    sampler = diet.sampler(10)
    with pytest.raises(RuntimeError, match=r"call diet.begin_epoch\(epoch, "):
        list(sampler)
    diet.begin_epoch(0)
    assert sorted(sampler) == list(range(10))


# -- item 9b: the task of a subclass -----------------------------------------------------------
def test_the_task_of_a_user_subclass_comes_from_its_base_class():
    class MyModel(BertForSequenceClassification):
        pass

    model = MyModel(tiny_bert_config())
    model.config.architectures = None
    assert infer_task(model) == SEQUENCE
    diet = DataDiet(keep=0.5, num_epochs=2).setup(8, model=model)
    assert diet.adapter.task == SEQUENCE


def test_a_model_of_no_known_task_says_what_was_looked_at():
    import torch

    with pytest.raises(ValueError, match=r"cannot tell the task of a Linear: neither it nor a base class is named"):
        infer_task(torch.nn.Linear(2, 2))


# -- item 9c: external ids in a TRL dataset ----------------------------------------------------
def test_external_example_ids_in_a_trl_dataset_are_named_as_such():
    from datadiet.integrations.trl import number_examples

    external = Dataset.from_dict({"text": ["a", "b", "c"], "example_id": [1001, 1002, 1003]})
    with pytest.raises(ValueError, match=r"row 0 holds 1001, where datadiet needs 0 \(positions 0..2\)\. "
                                         r"DataDietSFTTrainer numbers the rows itself: remove the column") as info:
        number_examples(external)
    assert "truncation" not in str(info.value)
    shuffled = Dataset.from_dict({"text": ["a", "b", "c"], "example_id": [2, 0, 1]})
    with pytest.raises(ValueError, match="the rows were shuffled after they were numbered"):
        number_examples(shuffled)
    assert number_examples(Dataset.from_dict({"text": ["a", "b"]}))["example_id"] == [0, 1]


# -- item 9d: the state file the docs name -----------------------------------------------------
def test_the_trl_docs_name_the_state_file_checkpoints_hold():
    from datadiet.checkpoint import DIET_STATE_FILE

    text = (ROOT / "docs" / "trl.md").read_text()
    assert f"`{DIET_STATE_FILE}`" in text and "datadiet_state.pt" not in text


# -- item 9e: the demo's epoch line ------------------------------------------------------------
def test_the_demo_epoch_line_counts_the_epoch_it_follows():
    from datadiet.cli.demo import epoch_line

    diet = DataDiet(keep=0.5, num_epochs=3, seed=0, task="sequence_classification").setup(40)
    diet.begin_epoch(0)  # the warm-up: all 40
    diet.history.update(list(range(40)), [float(i) for i in range(40)], epoch=0)
    diet.begin_epoch(1)  # begun at the end of epoch 0, before its evaluation is printed
    point = {"epoch": 1, "seconds": 12.0, "metrics": {"accuracy": 0.5}}
    assert epoch_line(point, diet.log, 3, "accuracy") == "  epoch  1/3: trained on     40 examples, accuracy  50.0%, at    12 s"
    assert "trained on     20 examples" in epoch_line({**point, "epoch": 2}, diet.log, 3, "accuracy")
