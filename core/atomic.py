"""Atomic writes: write to a temporary sibling, fsync, then rename over the target.

A process killed mid-write leaves the previous file (or directory) intact and readable;
that is the "nothing lost" rule of the workspace. Its temporary sibling is named after the host
and process id, so the next write of the same target removes it once that process is gone.
A full disk becomes a :class:`WorkspaceError` that says the previous content survived.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import WorkspaceError

_HOST = socket.gethostname().replace(".", "_")


def _temp_prefix(target: Path) -> str:
    return f".{target.name}.{_HOST}-{os.getpid()}."


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, owned by someone else
        return False
    return False


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Delete temporary siblings of ``target`` left by writers on this host that no longer run."""
    removed: list[Path] = []
    head = f".{target.name}.{_HOST}-"
    with contextlib.suppress(OSError):
        for entry in target.parent.iterdir():
            if not (entry.name.startswith(head) and entry.name.endswith(".tmp")):
                continue
            pid_text = entry.name[len(head):].split(".", 1)[0]
            if not pid_text.isdigit() or int(pid_text) == os.getpid() or not _process_gone(int(pid_text)):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()
            removed.append(entry)
    return removed


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    # FAISS and other C++ writers surface the OS error as a RuntimeError carrying its text.
    return isinstance(exc, RuntimeError) and os.strerror(errno.ENOSPC) in str(exc)


def _disk_full_error(target: Path) -> WorkspaceError:
    return WorkspaceError(
        f"No space left on device while writing {target}; its previous content is intact. "
        "Free disk space (or use --workspace on a larger disk) and run the command again."
    )


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _umask() -> int:
    """The process umask, read without changing it (Linux); 0o022 where it cannot be read."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _file_mode(target: Path) -> int:
    """The mode a plain ``open(path, 'w')`` would give: the existing file's, else 0o666 less the umask.

    ``mkstemp`` makes its file 0600; without this every atomically written file would be readable by its owner only.
    """
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Replace ``path`` with ``data`` so that readers see the old or the new content, never a mix."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, _file_mode(target))
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if _disk_full(exc):
            raise _disk_full_error(target) from exc
        raise
    _fsync_dir(target.parent)
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Text flavour of :func:`atomic_write_bytes` (UTF-8)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented, key-sorted JSON atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> None:
    """Swap two directories in one step (Linux ``renameat2(RENAME_EXCHANGE)``).

    Where the call is missing (other kernels, other libcs) fall back to two renames; a crash
    between them leaves ``b`` absent and its old content in ``a``, which :func:`recover_directory`
    puts back.
    """
    import ctypes
    import ctypes.util

    libc_name = ctypes.util.find_library("c")
    if libc_name:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        func = getattr(libc, "renameat2", None)
        if func is not None:
            at_fdcwd = -100
            rc = func(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
            if rc == 0:
                return
    backup = b.parent / f".{b.name}.swap"
    os.replace(b, backup)
    os.replace(a, b)
    os.replace(backup, a)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary directory; on success it replaces ``path`` in one rename.

    If the block raises (disk full, killed process), ``path`` keeps its previous content.
    An existing ``path`` is moved aside first and removed only after the new one is in place.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent))
    try:
        try:  # mkdtemp makes it 0700: keep the folder's mode, or what a plain mkdir would give
            os.chmod(tmp, target.stat().st_mode & 0o7777)
        except OSError:
            os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
        for root, _dirs, files in os.walk(tmp):
            for name in files:
                with open(os.path.join(root, name), "rb") as handle:
                    os.fsync(handle.fileno())
        if target.exists():
            _exchange(tmp, target)  # tmp now holds the previous content
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if _disk_full(exc):
            raise _disk_full_error(target) from exc
        raise
