"""The questionnaire file and answer validation (every problem listed in one error)."""

from __future__ import annotations

import pytest

from advisor.questions import coerce_answer, load_questionnaire, parse_questionnaire, validate_answers
from core.errors import ConfigError

COMPLETE = {
    "change": ["knowledge", "behaviour"],
    "knowledge_change_rate": "weekly",
    "citations_required": True,
    "knowledge_base_size": "medium",
    "labelled_pairs": "1k_10k",
    "labelling_capacity": "some",
    "output_format": "strict",
    "metric": "automatic",
    "prompting_result": "partial",
    "error_cost": "medium",
    "privacy": "cloud_ok",
    "gpus": "consumer",
    "training_budget": "small",
    "team_experience": "some",
}


def test_questionnaire_covers_what_decides_the_matter():
    qn = load_questionnaire()
    needed = {
        "change", "knowledge_change_rate", "citations_required", "knowledge_base_size", "removable_facts",
        "labelled_pairs", "labelling_capacity", "output_format", "metric", "prompting_result", "error_cost",
        "latency_budget", "context_budget", "request_volume", "privacy", "model_size_limit", "gpus",
        "training_budget", "team_experience", "mlops",
    }
    assert needed <= set(qn.ids())
    assert qn.get("labelled_pairs").values() == ["none", "lt_100", "100_1k", "1k_10k", "gt_10k", "unsure"]
    assert set(qn.get("gpus").values()) == {"none", "consumer", "datacentre", "several", "cluster", "unsure"}
    assert set(qn.get("output_format").values()) == {"free_text", "consistent_style", "strict"}
    assert set(qn.get("change").values()) == {"knowledge", "behaviour", "task_skill"}
    for q in qn.questions:
        assert q.text and q.section in qn.sections
        assert q.help, f"{q.id} has no help text"


def test_complete_answers_resolve_with_defaults():
    answers = validate_answers(COMPLETE)
    assert answers["latency_budget"] == "interactive"  # default filled in
    assert answers["removable_facts"] is False
    assert answers["gpu_model"] == "auto"


def test_knowledge_questions_apply_only_when_knowledge_must_change():
    answers = dict(COMPLETE, change=["task_skill"])
    for qid in ("knowledge_change_rate", "citations_required", "knowledge_base_size"):
        answers.pop(qid)
    resolved = validate_answers(answers)
    assert "knowledge_change_rate" not in resolved
    # Answers to questions that do not apply are dropped, not errors.
    resolved = validate_answers(dict(answers, knowledge_change_rate="daily"))
    assert "knowledge_change_rate" not in resolved


def test_every_problem_is_listed_in_one_error():
    bad = dict(COMPLETE)
    bad.pop("metric")
    bad.pop("privacy")
    bad["labelled_pairs"] = "lots"
    bad["citations_required"] = "perhaps"
    bad["favourite_colour"] = "blue"
    bad["change"] = ["knowledge", "magic"]
    with pytest.raises(ConfigError) as info:
        validate_answers(bad)
    text = str(info.value)
    assert "6 problem(s)" in text
    for fragment in ("unknown question id `favourite_colour`", "missing required answer `metric`",
                     "missing required answer `privacy`", "`labelled_pairs` must be one of", "`citations_required` must be yes or no",
                     "'magic'"):
        assert fragment in text, fragment


def test_answers_may_be_nested_and_use_labels_or_case():
    resolved = validate_answers({"answers": dict(COMPLETE, metric="Automatic", citations_required="yes", change="knowledge, behaviour")})
    assert resolved["metric"] == "automatic" and resolved["citations_required"] is True
    assert resolved["change"] == ["knowledge", "behaviour"]
    q = load_questionnaire().get("labelled_pairs")
    assert coerce_answer(q, "10,000 or more") == ("gt_10k", None)


def test_model_size_is_checked():
    with pytest.raises(ConfigError, match="model size like 7B"):
        validate_answers(dict(COMPLETE, model_size="huge"))
    assert validate_answers(dict(COMPLETE, model_size="13B"))["model_size"] == "13B"


def test_not_a_mapping():
    with pytest.raises(ConfigError, match="expected a mapping"):
        validate_answers(["metric", "automatic"])


def test_broken_questionnaire_lists_its_problems():
    data = {
        "sections": {"a": "A"},
        "questions": [
            {"id": "x", "section": "a", "text": "X?", "type": "choice", "choices": []},
            {"id": "y", "section": "b", "text": "Y?", "type": "weird"},
            {"id": "z", "section": "a", "text": "Z?", "type": "bool", "applies_when": {"later": True}},
            {"id": "x", "section": "a", "text": "again", "type": "bool", "required": False},
        ],
    }
    with pytest.raises(ConfigError) as info:
        parse_questionnaire(data)
    text = str(info.value)
    assert "needs choices" in text and "`type` must be one of" in text and "not an earlier question" in text
    assert "duplicate id" in text and "needs a `default`" in text
