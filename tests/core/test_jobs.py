"""Background jobs: detached, one active per kind, progress readable from any process, and a job whose
process dies is reported interrupted (never silently lost)."""

from __future__ import annotations

import os
import signal

from core.jobs import latest_job, read_job, run_here, start_job
from tests.waiting import wait_for

MODULE = "tests.core.job_steps"



def test_a_job_runs_detached_and_reports_progress_then_its_result(workspace):
    job = start_job(workspace, "count", MODULE, {"steps": 3, "sleep": 0.3})
    assert start_job(workspace, "count", MODULE, {"steps": 99, "sleep": 0}).id == job.id, "one active job per kind"
    running = wait_for(lambda: (s := read_job(workspace, job.id)).stage == "Counting" and s, 60, "progress")
    assert running.active and running.total == 3
    done = wait_for(lambda: (s := read_job(workspace, job.id)).state == "done" and s, 60, "the result")
    assert done.result == {"counted": 3} and latest_job(workspace, "count").id == job.id


def test_a_job_whose_process_dies_is_reported_interrupted(workspace):
    job = start_job(workspace, "count", MODULE, {"steps": 1000, "sleep": 0.05})
    wait_for(lambda: read_job(workspace, job.id).stage == "Counting", 60, "progress")
    os.kill(job.pid, signal.SIGKILL)
    wait_for(lambda: read_job(workspace, job.id).state == "interrupted", 30, "the interruption to show")
    status = read_job(workspace, job.id)
    assert "Counting" in status.error and status.log in status.error
    assert start_job(workspace, "count", MODULE, {"steps": 1, "sleep": 0}).id != job.id, "a new one may start"


def test_an_expected_failure_is_recorded_with_its_message(workspace):
    status = run_here(workspace, "count", MODULE, {"steps": 1, "sleep": 0, "fail": True})
    assert status.state == "failed" and status.error == "asked to fail"
