"""Files people upload (through the app): checked before they are stored, stored under the workspace.

A file is refused before anything is written when it is too big, empty, of a type the purpose does
not read, or not text (a binary file renamed ``.jsonl``). Messages name the file as the person
called it, never a server path. A second upload of the same name keeps the first one: identical
bytes reuse it, different bytes get a numbered name.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import DataError
from core.workspace import Workspace, slugify

MAX_UPLOAD_MB = 50
"""Largest file accepted (MB). Streamlit enforces ``server.maxUploadSize`` in .streamlit/config.toml
in the browser; :func:`store_upload` checks again on the server: change both together."""
UPLOAD_SUFFIXES = {"pairs": (".jsonl", ".json", ".csv", ".tsv", ".ndjson"),
                   "corpus": (".jsonl", ".json", ".ndjson", ".md", ".markdown", ".txt", ".rst"),
                   "plans": (".yaml", ".yml", ".json")}


def _check_text(filename: str, data: bytes) -> None:
    """Refuse bytes that are not UTF-8 text (every purpose reads text formats)."""
    head = data[:1_000_000]
    if b"\x00" in head:
        raise DataError(f"{filename} is a binary file, not text: upload JSONL, JSON, CSV/TSV, YAML or Markdown text.")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a multi-byte character cut at the 1 MB boundary is fine
            raise DataError(f"{filename} is not UTF-8 text (byte {exc.start}): save it as UTF-8 and upload it "
                            "again.") from None


def store_upload(ws: Workspace, filename: str, data: bytes, purpose: str = "pairs",
                 max_mb: int = MAX_UPLOAD_MB) -> Path:
    """Check an uploaded file, then save it atomically under ``<workspace>/uploads/<purpose>/``.

    The file name is sanitised (never trusted as a path). Returns the stored path.
    """
    from core.atomic import atomic_write_bytes

    if purpose not in UPLOAD_SUFFIXES:
        raise DataError(f"Unknown upload purpose {purpose!r}; expected one of {', '.join(UPLOAD_SUFFIXES)}.")
    size_mb = len(data) / 1_000_000
    if size_mb > max_mb:
        raise DataError(
            f"{filename} is {size_mb:.1f} MB; the app accepts files up to {max_mb} MB. Larger data belongs on disk: "
            f"run `advisor data check PATH` from the command line, or raise server.maxUploadSize in "
            ".streamlit/config.toml and MAX_UPLOAD_MB in core/uploads.py together."
        )
    if not data:
        raise DataError(f"{filename} is empty: upload a file with at least one record.")
    stem, dot, suffix = filename.rpartition(".")
    suffix = f".{suffix.lower()}" if dot else ""
    if suffix not in UPLOAD_SUFFIXES[purpose]:
        raise DataError(f"{filename}: expected one of {', '.join(UPLOAD_SUFFIXES[purpose])} for a {purpose} file.")
    _check_text(filename, data)
    base = slugify(stem or "upload", default="upload")[:80]
    folder = ws.dir("uploads") / purpose
    folder.mkdir(parents=True, exist_ok=True)
    number = 1
    while True:
        path = ws.contain(folder / (f"{base}{suffix}" if number == 1 else f"{base}-{number}{suffix}"))
        if not path.exists():
            break
        if path.read_bytes() == data:
            return path  # the same file again: nothing new to store
        number += 1
    atomic_write_bytes(path, data)
    return path


def uploaded_files(ws: Workspace, purpose: str) -> list[Path]:
    """Files uploaded earlier for ``purpose`` ('pairs', 'corpus' or 'plans'), newest first."""
    folder = ws.root / "uploads" / purpose
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    return sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)
