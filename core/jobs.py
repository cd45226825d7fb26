"""Long work (an index build, an evaluation) in a process of its own, with a status file anyone can read.

The app starts a job and returns at once; the job's process writes ``<ws>/jobs/<id>/status.json``
(stage, done/total, message, result or error) as it goes, and the page reads that file on each
refresh. A reload, a second tab or an app restart therefore neither loses nor repeats the work:
the page finds the job where it is. A job whose process is gone without a final status is
reported as interrupted, with its log, never silently dropped.

The job's code lives in the layer that owns it; this module only runs a ``python -m <module>``
entry point (``main(job_dir)``) detached, like sweep workers.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.atomic import atomic_write_json
from core.errors import AdvisorError, WorkspaceError
from core.processes import pid_alive
from core.workspace import Workspace

ACTIVE = ("starting", "running")
JOBS_DIR = "jobs"


@dataclass
class JobStatus:
    """Where one job stands, as its process last wrote it."""

    id: str
    kind: str
    params: dict[str, Any]
    state: str = "starting"
    """``starting``, ``running``, ``done``, ``failed`` or ``interrupted`` (the process died mid-way)."""
    stage: str = ""
    done: int = 0
    total: int = 0
    message: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    pid: int = 0
    started_at: float = 0.0
    updated_at: float = 0.0
    log: str = ""

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def elapsed_s(self) -> float:
        end = time.time() if self.active else self.updated_at
        return max(0.0, end - self.started_at)


def jobs_root(ws: Workspace) -> Path:
    return ws.root / JOBS_DIR


def _status_path(folder: Path) -> Path:
    return folder / "status.json"


def _write(folder: Path, status: JobStatus) -> None:
    status.updated_at = time.time()
    atomic_write_json(_status_path(folder), asdict(status))


def read_job(ws: Workspace, job_id: str) -> JobStatus:
    """The status of job ``job_id``; an active job whose process is gone is reported as interrupted."""
    folder = jobs_root(ws) / job_id
    try:
        status = JobStatus(**json.loads(_status_path(folder).read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise WorkspaceError(f"No readable job {job_id!r} in {jobs_root(ws)} ({exc}).") from exc
    if status.active and not pid_alive(status.pid, status.id) and time.time() - status.started_at > 5:
        status.state = "interrupted"
        status.error = (f"the job's process (pid {status.pid}) ended without finishing, at {status.stage or 'start'} "
                        f"{status.done}/{status.total}: the machine or app was stopped, or it ran out of memory. "
                        f"Start it again; its log is {status.log}.")
    return status


def latest_job(ws: Workspace, kind: str) -> JobStatus | None:
    """The most recently started job of ``kind`` (None when there is none)."""
    root = jobs_root(ws)
    if not root.is_dir():
        return None
    found = []
    for folder in root.iterdir():
        with contextlib.suppress(WorkspaceError):
            status = read_job(ws, folder.name)
            if status.kind == kind:
                found.append(status)
    return max(found, key=lambda s: s.started_at, default=None)


def start_job(ws: Workspace, kind: str, module: str, params: dict[str, Any]) -> JobStatus:
    """Start ``python -m module <job dir>`` detached for a job of ``kind``; at most one active job per kind.

    Returns the active job of that kind when one runs already (a second click or tab adds none).
    """
    import fcntl

    root = jobs_root(ws)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        running = latest_job(ws, kind)
        if running is not None and running.active:
            return running
        folder, status = _create(ws, kind, params)
        log = Path(status.log)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        root_dir = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root_dir, os.environ.get("PYTHONPATH", "")) if p)
        with open(log, "ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", module, str(folder)], stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, env=env, cwd=root_dir, start_new_session=True,
                                    close_fds=True)
        status.pid = proc.pid
        _write(folder, status)
        return status


def _create(ws: Workspace, kind: str, params: dict[str, Any]) -> tuple[Path, JobStatus]:
    job_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{kind}-{secrets.token_hex(3)}"
    folder = jobs_root(ws) / job_id
    folder.mkdir(parents=True)
    status = JobStatus(job_id, kind, dict(params), started_at=time.time(), log=str(folder / "log.txt"))
    _write(folder, status)
    return folder, status


def run_here(ws: Workspace, kind: str, module: str, params: dict[str, Any]) -> JobStatus:
    """Run a job in this process, to the end (the CLI's foreground mode, and tests); returns its final status."""
    import importlib

    folder, status = _create(ws, kind, params)
    importlib.import_module(module).main(str(folder))
    return read_job(ws, status.id)


class JobReporter:
    """Used inside the job's process: writes progress (at most every ``interval`` s) and the outcome."""

    def __init__(self, folder: str | os.PathLike[str], interval: float = 0.5) -> None:
        self.folder = Path(folder)
        self.status = JobStatus(**json.loads(_status_path(self.folder).read_text()))
        self.status.pid = os.getpid()
        self.interval = interval
        self._last = 0.0

    def progress(self, stage: str, done: int = 0, total: int = 0, message: str = "") -> None:
        now = time.monotonic()
        changed = stage != self.status.stage or message != self.status.message
        self.status.state, self.status.stage, self.status.done, self.status.total = "running", stage, done, total
        self.status.message = message
        if changed or now - self._last >= self.interval or (total and done >= total):
            self._last = now
            _write(self.folder, self.status)

    def run(self, work: Callable[["JobReporter"], dict[str, Any]]) -> int:
        """Run ``work(self)``; record its result dict or its error. Returns the process exit code."""
        self.progress("starting")
        try:
            result = work(self)
        except AdvisorError as exc:
            self.status.state, self.status.error = "failed", str(exc)
            _write(self.folder, self.status)
            return 2
        except Exception as exc:  # noqa: BLE001 - recorded for the page; the log has the traceback
            import traceback

            traceback.print_exc()
            self.status.state, self.status.error = "failed", f"{type(exc).__name__}: {exc}"
            _write(self.folder, self.status)
            return 1
        self.status.state, self.status.result = "done", dict(result or {})
        _write(self.folder, self.status)
        return 0


def params_of(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The parameters a job was started with (inside the job's process)."""
    return dict(json.loads(_status_path(Path(folder)).read_text())["params"])
