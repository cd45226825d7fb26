"""How processes and threads take turns on a leaderboard file: DuckDB allows one writing process at a
time, so each connection is short-lived, attached to one in-memory hub per process, serialised per file
inside the process, and a lock held by another process is waited out (``LOCK_TIMEOUT_S``). Also tells a
lock conflict from a damaged file, which is never waited out or silently replaced."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from core.errors import LeaderboardError
from studies.results.records import MEMORY

if TYPE_CHECKING:  # pragma: no cover
    import duckdb


LOCK_TIMEOUT_S = float(os.environ.get("ADVISOR_LEADERBOARD_LOCK_TIMEOUT", "120"))


PROCESS_LOCKS: dict[str, threading.RLock] = {}


PROCESS_LOCKS_GUARD = threading.Lock()


def process_lock(key: str) -> threading.RLock:
    with PROCESS_LOCKS_GUARD:
        return PROCESS_LOCKS.setdefault(key, threading.RLock())


ALIAS = "leaderboard_file"


HUB_LOCK = threading.RLock()


HUB: dict[str, Any] = {}


def hub_connection() -> "duckdb.DuckDBPyConnection":
    """This process's in-memory DuckDB connection that leaderboard files are attached to, one at a time.

    Re-created after a fork (a DuckDB instance must not cross ``fork``). Holds no file between calls.
    """
    import duckdb

    if HUB.get("pid") != os.getpid():
        HUB["con"] = duckdb.connect(MEMORY)
        HUB["pid"] = os.getpid()
    return HUB["con"]


def is_lock_conflict(exc: Exception) -> bool:
    text = str(exc).lower()
    if "corrupt" in text or "not a valid duckdb" in text or "checksum" in text:
        return False
    return "could not set lock" in text or "conflicting lock" in text or "different configuration" in text or "lock on file" in text


def is_damage(exc: BaseException) -> bool:
    """A DuckDB error that means the file is damaged (truncated, garbled, not DuckDB), not a bug or a lock."""
    import duckdb

    if not isinstance(exc, duckdb.Error) or is_lock_conflict(exc):  # type: ignore[arg-type]
        return False
    text = str(exc).lower()
    damaged = (duckdb.IOException, duckdb.SerializationException, duckdb.InternalException, duckdb.FatalException)
    return type(exc) is duckdb.Error or isinstance(exc, damaged) or "corrupt" in text or "invalidated" in text


def damaged_error(path: str, exc: BaseException) -> LeaderboardError:
    """What to do about a leaderboard file DuckDB cannot read."""
    first = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
    return LeaderboardError(
        f"The leaderboard {path} is damaged or not a leaderboard ({first}). It was not changed. Restore it from a backup, "
        f"or move it aside (`mv {path} {path}.broken`) and rebuild it: `advisor leaderboard --ingest-runs` re-adds the "
        "evaluation runs, `advisor sweep status NAME` each sweep's trials (reviews are not in those records)."
    )
