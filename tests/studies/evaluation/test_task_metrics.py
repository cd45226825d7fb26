"""Per-kind metrics, extraction and the classification report, against hand-computed values."""

from __future__ import annotations

import sqlite3

import pytest

from studies.data.kinds import TaskSpec
from studies.evaluation.kind_metrics import canonical_sql, sql_execution_match
from studies.evaluation.metrics import get_metric
from studies.evaluation.tasks import (
    classification_report,
    extract_for,
    extract_label,
    metrics_for,
    primary_metric,
)

LABELS = ("sports", "politics", "science")
CLS = TaskSpec("classification", labels=LABELS, label_counts={"sports": 5, "politics": 3, "science": 2})


def test_one_primary_metric_per_kind_and_command_metrics_only_for_commands():
    assert primary_metric(CLS) == "accuracy" and metrics_for(CLS) == ["accuracy"]
    assert primary_metric(TaskSpec("structured", format="json")) == "field_f1"
    assert primary_metric(TaskSpec("structured", format="sql")) == "sql_match"
    assert primary_metric(TaskSpec("short_answer")) == "normalized_exact_match"
    assert primary_metric(TaskSpec("text")) == "chrf"
    assert primary_metric(TaskSpec("command")) == "chrf"
    for kind in ("classification", "structured", "short_answer", "text"):
        assert not any(m.startswith("command") for m in metrics_for(TaskSpec(kind)))
    assert "command_flags" in metrics_for(TaskSpec("command"))
    for kind in ("classification", "structured", "command", "short_answer", "text"):
        assert primary_metric(TaskSpec(kind)) in metrics_for(TaskSpec(kind))


def test_accuracy_ignores_case_and_punctuation():
    assert get_metric("accuracy").score(["Sports.", "science", "art"], ["sports", "politics", "art"]) == [1.0, 0.0, 1.0]


def test_label_extraction_rules():
    assert extract_label("Politics", LABELS) == extract_label("Politics", LABELS).__class__("politics", "label")
    assert extract_label("science\nbecause it is about atoms", LABELS).answer == "science"
    mention = extract_label("I think this is about Sports, not politics.", LABELS)
    assert (mention.answer, mention.rule) == ("sports", "label-mention")
    none = extract_label("I'm sorry for any confusion", LABELS)
    assert (none.answer, none.rule) == ("I'm sorry for any confusion", "no-label")
    assert extract_label("", LABELS).rule == "empty"
    assert extract_label("`science`", LABELS).answer == "science"


def test_classification_report_by_hand():
    refs = ["sports", "sports", "politics", "science"]
    answers = ["sports", "politics", "politics", "no idea"]
    report = classification_report(CLS, answers, refs)
    # sports: tp 1, predicted 1, support 2 -> P 1, R .5, F1 2/3; politics: tp 1, predicted 2, support 1 -> P .5, R 1, F1 2/3;
    # science: tp 0 -> F1 0. Macro-F1 = (2/3 + 2/3 + 0) / 3 = 4/9.
    assert report["macro_f1"]["mean"] == pytest.approx(4 / 9)
    assert report["macro_f1"]["low"] <= 4 / 9 <= report["macro_f1"]["high"]
    assert report["per_class"]["sports"] == {"precision": 1.0, "recall": 0.5, "support": 2}
    assert report["per_class"]["politics"] == {"precision": 0.5, "recall": 1.0, "support": 1}
    assert report["per_class"]["science"] == {"precision": 0.0, "recall": 0.0, "support": 1}
    assert report["confusion"] == [[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]]
    assert report["confusion_columns"][-1] == "(no label)"
    assert report["non_label_answers"] == 1
    assert report["baselines"]["majority_class"] == {"label": "sports", "accuracy": 0.5}
    assert report["baselines"]["chance"]["accuracy"] == pytest.approx(1 / 3)


def test_json_metrics_by_hand():
    ref = '{"name": "Ann", "age": 30, "tags": ["a", "b"]}'
    exact = '{"age": 30.0, "tags": ["a", "b"], "name": "Ann"}'
    partial = '{"name": "Ann", "age": 31}'
    broken = '{"name": "Ann",'
    preds = [exact, partial, broken]
    refs = [ref] * 3
    assert get_metric("json_parse").score(preds, refs) == [1.0, 1.0, 0.0]
    assert get_metric("json_exact").score(preds, refs) == [1.0, 0.0, 0.0]
    # partial: leaves {name=Ann, age=31} vs {name=Ann, age=30, tags[0]=a, tags[1]=b}: 1 common, P 1/2, R 1/4, F1 1/3.
    assert get_metric("field_f1").score(preds, refs) == pytest.approx([1.0, 1 / 3, 0.0])


def test_json_extraction_finds_the_object_in_prose():
    task = TaskSpec("structured", format="json")
    got = extract_for(task, 'Sure! Here it is: {"a": [1, 2]} hope it helps')
    assert (got.answer, got.rule) == ('{"a": [1, 2]}', "json")
    assert extract_for(task, '```json\n{"a": 1}\n```').answer == '{"a": 1}'
    assert extract_for(task, "no json here").rule == "unparsed"


def test_sql_canonical_match_and_execution_match(tmp_path):
    assert canonical_sql("SELECT Name FROM  users WHERE id = 'X';") == canonical_sql("select name from users where ID = 'X'")
    assert canonical_sql("select 'X'") != canonical_sql("select 'x'")
    assert get_metric("sql_match").score(["select a from t;", "select b from t"], ["SELECT a FROM t", "SELECT a FROM t"]) == [1.0, 0.0]
    db = tmp_path / "t.db"
    con = sqlite3.connect(db)
    con.executescript("CREATE TABLE t (a INT, b INT); INSERT INTO t VALUES (1, 2), (3, 4);")
    con.close()
    preds = ["SELECT a FROM t ORDER BY a DESC", "SELECT b FROM t", "SELECT nope FROM t"]
    assert sql_execution_match(preds, ["SELECT a FROM t"] * 3, str(db)) == [1.0, 0.0, 0.0]


def test_short_answer_metrics_by_hand():
    preds = ["The Eiffel Tower.", "eiffel tower in paris", ""]
    refs = ["Eiffel Tower"] * 3
    assert get_metric("normalized_exact_match").score(preds, refs) == [1.0, 0.0, 0.0]
    # "eiffel tower in paris" vs "eiffel tower": 2 common, P 2/4, R 2/2 -> F1 2/3.
    assert get_metric("answer_f1").score(preds, refs) == pytest.approx([1.0, 2 / 3, 0.0])
    assert extract_for(TaskSpec("short_answer"), "Paris\nIt is the capital.").answer == "Paris"


def test_text_keeps_the_whole_answer():
    got = extract_for(TaskSpec("text"), "  First line.\nSecond line.  ")
    assert (got.answer, got.rule) == ("First line.\nSecond line.", "text")
