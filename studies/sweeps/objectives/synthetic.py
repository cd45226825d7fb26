"""A cheap objective with a loss curve, pruning and a leaderboard row, but no model."""

from __future__ import annotations

import math
import time
from typing import Any

from studies.sweeps.objectives.common import trial_record
from studies.sweeps.trials import TrialOutcome, TrialRun


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
