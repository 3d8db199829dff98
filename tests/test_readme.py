"""The README as a user reads it: its Trainer example runs as copied (on a slice) with the benchmark's
settings, the plain-loop example script runs, and every link in the docs resolves inside the checkout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
MENTION = re.compile(r"`((?:docs|benchmarks|examples|scripts|tests)/[\w./-]+\.(?:md|py|yaml|sh|png|json))`")


def documents() -> list[Path]:
    """Every markdown file of the checkout that a user reads (not generated benchmark results)."""
    skip = {".venv", ".git", "runs", "node_modules"}
    return sorted(p for p in ROOT.rglob("*.md") if not skip & set(p.relative_to(ROOT).parts))


def trainer_example() -> str:
    """The first python block after the ``trainer-example`` marker of the README."""
    text = README.read_text()
    start = text.index("<!-- trainer-example")
    return re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)


def substitute(code: str, old: str, new: str) -> str:
    assert code.count(old) == 1, f"the README example no longer has {old!r}: update this test with it"
    return code.replace(old, new)


def test_every_relative_link_in_the_docs_resolves_inside_the_checkout():
    checked = 0
    for doc in documents():
        text = doc.read_text()
        assert "shared/docs" not in text, f"{doc.relative_to(ROOT)} points at ../shared/docs, which users do not have"
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # a web address or an anchor in the same page
            path = (doc.parent / target.split("#")[0]).resolve()
            assert path.is_relative_to(ROOT), f"{doc.relative_to(ROOT)} links outside the checkout: {target}"
            assert path.exists(), f"{doc.relative_to(ROOT)} links to a missing file: {target}"
            checked += 1
        for mention in MENTION.findall(text):  # a path named in backticks, e.g. `docs/methods.md`
            assert (ROOT / mention).exists() or (doc.parent / mention).exists(), \
                f"{doc.relative_to(ROOT)} names a file that does not exist: {mention}"
    assert checked >= 5  # the README's and the benchmarks' links were seen


def test_the_readme_example_uses_the_benchmark_protocol():
    """The settings in the README's Trainer example are those of benchmarks/configs/full.yaml."""
    code = trainer_example()
    protocol = yaml.safe_load((ROOT / "benchmarks" / "configs" / "full.yaml").read_text())
    assert f"EPOCHS = {protocol['epochs']}" in code
    assert f"num_hidden_layers={protocol['layers']}" in code and f"max_length={protocol['max_length']}" in code
    assert f"per_device_train_batch_size={protocol['batch_size']}" in code
    assert f"learning_rate={protocol['learning_rate']:g}" in code.replace("5e-4", "0.0005")
    assert f'lr_scheduler_type="{protocol["lr_scheduler"]}"' in code
    assert "weight decay 0.01" in (ROOT / "benchmarks" / "README.md").read_text() and "weight_decay=0.01" in code
    assert 'save_strategy="no"' in code and "seed=SEED" in code


@pytest.mark.slow
def test_the_readme_trainer_example_runs_as_copied_and_is_reproducible(tmp_path, monkeypatch, capfd):
    """Run the README block on 96 training and 64 test utterances for 2 epochs, twice: it follows the
    documented settings, writes no checkpoint, warns about nothing, and gives the same numbers."""
    code = trainer_example()
    code = substitute(code, "EPOCHS = 10", "EPOCHS = 2")
    code = substitute(code, 'load_dataset_by_name("atis", "train")', 'load_dataset_by_name("atis", "train").select(range(96))')
    code = substitute(code, 'load_dataset_by_name("atis", "test")', 'load_dataset_by_name("atis", "test").select(range(64))')
    # the example runs from its own folder, as a user's script would; the data is found as the README says
    monkeypatch.setenv("DATADIET_DATA", os.environ.get("DATADIET_DATA") or str(ROOT.parent / "shared" / "data"))
    runs = []
    for attempt in ("first", "second"):
        folder = tmp_path / attempt
        folder.mkdir()
        monkeypatch.chdir(folder)
        namespace: dict = {}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            exec(compile(code, "README.md", "exec"), namespace)
        messages = [str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)]
        assert not [m for m in messages if "pin_memory" in m], messages
        runs.append(namespace)
        args, diet, spec = namespace["args"], namespace["diet"], namespace["spec"]
        assert (args.seed, args.weight_decay, args.learning_rate, args.per_device_train_batch_size) == (0, 0.01, 5e-4, 32)
        assert args.save_strategy == "no" and args.lr_scheduler_type == "linear" and args.num_train_epochs == 2
        assert spec.model.config.encoder.num_hidden_layers == 2
        assert max(len(x) for x in spec.train_dataset["input_ids"]) <= 64
        assert [r["kept"] for r in diet.log] == [96, 48] and diet.summary()["examples_trained"] == 144
        assert not list((folder / "runs" / "atis").glob("checkpoint-*"))  # nothing saved inside the timed run
        assert (folder / "runs" / "atis" / "diet" / "data_map.png").is_file()
        assert 0.0 <= namespace["metrics"]["eval_exact_match"] <= 1.0
    err = capfd.readouterr().err
    assert "LOAD REPORT" not in err and "UNEXPECTED" not in err
    first, second = (r["metrics"] for r in runs)
    assert first["eval_loss"] == second["eval_loss"] and first["eval_exact_match"] == second["eval_exact_match"]


@pytest.mark.slow
def test_the_plain_loop_example_runs_and_takes_the_planned_steps():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "plain_pytorch_loop.py"), "--train-size", "64", "--test-size", "32",
         "--epochs", "2"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    planned = int(re.search(r"planned optimizer steps: (\d+)", proc.stdout).group(1))
    assert planned == 2 + 1  # 64 examples in batches of 32, then the hardest 32
    assert f"optimizer steps taken: {planned}" in proc.stdout
    assert re.search(r"test accuracy: [01]\.\d{4}", proc.stdout)
