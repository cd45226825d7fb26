"""The LoRA objective: a trial's TrainConfig, training with pruning, evaluation of the adapter."""

from __future__ import annotations

import math
from typing import Any

from core.errors import SweepError
from studies.sweeps.objectives.common import evaluate_trial, load_examples
from studies.sweeps.search_space import DEFAULT_LORA_SPACE
from studies.sweeps.trials import TrialOutcome, TrialRun

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


def evaluate_lora(run: TrialRun, adapter_dir: str, split: Any) -> dict[str, Any]:
    """The trial's adapter (trained on ``split``'s train part) on the validation part."""
    from studies.evaluation.systems import LoraSystem, record_trained_on

    record_trained_on(adapter_dir, split)
    return evaluate_trial(run, LoraSystem.from_adapter(adapter_dir, run.workspace), split)
