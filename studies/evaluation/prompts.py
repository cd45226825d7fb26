"""Prompts per task kind, built from the data: what every prompted system (base model, RAG) is told to answer.

- command: today's shell-command prompt (tldr behaviour unchanged);
- classification: the label list when it fits :data:`LABEL_BUDGET_CHARS`, else the number of labels;
- structured: one JSON object with the keys and types inferred from the training outputs (or one SQL statement);
- short_answer: a short answer, no explanation;
- text: a plain helpful-assistant prompt.

A system prompt the user gives (``--system-prompt``, ``data.system_prompt`` in a plan) wins. Grounded
prompts (RAG over documents) keep the kind's rule and add the instruction to use the documents,
with no command instruction unless the kind is ``command``.
"""

from __future__ import annotations

from studies.data.kinds import TaskSpec

COMMAND_SYSTEM_PROMPT = (
    "You are a command-line assistant. Reply with exactly one shell command that does what the user asks, "
    "in backticks, and nothing else."
)
"""System prompt of the prompted base model on command tasks (the RAG pipeline has its own prompt)."""
LABEL_BUDGET_CHARS = 2000
"""Label lists longer than this (about 500 tokens) are not pasted into every prompt."""


def answer_rule(task: TaskSpec) -> str:
    """One or two sentences: the form the answer must take for ``task``'s kind."""
    if task.kind == "classification":
        listing = ", ".join(task.labels)
        if task.labels and len(listing) <= LABEL_BUDGET_CHARS:
            return f"Reply with exactly one of these labels and nothing else: {listing}."
        return f"Reply with exactly one label ({len(task.labels)} possible) and nothing else."
    if task.kind == "structured":
        if task.format == "sql":
            return "Reply with exactly one SQL statement and nothing else."
        if task.schema:
            keys = ", ".join(f'"{k}" ({v})' for k, v in task.schema.items())
            if len(keys) <= LABEL_BUDGET_CHARS:
                return f"Reply with one JSON object with the keys {keys}, and nothing else."
        return "Reply with one valid JSON value and nothing else."
    if task.kind == "command":
        return "Reply with exactly one shell command in backticks and nothing else."
    if task.kind == "short_answer":
        return "Reply with the short answer only (a name, a number or a short phrase), without explanation."
    return "Answer helpfully and concisely."


def system_prompt_for(task: TaskSpec) -> str:
    """The system prompt of a prompted base model for ``task`` (the user's own prompt when given)."""
    if task.system_prompt:
        return task.system_prompt
    if task.kind == "command":
        return COMMAND_SYSTEM_PROMPT
    if task.kind == "classification":
        return "You are a classifier. Read the input and assign it one label. " + answer_rule(task)
    if task.kind == "structured":
        return "You convert requests into structured output. " + answer_rule(task)
    if task.kind == "short_answer":
        return "You answer questions. " + answer_rule(task)
    return "You are a helpful assistant. " + answer_rule(task)


def grounded_instruction(task: TaskSpec) -> str | None:
    """The system instruction of a grounded (RAG over documents) prompt; None keeps the RAG pipeline's own (command)."""
    if task.kind == "command" and not task.system_prompt:
        return None
    base = task.system_prompt or "Answer using the documents below where they help."
    return f"{base} {answer_rule(task)}"
