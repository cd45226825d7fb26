"""Leaderboard: recording, idempotency, queries, reviews, export; every test on in-memory and on-disk boards."""

from __future__ import annotations

import json
import random

import pytest

from core.errors import LeaderboardError
from studies.results.leaderboard import Leaderboard, ingest_run_dirs
from studies.results.records import RunRecord, trial_run_id


@pytest.fixture(params=["memory", "disk"])
def board(request, tmp_path):
    """The same tests against both backends (optuna's storage-test style)."""
    lb = Leaderboard(":memory:") if request.param == "memory" else Leaderboard(tmp_path / "lb" / "leaderboard.duckdb")
    yield lb
    lb.close()


def run(run_id, kind="base", quality=0.5, cost=1.0, **kw):
    return RunRecord(run_id=run_id, kind=kind, system=kind,
                     metrics={"chrf": {"mean": quality, "low": quality - 0.1, "high": quality + 0.1, "n": 50},
                              "exact_match": {"mean": quality / 2, "low": 0.0, "high": 1.0, "n": 50}},
                     money_usd=cost, latency_s=cost / 10, **kw)


def test_record_is_idempotent_by_run_id(board):
    assert board.record(run("a")) is True
    assert board.record(run("a", quality=0.9)) is False
    assert board.count() == 1
    assert board.get("a")["metrics"]["chrf"] == {"mean": 0.5, "low": 0.4, "high": 0.6, "n": 50}
    assert board.ingest([run("a"), run("b"), run("b"), run("c").to_dict()]) == 2
    assert board.count() == 3


def test_round_trip_keeps_every_field(board):
    rec = run("r1", kind="lora", study="s", trial=3, base_model="m", method="dora", config={"rank": 8, "nested": {"x": [1]}},
              dataset_name="pairs", dataset_version="abc", split_version="v1", n_items=50, train_tokens=1234,
              cpu_hours=0.5, gpu_hours=0.25, skipped_metrics={"embedding_similarity": "no model"},
              artifacts={"adapter_dir": "/x"}, code_version="deadbeef", environment={"device": "cpu", "libraries": {"torch": "2"}})
    board.record(rec)
    row = board.get("r1")
    for key in ("kind", "study", "trial", "base_model", "method", "config", "dataset_name", "dataset_version", "split_version",
                "n_items", "train_tokens", "cpu_hours", "gpu_hours", "skipped_metrics", "artifacts", "code_version", "environment"):
        assert row[key] == getattr(rec, key), key
    assert row["status"] == "candidate" and row["created_at"] is not None
    assert RunRecord.from_dict(rec.to_dict()) == rec


def test_unknown_run_and_bad_status(board):
    with pytest.raises(LeaderboardError, match="No run"):
        board.get("nope")
    with pytest.raises(LeaderboardError, match="status"):
        board.record(run("x", status="great"))
    with pytest.raises(LeaderboardError, match="Unknown filter"):
        board.runs(colour="red")


def test_filters_and_best_per_kind(board):
    board.ingest([run("b1", "base", 0.3), run("b2", "base", 0.4), run("r1", "rag", 0.6, split_version="s2"),
                  run("l1", "lora", 0.55), run("l2", "lora", 0.55)])
    assert {r["run_id"] for r in board.runs(kind="lora")} == {"l1", "l2"}
    assert {r["run_id"] for r in board.runs(kind=["base", "rag"])} == {"b1", "b2", "r1"}
    assert board.count(split_version="s2") == 1
    best = board.best_per_kind("chrf")
    assert [(r["kind"], r["run_id"]) for r in best] == [("rag", "r1"), ("lora", "l1"), ("base", "b2")]
    assert best[0]["quality_low"] == pytest.approx(0.5)
    assert [r["run_id"] for r in board.best_per_kind("chrf", split_version="s2")] == ["r1"]
    assert board.best_per_kind("no_such_metric") == []


def test_pareto_matches_brute_force(board):
    rng = random.Random(4)
    runs = [run(f"p{i}", rng.choice(["base", "rag", "lora"]), round(rng.random(), 2), round(rng.random() * 10, 1)) for i in range(60)]
    board.ingest(runs)
    got = {r["run_id"] for r in board.pareto("chrf", "money_usd")}

    def dominated(x):
        qx, cx = x.metrics["chrf"]["mean"], x.money_usd
        return any(
            (y.metrics["chrf"]["mean"] >= qx and y.money_usd <= cx) and (y.metrics["chrf"]["mean"] > qx or y.money_usd < cx)
            for y in runs
        )

    expected = {r.run_id for r in runs if not dominated(r)}
    # exact ties (same quality and cost) keep one representative
    assert got <= expected and len(got) >= 1
    assert {(board.get(i)["metrics"]["chrf"]["mean"], board.get(i)["money_usd"]) for i in got} == {
        (r.metrics["chrf"]["mean"], r.money_usd) for r in runs if r.run_id in expected
    }
    front = board.pareto("chrf", "money_usd")
    assert [r["cost"] for r in front] == sorted(r["cost"] for r in front)
    assert [r["quality"] for r in front] == sorted(r["quality"] for r in front)
    with pytest.raises(LeaderboardError, match="cost must be"):
        board.pareto("chrf", "colour")


def test_history_of_a_study(board):
    board.ingest([run(trial_run_id("s", t), "lora", t / 10, study="s", trial=t) for t in (2, 0, 1)] + [run("other", study="t", trial=0)])
    assert [r["trial"] for r in board.history("s")] == [0, 1, 2]


def test_accept_reject_need_who_and_why_and_keep_history(board):
    board.record(run("a"))
    with pytest.raises(LeaderboardError, match="reason"):
        board.set_status("a", "accepted", "ana", "  ")
    with pytest.raises(LeaderboardError, match="who decides"):
        board.set_status("a", "accepted", "", "good")
    with pytest.raises(LeaderboardError, match="No run"):
        board.set_status("zzz", "accepted", "ana", "good")
    row = board.set_status("a", "accepted", "ana", "beats RAG on chrF", registry_path="/ws/registry/a")
    assert (row["status"], row["status_by"], row["status_reason"], row["registry_path"]) == ("accepted", "ana", "beats RAG on chrF", "/ws/registry/a")
    board.set_status("a", "rejected", "bo", "leaks test data")
    assert [(r["status"], r["by_name"]) for r in board.reviews("a")] == [("accepted", "ana"), ("rejected", "bo")]
    assert board.get("a")["registry_path"] == "/ws/registry/a"
    assert board.runs(status="rejected")[0]["run_id"] == "a"


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_export(board, tmp_path, fmt):
    import duckdb

    board.ingest([run("a", quality=0.2), run("b", "rag", quality=0.7)])
    path = board.export(tmp_path / f"out.{fmt}")
    reader = {"csv": "read_csv_auto", "parquet": "read_parquet", "json": "read_json_auto"}[fmt]
    con = duckdb.connect()
    rows = con.execute(f"SELECT run_id, kind, chrf, chrf_low, chrf_high, exact_match FROM {reader}('{path}') ORDER BY run_id").fetchall()
    assert rows == [("a", "base", 0.2, pytest.approx(0.1), pytest.approx(0.3), 0.1), ("b", "rag", 0.7, pytest.approx(0.6), pytest.approx(0.8), 0.35)]
    assert not list(tmp_path.glob(".*tmp"))
    with pytest.raises(LeaderboardError, match="format"):
        board.export(tmp_path / "out.xlsx")


def test_ingest_run_dirs_recovers_unwritten_rows(tmp_path, workspace):
    from core.atomic import atomic_write_json

    board = Leaderboard(workspace)
    for rid in ("a", "b"):
        atomic_write_json(workspace.path("runs", rid, "run.json"), run(rid).to_dict())
    (workspace.dir("runs") / "train-only").mkdir()
    assert ingest_run_dirs(board, workspace) == 2
    assert ingest_run_dirs(board, workspace) == 0
    assert json.loads(json.dumps(board.get("a")["metrics"]))["chrf"]["mean"] == 0.5
