"""Sweep objectives behind a small protocol and a registry: ``lora``, ``rag`` and ``synthetic``.

An objective turns one trial's sampled parameters into a trained/evaluated system and a number.
It reports intermediate values through ``run.report(step, value, tokens)`` (which prunes), lets
``run.check_feasible(config)`` veto configurations that will not fit, and returns a
:class:`~studies.sweeps.TrialOutcome` whose ``result`` becomes the trial's leaderboard row.

Register a new one with ``register_objective("name", factory)``; a sweep config may also name an
importable ``"package.module:factory"``.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from core.errors import SweepError
from studies.search_space import DEFAULT_LORA_SPACE, DEFAULT_RAG_SPACE
from studies.sweeps import TrialOutcome, TrialRun


@runtime_checkable
class SweepObjective(Protocol):
    """What the worker loop needs from an objective."""

    name: str

    def default_space(self) -> dict[str, Any]:
        """The search space (YAML form) used when the sweep config gives none."""
        ...

    def run(self, run: TrialRun) -> TrialOutcome:
        """Run one trial; raise ``optuna.TrialPruned`` (via ``run.report`` / ``run.prune``) to prune."""
        ...


_REGISTRY: dict[str, Callable[[], SweepObjective]] = {}


def register_objective(name: str, factory: Callable[[], SweepObjective]) -> None:
    """Make ``factory`` available to sweeps as ``objective: name``."""
    _REGISTRY[name] = factory


def objective_names() -> list[str]:
    return sorted(_REGISTRY)


def get_objective(name: str) -> SweepObjective:
    """The registered objective ``name`` (or an importable ``module:factory``)."""
    if name in _REGISTRY:
        return _REGISTRY[name]()
    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise SweepError(f"Objective {name!r} cannot be imported: {exc}.") from exc
        return factory()
    raise SweepError(f"Unknown sweep objective {name!r}; known: {', '.join(objective_names())} (or module:factory).")


# --------------------------------------------------------------------------------------- synthetic

class SyntheticObjective:
    """A cheap stand-in with a loss curve, pruning, tokens and a leaderboard row, but no model.

    Use it to check a storage and its workers (e.g. a new PostgreSQL server) before spending
    GPU time: ``advisor sweep start --plan plan.yaml`` with ``objective: synthetic``.
    Settings (``base``): steps (8), step_seconds (0.05), tokens_per_step (1000),
    oom_above_batch (simulate an out-of-memory for micro_batch_size above this).
    """

    name = "synthetic"

    def default_space(self) -> dict[str, Any]:
        return {"x": {"low": 0.0, "high": 1.0}, "lr": {"low": 1e-4, "high": 1e-1, "log": True}, "micro_batch_size": [8]}

    def run(self, run: TrialRun) -> TrialOutcome:
        base = run.config.base
        steps = int(base.get("steps", 8))
        pause = float(base.get("step_seconds", 0.05))
        per_step = int(base.get("tokens_per_step", 1000))
        x = float(run.params.get("x", 0.5))
        lr = float(run.params.get("lr", 1e-2))
        micro = int(run.overrides.get("micro_batch_size", run.params.get("micro_batch_size", 8)))
        accum = int(run.overrides.get("grad_accumulation", run.params.get("grad_accumulation", 1)))
        config = {"x": x, "lr": lr, "micro_batch_size": micro, "grad_accumulation": accum, "steps": steps}
        run.check_feasible(config)
        limit = base.get("oom_above_batch")
        floor = (x - 0.3) ** 2 + 0.1 * abs(math.log10(lr) + 2)
        loss = floor
        for step in range(1, steps + 1):
            time.sleep(pause)
            if limit is not None and micro > int(limit) and step == 2:
                from core.errors import OutOfMemoryError

                raise OutOfMemoryError(f"simulated CUDA out of memory at micro_batch_size={micro}", config=None)
            loss = floor + 1.0 / step
            run.report(step, loss, tokens=step * per_step, final=step == steps)
        metrics = {"val_loss": loss, "score": 1.0 / (1.0 + loss)}
        result = trial_record(run, kind="synthetic", system=f"synthetic:{run.study_name}-t{run.number}", config=config,
                              metrics=metrics, train_tokens=steps * per_step, method="synthetic")
        return TrialOutcome(value=loss, tokens=steps * per_step, metrics=metrics, result=result)


def trial_record(run: TrialRun, kind: str, system: str, config: dict[str, Any], metrics: dict[str, float], **fields: Any) -> dict[str, Any]:
    """A leaderboard ``RunRecord`` (as a dict) for a trial scored without the evaluation contract
    (synthetic trials, or evaluation turned off): point metrics, run id from (study, trial)."""
    from studies.leaderboard import RunRecord, trial_run_id

    record = RunRecord(
        run_id=trial_run_id(run.study_name, run.number),
        kind=kind,
        system=system,
        study=run.study_name,
        trial=run.number,
        config=config,
        split_part="validation",
        metrics={k: {"mean": float(v), "low": float(v), "high": float(v), "n": 1} for k, v in metrics.items()},
        **fields,
    )
    return record.to_dict()


# -------------------------------------------------------------------------------------------- lora

_TRAIN_ALIASES = {"lr": "learning_rate", "r": "rank", "lora_alpha": "alpha", "lora_dropout": "dropout", "batch_size": "micro_batch_size"}


def train_config_for(base: dict[str, Any], params: dict[str, Any], overrides: dict[str, Any] | None = None):
    """The concrete TrainConfig of a trial: fixed settings, then sampled values, then OOM overrides.

    Sampled helpers: ``alpha_ratio`` (alpha = rank x ratio), ``dora`` / ``qlora`` (booleans that
    set ``method``), aliases lr, r, lora_alpha, lora_dropout, batch_size.
    """
    from tuning.config import TrainConfig

    values: dict[str, Any] = {}
    for key, value in {**base, **params}.items():
        values[_TRAIN_ALIASES.get(key, key)] = value
    ratio = values.pop("alpha_ratio", None)
    if ratio is not None:
        values["alpha"] = float(values.get("rank", TrainConfig.rank)) * float(ratio)
    dora, qlora = values.pop("dora", None), values.pop("qlora", None)
    if qlora:
        values["method"] = "qlora"
    elif dora:
        values["method"] = "dora"
    if isinstance(values.get("target_modules"), tuple):
        values["target_modules"] = list(values["target_modules"])
    values.update(overrides or {})
    known = set(TrainConfig.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise SweepError(f"Search space / base settings name fields TrainConfig does not have: {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
    return TrainConfig.from_dict(values)


def load_examples(run: TrialRun) -> tuple[list[Any], list[Any], Any]:
    """(train, validation, split) for a sweep's ``data`` settings (cached per worker process)."""
    data = run.config.data
    key = (str(run.workspace.root), repr(sorted(data.items())))
    if key in _DATA_CACHE:
        return _DATA_CACHE[key]
    from studies.splits import load_split

    if data.get("split"):
        split = load_split(run.workspace, str(data["split"]))
    elif data.get("dataset"):
        from studies.datasets import load_pairs
        from studies.splits import make_split, save_split

        dataset = load_pairs(str(data["dataset"]))
        split = make_split(dataset, seed=int(data.get("seed", 0)))
        save_split(run.workspace, split)
    else:
        raise SweepError("The sweep has no data: set data.split (a frozen split version) or data.dataset (a pairs file).")
    train = list(split.train)[: data.get("train_limit") or None]
    val = list(split.validation)[: data.get("val_limit") or None]
    if not train or not val:
        raise SweepError(f"Split {getattr(split, 'version', '?')} has {len(train)} training and {len(val)} validation examples; a sweep needs both.")
    _DATA_CACHE[key] = (train, val, split)
    return train, val, split


_DATA_CACHE: dict[tuple[str, str], tuple[list[Any], list[Any], Any]] = {}


class LoraObjective:
    """Train a LoRA/DoRA/QLoRA adapter; the objective is the best validation loss during training.

    The pruner sees every validation pass (``on_eval``); a completed trial is evaluated through the
    shared evaluation contract on the validation split and that result is its leaderboard row.
    """

    name = "lora"

    def default_space(self) -> dict[str, Any]:
        return DEFAULT_LORA_SPACE

    def run(self, run: TrialRun) -> TrialOutcome:
        from tuning.train import train

        config = train_config_for(run.config.base, run.params, run.overrides)
        run.check_feasible(config)
        train_examples, val_examples, split = load_examples(run)
        adapter_name = f"{run.study_name}-t{run.number}"
        result = train(
            config,
            train_examples,
            val_examples,
            run.workspace,
            adapter_name,
            on_eval=lambda step, loss, tokens: run.report(step, loss, tokens, final=bool(config.max_steps) and step >= config.max_steps),
        )
        record = {k: v for k, v in dict(getattr(result, "record", {}) or {}).items() if k != "train_loss_history"}
        losses = [v for _, v in run.reports]
        value = min(losses) if losses else float(record.get("best_eval_loss", record.get("eval_loss", math.nan)))
        if not math.isfinite(value):
            raise SweepError("Training finished without a validation loss; set eval_every > 0 (or keep the final evaluation).")
        tokens = int(record.get("tokens_seen") or run.tokens)
        metrics: dict[str, float] = {"val_loss": value}
        outcome_result: dict[str, Any] = {
            "kind": "lora",
            "system": adapter_name,
            "config": config.to_dict(),
            "adapter_dir": str(result.adapter_dir),
            "train_record": record,
            "metrics": dict(metrics),
        }
        if run.config.evaluate:
            evaluated = evaluate_lora(run, str(result.adapter_dir), split)
            outcome_result["evaluation"] = evaluated
            for metric, score in (evaluated.get("scores") or {}).items():
                mean = score.get("mean") if isinstance(score, dict) else score
                if isinstance(mean, (int, float)):
                    metrics[metric] = float(mean)
            outcome_result["metrics"] = dict(metrics)
        return TrialOutcome(value=value, tokens=tokens, metrics=metrics, result=outcome_result, artifacts={"adapter_dir": str(result.adapter_dir)})


def evaluate_trial(run: TrialRun, system: Any, split: Any) -> dict[str, Any]:
    """Evaluate a trial's system through the shared contract on the validation split, without
    touching the leaderboard (workers never hold it); returns ``EvalResult.to_dict()``."""
    from studies.evaluation import evaluate
    from tuning.generate import GenerationSettings

    result = evaluate(
        system,
        split,
        run.workspace,
        settings=GenerationSettings(**run.config.generation) if run.config.generation else None,
        record=False,
        study=run.study_name,
        trial=run.number,
        part="validation",
        limit=run.config.eval_limit,
        metrics=run.config.eval_metrics,
    )
    return result.to_dict()


def evaluate_lora(run: TrialRun, adapter_dir: str, split: Any) -> dict[str, Any]:
    """The trial's adapter (trained on ``split``'s train part) on the validation part."""
    from studies.systems import LoraSystem, record_trained_on

    record_trained_on(adapter_dir, split)
    return evaluate_trial(run, LoraSystem.from_adapter(adapter_dir, run.workspace), split)


# --------------------------------------------------------------------------------------------- rag

class RagObjective:
    """Build (or reuse) an index for the sampled chunking/embedder/index type and score answers on
    the validation split; see :func:`studies.rag_sweep.run_rag_trial`."""

    name = "rag"

    def default_space(self) -> dict[str, Any]:
        return DEFAULT_RAG_SPACE

    def run(self, run: TrialRun) -> TrialOutcome:
        from studies.rag_sweep import run_rag_trial

        return run_rag_trial(run)


register_objective("synthetic", SyntheticObjective)
register_objective("lora", LoraObjective)
register_objective("rag", RagObjective)
