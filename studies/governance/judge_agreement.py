"""Does the model judge agree with people? Measured on the blind human review, and the rule for when it counts.

For every stored human judgement (skips excluded) between two runs that one judge graded under one
rubric (:mod:`studies.evaluation.judge`), the judge "prefers" the run whose answer it graded higher on
that item, and calls a tie when the grades are equal. Then:

* agreement: the share of judgements where the judge's choice (run A / run B / tie) is the human's,
  with a Wilson interval, and ``n``;
* Cohen's kappa over the same three labels (agreement beyond what the two label rates give by chance);
* agreement on decisive judgements (both the person and the judge picked a side), for information.

The rule (:func:`judge_gate`): the judge's metric may decide a verdict only when every compared item
has a judge grade from the same judge and rubric, the agreement is measured on at least
:data:`MIN_JUDGEMENTS` human judgements, and it is at least :data:`MIN_AGREEMENT`. Otherwise it is
shown for information, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from core.workspace import Workspace
from studies.evaluation.judge import JUDGE_METRIC, load_judge_record
from studies.evaluation.run_items import load_run_items
from studies.governance.review import Review, cohen_kappa, load_reviews, wilson_interval

MIN_JUDGEMENTS = 20
"""Fewest human judgements the judge's agreement must be measured on before its scores can count."""
MIN_AGREEMENT = 0.7
"""Lowest agreement (share of judgements where judge and person chose alike, ties included) for the judge to count."""
STATUSES = ("counted", "not-judged", "different-judges", "not-measured", "too-few", "too-low")


@dataclass(frozen=True)
class JudgeAgreement:
    """The judge's preferences set against the people's on the same items of the same pairs of runs."""

    judge: str | None
    """The judge's identity (model and rubric), None when the runs were not all judged by one judge."""
    n: int
    """Human judgements compared (both answers graded by the judge)."""
    agree: int
    rate: float | None
    """agree / n (None when n == 0)."""
    low: float
    high: float
    """Wilson interval of ``rate``."""
    kappa: float | None
    """Cohen's kappa over (run A, run B, tie); None when undefined."""
    decisive: int
    """Judgements where both the person and the judge picked a side."""
    decisive_agree: int
    judge_ties: int
    """Compared judgements where the judge graded both answers the same."""
    ungraded: int
    """Human judgements left out because an answer has no judge grade (unparseable reply)."""
    pairs: int
    """Pairs of runs the compared judgements come from."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class JudgeGate:
    """Whether the judge's metric may count in a verdict over some runs, and why (or why not)."""

    status: str
    """One of :data:`STATUSES`."""
    reason: str
    agreement: JudgeAgreement | None
    min_judgements: int = MIN_JUDGEMENTS
    min_agreement: float = MIN_AGREEMENT

    @property
    def counts(self) -> bool:
        return self.status == "counted"

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "counts": self.counts, "reason": self.reason, "min_judgements": self.min_judgements,
                "min_agreement": self.min_agreement, "agreement": self.agreement.to_dict() if self.agreement else None}


def _human_label(r: Review) -> str:
    return "tie" if r.winner is None else ("lo" if r.winner == r.run_lo else "hi")


def _judge_label(lo: float, hi: float) -> str:
    return "lo" if lo > hi else ("hi" if hi > lo else "tie")


def agreement_from(reviews: Sequence[Review], scores: dict[str, dict[str, float]], judge: str | None = None) -> JudgeAgreement:
    """Agreement of judge ``scores`` (run -> item -> judge score) with human ``reviews`` (see the module docstring)."""
    human: list[str] = []
    machine: list[str] = []
    ungraded = 0
    pairs: set[tuple[str, str]] = set()
    for r in reviews:
        if r.choice == "skip":
            continue
        lo, hi = scores.get(r.run_lo, {}).get(r.item_id), scores.get(r.run_hi, {}).get(r.item_id)
        if lo is None or hi is None:
            ungraded += 1
            continue
        human.append(_human_label(r))
        machine.append(_judge_label(lo, hi))
        pairs.add((r.run_lo, r.run_hi))
    n = len(human)
    agree = sum(h == m for h, m in zip(human, machine))
    decisive = [(h, m) for h, m in zip(human, machine) if h != "tie" and m != "tie"]
    low, high = wilson_interval(agree, n)
    return JudgeAgreement(
        judge=judge, n=n, agree=agree, rate=agree / n if n else None, low=low, high=high, kappa=cohen_kappa(human, machine) if n else None,
        decisive=len(decisive), decisive_agree=sum(h == m for h, m in decisive), judge_ties=machine.count("tie"), ungraded=ungraded,
        pairs=len(pairs),
    )


def _judge_scores(ws: Workspace, run_ids: Sequence[str]) -> tuple[dict[str, dict[str, float]], int]:
    """run -> item -> judge score, and how many stored items have no judge score."""
    scores: dict[str, dict[str, float]] = {}
    missing = 0
    for rid in run_ids:
        items = load_run_items(ws, rid)
        scores[rid] = {i.item_id: i.metrics[JUDGE_METRIC] for i in items if JUDGE_METRIC in i.metrics}
        missing += len(items) - len(scores[rid])
    return scores, missing


def judge_gate(ws: Workspace, run_ids: Sequence[str], min_judgements: int = MIN_JUDGEMENTS,
               min_agreement: float = MIN_AGREEMENT) -> JudgeGate:
    """May the judge's metric decide a verdict over ``run_ids``? See the module docstring for the rule."""
    run_ids = list(dict.fromkeys(run_ids))

    def gate(status: str, reason: str, agreement: JudgeAgreement | None = None) -> JudgeGate:
        return JudgeGate(status, reason, agreement, min_judgements, min_agreement)

    records = {rid: load_judge_record(ws, rid) for rid in run_ids}
    unjudged = [rid for rid, rec in records.items() if rec is None]
    if unjudged:
        return gate("not-judged", f"not every run was judged ({', '.join(unjudged)} not): grade all of them with one judge and "
                                  "rubric (`advisor judge score`)")
    identities = {rec["identity"] for rec in records.values() if rec}
    if len(identities) > 1:
        return gate("different-judges", f"the runs were graded by different judges or rubrics ({'; '.join(sorted(identities))}); "
                                        "grade them all with one judge and one rubric")
    judge = next(iter(identities))
    scores, missing = _judge_scores(ws, run_ids)
    reviews = [r for r in load_reviews(ws) if r.run_lo in run_ids and r.run_hi in run_ids]
    agreement = agreement_from(reviews, scores, judge)
    if missing:
        return gate("not-judged", f"{missing} answer(s) have no judge grade (unparseable replies): judge those runs again", agreement)
    if agreement.n == 0:
        return gate("not-measured", "its agreement with human review is not measured: no blind human judgement of these runs yet "
                                    "(the Review page, or `advisor review`)", agreement)
    measured = (f"agrees with human review on {agreement.rate:.0%} [{agreement.low:.0%}, {agreement.high:.0%}] of {agreement.n} "
                f"judgement(s)" + (f", kappa {agreement.kappa:.2f}" if agreement.kappa is not None else ""))
    if agreement.n < min_judgements:
        return gate("too-few", f"it {measured}: too few, at least {min_judgements} are needed", agreement)
    if (agreement.rate or 0.0) < min_agreement:
        return gate("too-low", f"it {measured}: below the {min_agreement:.0%} required", agreement)
    return gate("counted", f"it {measured} (at least {min_agreement:.0%} on at least {min_judgements} required)", agreement)
