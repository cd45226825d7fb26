"""Optuna RDB storage: opening it (SQLite WAL, PostgreSQL), retries on lock conflicts, outage detection, URL redaction."""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.errors import SweepError
from studies.sweeps.config import SweepConfig

if TYPE_CHECKING:  # pragma: no cover
    import optuna


def _engine_kwargs(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # Wait for the lock instead of failing ("database is locked") when workers write together.
        return {"connect_args": {"timeout": 60}}
    return {"pool_pre_ping": True}


def _prepare_sqlite(url: str) -> None:
    """Create the folder and switch the file to WAL (readers never block the writer)."""
    import sqlite3
    from pathlib import Path

    path = url.split("sqlite:///", 1)[-1]
    if not path or path == ":memory:":
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(sqlite3.Error):
        conn = sqlite3.connect(path, timeout=60)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
        finally:
            conn.close()


def open_storage(url: str, config: SweepConfig | None = None) -> "optuna.storages.RDBStorage":
    """An Optuna RDB storage at ``url``; with ``config``, heartbeats and stale-trial retries are on.

    SQLite (``sqlite:///path``) is the embedded default; ``postgresql://user:pw@host/db`` (psycopg 3)
    serves many machines. Anything else (journal files, in-memory) is refused: only the RDB storage
    has heartbeats, and without them a killed worker's trial would stay RUNNING for ever.
    """
    import optuna

    if not (url.startswith("sqlite:///") or url.startswith("postgresql") or url.startswith("mysql")):
        raise SweepError(
            f"Storage {url!r} is not supported: use sqlite:///PATH (one machine, the default) or "
            "postgresql://USER:PASSWORD@HOST:PORT/DB (many machines). Only Optuna's RDB storage detects killed workers."
        )
    if url.startswith("sqlite"):
        _prepare_sqlite(url)
    kwargs: dict[str, Any] = {}
    if config is not None:
        # optuna >= 4.9 names it RetryHeartbeatStaleTrialCallback (RetryFailedTrialCallback before).
        retry_cls = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
        key = "heartbeat_stale_trial_callback"
        if retry_cls is None:
            retry_cls, key = optuna.storages.RetryFailedTrialCallback, "failed_trial_callback"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            callback = retry_cls(max_retry=config.max_retry)
        kwargs = {"heartbeat_interval": config.heartbeat_interval, "grace_period": config.grace, key: callback}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return retry_storage(lambda: optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url), **kwargs))
    except ImportError as exc:
        raise SweepError(f"Cannot open {url}: {exc}. For PostgreSQL install psycopg: pip install 'psycopg[binary]'.") from exc
    except Exception as exc:  # sqlalchemy.exc.OperationalError and friends
        raise SweepError(f"Cannot open the Optuna storage {redact_url(url)}: {exc}. Is the server running and the URL right?") from exc


def redact_url(url: str) -> str:
    """The URL with its password hidden (for messages and status output)."""
    import re

    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def retry_storage(fn: Callable[[], Any], attempts: int = 5, delay: float = 0.5) -> Any:
    """Call ``fn``, retrying briefly on "database is locked"-style operational errors."""
    for attempt in range(attempts):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001
            text = str(exc).lower()
            if attempt == attempts - 1 or not ("locked" in text or "busy" in text or "could not serialize" in text):
                raise
            time.sleep(delay * (attempt + 1))
    return None  # pragma: no cover


STORAGE_OUTAGE_S = float(os.environ.get("ADVISOR_STORAGE_OUTAGE_S", "300"))


"""How long a worker keeps retrying while the Optuna storage is unreachable (e.g. PostgreSQL restarting)."""


_TRANSIENT = ("locked", "busy", "could not serialize", "connection", "server closed", "terminating", "could not connect",
              "the database system is", "timeout", "timed out", "ssl syscall", "broken pipe", "eof detected")


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` (or an exception it was raised from or during) is a storage outage worth waiting out."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        names = {cls.__name__ for cls in type(current).__mro__}
        if names & {"OperationalError", "InterfaceError", "DisconnectionError", "StorageInternalError"}:
            return True
        if names & {"DatabaseError", "SQLAlchemyError", "Error"} and any(word in str(current).lower() for word in _TRANSIENT):
            return True
        current = current.__cause__ or current.__context__
    return False
