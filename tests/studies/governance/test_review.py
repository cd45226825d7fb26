"""Blind pairwise review: sessions end to end (through the CLI, stdin piped), blindness, no repeats, results."""

from __future__ import annotations

import io
import json
import re

import pytest

from core.errors import AdvisorError
from studies.governance.review import (
    ReviewError,
    cohen_kappa,
    load_reviews,
    review_count,
    start_session,
    summarize,
    wilson_interval,
)
from studies.evaluation.run_items import write_run_items

RUN_A = "rag-20260101-aaaa"
RUN_B = "lora-20260101-bbbb"
N_ITEMS = 12


def make_runs(ws, n: int = N_ITEMS) -> None:
    """Two runs over the same inputs; run A says 'alpha', run B 'beta'; A scores higher on chrF."""
    for run, word, base in ((RUN_A, "alpha", 0.7), (RUN_B, "beta", 0.2)):
        rows = [
            {
                "item_id": f"item-{k:02d}",
                "input": f"Show disk usage of folder {k}",
                "raw": f"You can use:\n```\necho {word} {k}\n```",
                "answer": f"echo {word} {k}",
                "reference": f"du -sh folder{k}",
                "group": "du" if k % 2 else "df",
                "metrics": {"chrf": base + 0.01 * k, "exact_match": 0.0},
            }
            for k in range(n)
        ]
        write_run_items(ws, run, rows)


def run_cli(ws, argv, stdin_text, monkeypatch, capsys):
    from advisor.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO(stdin_text))
    code = main(["--workspace", str(ws.root), *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_session_end_to_end_is_blind_and_stores_judgements(workspace, monkeypatch, capsys):
    make_runs(workspace)
    # 1 then comment, 2 then no comment, tie, skip, an invalid key then 1, then quit.
    stdin = "1\nclear and short\n2\n\nt\n\ns\nx\n1\n\nq\n"
    code, out, _ = run_cli(workspace, ["review", RUN_A, RUN_B, "--reviewer", "alice", "--seed", "7"], stdin, monkeypatch, capsys)
    assert code == 0
    # Labels hidden: no run id, no system kind, only "Output 1"/"Output 2".
    for hidden in (RUN_A, RUN_B, "rag", "lora", "RAG", "LoRA"):
        assert hidden not in out
    assert out.count("Output 1:") == 6 and out.count("Output 2:") == 6
    assert "Please answer 1, 2, t, s or q." in out
    # What was printed first for each item tells which run was on the left.
    shown = re.findall(r"--- Item \d+/\d+ ---\nInput:\n  Show disk usage of folder (\d+)\n\nOutput 1:\n.*?echo (alpha|beta)", out, re.S)
    assert len(shown) == 6
    reviews = {r.item_id: r for r in load_reviews(workspace, RUN_A, RUN_B, include_skips=True)}
    assert len(reviews) == 5  # 4 answered + 1 skip; the quit item is not stored
    choices = ["left", "right", "tie", "skip", "left"]
    for (k, left_word), choice in zip(shown, choices):
        review = reviews[f"item-{int(k):02d}"]
        left_run = RUN_A if left_word == "alpha" else RUN_B
        right_run = RUN_B if left_run == RUN_A else RUN_A
        assert review.choice == choice
        assert review.winner == {"left": left_run, "right": right_run}.get(choice)
        assert review.reviewer == "alice"
    first = reviews[f"item-{int(shown[0][0]):02d}"]
    assert first.comment == "clear and short"
    # Order randomised: not the file order.
    assert [int(k) for k, _ in shown] != sorted(int(k) for k, _ in shown)
    assert "Recorded 4 judgement(s) and 1 skip(s)" in out


def test_reviewer_never_sees_an_item_twice(workspace):
    make_runs(workspace)
    first = start_session(workspace, RUN_A, RUN_B, "bob", seed=1, limit=5)
    assert len(first.items) == 5
    for item in first.items:
        first.record(item, "tie")
    # Same pair in the other order is the same pair; judged items are gone.
    second = start_session(workspace, RUN_B, RUN_A, "bob", seed=1)
    assert len(second.items) == N_ITEMS - 5
    assert not {i.item_id for i in first.items} & {i.item_id for i in second.items}
    for item in second.items:
        second.record(item, "skip")
    assert start_session(workspace, RUN_A, RUN_B, "bob").items == []
    # The database refuses a second judgement even if a caller tries.
    with pytest.raises(ReviewError, match="already judged"):
        second.record(second.items[0], "left")
    # Another reviewer sees everything.
    assert len(start_session(workspace, RUN_A, RUN_B, "carol").items) == N_ITEMS
    assert review_count(workspace, RUN_A) == {"bob": 5}  # skips are not judgements


def test_order_and_sides_are_random_per_reviewer_and_reproducible(workspace):
    make_runs(workspace)

    def layout(reviewer, seed):
        s = start_session(workspace, RUN_A, RUN_B, reviewer, seed=seed)
        return [(i.item_id, i.left_run) for i in s.items]

    alice = layout("alice", 3)
    assert alice == layout("alice", 3)  # the recorded seed reproduces the presentation
    assert alice != layout("alice", 4)
    assert alice != layout("dave", 3)  # per reviewer
    sides = {left for _, left in alice}
    assert sides == {RUN_A, RUN_B}  # both runs appear on the left
    for item in start_session(workspace, RUN_A, RUN_B, "alice", seed=3).items:
        assert (item.left_run, item.right_run) in {(RUN_A, RUN_B), (RUN_B, RUN_A)}
        assert ("alpha" in item.left) == (item.left_run == RUN_A)
        assert RUN_A not in repr(item) and RUN_B not in repr(item)


def test_seed_is_stored_with_the_session(workspace):
    from studies.governance.review_store import connect

    make_runs(workspace)
    session = start_session(workspace, RUN_A, RUN_B, "erin", seed=42, limit=3)
    with connect(workspace) as con:
        row = con.execute("SELECT reviewer, seed, items FROM review_sessions WHERE session_id = ?", [session.session_id]).fetchone()
    assert row == ("erin", 42, 3)


def test_bad_input_is_refused(workspace):
    make_runs(workspace)
    with pytest.raises(ReviewError, match="two different runs"):
        start_session(workspace, RUN_A, RUN_A, "x")
    with pytest.raises(ReviewError, match="reviewer name"):
        start_session(workspace, RUN_A, RUN_B, "  ")
    with pytest.raises(AdvisorError, match="no predictions"):
        start_session(workspace, RUN_A, "missing-run", "x")
    write_run_items(workspace, "other", [{"item_id": "item-00", "input": "something else", "raw": "x", "reference": "y"}])
    with pytest.raises(ReviewError, match="different inputs"):
        start_session(workspace, RUN_A, "other", "x")
    session = start_session(workspace, RUN_A, RUN_B, "x", limit=1)
    with pytest.raises(ReviewError, match="Choice must be"):
        session.record(session.items[0], "A")


def _judge(ws, reviewer, prefer_a: list[str | None]):
    """Record judgements for items 0..n-1: 'a', 'b', 't' per item (None: not judged)."""
    session = start_session(ws, RUN_A, RUN_B, reviewer, seed=0)
    by_id = {i.item_id: i for i in session.items}
    for k, verdict in enumerate(prefer_a):
        if verdict is None:
            continue
        item = by_id[f"item-{k:02d}"]
        if verdict == "t":
            session.record(item, "tie")
        else:
            wanted = RUN_A if verdict == "a" else RUN_B
            session.record(item, "left" if item.left_run == wanted else "right")


def test_summary_win_rates_agreement_and_metric_agreement(workspace, capsys, monkeypatch):
    make_runs(workspace, n=10)
    _judge(workspace, "alice", list("aaaaaaaabt"))  # A wins 8, B wins 1, 1 tie
    _judge(workspace, "bob", list("aaaabbaabb"))  # overlaps alice on all 10 items
    s = summarize(workspace, RUN_A, RUN_B)
    assert s.judgements == 20 and s.ties == 1
    assert s.reviewers == {"alice": 10, "bob": 10}
    a = s.win_rates[RUN_A]
    assert (a.wins, a.decisive) == (14, 19)
    low, high = wilson_interval(14, 19)
    assert (a.low, a.high) == (low, high) and a.low < a.rate < a.high
    assert s.bradley_terry[RUN_A] > 0 > s.bradley_terry[RUN_B]
    # Reviewer agreement: items 0-3, 6, 7 agree (a/a), 8 agrees (b/b); 4, 5 (a vs b) and 9 (t vs b) differ.
    assert s.overlap_items == 10
    assert s.reviewer_agreement == pytest.approx(0.7)
    assert s.kappa == pytest.approx(cohen_kappa(list("aaaaaaaabt"), list("aaaabbaabb")))
    # Metric agreement: A always scores higher on chrF, so agreement = share of decisive judgements won by A.
    assert s.metric == "chrf" and s.metric_compared == 19
    assert s.metric_agreement == pytest.approx(14 / 19)
    code, out, _ = run_cli(workspace, ["review", RUN_A, RUN_B, "--results"], "", monkeypatch, capsys)
    assert code == 0 and "Cohen's kappa" in out and "won 14/19" in out
    code, out, _ = run_cli(workspace, ["review", RUN_A, RUN_B, "--results", "--format", "json"], "", monkeypatch, capsys)
    assert json.loads(out)["win_rates"][RUN_B]["wins"] == 5


def test_wilson_and_kappa_known_values():
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    # Classic 2x2 example: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> kappa 0.4.
    r1 = ["y"] * 25 + ["n"] * 25
    r2 = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert cohen_kappa(r1, r2) == pytest.approx(0.4)
    assert cohen_kappa([], []) is None
    assert cohen_kappa(["a", "a"], ["a", "a"]) is None


def test_cli_session_with_nothing_left_and_missing_reviewer(workspace, monkeypatch, capsys):
    make_runs(workspace, n=2)
    code, out, _ = run_cli(workspace, ["review", RUN_A, RUN_B, "--reviewer", "zoe"], "1\n\n2\n\n", monkeypatch, capsys)
    assert code == 0 and "Recorded 2 judgement(s)" in out
    code, out, _ = run_cli(workspace, ["review", RUN_A, RUN_B, "--reviewer", "zoe"], "", monkeypatch, capsys)
    assert code == 0 and "Nothing left to review" in out
    code, _, err = run_cli(workspace, ["review", RUN_A, RUN_B], "", monkeypatch, capsys)
    assert code == 2 and "--reviewer" in err
    # End of input in the middle of a session keeps what was answered.
    make_runs(workspace, n=4)
    code, out, _ = run_cli(workspace, ["review", RUN_A, RUN_B, "--reviewer", "yan"], "t\nfine\n", monkeypatch, capsys)
    assert code == 0 and "Recorded 1 judgement(s)" in out


def test_scores_table_is_refreshed_after_a_session(workspace, monkeypatch, capsys):
    from studies.governance.review_store import connect

    make_runs(workspace, n=3)
    run_cli(workspace, ["review", RUN_A, RUN_B, "--reviewer", "amy"], "1\n\n1\n\n1\n\n", monkeypatch, capsys)
    with connect(workspace) as con:
        rows = dict(con.execute("SELECT run_id, comparisons FROM review_scores").fetchall())
    assert rows == {RUN_A: 3, RUN_B: 3}
    # the leaderboard shows the Bradley-Terry score on each reviewed run
    from studies.results.leaderboard import Leaderboard
    from studies.results.records import RunRecord

    board = Leaderboard(workspace)
    for run in (RUN_A, RUN_B):
        board.record(RunRecord(run_id=run, kind="rag"))
    scores = {run: board.get(run)["review_score"] for run in (RUN_A, RUN_B)}
    assert None not in scores.values() and scores[RUN_A] != scores[RUN_B]  # picks were blind: either may lead
    assert board.get(RUN_A)["review_comparisons"] == 3


def test_two_open_sessions_of_one_reviewer_cannot_judge_an_item_twice(workspace):
    make_runs(workspace, n=3)
    first = start_session(workspace, RUN_A, RUN_B, "kim", seed=1)
    second = start_session(workspace, RUN_A, RUN_B, "kim", seed=2)
    item = first.items[0]
    first.record(item, "left")
    same = next(i for i in second.items if i.item_id == item.item_id)
    with pytest.raises(ReviewError, match="already judged"):
        second.record(same, "right")
    assert len(load_reviews(workspace, RUN_A, RUN_B)) == 1


def test_format_item_shows_no_run_and_reference_only_on_request():
    from studies.governance.review import BlindItem, format_item

    item = BlindItem(0, "i1", "two\nlines", "ls -la", "", "ls", left_run=RUN_A, right_run=RUN_B)
    text = format_item(item, 1, 1)
    assert "  two\n  lines" in text and "(empty)" in text and "Reference" not in text
    assert RUN_A not in text and RUN_B not in text
    assert "Reference:\n  ls" in format_item(item, 1, 1, show_reference=True)
