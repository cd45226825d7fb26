"""What a plan measures: the task kind (the data's, else the questionnaire's), its metrics, and what serving must meet.

The data set decides the task kind when one is given (its training outputs are the evidence); the
questionnaire's ``output_kind`` answer decides it when there is no data set yet, and a disagreement
between the two is stated in the plan's notes instead of being settled silently. The kind chooses the
metrics and the one primary metric. The questionnaire's ``latency_budget`` becomes a p95 budget in
seconds, and cited answers over documents whose gold document each pair names get retrieval hit@k.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KIND_QUESTION = "output_kind"
"""The questionnaire question whose answer names the task kind (``unsure``: no kind)."""


@dataclass(frozen=True)
class DataFacts:
    """What the plan reads from a pairs file: its inferred task and how many pairs name their gold document."""

    task: Any
    """The inferred :class:`studies.data.kinds.TaskSpec` (None: no pairs)."""
    pairs: int
    gold_documents: int
    """Pairs that carry the document answering them (``page``): retrieval hit@k can be scored on them."""


@dataclass(frozen=True)
class TaskChoice:
    """The task kind a plan records, where it came from, and what the plan notes say about it."""

    kind: str | None
    evidence: str | None
    labels: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_data_facts(path: str) -> DataFacts | None:
    """The facts of a pairs file (None when it cannot be loaded here: the plan then says nothing about them)."""
    from core.errors import AdvisorError
    from studies.data.datasets import load_pairs
    from studies.data.kinds import infer_task

    try:
        dataset = load_pairs(path, strict=False)
    except AdvisorError:
        return None
    pairs = dataset.pairs
    task = infer_task([p.output for p in pairs]) if pairs else None
    gold = sum(1 for p in pairs if (p.meta or {}).get("page"))
    return DataFacts(task, len(pairs), gold)


def choose_task(answers: dict[str, Any], facts: DataFacts | None) -> TaskChoice:
    """The data set's kind when it has one (a questionnaire answer that disagrees is noted), else the questionnaire's."""
    from advisor.questions import load_questionnaire

    answered = answers.get(KIND_QUESTION)
    answered = None if answered in (None, "", "unsure") else str(answered)
    inferred = facts.task if facts is not None else None
    if inferred is not None:
        notes = [f"Task kind {inferred.kind}: {inferred.evidence}."]
        if answered and answered != inferred.kind:
            label = load_questionnaire().get(KIND_QUESTION).label_of(answered)
            notes.append(f"The questionnaire says the output is '{label}' ({answered}), but the data set's outputs look like "
                         f"{inferred.kind}: the plan follows the data. If the questionnaire is right, set data.task: {answered} "
                         "in the plan (and override the kind when freezing the split).")
        labels = list(inferred.labels) if inferred.kind == "classification" else []
        return TaskChoice(inferred.kind, inferred.evidence, labels, notes)
    if answered:
        evidence = f"from the questionnaire ({KIND_QUESTION}={answered}); no data set to infer it from yet"
        return TaskChoice(answered, evidence, [], [f"Task kind {answered}: {evidence}. A data set given later is checked against it."])
    return TaskChoice(None, None)


def plan_metrics(kind: str | None, answers: dict[str, Any]) -> tuple[list[str], str, dict[str, float], bool]:
    """(metrics, primary metric, acceptance thresholds, answers are shell commands) for a task kind (None: unknown)."""
    strict = "strict" in (answers.get("output_format") or [])
    use_case_commands = any(w in str(answers.get("use_case", "")).lower() for w in ("command", "shell", "cli", "devops"))
    commands = kind == "command" if kind is not None else use_case_commands
    level = {"low": 0.3, "medium": 0.5, "high": 0.7}.get(answers.get("error_cost", "medium"), 0.5)
    if kind is not None and kind != "command":
        from studies.data.kinds import TaskSpec
        from studies.evaluation.tasks import metrics_for, primary_metric

        # The kind decides: its metrics, and its ONE primary metric (accuracy for classes, field F1 for JSON, ...).
        task = TaskSpec(kind)
        return metrics_for(task), primary_metric(task), {primary_metric(task): level}, commands
    metrics = ["exact_match", "token_f1", "chrf"] if strict else ["chrf", "rouge_l", "token_f1"]
    if strict and use_case_commands:
        metrics += ["command_program", "command_flags"]
    # chrF ranks systems: graded, so it separates them at any quality level (exact match is ~0 for every
    # small model and would call everything a tie); exact match stays reported and in the gate for strict formats.
    acceptance = {"chrf": level}
    if strict:
        acceptance["exact_match"] = round(level / 2, 2)
    if "command_program" in metrics:
        acceptance["command_program"] = min(0.95, level + 0.2)
    return metrics, "chrf", acceptance, commands


def latency_budget(answers: dict[str, Any]) -> tuple[float | None, str | None]:
    """(p95 seconds one answer may take, a plan note) from the questionnaire's ``latency_budget`` answer."""
    from advisor.record_summary import LATENCY_BUDGET_S

    answer = answers.get("latency_budget")
    budget = LATENCY_BUDGET_S.get(str(answer)) if answer else None
    if budget is None:
        return None, None
    return budget, (f"Latency budget: p95 of {budget:g} s per answer (questionnaire: latency_budget={answer}); the report "
                    "measures every system's p95 against it (edit latency_budget_s to change it).")


def gold_hit_k(answers: dict[str, Any], facts: DataFacts | None, rag_enabled: bool, top_ks: list[int]) -> tuple[int | None, str | None]:
    """(k, a plan note) when the plan should report retrieval hit@k of each test item's gold document, else (None, note or None).

    Cited answers need the right document retrieved, so hit@k is reported when answers must cite their sources
    or the pairs name their gold document; k is the smallest top_k the RAG search space tries (every
    configuration retrieves at least that many).
    """
    if not rag_enabled:
        return None, None
    cited = bool(answers.get("citations_required"))
    known = facts is not None and facts.gold_documents > 0
    if not (cited or known):
        return None, None
    k = min(top_ks) if top_ks else 3
    if facts is not None and not known:
        return k, (f"Answers must cite their sources, but no pair of the data set names its gold document: add a `page` field "
                   f"(the corpus document that answers it) to report retrieval hit@{k}.")
    where = f"{facts.gold_documents:,} of {facts.pairs:,} pairs name theirs" if known else "once the pairs name theirs (`page`)"
    return k, (f"Retrieval hit@{k} of each test item's gold document is reported for every document-RAG system ({where}): "
               "a cited answer needs the right document retrieved.")
