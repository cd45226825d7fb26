"""Optuna RDB storage: opening it (SQLite WAL, PostgreSQL), retries on lock conflicts, outage detection, URL redaction."""

from __future__ import annotations

import contextlib
import os
import re
import time
import warnings
from collections.abc import Callable
from pathlib import Path
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


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///PATH`` URL; refuses URLs that workers in other processes cannot share."""
    path = url.split("sqlite:///", 1)[-1].split("?", 1)[0]
    if not path or path in (":memory:", "file::memory:") or "mode=memory" in url:
        raise SweepError(
            f"Storage {redact_url(url)!r} names no file (or an in-memory database): sweep workers run in their own "
            "processes and could not see it. Use sqlite:///PATH/optuna.db, or leave --storage out for the workspace's file."
        )
    target = Path(path).expanduser()
    if target.is_dir():
        raise SweepError(f"Storage {redact_url(url)!r} is a folder; name a file such as sqlite:///{target / 'optuna.db'}.")
    return target


def check_url(url: str) -> None:
    """Refuse storage URLs that cannot work before anything is created or launched."""
    if not isinstance(url, str) or not url.strip():
        raise SweepError("The storage URL is empty: use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DB.")
    if url.startswith("sqlite"):
        if not url.startswith("sqlite:///"):
            raise SweepError(f"Storage {redact_url(url)!r} names no file: use sqlite:///PATH (three slashes, then the path).")
        sqlite_path(url)


def corrupt_storage_error(path: Path, why: str) -> SweepError:
    return SweepError(
        f"The Optuna storage {path} is corrupt or not an Optuna database ({why}). It was not used and nothing was changed. "
        f"Restore it from a backup, or move it aside (`mv {path} {path}.broken`) to start with no sweeps; the leaderboard "
        "keeps the results already ingested."
    )


def check_sqlite_file(path: Path) -> None:
    """An existing SQLite file must be a healthy database with Optuna's tables (or none yet)."""
    import sqlite3

    size = path.stat().st_size
    if size == 0 and time.time() - path.stat().st_mtime < 2:
        time.sleep(2)  # another process may be creating it this instant
        size = path.stat().st_size
    if size == 0:
        raise corrupt_storage_error(path, "the file is empty")
    # Only SQLite itself opens the file: closing any other descriptor of it would drop the POSIX locks this
    # process's own SQLite connections hold (readers then see a stale WAL snapshot). A missing header is
    # SQLite's "file is not a database" below.
    try:
        conn = sqlite3.connect(path, timeout=60)
        try:
            verdict = conn.execute("PRAGMA quick_check").fetchall()
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc).lower() or "busy" in str(exc).lower():
            return  # a writer holds it: the storage itself waits
        raise corrupt_storage_error(path, str(exc)) from exc
    except sqlite3.DatabaseError as exc:
        raise corrupt_storage_error(path, str(exc)) from exc
    if verdict != [("ok",)]:
        raise corrupt_storage_error(path, "; ".join(str(r[0]) for r in verdict[:3]))
    if tables and "studies" not in tables:
        raise corrupt_storage_error(path, f"it holds other tables ({', '.join(sorted(tables)[:5])}), not Optuna's")


def _prepare_sqlite(url: str) -> None:
    """Check an existing file, create the folder of a new one, and switch the file to WAL (readers never block the writer)."""
    import sqlite3

    path = sqlite_path(url)
    if path.exists():
        check_sqlite_file(path)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, timeout=60)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        if not ("locked" in str(exc).lower() or "busy" in str(exc).lower()):
            raise SweepError(f"Cannot open the Optuna storage {path}: {exc}. Check the folder exists and is writable.") from exc
    except sqlite3.DatabaseError as exc:
        raise corrupt_storage_error(path, str(exc)) from exc


def open_storage(url: str, config: SweepConfig | None = None) -> "optuna.storages.RDBStorage":
    """An Optuna RDB storage at ``url``; with ``config``, heartbeats and stale-trial retries are on.

    SQLite (``sqlite:///path``) is the embedded default; ``postgresql://user:pw@host/db`` (psycopg 3)
    serves many machines. Anything else (journal files, in-memory) is refused: only the RDB storage
    has heartbeats, and without them a killed worker's trial would stay RUNNING for ever.
    """
    import optuna

    check_url(url)
    if not (url.startswith("sqlite:///") or url.startswith("postgresql") or url.startswith("mysql")):
        raise SweepError(
            f"Storage {redact_url(url)!r} is not supported: use sqlite:///PATH (one machine, the default) or "
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
            return retry_storage(lambda: optuna.storages.RDBStorage(connectable_url(url), engine_kwargs=_engine_kwargs(url), **kwargs))
    except ImportError as exc:
        raise SweepError(f"Cannot open {redact_url(url)}: {redact_text(exc, url)}. For PostgreSQL install psycopg: pip install 'psycopg[binary]'.") from exc
    except Exception as exc:  # sqlalchemy.exc.OperationalError and friends
        raise SweepError(f"Cannot open the Optuna storage {redact_url(url)}: {redact_text(exc, url)}. Is the server running and the URL right?") from exc


_SECRET_KEYS = re.compile(r"pass|pwd|secret|token|key|auth|credential", re.IGNORECASE)


def _split_secrets(url: str) -> tuple[str, list[str], str]:
    """``url`` with every secret replaced by ``***``, and the secrets themselves (for scrubbing other text).

    The user-info ends at the *last* ``@`` before the query, so a password holding ``@`` (or ``:``)
    is hidden whole; the rest is parsed by SQLAlchemy's ``make_url``. Query parameters named like a
    secret (``password``, ``sslpassword``, ``token``, ...) are hidden too.
    """
    from urllib.parse import quote, unquote

    scheme, sep, rest = url.partition("://")
    if not sep:
        return url, [], url
    head, qmark, query = rest.partition("?")
    secrets: list[str] = []
    at = head.rfind("@")
    userinfo, host = (head[:at], head[at + 1:]) if at >= 0 else ("", head)
    user, colon, password = userinfo.partition(":")
    if colon and password:
        secrets += [password, unquote(password), quote(unquote(password), safe=""), *unquote(password).split("@")]
    try:
        from sqlalchemy.engine import make_url

        rebuilt = f"{scheme}://{quote(unquote(user), safe='')}{':' + quote(unquote(password), safe='') if colon else ''}{'@' if at >= 0 else ''}{host}"
        parsed = make_url(rebuilt + (qmark + query if qmark else ""))
        hidden = {k: ("***" if _SECRET_KEYS.search(k) else v) for k, v in parsed.query.items()}
        for k, v in parsed.query.items():
            if _SECRET_KEYS.search(k):
                secrets += [x for x in ([v] if isinstance(v, str) else list(v)) if x]
        for item in query.split("&"):  # the values as written (percent-encoded) too
            key, _eq, raw = item.partition("=")
            if _SECRET_KEYS.search(unquote(key)) and raw:
                secrets += [raw, unquote(raw), quote(unquote(raw), safe="")]
        shown = parsed.set(query=hidden).render_as_string(hide_password=True) if parsed.query else parsed.render_as_string(hide_password=True)
        shown = shown.replace("%2A%2A%2A", "***")
        if "***" not in shown and not secrets:
            return url, [], url  # nothing secret: keep the URL exactly as given (sqlite:///:memory: stays readable)
        normalised = rebuilt + (qmark + query if qmark else "")
        return shown, sorted({s for s in secrets if s}, key=len, reverse=True), normalised
    except Exception:  # noqa: BLE001 - unparseable: show the scheme only
        return f"{scheme}://***", sorted({s for s in secrets + [rest] if s}, key=len, reverse=True), url


def connectable_url(url: str) -> str:
    """``url`` with its password percent-encoded, so a password holding ``@``, ``:`` or ``/`` reaches the server whole."""
    return _split_secrets(str(url))[2] if "://" in str(url) and not str(url).startswith("sqlite") else str(url)


def redact_url(url: str) -> str:
    """The storage URL with its password (and secret query parameters) shown as ``***``.

    The only place URLs are redacted: every message, log line, status output and record that
    shows a storage URL goes through here (or :func:`redact_text`).
    """
    return _split_secrets(str(url))[0]


def redact_text(text: str, url: str) -> str:
    """``text`` (an exception message, a log line) with the URL and every secret of it hidden."""
    shown, secrets, _ = _split_secrets(str(url))
    out = str(text).replace(str(url), shown)
    for secret in secrets:
        if len(secret) >= 2:
            out = out.replace(secret, "***")
    return out


@contextlib.contextmanager
def storage_errors(url: str):
    """Turn a database error while reading or writing the storage into a :class:`SweepError` that names it.

    Outages (connection refused, server restarting) say so; anything else is a damaged or foreign database.
    """
    try:
        yield
    except SweepError:
        raise
    except Exception as exc:
        names = {cls.__name__ for cls in type(exc).__mro__}
        if not names & {"DatabaseError", "SQLAlchemyError", "Error", "StorageInternalError"} or type(exc).__module__.startswith("builtins"):
            raise
        if is_transient(exc):
            raise SweepError(f"The Optuna storage {redact_url(url)} is unreachable ({redact_text(str(exc).splitlines()[0][:300], url)}). "
                             "Is the server running and the URL right?") from exc
        first = redact_text((str(exc).splitlines() or [type(exc).__name__])[0][:300], url)
        if not any(word in str(exc).lower() for word in _CORRUPT):
            raise SweepError(f"The Optuna storage {redact_url(url)} refused the operation ({first}). Retry; if it "
                             "persists, check the database (`advisor sweep list` shows whether it opens).") from exc
        where = sqlite_path(url) if url.startswith("sqlite:///") else Path(redact_url(url))
        raise corrupt_storage_error(where, first) from exc


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


_CORRUPT = ("malformed", "not a database", "no such table", "no such column", "file is encrypted", "disk image")


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` (or an exception it was raised from or during) is a storage outage worth waiting out.

    A corrupt or foreign database is never an outage: waiting would only hide it.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, SweepError) or any(word in str(current).lower() for word in _CORRUPT):
            return False
        names = {cls.__name__ for cls in type(current).__mro__}
        if names & {"OperationalError", "InterfaceError", "DisconnectionError", "StorageInternalError"}:
            return True
        if names & {"DatabaseError", "SQLAlchemyError", "Error"} and any(word in str(current).lower() for word in _TRANSIENT):
            return True
        current = current.__cause__ or current.__context__
    return False
