"""compare_runs reads the leaderboard row as the leaderboard returns it (``metrics``, ``config``)."""

from __future__ import annotations

import pytest

from studies.evaluation.compare import compare_runs
from studies.results.leaderboard import Leaderboard
from studies.results.schema import metric_columns
from tests.report_fixtures import evaluate_canned, frozen_split


@pytest.fixture
def two_runs(workspace):
    split = frozen_split(workspace, n_groups=6, per_group=5)
    base = evaluate_canned(workspace, split, "base", "base", accuracy=0.1, seed=1)
    rag = evaluate_canned(workspace, split, "rag:idx", "rag", accuracy=0.7, seed=2)
    return base, rag


def test_scores_and_config_come_from_the_leaderboard_row(workspace, two_runs):
    board = Leaderboard(workspace)
    comp = compare_runs(workspace, list(two_runs), primary="exact_match")
    for run in comp.runs:
        row = board.get(run.run_id)
        assert run.config == row["config"] and run.config and run.seed == row["config"].get("seed")
        for metric, score in run.scores.items():
            stored = row["metrics"][metric]
            assert (score.mean, score.low, score.high, score.n) == pytest.approx((stored["mean"], stored["low"], stored["high"], stored["n"]))


def test_a_row_without_intervals_gets_them_from_the_items(workspace, two_runs):
    """The leaderboard returns ``low``/``high``/``n`` as None when a run was recorded without an interval."""
    base, rag = two_runs
    board = Leaderboard(workspace)
    with board.connect() as con:
        col = metric_columns(con)["exact_match"]
        con.execute(f"UPDATE runs SET {col}_low = NULL, {col}_high = NULL, {col}_n = NULL WHERE run_id = ?", [base])
    assert board.get(base)["metrics"]["exact_match"]["low"] is None
    comp = compare_runs(workspace, [base, rag], primary="exact_match")
    score = comp.run(base).scores["exact_match"]
    assert score.n == comp.n_items and score.low is not None and score.low <= score.mean <= score.high
