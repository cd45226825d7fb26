"""Schema migrations: a first-version leaderboard file opens (migrated) with current code."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from core.errors import LeaderboardError
from studies.results.leaderboard import Leaderboard
from studies.results.records import RunRecord
from studies.results.schema import SCHEMA_VERSION, schema_version

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "leaderboard_v1.sql"


def _v1_file(tmp_path: Path) -> Path:
    path = tmp_path / "leaderboard.duckdb"
    con = duckdb.connect(str(path))
    con.execute(FIXTURE.read_text(encoding="utf-8"))
    con.close()
    return path


def test_v1_file_opens_migrated_with_rows_and_metrics(tmp_path):
    path = _v1_file(tmp_path)
    con = duckdb.connect(str(path), read_only=True)
    assert schema_version(con) == 1
    con.close()

    board = Leaderboard(path)
    rows = {r["run_id"]: r for r in board.runs()}
    assert set(rows) == {"base-20260105-100000-aaaaaa", "lora-sweep-t00001"}
    base = rows["base-20260105-100000-aaaaaa"]
    assert base["metrics"]["chrf"] == {"mean": 0.41, "low": 0.37, "high": 0.45, "n": 68}
    assert base["metrics"]["exact_match"]["mean"] == 0.05
    assert base["config"] == {"system_prompt": "one command"}
    assert base["train_tokens"] == 0 and base["status_by"] is None and base["updated_at"] == base["created_at"]
    assert rows["lora-sweep-t00001"]["status"] == "accepted"
    assert [r["run_id"] for r in board.best_per_kind("chrf")] == ["lora-sweep-t00001", "base-20260105-100000-aaaaaa"]

    con = duckdb.connect(str(path), read_only=True)
    assert schema_version(con) == SCHEMA_VERSION
    columns = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'runs'").fetchall()}
    con.close()
    assert "metrics_json" not in columns and {"status_by", "registry_path", "environment_json"} <= columns

    # new writes and reviews work on the migrated file, and reopening does not migrate again
    assert board.record(RunRecord(run_id="new", kind="rag", metrics={"chrf": {"mean": 0.5, "low": 0.4, "high": 0.6, "n": 68}}))
    board.set_status("base-20260105-100000-aaaaaa", "rejected", "ana", "worse than RAG")
    assert Leaderboard(path).count() == 3


def test_file_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "leaderboard.duckdb"
    Leaderboard(path).count()
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_migrations VALUES (?, now())", [SCHEMA_VERSION + 1])
    con.close()
    with pytest.raises(LeaderboardError, match="newer than this code"):
        Leaderboard(path).count()


PRE_V6_TABLES = Path(__file__).resolve().parents[2] / "fixtures" / "review_tables_pre_v6.sql"
REVIEW_TABLES = {"review_sessions", "review_judgements", "gate_verdicts", "gate_waivers"}


def _tables(path: Path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    finally:
        con.close()


def _v5_file(tmp_path: Path, with_review_tables: bool) -> Path:
    """A version-5 file (the v1 fixture migrated with migrations 2..5), optionally with the review and gate
    tables the way the review code created them before migration 6 (outside the migrations, with rows)."""
    from studies.results.schema import MIGRATIONS

    path = _v1_file(tmp_path)
    con = duckdb.connect(str(path))
    for version in range(2, 6):
        MIGRATIONS[version](con)
        con.execute("INSERT INTO schema_migrations VALUES (?, now())", [version])
    if with_review_tables:
        con.execute(PRE_V6_TABLES.read_text(encoding="utf-8"))
    assert schema_version(con) == 5
    con.close()
    return path


def test_migration_6_owns_the_review_and_gate_tables(tmp_path):
    """A v1 file gets the review and gate tables from the migrations alone (nobody else creates them)."""
    path = _v1_file(tmp_path)
    assert not REVIEW_TABLES & _tables(path)
    assert Leaderboard(path).count() == 2
    assert REVIEW_TABLES <= _tables(path)
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == SCHEMA_VERSION >= 6
    con.close()


def test_v5_file_with_review_tables_made_the_old_way_keeps_its_rows(tmp_path):
    from core.workspace import Workspace
    from studies.governance import gate, review

    path = _v5_file(tmp_path, with_review_tables=True)
    ws = Workspace(tmp_path)
    assert ws.leaderboard_path == path

    assert Leaderboard(path).count() == 2  # migrates 5 -> current
    con = duckdb.connect(str(path), read_only=True)
    assert schema_version(con) == SCHEMA_VERSION
    assert con.execute("SELECT count(*) FROM review_sessions").fetchone()[0] == 1
    con.close()

    # the stored judgements and verdicts read back through the governance code, and new ones are added
    judged = review.load_reviews(ws, include_skips=True)
    assert sorted((r.item_id, r.choice) for r in judged) == [("i1", "left"), ("i2", "skip")]
    assert review.review_count(ws, "lora-sweep-t00001") == {"ana": 1}
    [old] = gate.verdicts(ws, "lora-sweep-t00001")
    assert old["passed"] and old["waivers"] == [{"name": "dangerous_commands", "reason": "references show mkfs", "applied": True}]


def test_v5_file_without_review_tables_gets_them(tmp_path):
    path = _v5_file(tmp_path, with_review_tables=False)
    assert not REVIEW_TABLES & _tables(path)
    Leaderboard(path).count()
    assert REVIEW_TABLES <= _tables(path)
def test_migration_7_adds_the_task_column_and_applies_once_even_without_6(tmp_path):
    from studies.results.schema import MIGRATIONS, applied_versions

    path = _v1_file(tmp_path)
    board = Leaderboard(path)
    board.runs()
    con = duckdb.connect(str(path), read_only=True)
    applied = applied_versions(con)
    columns = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'runs'").fetchall()}
    con.close()
    assert 7 in applied and applied == set(MIGRATIONS) and "task" in columns
    assert all(r["task"] is None for r in board.runs())  # old rows: kind unknown


def _scored(run_id, kind, dataset, split, mean, task="classification"):
    return RunRecord(run_id=run_id, kind=kind, dataset_name=dataset, split_version=split, split_part="test", task=task,
                     n_items=10, metrics={"accuracy": {"mean": mean, "low": mean - 0.1, "high": mean + 0.1, "n": 10}})


def test_best_per_kind_never_compares_across_data_sets_or_splits():
    board = Leaderboard(":memory:")
    board.ingest([
        _scored("a-base", "base", "topics", "s1", 0.2), _scored("a-lora", "lora", "topics", "s1", 0.6),
        _scored("b-base", "base", "docs", "s2", 0.9, task="short_answer"),
    ])
    rows = board.best_per_kind("accuracy")
    assert {(r["dataset_name"], r["kind"]) for r in rows} == {("topics", "base"), ("topics", "lora"), ("docs", "base")}
    one = board.best_per_kind("accuracy", split_version="s1")
    assert [r["run_id"] for r in one] == ["a-lora", "a-base"]
    assert [r["run_id"] for r in board.runs(task="short_answer")] == ["b-base"]
    assert {(s["split_version"], s["task"], s["runs"]) for s in board.splits()} == {("s1", "classification", 2), ("s2", "short_answer", 1)}
