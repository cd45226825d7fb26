"""The types an objective works with: one trial's run handle and its outcome (shared by the worker loop and objectives)."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.workspace import Workspace
from studies.results.records import RunRecord
from studies.sweeps.config import (
    ATTR_OVERRIDES,
    ATTR_PRUNED,
    ATTR_STEP,
    ATTR_TOKENS,
    Feasibility,
    SweepConfig,
)
from studies.sweeps.pruners import startup_stops_at_first_rung

if TYPE_CHECKING:  # pragma: no cover
    import optuna


class SweepInterrupted(Exception):
    """Raised inside a trial when the worker was asked to stop (SIGTERM or `advisor sweep stop`)."""


class TrialRun:
    """What an objective gets for one trial: its parameters, where to report, and the sweep."""

    def __init__(self, trial: "optuna.Trial", params: dict[str, Any], config: SweepConfig, workspace: Workspace,
                 feasibility: Feasibility | None, stop: threading.Event) -> None:
        self.trial = trial
        self.params = params
        self.config = config
        self.workspace = workspace
        self.feasibility = feasibility
        self.overrides: dict[str, Any] = dict(trial.user_attrs.get(ATTR_OVERRIDES) or {})
        self._stop = stop
        self.tokens = 0
        self.reports: list[tuple[int, float]] = []
        self._progress_written = float("-inf")

    @property
    def number(self) -> int:
        return self.trial.number

    @property
    def study_name(self) -> str:
        return self.trial.study.study_name

    def check_feasible(self, concrete: Any) -> None:
        """Prune (with the estimator's reason) a configuration that will not fit the device."""
        if self.feasibility is None:
            return
        ok, reason = self.feasibility(concrete)
        if not ok:
            self.prune(f"infeasible: {reason}")

    def prune(self, reason: str) -> None:
        import optuna

        self.trial.set_user_attr(ATTR_PRUNED, reason)
        raise optuna.TrialPruned(reason)

    def report(self, step: int, value: float, tokens: int | None = None, final: bool = False) -> None:
        """Record an intermediate value (validation loss) at ``step``; prunes when the pruner says so.

        Use it as (or inside) the training loop's ``on_eval`` callback: the exception it raises
        stops training. ``final``: the trial's last evaluation, recorded but never pruned (its tokens
        are already spent; pruning it then would only throw the finished trial away).
        """
        if tokens is not None:
            self.tokens = int(tokens)
            self.trial.set_user_attr(ATTR_TOKENS, self.tokens)
        self._raise_if_stopping()
        if value is None or not math.isfinite(value):
            self.prune(f"diverged: validation loss {value} at step {step}")
        self.reports.append((int(step), float(value)))
        self.trial.report(float(value), int(step))
        if not final and self.trial.should_prune():
            c = self.config
            if startup_stops_at_first_rung(c) and self.trial.number < c.n_startup_trials:
                self.prune(f"pruner: start-up trial, explored up to the first rung ({c.metric} {value:.4g} at step {step})")
            self.prune(f"pruner: {self.config.metric} {value:.4g} at step {step} was not among the best at this rung")

    PROGRESS_EVERY_S = 2.0
    """At most one progress write to the study storage per this many seconds (every step would load the database)."""

    def progress(self, step: int, total_steps: int, tokens: int) -> None:
        """Record a running trial's step and tokens between validation passes, so a long trial is never shown
        as idle (tokens 0) while it trains; stops the trial at this step when the worker was asked to stop."""
        self._raise_if_stopping()
        now = time.monotonic()
        if now - self._progress_written < self.PROGRESS_EVERY_S and step < total_steps:
            return
        self._progress_written = now
        self.tokens = int(tokens)
        self.trial.set_user_attr(ATTR_TOKENS, self.tokens)
        self.trial.set_user_attr(ATTR_STEP, [int(step), int(total_steps)])

    def stopping(self) -> bool:
        return self._stop.is_set()

    def _raise_if_stopping(self) -> None:
        if self._stop.is_set():
            raise SweepInterrupted("interrupted: the worker was asked to stop")


@dataclass
class TrialOutcome:
    """What an objective returns for a completed trial."""

    value: float
    """The objective value (e.g. best validation loss)."""
    tokens: int = 0
    """Training tokens the trial consumed."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Scalar metrics shown in status and copied to the leaderboard row."""
    result: RunRecord | None = None
    """The trial's leaderboard row (None: no row, e.g. evaluation turned off for a custom objective).
    The worker stamps its run id from (study, trial), stores it in the trial and ingestion copies it."""
    artifacts: dict[str, str] = field(default_factory=dict)
    """Paths of what the trial made (adapter folder, index name ...)."""


@dataclass
class WorkerReport:
    """What one worker did before it exited."""

    worker: str
    trials: int
    reason: str
