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

NAME = "sweep"
HELP = "run LoRA / RAG hyperparameter sweeps (Optuna) in background workers; watch and stop them"
DESCRIPTION = __doc__
STORAGE_ENV = "ADVISOR_OPTUNA_STORAGE"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="sweep_command", metavar="ACTION", required=True)
    start = sub.add_parser("start", help="create (or resume) a sweep and launch its workers")
    start.add_argument("--plan", required=True, help="experiment plan YAML (advisor plan) or a sweep config YAML")
    start.add_argument("--objective", choices=("lora", "rag", "synthetic"), default=None, help="what to sweep (default: the plan's, else lora)")
    start.add_argument("--trials", type=_positive_int, default=None, help="budget: number of finished trials")
    start.add_argument("--max-tokens", type=_positive_int, default=None, help="budget: training tokens over all trials")
    start.add_argument("--max-minutes", type=float, default=None, help="budget: wall time in minutes")
    start.add_argument("--workers", type=_positive_int, default=None, help="local worker processes (default: one per GPU, else 1)")
    start.add_argument("--storage", default=None, help=f"Optuna storage URL (default: ${STORAGE_ENV} or the workspace's optuna.db)")
    start.add_argument("--name", default=None, help="sweep name (default: from the plan)")
    start.add_argument("--sampler", choices=("tpe", "random"), default=None, help="search strategy (default tpe)")
    start.add_argument("--pruner", choices=("hyperband", "successive_halving", "median", "none"), default=None, help="pruner (default hyperband)")
    start.add_argument("--detach", action="store_true", help="return at once; the workers keep running")
    start.add_argument("--format", dest="output_format", choices=("text", "json"), default="text", help="output format")

    worker = sub.add_parser("worker", help="run trials of an existing sweep in this process (e.g. on another machine)")
    worker.add_argument("--study", required=True, help="sweep name")
    worker.add_argument("--storage", default=None, help=f"Optuna storage URL (default: ${STORAGE_ENV} or the workspace's optuna.db)")
    worker.add_argument("--max-trials", type=_positive_int, default=None, help="leave after this many trials")

    status = sub.add_parser("status", help="trials done/running/pruned/failed, best so far, eta (also ingests results)")
    status.add_argument("name", metavar="NAME", help="sweep name")
    status.add_argument("--storage", default=None, help="Optuna storage URL (default: the one the sweep was started with)")
    status.add_argument("--format", dest="output_format", choices=("text", "json"), default="text", help="output format")
    status.add_argument("--watch", action="store_true", help="live progress bar until the sweep finishes")
    status.add_argument("--trials", dest="show_trials", action="store_true", help="list every trial (text output)")

    stop = sub.add_parser("stop", help="stop a sweep cleanly (workers finish or interrupt the current trial)")
    stop.add_argument("name", metavar="NAME", help="sweep name")
    stop.add_argument("--storage", default=None, help="Optuna storage URL (default: the one the sweep was started with)")
    stop.add_argument("--wait", type=float, default=30.0, help="seconds to wait for local workers to exit (default 30)")

    listing = sub.add_parser("list", help="sweeps in a storage")
    listing.add_argument("--storage", default=None, help="Optuna storage URL")
    listing.add_argument("--format", dest="output_format", choices=("text", "json"), default="text", help="output format")


# ------------------------------------------------------------------------------- library-level API

def storage_for(ws: Any, name: str | None, given: str | None) -> str:
    """The storage URL: given, else the one recorded when the sweep started, else env, else embedded."""
    import json

    if given:
        return given
    if name:
        from core.workspace import safe_name

        info = ws.root / "sweeps" / safe_name(name) / "sweep.json"
        if info.is_file():
            try:
                recorded = json.loads(info.read_text()).get("storage")
            except ValueError:
                recorded = None
            if recorded == "$" + STORAGE_ENV or (recorded and ":***@" in recorded):
                # The password was not written to disk (see start_sweep): it comes from the environment.
                if os.environ.get(STORAGE_ENV):
                    return os.environ[STORAGE_ENV]
                from core.errors import SweepError

                raise SweepError(
                    f"Sweep {name!r} runs on {recorded}; its password is not stored in the workspace. "
                    f"Pass --storage URL or set ${STORAGE_ENV}."
                )
            if recorded:
                return recorded
    return os.environ.get(STORAGE_ENV) or ws.optuna_url


def sweep_config_from_file(path: str, name: str | None = None, objective: str | None = None) -> Any:
    """A :class:`~studies.sweeps.SweepConfig` from a sweep config YAML, or from an advisor plan."""
    from pathlib import Path

    from core.config import read_structured
    from core.errors import ConfigError
    from core.workspace import slugify
    from studies.sweeps import SweepConfig

    data = read_structured(path, what="plan")
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping (a plan or a sweep config).")
    fields = set(SweepConfig.__dataclass_fields__)
    if "sweep" in data and isinstance(data["sweep"], dict):
        data = data["sweep"]
    if set(data) <= fields:  # a sweep config file
        values = dict(data)
        values["name"] = name or values.get("name") or slugify(Path(path).stem, "sweep")
        if objective:
            values["objective"] = objective
        return SweepConfig.from_dict(values)
    return sweep_config_from_plan(path, name=name, objective=objective)


def sweep_config_from_plan(path: str, name: str | None = None, objective: str | None = None) -> Any:
    """Turn an advisor experiment plan (``advisor plan``) into a sweep config.

    LoRA (default when the plan enables it): the plan's LoRA space and fixed settings, the first
    model of its ladder, its data, trial / token / wall-time budget, metrics and device (for the
    feasibility check). RAG: the plan's RAG space over the corpus, maximising the primary metric.
    """
    from core.errors import ConfigError
    from core.workspace import slugify
    from studies.sweeps import SweepConfig

    from advisor.plan import load_plan

    plan = load_plan(path)
    kind = objective or ("lora" if plan.lora.enabled else "rag")
    data: dict[str, Any] = {"split": plan.data.split_version} if plan.data.split_version else {}
    if not data and plan.data.dataset:
        data = {"dataset": plan.data.dataset, "seed": plan.data.split_seed}
    if not data:
        raise ConfigError(f"Plan {path} names no data set: set data.dataset (a pairs file) or data.split_version.")
    common: dict[str, Any] = {
        "name": name or slugify(f"{plan.name}-{kind}", "sweep"),
        "objective": kind,
        "data": data,
        "eval_metrics": list(plan.metrics),
        "device": plan.device if plan.device and plan.device != "cpu" else None,
        "max_seconds": plan.budget.max_wall_minutes * 60.0 if plan.budget.max_wall_minutes else None,
    }
    if kind == "rag":
        if not plan.data.corpus:
            raise ConfigError(f"Plan {path} has no RAG corpus: set data.corpus (tldr pages.jsonl, JSONL documents or a folder).")
        return SweepConfig.from_dict({
            **common,
            "space": dict(plan.rag.space),
            "base": {"corpus": plan.data.corpus, "model": plan.models[0] if plan.models else None},
            "metric": plan.primary_metric,
            "direction": "maximize",
            "pruner": "none",
            "n_trials": plan.rag.trials,
        })
    base = {"model": plan.models[0] if plan.models else None, **dict(plan.lora.base)}
    if "method" not in base and not {"dora", "qlora", "method"} & set(plan.lora.space):
        base["method"] = plan.method
    steps = plan.lora.space.get("max_steps")
    max_resource = steps.get("high") if isinstance(steps, dict) else (max(steps) if isinstance(steps, list) else base.get("max_steps"))
    return SweepConfig.from_dict({
        **common,
        "space": dict(plan.lora.space),
        "base": base,
        "n_trials": plan.budget.trials,
        "max_tokens": plan.budget.max_tokens,
        "min_resource": int(base.get("eval_every") or 0) or None,
        "max_resource": int(max_resource) if max_resource else None,
    })


def plan_workers(path: str) -> int | None:
    """The plan's worker count (None for a sweep config file)."""
    try:
        from advisor.plan import load_plan

        return int(load_plan(path).budget.workers)
    except Exception:  # noqa: BLE001 - a sweep config file is not a plan
        return None


def worker_argv(ws: Any, name: str) -> list[str]:
    """The command line of a local worker (the storage URL travels in the environment, not in ps)."""
    return [sys.executable, "-m", "advisor", "--workspace", str(ws.root), "sweep", "worker", "--study", name]


def start_sweep(ws: Any, config: Any, storage: str | None = None, workers: int | None = None) -> dict[str, Any]:
    """Create or resume ``config``'s study and make sure its local workers run (no duplicates).

    Usable from the app: returns at once; the workers are detached processes.
    """
    from pathlib import Path

    from core.atomic import atomic_write_json
    from studies.sweeps import _redact, create_or_resume
    from studies.workers import detect_gpus, launch_workers, sweep_dir

    url = storage or os.environ.get(STORAGE_ENV) or ws.optuna_url
    create_or_resume(config, url)
    folder = sweep_dir(ws, config.name)
    # Never write a password to the workspace: record the environment variable, or the URL with the password hidden.
    recorded = "$" + STORAGE_ENV if url == os.environ.get(STORAGE_ENV) and _redact(url) != url else _redact(url)
    atomic_write_json(folder / "sweep.json", {"name": config.name, "storage": recorded, "config": config.to_dict(), "started_at": time.time()})
    gpus = detect_gpus()
    count = workers or max(1, len(gpus))
    root = Path(__file__).resolve().parents[2]
    env = {STORAGE_ENV: url, "PYTHONPATH": os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)}
    procs = launch_workers(ws, config.name, count, lambda _i: worker_argv(ws, config.name), gpus=gpus or None, env=env)
    return {
        "name": config.name,
        "storage": _redact(url),
        "workers": [p.to_dict() for p in procs],
        "gpus": gpus,
        "status": f"advisor --workspace {ws.root} sweep status {config.name}",
    }


def feasibility_for(device: str | None) -> Any:
    """The estimator's ``fits`` bound to the sweep's device (None: no check)."""
    if not device:
        return None
    from advisor.estimate import fits

    target: Any = device
    if device == "local":
        try:
            import torch

            if not torch.cuda.is_available():
                return None
            target = float(torch.cuda.get_device_properties(0).total_memory)
        except ImportError:
            return None
    return lambda config: fits(config, target)


def _watch(ws: Any, url: str, name: str) -> Any:
    """Live progress bar until the sweep finishes; returns the final status."""
    from tqdm import tqdm

    from studies.sweep_status import sweep_status

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
        from studies.sweeps import load_study, run_worker

        url = args.storage or os.environ.get(STORAGE_ENV) or ws.optuna_url
        _study, config = load_study(url, args.study, heartbeat=False)
        report = run_worker(url, args.study, ws, feasibility=feasibility_for(config.device), max_trials=args.max_trials)
        print(f"worker {report.worker}: {report.trials} trial(s); {report.reason}")
        return 0
    if action == "status":
        from studies.sweep_status import format_status, sweep_status
        from studies.sweeps import ingest_study

        url = storage_for(ws, args.name, args.storage)
        if args.watch:
            _watch(ws, url, args.name)
        ingested = ingest_study(ws, url, args.name)
        status = sweep_status(url, args.name, ws)
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
        from studies.sweeps import request_stop
        from studies.workers import local_workers, signal_workers, wait_for_exit

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
        from studies.sweep_status import list_sweeps

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
    from studies.sweeps import ingest_study

    config = sweep_config_from_file(args.plan, name=args.name, objective=args.objective)
    changes: dict[str, Any] = {}
    if args.trials:
        changes["n_trials"] = args.trials
    if args.max_tokens:
        changes["max_tokens"] = args.max_tokens
    if args.max_minutes:
        changes["max_seconds"] = args.max_minutes * 60.0
    if args.sampler:
        changes["sampler"] = args.sampler
    if args.pruner:
        changes["pruner"] = args.pruner
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
    ingested = ingest_study(ws, url, config.name)
    from studies.sweep_status import format_status, sweep_status

    status = sweep_status(url, config.name, ws, with_trials=False)
    if args.output_format == "json":
        print_json({**status.to_dict(), "leaderboard": {"added": ingested.added, "rows": ingested.completed}})
    else:
        print(format_status(status))
        print(f"  leaderboard: {ingested.completed} completed trial(s) recorded")
    return 0
