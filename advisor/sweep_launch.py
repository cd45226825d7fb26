"""Launching sweeps from a plan: plan -> sweep config, storage choice, detached local workers.

Shared by the CLI (`advisor sweep ...`), the app's Sweeps page and the demo, so that each starts
sweeps the same way. Imports of optuna and the studies layer happen inside the functions.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

STORAGE_ENV = "ADVISOR_OPTUNA_STORAGE"
"""Environment variable holding the storage URL (keeps passwords out of files and ``ps``)."""
WORKSPACE_STORAGE = "workspace:"
"""How sweep.json records a SQLite storage inside the workspace: relative, so a copied workspace uses its own copy."""


def recorded_storage(ws: Any, url: str) -> str:
    """What sweep.json keeps of the storage URL: a workspace-relative file, ``$ADVISOR_OPTUNA_STORAGE``, or the
    URL with its password hidden (a password is never written to the workspace)."""
    from pathlib import Path

    from studies.sweeps.storage import redact_url, sqlite_path

    if url.startswith("sqlite:///"):
        path = Path(sqlite_path(url)).resolve()
        if path.is_relative_to(ws.root):
            return WORKSPACE_STORAGE + path.relative_to(ws.root).as_posix()
        return url
    return "$" + STORAGE_ENV if url == os.environ.get(STORAGE_ENV) and redact_url(url) != url else redact_url(url)


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
                data = json.loads(info.read_text(encoding="utf-8"))
            except (OSError, ValueError, RecursionError):
                data = None
            recorded = data.get("storage") if isinstance(data, dict) else None
            if recorded in ("workspace", WORKSPACE_STORAGE):  # "workspace": what an earlier version recorded
                return ws.optuna_url
            if isinstance(recorded, str) and recorded.startswith(WORKSPACE_STORAGE):
                return f"sqlite:///{ws.contain(ws.root / recorded[len(WORKSPACE_STORAGE):])}"
            if recorded == "$" + STORAGE_ENV or (recorded and "***" in recorded):
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
    """A :class:`~studies.sweeps.config.SweepConfig` from a sweep config YAML, or from an advisor plan."""
    from pathlib import Path

    from core.config import read_structured
    from core.errors import ConfigError
    from core.workspace import slugify
    from studies.sweeps.config import SweepConfig

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
    from advisor.plan import load_plan
    from core.errors import ConfigError
    from core.workspace import slugify
    from studies.sweeps.config import SweepConfig

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
    """The command line of a local worker (the storage URL travels in the environment, not in ps).

    ``-P`` (Python 3.11 safe path): the caller's folder is not put on ``sys.path``, so a file there named
    like a module (``secrets.py``, ``json.py``) is never imported by a worker.
    """
    return [sys.executable, "-P", "-m", "advisor", "--workspace", str(ws.root), "sweep", "worker", "--study", name]


def worker_env(url: str) -> dict[str, str]:
    """The environment a worker adds to the caller's: the storage URL, and a module path of absolute folders only.

    ``PYTHONPATH`` starts with this product's root (computed from where the package is, so workers run
    the same code as the launcher); relative or empty entries (``.``, ``""``) would mean the worker's
    current folder and are dropped.
    """
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and os.path.isabs(p) and p != root]
    return {STORAGE_ENV: url, "PYTHONPATH": os.pathsep.join([root, *inherited]), "PYTHONSAFEPATH": "1"}


def start_sweep(ws: Any, config: Any, storage: str | None = None, workers: int | None = None) -> dict[str, Any]:
    """Create or resume ``config``'s study and make sure its local workers run (no duplicates).

    Usable from the app: returns once the workers are launched (detached processes). A new LoRA study
    with ``lr_range_steps`` first runs that range test here, in the caller's process (tens of seconds on a
    CPU for a small model), so its seeded trials start from the learned learning rate.
    """
    from pathlib import Path

    from core.atomic import atomic_write_json
    from studies.sweeps.processes import detect_gpus, launch_workers, sweep_dir
    from studies.sweeps.storage import redact_url
    from studies.sweeps.study import create_or_resume, study_exists

    url = storage or os.environ.get(STORAGE_ENV) or ws.optuna_url
    lr_range = None
    if config.objective == "lora" and config.lr_range_steps and not study_exists(url, config.name):
        from studies.sweeps.priors import learn_lr_range

        lr_range = learn_lr_range(config, ws, steps=config.lr_range_steps)
    study = create_or_resume(config, url, lr_range=lr_range)
    _refuse_finished(study, config)
    folder = sweep_dir(ws, config.name)
    atomic_write_json(folder / "sweep.json", {"name": config.name, "storage": recorded_storage(ws, url), "config": config.to_dict(), "started_at": time.time()})
    gpus = detect_gpus()
    count = workers or max(1, len(gpus))
    # The caller's folder stays the workers' working folder (relative data paths in a plan mean the same
    # thing to them), but never a place modules are imported from (see worker_argv / worker_env).
    procs = launch_workers(ws, config.name, count, lambda _i: worker_argv(ws, config.name), gpus=gpus or None,
                           env=worker_env(url), cwd=Path.cwd())
    return {
        "name": config.name,
        "storage": redact_url(url),
        "workers": [p.to_dict() for p in procs],
        "gpus": gpus,
        "status": f"advisor --workspace {ws.root} sweep status {config.name}",
    }


def _refuse_finished(study: Any, config: Any) -> None:
    """A sweep whose budget is spent has nothing to run: say so instead of starting workers that exit at once."""
    from core.errors import SweepError
    from studies.sweeps.study import budget_state

    state = budget_state(study, config)
    if state.exhausted and state.waiting == 0 and state.running == 0:
        raise SweepError(
            f"Sweep {config.name!r} is finished ({state.reason}; {state.finished} of {config.n_trials} trials): "
            "nothing to run. Its results are on the leaderboard. To search further, start it with a larger trial "
            "budget, or start a new sweep under another name."
        )


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


# ----------------------------------------------------------------------------- from the app


def sweep_names(ws: Any) -> list[str]:
    """Sweeps started from this workspace, plus any other study in its default storage (no storage is created)."""
    names: set[str] = set()
    folder = ws.root / "sweeps"
    if folder.is_dir():
        names |= {p.parent.name for p in folder.glob("*/sweep.json")}
    if (ws.root / "optuna.db").is_file():
        from studies.sweeps.status import list_sweeps

        names |= set(list_sweeps(ws.optuna_url))
    return sorted(names)


def with_trials(config: Any, trials: int | None) -> Any:
    """``config`` with another trial budget (None or 0: unchanged)."""
    if not trials:
        return config
    return type(config).from_dict({**config.to_dict(), "n_trials": int(trials)})


def demo_sweep_config(name: str = "demo-synthetic", trials: int = 12) -> Any:
    """A cheap sweep with the synthetic objective (no model): shows trials, pruning and plots in seconds."""
    from studies.sweeps.config import SweepConfig

    config = SweepConfig(name=name, objective="synthetic", n_trials=int(trials), metric="val_loss",
                         base={"steps": 8, "step_seconds": 0.2, "tokens_per_step": 1000}, n_startup_trials=4)
    config.validate()
    return config


def stop_sweep(ws: Any, name: str) -> str:
    """Stop the sweep: local workers end their running trial at its next training step (the trial is recorded
    as interrupted and re-runs on resume); workers on other machines stop after their current trial."""
    from studies.sweeps.processes import signal_workers
    from studies.sweeps.study import request_stop

    request_stop(storage_for(ws, name, None), name)
    pids = signal_workers(ws, name)
    return (f"Stop requested for {name}: {len(pids)} local worker(s) signalled; a running trial ends at its next "
            "training step and is marked interrupted (failed), then the workers exit. Workers on other machines "
            "stop after their current trial. Start the sweep again to resume it.")


def recommendation_plan(answers: dict, dataset: str | None = None, corpus: str | None = None,
                        split_version: str | None = None, name: str = "plan") -> Any:
    """The experiment plan for the questionnaire's answers (and the data picked on the Data page)."""
    from advisor.plan import make_plan

    plan = make_plan(answers, dataset=dataset, corpus=corpus, name=name)
    if split_version:
        plan.data.split_version = split_version
    return plan


def recommendation_sweep_config(ws: Any, recommendation: dict | None, name: str | None = None,
                                trials: int | None = None, dataset: str | None = None, corpus: str | None = None,
                                split_version: str | None = None) -> Any:
    """The sweep config of the recommendation's plan; the plan itself is kept in ``<ws>/sweeps/<name>/plan.yaml``."""
    from core.atomic import atomic_write_text
    from core.errors import ConfigError
    from core.workspace import slugify
    from studies.sweeps.config import SweepConfig

    if not recommendation or not recommendation.get("answers"):
        raise ConfigError("No recommendation yet in this session: answer the questionnaire on the Decide page first, "
                          "or upload a plan file.")
    name = slugify(name or f"plan-{recommendation.get('recommendation', 'sweep')}", default="plan")
    plan = recommendation_plan(recommendation["answers"], dataset, corpus, split_version, name)
    values = plan.sweep_config("lora", name=name)
    if trials:
        values["n_trials"] = int(trials)
    config = SweepConfig.from_dict(values)
    config.validate()
    folder = ws.path("sweeps", config.name)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "plan.yaml", plan.to_yaml())
    return config


def device_warning(config: Any) -> str:
    """Why a sweep's device sizing does not match this machine ('' when it does or cannot be told)."""
    device = getattr(config, "device", None)
    if not device or device in ("cpu", "local"):
        return ""
    from studies.sweeps.processes import detect_gpus

    if detect_gpus():
        return ""
    return (f"This plan is sized for {device}, but this machine has no GPU: the workers would train on the CPU, "
            "far slower than planned (and the feasibility check would judge against a GPU that is not here). "
            "Run it on a GPU machine (`advisor sweep worker`), or make a plan for the CPU.")
