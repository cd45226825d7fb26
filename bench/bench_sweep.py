"""Pruned TPE vs plain random search, same number of trials, one run (issue 7's efficiency target).

Target: the pruned TPE sweep reaches a validation loss within 1% of the random search's best
while spending at most 40% of the random search's training tokens.

Both sweeps use the same search space, data, model, number of trials and trial length, through the
product's own path (``studies.sweeps``: SQLite RDB storage, a worker, the LoRA objective with
``on_eval`` reporting). Random search runs every trial to the end (no pruner); the TPE sweep runs
with the product's default sweep settings (``SweepConfig``: TPE start-up trials, the pruner and its
reduction factor; the first rung is the first validation pass, as ``advisor sweep start`` sets it).
Tokens are counted by the training loop (``tokens_seen``), pruned trials included. "Best so far"
counts completed trials only (a pruned trial leaves no adapter). The ratio: TPE's cumulative tokens
at the end of its first completed trial within 1% of random's final best, over random's total.

One comparison per seed (random search with sampler seed S, TPE with S+1), so that a pass is not
one lucky draw; the report gives each and the median ratio.

    .venv/bin/python bench/bench_sweep.py                       # SmolLM2 on the tldr pairs, seeds 0, 10, 20
    .venv/bin/python bench/bench_sweep.py --seeds 0             # one comparison
    .venv/bin/python bench/bench_sweep.py --model PATH --pairs data/sample/pairs.jsonl   # any model/data

Writes bench/results/sweeps.md, bench/results/sweeps_curves.png and bench/results/sweeps.json.

Issue 21 (``--priors``): the TPE side starts from what is known (studies/sweeps/priors.py: the plan's
recommended configuration and published defaults as enqueued first trials, after a learning-rate range
test whose tokens count against it); random search stays cold; target ratio <= 50%. ~30 CPU-minutes per
seed pair on an idle 2-core machine:

    nice -n 19 .venv/bin/python bench/bench_sweep.py --priors --seeds 0,10,20   # -> bench/results/sweeps_priors.{md,json} + _curves.png
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The worker salts its sampler seed with its launch index (else its pid): pin it, so that a seed
# pair always replays the same trials.
os.environ["ADVISOR_SWEEP_WORKER_INDEX"] = "0"

SHARED_PAIRS = Path("/work/shared/data/tldr/pairs.jsonl")
SPACE = {
    "learning_rate": {"low": 1.0e-4, "high": 1.0e-2, "log": True},
    "rank": [4, 8, 16],
    "alpha_ratio": [1.0, 2.0],
    "dropout": {"low": 0.0, "high": 0.1},
    "target_modules": [["q_proj", "v_proj"], "all-linear"],
}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_sweep(ws, name: str, args, sampler: str, pruner: str, seed: int, priors: bool = False,
              lr_range_steps: int = 0) -> tuple[list[dict], float, dict]:
    """One sweep through the product's path; TPE's and the pruner's settings are the product defaults
    (``SweepConfig``) unless a flag overrides them. ``priors``: seed the study (studies/sweeps/priors.py),
    after a learning-rate range test of ``lr_range_steps`` steps whose tokens count as a first row."""
    from studies.sweeps.config import SweepConfig
    from studies.sweeps.study import create_or_resume, load_study
    from studies.sweeps.worker import run_worker

    tuned = {}
    if sampler == "tpe":
        tuned = {k: v for k, v in {"n_startup_trials": args.startup, "reduction_factor": args.reduction_factor}.items() if v is not None}
    config = SweepConfig(
        name=name,
        objective="lora",
        space=SPACE,
        base={
            "model": args.model,
            "max_steps": args.steps,
            "eval_every": args.eval_every,
            "micro_batch_size": args.micro_batch,
            "max_length": args.max_length,
            "eval_examples": args.val_examples,
            "save_every": 0,
            "warmup_ratio": 0.0,
            "device": "cpu",
            "seed": 0,
            **({"threads": args.threads} if args.threads else {}),
        },
        data={"split": args.split_version, "train_limit": args.train_examples, "val_limit": args.val_examples},
        sampler=sampler,
        pruner=pruner,
        n_trials=args.trials,
        # What `advisor sweep start` derives from a plan: the first rung is the first validation pass.
        min_resource=args.eval_every,
        max_resource=args.steps,
        seed=seed,
        heartbeat_interval=30,
        evaluate=False,
        **tuned,
    )
    started = time.perf_counter()
    lr_range = None
    if priors and lr_range_steps:
        from studies.sweeps.priors import learn_lr_range

        lr_range = learn_lr_range(config, ws, steps=lr_range_steps)
    create_or_resume(config, ws.optuna_url, lr_range=lr_range, priors=priors)
    run_worker(ws.optuna_url, name, ws)
    wall = time.perf_counter() - started
    study, _ = load_study(ws.optuna_url, name, heartbeat=False)
    rows = []
    if lr_range is not None:
        rows.append({"number": "range test", "state": "RANGE_TEST", "value": None, "last_intermediate": None, "steps": len(lr_range.losses),
                     "tokens": lr_range.tokens, "seconds": None, "params": {"learning_rate": lr_range.best_lr}, "curve": {}, "reason": ""})
    for t in sorted(study.trials, key=lambda t: t.number):
        rows.append({
            "number": t.number,
            "state": t.state.name,
            "value": t.value,
            "last_intermediate": list(t.intermediate_values.values())[-1] if t.intermediate_values else None,
            "steps": max(t.intermediate_values) if t.intermediate_values else 0,
            "tokens": int(t.user_attrs.get("tokens", 0) or 0),
            "seconds": t.user_attrs.get("seconds"),
            "params": dict(t.params),
            "prior": t.user_attrs.get("prior", ""),
            "curve": {int(k): v for k, v in t.intermediate_values.items()},
            "reason": t.user_attrs.get("pruned_reason") or t.user_attrs.get("fail_reason") or "",
        })
    print(f"{name}: {len(rows)} trials in {wall:.0f} s", flush=True)
    settings = {k: getattr(config, k) for k in ("sampler", "pruner", "seed", "n_startup_trials", "startup_to_first_rung", "min_resource", "max_resource", "reduction_factor")}
    settings["priors"] = priors
    settings["lr_range"] = lr_range.to_dict() if lr_range is not None else None
    return rows, wall, settings


def curve(rows: list[dict]) -> list[tuple[int, float | None]]:
    """(cumulative tokens, best completed value so far) after each trial, in trial order."""
    out, spent, best = [], 0, None
    for r in rows:
        spent += r["tokens"]
        if r["state"] == "COMPLETE" and r["value"] is not None:
            best = r["value"] if best is None else min(best, r["value"])
        out.append((spent, best))
    return out


def compare(random_rows: list[dict], tpe_rows: list[dict], target_ratio: float = 0.40) -> dict:
    """The target's arithmetic for one seed pair (see the module docstring)."""
    random_curve, tpe_curve = curve(random_rows), curve(tpe_rows)
    random_tokens, random_best = random_curve[-1]
    target = random_best * 1.01 if random_best is not None else None
    reach_tokens, reach_value = next(
        ((tok, best) for tok, best in tpe_curve if best is not None and target is not None and best <= target), (None, None)
    )
    tpe_tokens, tpe_best = tpe_curve[-1]
    ratio = reach_tokens / random_tokens if reach_tokens is not None and random_tokens else None
    return {
        "random_curve": random_curve, "tpe_curve": tpe_curve,
        "random_tokens": random_tokens, "random_best": random_best, "target_loss": target,
        "tpe_tokens": tpe_tokens, "tpe_best": tpe_best,
        "tokens_to_reach_target": reach_tokens, "value_at_reach": reach_value,
        "ratio": ratio, "tpe_total_ratio": tpe_tokens / random_tokens if random_tokens else None,
        "passed": ratio is not None and ratio <= target_ratio,
    }


def main() -> int:
    from studies.sweeps.config import SweepConfig

    defaults = SweepConfig(name="defaults")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", default=str(SHARED_PAIRS if SHARED_PAIRS.is_file() else ROOT / "data/sample/pairs.jsonl"))
    parser.add_argument("--model", default=None, help="base model (default: SmolLM2-135M-Instruct)")
    parser.add_argument("--trials", type=int, default=12, help="trials on each side")
    parser.add_argument("--startup", type=int, default=None, help=f"TPE random start-up trials (default: the product's, {defaults.n_startup_trials})")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--eval-every", type=int, default=2)
    parser.add_argument("--reduction-factor", type=int, default=None, help=f"pruner reduction factor (default: the product's, {defaults.reduction_factor})")
    parser.add_argument("--micro-batch", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--train-examples", type=int, default=256)
    parser.add_argument("--val-examples", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seeds", default="0,10,20",
                        help="comma-separated seeds; each gives one comparison: random search with sampler seed S, TPE with seed S+1")
    parser.add_argument("--workspace", default=None, help="keep the workspace here (default: a temp folder, removed)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--priors", action="store_true",
                        help="issue 21: seed the TPE sweep with the plan's and published configurations (studies/sweeps/priors.py); random search stays cold")
    parser.add_argument("--lr-range-steps", type=int, default=16, help="with --priors: learning-rate range test steps before the TPE sweep (0: none); its tokens count")
    parser.add_argument("--target", type=float, default=None, help="pass when the ratio is at most this (default 0.40; 0.50 with --priors)")
    args = parser.parse_args()
    target = args.target if args.target is not None else (0.50 if args.priors else 0.40)
    prefix = "sweeps_priors" if args.priors else "sweeps"
    seeds = [int(x) for x in args.seeds.split(",") if x.strip()]

    import statistics

    import torch

    from core.workspace import Workspace
    from studies.data.datasets import load_pairs
    from studies.data.splits import make_split, save_split
    from tuning.models import load_base_model

    tmp = None
    if args.workspace:
        ws = Workspace.resolve(args.workspace).ensure()
    else:
        tmp = tempfile.mkdtemp(prefix="bench-sweep-")
        ws = Workspace.resolve(tmp).ensure()
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    loaded = load_base_model(args.model, ws)  # converts SmolLM2 once into the workspace
    model_name = loaded.name
    del loaded
    dataset = load_pairs(args.pairs)
    split = make_split(dataset, seed=0)
    save_split(ws, split)
    args.split_version = split.version
    print(f"setup {time.perf_counter() - t0:.0f} s; split {split.version}: {len(split.train)} train / {len(split.validation)} validation", flush=True)

    # One seed pair after the other (random search, then TPE), so that an interrupted run still has
    # whole comparisons. With --workspace, a finished study is resumed as it is (its budget is spent),
    # so a re-run with other TPE settings only runs the new TPE sweeps; their names carry the settings.
    tag = (f"{defaults.pruner}-n{args.startup if args.startup is not None else defaults.n_startup_trials}"
           f"-rf{args.reduction_factor or defaults.reduction_factor}{'-x' if defaults.startup_to_first_rung else ''}"
           f"{f'-priors-lr{args.lr_range_steps}' if args.priors else ''}")
    runs = []
    for seed in seeds:
        random_rows, random_wall, random_settings = run_sweep(ws, f"random-s{seed}", args, sampler="random", pruner="none", seed=seed)
        # Another seed: TPE's start-up trials must not replay random search's first points.
        tpe_rows, tpe_wall, tpe_settings = run_sweep(ws, f"tpe-s{seed + 1}-{tag}", args, sampler="tpe", pruner=defaults.pruner, seed=seed + 1,
                                                     priors=args.priors, lr_range_steps=args.lr_range_steps)
        result = compare(random_rows, tpe_rows, target)
        result.update({
            "seed_random": seed, "seed_tpe": seed + 1,
            "random": {"rows": random_rows, "wall_s": random_wall, "settings": random_settings},
            "tpe": {"rows": tpe_rows, "wall_s": tpe_wall, "settings": tpe_settings},
        })
        runs.append(result)
        r = result["ratio"]
        print(f"seeds {seed}/{seed + 1}: random best {result['random_best']:.4f} ({result['random_tokens']:,} tokens); "
              f"TPE best {result['tpe_best']:.4f}; ratio {'never' if r is None else f'{r:.0%}'} -> {'PASS' if result['passed'] else 'FAIL'}", flush=True)
    load_after = os.getloadavg()
    tpe_settings = runs[0]["tpe"]["settings"]
    ratios = [r["ratio"] if r["ratio"] is not None else float("inf") for r in runs]
    median = statistics.median(ratios)
    passes = sum(r["passed"] for r in runs)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(runs), figsize=(4.6 * len(runs), 4.0), squeeze=False, sharey=True)
    for ax, run in zip(axes[0], runs):
        for label, c in (("random search (no pruning)", run["random_curve"]), ("TPE + " + tpe_settings["pruner"].replace("_", " ") + (" + priors" if args.priors else ""), run["tpe_curve"])):
            pts = [(tok, best) for tok, best in c if best is not None]
            if pts:
                ax.step([p[0] for p in pts], [p[1] for p in pts], where="post", marker="o", markersize=3, label=label)
        if run["target_loss"] is not None:
            ax.axhline(run["target_loss"], color="grey", linestyle="--", linewidth=1, label="random best + 1%")
        if run["random_tokens"]:
            ax.axvline(target * run["random_tokens"], color="red", linestyle=":", linewidth=1, label=f"{target:.0%} of random's tokens")
        verdict = "never" if run["ratio"] is None else f"{run['ratio']:.0%}"
        ax.set_title(f"seeds {run['seed_random']}/{run['seed_tpe']}: {verdict} ({'pass' if run['passed'] else 'fail'})", fontsize=9)
        ax.set_xlabel("training tokens spent (cumulative)")
    axes[0][0].set_ylabel("best validation loss so far")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{model_name}: {args.trials} trials each, {args.steps} steps per trial", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / f"{prefix}_curves.png", dpi=110)

    summary = {
        "model": model_name,
        "pairs": args.pairs,
        "split": split.version,
        "space": SPACE,
        "settings": {k: v for k, v in vars(args).items() if k not in ("out",)},
        "tpe_settings": tpe_settings,
        "definition": "ratio = cumulative TPE training tokens (pruned trials included, in trial order) at the end of the first "
                      "COMPLETE trial whose value is <= 1.01 x random search's best, divided by random search's total tokens",
        "runs": [{k: v for k, v in r.items() if k not in ("random_curve", "tpe_curve")} | {"random_curve": r["random_curve"], "tpe_curve": r["tpe_curve"]} for r in runs],
        "median_ratio": None if median == float("inf") else median,
        "passes": passes,
        "passed_all": passes == len(runs),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "torch": torch.__version__, "loadavg_before": load_before, "loadavg_after": load_after},
    }
    (out / f"{prefix}.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")

    def table(rows: list[dict]) -> str:
        lines = ["| trial | state | steps | tokens | val loss | learning rate | alpha/rank | rank | targets |", "|---:|---|---:|---:|---:|---:|---:|---:|---|"]
        for r in rows:
            value = r["value"] if r["value"] is not None else r["last_intermediate"]
            p = r["params"]
            lines.append(
                f"| {r['number']} | {r['state']} | {r['steps']} | {r['tokens']:,} | {value:.4f} | {p.get('learning_rate', 0):.2e} | {p.get('alpha_ratio', '')} | {p.get('rank', '')} | {p.get('target_modules', '')} |"
                if value is not None else f"| {r['number']} | {r['state']} | {r['steps']} | {r['tokens']:,} | - | | | | |"
            )
        return "\n".join(lines)

    def pct(x):
        return "never" if x is None else f"{x:.0%}"

    per_seed = ["| seeds (random/TPE) | random: tokens | random: best | target (+1%) | TPE: completed / pruned | TPE: total tokens | TPE: best | TPE tokens to target | ratio | |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in runs:
        tpe_rows = r["tpe"]["rows"]
        per_seed.append(
            f"| {r['seed_random']} / {r['seed_tpe']} | {r['random_tokens']:,} | {r['random_best']:.4f} | {r['target_loss']:.4f} | "
            f"{sum(x['state'] == 'COMPLETE' for x in tpe_rows)} / {sum(x['state'] == 'PRUNED' for x in tpe_rows)} | {r['tpe_tokens']:,} "
            f"({pct(r['tpe_total_ratio'])}) | {r['tpe_best']:.4f} | {'-' if r['tokens_to_reach_target'] is None else format(r['tokens_to_reach_target'], ',')} | "
            f"**{pct(r['ratio'])}** | {'PASS' if r['passed'] else 'FAIL'} |"
        )
    if passes == len(runs):
        headline = f"**PASS for all {len(runs)} seed pairs**"
    elif passes:
        headline = f"**PASS for {passes} of {len(runs)} seed pairs only** (FAIL for the others)"
    else:
        headline = f"**FAIL for all {len(runs)} seed pairs**"
    verdict = (f"{headline}: pruned TPE reached a validation loss within 1% of random search's best with a median of "
               f"**{pct(summary['median_ratio'])}** of random search's training tokens (target <= {target:.0%}).")
    sections = []
    for r in runs:
        sections.append(f"## Seeds {r['seed_random']} / {r['seed_tpe']}\n\nRandom search (seed {r['seed_random']}), {r['random']['wall_s']:.0f} s:\n\n"
                        f"{table(r['random']['rows'])}\n\nTPE + {tpe_settings['pruner'].replace('_', ' ')} (seed {r['seed_tpe']}), {r['tpe']['wall_s']:.0f} s:\n\n{table(r['tpe']['rows'])}\n")
    title = "prior-seeded pruned TPE (issue 21)" if args.priors else "pruned TPE"
    priors_note = ("\n**Priors (issue 21).** The TPE sweep starts with enqueued trials from `studies/sweeps/priors.py` (the plan's recommended "
                   "configuration, LoRA and QLoRA published defaults, a learning-rate bracket scaled to the model size), after a "
                   f"{args.lr_range_steps}-step learning-rate range test whose tokens are counted as TPE's first row. Random search starts cold.\n"
                   if args.priors else "")
    md = f"""# Sweeps: {title} vs random search
{priors_note}
Command: `.venv/bin/python bench/bench_sweep.py {' '.join(sys.argv[1:])}`

{verdict}

{chr(10).join(per_seed)}

**How the ratio is computed.** Each side runs {args.trials} trials in trial order. Tokens are the training tokens the
training loop counts (`tokens_seen`, padding excluded), summed over trials in order, pruned trials included with
the tokens they spent before they were stopped. "Best so far" is the best value of the COMPLETE trials so far (a
trial's value is its lowest validation loss; a pruned trial leaves no adapter, so it never counts). The ratio is
TPE's cumulative tokens at the end of its first complete trial whose value is within 1% of random search's final
best, divided by random search's total tokens. "never": TPE did not get within 1%.

Setup: {model_name} with LoRA on {Path(args.pairs).name} (split {split.version}, first {args.train_examples} training
pairs, {args.val_examples} validation pairs for the loss); every trial {args.steps} optimizer steps of micro-batch
{args.micro_batch} (packed, max_length {args.max_length}, cosine schedule, no warm-up), validation loss
every {args.eval_every} steps; search space (both sides) `{json.dumps(SPACE)}`.
TPE (the product's default sweep settings, `studies.sweeps.config.SweepConfig`): {tpe_settings['n_startup_trials']} random
start-up trials, multivariate; {tpe_settings['pruner'].replace('_', ' ')} pruner with min_resource
{tpe_settings['min_resource']} steps (the first validation pass, as `advisor sweep start` sets it) and reduction factor
{tpe_settings['reduction_factor']}; {'the start-up trials stop at the first rung; ' if tpe_settings.get('startup_to_first_rung') else ''}a trial's last validation pass is never pruned. Random search: no pruner.
Sampler seeds are pinned (`ADVISOR_SWEEP_WORKER_INDEX=0`, else a worker salts its seed with its pid).

Machine: {os.cpu_count()} cores, {cpu_model()}, torch {torch.__version__}, CPU only, niceness {os.nice(0)}. Load
average before {load_before[0]:.1f}, after {load_after[0]:.1f} (this run included); wall times depend on what else
runs, tokens and losses (the measure here) do not.

![best so far vs tokens]({prefix}_curves.png)

{chr(10).join(sections)}"""
    (out / f"{prefix}.md").write_text(md)
    print(verdict)
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
