"""The review and gate tables, inside the workspace's leaderboard file.

DuckDB lets one process hold the file for writing, and while it does nobody else can open it.
So every operation here goes through the leaderboard's own connection helper
(:meth:`studies.results.leaderboard.Leaderboard.connect`: short-lived, retried with backoff while another
process holds the lock, closed at the end). The tables are created idempotently
(``CREATE TABLE IF NOT EXISTS``) on every connection, outside the leaderboard's versioned
migrations, so they never interfere with them. (The leaderboard's own ``reviews`` table holds
accept/reject decisions; the pairwise judgements live in ``review_judgements``.)

Tables:

* ``review_sessions``: one row per review session (pair, reviewer, seed that drew the order).
* ``review_judgements``: one row per judgement; primary key (pair, item, reviewer): a reviewer never
  judges the same item of a pair twice (skips are stored too, so they are not shown again).
* ``review_scores``: Bradley-Terry score per run, refreshed after each session.
* ``gate_verdicts`` / ``gate_waivers``: every gate decision and every waiver with its reason.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from core.workspace import Workspace

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS review_sessions (
        session_id VARCHAR PRIMARY KEY,
        run_lo VARCHAR NOT NULL,
        run_hi VARCHAR NOT NULL,
        reviewer VARCHAR NOT NULL,
        seed BIGINT NOT NULL,
        items INTEGER NOT NULL,
        started_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS review_judgements (
        run_lo VARCHAR NOT NULL,
        run_hi VARCHAR NOT NULL,
        item_id VARCHAR NOT NULL,
        reviewer VARCHAR NOT NULL,
        session_id VARCHAR NOT NULL,
        left_run VARCHAR NOT NULL,
        right_run VARCHAR NOT NULL,
        choice VARCHAR NOT NULL,
        winner VARCHAR,
        comment VARCHAR,
        position INTEGER NOT NULL,
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (run_lo, run_hi, item_id, reviewer)
    )""",
    """CREATE TABLE IF NOT EXISTS gate_verdicts (
        verdict_id VARCHAR PRIMARY KEY,
        run_id VARCHAR NOT NULL,
        passed BOOLEAN NOT NULL,
        failures VARCHAR NOT NULL,
        details VARCHAR NOT NULL,
        decided_by VARCHAR,
        decided_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS gate_waivers (
        verdict_id VARCHAR NOT NULL,
        run_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        reason VARCHAR NOT NULL,
        applied BOOLEAN NOT NULL,
        PRIMARY KEY (verdict_id, name)
    )""",
)

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
    """A short-lived connection to the leaderboard file (the leaderboard's own helper: migrated,
    retried on lock conflicts, closed at the end of the block) with the review/gate tables present."""
    ws.ensure()
    with leaderboard(ws).connect() as con:
        for statement in SCHEMA:
            con.execute(statement)
        yield con


def table_exists(con: Any, name: str) -> bool:
    row = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchone()
    return bool(row and row[0])
