"""Helpers shared by the reliability tests: soak scaling, workspace snapshots, figure recording."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

SOAK = os.environ.get("SOAK", "") not in ("", "0")
"""`make soak` sets SOAK=1: every loop below runs ~10x longer."""


def scaled(ci: int, soak_factor: int = 10) -> int:
    """``ci`` in CI, ``ci * soak_factor`` under SOAK=1."""
    return ci * soak_factor if SOAK else ci


def examples() -> int:
    """Generated cases per loader: 1,000 in CI, 10,000 under SOAK=1 ($RELIABILITY_EXAMPLES overrides, for quick local runs)."""
    override = os.environ.get("RELIABILITY_EXAMPLES")
    return int(override) if override else scaled(1000)


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` -> sha256 (files) or 'dir'; compare two to prove "nothing written"."""
    out: dict[str, str] = {}
    if not root.exists():
        return out
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_dir():
            out[rel] = "dir"
        elif path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[rel] = "other"
    return out


def record_figure(test: str, **values) -> None:
    """Append a figure (cases tried, kills survived, ...) to ``$RELIABILITY_FIGURES`` (JSON lines) when set.

    RELIABILITY.md's figures come from a run with that variable set; the tests also print them (-s / -rP).
    """
    line = {"test": test, "soak": SOAK, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **values}
    print(f"[reliability] {json.dumps(line, sort_keys=True)}")
    target = os.environ.get("RELIABILITY_FIGURES")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, sort_keys=True) + "\n")
