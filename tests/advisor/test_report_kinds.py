"""The decision record per task kind, on hand-made runs (no model)."""

from __future__ import annotations


def test_classification_row_without_a_stored_report_is_scored_from_its_predictions(workspace):
    from advisor.report import build_record, render_markdown
    from tests.app_fixtures import classification_runs

    split, runs = classification_runs(workspace)  # rag-cls is stored without its set-level report
    record = build_record(workspace, ["rag-cls", "base-cls"], include_checks=False)
    assert [r["run_id"] for r in record.task_reports] == ["rag-cls", "base-cls"]
    confusion = record.task_reports[0]["report"]["confusion"]
    right = sum(1 for i, p in enumerate(split.test) if (p.output if i % 2 else "net") == p.output)
    assert sum(row[i] for i, row in enumerate(confusion)) == right
    assert "Confusion matrix of rag:debian-sections" in render_markdown(record)
