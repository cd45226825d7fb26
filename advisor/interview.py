"""Asking the questionnaire in a terminal, one line per answer, with numbered choices.

Reads lines from any file-like input (a terminal, a pipe, a test's pseudo-terminal). A choice is
answered by its number or its value; several choices by numbers separated by commas; yes/no by
y or n; an empty line takes an optional question's default. A bad answer is explained and asked
again (up to :data:`MAX_TRIES` times). Only questions that apply to the answers so far are asked.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from advisor.questions import Question, Questionnaire, coerce_answer, load_questionnaire
from core.errors import ConfigError

MAX_TRIES = 5


def _parse(q: Question, line: str) -> tuple[Any, str | None]:
    text = line.strip()
    if q.type in ("choice", "multi") and text:
        parts = [p.strip() for p in text.split(",") if p.strip()] if q.type == "multi" else [text]
        values = []
        for part in parts:
            if part.isdigit():
                n = int(part)
                if not 1 <= n <= len(q.choices):
                    return None, f"{n} is not a choice number (1-{len(q.choices)})"
                values.append(q.choices[n - 1].value)
            else:
                values.append(part)
        return coerce_answer(q, values if q.type == "multi" else values[0])
    return coerce_answer(q, text)


def _prompt(q: Question, index: int, total: int, out: TextIO) -> None:
    out.write(f"\n[{index}/{total}] {q.text}\n")
    if q.help:
        out.write(f"  {q.help}\n")
    for n, c in enumerate(q.choices, 1):
        out.write(f"  {n}) {c.label}\n")
    if q.type == "multi":
        hint = "numbers separated by commas"
    elif q.type == "choice":
        hint = f"1-{len(q.choices)}"
    elif q.type == "bool":
        hint = "y/n"
    elif q.type == "number":
        hint = "a number" + (f" from {q.min:g}" if q.min is not None else "") + (f" to {q.max:g}" if q.max is not None else "")
    else:
        hint = "text"
    if not q.required:
        default = q.label_of(q.default) if q.default not in (None, "") else "none"
        hint += f", Enter for {default}"
    out.write(f"> ({hint}) ")
    out.flush()


def interview(inp: TextIO | None = None, out: TextIO | None = None, questionnaire: Questionnaire | None = None) -> dict[str, Any]:
    """Ask every applicable question; returns the typed answers (not yet resolved)."""
    inp = inp or sys.stdin
    out = out or sys.stdout
    qn = questionnaire or load_questionnaire()
    answers: dict[str, Any] = {}
    out.write("Answer each question (Ctrl-D to stop). `advisor questions` lists them all.\n")
    asked = 0
    for i, q in enumerate(qn.questions):
        resolved = qn.resolve(answers)
        if not qn.applies(q, resolved):
            continue
        asked += 1
        later = sum(1 for x in qn.questions[i + 1:] if not x.applies_when or qn.applies(x, resolved))
        for _attempt in range(MAX_TRIES):
            _prompt(q, asked, asked + later, out)
            line = inp.readline()
            if line == "":
                raise ConfigError(f"Input ended before question `{q.id}` was answered; answer it or pass --answers FILE.")
            if not line.strip() and not q.required:
                break
            if not line.strip():
                out.write("  This question needs an answer.\n")
                continue
            value, problem = _parse(q, line)
            if problem is None:
                answers[q.id] = value
                break
            out.write(f"  {problem}\n")
        else:
            raise ConfigError(f"No valid answer to `{q.id}` after {MAX_TRIES} tries.")
    out.write("\n")
    out.flush()
    return answers
