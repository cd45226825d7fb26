"""Grounded prompts: retrieved chunks plus the question, as chat conversations for the generator.

``tuning.generate`` applies the generator's own chat template, so a prompt here is a list of
``{"role", "content"}`` messages. Styles are registered by name:

- ``fewshot`` (default): the retrieved example commands become earlier chat turns (question ->
  one command in backticks), most relevant last, right before the real question; every user turn
  ends with a ``(Tool: name: description)`` hint from its document, and the real question carries
  the hint of the best hit, so the model learns "use the hinted tool" from the examples. A 135M model copies the format and
  the program reliably from turns; from a pasted page it mostly rambles.
- ``examples``: one user message with a short list of the retrieved examples (most relevant first),
  then the question and the instruction to answer with one command in backticks.
- ``page``: the retrieved chunks verbatim, then the question (the plain RAG baseline).
Documents without tldr-style examples fall back to ``page`` context within every style.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.errors import RagError
from rag.config import RagConfig

Conversation = list[dict[str, str]]
_EXAMPLE = re.compile(r"^- (?P<intent>[^\n]+?):?\s*\n\s*`(?P<command>[^\n]+)`\s*$", re.MULTILINE)
_WORD = re.compile(r"[a-z0-9]+")

ANSWER_RULE = "Reply with exactly one shell command in backticks and nothing else."
SYSTEM_FEWSHOT = "You are a command-line expert. " + ANSWER_RULE


@dataclass
class Example:
    intent: str
    command: str
    doc_id: str
    relevance: float
    tool: str = ""
    """The context line of the chunk it came from (``tool: description``)."""


def _overlap(question: str, text: str) -> float:
    q = set(_WORD.findall(question.lower()))
    t = set(_WORD.findall(text.lower()))
    return len(q & t) / (len(q) or 1)


def examples_from_hits(question: str, hits: Sequence, limit: int) -> list[Example]:
    """tldr-style examples in the hits, most relevant first (hit rank, then word overlap with the question)."""
    found: list[Example] = []
    seen: set[tuple[str, str]] = set()
    for rank, hit in enumerate(hits):
        local = []
        for m in _EXAMPLE.finditer(hit.text):
            key = (m["intent"].strip(), m["command"].strip())
            if key in seen:
                continue
            seen.add(key)
            tool = hit.text.split("\n", 1)[0].strip()
            local.append(Example(key[0], key[1], hit.doc_id, -rank + _overlap(question, key[0]), "" if tool.startswith("- ") else tool))
        found.extend(sorted(local, key=lambda e: -e.relevance))
    return sorted(found, key=lambda e: -e.relevance)[:limit]


def context_lines(hits: Sequence) -> list[str]:
    """First line of each distinct document's chunk: its context (``tool: description``)."""
    out: list[str] = []
    for hit in hits:
        line = hit.text.split("\n", 1)[0].strip()
        if line and line not in out and not line.startswith("- "):
            out.append(line)
    return out


def _clip(text: str, max_tokens: int) -> str:
    limit = max_tokens * 4
    return text if len(text) <= limit else text[:limit].rsplit("\n", 1)[0] + "\n..."


def page_prompt(question: str, hits: Sequence, config: RagConfig) -> Conversation:
    docs = _clip("\n\n".join(h.text for h in hits[: config.k]), config.max_context_tokens)
    return [
        {"role": "system", "content": "Answer the question using the documentation below. " + ANSWER_RULE},
        {"role": "user", "content": f"Documentation:\n{docs}\n\nQuestion: {question}"},
    ]


def examples_prompt(question: str, hits: Sequence, config: RagConfig) -> Conversation:
    top = hits[: config.k]
    examples = examples_from_hits(question, top, config.max_examples)
    if not examples:
        return page_prompt(question, hits, config)
    tools = "\n".join(context_lines(top))
    listing = "\n".join(f"- {e.intent}: `{e.command}`" for e in examples)
    body = _clip(f"Tools:\n{tools}\n\nExamples:\n{listing}", config.max_context_tokens)
    return [
        {"role": "system", "content": SYSTEM_FEWSHOT},
        {"role": "user", "content": f"{body}\n\nTask: {question}\n{ANSWER_RULE}"},
    ]


def _hint(tool: str) -> str:
    return f"\n(Tool: {tool if len(tool) <= 120 else tool[:117] + '...'})" if tool else ""


def fewshot_prompt(question: str, hits: Sequence, config: RagConfig) -> Conversation:
    top = hits[: config.k]
    examples = examples_from_hits(question, top, config.max_examples)
    tools = context_lines(top)
    if not examples and any("\n" in h.text for h in top):
        return page_prompt(question, hits, config)
    conv: Conversation = [{"role": "system", "content": SYSTEM_FEWSHOT}]
    for e in reversed(examples):  # most relevant last, next to the question
        conv.append({"role": "user", "content": e.intent + _hint(e.tool)})
        conv.append({"role": "assistant", "content": f"`{e.command}`"})
    conv.append({"role": "user", "content": question + _hint(tools[0] if tools else "")})
    return conv


def grounded_prompt(question: str, hits: Sequence, config: RagConfig, instruction: str) -> Conversation:
    """Documents then the question, under the caller's instruction (the task kind's answer rule): for any
    corpus that is not tldr-style commands, where the command styles above would ask for a shell command."""
    docs = _clip("\n\n".join(h.text for h in hits[: config.k]), config.max_context_tokens)
    return [
        {"role": "system", "content": instruction},
        {"role": "user", "content": f"Documents:\n{docs}\n\nQuestion: {question}"},
    ]


PromptFn = Callable[[str, Sequence, RagConfig], Conversation]
_STYLES: dict[str, PromptFn] = {"fewshot": fewshot_prompt, "examples": examples_prompt, "page": page_prompt}


def register_prompt_style(name: str, fn: PromptFn) -> None:
    _STYLES[name] = fn


def build_conversation(question: str, hits: Sequence, config: RagConfig, style: str | None = None,
                       instruction: str | None = None) -> Conversation:
    """The grounded conversation for one question in the configured (or given) style.

    With an ``instruction`` (the task kind's answer rule, for tasks that are not shell commands) the
    documents are shown under that instruction instead (:func:`grounded_prompt`).
    """
    if instruction:
        return grounded_prompt(question, hits, config, instruction)
    key = style or config.prompt_style
    if key not in _STYLES:
        raise RagError(f"Unknown prompt style {key!r}; known: {', '.join(sorted(_STYLES))}.")
    return _STYLES[key](question, hits, config)
