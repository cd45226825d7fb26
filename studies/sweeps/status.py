"""What a sweep is doing: counts, best so far, tokens, ETA, per-trial rows (CLI, app, JSON).

Read-only against the Optuna storage (no heartbeat), so it is safe to call from anywhere, any
number of times, while workers run. ``optuna-dashboard <storage URL>`` shows the same study.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from core.workspace import Workspace
from studies.sweeps.config import (
    ATTR_FAILED,
    ATTR_OOM_RETRY_OF,
    ATTR_PRUNED,
    ATTR_SECONDS,
    ATTR_SUPERSEDED,
    ATTR_STEP,
    ATTR_TOKENS,
    STOP_ATTR,
)
from studies.sweeps.storage import redact_url, storage_errors
from studies.sweeps.study import budget_state, load_study


@dataclass
class TrialSummary:
    """One trial as status shows it."""

    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    tokens: int
    seconds: float | None
    reason: str
    retry_of: int | None
    step: tuple[int, int] | None = None
    """(step, total steps) a training trial last reported; None for objectives that do not report steps."""


@dataclass
class SweepStatus:
    """A sweep at a glance."""

    name: str
    storage: str
    objective: str
    metric: str
    direction: str
    n_trials: int
    done: int
    running: int
    waiting: int
    pruned: int
    failed: int
    retried: int
    finished: int
    tokens: int
    best_value: float | None
    best_trial: int | None
    best_params: dict[str, Any]
    elapsed_s: float | None
    eta_s: float | None
    finished_reason: str
    stop_requested: bool
    workers: list[dict[str, Any]] = field(default_factory=list)
    trials: list[TrialSummary] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return bool(self.finished_reason) and self.running == 0 and self.waiting == 0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["complete"] = self.complete
        return out


def _retry_of(t: Any) -> int | None:
    """The trial number ``t`` re-runs (killed worker, out of memory, stopped sweep), if any."""
    retry_of = t.system_attrs.get("failed_trial")
    if retry_of is None:
        retry_of = t.user_attrs.get(ATTR_OOM_RETRY_OF, t.user_attrs.get("resumed_from"))
    return retry_of


def _trial_summary(t: Any, retries: dict[int, int] | None = None) -> TrialSummary:
    """One trial's row; ``retries`` maps a trial number to the trial that re-ran it (only those are "retried")."""
    attrs = t.user_attrs
    retry_of = _retry_of(t)
    reason = attrs.get(ATTR_PRUNED) or attrs.get(ATTR_FAILED) or ""
    if t.state.name == "FAIL" and not reason:
        if attrs.get(ATTR_SUPERSEDED) is not None:
            reason = "superseded"
        elif retries is not None and t.number in retries:
            reason = f"worker died (no heartbeat); retried as trial {retries[t.number]}"
        else:
            reason = "worker died (no heartbeat); not retried (max_retry reached)" if retries is not None else "worker died (no heartbeat)"
    seconds = attrs.get(ATTR_SECONDS)
    if seconds is None and t.datetime_start and t.datetime_complete:
        seconds = (t.datetime_complete - t.datetime_start).total_seconds()
    step = attrs.get(ATTR_STEP)
    step = (int(step[0]), int(step[1])) if isinstance(step, (list, tuple)) and len(step) == 2 else None
    return TrialSummary(t.number, t.state.name, t.value, dict(t.params), int(attrs.get(ATTR_TOKENS, 0) or 0), seconds, reason,
                        retry_of, step)


def sweep_status(storage_url: str, name: str, ws: Workspace | None = None, with_trials: bool = True) -> SweepStatus:
    """The status of sweep ``name`` (``ws`` adds the local worker processes)."""
    from optuna.trial import TrialState

    with storage_errors(storage_url):
        study, config = load_study(storage_url, name, heartbeat=False)
        trials = study.get_trials(deepcopy=False)
        state = budget_state(study, config)
        by = {s: [t for t in trials if t.state == s] for s in TrialState}
        completed = by[TrialState.COMPLETE]
        best = None
        if completed:
            pick = min if config.direction == "minimize" else max
            best = pick(completed, key=lambda t: t.value)
        starts = [t.datetime_start for t in trials if t.datetime_start]
        elapsed = (time.time() - min(starts).timestamp()) if starts else None
        retries = {int(_retry_of(t)): t.number for t in trials if _retry_of(t) is not None}
        summaries = [_trial_summary(t, retries) for t in trials]
        durations = [s.seconds for s in summaries if s.seconds is not None and s.state in {"COMPLETE", "PRUNED"}]
        eta = None
        remaining = max(0, config.n_trials - state.finished)
        if state.exhausted:
            eta = 0.0 if state.running == 0 else None
        elif durations:
            parallel = max(1, state.running)
            eta = remaining * (sum(durations) / len(durations)) / parallel
        retried = len(retries)
        workers: list[dict[str, Any]] = []
        if ws is not None:
            from studies.sweeps.processes import local_workers

            workers = [w.to_dict() for w in local_workers(ws, name)]
        return SweepStatus(
            name=name,
            storage=redact_url(storage_url),
            objective=config.objective,
            metric=config.metric,
            direction=config.direction,
            n_trials=config.n_trials,
            done=len(completed),
            running=len(by[TrialState.RUNNING]),
            waiting=len(by[TrialState.WAITING]),
            pruned=len(by[TrialState.PRUNED]),
            failed=len(by[TrialState.FAIL]),
            retried=retried,
            finished=state.finished,
            tokens=state.tokens,
            best_value=best.value if best else None,
            best_trial=best.number if best else None,
            best_params=dict(best.params) if best else {},
            elapsed_s=elapsed,
            eta_s=eta,
            finished_reason=state.reason,
            stop_requested=bool(study.user_attrs.get(STOP_ATTR)),
            workers=workers,
            trials=summaries if with_trials else [],
        )


def list_sweeps(storage_url: str) -> list[str]:
    """Names of the studies in a storage."""
    import optuna

    from studies.sweeps.storage import open_storage, storage_errors

    with storage_errors(storage_url):
        return sorted(s.study_name for s in optuna.get_all_study_summaries(open_storage(storage_url)))


def format_status(status: SweepStatus) -> str:
    """A few human-readable lines (the CLI's text output)."""

    def dur(seconds: float | None) -> str:
        if seconds is None:
            return "unknown"
        seconds = int(seconds)
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"

    lines = [
        f"sweep {status.name} ({status.objective}, {status.direction} {status.metric}) in {status.storage}",
        f"  trials: {status.finished}/{status.n_trials} finished - {status.done} done, {status.running} running, "
        f"{status.waiting} queued, {status.pruned} pruned, {status.failed} failed ({status.retried} retries)",
        f"  tokens: {status.tokens:,}   elapsed: {dur(status.elapsed_s)}   eta: {dur(status.eta_s) if not status.complete else 'done'}",
    ]
    if status.best_trial is not None:
        lines.append(f"  best: trial {status.best_trial} {status.metric}={status.best_value:.4g} {status.best_params}")
    if status.finished_reason:
        lines.append(f"  finished: {status.finished_reason}" + (" (trials still running)" if status.running else ""))
    alive = [w for w in status.workers if w.get("alive")]
    if status.workers:
        lines.append(f"  local workers: {len(alive)} alive of {len(status.workers)} (pids {', '.join(str(w['pid']) for w in alive) or '-'})")
    return "\n".join(lines)
