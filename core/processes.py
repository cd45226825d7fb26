"""Whether a process this machine started is still alive (sweep workers, background jobs)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def pid_alive(pid: int, *markers: str) -> bool:
    """Whether ``pid`` runs (not a zombie) and its command line contains every marker
    (guards against a recycled pid)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    proc = Path("/proc") / str(pid)
    if proc.exists():
        with contextlib.suppress(OSError):
            stat = (proc / "stat").read_text()
            if stat.rsplit(")", 1)[-1].split()[0] in {"Z", "X"}:
                return False
        if markers:
            with contextlib.suppress(OSError):
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
                return all(marker in cmdline for marker in markers)
    return True
