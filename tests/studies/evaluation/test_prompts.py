"""Prompts per task kind: built from the data, the user's own prompt wins, command wording only for commands."""

from __future__ import annotations

from studies.data.kinds import TaskSpec
from studies.evaluation.prompts import (
    COMMAND_SYSTEM_PROMPT,
    LABEL_BUDGET_CHARS,
    grounded_instruction,
    system_prompt_for,
)
from studies.evaluation.systems import BaseModelSystem, RagSystem


def test_each_kind_gets_its_own_prompt_and_only_commands_mention_shell():
    cls = TaskSpec("classification", labels=("billing", "outage", "other"))
    assert "billing, outage, other" in system_prompt_for(cls)
    js = TaskSpec("structured", format="json", schema={"name": "string", "age": "number"})
    assert '"name" (string)' in system_prompt_for(js) and "JSON" in system_prompt_for(js)
    assert "SQL" in system_prompt_for(TaskSpec("structured", format="sql"))
    assert "short answer" in system_prompt_for(TaskSpec("short_answer"))
    assert system_prompt_for(TaskSpec("command")) == COMMAND_SYSTEM_PROMPT
    for task in (cls, js, TaskSpec("short_answer"), TaskSpec("text")):
        assert "shell" not in system_prompt_for(task).lower() and "shell" not in (grounded_instruction(task) or "").lower()
    assert grounded_instruction(TaskSpec("command")) is None  # tldr keeps the RAG pipeline's own prompt
    assert "documents" in grounded_instruction(TaskSpec("short_answer"))


def test_label_lists_over_the_budget_are_not_pasted():
    many = tuple(f"label-{i:04d}-{'x' * 40}" for i in range(LABEL_BUDGET_CHARS // 20))
    prompt = system_prompt_for(TaskSpec("classification", labels=many))
    assert many[0] not in prompt and f"{len(many)} possible" in prompt


def test_the_users_prompt_wins(workspace):
    task = TaskSpec("classification", labels=("a", "b"), system_prompt="Be a sentiment tagger.")
    assert system_prompt_for(task) == "Be a sentiment tagger."
    assert grounded_instruction(task).startswith("Be a sentiment tagger.")
    base = BaseModelSystem(workspace, loaded=object())
    assert base.system_prompt == COMMAND_SYSTEM_PROMPT  # before a task is known: the historical default
    base.use_task(TaskSpec("classification", labels=("a", "b")))
    assert "a, b" in base.system_prompt
    fixed = BaseModelSystem(workspace, system_prompt="Mine.", loaded=object())
    fixed.use_task(TaskSpec("text"))
    assert fixed.system_prompt == "Mine."


def test_rag_grounds_non_command_tasks_without_command_wording(workspace):
    from rag.config import RagConfig
    from rag.prompt import build_conversation

    class Hit:
        def __init__(self, text, doc_id="d"):
            self.text, self.doc_id = text, doc_id

    rag = RagSystem("idx", workspace)
    rag.use_task(TaskSpec("short_answer"))
    conv = build_conversation("Who wrote it?", [Hit("The module was written by Ada.")], RagConfig(), instruction=rag.instruction)
    assert "shell" not in conv[0]["content"].lower() and "Ada" in conv[1]["content"] and conv[1]["content"].endswith("Who wrote it?")
    command = build_conversation("list files", [Hit("ls\n\n- List files:\n\n`ls -la`")], RagConfig())
    assert "shell command" in command[0]["content"]  # tldr behaviour unchanged without an instruction
