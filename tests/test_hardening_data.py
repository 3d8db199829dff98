"""The user's own data: ``datadiet train`` on local csv/jsonl files through the readers of the
Python API (config keys for the columns), and label readers that refuse rows without a label
(naming the rows) unless asked to drop them."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from datadiet.cli.main import main
from datadiet.cli.train import load_run_config
from datadiet.toolkit.data import load_dataset_by_name, load_local_files, to_classification

WORDS = {"alarm_set": ["wake", "alarm", "morning", "seven"], "weather": ["rain", "sunny", "forecast", "cold"]}


def utterances(n: int, seed: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        intent = str(rng.choice(sorted(WORDS)))
        rows.append((" ".join(rng.choice(WORDS[intent], size=4)), intent))
    return rows


def write_jsonl(path, rows, text="utterance", label="intent"):
    path.write_text("".join(json.dumps({text: t, label: y}) + "\n" for t, y in rows))
    return path


def write_csv(path, rows):
    path.write_text("utterance,intent\n" + "".join(f"{t},{y}\n" for t, y in rows))
    return path


def config(tmp_path, text: str):
    path = tmp_path / "run.yaml"
    path.write_text(f"output_dir: {tmp_path / 'out'}\n{text}")
    return path


# -- the command line on local files -------------------------------------------------------------
def test_train_command_trains_on_a_local_jsonl_file_with_its_own_columns(tmp_path, capsys):
    data = tmp_path / "intents"
    data.mkdir()
    write_jsonl(data / "train.jsonl", utterances(40, seed=0))
    write_jsonl(data / "test.jsonl", utterances(12, seed=1))
    cfg = config(tmp_path, f"dataset: {data / 'train.jsonl'}\ntext_column: utterance\nlabel_column: intent\n"
                           "epochs: 2\nlayers: 1\nbatch_size: 8\nmax_length: 16\nkeep: 0.5\n")
    assert main(["plan", str(cfg)]) == 0
    assert "40 examples x 2 epochs" in capsys.readouterr().out
    assert main(["train", str(cfg)]) == 0
    record = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert record["num_train"] == 40 and record["num_eval"] == 12  # evaluated on test.jsonl, not the train file
    assert record["kept_per_epoch"] == [40, 20] and record["examples_trained"] == 60
    assert 0.0 <= record["metrics"]["accuracy"] <= 1.0
    assert (tmp_path / "out" / "model" / "config.json").is_file()
    model_config = json.loads((tmp_path / "out" / "model" / "config.json").read_text())
    assert sorted(model_config["id2label"].values()) == ["alarm_set", "weather"]


def test_a_local_file_run_reads_the_same_data_as_the_python_api(tmp_path):
    from datadiet.toolkit.data import load_train_and_eval

    write_csv(tmp_path / "train.csv", utterances(30, seed=2))
    write_csv(tmp_path / "dev.csv", utterances(9, seed=3))
    cfg, _ = load_run_config(config(tmp_path, f"dataset: {tmp_path / 'train.csv'}\neval_split: dev\n"
                                              "text_column: utterance\nlabel_column: intent\n"))
    train, evaluation = load_train_and_eval(cfg.dataset, cfg.eval_split, cfg.data_root, **cfg.dataset_kwargs())
    python_api = load_dataset_by_name(str(tmp_path), "train", text_column="utterance", label_column="intent")
    assert train["text"] == python_api["text"] and train["label"] == python_api["label"]
    assert len(evaluation) == 9 and evaluation.features["label"].names == train.features["label"].names


def test_a_lone_file_without_an_eval_file_beside_it_is_refused_before_the_run(tmp_path, capsys):
    write_csv(tmp_path / "mine.csv", utterances(10, seed=0))
    cfg = config(tmp_path, f"dataset: {tmp_path / 'mine.csv'}\ntext_column: utterance\nlabel_column: intent\n")
    assert main(["train", str(cfg)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "eval_split: " in err[0] and "holds one split, not 'test'" in err[0], err
    assert not (tmp_path / "out").exists()


def test_column_keys_on_a_built_in_dataset_are_refused(tmp_path, capsys):
    cfg = config(tmp_path, "dataset: atis\ntext_column: utterance\n")
    assert main(["train", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "text_column: got 'utterance', but 'atis' has fixed columns" in err


def test_dataset_options_reach_the_reader(tmp_path):
    rows = utterances(20, seed=4)
    write_jsonl(tmp_path / "train.jsonl", rows + [("no label here", None)])
    write_jsonl(tmp_path / "test.jsonl", rows[:5])
    text = (f"dataset: {tmp_path}\ntext_column: utterance\nlabel_column: intent\n"
            "dataset_options: {drop_missing_labels: true}\n")
    cfg, _ = load_run_config(config(tmp_path, text))
    assert cfg.dataset_kwargs()["drop_missing_labels"] is True
    from datadiet.toolkit.experiment import build_run

    spec, _ = build_run(cfg)
    assert len(spec.train_dataset) == 20 and len(spec.eval_dataset) == 5


# -- labels that are missing ---------------------------------------------------------------------
def test_a_null_jsonl_label_is_refused_with_its_row(tmp_path):
    rows = utterances(6, seed=0)
    rows[3] = (rows[3][0], None)
    path = write_jsonl(tmp_path / "train.jsonl", rows, text="text", label="label")
    with pytest.raises(ValueError, match=r"train.jsonl: no label in column 'label' \(null or empty\) at row 4 "
                                         r".*drop_missing_labels=True"):
        load_local_files(path)


def test_an_empty_csv_label_is_refused_with_its_row(tmp_path):
    rows = utterances(5, seed=0)
    rows[0], rows[4] = (rows[0][0], ""), (rows[4][0], "  ")
    path = write_csv(tmp_path / "train.csv", rows)
    with pytest.raises(ValueError, match=r"at row 1, 5 \(rows counted from 1"):
        load_dataset_by_name(str(path), text_column="utterance", label_column="intent")


def test_missing_labels_are_dropped_when_asked_and_ids_stay_positions(tmp_path, caplog):
    rows = utterances(6, seed=0)
    rows[2] = (rows[2][0], None)
    path = write_jsonl(tmp_path / "train.jsonl", rows)
    with caplog.at_level(logging.WARNING, logger="datadiet"):
        ds = load_local_files(path, text_column="utterance", label_column="intent", drop_missing_labels=True)
    assert len(ds) == 5 and ds["example_id"] == list(range(5))
    assert ds["text"] == [t for i, (t, _) in enumerate(rows) if i != 2]
    assert "None" not in ds.features["label"].names and "left out 1 row(s) with no label" in caplog.text


def test_a_missing_label_in_the_train_file_beside_a_test_file_is_named(tmp_path):
    rows = utterances(6, seed=0)
    write_csv(tmp_path / "train.csv", rows[:3] + [(rows[3][0], "")] + rows[4:])
    write_csv(tmp_path / "test.csv", rows[:2])
    with pytest.raises(ValueError, match=r"train.csv: no label .* at row 4"):
        load_local_files(tmp_path / "test.csv", text_column="utterance", label_column="intent")
    test = load_local_files(tmp_path / "test.csv", text_column="utterance", label_column="intent",
                            drop_missing_labels=True)
    assert test.features["label"].names == ["alarm_set", "weather"]


def test_a_class_label_of_minus_one_is_a_missing_label():
    import datasets

    ds = datasets.Dataset.from_dict({"text": ["a", "b", "c"], "label": [0, -1, 1]},
                                    features=datasets.Features({"text": datasets.Value("string"),
                                                                "label": datasets.ClassLabel(names=["n", "y"])}))
    with pytest.raises(ValueError, match="at row 2"):
        to_classification(ds)
    assert to_classification(ds, drop_missing_labels=True)["label"] == [0, 1]
