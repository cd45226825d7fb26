"""Start the app as a real server on a free localhost port (browser tests and the start-up benchmark)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    """A TCP port nobody listens on right now (localhost)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path
    started: float
    """time.perf_counter() when the process was spawned."""


def wait_healthy(url: str, process: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    """Poll Streamlit's health endpoint until it answers 'ok'; raise with the log if it dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"streamlit did not answer within {timeout} s:\n{log.read_text(errors='replace')[-3000:]}")


@contextmanager
def streamlit_server(workspace: str | os.PathLike[str], script: str | os.PathLike[str] | None = None,
                     log_dir: str | os.PathLike[str] | None = None, wait: bool = True) -> Iterator[Server]:
    """``streamlit run`` the app (or ``script``) headless on a free port with ``ADVISOR_WORKSPACE`` set."""
    port = free_port()
    script = Path(script) if script else ROOT / "streamlit_app.py"
    log = Path(log_dir or workspace) / f"streamlit-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, ADVISOR_WORKSPACE=str(workspace), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    with open(log, "wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", process, log, started)
    try:
        if wait:
            wait_healthy(server.url, process, log)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def chromium_available() -> str | None:
    """None if the browser tests can run, else the reason they cannot."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install chromium`; .ci/run does)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is missing: `pip install playwright` (no browser download needed)"
    return None
