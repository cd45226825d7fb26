"""Completed trials into the DuckDB leaderboard, idempotently by (study, trial), from any reading process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.workspace import Workspace
from studies.sweeps.config import ATTR_RESULT
from studies.sweeps.study import load_study

if TYPE_CHECKING:  # pragma: no cover
    pass


@dataclass
class IngestReport:
    """What :func:`ingest_study` did."""

    added: int
    """Rows new on the leaderboard."""
    completed: int
    """Completed trials carrying a result (each has exactly one row after ingest)."""
    without_result: int
    """Completed trials with no result to ingest (evaluation off)."""


def trial_records(storage_url: str, study: str) -> tuple[list[Any], int]:
    """The leaderboard records of the COMPLETE trials of ``study`` and how many had none.

    Only COMPLETE trials count: a worker killed after writing its result but before Optuna marked
    the trial complete leaves a FAIL trial whose retry will produce the row, so ingesting it would
    double the configuration.
    """
    from optuna.trial import TrialState

    from studies.results.records import record_from_trial

    loaded, _config = load_study(storage_url, study, heartbeat=False)
    records, without = [], 0
    for trial in loaded.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        data = trial.user_attrs.get(ATTR_RESULT)
        if not data:
            without += 1
            continue
        records.append(record_from_trial(study, trial.number, dict(data)))
    return records, without


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
