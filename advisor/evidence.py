"""The evidence update: the questionnaire's recommendation revisited with measured results.

Rule: a system only "beats" another when the paired interval of the difference excludes zero
and the paired test agrees (``studies.evaluation.compare.beaten``).
Among the runs that the best run does not beat on the primary metric, the simplest to build and
keep is the leaning (prompting < RAG < fine-tune < RAG + fine-tune), then the cheapest to serve.
The evidence is *decisive* only when every run the best does not beat belongs to that one option:
then it confirms the initial recommendation (same option) or overturns it (another option).
Otherwise the verdict is "inconclusive", with the number of test items that would settle it; a
capped evaluation (fewer items than the split part holds) is said in the verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from studies.evaluation.compare import RunComparison

KIND_TO_OPTION = {
    "base": "prompting-first",
    "rag": "rag",
    "lora": "fine-tune",
    "dora": "fine-tune",
    "qlora": "fine-tune",
    "full": "fine-tune",
    "rag+lora": "rag+fine-tune",
    "rag-examples": "rag",
    "rag-examples+lora": "rag+fine-tune",
}
OPTION_WORDS = {
    "prompting-first": "prompting the base model",
    "rag": "RAG",
    "fine-tune": "fine-tuning (LoRA family)",
    "rag+fine-tune": "RAG + fine-tuning",
    "not-ready": "not ready yet",
}
SIMPLICITY = ["prompting-first", "rag", "fine-tune", "rag+fine-tune"]
LOW_QUALITY = 0.5
"""Below this on the primary metric (0-1 scale) even the winner is called weak."""


@dataclass
class Verdict:
    """What the evidence says, in plain words, and what would settle what is open."""

    initial: str | None
    final: str
    final_run: str
    status: str
    """'confirmed', 'overturned', 'inconclusive' (no run separates from another), 'not-tested' (the initial
    option was not evaluated) or 'no-initial'."""
    headline: str
    reasons: list[str] = field(default_factory=list)
    open_questions: list[str] = field(default_factory=list)
    tied: list[str] = field(default_factory=list)
    """Runs the best run does not beat on the primary metric."""
    metric: str = ""
    """The primary metric the verdict follows."""
    items_needed: int | None = None
    """Inconclusive: about how many test items would make the closest unresolved difference clear its interval."""
    sample: str = ""
    """What the verdict rests on: items evaluated, and any cap."""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def option_of(kind: str) -> str:
    """The recommendation option a system kind stands for (unknown kinds stand for themselves)."""
    return KIND_TO_OPTION.get(kind, kind)


def _fmt(x: float) -> str:
    return f"{x:.3f}"


def items_needed(n: int, difference: float, low: float, high: float) -> int | None:
    """Test items needed for an observed difference to clear its interval (half-width ~ 1/sqrt(n))."""
    half = (high - low) / 2
    if difference == 0 or half <= 0 or n <= 0:
        return None
    need = n * (half / abs(difference)) ** 2
    return int(math.ceil(need)) if math.isfinite(need) else None


def _simpler(a: str, b: str) -> bool:
    """True when option ``a`` is simpler to build and keep than option ``b``."""
    order = {o: i for i, o in enumerate(SIMPLICITY)}
    return order.get(a, len(order)) < order.get(b, len(order))


def update(initial: str | None, comparison: "RunComparison") -> Verdict:
    """Revisit ``initial`` (a recommendation option, or None) with a comparison of runs."""
    metric = comparison.primary
    best_id = comparison.best[metric]
    best = comparison.run(best_id)
    tied_ids = comparison.tied_with_best(metric)
    tied = [comparison.run(r) for r in tied_ids]

    def rank(run) -> tuple:
        opt = option_of(run.kind)
        simple = SIMPLICITY.index(opt) if opt in SIMPLICITY else len(SIMPLICITY)
        return (simple, run.money_usd, run.latency_s, -run.scores[metric].mean)

    chosen = min(tied, key=rank)
    final = option_of(chosen.kind)
    reasons: list[str] = []
    score = best.scores[metric]
    reasons.append(f"{best.system} scores best on {metric}: {_fmt(score.mean)} [{_fmt(score.low)}, {_fmt(score.high)}].")
    for rid, comp in comparison.differences[metric].items():
        run = comparison.run(rid)
        d = comp.difference
        if rid in tied_ids:
            why = "includes 0" if d.high >= 0 else "excludes 0, but the paired test does not agree"
            reasons.append(
                f"{run.system} is within the noise of {best.system} on {metric} (difference {_fmt(d.mean)}, "
                f"interval [{_fmt(d.low)}, {_fmt(d.high)}] {why}, p={comp.p_value:.3g})."
            )
        else:
            reasons.append(
                f"{best.system} beats {run.system} on {metric} by {_fmt(-d.mean)} (interval of the difference "
                f"[{_fmt(-d.high)}, {_fmt(-d.low)}] excludes 0, p={comp.p_value:.3g})."
            )
    if chosen.run_id != best_id:
        why = []
        if chosen.train_tokens == 0 and best.train_tokens > 0:
            why.append("costs nothing to train")
        if final == "rag":
            why.append("keeps facts updatable without retraining")
        if not why and _simpler(final, option_of(best.kind)):
            why.append("is simpler to build and keep")
        if chosen.latency_s < best.latency_s:
            why.append(f"answers faster ({chosen.latency_s:.2f} s vs {best.latency_s:.2f} s per query)")
        reasons.append(
            f"{best.system} and {chosen.system} are within each other's intervals on {metric}; {chosen.system} "
            f"{', '.join(why) or 'is cheaper'}: {OPTION_WORDS.get(final, final)}."
        )

    evaluated = {option_of(r.kind) for r in comparison.runs}
    tied_options = {option_of(comparison.run(r).kind) for r in tied_ids}
    decisive = tied_options == {final}
    need = _items_to_settle(comparison, metric, tied_ids, best_id)
    settle = (f"about {need} test items (now {comparison.n_items}) would settle it, if the difference is real"
              if need is not None and need > comparison.n_items else "more test items or a stricter metric would be needed to separate them")
    if initial is not None and initial not in evaluated:
        status = "not-tested"
        winner = f"{OPTION_WORDS.get(final, final)} wins" if decisive else f"none separates on {metric} ({settle})"
        headline = f"The recommendation ({OPTION_WORDS.get(initial, initial)}) was not among the evaluated systems; of those evaluated, {winner}."
    elif not decisive:
        status = "inconclusive"
        others = ", ".join(comparison.run(r).system for r in tied_ids if r != best_id)
        headline = (
            f"Inconclusive on {metric}: {best.system} scores best, but {others} {'is' if len(tied_ids) == 2 else 'are'} within "
            f"its interval, so the evidence cannot {'confirm or overturn the recommendation' if initial else 'pick a winner'}; "
            f"{settle}. If forced, the simplest is {OPTION_WORDS.get(final, final)} ({chosen.system})."
        )
    elif initial is None:
        status = "no-initial"
        headline = f"Evidence points to {OPTION_WORDS.get(final, final)} ({chosen.system}) on {metric}."
    elif initial == final:
        status = "confirmed"
        headline = f"The evidence confirms the recommendation on {metric}: {OPTION_WORDS.get(final, final)}."
    else:
        status = "overturned"
        headline = (
            f"The evidence overturns the recommendation on {metric}: {OPTION_WORDS.get(final, final)} instead of "
            f"{OPTION_WORDS.get(initial, initial)}."
        )
        init_runs = [r for r in comparison.runs if option_of(r.kind) == initial]
        if init_runs:
            top = max(init_runs, key=lambda r: r.scores[metric].mean)
            reasons.append(f"{top.system} ({OPTION_WORDS.get(initial, initial)}) is measurably worse than {best.system}.")

    open_q: list[str] = []
    for rid in tied_ids:
        if rid == best_id:
            continue
        comp = comparison.differences[metric][rid]
        need = items_needed(comparison.n_items, comp.difference.mean, comp.difference.low, comp.difference.high)
        run = comparison.run(rid)
        if need is not None and need > comparison.n_items:
            open_q.append(
                f"{best.system} vs {run.system} on {metric} is unresolved: about {need} test items (now {comparison.n_items}) "
                "would make the observed difference clear its interval, if it is real."
            )
        elif need is None:
            open_q.append(f"{best.system} and {run.system} score the same on {metric}; more test items or a stricter metric would separate them.")
    if score.mean < LOW_QUALITY:
        open_q.append(
            f"Even the best system reaches only {_fmt(score.mean)} on {metric}: try a larger base model from the plan's "
            "ladder before deciding, or improve the data."
        )
    missing = [o for o in SIMPLICITY if o not in evaluated]
    if missing:
        open_q.append("Not evaluated yet: " + ", ".join(OPTION_WORDS[o] for o in missing) + ".")
    sample = f"{comparison.n_items} {comparison.part} items"
    available = getattr(comparison, "available", None)
    if available is not None and available > comparison.n_items:
        sample = f"the first {comparison.n_items} of {available} {comparison.part} items (the evaluation was capped)"
        open_q.append(f"The evaluation was capped at {comparison.n_items} of {available} {comparison.part} items: "
                      "evaluate every system on all of them before deciding.")
    reasons.insert(0, f"Primary metric: {metric}; evidence: {sample}.")
    judge_note = getattr(comparison, "judge_note", None)
    if judge_note:
        reasons.insert(1, judge_note)
    return Verdict(
        initial=initial,
        final=final,
        final_run=chosen.run_id,
        status=status,
        headline=headline,
        reasons=reasons,
        open_questions=open_q,
        tied=tied_ids,
        metric=metric,
        items_needed=need if status in ("inconclusive", "not-tested") else None,
        sample=sample,
    )


def _items_to_settle(comparison: "RunComparison", metric: str, tied_ids: list[str], best_id: str) -> int | None:
    """Test items that would make the closest unresolved difference to the best clear its interval (None: no estimate)."""
    needs = []
    for rid in tied_ids:
        if rid == best_id:
            continue
        d = comparison.differences[metric][rid].difference
        need = items_needed(comparison.n_items, d.mean, d.low, d.high)
        if need is not None:
            needs.append(need)
    return min(needs) if needs else None
