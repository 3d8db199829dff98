"""The GSM8K benchmark's report: every run, the seeds pooled per method (mean and sample std), P3's
epochs, the overlap of P3's selections with and without scoring passes, and a plot of test NLL
against the time ratio (``frontier.png``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def time_ratio(run: dict, runs: list[dict]) -> float:
    """``run``'s total seconds over those of the ``full`` run of the same seed (the mean of all full
    runs when that seed has none; NaN without any)."""
    same = [r["seconds"]["total"] for r in runs if r["method"] == "full" and r["seed"] == run["seed"]]
    ref = same or [r["seconds"]["total"] for r in runs if r["method"] == "full"]
    return run["seconds"]["total"] / float(np.mean(ref)) if ref else float("nan")


def cpu_time_ratio(run: dict, runs: list[dict]) -> float:
    """``run``'s process CPU seconds (training + scoring + selection, one torch thread) over those of
    the ``full`` run of the same seed: the time on idle cores, robust to other jobs on the machine.
    NaN where either run did not record them (runs from before the runner did)."""
    cpu = run["seconds"].get("cpu_total")
    ref = [r["seconds"].get("cpu_total") for r in runs if r["method"] == "full" and r["seed"] == run["seed"]]
    return cpu / ref[0] if cpu and ref and ref[0] else float("nan")


def token_ratio(run: dict, runs: list[dict]) -> float:
    """Tokens trained on (forward + backward) over those of full data: the machine-independent cost."""
    ref = [r["trained_tokens"] for r in runs if r["method"] == "full" and "trained_tokens" in r]
    return run["trained_tokens"] / float(np.mean(ref)) if ref and "trained_tokens" in run else float("nan")


def _mean_std(values: list) -> tuple[float, float]:
    """Mean and sample std of the finite values (std NaN for a single value); NaN, NaN for none."""
    v = np.array([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if not len(v):
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else float("nan")


def _pm(mean: float, std: float, fmt: str) -> str:
    if not np.isfinite(mean):
        return "-"
    return format(mean, fmt) + ("" if not np.isfinite(std) else " ± " + format(std, fmt))


def pooled(runs: list[dict]) -> list[dict]:
    """One row per method label (in first-run order): seeds, and the mean / std of test NLL, exact
    match, time ratio, token ratio and scoring share over them."""
    rows = []
    for label in dict.fromkeys(r["method"] for r in runs):
        mine = [r for r in runs if r["method"] == label]
        row = {"method": label, "seeds": sorted(r["seed"] for r in mine)}
        row["nll"] = _mean_std([r["test_nll"] for r in mine])
        row["exact_match"] = _mean_std([r["test_exact_match"] for r in mine])
        row["time_ratio"] = _mean_std([time_ratio(r, runs) for r in mine])
        row["cpu_time_ratio"] = _mean_std([cpu_time_ratio(r, runs) for r in mine])
        row["predicted"] = _mean_std([r.get("predicted_time_ratio") for r in mine])
        row["token_ratio"] = _mean_std([token_ratio(r, runs) for r in mine])
        row["scoring_share"] = _mean_std([r["seconds"]["score"] / r["seconds"]["total"] for r in mine])
        rows.append(row)
    return rows


def _em(em, n) -> str:
    return "" if em is None else f"{em:.1%} ({round(em * n)}/{n})"


def _em_n(cfg: dict) -> int:
    """The questions exact match is measured on: ``--exact-match``, else every test question."""
    n = cfg.get("exact_match")
    return cfg["test"] if n is None else min(n, cfg["test"])


def _trainer_text(cfg: dict) -> str:
    if cfg.get("trainer", "hf") == "sft":
        return ("`DataDietSFTTrainer` (TRL's SFTTrainer: a prompt/completion dataset, TRL's tokenization, collator "
                "and completion-only loss, LoRA via `peft_config=`)")
    return "`DataDietTrainer` (the transformers Trainer)"


def summarize(result: dict) -> str:
    """The markdown report of ``result`` (the ``results.json`` object)."""
    runs, cfg = result["runs"], result["config"]
    tuning = (f"LoRA (r {cfg['lora_r']}, alpha {cfg['lora_alpha']}, every linear layer; base weights frozen)"
              if cfg.get("finetune") == "lora" else "all weights")
    lines = [
        f"# GSM8K: P3 vs the default diet vs random vs full data (SmolLM2-135M-Instruct, {result['machine'].get('device', 'cpu')})",
        "",
        f"Command: `{result['command']}`",
        "",
        f"Pool: {result.get('pool_size', cfg['pool'])} GSM8K train examples (random sample, data seed {cfg['data_seed']}, "
        f"at most {cfg['max_length']} tokens, {result.get('pool_tokens_mean', float('nan')):.0f} on average); "
        f"{_trainer_text(cfg)}, fine-tuning {tuning}, {cfg['epochs']} epochs, batch "
        f"{cfg['batch_size']}{', grouped by length' if cfg.get('group_by_length') else ''}, AdamW lr {cfg['lr']} "
        f"({cfg.get('lr_scheduler', 'constant')}), grad clip 1.0; pruned methods keep {cfg['keep']:.0%} "
        "of the pool per epoch unless written NAME@KEEP or NAME@time=OTHER (fitted to OTHER's time, seed by seed; "
        "full@time=: full data for fewer epochs, the last one a random fraction of the pool). Test: the first "
        f"{cfg['test']} GSM8K test questions; NLL per solution token (teacher-forced, EOS included) and exact match "
        f"of the final number with greedy decoding (on the first {_em_n(cfg)} questions, batched, at most "
        f"{cfg['max_new_tokens']} new tokens). Time = "
        "training + scoring + selection (evaluation excluded), as a ratio to the full-data run of the same seed; "
        "CPU time = the same in process CPU seconds (one torch thread: the time on idle cores, robust to other jobs "
        "beside the run; '-' for runs recorded before the runner measured it); "
        "tokens = tokens trained on (forward and backward) over full data's.",
        "",
    ]
    rows = pooled(runs)
    if rows:
        lines += ["## Seeds pooled (mean ± sample std)", "",
                  "| method | seeds | test NLL | exact match | time / full | CPU time / full | predicted | tokens / full | "
                  "scoring share |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for row in rows:
            em_mean, em_std = row["exact_match"]
            lines.append(
                f"| {row['method']} | {','.join(map(str, row['seeds']))} | {_pm(*row['nll'], '.4f')} | "
                f"{_pm(100 * em_mean, 100 * em_std, '.1f')}% | {_pm(*row['time_ratio'], '.2f')} | "
                f"{_pm(*row['cpu_time_ratio'], '.2f')} | "
                f"{_pm(row['predicted'][0], float('nan'), '.2f')} | "
                f"{_pm(*row['token_ratio'], '.2f')} | {_pm(100 * row['scoring_share'][0], 100 * row['scoring_share'][1], '.1f')}% |")
        lines += ["", "Predicted: what the diet's plan (`DataDiet.plan`) predicted before training (examples trained "
                  "plus 0.18 per example scored, over full data's). Differences smaller than the seed std are ties. "
                  "![test NLL against time](frontier.png)", ""]
    lines += ["## Every run", "",
              "| method | seed | examples/epoch | steps | test NLL | exact match | train s | score s | select s | total s | "
              "CPU s | scoring share | time / full | CPU time / full | tokens / full |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    base = result.get("base")
    if base:
        lines.append(f"| base model (no fine-tuning) | - | - | 0 | {base['nll']:.4f} | "
                     f"{_em(base['exact_match'], _em_n(cfg))} | - | - | - | - | - | - | - | - | - |")
    for r in runs:
        s = r["seconds"]
        lines.append(
            f"| {r['method']} | {r['seed']} | {r['budget_per_epoch']} | {r['steps']} | {r['test_nll']:.4f} | "
            f"{_em(r['test_exact_match'], _em_n(cfg))} | {s['train']:.0f} | {s['score']:.0f} | {s['select']:.2f} | "
            f"{s['total']:.0f} | {_num(s.get('cpu_total'), '.0f')} | {s['score'] / s['total']:.1%} | "
            f"{time_ratio(r, runs):.2f} | {_num(cpu_time_ratio(r, runs), '.2f')} | {token_ratio(r, runs):.2f} |")
    p3 = [r for r in runs if r["method"].startswith("p3")]
    if p3:
        lines += ["", f"P3 per epoch ({p3[0]['method']}, seed {p3[0]['seed']}): percentile, eligible examples, mean "
                  "difficulty of the pool and of the selection.", "",
                  "| epoch | percentile | eligible | pool mean d | selected mean d | train loss |",
                  "|---:|---:|---:|---:|---:|---:|"]
        for e in p3[0]["epochs"]:
            cells = [_num(e.get("percentile"), ".1f"), _num(e.get("eligible"), "d"), _num(e.get("difficulty_mean"), ".4f"),
                     _num(e.get("selected_difficulty_mean"), ".4f"), _num(e.get("train_loss"), ".4f")]
            lines.append(f"| {e['epoch']} | " + " | ".join(cells) + " |")
        lines += selection_overlap(runs)
    failed = [f for f in result.get("failed", []) if (f["method"], f["seed"]) not in {(r["method"], r["seed"]) for r in runs}]
    if failed:
        lines += ["", "Failed (retried when the benchmark is resumed): "
                  + "; ".join(f"{f['method']} seed {f['seed']} at {f['at']}: {f['error']}" for f in failed)]
    lines += ["", *(f"- {note}" for note in result.get("notes", []))]
    return "\n".join(lines) + "\n"


def _num(value, spec: str) -> str:
    """``value`` formatted, or ``-`` where an epoch has none (a random first epoch has no percentile)."""
    return "-" if value is None or (isinstance(value, float) and np.isnan(value)) else format(value, spec)


CHEAPER_P3 = ("p3_free", "p3_cold")
"""The P3 runs the report compares with ``p3`` (a scoring pass over the pool every epoch)."""


def selection_overlap(runs: list) -> list:
    """Rows of tables comparing each seed's first ``p3`` run with its ``p3_free`` and ``p3_cold`` runs,
    epoch by epoch: examples scored by a pass and the shared fraction of the selections (|A & B| / |A|)."""
    lines = []
    for seed in sorted({r["seed"] for r in runs}):
        first = {}
        for r in runs:
            if r["seed"] == seed and r["method"] in ("p3", *CHEAPER_P3):
                first.setdefault(r["method"], r)
        for other in CHEAPER_P3:
            if "p3" not in first or other not in first:
                continue
            lines += ["", f"P3 full pass every epoch (`p3`) vs `{other}`, seed {seed}: examples scored by a pass, "
                      "the selections' overlap (shared / budget), mean pool difficulty.", "",
                      f"| epoch | scored p3 | scored {other} | overlap | pool mean d p3 | pool mean d {other} |",
                      "|---:|---:|---:|---:|---:|---:|"]
            for a, b in zip(first["p3"]["epochs"], first[other]["epochs"]):
                shared = len(set(a["example_ids"]) & set(b["example_ids"])) / max(len(a["example_ids"]), 1)
                lines.append(f"| {a['epoch']} | {a['scored']} | {b['scored']} | {shared:.0%} | "
                             f"{_num(a.get('difficulty_mean'), '.4f')} | {_num(b.get('difficulty_mean'), '.4f')} |")
    return lines


def plot_frontier(result: dict, path: Path) -> None:
    """Test NLL (mean ± std over seeds) against the time ratio, one point per method label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in pooled(result["runs"]) if np.isfinite(r["time_ratio"][0])]
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for row in rows:
        ax.errorbar(row["time_ratio"][0], row["nll"][0], xerr=row["time_ratio"][1], yerr=row["nll"][1],
                    fmt="o", capsize=3, label=f"{row['method']} ({len(row['seeds'])} seeds)")
    ax.set_xlabel("time / full data (same seed)")
    ax.set_ylabel("test NLL per solution token (lower is better)")
    ax.set_title("GSM8K, SmolLM2-135M")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def save(result: dict, out: Path) -> None:
    """``results.json``, ``results.md`` and ``frontier.png`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "results.md").write_text(summarize(result))
    plot_frontier(result, out / "frontier.png")
