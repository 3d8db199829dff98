"""The demo's parts that need no training: thread choice, the training clock, the estimate, the
time-to-accuracy reading and the plot."""

from __future__ import annotations

import os

import pytest

from datadiet.cli.demo import EpochClock, ThreadGovernor, estimate_seconds, first_time_at, plot_demo, seed_stats
from datadiet.cli.threads import MAX_THREADS, available_cores, choose_threads, physical_cores


@pytest.mark.parametrize("cores,load,expected", [
    (2, 0.2, 2),     # idle: every core
    (2, 0.9, 1),     # one core busy
    (2, 6.5, 1),     # oversubscribed: never fewer than 1
    (16, 12.0, 4),
    (64, 0.0, MAX_THREADS),
])
def test_threads_are_the_free_cores(cores, load, expected):
    threads, reason = choose_threads(cores=cores, load=load)
    assert threads == expected
    assert f"{cores} cores" in reason and f"load average {load:.1f}" in reason
    assert ("would make every step wait" in reason) == (threads < cores)


def test_hyperthreads_of_one_core_count_once():
    info = "".join(f"processor\t: {cpu}\nphysical id\t: 0\ncore id\t\t: {cpu % 2}\n\n" for cpu in range(4))
    assert physical_cores({0, 1, 2, 3}, info) == 2      # cpus 0/2 and 1/3 are siblings
    assert physical_cores({0, 2}, info) == 1
    assert physical_cores({0, 1, 2}, "") == 3           # no topology: logical cpus
    assert 1 <= available_cores() <= (os.cpu_count() or 1)


def test_threads_asked_for_are_used_and_checked():
    assert choose_threads(3, cores=2, load=5.0) == (3, "as asked")
    with pytest.raises(ValueError, match="threads must be >= 1"):
        choose_threads(0)


class Clock:
    """A fake perf_counter, advanced by hand."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class State:
    epoch = 0.0


def test_the_training_clock_leaves_out_the_evaluations():
    clock = Clock()
    seen = []
    cb, state = EpochClock(seen.append, clock=clock), State()
    cb.on_train_begin(None, state, None)
    for epoch, (train, evaluate) in enumerate([(10.0, 3.0), (6.0, 3.0)], start=1):
        clock.now += train
        state.epoch = float(epoch)
        cb.on_epoch_end(None, state, None)
        clock.now += evaluate
        cb.on_evaluate(None, state, None, metrics={"eval_exact_match": 0.5 + epoch / 10, "eval_loss": 1.0})
    clock.now += 0.5
    cb.on_train_end(None, state, None)
    assert [p["seconds"] for p in cb.points] == [10.0, 16.0]
    assert [p["epoch"] for p in cb.points] == [1, 2] and cb.points[1]["metrics"] == {"exact_match": 0.7}
    assert cb.seconds == 16.5 and seen == cb.points


def test_the_estimate_counts_both_runs_evaluations_and_rescoring():
    # 2 epochs, N = 100, keep 0.5: full 200 + pruned 100 + 50 trained; 2 x 2 x 10 evaluated; 10 re-scored
    assert estimate_seconds(0.01, n_train=100, n_eval=10, epochs=2, keep=0.5) == pytest.approx(
        0.01 * (1.15 * 350 + (40 + 10) / 2))


def test_the_estimate_adds_the_peer_run_at_the_pruned_runs_examples():
    # the peer trains as many examples as the pruned run (150) and evaluates after each of its 2 epochs
    without = estimate_seconds(0.01, n_train=100, n_eval=10, epochs=2, keep=0.5)
    assert estimate_seconds(0.01, n_train=100, n_eval=10, epochs=2, keep=0.5, peer=True) == pytest.approx(
        without + 0.01 * (1.15 * 150 + 2 * 2 * 10 / 2))


def test_the_peer_run_is_named_by_the_epochs_it_trained():
    from datadiet.cli.demo import run_name

    assert run_name({"method": "full", "keep": None, "time_budget": 0.57, "epochs_of_data": 5.7}) == \
        "full data, 5.7 epochs (same time)"
    assert run_name({"method": "full", "keep": None}) == "full data"
    assert run_name({"method": "default", "keep": 0.5, "time_budget": None}) == "default (keep 0.5)"


def test_first_time_at_reads_the_first_epoch_at_the_target():
    curve = [{"seconds": s, "metrics": {"accuracy": a}} for s, a in [(5, 0.6), (9, 0.8), (12, 0.79), (15, 0.85)]]
    assert first_time_at(curve, "accuracy", 0.8) == 9
    assert first_time_at(curve, "accuracy", 0.9) is None


def test_plot_has_a_curve_per_run(tmp_path):
    def run(method, keep, points, kept):
        curve = [{"epoch": i + 1, "seconds": s, "metrics": {"exact_match": a}} for i, (s, a) in enumerate(points)]
        return {"method": method, "keep": keep, "curve": curve, "metrics": curve[-1]["metrics"], "kept_per_epoch": kept}

    records = [run("full", None, [(10, 0.6), (20, 0.8)], [100, 100]), run("default", 0.5, [(10, 0.6), (15, 0.79)], [100, 50])]
    path = plot_demo(records, "exact_match", tmp_path / "demo.png", "title")
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000
    peer = {**run("full", None, [(10, 0.6), (15, 0.7)], [100, 50]), "time_budget": 0.75, "epochs_of_data": 1.5}
    three = plot_demo(records + [peer], "exact_match", tmp_path / "demo3.png", "title")
    assert three.stat().st_size > path.stat().st_size  # a third curve and a third bar series


def test_seed_statistics_are_quoted_only_for_the_setting_they_were_measured_in():
    from datadiet.cli.main import build_parser

    args = build_parser().parse_args(["demo"])
    assert seed_stats(args)["seeds"] == "0, 1, 2"  # the defaults are the measured setting
    for changed in (["--train-size", "500"], ["--epochs", "3"], ["--keep", "0.3"], ["--method", "random"]):
        assert seed_stats(build_parser().parse_args(["demo", *changed])) is None


def test_the_governor_counts_other_jobs_only_and_follows_them():
    import torch

    from datadiet.cli.threads import available_cores

    every = min(available_cores(), MAX_THREADS)
    before = torch.get_num_threads()
    # the load average at each epoch start: this run's own threads plus the other jobs' load
    loads, said = iter([every + 0.0, every + 5.0, 1 + 0.0]), []
    gov, state = ThreadGovernor(said.append, load=lambda: next(loads)), State()
    try:
        torch.set_num_threads(every)
        gov.on_epoch_begin(None, state, None)    # only our own load: keep every core
        assert torch.get_num_threads() == every and not gov.changes
        gov.on_epoch_begin(None, state, None)    # 5 other jobs: down to 1 thread
        assert torch.get_num_threads() == 1 and said[-1].startswith(f"  torch threads {every} -> 1")
        gov.on_epoch_begin(None, state, None)    # the others are gone (the 1.0 is our own thread): back up
        assert torch.get_num_threads() == every
        assert [c["threads"] for c in gov.changes] == ([1, every] if every > 1 else [])
        fixed = ThreadGovernor(load=lambda: 50.0, fixed=True)   # --threads given: never changed
        fixed.on_epoch_begin(None, state, None)
        assert torch.get_num_threads() == every and not fixed.changes
    finally:
        torch.set_num_threads(before)
