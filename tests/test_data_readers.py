"""Dataset readers: counts against ../shared/data/README.md, example ids, label vocabularies, UNK
mapping, error messages, local files and the data root."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from datadiet.toolkit.data import (
    DATA_ENV_VAR,
    EXAMPLE_ID,
    SplitLabelsWarning,
    UnknownLabelWarning,
    add_example_ids,
    available_datasets,
    load_dataset_by_name,
    load_dataset_dict,
    load_local_files,
    read_joint_nlu,
    resolve_data_root,
)

# train / validation / test sizes from ../shared/data/README.md
COUNTS = {
    "snips": (13_084, 700, 700),
    "atis": (4_478, 500, 893),
    "clinc150": (15_000, 3_000, 4_500),
    "clinc150_oos": (15_100, 3_100, 5_500),  # in scope + oos 100 / 100 / 1,000
    "sst2": (60_614, 6_735, 872),
}


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_every_dataset_has_the_documented_size_and_positional_ids(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownLabelWarning)  # ATIS dev/test; checked below
        splits = [load_dataset_by_name(name, split) for split in ("train", "dev", "test")]
    assert tuple(len(s) for s in splits) == COUNTS[name]
    for s in splits:
        assert s.column_names[0] == EXAMPLE_ID
        assert s[EXAMPLE_ID] == list(range(len(s)))


def test_available_names():
    assert available_datasets() == ["atis", "clinc150", "clinc150_oos", "snips", "sst2"]


def test_snips_row_and_vocabularies():
    test = load_dataset_by_name("snips", "test")
    row = test[31]
    assert row["words"] == ["i", "rate", "shadow", "of", "suribachi", "at", "five", "stars"]
    assert row["slot_tags"] == ["O", "O", "B-object_name", "I-object_name", "I-object_name", "O",
                                "B-rating_value", "B-rating_unit"]
    assert row["intent"] == "RateBook" and row["text"] == " ".join(row["words"])
    intents = test.features["intent_label"].names
    slots = test.features["slot_labels"].feature.names
    assert len(intents) == 8 and intents[0] == "UNK"  # 7 intents + UNK, ids are file lines
    assert len(slots) == 74 and slots[:3] == ["PAD", "UNK", "O"]  # 72 BIO tags + PAD + UNK
    assert intents[row["intent_label"]] == "RateBook"
    assert [slots[i] for i in row["slot_labels"]] == row["slot_tags"]


def test_atis_unseen_labels_map_to_unk_with_one_warning_per_file():
    with pytest.warns(UnknownLabelWarning) as record:
        test = load_dataset_by_name("atis", "test")
    messages = [str(w.message) for w in record if issubclass(w.category, UnknownLabelWarning)]
    assert len(messages) == 2
    assert any("atis_day_name" in m and "test/label" in m for m in messages)
    assert any("B-booking_class" in m and "test/seq.out" in m for m in messages)
    intents = test.features["intent_label"].names
    slots = test.features["slot_labels"].feature.names
    unseen = {"atis_airfare#atis_flight", "atis_day_name", "atis_flight#atis_airline", "atis_flight_no#atis_airline"}
    rows = [r for r in test if r["intent"] in unseen]
    assert len(rows) == 5 and all(r["intent_label"] == intents.index("UNK") == 0 for r in rows)
    # a multi-intent label that is in intent_label.txt keeps its own id
    known = next(r for r in test if r["intent"] == "atis_flight#atis_airfare")
    assert intents[known["intent_label"]] == "atis_flight#atis_airfare"
    tagged = next(r for r in test if "B-booking_class" in r["slot_tags"])
    position = tagged["slot_tags"].index("B-booking_class")
    assert tagged["slot_labels"][position] == slots.index("UNK") == 1


def test_atis_train_has_no_unknown_labels():
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownLabelWarning)
        train = load_dataset_by_name("atis", "train")
    assert 0 not in train["intent_label"]


def test_clinc150_oos_is_the_last_class_and_in_scope_ids_do_not_move():
    plain = load_dataset_by_name("clinc150", "validation")
    with_oos = load_dataset_by_name("clinc150", "val", include_oos=True)
    names = with_oos.features["label"].names
    assert len(plain.features["label"].names) == 150 and len(names) == 151 and names[-1] == "oos"
    assert names[:150] == plain.features["label"].names
    assert with_oos["label"][:3000] == plain["label"]
    assert set(with_oos["label"][3000:]) == {150}
    assert load_dataset_by_name("clinc150_oos", "test")["label"].count(150) == 1000
    with pytest.raises(ValueError, match="out-of-scope"):
        load_dataset_by_name("clinc150_oos", "test", include_oos=False)


def test_sst2_labels_and_text():
    test = load_dataset_by_name("sst2", "test")
    assert test.features["label"].names == ["negative", "positive"]
    assert test[0]["text"] == "it 's a charming and often affecting journey ." and test[0]["label"] == 1
    assert set(test["label"]) == {0, 1}


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError) as err:
        load_dataset_by_name("snipz")
    for name in ("snips", "atis", "clinc150", "clinc150_oos", "sst2", "hf:"):
        assert name in str(err.value)


def test_unknown_split_lists_the_valid_ones():
    with pytest.raises(ValueError, match="train, validation, test"):
        load_dataset_by_name("snips", "holdout")


def test_dataset_dict_has_canonical_split_names():
    dd = load_dataset_dict("snips", splits=("train", "dev"))
    assert list(dd) == ["train", "validation"] and len(dd["validation"]) == 700


# ---------------------------------------------------------------- joint NLU folders written by hand
def write_joint(folder: Path, seq_in: str, seq_out: str, label: str,
                intents="UNK\nplay\nbook\n", slots="PAD\nUNK\nO\nB-x\nI-x\n") -> Path:
    (folder / "train").mkdir(parents=True, exist_ok=True)
    (folder / "intent_label.txt").write_text(intents)
    (folder / "slot_label.txt").write_text(slots)
    for name, text in (("seq.in", seq_in), ("seq.out", seq_out), ("label", label)):
        (folder / "train" / name).write_text(text)
    return folder


def test_misaligned_line_names_file_and_line(tmp_path):
    folder = write_joint(tmp_path, "play a song \nbook it now\n", "O O B-x\nO B-x\n", "play\nbook\n")
    with pytest.raises(ValueError) as err:
        read_joint_nlu(folder, "train")
    message = str(err.value)
    assert str(folder / "train" / "seq.out") in message and "line 2" in message
    assert "2 slot tags for 3 words" in message


def test_line_count_mismatch_names_the_short_file(tmp_path):
    folder = write_joint(tmp_path, "a\nb\nc\n", "O\nO\nO\n", "play\nplay\n")
    with pytest.raises(ValueError, match=r"label ends at line 2.*line 3"):
        read_joint_nlu(folder, "train")


def test_unseen_labels_warn_and_map_to_unk(tmp_path):
    folder = write_joint(tmp_path, "play x y\nsing z \n", "O B-x I-x\nB-new O\n", "play\nsing\n")
    with pytest.warns(UnknownLabelWarning) as record:
        ds = read_joint_nlu(folder, "train")
    text = " ".join(str(w.message) for w in record)
    assert "'sing' x1" in text and "'B-new' x1" in text
    assert ds["intent_label"] == [1, 0]
    assert ds["slot_labels"] == [[2, 3, 4], [1, 2]]  # trailing space on line 2 is not a word
    assert ds["words"][1] == ["sing", "z"]


def test_vocabulary_without_unk_gets_one_appended(tmp_path):
    folder = write_joint(tmp_path, "a b\n", "O B-x\n", "other\n", intents="play\n", slots="O\nB-x\n")
    with pytest.warns(UnknownLabelWarning):
        ds = read_joint_nlu(folder, "train")
    assert ds.features["intent_label"].names == ["play", "UNK"] and ds["intent_label"] == [1]
    assert ds.features["slot_labels"].feature.names == ["O", "B-x", "UNK"]


def test_a_joint_folder_path_loads_by_name(tmp_path):
    folder = write_joint(tmp_path / "mine", "play a\n", "O B-x\n", "play\n")
    ds = load_dataset_by_name(str(folder), "train")
    assert ds["slot_labels"] == [[2, 3]] and ds[EXAMPLE_ID] == [0]


# ---------------------------------------------------------------- local classification files
def test_local_csv_with_string_labels_and_custom_columns(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('review,stars\n"great, really",good\nNA,bad\nmeh,good\n')
    ds = load_dataset_by_name(str(path), text_column="review", label_column="stars")
    assert ds.column_names == [EXAMPLE_ID, "text", "label"]
    assert ds["text"] == ["great, really", "NA", "meh"]  # quoting honoured, "NA" stays text
    assert ds.features["label"].names == ["bad", "good"] and ds["label"] == [1, 0, 1]
    assert ds[EXAMPLE_ID] == [0, 1, 2]


def test_local_folder_splits_share_label_ids_from_train(tmp_path):
    rows = {"train": [("a", "zeta"), ("b", "alpha"), ("c", "mid")], "dev": [("d", "zeta")]}
    for split, items in rows.items():
        with open(tmp_path / f"{split}.jsonl", "w") as f:
            for text, label in items:
                f.write(json.dumps({"sentence": text, "y": label}) + "\n")
    dev = load_local_files(tmp_path, "validation", text_column="sentence", label_column="y")
    assert dev.features["label"].names == ["alpha", "mid", "zeta"] and dev["label"] == [2]


def write_csv_splits(folder: Path, splits: dict[str, list[tuple[str, str]]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        (folder / f"{split}.csv").write_text("utterance,intent\n" + "".join(f"{t},{y}\n" for t, y in rows))
    return folder


def test_one_csv_file_per_split_loaded_one_by_one_share_the_train_label_ids(tmp_path):
    # the test file lacks "alarm" and sorts differently on its own ("Weather" < "music" < "timer"):
    # alone it would number its labels 0, 1, 2; with the train file's names they match train's ids
    folder = write_csv_splits(tmp_path / "intents", {
        "train": [("wake me", "alarm"), ("play x", "music"), ("rain?", "Weather"), ("5 min", "timer")],
        "test": [("set 5", "timer"), ("sunny?", "Weather"), ("play y", "music")],
    })
    columns = dict(text_column="utterance", label_column="intent")
    train = load_dataset_by_name(str(folder / "train.csv"), **columns)
    test = load_dataset_by_name(str(folder / "test.csv"), "test", **columns)
    assert train.features["label"].names == ["Weather", "alarm", "music", "timer"]  # sorted as Python sorts str
    assert test.features["label"].names == train.features["label"].names
    names = train.features["label"].names
    assert [names[i] for i in test["label"]] == ["timer", "Weather", "music"]
    # the folder path and the file path agree, and the name of the file wins over the split argument
    assert load_dataset_by_name(str(folder), "test", **columns)["label"] == test["label"]
    assert load_dataset_by_name(str(folder / "test.csv"), **columns)["label"] == test["label"]


def test_a_test_label_missing_from_train_is_named(tmp_path):
    folder = write_csv_splits(tmp_path / "intents", {"train": [("a", "alarm")], "dev": [("b", "alarm"), ("c", "music")]})
    with pytest.raises(ValueError, match=r"\['music'\] are not in label_names"):
        load_dataset_by_name(str(folder / "dev.csv"), text_column="utterance", label_column="intent")
    dev = load_dataset_by_name(str(folder / "dev.csv"), text_column="utterance", label_column="intent",
                               label_names=["alarm", "music"])
    assert dev["label"] == [0, 1]


def test_a_lone_test_file_warns_that_its_ids_are_its_own(tmp_path):
    folder = write_csv_splits(tmp_path / "only", {"test": [("a", "b"), ("c", "a")]})
    with pytest.warns(SplitLabelsWarning, match="label_names=train.features"):
        ds = load_dataset_by_name(str(folder / "test.csv"), text_column="utterance", label_column="intent")
    assert ds.features["label"].names == ["a", "b"]


def test_hub_style_splits_with_string_labels_share_the_train_names(tmp_path):
    # hf:<name> goes through datasets.load_dataset, which also reads a local folder of csv files
    folder = write_csv_splits(tmp_path / "hub", {
        "train": [("a", "zeta"), ("b", "alpha"), ("c", "mid")], "test": [("d", "zeta"), ("e", "mid")]})
    columns = dict(text_column="utterance", label_column="intent", cache_dir=str(tmp_path / "cache"))
    test = load_dataset_by_name(f"hf:{folder}", "test", **columns)
    assert test.features["label"].names == ["alpha", "mid", "zeta"] and test["label"] == [2, 1]


def test_local_tsv_with_integer_labels_and_quotes(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text('sentence\tlabel\nhe said "hi\t1\nok\t0\n')
    ds = load_dataset_by_name(str(path), text_column="sentence", label_names=["neg", "pos"])
    assert ds["text"] == ['he said "hi', "ok"] and ds["label"] == [1, 0]
    assert ds.features["label"].names == ["neg", "pos"]


def test_local_file_missing_column_says_which_exist(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x,label\nhi,1\n")
    with pytest.raises(ValueError, match=r"\['text'\].*columns are \['x', 'label'\]"):
        load_dataset_by_name(str(path))


def test_add_example_ids_after_select():
    ds = load_dataset_by_name("snips", "dev").select([5, 2, 9])
    assert ds[EXAMPLE_ID] == [5, 2, 9]
    assert add_example_ids(ds)[EXAMPLE_ID] == [0, 1, 2]


# ---------------------------------------------------------------- data root
def test_default_root_is_shared_data_beside_the_checkout(monkeypatch):
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)
    root = resolve_data_root()
    assert root == Path(__file__).resolve().parents[1].parent / "shared" / "data"
    assert (root / "snips").is_dir()


def test_env_var_root_is_used_and_a_missing_one_says_where_it_looked(monkeypatch, tmp_path):
    write_joint(tmp_path / "snips" / "data" / "snips", "play a\n", "O B-x\n", "play\n")
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path))
    assert len(load_dataset_by_name("snips", "train")) == 1
    missing = tmp_path / "nowhere"
    monkeypatch.setenv(DATA_ENV_VAR, str(missing))
    with pytest.raises(FileNotFoundError) as err:
        load_dataset_by_name("snips")
    assert str(missing) in str(err.value) and DATA_ENV_VAR in str(err.value) and "data_root" in str(err.value)


def test_explicit_root_wins_and_missing_dataset_folder_is_named(monkeypatch, tmp_path):
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)
    with pytest.raises(FileNotFoundError, match=r"lacks atis/data/atis"):
        load_dataset_by_name("atis", data_root=tmp_path)


def test_integer_labels_in_a_csv_are_ids_not_sorted_strings(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\na,2\nb,10\nc,0\n")
    ds = load_dataset_by_name(str(path))
    assert ds["label"] == [2, 10, 0] and len(ds.features["label"].names) == 11


def test_ragged_csv_row_names_the_line(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\na,1\nb,0,extra\n")
    with pytest.raises(ValueError, match=r"d\.csv line 3"):
        load_dataset_by_name(str(path))
