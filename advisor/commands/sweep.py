"""`advisor sweep ...`: start, join, watch and stop Optuna sweeps (LoRA, RAG).

  advisor sweep start --plan plan.yaml [--trials N] [--workers K] [--storage URL] [--name NAME] [--detach]
  advisor sweep worker --study NAME [--storage URL]        # join from another machine
  advisor sweep status NAME [--format json] [--watch]
  advisor sweep stop NAME [--wait SECONDS]
  advisor sweep list

Workers are detached processes (they survive this command, page reloads and app restarts);
storage defaults to the workspace's SQLite file, ``--storage postgresql://...`` for many machines
(or ``$ADVISOR_OPTUNA_STORAGE``). See docs/sweeps.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from advisor.cli import bounded_float, bounded_int, path_arg, positive_int, url_arg
from advisor.sweep_launch import (  # sweep_config_from_plan: re-exported for callers of the command module
    STORAGE_ENV,
    feasibility_for,
    plan_workers,
    start_sweep,
    storage_for,
    sweep_config_from_file,
    sweep_config_from_plan,  # noqa: F401
)
from studies.sweeps.config import MAX_TRIALS

NAME = "sweep"
HELP = "run LoRA / RAG hyperparameter sweeps (Optuna) in background workers; watch and stop them"
DESCRIPTION = __doc__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="sweep_command", metavar="ACTION", required=True)
    start = sub.add_parser("start", help="create (or resume) a sweep and launch its workers")
    start.add_argument("--plan", type=path_arg, required=True, help="experiment plan YAML (advisor plan) or a sweep config YAML")
    start.add_argument("--objective", choices=("lora", "rag", "synthetic"), default=None, help="what to sweep (default: the plan's, else lora)")
    start.add_argument("--trials", type=bounded_int(1, MAX_TRIALS), default=None, help="budget: number of finished trials")
    start.add_argument("--max-tokens", type=positive_int, default=None, help="budget: training tokens over all trials")
    start.add_argument("--max-minutes", type=bounded_float(0.0, 525_600.0), default=None, help="budget: wall time in minutes")
    start.add_argument("--workers", type=positive_int, default=None, help="local worker processes (default: one per GPU, else 1)")
    start.add_argument("--storage", type=url_arg, default=None, help=f"Optuna storage URL (default: ${STORAGE_ENV} or the workspace's optuna.db)")
    start.add_argument("--name", default=None, help="sweep name (default: from the plan)")
    start.add_argument("--sampler", choices=("tpe", "random"), default=None, help="search strategy (default tpe)")
    start.add_argument("--pruner", choices=("hyperband", "successive_halving", "median", "none"), default=None, help="pruner (default successive_halving)")
    start.add_argument("--lr-range-test", dest="lr_range_steps", type=bounded_int(0, 1000), default=None, metavar="STEPS",
                       help="LoRA: run a learning-rate range test of STEPS steps (e.g. 16) before a new sweep; its "
                            "suggestion sets the seeded trials' learning rates (default: the plan's lr_range_steps, 0)")
    start.add_argument("--detach", action="store_true", help="return at once; the workers keep running")
    start.add_argument("--format", dest="output_format", choices=("text", "json"), default="text", help="output format")

    worker = sub.add_parser("worker", help="run trials of an existing sweep in this process (e.g. on another machine)")
    worker.add_argument("--study", required=True, help="sweep name")
    worker.add_argument("--storage", type=url_arg, default=None, help=f"Optuna storage URL (default: ${STORAGE_ENV} or the workspace's optuna.db)")
    worker.add_argument("--max-trials", type=positive_int, default=None, help="leave after this many trials")

    status = sub.add_parser("status", help="trials done/running/pruned/failed, best so far, eta (also ingests results)")
    status.add_argument("name", metavar="NAME", help="sweep name")
    status.add_argument("--storage", type=url_arg, default=None, help="Optuna storage URL (default: the one the sweep was started with)")
    status.add_argument("--format", dest="output_format", choices=("text", "json"), default="text", help="output format")
    status.add_argument("--watch", action="store_true", help="live progress bar until the sweep finishes")
    status.add_argument("--trials", dest="show_trials", action="store_true", help="list every trial (text output)")

    stop = sub.add_parser("stop", help="stop a sweep cleanly (workers finish or interrupt the current trial)")
    stop.add_argument("name", metavar="NAME", help="sweep name")
    stop.add_argument("--storage", type=url_arg, default=None, help="Optuna storage URL (default: the one the sweep was started with)")
    stop.add_argument("--wait", type=bounded_float(0.0, 86_400.0, low_open=False), default=30.0, help="seconds to wait for local workers to exit (default 30)")

    listing = sub.add_parser("list", help="sweeps in a storage")
    listing.add_argument("--storage", type=url_arg, default=None, help="Optuna storage URL")
    listing.add_argument("--format", dest="output_format", choices=("text", "json"), default="text", help="output format")



def _watch(ws: Any, url: str, name: str) -> Any:
    """Live progress bar until the sweep finishes; returns the final status."""
    from tqdm import tqdm

    from studies.sweeps.status import sweep_status

    status = sweep_status(url, name, ws, with_trials=False)
    bar = tqdm(total=status.n_trials, desc=f"sweep {name}", unit="trial", dynamic_ncols=True, disable=None)
    try:
        while True:
            status = sweep_status(url, name, ws, with_trials=False)
            bar.n = min(status.finished, status.n_trials)
            best = f"{status.best_value:.4g}" if status.best_value is not None else "-"
            bar.set_postfix_str(f"best={best} run={status.running} pruned={status.pruned} failed={status.failed} tok={status.tokens:,}")
            bar.refresh()
            alive = [w for w in status.workers if w.get("alive")]
            if status.complete or (status.finished_reason and not status.running):
                break
            if status.workers and not alive and status.running == 0:
                print(f"\nno local worker is alive; see the logs in {ws.root / 'sweeps' / name / 'logs'}", file=sys.stderr)
                break
            time.sleep(1.0)
    finally:
        bar.close()
    return status


# ------------------------------------------------------------------------------------------- run

def run(args: argparse.Namespace) -> int:
    from advisor.cli import print_json, workspace_of

    ws = workspace_of(args)
    action = args.sweep_command
    if action == "start":
        return _start(args, ws)
    if action == "worker":
        from studies.sweeps.study import load_study
        from studies.sweeps.worker import run_worker

        url = args.storage or os.environ.get(STORAGE_ENV) or ws.optuna_url
        _study, config = load_study(url, args.study, heartbeat=False)
        report = run_worker(url, args.study, ws, feasibility=feasibility_for(config.device), max_trials=args.max_trials,
                            ingest=True)  # finished trials reach the leaderboard with no page open
        print(f"worker {report.worker}: {report.trials} trial(s); {report.reason}")
        return 0
    if action == "status":
        from studies.sweeps.status import format_status, sweep_status
        from studies.sweeps.ingest import ingest_study

        url = storage_for(ws, args.name, args.storage)
        if args.watch:
            _watch(ws, url, args.name)
        status = sweep_status(url, args.name, ws)
        ingested = ingest_study(ws, url, args.name)  # after the status: every trial it counts done is on the board
        if args.output_format == "json":
            print_json({**status.to_dict(), "leaderboard": {"added": ingested.added, "rows": ingested.completed}})
        else:
            print(format_status(status))
            print(f"  leaderboard: {ingested.completed} completed trial(s) recorded ({ingested.added} new)")
            if args.show_trials:
                for t in status.trials:
                    value = f"{t.value:.4g}" if t.value is not None else "-"
                    print(f"  #{t.number:<4} {t.state:<8} {value:>9} tokens={t.tokens:<9} {t.params} {t.reason}")
        return 0
    if action == "stop":
        from studies.sweeps.study import request_stop
        from studies.sweeps.processes import local_workers, signal_workers, wait_for_exit

        url = storage_for(ws, args.name, args.storage)
        request_stop(url, args.name)
        pids = signal_workers(ws, args.name)
        done = wait_for_exit(ws, args.name, args.wait) if pids else True
        left = [w.pid for w in local_workers(ws, args.name, alive_only=True)]
        print(f"stop requested for sweep {args.name}; signalled {len(pids)} local worker(s)"
              + ("" if done else f"; still running after {args.wait:.0f} s: {left} (they stop at their next evaluation)"))
        print("workers on other machines stop after their current trial; resume with `advisor sweep start` and the same plan")
        return 0
    if action == "list":
        from studies.sweeps.status import list_sweeps

        url = args.storage or os.environ.get(STORAGE_ENV) or ws.optuna_url
        names = list_sweeps(url)
        if args.output_format == "json":
            print_json(names)
        else:
            print("\n".join(names) if names else "no sweeps yet")
        return 0
    raise AssertionError(action)  # pragma: no cover - argparse restricts the choices


def _start(args: argparse.Namespace, ws: Any) -> int:
    from advisor.cli import print_json
    from studies.sweeps.ingest import ingest_study

    config = sweep_config_from_file(args.plan, name=args.name, objective=args.objective)
    changes: dict[str, Any] = {}
    if args.trials is not None:
        changes["n_trials"] = args.trials
    if args.max_tokens is not None:
        changes["max_tokens"] = args.max_tokens
    if args.max_minutes is not None:
        changes["max_seconds"] = args.max_minutes * 60.0
    if args.sampler:
        changes["sampler"] = args.sampler
    if args.pruner:
        changes["pruner"] = args.pruner
    if args.lr_range_steps is not None:
        changes["lr_range_steps"] = args.lr_range_steps
    if changes:
        config = type(config).from_dict({**config.to_dict(), **changes})
    url = args.storage or os.environ.get(STORAGE_ENV) or ws.optuna_url
    info = start_sweep(ws, config, url, args.workers or (plan_workers(args.plan) if config.objective != "synthetic" else None))
    if args.detach:
        if args.output_format == "json":
            print_json(info)
        else:
            pids = ", ".join(str(w["pid"]) for w in info["workers"])
            print(f"sweep {config.name}: {len(info['workers'])} worker(s) running in the background (pids {pids})")
            print(f"  watch: {info['status']} --watch    stop: advisor sweep stop {config.name}")
        return 0
    try:
        status = _watch(ws, url, config.name)
    except KeyboardInterrupt:
        print(f"\ndetached: the workers keep running; `advisor sweep stop {config.name}` stops them", file=sys.stderr)
        return 130
    from studies.sweeps.status import format_status, sweep_status

    status = sweep_status(url, config.name, ws, with_trials=False)
    ingested = ingest_study(ws, url, config.name)  # after the status: every trial it counts done is on the board
    if args.output_format == "json":
        print_json({**status.to_dict(), "leaderboard": {"added": ingested.added, "rows": ingested.completed}})
    else:
        print(format_status(status))
        print(f"  leaderboard: {ingested.completed} completed trial(s) recorded")
    return 0
