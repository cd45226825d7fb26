"""A cheap objective with a loss curve, pruning and a leaderboard row, but no model."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from core.config import Problems, from_dict
from studies.sweeps.objectives.common import trial_record
from studies.sweeps.trials import TrialOutcome, TrialRun


@dataclass
class SyntheticSettings:
    """A synthetic sweep's ``base``."""

    steps: int = 8
    """Reported steps per trial."""
    step_seconds: float = 0.05
    """Pause per step (stands in for training time)."""
    tokens_per_step: int = 1000
    """Tokens a step counts against the sweep's budget."""
    oom_above_batch: int | None = None
    """Simulate an out-of-memory at step 2 for micro_batch_size above this."""

    def validate(self) -> None:
        p = Problems("synthetic sweep base")
        p.check(self.steps >= 1, f"`steps >= 1` must hold, but got steps={self.steps}")
        p.check(self.step_seconds >= 0, f"`step_seconds >= 0` must hold, but got step_seconds={self.step_seconds}")
        p.check(self.tokens_per_step >= 0, f"`tokens_per_step >= 0` must hold, but got tokens_per_step={self.tokens_per_step}")
        p.raise_if_any()


def synthetic_settings(base: dict[str, Any]) -> SyntheticSettings:
    return from_dict(SyntheticSettings, dict(base), what="synthetic sweep base")


class SyntheticObjective:
    """A cheap stand-in with a loss curve, pruning, tokens and a leaderboard row, but no model.

    Use it to check a storage and its workers (e.g. a new PostgreSQL server) before spending
    GPU time: ``advisor sweep start --plan plan.yaml`` with ``objective: synthetic``.
    Settings (``base``): :class:`SyntheticSettings`.
    """

    name = "synthetic"

    def default_space(self) -> dict[str, Any]:
        return {"x": {"low": 0.0, "high": 1.0}, "lr": {"low": 1e-4, "high": 1e-1, "log": True}, "micro_batch_size": [8]}

    def check_base(self, base: dict[str, Any]) -> None:
        synthetic_settings(base)

    def run(self, run: TrialRun) -> TrialOutcome:
        settings = synthetic_settings(run.config.base)
        steps, pause, per_step = settings.steps, settings.step_seconds, settings.tokens_per_step
        x = float(run.params.get("x", 0.5))
        lr = float(run.params.get("lr", 1e-2))
        micro = int(run.overrides.get("micro_batch_size", run.params.get("micro_batch_size", 8)))
        accum = int(run.overrides.get("grad_accumulation", run.params.get("grad_accumulation", 1)))
        config = {"x": x, "lr": lr, "micro_batch_size": micro, "grad_accumulation": accum, "steps": steps}
        run.check_feasible(config)
        limit = settings.oom_above_batch
        floor = (x - 0.3) ** 2 + 0.1 * abs(math.log10(lr) + 2)
        loss = floor
        for step in range(1, steps + 1):
            time.sleep(pause)
            if limit is not None and micro > limit and step == 2:
                from core.errors import OutOfMemoryError

                raise OutOfMemoryError(f"simulated CUDA out of memory at micro_batch_size={micro}", config=None)
            loss = floor + 1.0 / step
            run.report(step, loss, tokens=step * per_step, final=step == steps)
        metrics = {"val_loss": loss, "score": 1.0 / (1.0 + loss)}
        result = trial_record(run, kind="synthetic", system=f"synthetic:{run.study_name}-t{run.number}", config=config,
                              metrics=metrics, train_tokens=steps * per_step, method="synthetic")
        return TrialOutcome(value=loss, tokens=steps * per_step, metrics=metrics, result=result)
