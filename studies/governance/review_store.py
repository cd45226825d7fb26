"""Connections to the review and gate tables, inside the workspace's leaderboard file.

DuckDB lets one process hold the file for writing, and while it does nobody else can open it.
So every operation here goes through the leaderboard's own connection helper
(:meth:`studies.results.leaderboard.Leaderboard.connect`: short-lived, retried with backoff while another
process holds the lock, closed at the end). The tables themselves (``review_sessions``,
``review_judgements``, ``review_scores``, ``gate_verdicts``, ``gate_waivers``) belong to the leaderboard's
schema (:mod:`studies.results.schema`, migrations 5 and 6). (The leaderboard's own ``reviews`` table holds
accept/reject decisions; the pairwise judgements live in ``review_judgements``.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from core.workspace import Workspace

_BOARDS: dict[str, Any] = {}


def leaderboard(ws: Workspace) -> Any:
    """One :class:`studies.results.leaderboard.Leaderboard` per file and process (it migrates the file once)."""
    from studies.results.leaderboard import Leaderboard

    key = str(ws.leaderboard_path)
    if key not in _BOARDS:
        _BOARDS[key] = Leaderboard(ws)
    return _BOARDS[key]


@contextlib.contextmanager
def connect(ws: Workspace) -> Iterator[Any]:
    """A short-lived connection to the migrated leaderboard file (retried on lock conflicts, closed at the end)."""
    ws.ensure()
    with leaderboard(ws).connect() as con:
        yield con
