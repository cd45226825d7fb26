"""Completed trials into the DuckDB leaderboard, idempotently by (study, trial), from any reading process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import SweepError
from core.workspace import Workspace
from studies.results.records import RunRecord
from studies.sweeps.config import ATTR_RESULT
from studies.sweeps.study import load_study


@dataclass
class IngestReport:
    """What :func:`ingest_study` did."""

    added: int
    """Rows new on the leaderboard."""
    completed: int
    """Completed trials carrying a result (each has exactly one row after ingest)."""
    without_result: int
    """Completed trials with no result to ingest (evaluation off)."""


def trial_records(storage_url: str, study: str) -> tuple[list[RunRecord], int]:
    """The leaderboard records of the COMPLETE trials of ``study`` and how many had none.

    Only COMPLETE trials count: a worker killed after writing its result but before Optuna marked
    the trial complete leaves a FAIL trial whose retry will produce the row, so ingesting it would
    double the configuration.
    """
    from optuna.trial import TrialState

    loaded, _config = load_study(storage_url, study, heartbeat=False)
    records, without = [], 0
    for trial in loaded.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        data = trial.user_attrs.get(ATTR_RESULT)
        if not data:
            without += 1
            continue
        records.append(stored_record(study, trial.number, data))
    return records, without


def stored_record(study: str, trial: int, data: Any) -> RunRecord:
    """A trial's stored result as its leaderboard row: a ``RunRecord.to_dict()`` (what workers store),
    or the outcome dict that workers stored before results were typed (a sweep resumed after an upgrade)."""
    if not isinstance(data, dict):
        raise SweepError(f"Trial {trial} of sweep {study} stored a {type(data).__name__} as its result; expected a run record.")
    if "run_id" in data and "kind" in data:
        run = RunRecord.from_dict(data)
    else:
        run = _from_old_outcome(data)
    return run.for_trial(study, trial)


def _from_old_outcome(data: dict[str, Any]) -> RunRecord:
    """``{"kind", "system", "config", "metrics", "evaluation"?, "train_record"?, "adapter_dir"?}``:
    the evaluation's row when the trial was evaluated, else its plain metrics as scores without an interval."""
    evaluation = data.get("evaluation")
    if isinstance(evaluation, dict) and isinstance(evaluation.get("record"), dict):
        run = RunRecord.from_dict(evaluation["record"])
    else:
        config = data.get("config") if isinstance(data.get("config"), dict) else {}
        metrics = {
            name: {"mean": float(value), "low": None, "high": None, "n": None}
            for name, value in (data.get("metrics") or {}).items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)
        }
        run = RunRecord(run_id="", kind=str(data.get("kind") or "sweep"), system=str(data.get("system") or ""), config=dict(config),
                        base_model=config.get("model"), method=config.get("method") or data.get("kind"), metrics=metrics)
    train = data.get("train_record") if isinstance(data.get("train_record"), dict) else {}
    if not run.train_tokens and train.get("tokens_seen"):
        run.train_tokens = int(train["tokens_seen"])
    if data.get("adapter_dir") and "adapter_dir" not in run.artifacts:
        run.artifacts = {**run.artifacts, "adapter_dir": data["adapter_dir"]}
    return run


def ingest_study(ws: Workspace, storage_url: str, study: str) -> IngestReport:
    """Copy the completed trials of ``study`` into the workspace's DuckDB leaderboard, once each.

    Idempotent (run ids come from (study, trial); ``Leaderboard.ingest`` skips known ids), so the
    driver, ``advisor sweep status`` and the app may all call it, at any time, concurrently. The
    leaderboard opens a short-lived connection and retries while another process holds the file.
    """
    from studies.results.leaderboard import Leaderboard

    records, without = trial_records(storage_url, study)
    added = Leaderboard(ws).ingest(records) if records else 0
    return IngestReport(added=added, completed=len(records), without_result=without)
