"""Task-kind inference from training outputs, with evidence, and user overrides."""

from __future__ import annotations

import pytest

from core.errors import DataError
from studies.data.kinds import TaskSpec, infer_schema, infer_task, looks_like_command, parse_labels, resolve_task


def test_a_closed_label_set_is_a_classification_with_evidence():
    outputs = ["positive"] * 30 + ["negative"] * 20 + ["neutral"] * 10
    task = infer_task(outputs)
    assert task.kind == "classification"
    assert task.labels == ("positive", "negative", "neutral")
    assert task.label_counts == {"positive": 30, "negative": 20, "neutral": 10}
    assert "3 distinct outputs over 60 pairs" in task.evidence


def test_too_few_examples_per_output_is_not_a_classification():
    outputs = [f"Paris {i}" for i in range(10)] * 2  # 10 distinct over 20: 2 per output
    assert infer_task(outputs).kind == "short_answer"


def test_json_outputs_are_structured_with_a_schema():
    outputs = ['{"name": "a", "age": 3}', '{"name": "b", "age": 4, "tags": ["x"]}'] * 5
    task = infer_task(outputs)
    assert task.kind == "structured" and task.format == "json"
    assert task.schema == {"name": "string", "age": "number", "tags": "array"}
    assert "10 of 10 outputs parse as JSON" in task.evidence


def test_sql_outputs_are_structured_sql():
    task = infer_task([f"SELECT name FROM t{i} WHERE id = {i}" for i in range(20)])
    assert task.kind == "structured" and task.format == "sql"


def test_shell_commands_are_command():
    outputs = ["tar xzvf {{path/to/file}}", "ls -la", "git commit -m {{message}}", "grep -r foo .", "cat file | wc -l"] * 3
    assert infer_task(outputs).kind == "command"
    assert looks_like_command("ls -la") and not looks_like_command("The capital is Paris.")


def test_long_prose_is_text():
    outputs = [f"This is a long explanation number {i} of how the system works in detail." for i in range(20)]
    assert infer_task(outputs).kind == "text"


def test_overrides_kind_labels_and_prompt():
    outputs = ["yes"] * 10 + ["no"] * 10
    task = resolve_task(outputs, kind="short_answer")
    assert task.kind == "short_answer" and task.source == "given" and "classification" in task.evidence
    labelled = resolve_task(outputs, labels="yes, no, maybe")
    assert labelled.kind == "classification" and labelled.labels == ("yes", "no", "maybe")
    assert labelled.label_counts == {"yes": 10, "no": 10, "maybe": 0}
    assert resolve_task(outputs, system_prompt="Say yes or no.").system_prompt == "Say yes or no."
    forced = resolve_task([f"text {i} with many words in it for sure" for i in range(12)], kind="classification")
    assert forced.kind == "classification" and len(forced.labels) == 12


def test_bad_kind_and_duplicate_labels_are_refused():
    with pytest.raises(DataError, match="Unknown task kind"):
        resolve_task(["a"], kind="regression")
    with pytest.raises(DataError, match="distinct"):
        parse_labels("a,b,a")
    with pytest.raises(DataError, match="empty"):
        infer_task([])


def test_task_spec_round_trips():
    task = TaskSpec("classification", labels=("a", "b"), label_counts={"a": 2, "b": 1}, evidence="e", source="given")
    assert TaskSpec.from_dict(task.to_dict()) == task
    assert infer_schema(["not json", '{"k": true}']) == {"k": "boolean"}


def test_split_records_the_task_in_its_manifest_without_changing_its_version(sample_pairs, workspace):
    from studies.data.datasets import load_pairs
    from studies.data.kinds import resolve_task
    from studies.data.splits import load_split, make_split, save_split

    dataset = load_pairs(sample_pairs)
    split = make_split(dataset, seed=0)
    assert split.task.kind == "command"
    save_split(workspace, split)
    assert load_split(workspace, split.version).task == split.task
    other = make_split(dataset, seed=0, task=resolve_task([p.output for p in split.train], kind="text"))
    assert other.version == split.version
    save_split(workspace, other)  # same content, another task: the manifest is updated, the version kept
    assert load_split(workspace, split.version).task.kind == "text"
