"""From answers to an explained recommendation: option, method, confidence, reasons, flips, risks, next steps.

``recommend(answers)`` scores the options with :mod:`advisor.rules`, then explains the result:

- confidence: the winner's share of a softmax over the option scores (temperature
  :data:`TEMPERATURE`), and the margin in points over the runner-up;
- reasons: every rule that fired, with what it added to the winner and to the runner-up, sorted
  by its effect on the margin (largest first), in plain words;
- flip: the smallest sets of answer changes that change the recommendation, found by searching
  all combinations of 1, 2, then 3 changed answers;
- for fine-tuning, the method (LoRA, QLoRA, DoRA or full) from the model size and the GPU via
  :mod:`advisor.estimate`, with the estimates that decided it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from advisor import rules as R
from advisor.questions import Question, Questionnaire, load_questionnaire, validate_answers

TEMPERATURE = 2.0
"""Softmax temperature turning point totals into a confidence."""
MAX_FLIP_CHANGES = 3
"""The flip search tries up to this many changed answers at once."""
TYPICAL_CORPUS_TOKENS = {"fits_in_prompt": 5_000, "medium": 2_500_000, "large": 50_000_000}
TYPICAL_PAIRS = {"none": 0, "lt_100": 50, "100_1k": 500, "1k_10k": 5_000, "gt_10k": 20_000}
DEFAULT_MODEL_SIZE = {"any": "8B", "small": "8B", "edge": "1.7B"}
DEFAULT_DEVICE = {"none": "cpu", "consumer": "rtx4090", "datacentre": "a100-40", "several": "a100-80", "cluster": "h100"}
METHOD_LABELS = {"lora": "LoRA", "qlora": "QLoRA", "dora": "DoRA", "full": "full fine-tuning"}
DEVICE_COUNT = {"none": 1, "consumer": 1, "datacentre": 1, "several": 4, "cluster": 8}


@dataclass
class Reason:
    """One fired rule, as it bears on the recommendation."""

    rule: str
    questions: list[str]
    answers: dict[str, str]
    """Each question's answer in plain words."""
    points: float
    """Points this rule gave the recommended option."""
    margin_effect: float
    """Points for the recommended option minus points for the runner-up."""
    text: str


@dataclass
class Flip:
    """A set of answer changes that changes the recommendation."""

    changes: list[dict[str, Any]]
    result: str
    text: str


@dataclass
class MethodChoice:
    """How to fine-tune, and why (from the estimator)."""

    name: str
    """lora, qlora, dora or full."""
    model_size: str
    device: str
    devices: int
    why: str
    options: list[dict[str, Any]] = field(default_factory=list)
    """Every method considered: fits?, peak memory (estimate)."""


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

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["method"] = asdict(self.method) if self.method else None
        return d

    def named_reasons(self) -> list[str]:
        return [r.rule for r in self.reasons]


def recommend(answers: dict[str, Any], questionnaire: Questionnaire | None = None, validate: bool = True) -> Recommendation:
    """Score, explain and cost a recommendation for a set of answers (raw or already validated)."""
    qn = questionnaire or load_questionnaire()
    resolved = validate_answers(answers, qn) if validate else qn.resolve(answers)
    totals, fired = R.score(resolved)
    best = R.winner(totals)
    runner = max((o for o in R.OPTIONS if o != best), key=lambda o: (totals[o], -R.OPTIONS.index(o)))
    confidence = _softmax(totals)[best]
    reasons = _reasons(fired, best, runner, resolved, qn)
    flips = find_flips(resolved, best, qn)
    method = choose_method(resolved) if best in (R.FINE_TUNE, R.BOTH) else None
    estimates = _estimates(resolved, best, method)
    return Recommendation(
        recommendation=best,
        label=R.LABELS[best] + (f" ({METHOD_LABELS[method.name]})" if method else ""),
        confidence=round(confidence, 3),
        margin=round(totals[best] - totals[runner], 2),
        runner_up=runner,
        scores={o: round(v, 2) for o, v in sorted(totals.items(), key=lambda kv: -kv[1])},
        reasons=reasons,
        flip=flips,
        risks=_risks(resolved, best),
        prerequisites=_prerequisites(resolved, best),
        next_steps=_next_steps(resolved, best, method),
        method=method,
        estimates=estimates,
        answers=resolved,
    )


def _softmax(totals: dict[str, float]) -> dict[str, float]:
    top = max(totals.values())
    exp = {o: math.exp((v - top) / TEMPERATURE) for o, v in totals.items()}
    z = sum(exp.values())
    return {o: e / z for o, e in exp.items()}


def _answer_words(qn: Questionnaire, qid: str, answers: dict[str, Any]) -> str:
    return qn.get(qid).label_of(answers.get(qid)) if qid in qn else str(answers.get(qid))


def _reasons(fired: list[R.Rule], best: str, runner: str, answers: dict[str, Any], qn: Questionnaire) -> list[Reason]:
    out = []
    for rule in fired:
        pts = rule.effects.get(best, 0.0)
        effect = pts - rule.effects.get(runner, 0.0)
        if pts == 0 and effect == 0:
            continue
        words = {q: _answer_words(qn, q, answers) for q in rule.reads}
        pts_text = ", ".join(f"{p:+g} {o}" for o, p in rule.effects.items())
        text = (
            f"{rule.says[0].upper() + rule.says[1:]} ({'; '.join(f'{q}: {w}' for q, w in words.items())}): "
            f"{rule.rationale} [{pts_text}]"
        )
        out.append(Reason(rule.id, list(rule.reads), words, pts, round(effect, 2), text))
    out.sort(key=lambda r: (-r.margin_effect, -abs(r.points)))
    return out


# --------------------------------------------------------------------------- flip search
def _alternatives(q: Question, current: Any) -> list[Any]:
    if q.type == "bool":
        return [not bool(current)]
    if q.type == "choice":
        return [v for v in q.values() if v != current]
    if q.type == "multi":
        values = q.values()
        subsets = [sorted(c, key=values.index) for n in range(1, len(values) + 1) for c in itertools.combinations(values, n)]
        return [s for s in subsets if s != current]
    return []


def find_flips(answers: dict[str, Any], current: str, qn: Questionnaire | None = None, limit: int = 3) -> list[Flip]:
    """The smallest sets of answer changes that change the recommendation (up to ``limit`` of them).

    Exhaustive over 1, then 2, then up to :data:`MAX_FLIP_CHANGES` changed answers; only questions
    a rule reads, or that decide whether such a question applies, are varied. Among flips of the
    smallest size, those that win by the largest margin come first, one per resulting option.
    """
    qn = qn or load_questionnaire()
    read = {q for rule in R.RULES for q in rule.reads}
    gates = {g for q in qn.questions if q.id in read for g in q.applies_when}
    candidates = [q for q in qn.questions if q.id in read | gates and q.type in ("choice", "bool", "multi")]
    required = [q for q in qn.questions if q.required]
    for size in range(1, MAX_FLIP_CHANGES + 1):
        found: list[tuple[float, Flip]] = []
        for group in itertools.combinations(candidates, size):
            # Changing an answer to a question that does not apply is not a change the user can make.
            if any(q.id not in answers and not q.applies_when for q in group):
                continue
            options = [_alternatives(q, answers.get(q.id, q.default)) for q in group]
            for values in itertools.product(*options):
                changed = dict(answers)
                for q, v in zip(group, values):
                    changed[q.id] = v
                resolved = qn.resolve(changed)
                if any(q.id not in resolved for q in group):
                    continue  # a changed answer that no longer applies
                if any(r.required and r.id not in resolved and qn.applies(r, resolved) for r in required):
                    continue  # the change opens questions nobody has answered yet
                totals, _ = R.score(resolved)
                new = R.winner(totals)
                if new == current:
                    continue
                lead = totals[new] - max(v for o, v in totals.items() if o != new)
                changes = [
                    {"question": q.id, "from": answers.get(q.id), "to": v,
                     "from_label": q.label_of(answers.get(q.id)) if q.id in answers else "(not asked)", "to_label": q.label_of(v)}
                    for q, v in zip(group, values)
                ]
                text = "If " + " and ".join(f"{c['question']} were '{c['to_label']}' (not '{c['from_label']}')" for c in changes) + f", the advice would be {new}."
                found.append((lead, Flip(changes, new, text)))
        if found:
            found.sort(key=lambda lf: -lf[0])
            picked: list[Flip] = []
            seen: set[str] = set()
            for _, flip in found:
                if flip.result not in seen:
                    picked.append(flip)
                    seen.add(flip.result)
            for _, flip in found:
                if len(picked) >= limit:
                    break
                if flip not in picked:
                    picked.append(flip)
            return picked[:limit]
    return []


# --------------------------------------------------------------------------- method
def target_model_size(answers: dict[str, Any]) -> str:
    return answers.get("model_size") or DEFAULT_MODEL_SIZE.get(answers.get("model_size_limit", "any"), "8B")


def target_device(answers: dict[str, Any]) -> tuple[str, int]:
    gpus = answers.get("gpus", "none")
    model = answers.get("gpu_model", "auto")
    if gpus == "none":
        # No GPU of their own: with a budget they rent one (an A100 80GB by default), else the CPU.
        return ("a100-80", 1) if answers.get("training_budget", "none") != "none" else ("cpu", 1)
    return (model if model and model != "auto" else DEFAULT_DEVICE[gpus]), DEVICE_COUNT.get(gpus, 1)


def choose_method(answers: dict[str, Any]) -> MethodChoice:
    """LoRA, QLoRA, DoRA or full fine-tuning for the stated model size and GPU (by the estimator)."""
    from advisor.estimate import GiB, TrainSetup, estimate_training, resolve_model

    size = target_model_size(answers)
    model = resolve_model(size)
    device, count = target_device(answers)
    tokens = max(TYPICAL_PAIRS.get(answers.get("labelled_pairs", "none"), 0), 1000) * 200 * 3
    options = []
    fits: dict[str, bool] = {}
    for method, kwargs in (("full", {"precision": "mixed"}), ("lora", {}), ("dora", {}), ("qlora", {"quant_bits": 4})):
        setup = TrainSetup(model, method, seq_len=1024, micro_batch=2, gradient_checkpointing=True, **kwargs)  # type: ignore[arg-type]
        est = estimate_training(setup, device, tokens, devices=count if method == "full" else 1)
        fits[method] = est.fits
        options.append({"method": method, "fits": est.fits, "peak_memory_gib": round(est.memory.total / GiB, 1),
                        "device_memory_gib": round(est.usable_bytes / GiB, 1), "hours": round(est.wall_seconds / 3600, 2),
                        "cost_usd": round(est.cost_usd, 2)})
    mem = {o["method"]: o["peak_memory_gib"] for o in options}
    where = f"{count} x {device}" if count > 1 else device
    big_data = answers.get("labelled_pairs") == "gt_10k"
    if fits["full"] and big_data and answers.get("team_experience") == "experienced" and model.params <= 15e9:
        name, why = "full", f"full fine-tuning fits {where} (~{mem['full']} GiB per device, estimate) and >10k examples can use every weight"
    elif fits["lora"]:
        name = "lora"
        why = f"LoRA on a bf16 {size} base fits {where} (~{mem['lora']} GiB peak, estimate); it trains fast and the adapter is small"
        if fits["full"]:
            why += "; full fine-tuning would also fit but rarely pays off below 10k examples"
        why += ". Try DoRA as a sweep option: same memory, sometimes better at low rank, ~20% slower"
    elif fits["qlora"]:
        name = "qlora"
        why = (f"a bf16 {size} base does not fit {where} for LoRA (~{mem['lora']} GiB needed, estimate), "
               f"but with the base in 4-bit (QLoRA) it needs ~{mem['qlora']} GiB")
    else:
        name = "qlora"
        why = (f"even QLoRA on {size} needs ~{mem['qlora']} GiB, more than {where} offers (estimate): "
               "pick a smaller base model or a larger GPU; the plan starts with a small model anyway")
    return MethodChoice(name, size, device, count, why, options)


# --------------------------------------------------------------------------- estimates, risks, steps
def _estimates(answers: dict[str, Any], best: str, method: MethodChoice | None) -> dict[str, Any]:
    from advisor.estimate import TrainSetup, accuracy_summary, estimate_rag, estimate_training, resolve_model

    out: dict[str, Any] = {"note": accuracy_summary()}
    device, count = target_device(answers)
    if method is not None:
        model = resolve_model(method.model_size)
        pairs = max(TYPICAL_PAIRS.get(answers.get("labelled_pairs", "none"), 0), 100)
        tokens = pairs * 200 * 3
        setup = TrainSetup(model, method.name, seq_len=1024, micro_batch=2, gradient_checkpointing=True)  # type: ignore[arg-type]
        est = estimate_training(setup, device, tokens, devices=count if method.name == "full" else 1)
        out["training"] = est.to_dict() | {"assumes": f"{pairs} pairs x ~200 tokens x 3 epochs"}
        out["training"].pop("accuracy", None)
    if best in (R.RAG, R.BOTH) or R.condition_holds(answers, "change", {"contains": "knowledge"}):
        corpus = TYPICAL_CORPUS_TOKENS.get(answers.get("knowledge_base_size", "medium"), 2_500_000)
        gen = method.model_size if method else target_model_size(answers)
        serve = device
        rag = estimate_rag(corpus, serve, resolve_model(gen))
        out["rag"] = rag.to_dict() | {"assumes": f"~{corpus:,} corpus tokens, 256-token chunks, top-4, MiniLM embeddings, served on {serve}"}
    return out


def _risks(a: dict[str, Any], best: str) -> list[str]:
    risks = []
    tuned = best in (R.FINE_TUNE, R.BOTH)
    if tuned and a.get("knowledge_change_rate") in ("daily", "weekly", "monthly"):
        risks.append("Facts in a fine-tuned model go stale between retrainings; keep changing facts in retrieval.")
    if tuned and a.get("labelled_pairs") in ("none", "lt_100", "100_1k"):
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
    if a.get("team_experience") == "none" and tuned:
        risks.append("A first fine-tune by a new team: expect leakage and evaluation mistakes; get an experienced review.")
    if a.get("privacy") in ("vpc", "on_prem"):
        risks.append("Training data and outputs may contain secrets or personal data; scan them before training and serving.")
    return risks


def _prerequisites(a: dict[str, Any], best: str) -> list[str]:
    pre = ["A frozen evaluation set: real inputs with accepted answers, split once and never trained on (at least 100-200 items)."]
    if a.get("metric") in ("none", "human_rubric"):
        pre.append("A metric or a written rubric that tells bad, good and better answers apart.")
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


def _next_steps(a: dict[str, Any], best: str, method: MethodChoice | None) -> list[str]:
    plan = "advisor plan --answers answers.yaml --data pairs.jsonl --corpus docs/ --out plan.yaml"
    if best == R.NOT_READY:
        steps = []
        if a.get("metric") == "none":
            steps.append("Write down how to score an answer (exact match, a checker, or a 3-level rubric) and score 30 answers by hand.")
        if a.get("labelled_pairs") in ("none", "lt_100"):
            steps.append("Collect 100-200 real inputs with reviewed answers: your first test set.")
        steps.append("Then answer the questionnaire again (`advisor decide`).")
        return steps
    if best == R.PROMPTING:
        return [
            "Write a prompt with 3-5 examples and score it on 50-100 held-out items (the baseline every option must beat).",
            f"If it falls short, plan a RAG baseline and a small LoRA sweep: `{plan}`.",
        ]
    steps = [f"Make the experiment plan: `{plan}`."]
    if best in (R.RAG, R.BOTH):
        steps.append("Build the RAG baseline on the corpus and measure retrieval hit rate and answer quality on the validation split.")
    if method is not None:
        steps.append(f"Run the sweep (`advisor sweep start --plan plan.yaml`): {METHOD_LABELS[method.name]}, small model first (SmolLM2), then {method.model_size}.")
    steps.append("Compare all systems on the frozen test split (`advisor report`) and have the best ones reviewed before acceptance.")
    return steps
