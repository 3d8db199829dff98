"""Crash-safe, safe-to-load files for a diet's state (``DataDiet.state_dict()``).

One file, ``datadiet_state.npz``: a NumPy ``.npz`` archive whose arrays are the state's arrays and
whose member ``__state__`` is the rest of the state as UTF-8 JSON, arrays replaced by references.
Loading uses ``np.load(allow_pickle=False)`` and ``json.loads``: nothing in a checkpoint can run code
(unlike ``torch.load(weights_only=False)``).

Writing is atomic: a temporary file in the same folder, flushed and ``fsync``-ed, renamed over the
final name, then the folder ``fsync``-ed. A kill at any moment leaves either no file or a complete
one; a truncated or altered file is detected (zip CRCs, the format tag) and reported with its path.

Round trips are exact: arrays keep dtype, shape and values; NumPy scalars keep their dtype; tuples
stay tuples; floats (NaN and infinities included) keep every bit; dicts with non-string keys survive.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

DIET_STATE_FILE = "datadiet_state.npz"
FORMAT = "datadiet-state/1"
_JSON_MEMBER = "__state__"
_TAGS = ("__array__", "__scalar__", "__tuple__", "__items__")


class DietStateError(ValueError):
    """A diet state file is missing, truncated, altered or of an unknown format; the message names
    the file, says what is wrong and how to resume."""


def _encode(value: Any, arrays: dict[str, np.ndarray], where: str) -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError(f"diet state field {where} is an object array, which cannot be saved without pickle")
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {"__array__": key}
    if isinstance(value, np.generic):
        key = f"a{len(arrays)}"
        arrays[key] = np.asarray(value)
        return {"__scalar__": key}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and not any(k in _TAGS for k in value):
            return {k: _encode(v, arrays, f"{where}.{k}") for k, v in value.items()}
        return {"__items__": [[_encode(k, arrays, f"{where}<key>"), _encode(v, arrays, f"{where}[{k!r}]")]
                              for k, v in value.items()]}
    raise TypeError(f"diet state field {where} is a {type(value).__name__}; a diet state may hold numpy arrays "
                    "and scalars, None, bool, int, float, str, and lists, tuples and dicts of them")


def _decode(value: Any, arrays: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            (tag, inner), = value.items()
            if tag == "__array__":
                return arrays[inner]
            if tag == "__scalar__":
                return arrays[inner][()]
            if tag == "__tuple__":
                return tuple(_decode(v, arrays) for v in inner)
            if tag == "__items__":
                return {_hashable(_decode(k, arrays)): _decode(v, arrays) for k, v in inner}
        return {k: _decode(v, arrays) for k, v in value.items()}
    return value


def _hashable(key: Any) -> Any:
    return key.item() if isinstance(key, np.ndarray) and key.ndim == 0 else key


def save_diet_state(state: dict, folder: str | os.PathLike) -> Path:
    """Write ``state`` atomically to ``folder/datadiet_state.npz`` (the folder is created); returns the path."""
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict (DataDiet.state_dict()), got {type(state).__name__}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    body = {"format": FORMAT, "state": _encode(state, arrays, "state")}
    text = json.dumps(body, allow_nan=True, separators=(",", ":"))
    arrays[_JSON_MEMBER] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    path = folder / DIET_STATE_FILE
    fd, tmp = tempfile.mkstemp(prefix=f".{DIET_STATE_FILE}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(folder)
    return path


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


RESUME_HINT = ("resume from the previous complete checkpoint (one whose datadiet_state.npz loads), "
               "or restart training without resume_from_checkpoint")


def load_diet_state(folder: str | os.PathLike, hint: str = RESUME_HINT) -> dict:
    """Read the state :func:`save_diet_state` wrote in ``folder``, without unpickling anything.

    Raises :class:`DietStateError` naming the file if it is missing, truncated, altered or not a
    diet state; ``hint`` (how to resume) ends the message.
    """
    path = Path(folder) / DIET_STATE_FILE
    if not path.is_file():
        raise DietStateError(f"{path} is missing: this checkpoint has no diet state (training was killed before "
                             f"it was written, or the folder was not saved by a DataDietTrainer); {hint}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as error:
        size = path.stat().st_size
        raise DietStateError(f"{path} ({size} bytes) is truncated or corrupt ({type(error).__name__}: {error}); "
                             f"{hint}") from error
    if _JSON_MEMBER not in arrays:
        raise DietStateError(f"{path} is not a datadiet state file (no {_JSON_MEMBER} member); {hint}")
    try:
        body = json.loads(arrays.pop(_JSON_MEMBER).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DietStateError(f"{path} has an unreadable state record ({error}); {hint}") from error
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        found = body.get("format") if isinstance(body, dict) else type(body).__name__
        raise DietStateError(f"{path} has format {found!r}, expected {FORMAT!r} (written by another datadiet "
                             f"version?); {hint}")
    try:
        return _decode(body["state"], arrays)
    except (KeyError, TypeError, ValueError) as error:
        raise DietStateError(f"{path} refers to arrays it does not contain ({error}); {hint}") from error


def has_diet_state(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds a complete, loadable diet state."""
    try:
        load_diet_state(folder)
    except DietStateError:
        return False
    return True
