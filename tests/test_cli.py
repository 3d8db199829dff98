"""The command line checks every setting before loading data or a model: one line per bad setting
(the key, the value, what is allowed), exit status 2; other errors one line and status 1;
``--debug`` raises with the traceback instead. Flags are generated from the dataclass fields."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from datadiet.cli.main import DEMO_DEFAULTS, build_parser, demo_configs, main
from datadiet.cli.train import load_run_config
from datadiet.toolkit.experiment import RunConfig
from datadiet.toolkit.fields import ConfigError

REPO = Path(__file__).resolve().parents[1]
METHODS = ("full, random_static, random, static_el2n, forgetting, nlu_data_diets, infobatch, default, "
           "default_anneal")


@pytest.fixture
def data_root(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    return root


def write_config(tmp_path, text: str, data_root: Path) -> Path:
    config = tmp_path / "run.yaml"
    config.write_text(f"data_root: {data_root}\noutput_dir: {tmp_path / 'out'}\n{text}")
    return config


def errors_of(capsys) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("text, line", [
    ("epochs: '2'\n", "epochs: got '2' (a string: write it without quotes); allowed: an integer >= 1"),
    ("method: infobatch\nkeep: half\n",
     "keep: got 'half' (a string); allowed: a number in (0, 1], the kept fraction of pruned epochs"),
    ("method: infobatch\nkeep: 1.5\n", "keep: got 1.5; allowed: a number in (0, 1], the kept fraction of pruned epochs"),
    ("epoch: 3\n", "epoch: unknown key (did you mean 'epochs'?); allowed keys: batch_size, data_root, dataset, "
                   "dataset_options, diet_options, encoder, epochs, eval_split, keep, label_column, layers, "
                   "learning_rate, lr_scheduler, max_length, method, output_dir, scoring_batch_size, seed, "
                   "text_column, text_pair_column, train_size"),
    ("method: defualt\n", f"method: got 'defualt' (a string); allowed: one of {METHODS}"),
    ("learning_rate: 5e-4\n", "learning_rate: got '5e-4' (a string: YAML reads an exponent without a dot as text; "
                              "write e.g. 5.0e-4); allowed: a number > 0"),
    ("layers: true\n", "layers: got True; allowed: an integer >= 1, or null for all layers"),
    ("diet_options: {epsilonn: 0.1}\n", "diet_options: the diet of default with keep 0.5 and diet_options "
                                        "{'epsilonn': 0.1} cannot be built: method 'dynamic' does not use epsilonn"),
    ("diet_options: {keep: 0.3}\n", "diet_options: got {'keep': 0.3}; allowed: DataDiet options other than method, "
                                    "keep, seed, scoring_batch_size (set those at the top level of the config)"),
    ("diet_options: {rescore: sometimes}\n", "diet_options: the diet of default with keep 0.5 and diet_options "
                                             "{'rescore': 'sometimes'} cannot be built: unknown rescore policy "
                                             "'sometimes'; valid: all, stale, none"),
    ("epochs: 3\ndiet_options: {anneal_epochs: 3}\n", "diet_options: the diet of default with keep 0.5 and "
                                                      "diet_options {'anneal_epochs': 3} cannot be built: warm-up (1) + "
                                                      "annealing (3) epochs leave none of the 3 training epochs pruned"),
    ("dataset: snipz\n", "dataset: got 'snipz' (a string); allowed: a built-in dataset (atis, clinc150, clinc150_oos, "
                         "snips, sst2), an existing csv/tsv/json/jsonl file or folder, or hf:<repo_id>"),
])
def test_train_refuses_a_bad_setting_in_one_line_with_exit_2(tmp_path, data_root, capsys, text, line):
    config = write_config(tmp_path, text, data_root)
    assert main(["train", str(config)]) == 2
    err = errors_of(capsys)
    assert len(err) == 1 and err[0].startswith(f"datadiet train: {config}: {line}"), err
    assert not (tmp_path / "out").exists()  # refused before the run made its folder or loaded anything


def test_train_lists_every_bad_setting_at_once(tmp_path, data_root, capsys):
    config = write_config(tmp_path, "epochs: '2'\nkeep: 1.5\nmethod: infobatch\nbatch_sise: 8\n", data_root)
    assert main(["train", str(config)]) == 2
    err = [line.split(": ", 2)[2] for line in errors_of(capsys)]  # after "datadiet train: FILE: "
    assert [e.split(":")[0] for e in err] == ["batch_sise", "epochs", "keep"]


def test_train_file_errors_are_one_line(tmp_path, capsys):
    assert main(["train", str(tmp_path / "missing.yaml")]) == 2
    assert errors_of(capsys) == [f"datadiet train: {tmp_path / 'missing.yaml'}: the config file does not exist"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: [2\n")
    assert main(["train", str(bad)]) == 2
    err = errors_of(capsys)
    assert len(err) == 1 and err[0].startswith(f"datadiet train: {bad}: not valid YAML: ")
    bad.write_text("- epochs\n")
    assert main(["train", str(bad)]) == 2
    assert errors_of(capsys) == [f"datadiet train: {bad}: a config is a mapping of settings (key: value lines), got list"]


def test_debug_raises_with_the_traceback(tmp_path, data_root):
    config = write_config(tmp_path, "epochs: '2'\n", data_root)
    with pytest.raises(ConfigError, match="epochs: got '2'"):
        main(["--debug", "train", str(config)])
    with pytest.raises(ConfigError, match="epochs: got '2'"):
        main(["train", str(config), "--debug"])


def test_a_good_config_passes_the_checks(tmp_path, data_root):
    config = write_config(tmp_path, "dataset: atis\nmethod: infobatch\nkeep: 0.4\nepochs: 5\nlayers: null\n"
                                    "learning_rate: 1.0e-4\ndiet_options: {anneal_fraction: 0.2}\n", data_root)
    cfg, out = load_run_config(config)
    assert (cfg.dataset, cfg.method, cfg.keep, cfg.epochs, cfg.layers, cfg.learning_rate) == (
        "atis", "infobatch", 0.4, 5, None, 1e-4)
    assert out == tmp_path / "out"
    assert cfg.diet().strategy.prune_ratio == pytest.approx(0.6) and cfg.diet().strategy.anneal_fraction == 0.2


def test_a_run_time_error_is_one_line_with_exit_1(tmp_path, data_root, capsys):
    """The data root exists but holds no ATIS: found only when the run reads it."""
    config = write_config(tmp_path, "dataset: atis\nepochs: 2\n", data_root)
    assert main(["train", str(config)]) == 1
    err = errors_of(capsys)
    assert len(err) == 1 and err[0].startswith("datadiet train: FileNotFoundError: ") and "--debug" in err[0], err


@pytest.mark.parametrize("argv, line", [
    (["--keep", "1.5"], "keep: got 1.5; allowed: a number in (0, 1], the kept fraction of pruned epochs"),
    (["--method", "infobatch", "--keep", "1.5"], "keep: got 1.5; allowed: a number in (0, 1]"),
    (["--epochs", "0"], "epochs: got 0; allowed: an integer >= 1"),
    (["--lr", "-1"], "learning_rate: got -1.0; allowed: a number > 0"),
    (["--dataset", "snipz"], "dataset: got 'snipz' (a string); allowed: a built-in dataset"),
])
def test_demo_refuses_bad_flags_before_running(tmp_path, data_root, capsys, argv, line):
    out = tmp_path / "demo"
    assert main(["demo", *argv, "--out", str(out), "--data-root", str(data_root)]) == 2
    err = errors_of(capsys)
    assert len(err) == 1 and err[0].startswith("datadiet demo: " + line), err
    assert not out.exists()


def test_demo_type_errors_are_argparse_errors(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--epochs", "two"])
    assert exit_.value.code == 2
    assert "argument --epochs: invalid integer value: 'two'" in capsys.readouterr().err


def test_demo_flags_are_the_run_config_fields(data_root):
    args = build_parser().parse_args(["demo", "--lr", "1e-3", "--layers", "all", "--model", "m", "--keep", "0.3",
                                      "--method", "infobatch", "--data-root", str(data_root)])
    full, pruned = demo_configs(args)
    assert (full.method, pruned.method, pruned.keep) == ("full", "infobatch", 0.3)
    assert (pruned.learning_rate, pruned.layers, pruned.encoder) == (1e-3, None, "m")
    # the demo's own defaults; the rest are RunConfig's
    assert (pruned.epochs, pruned.batch_size, pruned.max_length) == (DEMO_DEFAULTS["epochs"], RunConfig.batch_size,
                                                                     RunConfig.max_length)
    assert (args.lr, args.model) == (1e-3, "m")  # the names datadiet.cli.demo reads


@pytest.mark.slow
def test_console_errors_come_without_a_traceback_unless_debug(tmp_path, data_root):
    config = write_config(tmp_path, "keep: half\nmethod: infobatch\n", data_root)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "datadiet.cli.main", "train", str(config)]
    quiet = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr
    assert quiet.stderr.strip() == (f"datadiet train: {config}: keep: got 'half' (a string); allowed: a number in "
                                    "(0, 1], the kept fraction of pruned epochs")
    loud = subprocess.run([*cmd, "--debug"], capture_output=True, text=True, env=env, timeout=300)
    assert loud.returncode == 1 and "Traceback" in loud.stderr and "ConfigError: " in loud.stderr


def test_the_benchmark_grid_is_no_command_of_the_package_but_runs_from_the_checkout(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:  # an installed package has no benchmarks/ to run
        main(["bench", "--quick"])
    assert exit_info.value.code == 2 and "invalid choice: 'bench'" in capsys.readouterr().err
    cmd = [sys.executable, "-m", "benchmarks.grid", "--quick", "--datasets", "atis", "--out", str(tmp_path),
           "--dry-run"]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert done.returncode == 0, done.stderr
    assert [line.split()[-1] for line in done.stdout.splitlines()] == [
        "atis|full|1.0|0", "atis|random|0.5|0", "atis|nlu_data_diets|0.5|0", "atis|default|0.5|0"]


def test_plan_prints_the_per_epoch_plan_without_a_model(tmp_path, data_root, capsys):
    cfg = tmp_path / "plan.yaml"  # the real SNIPS training set (its size only is read)
    cfg.write_text("dataset: snips\nmethod: nlu_data_diets\nkeep: 0.5\nepochs: 4\ntrain_size: 100\n")
    assert main(["plan", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "100 examples x 4 epochs" in out
    assert "    1  prune          50   0.50       100" in out  # the paper protocol re-scores all 100
    ratio = (1 + 3 * (0.5 + 0.18)) / 4
    assert f"predicted time ratio {ratio:.2f}" in out
    bad = write_config(tmp_path, "dataset: snips\nkeep: 3\n", data_root)
    assert main(["plan", str(bad)]) == 2
