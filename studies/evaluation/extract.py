"""Answer extraction: the same rule for every system, stored beside the raw output.

Small chat models wrap answers in prose ("Sure! You can use `ls -la` to ..."). For command and
code tasks the answer is, in order of preference:

1. the content of the first fenced block (```lang ... ```), stripped; else
2. the first inline code span (`...`, any number of backticks); else
3. the first non-empty line of the output, stripped.

A fenced block whose first line is a language tag (``bash``, ``sh``, ``console`` ...) loses that
line; a leading shell prompt (``$ `` or ``# ``) is removed. Empty outputs extract to ``""``.
Both the raw output and the extraction are written to ``predictions.jsonl`` so that a reviewer
sees what the metric saw.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"(`{3,}|~{3,})([^\n`]*)\n(.*?)(?:\n?\1|\Z)", re.DOTALL)
_INLINE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
_PROMPT = re.compile(r"^(?:\$|#|>)\s+")
_LANG_TAGS = {"bash", "sh", "shell", "console", "zsh", "powershell", "ps", "cmd", "text", "python", "py", "sql", "json"}


@dataclass(frozen=True)
class Extraction:
    """The extracted answer and which rule produced it ("fenced", "inline", "line" or "empty")."""

    answer: str
    rule: str


def _clean(text: str) -> str:
    return _PROMPT.sub("", text.strip()).strip()


def extract(raw: str) -> Extraction:
    """Apply the extraction rule (fenced block, else inline code, else first line) to ``raw``."""
    text = raw or ""
    fence = _FENCE.search(text)
    if fence:
        tag, body = fence.group(2).strip(), fence.group(3)
        if tag and tag.lower() not in _LANG_TAGS:
            # "```ls -la```" on one line is not a language tag: it is the answer.
            body = f"{tag}\n{body}" if body else tag
        lines = [line for line in body.strip("\n").splitlines()]
        return Extraction(_clean("\n".join(lines)), "fenced")
    inline = _INLINE.search(text)
    if inline and inline.group(2).strip():
        return Extraction(_clean(inline.group(2)), "inline")
    for line in text.splitlines():
        if line.strip():
            return Extraction(_clean(line), "line")
    return Extraction("", "empty")
