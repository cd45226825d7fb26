"""Where a generation run lives in the workspace and how its JSONL files are written and read back.

On its own so that the generator and the review queue share it without importing each other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import DataError
from core.workspace import Workspace

AREA = "generated"
"""The workspace area of generation runs (``<ws>/generated/<name>/``)."""
DECISIONS = "decisions.jsonl"
"""The append-only log of review decisions in a run's folder."""


def run_dir(ws: Workspace, name: str) -> Path:
    return ws.path(AREA, name)


def write_jsonl(path: Path, rows: Any) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")


def read_jsonl(path: Path, torn_lines_ok: bool = False) -> list[dict[str, Any]]:
    """Rows of a JSONL file this module wrote; a torn last line (a crash mid-append) is ignored, and in
    an append-only log (``torn_lines_ok``) so is any torn line a crash left before later appends."""
    rows = []
    if not path.exists():
        return rows
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError as exc:
            if number == len(lines) or torn_lines_ok:
                continue  # torn line of an interrupted append
            raise DataError(f"{path}:{number} is not valid JSON ({exc}); the file was edited or damaged.") from exc
    return rows


