"""From answers to an explained recommendation: option, method, confidence, reasons, flips, risks, next steps.

``recommend(answers)`` scores the options with :mod:`advisor.rules`, then explains the result:

- confidence: the winner's share of a softmax over the option scores (temperature
  :data:`TEMPERATURE`), and the margin in points over the runner-up; equal top scores are a tie,
  reported with every tied option;
- reasons: every rule that fired, with its role: *decisive* (without it the winner would not lead
  the runner-up), *for* (adds more to the winner than to the runner-up, or only takes from the
  runner-up), *shared* (also counts for the runner-up, as much or more), *against* (takes from the
  winner) or *runner-up* (counts only for the runner-up); in plain words with the questions' short titles;
- flips (:mod:`advisor.flips`): the most plausible one- or two-answer changes that change the verdict;
- "not sure" answers: the verdict each real answer would give;
- for fine-tuning, the method (:mod:`advisor.method`) from the model size, the cards and the data.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from advisor import rules as R
from advisor.flips import Flip, UnsureEffect, find_flips, unsure_effects
from advisor.method import (
    METHOD_LABELS, DataStats, MethodChoice, choose_method, compute_options, is_rental, target_device, target_model_size, training_tokens,
)
from advisor.questions import Questionnaire, load_questionnaire, validate_answers

__all__ = [
    "Flip", "METHOD_LABELS", "MethodChoice", "Reason", "Recommendation", "choose_method", "find_flips", "recommend",
    "target_device", "target_model_size",
]

TEMPERATURE = 2.0
"""Softmax temperature turning point totals into a confidence."""
TYPICAL_CORPUS_TOKENS = {"fits_in_prompt": 5_000, "medium": 2_500_000, "large": 50_000_000, "unsure": 2_500_000}
ROLES = ("decisive", "for", "shared", "against", "runner-up")


@dataclass
class Reason:
    """One fired rule, as it bears on the recommendation."""

    rule: str
    questions: list[str]
    answers: dict[str, str]
    """Each question's short title -> its answer in plain words."""
    points: float
    """Points this rule gave the recommended option."""
    margin_effect: float
    """Points for the recommended option minus points for the runner-up."""
    text: str
    role: str = "for"
    """decisive, for, shared, against or runner-up (see the module docstring)."""
    source: str = ""
    """What the rule's direction rests on (:data:`advisor.rules.SOURCES`)."""


@dataclass
class Recommendation:
    """The advisor's answer, with everything needed to explain it."""

    recommendation: str
    label: str
    confidence: float
    margin: float
    runner_up: str
    scores: dict[str, float]
    reasons: list[Reason]
    flip: list[Flip]
    risks: list[str]
    prerequisites: list[str]
    next_steps: list[str]
    method: MethodChoice | None
    estimates: dict[str, Any]
    answers: dict[str, Any]
    tied: list[str] = field(default_factory=list)
    """Every option sharing the top score when it is a tie (simplest first); empty otherwise."""
    unsure: list[UnsureEffect] = field(default_factory=list)
    """Each "not sure" answer and what each real answer would give."""
    notes: list[str] = field(default_factory=list)
    """Migration notes for old answers files, and assumptions made."""

    @property
    def is_tie(self) -> bool:
        return len(self.tied) > 1

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["method"] = asdict(self.method) if self.method else None
        return d

    def named_reasons(self) -> list[str]:
        return [r.rule for r in self.reasons]

    def deciding_reasons(self) -> list[str]:
        return [r.rule for r in self.reasons if r.role in ("decisive", "for")]


def recommend(answers: dict[str, Any], questionnaire: Questionnaire | None = None, validate: bool = True,
              data: DataStats | None = None, notes: list[str] | None = None) -> Recommendation:
    """Score, explain and cost a recommendation for a set of answers (raw or already validated).

    ``data``: the real pairs file's size and lengths (:func:`advisor.method.read_data_stats`), used by
    the method choice and every training estimate instead of a typical size.
    """
    qn = questionnaire or load_questionnaire()
    notes = list(notes or [])
    resolved = validate_answers(answers, qn, notes=notes) if validate else qn.resolve(answers)
    totals, fired = R.score(resolved)
    best = R.winner(totals)
    tied = R.tied(totals)
    runner = tied[1] if len(tied) > 1 else max((o for o in R.OPTIONS if o != best), key=lambda o: (totals[o], -R.OPTIONS.index(o)))
    confidence = _softmax(totals)[best]
    margin = totals[best] - totals[runner]
    reasons = _reasons(fired, best, runner, margin, resolved, qn)
    method = choose_method(resolved, data) if best in (R.FINE_TUNE, R.BOTH) else None
    label = R.LABELS[best] + (f" ({method.label})" if method else "")
    if len(tied) > 1:
        label = "A tie: " + " or ".join(R.LABELS[o] for o in tied)
    return Recommendation(
        recommendation=best,
        label=label,
        confidence=round(confidence, 3),
        margin=round(margin, 2),
        runner_up=runner,
        scores={o: round(v, 2) for o, v in sorted(totals.items(), key=lambda kv: -kv[1])},
        reasons=reasons,
        flip=find_flips(resolved, best, qn),
        risks=_risks(resolved, best),
        prerequisites=_prerequisites(resolved, best),
        next_steps=_next_steps(resolved, best, method, tied),
        method=method,
        estimates=_estimates(resolved, best, method, data),
        answers=resolved,
        tied=tied if len(tied) > 1 else [],
        unsure=unsure_effects(resolved, qn),
        notes=notes,
    )


def _softmax(totals: dict[str, float]) -> dict[str, float]:
    top = max(totals.values())
    exp = {o: math.exp((v - top) / TEMPERATURE) for o, v in totals.items()}
    z = sum(exp.values())
    return {o: e / z for o, e in exp.items()}


def _decisive(positive: list[tuple[str, float]], margin: float) -> set[str]:
    """Rules without which the winner would not lead: each one alone worth the margin, else the largest until they sum to it."""
    if margin <= R.TIE_EPSILON:
        return set()
    alone = {rid for rid, e in positive if e >= margin - R.TIE_EPSILON}
    if alone:
        return alone
    picked, total = set(), 0.0
    for rid, e in sorted(positive, key=lambda kv: -kv[1]):
        picked.add(rid)
        total += e
        if total >= margin - R.TIE_EPSILON:
            break
    return picked


def _reasons(fired: list[R.Rule], best: str, runner: str, margin: float, answers: dict[str, Any], qn: Questionnaire) -> list[Reason]:
    effects = {r.id: r.effects.get(best, 0.0) - r.effects.get(runner, 0.0) for r in fired}
    decisive = _decisive([(rid, e) for rid, e in effects.items() if e > 0], margin)
    out = []
    for rule in fired:
        pts, effect = rule.effects.get(best, 0.0), effects[rule.id]
        if pts == 0 and rule.effects.get(runner, 0.0) == 0:
            continue
        if pts < 0:
            role = "against"
        elif effect > 0:  # more for the winner than for the runner-up (or only against the runner-up)
            role = "decisive" if rule.id in decisive else "for"
        elif pts == 0:
            role = "runner-up"
        else:
            role = "shared"
        words = {(qn.get(q).title if q in qn else q): (qn.get(q).label_of(answers.get(q)) if q in qn else str(answers.get(q))) for q in rule.reads}
        pts_text = ", ".join(f"{p:+g} {o}" for o, p in rule.effects.items())
        text = (
            f"{rule.says[0].upper() + rule.says[1:]} ({'; '.join(f'{t}: {w}' for t, w in words.items())}): "
            f"{rule.rationale} [{pts_text}]"
        )
        out.append(Reason(rule.id, list(rule.reads), words, pts, round(effect, 2), text, role, R.SOURCES.get(rule.source, rule.source)))
    out.sort(key=lambda r: (-r.margin_effect, -abs(r.points)))
    return out


# --------------------------------------------------------------------------- estimates, risks, steps
def _estimates(answers: dict[str, Any], best: str, method: MethodChoice | None, data: DataStats | None) -> dict[str, Any]:
    from advisor.estimate import TrainSetup, accuracy_summary, estimate_rag, estimate_training, resolve_model

    out: dict[str, Any] = {"note": accuracy_summary()}
    device, count = target_device(answers)
    if method is not None:
        tokens, assumes = training_tokens(answers, data)
        seq = min(4096, max(256, int(data.p99_tokens))) if data and data.pairs else 1024
        overrides = {"quant_bits": method.quant_bits} if method.quant_bits else {}
        setup = TrainSetup(resolve_model(method.model_size), method.name, seq_len=seq, micro_batch=2, gradient_checkpointing=True, **overrides)  # type: ignore[arg-type]
        est = estimate_training(setup, device, tokens, devices=count if method.name == "full" else 1)
        out["training"] = est.to_dict() | {"assumes": assumes, "rental": is_rental(answers)}
        out["training"].pop("accuracy", None)
    if best in (R.RAG, R.BOTH) or R.condition_holds(answers, "change", {"contains": "knowledge"}):
        corpus = TYPICAL_CORPUS_TOKENS.get(answers.get("knowledge_base_size", "medium"), 2_500_000)
        gen = method.model_size if method else target_model_size(answers)
        rag = estimate_rag(corpus, device, resolve_model(gen))
        out["rag"] = rag.to_dict() | {"assumes": f"~{corpus:,} corpus tokens, 256-token chunks, top-4, MiniLM embeddings, served on {device}"}
    if answers.get("gpus") in ("none", "unsure") and (method is not None or answers.get("labelled_pairs") not in ("none", "lt_100")):
        options, advice = compute_options(answers, data)
        out["compute"] = {"options": [o.to_dict() for o in options], "advice": advice}
    return out


def _risks(a: dict[str, Any], best: str) -> list[str]:
    risks = []
    tuned = best in (R.FINE_TUNE, R.BOTH)
    if tuned and a.get("knowledge_change_rate") in ("daily", "weekly", "monthly"):
        risks.append("Facts in a fine-tuned model go stale between retrainings; keep changing facts in retrieval.")
    if tuned and a.get("labelled_pairs") in ("none", "lt_100", "100_1k", "unsure"):
        risks.append("With few examples the model may overfit; hold out a test set and compare against the prompt baseline.")
    if tuned:
        risks.append("Fine-tuning can degrade general abilities (catastrophic forgetting); keep a general-purpose check in the evaluation.")
    if best in (R.RAG, R.BOTH):
        risks.append("Retrieval can miss the right document; measure retrieval hit rate (recall@k) separately from answer quality.")
        risks.append("Retrieved text enters the prompt: untrusted documents can carry prompt injections.")
    if a.get("error_cost") == "high":
        risks.append("Wrong answers are costly: a human must review outputs before they act (e.g. before a command runs).")
    if a.get("metric") == "none":
        risks.append("No metric: any choice made now cannot be verified.")
    if a.get("metric") == "human_rubric":
        risks.append("Human-only judgement is slow and inconsistent; measure agreement between reviewers.")
    if a.get("metric") == "reference":
        risks.append("Similarity to a reference (chrF, ROUGE) cannot tell a right answer from a near miss: spot-check the best systems by hand.")
    if a.get("team_experience") == "none" and tuned:
        risks.append("A first fine-tune by a new team: expect leakage and evaluation mistakes; get an experienced review.")
    if a.get("privacy") in ("vpc", "on_prem"):
        risks.append("Training data and outputs may contain secrets or personal data; scan them before training and serving.")
    return risks


def _prerequisites(a: dict[str, Any], best: str) -> list[str]:
    pre = ["A frozen evaluation set: real inputs with accepted answers, split once and never trained on (at least 100-200 items)."]
    if a.get("metric") in ("none", "human_rubric", "reference"):
        pre.append("A checker or a written rubric that tells bad, good and better answers apart.")
    if best in (R.FINE_TUNE, R.BOTH):
        pre.append("Reviewed training pairs in the target format (thousands for a strict format), disjoint from the test set by group.")
    if best in (R.RAG, R.BOTH):
        pre.append("A clean, versioned document corpus with stable ids, and questions labelled with the document that answers them.")
    if a.get("error_cost") in ("medium", "high") or a.get("metric") == "human_rubric":
        pre.append("Human review: blind pairwise comparison of the best candidates before acceptance.")
    pre.append("Responsible-AI checks on training data and outputs: secrets, personal data, dangerous commands, quality across groups.")
    if a.get("privacy") in ("vpc", "on_prem"):
        pre.append(f"Privacy: models, embedder and data stay {'on your machines' if a.get('privacy') == 'on_prem' else 'in your VPC'}; no hosted APIs, offline model packages.")
    return pre


def _next_steps(a: dict[str, Any], best: str, method: MethodChoice | None, tied: list[str] | None = None) -> list[str]:
    few = a.get("labelled_pairs") in ("none", "lt_100", "unsure")
    knowledge = R.condition_holds(a, "change", {"contains": "knowledge"})
    data = "" if few else " --data pairs.jsonl"
    plan = f"advisor plan --answers answers.yaml{data}{' --corpus docs/' if knowledge else ''} --out plan.yaml"
    steps: list[str] = []
    if tied and len(tied) > 1:
        steps.append("The options " + " and ".join(R.LABELS[o] for o in tied) + " tie: measure both on the same test set before choosing.")
    if best == R.NOT_READY:
        if a.get("metric") == "none":
            steps.append("Write down how to score an answer (exact match, a checker, or a 3-level rubric) and score 30 answers by hand.")
        if few:
            steps.append("Collect 100-200 real inputs with reviewed answers: your first test set.")
        steps.append("Then answer the questionnaire again (`advisor decide`).")
        return steps
    if best == R.PROMPTING:
        steps.append("Write a prompt with 3-5 examples and score it on 50-100 held-out items (the baseline every option must beat).")
        if knowledge and a.get("knowledge_base_size") != "fits_in_prompt":
            steps.append(f"If it falls short, build a RAG baseline over the documents: `{plan}`.")
        elif few:
            steps.append("If it falls short, collect 100+ reviewed pairs before considering fine-tuning: with fewer there is nothing to train on.")
        else:
            steps.append(f"If it falls short, plan a small LoRA sweep against it: `{plan}`.")
        return steps
    if few:
        steps.append("Write 100-200 real questions with accepted answers" + (" and the document that answers each" if knowledge else "")
                     + ": the evaluation set every system is scored on.")
    steps.append(f"Make the experiment plan: `{plan}`.")
    if best in (R.RAG, R.BOTH):
        steps.append("Build the RAG baseline on the corpus and measure retrieval hit rate and answer quality on the validation split.")
    if method is not None:
        steps.append(f"Run the sweep (`advisor sweep start --plan plan.yaml`): {method.label}, small model first (SmolLM2), then {method.model_size}.")
    steps.append("Compare all systems on the frozen test split (`advisor report`) and have the best ones reviewed before acceptance.")
    return steps
