"""The LoRA objective: a trial's TrainConfig, training with pruning, evaluation of the adapter."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from core.errors import SweepError
from studies.results.records import RunRecord
from studies.sweeps.objectives.common import evaluate_trial, load_examples, mean_scores, trial_record
from studies.sweeps.search_space import DEFAULT_LORA_SPACE
from studies.sweeps.trials import TrialOutcome, TrialRun
from tuning.config import TrainConfig, train_fields

if TYPE_CHECKING:  # pragma: no cover
    from studies.evaluation.contract import EvalResult


def train_config_for(base: dict[str, Any], params: dict[str, Any], overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The concrete TrainConfig of a trial: fixed settings, then sampled values, then OOM overrides.

    Sampled helpers: ``alpha_ratio`` (alpha = rank x ratio), ``dora`` / ``qlora`` (booleans that
    set ``method``); other names of fields are read through ``tuning.config.TRAIN_ALIASES``.
    """
    values = train_fields({**base, **params})
    _check_names(values)
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
    return TrainConfig.from_dict(values)


_HELPERS = {"alpha_ratio", "dora", "qlora"}


def _check_names(values: dict[str, Any]) -> None:
    known = set(TrainConfig.__dataclass_fields__)
    unknown = sorted(set(values) - known - _HELPERS)
    if unknown:
        raise SweepError(
            f"Search space / base settings name fields TrainConfig does not have: {', '.join(unknown)}; known: {', '.join(sorted(known))} "
            f"(and the helpers {', '.join(sorted(_HELPERS))})."
        )


class LoraObjective:
    """Train a LoRA/DoRA/QLoRA adapter; the objective is the best validation loss during training.

    The pruner sees every validation pass (``on_eval``); a completed trial is evaluated through the
    shared evaluation contract on the validation split and that result is its leaderboard row.
    """

    name = "lora"

    def default_space(self) -> dict[str, Any]:
        return DEFAULT_LORA_SPACE

    def check_base(self, base: dict[str, Any]) -> None:
        """``base`` holds TrainConfig fields (or their aliases) and the sampling helpers only."""
        _check_names(train_fields(base))

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
            progress=lambda p: run.progress(p.step, p.total_steps, p.tokens_seen),
        )
        losses = [v for _, v in run.reports]
        value = min(losses) if losses else result.record.best_eval_loss
        if value is None or not math.isfinite(value):
            raise SweepError(
                f"Training finished without a validation loss ({result.record.validation_data.examples} validation examples given, "
                f"{result.record.validation_data.dropped} dropped at max_length={config.max_length}); give the sweep validation "
                "examples that fit max_length, and set eval_every > 0 (or keep the final evaluation)."
            )
        tokens = int(result.record.tokens_seen or run.tokens)
        adapter_dir = str(result.adapter_dir)
        metrics: dict[str, float] = {"val_loss": value}
        if run.config.evaluate:
            evaluated = evaluate_lora(run, adapter_dir, split)
            metrics.update(mean_scores(evaluated))
            row = _with_training(evaluated.record, tokens, adapter_dir)
        else:
            row = trial_record(run, kind="lora", system=f"lora:{adapter_name}", config=config.to_dict(), metrics=metrics,
                               base_model=config.model, method=config.method, train_tokens=tokens, artifacts={"adapter_dir": adapter_dir})
        return TrialOutcome(value=value, tokens=tokens, metrics=metrics, result=row, artifacts={"adapter_dir": adapter_dir})


def _with_training(row: RunRecord, tokens: int, adapter_dir: str) -> RunRecord:
    """The evaluation's row, with the training tokens and the adapter folder when the system did not report them."""
    return replace(row, train_tokens=row.train_tokens or tokens, artifacts={"adapter_dir": adapter_dir, **row.artifacts})


def evaluate_lora(run: TrialRun, adapter_dir: str, split: Any) -> "EvalResult":
    """The trial's adapter (trained on ``split``'s train part) on the validation part."""
    from studies.evaluation.systems import LoraSystem, record_trained_on

    record_trained_on(adapter_dir, split)
    return evaluate_trial(run, LoraSystem.from_adapter(adapter_dir, run.workspace), split)
