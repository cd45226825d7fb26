"""What would change the advice: the most plausible one- or two-answer changes that flip the verdict.

A flip is computed, not written: every change of one answer (and, where needed, of two) to a
question some rule reads is scored with :mod:`advisor.rules`, and the changes that produce a
different verdict are ranked by how plausible they are for *this* case (:func:`change_cost`):
settling a "not sure" answer is the most plausible change, then constraints a team can renegotiate
(privacy, budgets) and resources it can build (more pairs, a checker), then facts of the problem
(how fast the knowledge changes). A change that makes the team's position worse (losing its metric,
having fewer pairs) is the least plausible and is shown last, if at all.

Also here: for each "not sure" answer, the verdict under each real answer (:func:`unsure_effects`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from advisor import rules as R
from advisor.questions import Question, Questionnaire, load_questionnaire

UNSURE = "unsure"
MAX_FLIPS = 3
"""How many flips a recommendation shows."""

EFFORT: dict[str, float] = {
    # constraints a team can renegotiate
    "privacy": 1.0, "latency_budget": 1.0, "context_budget": 1.0, "training_budget": 1.0,
    "citations_required": 1.5, "removable_facts": 1.5, "model_size_limit": 1.5, "request_volume": 2.0,
    # resources a team can build
    "labelled_pairs": 1.0, "labelling_capacity": 1.0, "metric": 1.0, "prompting_result": 1.0,
    "gpus": 1.5, "mlops": 1.5, "team_experience": 2.0,
    # facts of the problem
    "knowledge_change_rate": 2.0, "knowledge_base_size": 2.0, "output_format": 2.0, "error_cost": 2.5, "change": 3.0,
}
"""Cost of changing one answer by one step, per question (lower: more plausible). Unlisted questions cost 2."""
BETTER_WHEN_LATER = {"labelled_pairs", "labelling_capacity", "team_experience", "mlops", "training_budget"}
"""Ordered questions whose later choices are a better position for the team."""
BETTER_ORDER = {
    "metric": ["none", "human_rubric", "reference", "automatic"],
    "prompting_result": ["not_tried", "poor", "partial", "good_but_costly", "good_enough"],
}
"""Questions whose choices are not listed worst-to-best, in worst-to-best order."""
WORSENING_COST = 10.0
"""Added when a change leaves the team worse off (fewer pairs, no metric): such a flip says little
about the case, so it is shown only when nothing plausible flips the verdict."""
PAIR_COST_CEILING = 6.0
"""Two-answer changes costlier than this are not searched (they would not be shown)."""
SETTLE_UNSURE_COST = 0.5
"""Settling a "not sure" answer: the most plausible change of all."""


@dataclass
class Flip:
    """A set of answer changes that changes the recommendation."""

    changes: list[dict[str, Any]]
    """Each: question, title, from, to, from_label, to_label."""
    result: str
    """The verdict after the change."""
    text: str
    cost: float = 0.0
    """How implausible the change is (:func:`change_cost`, summed); the list is sorted by it."""
    lead: float = 0.0
    """Points the new verdict would lead by."""


@dataclass
class UnsureEffect:
    """A "not sure" answer and the verdict each real answer would give."""

    question: str
    title: str
    outcomes: dict[str, str] = field(default_factory=dict)
    """Answer label -> verdict."""
    text: str = ""


def _alternatives(q: Question, current: Any) -> list[Any]:
    if q.type == "bool":
        return [not bool(current)]
    if q.type == "choice":
        return [v for v in q.values() if v != current and v != UNSURE]
    if q.type == "multi":
        values = q.values()
        subsets = [sorted(c, key=values.index) for n in range(1, len(values) + 1) for c in itertools.combinations(values, n)]
        return [s for s in subsets if s != current]
    return []


def change_cost(q: Question, old: Any, new: Any) -> float:
    """How implausible it is that the answer to ``q`` is really ``new`` rather than ``old`` (or can become it)."""
    effort = EFFORT.get(q.id, 2.0)
    if old == UNSURE:
        return SETTLE_UNSURE_COST
    if q.type == "choice":
        order = BETTER_ORDER.get(q.id, q.values())
        if old in order and new in order:
            steps = abs(order.index(new) - order.index(old))
            cost = effort * (1 + 0.5 * (steps - 1))
            worse = order.index(new) < order.index(old)
            if (q.id in BETTER_ORDER or q.id in BETTER_WHEN_LATER) and worse:
                cost += WORSENING_COST
            return cost
        return effort
    if q.type == "multi":
        before, after = set(old or []), set(new or [])
        return effort * max(1, len(before ^ after)) * 0.75
    return effort


def _candidates(qn: Questionnaire) -> list[Question]:
    read = {q for rule in R.RULES for q in rule.reads}
    gates = {g for q in qn.questions if q.id in read for g in q.applies_when}
    return [q for q in qn.questions if q.id in read | gates and q.type in ("choice", "bool", "multi")]


def _try(answers: dict[str, Any], group: tuple[Question, ...], values: tuple[Any, ...], qn: Questionnaire) -> tuple[str, float, list[str]] | None:
    """(verdict, lead, tied options) after the change, or None when the change is not one the user can make alone."""
    changed = dict(answers)
    for q, v in zip(group, values):
        changed[q.id] = v
    resolved = qn.resolve(changed)
    if any(q.id not in resolved for q in group):
        return None  # a changed answer that no longer applies
    if any(r.required and r.id not in resolved and qn.applies(r, resolved) for r in qn.questions):
        return None  # the change opens questions nobody has answered yet
    totals, _ = R.score(resolved)
    new = R.winner(totals)
    lead = totals[new] - max(v for o, v in totals.items() if o != new)
    return new, lead, R.tied(totals)


def _flip(answers: dict[str, Any], group: tuple[Question, ...], values: tuple[Any, ...], outcome: tuple[str, float, list[str]], cost: float) -> Flip:
    new, lead, tied = outcome
    changes = [
        {"question": q.id, "title": q.title, "from": answers.get(q.id), "to": v,
         "from_label": q.label_of(answers.get(q.id)) if q.id in answers else "(not asked)", "to_label": q.label_of(v)}
        for q, v in zip(group, values)
    ]
    what = " and ".join(f"{c['title']} were '{c['to_label']}' (now '{c['from_label']}')" for c in changes)
    verdict = "a tie: " + " or ".join(R.LABELS[o] for o in tied) if len(tied) > 1 else R.LABELS[new]
    return Flip(changes, new, f"If {what}, the advice would be {verdict}.", round(cost, 2), round(lead, 2))


def find_flips(answers: dict[str, Any], current: str, qn: Questionnaire | None = None, limit: int = MAX_FLIPS) -> list[Flip]:
    """The most plausible changes of one or two answers that change the verdict ``current``.

    Every one-answer change is tried; two-answer changes are tried for pairs of questions neither of
    which flips the verdict alone (a pair containing a flip is not minimal). Sorted by
    :func:`change_cost` (most plausible first), then by how clearly the new verdict would win; at most
    two flips per resulting verdict, so the list shows different ways the advice could go.
    """
    qn = qn or load_questionnaire()
    candidates = [q for q in _candidates(qn) if not (q.id not in answers and not q.applies_when)]
    found: list[Flip] = []
    single_flippers: set[str] = set()
    for q in candidates:
        current_value = answers.get(q.id, q.default)
        for v in _alternatives(q, current_value):
            outcome = _try(answers, (q,), (v,), qn)
            if outcome and outcome[0] != current:
                single_flippers.add(q.id)
                found.append(_flip(answers, (q,), (v,), outcome, change_cost(q, current_value, v)))
    plausible = sorted(f.cost for f in found if f.cost < WORSENING_COST)
    ceiling = min(PAIR_COST_CEILING, plausible[limit - 1]) if len(plausible) >= limit else PAIR_COST_CEILING
    if len(plausible) < limit:
        ceiling = WORSENING_COST  # few plausible single changes: look further among pairs
    pairs = [g for g in itertools.combinations(candidates, 2) if not ({g[0].id, g[1].id} & single_flippers)]
    for group in pairs:
        olds = [answers.get(q.id, q.default) for q in group]
        for values in itertools.product(*(_alternatives(q, o) for q, o in zip(group, olds))):
            cost = sum(change_cost(q, o, v) for q, o, v in zip(group, olds, values))
            if cost >= ceiling:
                continue  # less plausible than the flips already found
            outcome = _try(answers, group, values, qn)
            if outcome and outcome[0] != current:
                found.append(_flip(answers, group, values, outcome, cost))
    found.sort(key=lambda f: (f.cost, len(f.changes), -f.lead))
    picked: list[Flip] = []
    per_result: dict[str, int] = {}
    for flip in found:
        if per_result.get(flip.result, 0) >= 2:
            continue
        picked.append(flip)
        per_result[flip.result] = per_result.get(flip.result, 0) + 1
        if len(picked) >= limit:
            break
    return picked


def unsure_effects(answers: dict[str, Any], qn: Questionnaire | None = None) -> list[UnsureEffect]:
    """For each "not sure" answer, the verdict each real answer would give (other answers unchanged)."""
    qn = qn or load_questionnaire()
    out = []
    read = {q.id for q in _candidates(qn)}  # a question no rule reads (the output kind) cannot change the advice
    for q in qn.questions:
        if answers.get(q.id) != UNSURE or q.id not in read:
            continue
        outcomes: dict[str, str] = {}
        for v in q.values():
            if v == UNSURE:
                continue
            outcome = _try(answers, (q,), (v,), qn)
            if outcome:
                outcomes[q.label_of(v)] = outcome[0]
        verdicts = sorted(set(outcomes.values()), key=R.OPTIONS.index)
        if len(verdicts) == 1:
            text = f"{q.title}: not sure. Any answer gives {R.LABELS[verdicts[0]]}, so it does not change the advice."
        else:
            parts = "; ".join(f"{', '.join(k for k, o in outcomes.items() if o == v)} -> {R.LABELS[v]}" for v in verdicts)
            text = f"{q.title}: not sure. It matters: {parts}."
        out.append(UnsureEffect(q.id, q.title, outcomes, text))
    return out
