"""Sweep worker processes on this machine: launch (detached), find, pin to GPUs, stop.

Workers are separate processes started in their own session (``start_new_session=True``), so
they survive the process that launched them (a CLI that returns, a Streamlit rerun, an app
restart). Each writes nothing here itself; the launcher records ``<ws>/sweeps/<name>/workers/
<index>.json`` (pid, GPU, log file) and a second launch only starts the indexes whose process is
gone, under a file lock, so reloading a page never duplicates a sweep's workers.
On a GPU machine each worker is pinned to one GPU through ``CUDA_VISIBLE_DEVICES``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from core.atomic import atomic_write_json
from core.errors import SweepError
from core.processes import pid_alive
from core.workspace import Workspace

WORKER_MARKER = "sweep"


@dataclass
class WorkerProcess:
    """One local worker process of a sweep."""

    index: int
    pid: int
    log: str
    gpu: str | None
    started_at: float
    host: str
    alive: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


def sweep_dir(ws: Workspace, name: str) -> Path:
    """``<ws>/sweeps/<name>/`` (created)."""
    path = ws.path("sweeps", name)
    path.mkdir(parents=True, exist_ok=True)
    return path


def inside(ws: Workspace, folder: Path) -> Path:
    """``folder`` created and resolved inside the workspace; a symbolic link leading out of it is refused."""
    if folder.is_symlink():
        ws.contain(folder)  # raises when the link leads outside
    folder.mkdir(parents=True, exist_ok=True)
    return ws.contain(folder)


def open_log(path: Path):
    """Open a worker log for appending, never through a symbolic link (it could point anywhere)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise SweepError(f"Cannot write the worker log {path}: {exc.strerror} (a symbolic link is refused). Remove it and retry.") from exc
    return os.fdopen(fd, "ab")


def local_workers(ws: Workspace, name: str, alive_only: bool = False) -> list[WorkerProcess]:
    """The workers launched on this machine for sweep ``name`` (with liveness)."""
    folder = sweep_dir(ws, name) / "workers"
    out: list[WorkerProcess] = []
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        with contextlib.suppress(OSError, ValueError, TypeError):
            data = json.loads(path.read_text())
            data.pop("alive", None)
            worker = WorkerProcess(**data, alive=False)
            worker.alive = worker.host == socket.gethostname() and pid_alive(worker.pid, WORKER_MARKER, name)
            if worker.alive or not alive_only:
                out.append(worker)
    return out


@contextlib.contextmanager
def _launch_lock(folder: Path) -> Iterator[None]:
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(folder / ".launch.lock", os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise SweepError(f"Cannot open {folder / '.launch.lock'}: {exc.strerror} (a symbolic link is refused). Remove it and retry.") from exc
    with os.fdopen(fd, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def detect_gpus() -> list[str]:
    """GPU ids visible here: ``$CUDA_VISIBLE_DEVICES`` if set, else ``nvidia-smi -L``; [] on CPU."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g.strip() for g in visible.split(",") if g.strip() and g.strip() != "-1"]
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(out.stdout.splitlines()) if line.startswith("GPU ")]


def launch_workers(
    ws: Workspace,
    name: str,
    count: int,
    argv: Callable[[int], Sequence[str]],
    gpus: Sequence[str] | None = None,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> list[WorkerProcess]:
    """Make sure ``count`` local workers of sweep ``name`` run; start only the missing ones.

    ``argv(index)`` is the command line of worker ``index`` (it must contain the sweep name, which
    is how a live worker is recognised). With ``gpus``, worker ``i`` sees only ``gpus[i % len]``.
    Returns every live worker (already running ones included).
    """
    if count < 1:
        raise SweepError(f"`workers >= 1` must hold, but got workers={count}.")
    folder = sweep_dir(ws, name)
    logs = inside(ws, folder / "logs")
    workers = inside(ws, folder / "workers")
    with _launch_lock(folder):
        running = {w.index: w for w in local_workers(ws, name, alive_only=True)}
        for index in range(count):
            if index in running:
                continue
            child_env = dict(os.environ)
            child_env.update(env or {})
            child_env["ADVISOR_SWEEP_WORKER_INDEX"] = str(index)
            child_env.setdefault("PYTHONUNBUFFERED", "1")
            gpu = None
            if gpus:
                gpu = str(gpus[index % len(gpus)])
                child_env["CUDA_VISIBLE_DEVICES"] = gpu
            log_path = logs / f"worker-{index}.log"
            with open_log(log_path) as log_file:
                proc = subprocess.Popen(
                    list(argv(index)),
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    env=child_env,
                    cwd=cwd,
                    start_new_session=True,
                    close_fds=True,
                )
            worker = WorkerProcess(index, proc.pid, str(log_path), gpu, time.time(), socket.gethostname())
            atomic_write_json(workers / f"{index}.json", {k: v for k, v in worker.to_dict().items() if k != "alive"})
            running[index] = worker
    return [running[i] for i in sorted(running)]


def signal_workers(ws: Workspace, name: str, sig: int = signal.SIGTERM) -> list[int]:
    """Send ``sig`` to every live local worker of the sweep; returns the pids signalled."""
    sent = []
    for worker in local_workers(ws, name, alive_only=True):
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, sig)
            sent.append(worker.pid)
    return sent


def wait_for_exit(ws: Workspace, name: str, timeout: float) -> bool:
    """Wait until no local worker of the sweep is alive; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not local_workers(ws, name, alive_only=True):
            return True
        time.sleep(0.2)
    return not local_workers(ws, name, alive_only=True)
