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

SOURCES = {
    "openai-ft": "OpenAI, Fine-tuning guide (platform.openai.com/docs/guides/fine-tuning): try prompt engineering first; "
                 "fine-tune for style, tone, format, reliability and tasks hard to state in a prompt, or to cut cost and "
                 "latency by replacing long prompts or a larger model; gains typically show from 50-100 examples",
    "ovadia2024": "Ovadia et al., Fine-Tuning or Retrieval? Comparing Knowledge Injection in LLMs, EMNLP 2024 (arXiv:2312.05934): "
                  "RAG consistently beats unsupervised fine-tuning for adding knowledge, old and new",
    "gekhman2024": "Gekhman et al., Does Fine-Tuning LLMs on New Knowledge Encourage Hallucinations?, EMNLP 2024 (arXiv:2405.05904): "
                   "new facts are learned slowly by fine-tuning and raise hallucination",
    "lewis2020": "Lewis et al., Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks, NeurIPS 2020 (arXiv:2005.11401): "
                 "a retrieval index can be updated without retraining and gives provenance for answers",
    "anthropic-cr": "Anthropic, Introducing Contextual Retrieval (Sept 2024): a knowledge base under ~200,000 tokens (~500 pages) "
                    "can go whole into the prompt (with prompt caching) instead of RAG",
    "lima2023": "Zhou et al., LIMA: Less Is More for Alignment, NeurIPS 2023 (arXiv:2305.11206): ~1,000 curated examples teach "
                "style and format",
    "biderman2024": "Biderman et al., LoRA Learns Less and Forgets Less, TMLR 2024 (arXiv:2405.09673): full fine-tuning pulls "
                    "ahead of LoRA only with large data; LoRA forgets less",
    "success-criteria": "Anthropic, Define your success criteria (docs.anthropic.com), and OpenAI, Evals guide: define and "
                        "measure success before choosing or tuning a system",
    "gdpr17": "GDPR Art. 17 (right to erasure): personal data must be deletable on request",
    "estimator": "This project's estimator (advisor/estimate): retrieval adds top_k x chunk_size prompt tokens per request; "
                 "training cost and memory by model size and card",
    "team": "Team judgement (no published number): operational cost of owning a trained model; pinned by the scenario tests",
}
"""What each rule's direction rests on. The *sizes* of the weights are judgement relative to each other,
pinned by tests/advisor/test_advisor_scenarios.py; docs/advisor.md lists every rule with its source."""


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
    source: str = "team"
    """Key of :data:`SOURCES`: what the rule's direction rests on."""
    questions: tuple[str, ...] = field(default=())
    """Questions this rule reads (defaults to the keys of ``when``)."""

    def fires(self, answers: dict[str, Any]) -> bool:
        return all(condition_holds(answers, qid, cond) for qid, cond in self.when.items())

    @property
    def reads(self) -> tuple[str, ...]:
        return self.questions or tuple(self.when)


KNOWLEDGE = {"change": {"contains": "knowledge"}}
BEYOND_PROMPT = {"in": ["medium", "large"]}
FORM = {"contains_any": ["consistent_style", "strict"]}

RULES: list[Rule] = [
    # ---- what must change
    Rule("needs-knowledge", KNOWLEDGE, {RAG: 2.0, BOTH: 1.0},
         "the model must know facts it lacks", "Missing knowledge is best supplied at query time from your documents.", "ovadia2024"),
    Rule("needs-behaviour", {"change": {"contains": "behaviour"}}, {FINE_TUNE: 1.5, BOTH: 1.0, PROMPTING: 0.5},
         "the model must behave differently (format, style, tone)", "Consistent behaviour is learned from examples in the weights; prompts only nudge it.", "openai-ft"),
    Rule("needs-skill", {"change": {"contains": "task_skill"}}, {FINE_TUNE: 2.0, BOTH: 1.0},
         "the model must learn a task skill", "A narrow skill (classify, extract, write commands) is what fine-tuning teaches best.", "openai-ft"),
    Rule("knowledge-only", {"change": ["knowledge"]}, {FINE_TUNE: -1.5, BOTH: -1.0},
         "only knowledge must change", "Fine-tuning is an unreliable way to add facts: it changes behaviour more than memory.", "gekhman2024"),
    Rule("knowledge-and-behaviour", {"change": {"contains": "knowledge"}, "output_format": FORM},
         {BOTH: 1.0}, "answers need facts from your documents and a required form",
         "Retrieval supplies the facts while an adapter supplies the form: the two combine.", "ovadia2024"),
    # ---- the knowledge
    Rule("fresh-knowledge", {"knowledge_change_rate": {"in": ["daily", "weekly"]}}, {RAG: 2.5, BOTH: 1.5, FINE_TUNE: -2.0},
         "the knowledge changes daily or weekly", "Facts that change often are cheaper to refresh in an index than by retraining.", "lewis2020"),
    Rule("monthly-knowledge", {"knowledge_change_rate": "monthly"}, {RAG: 1.0, BOTH: 0.5, FINE_TUNE: -0.5},
         "the knowledge changes monthly", "Monthly retraining is possible but an index refresh is cheaper.", "lewis2020"),
    Rule("quarterly-knowledge", {"knowledge_change_rate": "quarterly"}, {RAG: 0.5, BOTH: 0.25, FINE_TUNE: -0.25},
         "the knowledge changes quarterly", "A quarterly retrain is feasible; an index still updates without one.", "lewis2020"),
    Rule("stable-knowledge", {"knowledge_change_rate": "static"}, {FINE_TUNE: 0.5},
         "the knowledge changes yearly or less", "Stable knowledge can live in the weights without going stale.", "team"),
    Rule("citations", {"citations_required": True}, {RAG: 2.0, BOTH: 1.5, FINE_TUNE: -1.5},
         "answers must cite sources", "A citation needs a retrieved passage to point at; weights cannot say where a fact came from.", "lewis2020"),
    Rule("removable-facts", {"removable_facts": True}, {RAG: 2.0, BOTH: 1.0, FINE_TUNE: -2.0},
         "facts must be removable on request", "Deleting a document from an index is immediate; unlearning from weights means retraining.", "gdpr17"),
    Rule("small-knowledge-base", {"knowledge_base_size": "fits_in_prompt"}, {PROMPTING: 2.0, RAG: -1.0, BOTH: -0.5},
         "the knowledge fits in one prompt", "A few pages can go straight into every prompt: no index needed.", "anthropic-cr"),
    Rule("knowledge-beyond-prompt", {"change": {"contains": "knowledge"}, "knowledge_base_size": BEYOND_PROMPT}, {PROMPTING: -1.5, RAG: 0.5, FINE_TUNE: -0.5},
         "the knowledge does not fit in a prompt", "Neither a prompt nor the weights reliably carry that many facts: something must select them at query time.", "anthropic-cr"),
    Rule("large-knowledge-base", {"knowledge_base_size": "large"}, {RAG: 1.0, BOTH: 0.5},
         "the knowledge base has tens of thousands of documents", "Retrieval scales to any corpus size; neither a prompt nor a small model's weights do.", "lewis2020"),
    # ---- examples and labelling
    Rule("no-pairs", {"labelled_pairs": "none"}, {FINE_TUNE: -5.0, BOTH: -5.0, NOT_READY: 3.0},
         "there are no labelled examples", "Fine-tuning learns from examples, and without any there is nothing to evaluate on either.", "success-criteria"),
    Rule("few-pairs", {"labelled_pairs": "lt_100"}, {FINE_TUNE: -4.0, BOTH: -4.0, NOT_READY: 1.0},
         "there are fewer than 100 labelled examples", "Under 100 examples is enough for a small test set, too few to train on reliably.", "openai-ft"),
    Rule("few-pairs-as-shots", {"labelled_pairs": "lt_100", "change": {"not_contains": "knowledge"}}, {PROMPTING: 1.0},
         "a few dozen examples of the behaviour exist", "A handful of them make good few-shot examples in a prompt.", "openai-ft"),
    Rule("some-pairs", {"labelled_pairs": "100_1k"}, {FINE_TUNE: 0.5, BOTH: 0.5},
         "there are 100-999 labelled examples", "A few hundred good examples can teach a format with LoRA, with some held out to test.", "lima2023"),
    Rule("many-pairs", {"labelled_pairs": "1k_10k"}, {FINE_TUNE: 2.0, BOTH: 2.0},
         "there are 1,000-9,999 labelled examples", "Thousands of reviewed examples are what LoRA needs to learn a task reliably.", "lima2023"),
    Rule("lots-of-pairs", {"labelled_pairs": "gt_10k"}, {FINE_TUNE: 2.5, BOTH: 2.5},
         "there are 10,000 or more labelled examples", "Plenty of data makes fine-tuning likely to pay off, even for a small model.", "biderman2024"),
    Rule("no-labelling", {"labelling_capacity": "none"}, {NOT_READY: 1.0, FINE_TUNE: -0.5, BOTH: -0.5},
         "no one can label or review", "Without reviewers nobody can build a test set, check outputs or fix bad examples.", "success-criteria"),
    Rule("labelling-team", {"labelling_capacity": "plenty", "labelled_pairs": {"in": ["none", "lt_100"]}}, {FINE_TUNE: 0.5, BOTH: 0.5, NOT_READY: -0.5},
         "a labelling team can produce thousands of examples", "The data shortage is temporary: plan to collect, then fine-tune.", "team"),
    # ---- output and evaluation
    Rule("strict-format", {"output_format": {"contains": "strict"}}, {FINE_TUNE: 2.0, BOTH: 1.5, PROMPTING: -0.5},
         "the output must be strict (JSON, SQL, commands, code or fixed labels)", "Exact formats every time are what a few thousand examples teach best; prompts drift.", "openai-ft"),
    Rule("house-style", {"output_format": {"contains": "consistent_style"}}, {FINE_TUNE: 1.0, BOTH: 1.0},
         "the output must follow a consistent house style", "Style and tone are behaviour, learned from examples.", "lima2023"),
    Rule("free-text", {"output_format": ["free_text"]}, {PROMPTING: 0.5},
         "the output is free text", "Free text is what base models already do well.", "team"),
    Rule("no-metric", {"metric": "none"}, {NOT_READY: 8.0, FINE_TUNE: -2.5, BOTH: -2.5, RAG: -1.5},
         "there is no way yet to tell bad, good and better answers apart", "Without an evaluation you cannot choose between options or know when one is good enough.", "success-criteria"),
    Rule("reference-metric", {"metric": "reference"}, {FINE_TUNE: -0.25, BOTH: -0.25},
         "answers can only be compared with references by similarity", "Similarity ranks systems but cannot tell a right answer from a near miss: tuning needs a spot-check by people.", "success-criteria"),
    Rule("human-metric", {"metric": "human_rubric"}, {FINE_TUNE: -0.5, BOTH: -0.5},
         "answers can only be judged by people", "Human-only evaluation makes each training iteration slow and costly.", "success-criteria"),
    Rule("prompting-untried", {"prompting_result": "not_tried"}, {PROMPTING: 1.5},
         "prompting has not been tried yet", "A good prompt with a few examples is cheap and the baseline everything else must beat; it is tried first, not instead.", "openai-ft"),
    Rule("prompting-good", {"prompting_result": "good_enough"}, {PROMPTING: 6.0},
         "prompting already gives good-enough answers at an acceptable cost", "If prompting works, keep it: it costs nothing to train and nothing to maintain.", "openai-ft"),
    Rule("prompting-costly", {"prompting_result": "good_but_costly"}, {PROMPTING: 0.5, FINE_TUNE: 2.0, BOTH: 1.0},
         "prompting works but is too expensive or slow", "A small model tuned on the prompt's outputs drops the long prompt and the large model: same answers, less cost.", "openai-ft"),
    Rule("prompting-partial", {"prompting_result": "partial"}, {FINE_TUNE: 0.5, BOTH: 0.5},
         "prompting got part of the way", "Prompting is close but inconsistent: a targeted fix should close the gap.", "team"),
    Rule("prompting-partial-knowledge", {"prompting_result": "partial", "change": {"contains": "knowledge"}}, {RAG: 0.5},
         "prompting got part of the way on a knowledge task", "Missing facts are the usual gap: retrieval supplies them.", "ovadia2024"),
    Rule("prompting-poor", {"prompting_result": "poor"}, {PROMPTING: -2.0, FINE_TUNE: 1.0, BOTH: 1.0},
         "prompting has already failed", "Something stronger than a prompt is needed.", "openai-ft"),
    Rule("prompting-poor-knowledge", {"prompting_result": "poor", "change": {"contains": "knowledge"}}, {RAG: 1.0},
         "prompting failed on a knowledge task", "A prompt without the facts cannot answer; retrieval brings them in.", "ovadia2024"),
    Rule("costly-errors", {"error_cost": "high"}, {RAG: 0.5, BOTH: 0.5},
         "wrong answers are costly", "Grounded answers can be checked against their sources; human review becomes a prerequisite.", "lewis2020"),
    Rule("costly-errors-no-metric", {"error_cost": "high", "metric": "none"}, {NOT_READY: 1.5},
         "wrong answers are costly and cannot be measured yet", "Shipping anything with costly errors and no evaluation is a gamble.", "success-criteria"),
    # ---- serving
    Rule("strict-latency", {"latency_budget": "strict"}, {RAG: -1.0, BOTH: -1.0, FINE_TUNE: 1.0},
         "answers must come in well under a second", "Retrieval adds a search and a longer prompt; a tuned small model answers fastest.", "estimator"),
    Rule("small-context", {"context_budget": "small"}, {RAG: -1.5, BOTH: -1.0, PROMPTING: -0.5, FINE_TUNE: 1.0},
         "there is little room in the prompt", "Retrieved passages and few-shot examples both need prompt tokens you do not have.", "estimator"),
    Rule("high-volume", {"request_volume": "high"}, {FINE_TUNE: 1.0, RAG: -0.5, PROMPTING: -0.5},
         "request volume is high", "At high volume short prompts on a tuned small model cost far less per request.", "openai-ft"),
    Rule("private", {"privacy": {"in": ["vpc", "on_prem"]}}, {FINE_TUNE: 0.5, BOTH: 0.5, PROMPTING: -0.5},
         "data and model must stay in-house", "Hosted frontier models are out; a small open model you tune and host is the usual answer.", "team"),
    Rule("small-model", {"model_size_limit": {"in": ["small", "edge"]}}, {FINE_TUNE: 1.0, BOTH: 0.5, PROMPTING: -1.0},
         "the served model must be small", "Small models need fine-tuning to match large ones on a narrow task.", "openai-ft"),
    # ---- people, GPUs and budget
    Rule("no-compute", {"gpus": "none", "training_budget": "none"}, {FINE_TUNE: -3.0, BOTH: -3.0},
         "there is no GPU and no budget to rent one", "Training beyond a tiny model on a CPU is not practical.", "estimator"),
    Rule("no-gpu", {"gpus": "none", "training_budget": {"not_in": ["none", "unsure"]}}, {FINE_TUNE: -0.5, BOTH: -0.5},
         "there is no GPU of your own", "Training means renting cloud GPUs (or a tiny model on the CPU).", "estimator"),
    Rule("own-hardware-only", {"training_budget": "none", "gpus": {"not_in": ["none", "unsure"]}}, {FINE_TUNE: -0.5, BOTH: -0.5},
         "there is no spend beyond the cards you own", "Sweeps are limited to what your own cards can run.", "team"),
    Rule("new-team", {"team_experience": "none"}, {FINE_TUNE: -1.0, BOTH: -1.5, PROMPTING: 0.5},
         "the team has not trained models before", "Start with what needs the least machinery while the team learns.", "team"),
    Rule("experienced-team", {"team_experience": "experienced"}, {FINE_TUNE: 0.5, BOTH: 0.5},
         "the team is experienced with training", "An experienced team makes fine-tuning cheaper and safer.", "team"),
    Rule("no-mlops", {"mlops": "none"}, {FINE_TUNE: -0.5, BOTH: -0.5},
         "there is no MLOps in place", "A tuned model is an artefact to version, deploy, monitor and retrain.", "team"),
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


TIE_EPSILON = 1e-9


def winner(totals: dict[str, float]) -> str:
    """The best option; among tied options the simpler one (the order of :data:`OPTIONS`) is named first."""
    return max(OPTIONS, key=lambda o: (totals[o], -OPTIONS.index(o)))


def tied(totals: dict[str, float]) -> list[str]:
    """Every option with the top score, simplest first (one item when there is no tie)."""
    top = max(totals.values())
    return [o for o in OPTIONS if abs(totals[o] - top) <= TIE_EPSILON]
