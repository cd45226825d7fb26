"""Answering the questionnaire a section at a time: which sections apply, what is missing or invalid,
and answers files (partial ones load; a complete one reruns with `advisor decide --answers`)."""

from __future__ import annotations

from typing import Any

from advisor.questions import Question, Questionnaire, coerce_answer, load_questionnaire


def _blank(value: Any) -> bool:
    return value is None or value == [] or value == ""


def applicable_sections(questionnaire: Questionnaire, answers: dict) -> list[str]:
    """Sections (in order) that hold at least one question that applies to the answers so far."""
    resolved = questionnaire.resolve(answers)
    seen: list[str] = []
    for q in questionnaire.questions:
        if q.section not in seen and questionnaire.applies(q, resolved):
            seen.append(q.section)
    return seen


def section_questions(questionnaire: Questionnaire, section: str, answers: dict) -> list[Question]:
    """The questions of one section that apply given the answers so far, in order.

    Conditions look at earlier answers that still apply, with defaults filled in.
    """
    resolved = questionnaire.resolve(answers)
    return [q for q in questionnaire.questions if q.section == section and questionnaire.applies(q, resolved)]


def missing_answers(questionnaire: Questionnaire, section: str, answers: dict) -> list[Question]:
    """Required questions of ``section`` that apply and have no answer yet."""
    return [q for q in section_questions(questionnaire, section, answers) if q.required and _blank(answers.get(q.id))]


def section_problems(questionnaire: Questionnaire, section: str, answers: dict) -> list[str]:
    """Everything that keeps ``section`` from being complete: missing required answers and invalid values
    (a model size of "huge"), one plain sentence each. Empty when the person may go on."""
    problems = [f"please answer: {q.text}" for q in missing_answers(questionnaire, section, answers)]
    for q in section_questions(questionnaire, section, answers):
        if not _blank(answers.get(q.id)):
            _value, problem = coerce_answer(q, answers[q.id])
            if problem:
                problems.append(problem.replace(f"`{q.id}`", f"\"{q.text}\""))
    return problems


def parse_saved_answers(data: bytes, filename: str, questionnaire: Questionnaire | None = None) -> tuple[dict, list[str]]:
    """Answers from a saved YAML/JSON file: (every valid answer, the problems with the rest).

    Unlike :func:`advisor.questions.validate_answers` this keeps partial answers, so a person can
    load an unfinished questionnaire and complete it.
    """
    import json

    import yaml

    from core.errors import ConfigError

    qn = questionnaire or load_questionnaire()
    try:
        text = data.decode("utf-8")
        raw = json.loads(text) if filename.lower().endswith(".json") else yaml.safe_load(text)
    except (UnicodeDecodeError, ValueError, RecursionError, yaml.YAMLError) as exc:
        raise ConfigError(f"{filename} is not a readable YAML or JSON answers file ({exc}). "
                          "Download answers from the Decide page to see the expected shape.") from exc
    if isinstance(raw, dict) and isinstance(raw.get("answers"), dict):
        raw = raw["answers"]
    if not isinstance(raw, dict):
        raise ConfigError(f"{filename}: expected a mapping of question id: answer, got {type(raw).__name__}.")
    answers: dict = {}
    problems: list[str] = []
    for key, value in raw.items():
        if key not in qn:
            problems.append(f"unknown question id `{key}` (ignored)")
            continue
        if value is None:
            continue
        typed, problem = coerce_answer(qn.get(key), value)
        if problem:
            problems.append(problem)
        else:
            answers[key] = typed
    return answers, problems


def answers_yaml(answers: dict, questionnaire: Questionnaire | None = None) -> str:
    """Answers as a YAML file that `advisor decide --answers FILE` and the Decide page's loader accept."""
    import yaml

    qn = questionnaire or load_questionnaire()
    ordered = {qid: answers[qid] for qid in qn.ids() if qid in answers and answers[qid] is not None}
    header = "# Questionnaire answers. Reuse: advisor decide --answers THIS_FILE (or load it on the Decide page)\n"
    return header + yaml.safe_dump({"answers": ordered}, sort_keys=False, allow_unicode=True)
