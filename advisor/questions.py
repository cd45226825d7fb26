"""The questionnaire (``advisor/questionnaire.yaml``): loading, checking, and validating answers.

The questions are data; this module only reads them, checks that the file is coherent, decides
which questions apply to a set of answers, and turns raw answers (YAML/JSON, or typed in a
terminal) into clean values. Every problem with a set of answers (unknown ids, missing required
answers, bad values) is listed in one :class:`ConfigError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from core.config import Problems, read_structured
from core.errors import ConfigError

QUESTIONNAIRE_PATH = Path(__file__).with_name("questionnaire.yaml")
AnswerType = Literal["choice", "multi", "bool", "number", "text"]
_TYPES = ("choice", "multi", "bool", "number", "text")
_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


@dataclass(frozen=True)
class Choice:
    """One allowed answer."""

    value: str
    """What answers files contain."""
    label: str
    """What people read."""


@dataclass(frozen=True)
class Question:
    """One question of the questionnaire."""

    id: str
    section: str
    text: str
    type: AnswerType
    help: str = ""
    choices: tuple[Choice, ...] = ()
    required: bool = True
    default: Any = None
    applies_when: dict[str, Any] = field(default_factory=dict)
    """Conditions on other answers that must all hold for this question to be asked."""
    format: str | None = None
    """Extra check on text answers (``model_size``: like 7B or 135M)."""
    min: float | None = None
    max: float | None = None
    short: str = ""
    """A few words for explanations ("How often the knowledge changes"); falls back to the id."""

    @property
    def title(self) -> str:
        return self.short or self.id.replace("_", " ")

    def values(self) -> list[str]:
        return [c.value for c in self.choices]

    def label_of(self, value: Any) -> str:
        """Plain words for an answer value."""
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, (list, tuple)):
            return ", ".join(self.label_of(v) for v in value) or "nothing"
        for c in self.choices:
            if c.value == value:
                return c.label
        return str(value)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "section": self.section, "text": self.text, "help": self.help, "type": self.type, "required": self.required}
        if self.choices:
            out["choices"] = [{"value": c.value, "label": c.label} for c in self.choices]
        if self.default is not None:
            out["default"] = self.default
        if self.applies_when:
            out["applies_when"] = self.applies_when
        if self.format:
            out["format"] = self.format
        if self.short:
            out["short"] = self.short
        return out


@dataclass(frozen=True)
class Questionnaire:
    """All questions, in the order they are asked."""

    version: int
    sections: dict[str, str]
    questions: tuple[Question, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {q.id: q for q in self.questions})

    def get(self, qid: str) -> Question:
        return self._by_id[qid]  # type: ignore[attr-defined]

    def __contains__(self, qid: object) -> bool:
        return qid in self._by_id  # type: ignore[attr-defined]

    def ids(self) -> list[str]:
        return [q.id for q in self.questions]

    def applies(self, question: Question, answers: dict[str, Any]) -> bool:
        return all(condition_holds(answers, qid, cond) for qid, cond in question.applies_when.items())

    def resolve(self, answers: dict[str, Any]) -> dict[str, Any]:
        """Typed answers -> the answers that apply, with defaults filled in (question order).

        Answers to questions that no longer apply are dropped; unanswered optional questions get
        their default. Used after validation and by the flip search after each change.
        """
        out: dict[str, Any] = {}
        for q in self.questions:
            if not self.applies(q, out):
                continue
            if q.id in answers and answers[q.id] is not None:
                out[q.id] = answers[q.id]
            elif q.default is not None:
                out[q.id] = q.default
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "sections": self.sections, "questions": [q.to_dict() for q in self.questions]}


def condition_holds(answers: dict[str, Any], qid: str, cond: Any) -> bool:
    """Does the answer to ``qid`` satisfy ``cond`` (equals / in / not_in / contains / not)?"""
    if qid not in answers:
        return False
    value = answers[qid]
    if isinstance(cond, dict):
        for op, arg in cond.items():
            if op == "in" and value not in arg:
                return False
            if op == "not_in" and value in arg:
                return False
            if op == "contains" and not (isinstance(value, (list, tuple)) and arg in value):
                return False
            if op == "contains_any" and not (isinstance(value, (list, tuple)) and any(a in value for a in arg)):
                return False
            if op == "not_contains" and isinstance(value, (list, tuple)) and arg in value:
                return False
            if op == "not" and value == arg:
                return False
            if op == "equals" and value != arg:
                return False
        return True
    return value == cond


_OPS = {"in", "not_in", "contains", "contains_any", "not_contains", "not", "equals"}


def parse_questionnaire(data: Any, what: str = "questionnaire") -> Questionnaire:
    """Build and check a :class:`Questionnaire` from its YAML form; lists every problem."""
    p = Problems(what)
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise ConfigError(f"Invalid {what}: expected a mapping with a `questions` list.")
    sections = data.get("sections") or {}
    questions: list[Question] = []
    seen: set[str] = set()
    for n, raw in enumerate(data["questions"], 1):
        if not isinstance(raw, dict):
            p.add(f"question #{n} must be a mapping, got {raw!r}")
            continue
        qid = raw.get("id")
        where = f"question `{qid or '#' + str(n)}`"
        unknown = set(raw) - {"id", "section", "text", "help", "type", "choices", "required", "default", "applies_when", "format", "min", "max", "short"}
        if unknown:
            p.add(f"{where}: unknown keys {sorted(unknown)}")
        if not isinstance(qid, str) or not qid.isidentifier():
            p.add(f"{where}: `id` must be an identifier, got {qid!r}")
            continue
        if qid in seen:
            p.add(f"{where}: duplicate id")
        seen.add(qid)
        qtype = raw.get("type")
        if qtype not in _TYPES:
            p.add(f"{where}: `type` must be one of {', '.join(_TYPES)}, got {qtype!r}")
            continue
        if raw.get("section") not in sections:
            p.add(f"{where}: `section` {raw.get('section')!r} is not one of the declared sections {sorted(sections)}")
        if not raw.get("text"):
            p.add(f"{where}: `text` is empty")
        choices = []
        for c in raw.get("choices") or []:
            if not isinstance(c, dict) or "value" not in c or "label" not in c:
                p.add(f"{where}: each choice needs `value` and `label`, got {c!r}")
                continue
            choices.append(Choice(str(c["value"]), str(c["label"])))
        if qtype in ("choice", "multi") and not choices:
            p.add(f"{where}: a {qtype} question needs choices")
        if len({c.value for c in choices}) != len(choices):
            p.add(f"{where}: choice values must be distinct")
        applies = raw.get("applies_when") or {}
        if not isinstance(applies, dict):
            p.add(f"{where}: `applies_when` must be a mapping of question id: condition")
            applies = {}
        for ref, cond in applies.items():
            if ref not in seen or ref == qid:
                p.add(f"{where}: `applies_when` refers to `{ref}`, which is not an earlier question")
            if isinstance(cond, dict) and set(cond) - _OPS:
                p.add(f"{where}: unknown condition operators {sorted(set(cond) - _OPS)}; use {sorted(_OPS)}")
        required = raw.get("required", True)
        default = raw.get("default")
        if not required and default is None and qtype != "text":
            p.add(f"{where}: an optional question needs a `default`")
        if default is not None and qtype in ("choice",) and choices and default not in [c.value for c in choices]:
            p.add(f"{where}: default {default!r} is not one of its choices")
        questions.append(Question(
            id=qid, section=str(raw.get("section")), text=str(raw.get("text", "")), type=qtype,
            help=str(raw.get("help", "") or "").strip(), choices=tuple(choices), required=bool(required),
            default=default, applies_when=dict(applies), format=raw.get("format"), min=raw.get("min"), max=raw.get("max"),
            short=str(raw.get("short", "") or ""),
        ))
    p.raise_if_any()
    return Questionnaire(int(data.get("version", 1)), dict(sections), tuple(questions))


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime: float) -> Questionnaire:
    return parse_questionnaire(read_structured(path, what="questionnaire"), what=f"questionnaire {path}")


def load_questionnaire(path: str | os.PathLike[str] | None = None) -> Questionnaire:
    """The shipped questionnaire (or another file with the same schema)."""
    p = Path(path) if path is not None else QUESTIONNAIRE_PATH
    return _load_cached(str(p), p.stat().st_mtime if p.exists() else 0.0)


def coerce_answer(question: Question, raw: Any) -> tuple[Any, str | None]:
    """(value, problem): one raw answer turned into its typed value, or the reason it is not valid."""
    qid = question.id
    if question.type == "bool":
        if isinstance(raw, bool):
            return raw, None
        if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE, None
        return raw, f"`{qid}` must be yes or no (true/false), but got {raw!r}"
    if question.type == "choice":
        values = question.values()
        text = str(raw).strip() if isinstance(raw, (str, int, float)) and not isinstance(raw, bool) else None
        if text is not None:
            for v in values:
                if text.lower() == v.lower():
                    return v, None
            for c in question.choices:
                if text.lower() == c.label.lower():
                    return c.value, None
        return raw, f"`{qid}` must be one of {', '.join(values)}, but got {raw!r}"
    if question.type == "multi":
        items = raw
        if isinstance(raw, str):
            items = [s for s in (t.strip() for t in raw.split(",")) if s]
        if not isinstance(items, (list, tuple)) or not items:
            return raw, f"`{qid}` must be a non-empty list drawn from {', '.join(question.values())}, but got {raw!r}"
        out, bad = [], []
        for item in items:
            value, problem = coerce_answer(Question(qid, question.section, question.text, "choice", choices=question.choices), item)
            (bad if problem else out).append(item if problem else value)
        if bad:
            return raw, f"`{qid}` accepts only {', '.join(question.values())}, but got {', '.join(map(repr, bad))}"
        return sorted(set(out), key=question.values().index), None
    if question.type == "number":
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            try:
                raw = float(str(raw))
            except ValueError:
                return raw, f"`{qid}` must be a number, but got {raw!r}"
        if question.min is not None and raw < question.min or question.max is not None and raw > question.max:
            return raw, f"`{qid}` must be between {question.min} and {question.max}, but got {raw}"
        return raw, None
    # text
    if raw is None:
        return "", None
    if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
        return raw, f"`{qid}` must be text, but got {raw!r}"
    text = str(raw).strip()
    if question.format == "model_size" and text:
        from advisor.estimate import resolve_model

        try:
            resolve_model(text)
        except ConfigError:
            return raw, f"`{qid}` must be a model size like 7B, 13B or 135M (or a known model name), but got {raw!r}"
    return text, None


VERSION_KEY = "questionnaire_version"
"""Answers files written by this version carry ``questionnaire_version: 2``; files without it are migrated."""
OLD_DEVICE_COUNT = {"several": 4, "cluster": 8}
"""Cards the first version assumed for "several" and "a cluster" (it had no count question)."""


def migrate_answers(raw: dict[str, Any], version: int | None) -> tuple[dict[str, Any], list[str]]:
    """Answers written for questionnaire version 1 -> version 2, with a note for each change made.

    Version 1 had a single-choice output format, no card count (it assumed 4 cards for "several",
    8 for a cluster) and "automatic" scoring that included a reference answer to compare with.
    """
    if version is not None and version >= 2:
        return dict(raw), []
    out, notes = dict(raw), []
    fmt = out.get("output_format")
    if isinstance(fmt, str) and "," not in fmt:
        out["output_format"] = [fmt]
        notes.append(f"output_format is now a list (several may apply): '{fmt}' became [{fmt}]; add consistent_style or strict if both hold.")
    gpus = out.get("gpus")
    gpus = gpus if isinstance(gpus, str) else None  # a bad value is reported by validation, not here
    if gpus in OLD_DEVICE_COUNT and out.get("gpu_count") is None:
        out["gpu_count"] = OLD_DEVICE_COUNT[gpus]
        notes.append(f"gpu_count was not asked before; the earlier version assumed {OLD_DEVICE_COUNT[gpus]} cards for '{gpus}', kept here: correct it if you have a different number.")
    if isinstance(out.get("metric"), str) and out["metric"] == "automatic":
        notes.append("metric 'automatic' now means a checker decides right or wrong; if you only compare with reference answers by similarity, answer 'reference'.")
    if isinstance(out.get("training_budget"), str) and out["training_budget"] == "none" and gpus not in (None, "none"):
        notes.append("training_budget 'none' now explicitly means nothing beyond your own hardware (owned cards are not counted as budget).")
    if notes:
        notes.insert(0, "These answers were written for questionnaire version 1 and were migrated to version 2:")
    return out, notes


def validate_answers(raw: Any, questionnaire: Questionnaire | None = None, what: str = "answers", notes: list[str] | None = None) -> dict[str, Any]:
    """Raw answers (a mapping of question id -> answer) -> typed, resolved answers.

    Raises one :class:`ConfigError` listing unknown ids, missing required answers and bad values.
    A mapping may also nest its answers under ``answers:`` (so a file can carry a comment header
    and other keys such as ``name``). Answers without ``questionnaire_version: 2`` are migrated from
    version 1 (:func:`migrate_answers`); what was changed is appended to ``notes`` when given.
    """
    qn = questionnaire or load_questionnaire()
    version = None
    if isinstance(raw, dict):
        version = raw.get(VERSION_KEY)
        if isinstance(raw.get("answers"), dict):
            version = raw["answers"].get(VERSION_KEY, version)
            raw = raw["answers"]
    if isinstance(raw, dict):
        raw = {k: v for k, v in raw.items() if k != VERSION_KEY}
        if version is not None and not isinstance(version, int):
            raise ConfigError(f"Invalid {what}: `{VERSION_KEY}` must be a whole number, got {version!r}.")
        raw, migration = migrate_answers(raw, version)
        if notes is not None:
            notes.extend(migration)
    if not isinstance(raw, dict):
        raise ConfigError(f"Invalid {what}: expected a mapping of question id: answer, got {type(raw).__name__}. Run `advisor questions` to see the ids.")
    p = Problems(what)
    typed: dict[str, Any] = {}
    for key in raw:
        if key not in qn:
            p.add(f"unknown question id `{key}`; known ids: {', '.join(qn.ids())}")
    for q in qn.questions:
        if q.id in raw and raw[q.id] is not None:
            value, problem = coerce_answer(q, raw[q.id])
            if problem:
                p.add(problem)
            else:
                typed[q.id] = value
    # Required answers are checked against the questions that apply given the valid answers.
    applicable: dict[str, Any] = {}
    for q in qn.questions:
        if not qn.applies(q, applicable):
            continue
        if q.id in typed:
            applicable[q.id] = typed[q.id]
        elif q.id in raw and raw[q.id] is not None:
            applicable[q.id] = raw[q.id]  # invalid value, already reported
        elif q.required:
            choices = f" (one of: {', '.join(q.values())})" if q.choices else (" (yes or no)" if q.type == "bool" else "")
            p.add(f"missing required answer `{q.id}`: {q.text}{choices}")
        elif q.default is not None:
            applicable[q.id] = q.default
    p.raise_if_any()
    return qn.resolve(typed)


def load_answers(path: str | os.PathLike[str], questionnaire: Questionnaire | None = None, notes: list[str] | None = None) -> dict[str, Any]:
    """Read and validate an answers file (YAML or JSON); migration notes go to ``notes`` when given."""
    return validate_answers(read_structured(path, what="answers file"), questionnaire, what=f"answers ({path})", notes=notes)


def answers_to_yaml(answers: dict[str, Any], header: str = "Questionnaire answers (advisor decide --answers THIS_FILE)") -> str:
    """An answers file of this questionnaire version (it loads without migration)."""
    import yaml

    body = {VERSION_KEY: load_questionnaire().version, **answers}
    return f"# {header}\n" + yaml.safe_dump(body, sort_keys=False, allow_unicode=True)
