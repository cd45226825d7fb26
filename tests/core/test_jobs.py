"""Background jobs: detached, one active per kind, progress readable from any process, and a job whose
process dies is reported interrupted (never silently lost)."""

from __future__ import annotations

import os
import signal
import time

from core.jobs import latest_job, read_job, run_here, start_job

MODULE = "tests.core.job_steps"


def _wait(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_a_job_runs_detached_and_reports_progress_then_its_result(workspace):
    job = start_job(workspace, "count", MODULE, {"steps": 3, "sleep": 0.3})
    assert start_job(workspace, "count", MODULE, {"steps": 99, "sleep": 0}).id == job.id, "one active job per kind"
    running = _wait(lambda: (s := read_job(workspace, job.id)).stage == "Counting" and s)
    assert running.active and running.total == 3
    done = _wait(lambda: (s := read_job(workspace, job.id)).state == "done" and s)
    assert done.result == {"counted": 3} and latest_job(workspace, "count").id == job.id


def test_a_job_whose_process_dies_is_reported_interrupted(workspace):
    job = start_job(workspace, "count", MODULE, {"steps": 1000, "sleep": 0.05})
    _wait(lambda: read_job(workspace, job.id).stage == "Counting")
    os.kill(job.pid, signal.SIGKILL)
    _wait(lambda: read_job(workspace, job.id).state == "interrupted", 30)
    status = read_job(workspace, job.id)
    assert "Counting" in status.error and status.log in status.error
    assert start_job(workspace, "count", MODULE, {"steps": 1, "sleep": 0}).id != job.id, "a new one may start"


def test_an_expected_failure_is_recorded_with_its_message(workspace):
    status = run_here(workspace, "count", MODULE, {"steps": 1, "sleep": 0, "fail": True})
    assert status.state == "failed" and status.error == "asked to fail"
