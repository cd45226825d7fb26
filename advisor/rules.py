"""The decision rules, all in one place: when each fires, what it adds to which option, and why.

Every option starts at its prior (:data:`PRIORS`); each rule whose conditions all hold adds its
points to the options it names (negative points count against). The highest total wins. Conditions
use the questionnaire's condition language (``{question: value}``, ``{question: {in: [...]}}``,
``{question: {contains: value}}``, ``{question: {not: value}}``), so a rule reads like a sentence and
the flip search can reason about it. To change the advisor's judgement, edit this table; the
scenario tests in ``tests/advisor/test_advisor_scenarios.py`` pin the behaviour that must not drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from advisor.questions import condition_holds

PROMPTING = "prompting-first"
RAG = "rag"
FINE_TUNE = "fine-tune"
BOTH = "rag+fine-tune"
NOT_READY = "not-ready"
OPTIONS = (PROMPTING, RAG, FINE_TUNE, BOTH, NOT_READY)
LABELS = {
    PROMPTING: "Prompting first (a better prompt and few-shot examples)",
    RAG: "RAG (retrieval-augmented generation)",
    FINE_TUNE: "Fine-tune",
    BOTH: "RAG + fine-tune",
    NOT_READY: "Not ready yet",
}

PRIORS = {PROMPTING: 1.0, RAG: 0.0, FINE_TUNE: 0.0, BOTH: -1.0, NOT_READY: -1.0}
"""Starting points: prompting is the cheapest thing to try; combining both is the most work."""


class RuleLike(Protocol):
    id: str
    rationale: str

    def fires(self, answers: dict[str, Any]) -> bool: ...


@dataclass(frozen=True)
class Rule:
    """When ``when`` holds, add ``effects`` to the options' scores."""

    id: str
    when: dict[str, Any]
    """Conditions on answers, all of which must hold."""
    effects: dict[str, float]
    """Points added per option (negative: against)."""
    says: str
    """The situation, in plain words ("the knowledge changes daily")."""
    rationale: str
    """Why that matters, in one line."""
    questions: tuple[str, ...] = field(default=())
    """Questions this rule reads (defaults to the keys of ``when``)."""

    def fires(self, answers: dict[str, Any]) -> bool:
        return all(condition_holds(answers, qid, cond) for qid, cond in self.when.items())

    @property
    def reads(self) -> tuple[str, ...]:
        return self.questions or tuple(self.when)


KNOWLEDGE = {"change": {"contains": "knowledge"}}
FEW_PAIRS = {"in": ["none", "lt_100"]}

RULES: list[Rule] = [
    # ---- what must change
    Rule("needs-knowledge", KNOWLEDGE, {RAG: 2.0, BOTH: 1.0},
         "the model must know facts it lacks", "Missing knowledge is best supplied at query time from your documents."),
    Rule("needs-behaviour", {"change": {"contains": "behaviour"}}, {FINE_TUNE: 1.5, BOTH: 1.0, PROMPTING: 0.5},
         "the model must behave differently (format, style, tone)", "Consistent behaviour is learned from examples in the weights; prompts only nudge it."),
    Rule("needs-skill", {"change": {"contains": "task_skill"}}, {FINE_TUNE: 2.0, BOTH: 1.0},
         "the model must learn a task skill", "A narrow skill (classify, extract, write commands) is what fine-tuning teaches best."),
    Rule("knowledge-only", {"change": ["knowledge"]}, {FINE_TUNE: -1.5, BOTH: -1.0},
         "only knowledge must change", "Fine-tuning is an unreliable way to add facts: it changes behaviour more than memory."),
    Rule("knowledge-and-behaviour", {"change": {"contains": "knowledge"}, "output_format": {"in": ["consistent_style", "strict"]}},
         {BOTH: 1.0}, "fresh facts and a required form both matter", "Retrieval supplies the facts while an adapter supplies the form: the two combine."),
    # ---- the knowledge
    Rule("fresh-knowledge", {"knowledge_change_rate": {"in": ["daily", "weekly"]}}, {RAG: 2.5, BOTH: 1.5, FINE_TUNE: -2.0},
         "the knowledge changes often", "Facts that change often are cheaper to refresh in an index than by retraining."),
    Rule("monthly-knowledge", {"knowledge_change_rate": "monthly"}, {RAG: 1.0, BOTH: 0.5, FINE_TUNE: -0.5},
         "the knowledge changes monthly", "Monthly retraining is possible but an index refresh is cheaper."),
    Rule("stable-knowledge", {"knowledge_change_rate": "static"}, {FINE_TUNE: 0.5},
         "the knowledge is stable", "Stable knowledge can live in the weights without going stale."),
    Rule("citations", {"citations_required": True}, {RAG: 2.0, BOTH: 1.5, FINE_TUNE: -1.5},
         "answers must cite sources", "A citation needs a retrieved passage to point at; weights cannot say where a fact came from."),
    Rule("removable-facts", {"removable_facts": True}, {RAG: 1.5, BOTH: 0.5, FINE_TUNE: -1.5},
         "facts must be removable on request", "Deleting a document from an index is immediate; unlearning from weights means retraining."),
    Rule("small-knowledge-base", {"knowledge_base_size": "fits_in_prompt"}, {PROMPTING: 2.0, RAG: -1.0, BOTH: -0.5},
         "the knowledge fits in one prompt", "A few pages can go straight into every prompt: no index needed."),
    Rule("large-knowledge-base", {"knowledge_base_size": "large"}, {RAG: 1.0, BOTH: 0.5},
         "the knowledge base is large", "Tens of thousands of documents fit neither a prompt nor a small model's weights."),
    # ---- examples and labelling
    Rule("no-pairs", {"labelled_pairs": "none"}, {FINE_TUNE: -5.0, BOTH: -5.0, NOT_READY: 3.0},
         "there are no labelled examples", "Fine-tuning learns from examples, and without any there is nothing to evaluate on either."),
    Rule("few-pairs", {"labelled_pairs": "lt_100"}, {FINE_TUNE: -2.5, BOTH: -2.5, NOT_READY: 1.0, PROMPTING: 1.0},
         "there are fewer than 100 labelled examples", "Under 100 examples is enough for few-shot prompts and a small test set, too few to train."),
    Rule("some-pairs", {"labelled_pairs": "100_1k"}, {FINE_TUNE: 0.5, BOTH: 0.5},
         "there are 100-1,000 labelled examples", "A few hundred good examples can teach a format with LoRA, with some held out to test."),
    Rule("many-pairs", {"labelled_pairs": "1k_10k"}, {FINE_TUNE: 2.0, BOTH: 2.0},
         "there are 1,000-10,000 labelled examples", "Thousands of reviewed examples are what LoRA needs to learn a task reliably."),
    Rule("lots-of-pairs", {"labelled_pairs": "gt_10k"}, {FINE_TUNE: 2.5, BOTH: 2.5},
         "there are over 10,000 labelled examples", "Plenty of data makes fine-tuning likely to pay off, even for a small model."),
    Rule("no-labelling", {"labelling_capacity": "none"}, {NOT_READY: 1.0, FINE_TUNE: -0.5, BOTH: -0.5},
         "no one can label or review", "Without reviewers nobody can build a test set, check outputs or fix bad examples."),
    Rule("labelling-team", {"labelling_capacity": "plenty", "labelled_pairs": FEW_PAIRS}, {FINE_TUNE: 1.0, BOTH: 1.0, NOT_READY: -0.5},
         "a labelling team can produce thousands of examples", "The data shortage is temporary: plan to collect, then fine-tune."),
    # ---- output and evaluation
    Rule("strict-format", {"output_format": "strict"}, {FINE_TUNE: 2.0, BOTH: 1.5, PROMPTING: -0.5},
         "the output format is strict (JSON, SQL, commands)", "Exact formats every time are what a few thousand examples teach best; prompts drift."),
    Rule("house-style", {"output_format": "consistent_style"}, {FINE_TUNE: 1.0, BOTH: 1.0},
         "the output must follow a consistent house style", "Style and tone are behaviour, learned from examples."),
    Rule("free-text", {"output_format": "free_text"}, {PROMPTING: 0.5, RAG: 0.5},
         "the output is free text", "Free text is what base models already do well."),
    Rule("no-metric", {"metric": "none"}, {NOT_READY: 8.0, FINE_TUNE: -2.5, BOTH: -2.5, RAG: -1.5},
         "there is no way yet to tell bad, good and better answers apart", "Without an evaluation you cannot choose between options or know when one is good enough."),
    Rule("human-metric", {"metric": "human_rubric"}, {FINE_TUNE: -0.5, BOTH: -0.5},
         "answers can only be judged by people", "Human-only evaluation makes each training iteration slow and costly."),
    Rule("prompting-untried", {"prompting_result": "not_tried"}, {PROMPTING: 3.0},
         "prompting has not been tried yet", "A good prompt with a few examples is free, fast, and the baseline everything else must beat."),
    Rule("prompting-good", {"prompting_result": "good_enough"}, {PROMPTING: 4.0},
         "prompting already gives good-enough answers", "If prompting works, keep it: it costs nothing to train and nothing to maintain."),
    Rule("prompting-partial", {"prompting_result": "partial"}, {RAG: 0.5, FINE_TUNE: 0.5, BOTH: 0.5},
         "prompting got part of the way", "Prompting is close but inconsistent: a targeted fix should close the gap."),
    Rule("prompting-poor", {"prompting_result": "poor"}, {PROMPTING: -2.0, RAG: 1.0, FINE_TUNE: 1.0, BOTH: 1.0},
         "prompting has already failed", "Something stronger than a prompt is needed."),
    Rule("costly-errors", {"error_cost": "high"}, {RAG: 0.5, BOTH: 0.5},
         "wrong answers are costly", "Grounded answers can be checked against their sources; human review becomes a prerequisite."),
    Rule("costly-errors-no-metric", {"error_cost": "high", "metric": "none"}, {NOT_READY: 1.5},
         "wrong answers are costly and cannot be measured yet", "Shipping anything with costly errors and no evaluation is a gamble."),
    # ---- serving
    Rule("strict-latency", {"latency_budget": "strict"}, {RAG: -1.0, BOTH: -1.0, FINE_TUNE: 1.0},
         "answers must come in well under a second", "Retrieval adds a search and a longer prompt; a tuned small model answers fastest."),
    Rule("small-context", {"context_budget": "small"}, {RAG: -1.5, BOTH: -1.0, PROMPTING: -0.5, FINE_TUNE: 1.0},
         "there is little room in the prompt", "Retrieved passages and few-shot examples both need prompt tokens you do not have."),
    Rule("high-volume", {"request_volume": "high"}, {FINE_TUNE: 1.0, RAG: -0.5, PROMPTING: -0.5},
         "request volume is high", "At high volume short prompts on a tuned small model cost far less per request."),
    Rule("private", {"privacy": {"in": ["vpc", "on_prem"]}}, {FINE_TUNE: 0.5, BOTH: 0.5, PROMPTING: -0.5},
         "data and model must stay in-house", "Hosted frontier models are out; a small open model you tune and host is the usual answer."),
    Rule("small-model", {"model_size_limit": {"in": ["small", "edge"]}}, {FINE_TUNE: 1.0, BOTH: 0.5, PROMPTING: -1.0},
         "the served model must be small", "Small models need fine-tuning to match large ones on a narrow task."),
    # ---- people, GPUs and budget
    Rule("no-compute", {"gpus": "none", "training_budget": "none"}, {FINE_TUNE: -3.0, BOTH: -3.0},
         "there is no GPU and no budget to rent one", "Training beyond a tiny model on a CPU is not practical."),
    Rule("no-gpu", {"gpus": "none", "training_budget": {"not": "none"}}, {FINE_TUNE: -0.5, BOTH: -0.5},
         "there is no GPU of your own", "Training means renting cloud GPUs (or a tiny model on the CPU)."),
    Rule("no-budget", {"training_budget": "none", "gpus": {"not": "none"}}, {FINE_TUNE: -1.0, BOTH: -1.0},
         "there is no training budget", "Even on your own GPU, a fine-tune costs engineer time and sweeps."),
    Rule("new-team", {"team_experience": "none"}, {FINE_TUNE: -1.0, BOTH: -1.5, PROMPTING: 0.5},
         "the team has not trained models before", "Start with what needs the least machinery while the team learns."),
    Rule("experienced-team", {"team_experience": "experienced"}, {FINE_TUNE: 0.5, BOTH: 0.5},
         "the team is experienced with training", "An experienced team makes fine-tuning cheaper and safer."),
    Rule("no-mlops", {"mlops": "none"}, {FINE_TUNE: -0.5, BOTH: -0.5},
         "there is no MLOps in place", "A tuned model is an artefact to version, deploy, monitor and retrain."),
]


def register_rule(rule: Rule) -> None:
    """Add a rule (extensions, experiments). Ids must be unique."""
    if any(r.id == rule.id for r in RULES):
        raise ValueError(f"a rule with id {rule.id!r} already exists")
    RULES.append(rule)


def score(answers: dict[str, Any], rules: list[Rule] | None = None) -> tuple[dict[str, float], list[Rule]]:
    """(totals per option, the rules that fired) for resolved answers."""
    totals = dict(PRIORS)
    fired = []
    for rule in rules if rules is not None else RULES:
        if rule.fires(answers):
            fired.append(rule)
            for option, points in rule.effects.items():
                totals[option] += points
    return totals, fired


def winner(totals: dict[str, float]) -> str:
    """The best option; ties go to the simpler option (the order of :data:`OPTIONS`)."""
    return max(OPTIONS, key=lambda o: (totals[o], -OPTIONS.index(o)))
