"""The diet state file: exact round trips of real states, atomic writes, no unpickling, and
messages that name the file, say what is wrong and how to resume."""

from __future__ import annotations

import io
import math
import os
import zipfile

import numpy as np
import pytest
from transformers import TrainerCallback

from datadiet.checkpoint import DIET_STATE_FILE, DietStateError, has_diet_state, load_diet_state, save_diet_state
from resume_setups import make_trainer


def assert_identical(a, b, where="state"):
    """Same types, dtypes, shapes and bits, recursively (NaN equals NaN)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape} != {b.dtype}{b.shape}"
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype and (a == b or (a != a and b != b)), where
    elif isinstance(a, float):
        assert (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b)), where
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_identical(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


class CaptureStates(TrainerCallback):
    """The diet state after every epoch end (the next epoch already begun: its selection and weights)."""

    def __init__(self, trainer):
        self.trainer, self.states = trainer, []

    def on_epoch_end(self, args, state, control, **kwargs):
        self.states.append(self.trainer.diet.state_dict())


@pytest.fixture(scope="module", params=["infobatch", "p3", "nlu_data_diets"])
def trained_states(request, tmp_path_factory):
    trainer = make_trainer(request.param, tmp_path_factory.mktemp(request.param), save_strategy="no")
    capture = CaptureStates(trainer)
    trainer.add_callback(capture)
    trainer.train()
    return request.param, capture.states + [trainer.diet.state_dict()]


def _arrays(value):
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _arrays(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _arrays(v)


def test_real_diet_states_round_trip_exactly(trained_states, tmp_path):
    preset, states = trained_states
    assert len(states) == 5  # after epochs 0-3, and the final one
    if preset == "infobatch":  # up-weighted examples (1 / (1 - realised drop) > 1) are in some state
        assert any((s["selection_weights"] > 1).any() for s in states)
    if preset == "p3":  # the DPP's features: a float (N, hidden) matrix
        assert any(a.ndim == 2 and a.shape[0] == 32 and a.dtype.kind == "f" for a in _arrays(states[-1]))
    for i, state in enumerate(states):
        folder = tmp_path / str(i)
        path = save_diet_state(state, folder)
        assert path == folder / DIET_STATE_FILE and has_diet_state(folder)
        assert_identical(load_diet_state(folder), state)
        assert [p.name for p in folder.iterdir()] == [DIET_STATE_FILE]  # no temporary file left behind


def test_every_supported_kind_of_value_round_trips(tmp_path):
    state = {
        "f64": np.array([0.1, np.nan, -np.inf, -0.0]), "f32": np.arange(3, dtype=np.float32),
        "bits": np.packbits([1, 0, 1]), "i8": np.array([[1, -2]], dtype=np.int8), "empty": np.zeros((0, 4)),
        "bools": np.array([True, False]), "scalar": np.float32(1.5), "int_scalar": np.int64(-3),
        "py": [1, 2.5, float("nan"), float("-inf"), -0.0, True, None, "text", 1e-310],
        "tuple": (1, (2, "x")), "int_keys": {3: "three", 1: np.arange(2)}, "nested": [{"a": {"b": [np.ones(1)]}}],
        "tagged": {"__array__": "not an array"}, "big": 2**62,
    }
    save_diet_state(state, tmp_path)
    assert_identical(load_diet_state(tmp_path), state)


def test_values_that_need_pickle_are_refused(tmp_path):
    with pytest.raises(TypeError, match=r"state.bad is a set"):
        save_diet_state({"bad": {1, 2}}, tmp_path)
    with pytest.raises(TypeError, match=r"state.obj is an object array"):
        save_diet_state({"obj": np.array([{}, 1], dtype=object)}, tmp_path)


def test_missing_truncated_altered_and_pickled_files_are_explained(tmp_path):
    with pytest.raises(DietStateError, match=rf"{tmp_path}/{DIET_STATE_FILE} is missing.*resume from the previous "
                                             "complete checkpoint"):
        load_diet_state(tmp_path)

    path = save_diet_state({"x": np.arange(1000.0), "log": [{"kept": 3}]}, tmp_path)
    whole = path.read_bytes()
    for cut in (10, len(whole) // 2, len(whole) - 5):
        path.write_bytes(whole[:cut])
        with pytest.raises(DietStateError, match=rf"{DIET_STATE_FILE} \({cut} bytes\) is truncated or corrupt"):
            load_diet_state(tmp_path)
        assert not has_diet_state(tmp_path)

    flipped = bytearray(whole)
    flipped[100] ^= 0xFF  # inside the first array's data: the zip CRC catches it
    path.write_bytes(bytes(flipped))
    with pytest.raises(DietStateError, match="truncated or corrupt"):
        load_diet_state(tmp_path)

    # a file whose member is a pickle that would run code: refused, the code never runs
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    member = io.BytesIO()
    np.save(member, np.array([Evil()], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("__state__.npy", member.getvalue())
    with pytest.raises(ValueError, match="allow_pickle"):  # what np.load says: the member is a real pickle
        np.load(path, allow_pickle=False)["__state__"]
    with pytest.raises(DietStateError, match="truncated or corrupt"):
        load_diet_state(tmp_path)
    assert not marker.exists()

    np.savez(path, __state__=np.frombuffer(b'{"format": "something-else/9", "state": {}}', dtype=np.uint8))
    with pytest.raises(DietStateError, match="has format 'something-else/9', expected 'datadiet-state/1'"):
        load_diet_state(tmp_path)
    np.savez(path, other=np.arange(3))
    with pytest.raises(DietStateError, match="not a datadiet state file"):
        load_diet_state(tmp_path)


def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    save_diet_state({"v": 1}, tmp_path)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_diet_state({"v": 2}, tmp_path)
    monkeypatch.undo()
    assert load_diet_state(tmp_path) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == [DIET_STATE_FILE]
