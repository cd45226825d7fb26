"""The model judge: rubric prompts, grade parsing, the endpoint and local backends, scores stored per item."""

from __future__ import annotations

import json

import pytest

from core.errors import EvaluationError
from studies.evaluation.judge import (
    DEFAULT_RUBRIC,
    JUDGE_METRIC,
    MAX_FIELD_CHARS,
    EndpointJudge,
    Rubric,
    build_prompt,
    grade_score,
    judge_run,
    load_judge_record,
    load_rubric,
    parse_grade,
)
from studies.evaluation.run_items import load_run_items, read_prediction_rows, write_run_items
from studies.results.leaderboard import Leaderboard
from tests.judge_fakes import MatchJudge
from tests.openai_fake import FakeOpenAI
from tests.report_fixtures import evaluate_canned, frozen_split


def test_the_prompt_holds_the_rubric_question_reference_and_answer_and_asks_for_one_grade():
    rubric = Rubric("5: perfect. 1: useless.", "mine.txt")
    prompt = build_prompt(rubric, "What is grep?", "A search tool.", "It searches text.")
    for part in ("5: perfect. 1: useless.", "Question:\nWhat is grep?", "Reference answer:\nA search tool.",
                 "Answer to grade:\nIt searches text.", "one digit from 1 to 5"):
        assert part in prompt
    assert prompt.index("Rubric") < prompt.index("Question") < prompt.index("Reference") < prompt.index("Answer to grade")
    long = build_prompt(rubric, "q", "r", "x" * (MAX_FIELD_CHARS + 50))
    assert "x" * MAX_FIELD_CHARS + " [... cut]" in long and "x" * (MAX_FIELD_CHARS + 1) not in long
    assert "Answer to grade:\n(empty)" in build_prompt(rubric, "q", "r", "  ")


def test_rubric_default_file_and_refusals(tmp_path):
    default = load_rubric(None)
    assert default.text == DEFAULT_RUBRIC and default.source == "default" and len(default.sha256) == 64
    path = tmp_path / "rubric.txt"
    path.write_text("  Grade 5 when the answer names the right API.\n", encoding="utf-8")
    mine = load_rubric(path)
    assert mine.text == "Grade 5 when the answer names the right API." and mine.source == str(path) and mine.sha256 != default.sha256
    with pytest.raises(EvaluationError, match="does not exist"):
        load_rubric(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    with pytest.raises(EvaluationError, match="empty"):
        load_rubric(tmp_path / "empty.txt")
    (tmp_path / "latin.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(EvaluationError, match="UTF-8"):
        load_rubric(tmp_path / "latin.txt")
    (tmp_path / "huge.txt").write_text("x" * 30_000, encoding="utf-8")
    with pytest.raises(EvaluationError, match="at most"):
        load_rubric(tmp_path / "huge.txt")


@pytest.mark.parametrize(
    ("reply", "grade"),
    [
        ("4", 4), (" 5.\n", 5), ("**3**", 3), ("2/5", 2), ("Score: 5", 5), ("score = 1", 1), ("**Score:** 3/5", 3),
        ("Grade: 4 out of 5", 4), ("Rating: 2", 2), ("The answer misses step 3 of 4.\nScore: 2", 2),
        ("Score: 2. On reflection, Score: 4", 4), ("The score is 5", 5),
        ("", None), (None, None), ("I think it is fine.", None), ("0", None), ("6", None), ("10", None),
        ("Score: 7", None), ("Score: 3.5", None), ("Step 3 is wrong", None),
    ],
)
def test_grades_are_parsed_from_the_reply_or_counted_as_unparseable(reply, grade):
    assert parse_grade(reply) == grade


def test_grades_map_onto_zero_to_one():
    assert [grade_score(g) for g in (1, 2, 3, 4, 5)] == [0.0, 0.25, 0.5, 0.75, 1.0]
    with pytest.raises(ValueError):
        grade_score(6)


@pytest.fixture
def canned_runs(workspace):
    split = frozen_split(workspace, n_groups=10, per_group=4)
    good = evaluate_canned(workspace, split, "rag:idx", "rag", accuracy=0.75, seed=1)
    bad = evaluate_canned(workspace, split, "base", "base", accuracy=0.25, seed=2)
    return good, bad


def test_judge_run_stores_one_score_per_item_beside_the_other_metrics(workspace, canned_runs):
    good, _ = canned_runs
    before = read_prediction_rows(workspace, good)
    judge = MatchJudge()
    result = judge_run(workspace, good, judge, load_rubric(None))
    after = read_prediction_rows(workspace, good)
    assert len(judge.prompts) == len(before) == result.items == result.parsed and result.unparsed == 0
    for old, new in zip(before, after):
        assert {k: v for k, v in new["metrics"].items() if k != JUDGE_METRIC} == old["metrics"]  # others untouched
        expected = 1.0 if old["metrics"]["exact_match"] == 1.0 else 0.0
        assert new["metrics"][JUDGE_METRIC] == expected and new[JUDGE_METRIC]["grade"] == (5 if expected else 1)
        assert new[JUDGE_METRIC]["by"] == "match-judge"
    mean = sum(r["metrics"]["exact_match"] for r in before) / len(before)
    assert result.score.mean == pytest.approx(mean) and result.score.low <= mean <= result.score.high
    row = Leaderboard(workspace).get(good)
    assert row["metrics"][JUDGE_METRIC]["mean"] == pytest.approx(mean) and row["metrics"][JUDGE_METRIC]["n"] == len(before)
    assert result.on_leaderboard
    stored = json.loads(workspace.path("runs", good, "run.json").read_text())
    assert stored["metrics"][JUDGE_METRIC]["mean"] == pytest.approx(mean)
    record = load_judge_record(workspace, good)
    assert record["judge"] == "match-judge" and record["rubric_text"] == DEFAULT_RUBRIC and record["scale"] == ["1", "2", "3", "4", "5"]
    assert record["identity"] == result.identity and record["parsed"] == len(before)


def test_unparseable_items_carry_no_judge_score_and_a_new_judgement_replaces_the_old(workspace, canned_runs):
    good, _ = canned_runs
    judge_run(workspace, good, MatchJudge(), load_rubric(None))
    rows = read_prediction_rows(workspace, good)
    rows[0]["answer"] = "unparseable"
    write_run_items(workspace, good, rows)
    result = judge_run(workspace, good, MatchJudge(inverted=True, name="other"), load_rubric(None))
    assert result.unparsed == 1 and result.parsed == len(rows) - 1
    items = load_run_items(workspace, good)
    assert JUDGE_METRIC not in items[0].metrics and all(JUDGE_METRIC in i.metrics for i in items[1:])
    assert load_judge_record(workspace, good)["judge"] == "other"
    assert Leaderboard(workspace).get(good)["metrics"][JUDGE_METRIC]["n"] == len(rows) - 1


def test_a_run_without_stored_answers_is_refused(workspace):
    from core.errors import AdvisorError

    with pytest.raises(AdvisorError, match="no predictions"):
        judge_run(workspace, "nope", MatchJudge(), load_rubric(None))


def _three_items(workspace):
    write_run_items(workspace, "r1", [
        {"item_id": f"i{k}", "input": f"question {k}", "raw": f"answer {k}", "reference": f"ref {k}", "metrics": {"chrf": 0.5}}
        for k in range(3)
    ])  # fmt: skip


def test_the_endpoint_judge_grades_with_the_secret_key_and_counts_bad_replies(workspace, fake_endpoint, monkeypatch):
    _three_items(workspace)
    monkeypatch.setenv("JUDGE_KEY", "sk-judge-secret")
    replies = iter(["Score: 4", "no grade here", "5"])
    FakeOpenAI.reply = staticmethod(lambda prompt: next(replies))
    FakeOpenAI.fail_first = 1  # one server error, retried
    judge = EndpointJudge(fake_endpoint, "judge-model", api_key_env="JUDGE_KEY", timeout_s=5)
    result = judge_run(workspace, "r1", judge, load_rubric(None))
    assert (result.parsed, result.unparsed) == (2, 1)
    assert result.on_leaderboard is False  # a run that is only on disk: its predictions carry the scores
    assert [i.metrics.get(JUDGE_METRIC) for i in load_run_items(workspace, "r1")] == [0.75, None, 1.0]
    call = FakeOpenAI.calls[-1]
    assert call["auth"] == "Bearer sk-judge-secret" and call["body"]["model"] == "judge-model" and call["body"]["temperature"] == 0
    assert "Answer to grade:\nanswer 2" in call["body"]["messages"][-1]["content"]
    assert "sk-judge-secret" not in json.dumps(load_judge_record(workspace, "r1"))
    assert "sk-judge-secret" not in workspace.path("runs", "r1", "predictions.jsonl").read_text()


def test_an_endpoint_that_answers_garbage_is_counted_unparseable_then_stopped(workspace, fake_endpoint):
    _three_items(workspace)
    FakeOpenAI.raw_body = b"<html>not json</html>"
    result = judge_run(workspace, "r1", EndpointJudge(fake_endpoint, "m", timeout_s=5, attempts=1), load_rubric(None))
    assert (result.parsed, result.unparsed, result.score) == (0, 3, None)
    rows = read_prediction_rows(workspace, "r1")
    assert all("not an OpenAI chat completion" in r[JUDGE_METRIC]["error"] for r in rows)
    write_run_items(workspace, "r2", [
        {"item_id": f"i{k}", "input": "q", "raw": "a", "reference": "r", "metrics": {"chrf": 0.5}} for k in range(8)
    ])  # fmt: skip
    before = workspace.path("runs", "r2", "predictions.jsonl").read_text()
    with pytest.raises(EvaluationError, match="failed 5 requests in a row"):
        judge_run(workspace, "r2", EndpointJudge(fake_endpoint, "m", timeout_s=5, attempts=1), load_rubric(None))
    assert workspace.path("runs", "r2", "predictions.jsonl").read_text() == before  # nothing stored
    assert load_judge_record(workspace, "r2") is None


@pytest.mark.slow
def test_a_local_model_judge_always_gives_a_grade_on_the_scale(workspace, tiny_model_dir):
    from studies.evaluation.judge import LocalJudge

    _three_items(workspace)
    result = judge_run(workspace, "r1", LocalJudge(str(tiny_model_dir), workspace), load_rubric(None))
    assert result.parsed == 3 and result.unparsed == 0 and result.judge == f"local:{tiny_model_dir}"
    for row in read_prediction_rows(workspace, "r1"):
        scores = row[JUDGE_METRIC]["label_scores"]
        assert sorted(scores) == ["1", "2", "3", "4", "5"]
        assert row[JUDGE_METRIC]["grade"] == int(max(scores, key=lambda k: (scores[k], -int(k))))
        assert row["metrics"][JUDGE_METRIC] == grade_score(row[JUDGE_METRIC]["grade"])
