"""Where the offline datasets live: one function that resolves the data root, one per dataset folder.

The benchmark datasets are read by path and never copied into the repository (the README's
"The data" section says where they go). The root is, in order: the ``data_root`` argument, the
``DATADIET_DATA`` environment variable, or ``../shared/data`` beside the current working directory
(the repository root, for the tests, the examples and the benchmarks). The package never looks
beside its own source: installed, that is a site-packages folder.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV_VAR = "DATADIET_DATA"
"""Environment variable naming the folder that holds ``snips/``, ``atis/``, ``clinc150/``, ``sst2/``."""


def _default_roots() -> list[Path]:
    """Candidate roots when neither the argument nor the environment variable is set."""
    return [Path.cwd().parent / "shared" / "data"]


def resolve_data_root(data_root: str | os.PathLike | None = None) -> Path:
    """Return the folder that holds the offline datasets.

    Args:
        data_root: an explicit folder; wins over everything else.

    Raises:
        FileNotFoundError: the folder (explicit, from ``DATADIET_DATA``, or every default) does not
            exist; the message lists where it looked and how to point elsewhere.
    """
    if data_root is not None:
        candidates, source = [Path(data_root).expanduser()], "the data_root argument"
    elif os.environ.get(DATA_ENV_VAR):
        candidates, source = [Path(os.environ[DATA_ENV_VAR]).expanduser()], f"${DATA_ENV_VAR}"
    else:
        candidates, source = _default_roots(), "the default, ../shared/data beside the current directory"
    for path in candidates:
        if path.is_dir():
            return path
    looked = ", ".join(str(p) for p in candidates)
    raise FileNotFoundError(
        f"no dataset folder found (from {source}); looked in: {looked}. Pass data_root=... or set "
        f"{DATA_ENV_VAR}=/path/to/shared/data to the folder that holds snips/, atis/, clinc150/, sst2/."
    )


def dataset_path(data_root: str | os.PathLike | None, *parts: str) -> Path:
    """``resolve_data_root(data_root) / parts``, raising ``FileNotFoundError`` naming it if missing."""
    root = resolve_data_root(data_root)
    path = root.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist. The data root {root} was found but lacks {'/'.join(parts)}; "
            f"pass data_root=... or set {DATA_ENV_VAR} to a folder holding snips/, atis/, clinc150/, sst2/ in their "
            f"original layout (see the README, \"The data\")."
        )
    return path
