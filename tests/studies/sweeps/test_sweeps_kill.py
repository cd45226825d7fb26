"""The kill test: two worker processes on one study, one SIGKILLed mid-trial.

The study still finishes, the killed trial is detected through the missing heartbeat, marked
FAIL and retried with the same parameters, and the leaderboard holds exactly one row per
completed trial. Runs against the embedded SQLite storage and, when
``ADVISOR_TEST_POSTGRES_URL`` is set (``.ci/run`` sets it), against a real PostgreSQL server.
"""

from __future__ import annotations

import os
import signal
import sys
import uuid
from pathlib import Path

import pytest

from studies.sweeps.config import SweepConfig
from studies.sweeps.ingest import ingest_study
from studies.sweeps.processes import launch_workers, local_workers
from studies.sweeps.study import create_or_resume, load_study
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[3]
POSTGRES_ENV = "ADVISOR_TEST_POSTGRES_URL"



def _kill_one_worker_mid_trial(workspace, url: str, name: str) -> None:
    config = SweepConfig(
        name=name,
        objective="synthetic",
        n_trials=5,
        pruner="none",  # every trial that is not killed completes: rows are predictable
        heartbeat_interval=1,
        grace_period=5,
        max_retry=1,
        base={"steps": 10, "step_seconds": 0.25},
    )
    create_or_resume(config, url)
    env = {"ADVISOR_OPTUNA_STORAGE": url, "PYTHONPATH": str(ROOT)}
    argv = lambda _i: [sys.executable, "-m", "advisor", "--workspace", str(workspace.root), "sweep", "worker", "--study", name]  # noqa: E731
    workers = launch_workers(workspace, name, 2, argv, env=env, cwd=ROOT)
    assert len({w.pid for w in workers}) == 2
    victim = workers[0]
    study, _ = load_study(url, name, heartbeat=False)

    def victim_mid_trial():
        for t in study.get_trials(deepcopy=False):
            if t.state.name == "RUNNING" and str(t.user_attrs.get("worker", "")).endswith(f":{victim.pid}") and len(t.intermediate_values) >= 2:
                return t
        return None

    killed = wait_for(victim_mid_trial, 90, "the victim worker to be mid-trial")
    os.kill(victim.pid, signal.SIGKILL)
    try:
        wait_for(lambda: not local_workers(workspace, name, alive_only=True), 150, "the surviving worker to finish the study")
    finally:
        for w in local_workers(workspace, name, alive_only=True):
            os.kill(w.pid, signal.SIGKILL)

    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    dead = trials[killed.number]
    assert dead.state.name == "FAIL" and "fail_reason" not in dead.user_attrs, "the killed trial is failed by the heartbeat check"
    retries = [t for t in trials.values() if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retries) == 1, "the killed trial is retried exactly once"
    assert retries[0].state.name == "COMPLETE" and retries[0].params == dead.params
    completed = sorted(t.number for t in trials.values() if t.state.name == "COMPLETE")
    assert len(completed) == config.n_trials, f"the study finishes its budget: {[(t.number, t.state.name) for t in trials.values()]}"
    assert not [t for t in trials.values() if t.state.name in ("RUNNING", "WAITING")]

    from studies.results.leaderboard import Leaderboard

    # The workers ingested every finished trial themselves: a later ingest adds nothing.
    assert ingest_study(workspace, url, name).added == 0
    rows = Leaderboard(workspace).history(name)
    assert sorted(r["trial"] for r in rows) == completed, "exactly one row per completed trial"
    assert len({r["run_id"] for r in rows}) == len(rows)


def test_kill_a_worker_sqlite(workspace):
    _kill_one_worker_mid_trial(workspace, workspace.optuna_url, "kill-sqlite")


@pytest.mark.postgres
def test_kill_a_worker_postgres(workspace):
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"no PostgreSQL server: set {POSTGRES_ENV}=postgresql://USER:PW@HOST:PORT/DB (.ci/run starts one and sets it)")
    name = f"kill-pg-{uuid.uuid4().hex[:8]}"
    try:
        _kill_one_worker_mid_trial(workspace, url, name)
    finally:
        import optuna

        from studies.sweeps.storage import open_storage

        try:
            optuna.delete_study(study_name=name, storage=open_storage(url))
        except Exception:  # noqa: BLE001 - cleanup only
            pass
