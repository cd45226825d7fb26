"""Task kinds: what sort of answer a data set wants, inferred from its training outputs with the evidence shown.

The kind decides the metrics (and the one primary metric), the answer extraction, the decoding
(label scoring for classes) and the prompts of every system, so it is part of the data set, the
split manifest, the plan and every leaderboard row. Kinds:

- ``classification``: a closed label set (few distinct outputs, each seen many times);
- ``structured``: outputs that must parse (JSON objects/arrays, or SQL statements);
- ``command``: one shell command per answer (tldr-like);
- ``short_answer``: a name, a number, a short fact;
- ``text``: free-form text.

Inference looks at the training outputs only (never the test part) and says why it chose; the
user overrides it (``--task`` on the CLI, ``data.task`` in a plan). Rules, first match wins:
structured when >= 90% of outputs parse as JSON objects/arrays (or start like SQL statements);
classification when there are at most 50 distinct outputs, at least 5 examples per distinct output
on average, and outputs average 5 words or fewer; command when >= 60% of outputs are one line that
starts with a program name and carries shell syntax (flags, paths, pipes, placeholders);
short_answer when outputs average 6 words or fewer; text otherwise.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from core.errors import DataError

KINDS = ("classification", "structured", "command", "short_answer", "text")
MAX_LABELS = 50
"""More distinct outputs than this is not a closed label set."""
MIN_PER_LABEL = 5.0
"""A label set needs at least this many examples per distinct output on average."""
STRUCTURED_SHARE = 0.9
COMMAND_SHARE = 0.6

_SQL_START = re.compile(r"^\s*(select|with|insert|update|delete|create|alter|drop)\b", re.IGNORECASE)
_PROGRAM = re.compile(r"^(sudo\s+)?[a-z0-9][a-z0-9._+-]*(\s|$)")
_SHELL = re.compile(r"(\s--?[A-Za-z0-9]|\{\{|/|\||>|\$|=|~)")


@dataclass(frozen=True)
class TaskSpec:
    """The task of a data set: its kind, the label set (classification), an optional system prompt, and why."""

    kind: str
    """One of :data:`KINDS`."""
    labels: tuple[str, ...] = ()
    """Classification: the closed label set (most frequent first)."""
    label_counts: dict[str, int] = field(default_factory=dict, compare=False, hash=False)
    """Classification: training examples per label (what the majority baseline uses)."""
    system_prompt: str | None = None
    """A system prompt given by the user (None: the kind's prompt built from the data)."""
    format: str | None = None
    """Structured: ``json`` or ``sql``."""
    schema: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    """Structured JSON: key -> JSON type, inferred from the training outputs (what the prompt shows)."""
    evidence: str = ""
    """One line: why this kind (e.g. '12 distinct outputs over 2,400 pairs')."""
    source: str = "inferred"
    """'inferred' from the data, or 'given' by the user."""

    def __post_init__(self) -> None:
        check_kind(self.kind)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "labels": list(self.labels),
            "label_counts": dict(self.label_counts),
            "system_prompt": self.system_prompt,
            "format": self.format,
            "schema": dict(self.schema),
            "evidence": self.evidence,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TaskSpec":
        return cls(
            kind=str(data["kind"]),
            labels=tuple(str(x) for x in data.get("labels") or ()),
            label_counts={str(k): int(v) for k, v in (data.get("label_counts") or {}).items()},
            system_prompt=data.get("system_prompt"),
            format=data.get("format"),
            schema={str(k): str(v) for k, v in (data.get("schema") or {}).items()},
            evidence=str(data.get("evidence") or ""),
            source=str(data.get("source") or "inferred"),
        )


def check_kind(kind: str) -> str:
    """``kind`` if it is known, else a :class:`DataError` listing the kinds."""
    if kind not in KINDS:
        raise DataError(f"Unknown task kind {kind!r}; use one of: {', '.join(KINDS)}.")
    return kind


def parse_labels(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """Labels from a comma-separated string (CLI ``--labels``) or a list; blanks dropped, order kept, duplicates refused."""
    if text is None:
        return ()
    items = [t.strip() for t in (text.split(",") if isinstance(text, str) else text)]
    items = [t for t in items if t]
    dupes = sorted({t for t in items if items.count(t) > 1})
    if dupes:
        raise DataError(f"Labels must be distinct, but {', '.join(dupes)} appear(s) more than once.")
    return tuple(items)


def _words(text: str) -> int:
    return len(text.split())


def parse_json(text: str) -> Any:
    """The JSON value of ``text`` when it is an object or array, else None."""
    t = (text or "").strip()
    if not t or t[0] not in "{[":
        return None
    try:
        value = json.loads(t)
    except ValueError:
        return None
    return value if isinstance(value, (dict, list)) else None


def looks_like_sql(text: str) -> bool:
    return bool(_SQL_START.match(text or ""))


def looks_like_command(text: str) -> bool:
    """One line, starts with a program-like word, and carries shell syntax (flags, paths, pipes, placeholders)."""
    t = (text or "").strip()
    if not t or "\n" in t or t.endswith(".") or _words(t) > 40:
        return False
    return bool(_PROGRAM.match(t)) and bool(_SHELL.search(t))


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def infer_schema(outputs: Iterable[str]) -> dict[str, str]:
    """Keys of the JSON objects among ``outputs`` (in first-seen order) and their most common type."""
    types: dict[str, Counter] = {}
    for text in outputs:
        value = parse_json(text)
        if isinstance(value, dict):
            for key, v in value.items():
                types.setdefault(str(key), Counter())[_json_type(v)] += 1
    return {k: c.most_common(1)[0][0] for k, c in types.items()}


def infer_task(outputs: Sequence[str]) -> TaskSpec:
    """The kind the training ``outputs`` call for, with its evidence (see the module docstring for the rules)."""
    outputs = [o.strip() for o in outputs]
    n = len(outputs)
    if n == 0:
        raise DataError("Cannot infer the task kind of an empty data set; name the task kind.")
    counts = Counter(outputs)
    distinct = len(counts)
    mean_words = sum(_words(o) for o in outputs) / n
    parsed = sum(1 for o in outputs if parse_json(o) is not None)
    if parsed / n >= STRUCTURED_SHARE:
        schema = infer_schema(outputs)
        return TaskSpec("structured", format="json", schema=schema,
                        evidence=f"{parsed:,} of {n:,} outputs parse as JSON" + (f" (keys: {', '.join(list(schema)[:8])})" if schema else ""))
    sql = sum(1 for o in outputs if looks_like_sql(o))
    if sql / n >= STRUCTURED_SHARE:
        return TaskSpec("structured", format="sql", evidence=f"{sql:,} of {n:,} outputs are SQL statements")
    if distinct <= MAX_LABELS and n / distinct >= MIN_PER_LABEL and mean_words <= 5:
        labels = tuple(label for label, _ in counts.most_common())
        return TaskSpec("classification", labels=labels, label_counts=dict(counts.most_common()),
                        evidence=f"{distinct} distinct outputs over {n:,} pairs ({n / distinct:.0f} per label on average): a closed label set")
    commands = sum(1 for o in outputs if looks_like_command(o))
    if commands / n >= COMMAND_SHARE:
        return TaskSpec("command", evidence=f"{commands:,} of {n:,} outputs are one-line shell commands (program + flags/paths/placeholders)")
    if mean_words <= 6:
        return TaskSpec("short_answer", evidence=f"outputs average {mean_words:.1f} words; {distinct:,} distinct outputs over {n:,} pairs")
    return TaskSpec("text", evidence=f"outputs average {mean_words:.1f} words ({distinct:,} distinct over {n:,} pairs): free-form text")


def resolve_task(outputs: Sequence[str], kind: str | None = None, labels: Sequence[str] | str | None = None,
                 system_prompt: str | None = None) -> TaskSpec:
    """The inferred task, overridden by what the user gave (kind, labels, system prompt).

    Given labels make the task a classification unless another kind is given; a given
    classification without labels takes the distinct training outputs as its labels.
    """
    inferred = infer_task(outputs)
    given_labels = parse_labels(labels)
    wanted = check_kind(kind) if kind else ("classification" if given_labels else None)
    task = inferred
    if wanted and wanted != inferred.kind:
        counts = Counter(o.strip() for o in outputs)
        extra: dict[str, Any] = {}
        if wanted == "classification":
            extra = {"labels": tuple(label for label, _ in counts.most_common()), "label_counts": dict(counts.most_common())}
        elif wanted == "structured":
            fmt = "sql" if sum(looks_like_sql(o) for o in outputs) > sum(parse_json(o) is not None for o in outputs) else "json"
            extra = {"format": fmt, "schema": infer_schema(outputs) if fmt == "json" else {}}
        task = TaskSpec(wanted, evidence=f"given by the user (the data alone suggest {inferred.kind}: {inferred.evidence})",
                        source="given", **extra)
    if given_labels:
        counts = Counter(o.strip() for o in outputs)
        task = replace(task, labels=given_labels, label_counts={label: counts.get(label, 0) for label in given_labels}, source="given")
    if system_prompt:
        task = replace(task, system_prompt=system_prompt, source="given")
    return task


def task_of_split(split: Any) -> TaskSpec:
    """The task recorded with a split (its manifest), else inferred from its train part."""
    task = getattr(split, "task", None)
    if isinstance(task, TaskSpec):
        return task
    return infer_task([p.output for p in split.train])
