"""Many processes write while another reads: no row lost or doubled, no error reaches the reader."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[3]

WRITER = textwrap.dedent(
    """
    import sys
    from studies.results.leaderboard import Leaderboard
    from studies.results.records import RunRecord
    path, worker, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    board = Leaderboard(path, lock_timeout_s=300)
    for i in range(n):
        board.record(RunRecord(run_id=f"w{worker}-{i:04d}", kind=["base", "rag", "lora", "rag+lora"][worker], study=f"s{worker}",
                               trial=i, metrics={"chrf": {"mean": i / n, "low": 0.0, "high": 1.0, "n": 10},
                                                 "exact_match": {"mean": 0.5, "low": 0.1, "high": 0.9, "n": 10}}))
    # retried writes (a worker that crashed after writing and is run again) must not double rows
    for i in range(0, n, 7):
        board.record(RunRecord(run_id=f"w{worker}-{i:04d}", kind="dup"))
    print(board.retries)
    """
)

READER = textwrap.dedent(
    """
    import json, sys, time
    from studies.results.leaderboard import Leaderboard
    path, stop = sys.argv[1], sys.argv[2]
    import os
    board = Leaderboard(path, lock_timeout_s=300)
    queries, seen = 0, []
    while not os.path.exists(stop):
        seen.append(board.count())
        board.best_per_kind("chrf")
        queries += 1
    print(json.dumps({"queries": queries, "counts_never_decrease": seen == sorted(seen), "retries": board.retries}))
    """
)


def _run(tmp_path: Path, workers: int, per_worker: int) -> None:
    path = tmp_path / "leaderboard.duckdb"
    stop = tmp_path / "stop"
    from studies.results.leaderboard import Leaderboard

    Leaderboard(path).count()  # create + migrate once, like `advisor` does on first use
    env_cmd = [sys.executable, "-c"]
    reader = subprocess.Popen([*env_cmd, READER, str(path), str(stop)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    writers = [
        subprocess.Popen([*env_cmd, WRITER, str(path), str(w), str(per_worker)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for w in range(workers)
    ]
    try:
        for proc in writers:
            out, err = proc.communicate(timeout=900)
            assert proc.returncode == 0, err
    finally:
        stop.touch()
        rout, rerr = reader.communicate(timeout=300)
    assert reader.returncode == 0, f"the reader saw an error: {rerr}"
    report = json.loads(rout)
    assert report["queries"] > 0 and report["counts_never_decrease"]

    con = duckdb.connect(str(path), read_only=True)
    total, distinct = con.execute("SELECT count(*), count(DISTINCT run_id) FROM runs").fetchone()
    dups = con.execute("SELECT count(*) FROM runs WHERE kind = 'dup'").fetchone()[0]
    con.close()
    assert total == distinct == workers * per_worker
    from studies.results.leaderboard import Leaderboard as Board

    assert sum(len(r["metrics"]) for r in Board(path).runs()) == 2 * workers * per_worker
    assert dups == 0


def test_four_writers_and_a_reader_small(tmp_path):
    _run(tmp_path, workers=4, per_worker=20)


@pytest.mark.slow
def test_four_writers_250_runs_each_and_a_reader(tmp_path):
    """The acceptance test of issue 6: 1,000 rows, no duplicates, no error surfaced to the reader."""
    _run(tmp_path, workers=4, per_worker=250)
