"""The leaderboard's DuckDB schema: every migration in order, metric columns, the schema version."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from core.errors import LeaderboardError
from studies.results.records import utc_now

if TYPE_CHECKING:  # pragma: no cover
    import duckdb


_V1 = """
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP);
CREATE TABLE runs (
    run_id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    system VARCHAR,
    study VARCHAR,
    trial INTEGER,
    base_model VARCHAR,
    method VARCHAR,
    config_json VARCHAR,
    dataset_name VARCHAR,
    dataset_version VARCHAR,
    split_version VARCHAR,
    split_part VARCHAR,
    n_items INTEGER,
    metrics_json VARCHAR,
    latency_s DOUBLE,
    money_usd DOUBLE,
    status VARCHAR DEFAULT 'candidate',
    created_at TIMESTAMP
);
"""


"""Version 1 (the first release): metrics as one JSON column, no cost breakdown, no reviews."""


_V2 = """
CREATE TABLE metrics (
    run_id VARCHAR NOT NULL,
    metric VARCHAR NOT NULL,
    mean DOUBLE NOT NULL,
    low DOUBLE,
    high DOUBLE,
    n INTEGER,
    PRIMARY KEY (run_id, metric)
);
ALTER TABLE runs ADD COLUMN train_tokens BIGINT DEFAULT 0;
ALTER TABLE runs ADD COLUMN eval_tokens BIGINT DEFAULT 0;
ALTER TABLE runs ADD COLUMN cpu_hours DOUBLE DEFAULT 0;
ALTER TABLE runs ADD COLUMN gpu_hours DOUBLE DEFAULT 0;
ALTER TABLE runs ADD COLUMN latency_p95_s DOUBLE DEFAULT 0;
ALTER TABLE runs ADD COLUMN skipped_json VARCHAR DEFAULT '{}';
ALTER TABLE runs ADD COLUMN artifacts_json VARCHAR DEFAULT '{}';
ALTER TABLE runs ADD COLUMN code_version VARCHAR;
ALTER TABLE runs ADD COLUMN environment_json VARCHAR DEFAULT '{}';
ALTER TABLE runs ADD COLUMN updated_at TIMESTAMP;
"""


"""Version 2: a metrics table (one row per run and metric, with its interval), cost, provenance."""


_V3 = """
ALTER TABLE runs ADD COLUMN status_by VARCHAR;
ALTER TABLE runs ADD COLUMN status_reason VARCHAR;
ALTER TABLE runs ADD COLUMN status_at TIMESTAMP;
ALTER TABLE runs ADD COLUMN registry_path VARCHAR;
CREATE TABLE reviews (
    run_id VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    by_name VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    registry_path VARCHAR,
    decided_at TIMESTAMP NOT NULL
);
CREATE INDEX runs_kind ON runs (kind);
"""


"""Version 3: who accepted or rejected a run and why (with history), and its registry entry."""


def _migrate_v2(con: "duckdb.DuckDBPyConnection") -> None:
    con.execute(_V2)
    rows = con.execute("SELECT run_id, metrics_json FROM runs WHERE metrics_json IS NOT NULL").fetchall()
    values = []
    for run_id, text in rows:
        for metric, s in (json.loads(text) or {}).items():
            values.append((run_id, metric, float(s["mean"]), s.get("low"), s.get("high"), s.get("n")))
    if values:
        con.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", values)
    con.execute("UPDATE runs SET updated_at = created_at")
    con.execute("ALTER TABLE runs DROP COLUMN metrics_json")


def _migrate_v4(con: "duckdb.DuckDBPyConnection") -> None:
    """Version 4: metrics move into columns of ``runs`` (``m<k>``, ``m<k>_low``, ``m<k>_high``, ``m<k>_n``),
    named through ``metric_columns``. Queries on one metric then scan one table, no join: the best-per-kind
    and Pareto queries stay within milliseconds at 100,000 runs (bench/bench_leaderboard.py)."""
    con.execute("CREATE TABLE metric_columns (metric VARCHAR PRIMARY KEY, col VARCHAR NOT NULL UNIQUE, added_at TIMESTAMP)")
    names = [r[0] for r in con.execute("SELECT DISTINCT metric FROM metrics ORDER BY metric").fetchall()]
    cols = add_metric_columns(con, names, {})
    for name in names:
        col = cols[name]
        con.execute(
            f"UPDATE runs SET {col} = m.mean, {col}_low = m.low, {col}_high = m.high, {col}_n = m.n "
            "FROM metrics m WHERE m.run_id = runs.run_id AND m.metric = ?",
            [name],
        )
    con.execute("DROP TABLE metrics")


def add_metric_columns(con: "duckdb.DuckDBPyConnection", names: Iterable[str], known: dict[str, str]) -> dict[str, str]:
    """Give every metric in ``names`` its columns (``known``: the current mapping); returns the new mapping."""
    mapping = dict(known)
    for name in names:
        if name in mapping:
            continue
        if not isinstance(name, str) or not name or len(name) > 200:
            raise LeaderboardError(f"Metric name {name!r} is not usable: use 1-200 characters.")
        col = f"m{len(mapping) + 1}"
        while col in mapping.values():
            col = f"m{int(col[1:]) + 1}"
        con.execute("INSERT INTO metric_columns VALUES (?, ?, ?)", [name, col, utc_now()])
        for suffix, kind in (("", "DOUBLE"), ("_low", "DOUBLE"), ("_high", "DOUBLE"), ("_n", "INTEGER")):
            con.execute(f"ALTER TABLE runs ADD COLUMN {col}{suffix} {kind}")
        mapping[name] = col
    return mapping


def metric_columns(con: "duckdb.DuckDBPyConnection") -> dict[str, str]:
    """``{metric name: column base name}`` of an open, migrated leaderboard."""
    return dict(con.execute("SELECT metric, col FROM metric_columns").fetchall())


_V5 = """
CREATE TABLE IF NOT EXISTS review_scores (
    run_id VARCHAR PRIMARY KEY,
    bt_score DOUBLE NOT NULL,
    elo DOUBLE NOT NULL,
    comparisons INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
"""


"""Version 5: Bradley-Terry scores from blind human review (written by ``studies.governance.review.refresh_scores``),
shown on every run row as ``review_score`` / ``review_elo`` / ``review_comparisons``."""


_V6 = """
CREATE TABLE IF NOT EXISTS review_sessions (
    session_id VARCHAR PRIMARY KEY,
    run_lo VARCHAR NOT NULL,
    run_hi VARCHAR NOT NULL,
    reviewer VARCHAR NOT NULL,
    seed BIGINT NOT NULL,
    items INTEGER NOT NULL,
    started_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS review_judgements (
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
);
CREATE TABLE IF NOT EXISTS gate_verdicts (
    verdict_id VARCHAR PRIMARY KEY,
    run_id VARCHAR NOT NULL,
    passed BOOLEAN NOT NULL,
    failures VARCHAR NOT NULL,
    details VARCHAR NOT NULL,
    decided_by VARCHAR,
    decided_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS gate_waivers (
    verdict_id VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    applied BOOLEAN NOT NULL,
    PRIMARY KEY (verdict_id, name)
);
"""


"""Version 6: blind review sessions and judgements (one per pair, item and reviewer: a reviewer never judges
the same item of a pair twice; skips are stored too), every gate verdict and every waiver with its reason.
Workspaces older than this migration had these tables created outside the migrations by the review code;
``IF NOT EXISTS`` keeps their rows: the definitions are the same."""
_V7 = """
ALTER TABLE runs ADD COLUMN task VARCHAR;
CREATE INDEX runs_task ON runs (task);
CREATE INDEX runs_dataset_split ON runs (dataset_name, split_version, split_part);
"""


"""Version 7: the task kind of every run (classification, structured, command, short_answer, text), and indexes for
the data set / split / part filters. Rows from before stay NULL (unknown kind). Independent of version 6."""


MIGRATIONS: dict[int, Any] = {
    1: lambda con: con.execute(_V1),
    2: _migrate_v2,
    3: lambda con: con.execute(_V3),
    4: _migrate_v4,
    5: lambda con: con.execute(_V5),
    6: lambda con: con.execute(_V6),
    7: lambda con: con.execute(_V7),
}


SCHEMA_VERSION = max(MIGRATIONS)


RUN_COLUMNS = (
    "run_id kind system study trial base_model method config_json dataset_name dataset_version split_version "
    "split_part n_items latency_s money_usd status created_at train_tokens eval_tokens cpu_hours gpu_hours "
    "latency_p95_s skipped_json artifacts_json code_version environment_json updated_at status_by status_reason "
    "status_at registry_path task"
).split()


JSON_COLUMNS = {"config_json": "config", "skipped_json": "skipped_metrics", "artifacts_json": "artifacts", "environment_json": "environment"}


def schema_version(con: "duckdb.DuckDBPyConnection") -> int:
    """The applied schema version of an open database (0 when empty)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations' AND table_schema = 'main' "
        "AND table_catalog = current_database()"
    ).fetchone()[0]
    if not exists:
        return 0
    return int(con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0])


def applied_versions(con: "duckdb.DuckDBPyConnection") -> set[int]:
    """The migrations recorded in ``schema_migrations`` (empty for a new database)."""
    if schema_version(con) == 0:
        return set()
    return {int(r[0]) for r in con.execute("SELECT version FROM schema_migrations").fetchall()}


def migrate(con: "duckdb.DuckDBPyConnection") -> int:
    """Apply every missing migration, in version order, in one transaction; returns the version reached.

    Missing means not recorded, not merely above the highest recorded version: migrations written on
    parallel branches (6 and 7) each apply once, whichever was recorded first.
    """
    current = schema_version(con)
    if current > SCHEMA_VERSION:
        raise LeaderboardError(
            f"The leaderboard file has schema version {current}, newer than this code ({SCHEMA_VERSION}). "
            "Upgrade the advisor package to read it."
        )
    missing = sorted(set(MIGRATIONS) - applied_versions(con))
    if not missing:
        return current
    with transaction(con):
        for version in missing:
            MIGRATIONS[version](con)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?)", [version, utc_now()])
    return SCHEMA_VERSION


@contextmanager
def transaction(con: "duckdb.DuckDBPyConnection") -> Iterator["duckdb.DuckDBPyConnection"]:
    """One transaction on an open connection: committed when the block ends, rolled back on any exception."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
