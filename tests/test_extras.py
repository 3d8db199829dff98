"""The minimal core: ``import datadiet`` and the plain-PyTorch path work with only torch and numpy
installed; a part that needs an extra says which one to install."""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from datadiet._extras import MissingExtraError, require, require_installed

ROOT = Path(__file__).resolve().parents[1]


def _requirements(name: str) -> set[str]:
    """``name`` and every distribution it needs (no extras), recursively."""
    seen, todo = set(), [name]
    while todo:
        dist = importlib.metadata.distribution(todo.pop())
        key = dist.metadata["Name"].lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        for req in dist.requires or []:
            if "extra ==" in req or "platform_system" in req and "Windows" in req:
                continue
            dep = re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0]
            try:
                importlib.metadata.distribution(dep)
            except importlib.metadata.PackageNotFoundError:
                continue  # an optional/platform dependency not installed here
            todo.append(dep)
    return seen


def torch_only_site(folder: Path) -> Path:
    """A folder that links only the files of torch's and numpy's distributions and their requirements."""
    folder.mkdir()
    for name in _requirements("torch") | _requirements("numpy"):
        dist = importlib.metadata.distribution(name)
        for top in {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}:
            source = Path(dist.locate_file(top))
            if source.exists() and not (folder / top).exists():
                (folder / top).symlink_to(source)
    return folder


def test_torch_only_environment_runs_the_plain_pytorch_path(tmp_path):
    site = torch_only_site(tmp_path / "site")
    assert not (site / "transformers").exists() and (site / "torch").exists()
    code = (f"import sys; sys.path[:0] = [{str(ROOT / 'src')!r}, {str(site)!r}]; import runpy; "
            f"runpy.run_path({str(ROOT / 'tests/scripts/torch_only.py')!r}, run_name='__main__')")
    done = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1].removeprefix("OK "))
    assert result["loaded"] == []
    # warm-up epoch on all 64 examples, then half of them: the plan and what the sampler yielded agree
    assert result["kept"] == [64, 32, 32] and result["trained"] == [64, 32, 32]
    expected_extra = {"datadiet.toolkit.data": "hf", "datadiet.toolkit.tasks": "hf", "DataDietTrainer": "hf",
                      "report": "report", "slot_scores": "nlu"}
    for part, extra in expected_extra.items():
        message = result["messages"][part]
        assert message is not None and message.startswith("MissingExtraError"), (part, message)
        assert f'pip install "datadiet[{extra}]"' in message, (part, message)


def test_require_names_the_extra_and_keeps_importerror():
    with pytest.raises(MissingExtraError, match=r'pip install "datadiet\[report\]"') as info:
        require("datadiet_no_such_module_xyz", extra="report", purpose="the plots")
    assert isinstance(info.value, ImportError) and "the plots needs" in str(info.value)
    with pytest.raises(MissingExtraError, match=r'datadiet\[hf\]'):
        require_installed("json", "datadiet_no_such_module_xyz", extra="hf")
    assert require("json").dumps([1]) == "[1]"
