"""Example ids must be the row positions: checked at DataDietTrainer construction (and by
``check_example_ids`` for plain loops), with the fix in the message."""

from __future__ import annotations

import numpy as np
import pytest
from transformers import TrainingArguments

from datadiet import DataDiet, DataDietTrainer, with_example_ids
from datadiet.utils import check_example_ids, example_ids_of
from helpers import pad_collate, tiny_classifier, toy_classification_dataset

FIX = r'ds = ds.remove_columns\("example_id"\); ds = datadiet.with_example_ids\(ds\)'


def make(tmp_path, ds):
    args = TrainingArguments(str(tmp_path), num_train_epochs=2, per_device_train_batch_size=16, report_to=[],
                             use_cpu=True, save_strategy="no", disable_tqdm=True)
    return DataDietTrainer(diet=DataDiet(keep=0.5), model=tiny_classifier(), args=args, train_dataset=ds,
                           data_collator=pad_collate)


@pytest.mark.parametrize("edit,message", [
    (lambda ds: ds.shuffle(seed=0), r"not the row position for \d+ of 96 rows \(row 0 has id \d+\): the dataset was "
                                    r"shuffled, filtered or selected"),
    (lambda ds: ds.filter(lambda r: r["example_id"] % 3 != 0), r"outside 0\.\.63"),
    (lambda ds: ds.select(range(48, 96)), r"48 example_id values are outside 0\.\.47 \(e\.g\. \[48, 49, 50\] at rows "
                                          r"\[0, 1, 2\]\)"),
    (lambda ds: ds.remove_columns("example_id").add_column("example_id", [i // 2 for i in range(96)]),
     r"appear more than once"),
])
def test_trainer_refuses_ids_that_are_not_row_positions(tmp_path, edit, message):
    ds = edit(toy_classification_dataset(96))
    with pytest.raises(ValueError, match=message + ".*" + FIX):
        make(tmp_path, ds)
    fixed = with_example_ids(ds.remove_columns("example_id"))
    assert make(tmp_path, fixed).diet.num_examples == len(ds)  # the suggested fix works


def test_check_example_ids_accepts_only_the_positions():
    check_example_ids(np.arange(5), 5)
    check_example_ids([], 0)
    with pytest.raises(ValueError, match=r"4 values for 5 rows"):
        check_example_ids([0, 1, 2, 3], 5)
    with pytest.raises(ValueError, match=r"1 example_id values are outside 0\.\.2 \(e\.g\. \[-1\]"):
        check_example_ids([0, -1, 2], 3)
    with pytest.raises(ValueError, match=r"must hold integers"):
        check_example_ids([0.0, 1.0], 2)
    with pytest.raises(ValueError, match=r"row 1 has id 2"):
        check_example_ids([0, 2, 1], 3)


def test_example_ids_of_reads_through_index_mappings_and_plain_datasets():
    ds = toy_classification_dataset(20)
    np.testing.assert_array_equal(example_ids_of(ds.select([3, 1])), [3, 1])
    rows = [{"x": i, "example_id": i} for i in range(4)]
    np.testing.assert_array_equal(example_ids_of(rows), np.arange(4))
    assert example_ids_of([{"x": 1}]) is None and example_ids_of(ds.remove_columns("example_id")) is None
