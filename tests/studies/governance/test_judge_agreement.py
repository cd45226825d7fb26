"""The judge's agreement with blind human review (arithmetic by hand), and the rule for when it may decide a verdict."""

from __future__ import annotations

import pytest

from studies.data.kinds import TaskSpec
from studies.data.splits import make_split, save_split
from studies.evaluation.compare import compare_runs
from studies.evaluation.judge import JUDGE_METRIC, Rubric, judge_run, load_rubric
from studies.evaluation.run_items import load_run_items
from studies.governance.judge_agreement import MIN_AGREEMENT, MIN_JUDGEMENTS, agreement_from, judge_gate
from studies.governance.review import Review, start_session
from tests.judge_fakes import MatchJudge
from tests.report_fixtures import evaluate_canned, make_dataset


def _review(item: str, winner: str | None, choice: str = "left", reviewer: str = "ana") -> Review:
    return Review("A", "B", item, reviewer, "tie" if winner is None and choice != "skip" else choice, winner, None, None)


def test_agreement_rate_kappa_and_n_by_hand():
    # human:  A A A A B B tie A B tie      judge:  A A A A B B tie B tie A   -> 7 of 10 agree
    human = ["A", "A", "A", "A", "B", "B", None, "A", "B", None]
    judge = [("A"), "A", "A", "A", "B", "B", None, "B", None, "A"]
    score = {"A": 1.0, "B": 0.0}
    scores = {"A": {}, "B": {}}
    reviews = []
    for k, (h, j) in enumerate(zip(human, judge)):
        item = f"i{k}"
        reviews.append(_review(item, h))
        scores["A"][item] = 0.5 if j is None else score[j]
        scores["B"][item] = 0.5 if j is None else 1.0 - score[j]
    reviews.append(_review("i0", None, choice="skip", reviewer="bo"))  # skips never count
    reviews.append(_review("ungraded", "A"))  # no judge score for this item: left out, counted apart
    a = agreement_from(reviews, scores, "j")
    assert (a.n, a.agree, a.ungraded, a.pairs) == (10, 7, 1, 1)
    assert a.rate == pytest.approx(0.7)
    # label rates: human A .5, B .3, tie .2; judge A .5, B .3, tie .2 -> chance .25 + .09 + .04 = .38
    assert a.kappa == pytest.approx((0.7 - 0.38) / (1 - 0.38))  # 0.516
    assert (a.low, a.high) == pytest.approx((0.3968, 0.8922), abs=1e-4)  # Wilson 95% for 7/10
    assert (a.decisive, a.decisive_agree, a.judge_ties) == (7, 6, 2)


def test_no_judgements_give_no_rate():
    a = agreement_from([], {"A": {}, "B": {}})
    assert (a.n, a.rate, a.kappa) == (0, None, None)


# ----------------------------------------------------------------------------- runs, human review, the gate


def _split(workspace, kind: str = "command"):
    split = make_split(make_dataset(n_groups=20, per_group=6), seed=0, task=TaskSpec(kind=kind) if kind != "command" else None)
    save_split(workspace, split)
    return split


@pytest.fixture
def runs(workspace):
    """A (right on 80% of test items) and B (right on 10%), evaluated through the contract."""
    split = _split(workspace)
    return evaluate_canned(workspace, split, "rag:idx", "rag", accuracy=0.8, seed=1), \
        evaluate_canned(workspace, split, "base", "base", accuracy=0.1, seed=2)


def _right(ws, run: str) -> dict[str, float]:
    """item -> 1.0 when the run's answer holds the reference (what a person checks), else 0.0."""
    return {i.item_id: float(i.reference in i.answer) for i in load_run_items(ws, run)}


def review_all(ws, a: str, b: str, reviewers: list[str], prefer_worse: bool = False, limit: int | None = None) -> int:
    """Blind-review every shared item: people prefer the right answer (``prefer_worse``: the wrong one); tie when alike."""
    right = {a: _right(ws, a), b: _right(ws, b)}
    n = 0
    for reviewer in reviewers:
        session = start_session(ws, a, b, reviewer, seed=3, limit=limit)
        for item in session.items:
            left, rgt = right[item.left_run][item.item_id], right[item.right_run][item.item_id]
            if left == rgt:
                choice = "tie"
            else:
                choice = "left" if (left > rgt) != prefer_worse else "right"
            session.record(item, choice)
            n += 1
    return n


def test_the_gate_says_why_a_judge_may_not_count(workspace, runs):
    a, b = runs
    assert judge_gate(workspace, [a, b]).status == "not-judged"
    judge_run(workspace, a, MatchJudge(), load_rubric(None))
    assert "not every run was judged" in judge_gate(workspace, [a, b]).reason
    judge_run(workspace, b, MatchJudge(), Rubric("another rubric", "other.txt"))
    assert judge_gate(workspace, [a, b]).status == "different-judges"
    judge_run(workspace, b, MatchJudge(), load_rubric(None))
    gate = judge_gate(workspace, [a, b])
    assert gate.status == "not-measured" and not gate.counts and "no blind human judgement" in gate.reason
    n = review_all(workspace, a, b, ["ana"], limit=5)
    gate = judge_gate(workspace, [a, b])
    assert gate.status == "too-few" and gate.agreement.n == n == 5 and f"at least {MIN_JUDGEMENTS}" in gate.reason
    n += review_all(workspace, a, b, ["bo", "cy"])
    gate = judge_gate(workspace, [a, b])
    assert n >= MIN_JUDGEMENTS and gate.status == "counted" and gate.counts and gate.agreement.rate == 1.0


def test_a_judge_people_disagree_with_is_too_low(workspace, runs):
    a, b = runs
    for run in (a, b):
        judge_run(workspace, run, MatchJudge(inverted=True), load_rubric(None))
    review_all(workspace, a, b, ["ana", "bo"])
    gate = judge_gate(workspace, [a, b])
    assert gate.status == "too-low" and gate.agreement.n >= MIN_JUDGEMENTS and gate.agreement.rate < MIN_AGREEMENT
    assert f"below the {MIN_AGREEMENT:.0%} required" in gate.reason


def test_a_judge_with_low_agreement_does_not_decide_the_verdict(workspace, runs):
    """The inverted judge prefers B; people (and chrF) prefer A. Asked for as the primary metric, it is refused."""
    from advisor.evidence import update

    a, b = runs
    for run in (a, b):
        judge_run(workspace, run, MatchJudge(inverted=True), load_rubric(None))
    review_all(workspace, a, b, ["ana", "bo"])
    comp = compare_runs(workspace, [a, b], primary=JUDGE_METRIC)
    assert comp.primary == "chrf" and comp.primary_source == "task" and comp.judge_requested
    assert comp.best["chrf"] == a and comp.best[JUDGE_METRIC] == b  # the judge is still shown, for information
    assert "shown for information only" in comp.judge_note and "the verdict follows chrf instead" in comp.judge_note
    verdict = update(None, comp)
    assert verdict.metric == "chrf" and verdict.final_run == a
    assert any("shown for information only" in reason for reason in verdict.reasons)
    assert comp.to_dict()["judge"]["status"] == "too-low"


def test_a_judge_that_agrees_with_people_may_decide(workspace, runs):
    """Here people agree with the (inverted) judge: asked for, it decides; for a command task it is not taken unasked."""
    from advisor.evidence import update

    a, b = runs
    for run in (a, b):
        judge_run(workspace, run, MatchJudge(inverted=True), load_rubric(None))
    review_all(workspace, a, b, ["ana", "bo"], prefer_worse=True)
    comp = compare_runs(workspace, [a, b], primary=JUDGE_METRIC)
    assert comp.primary == JUDGE_METRIC and comp.primary_source == "given" and comp.judge.counts
    assert update(None, comp).final_run == b
    unasked = compare_runs(workspace, [a, b])
    assert unasked.primary == "chrf" and "name the judge as the primary metric" in unasked.judge_note


def test_a_text_task_is_decided_by_a_judge_that_passed_its_gate(workspace):
    split = _split(workspace, kind="text")
    a = evaluate_canned(workspace, split, "rag:idx", "rag", accuracy=0.8, seed=1)
    b = evaluate_canned(workspace, split, "base", "base", accuracy=0.1, seed=2)
    for run in (a, b):
        judge_run(workspace, run, MatchJudge(), load_rubric(None))
    assert compare_runs(workspace, [a, b]).primary == "chrf"  # not measured yet: the kind's primary metric
    review_all(workspace, a, b, ["ana", "bo"])
    comp = compare_runs(workspace, [a, b])
    assert comp.task == "text" and comp.primary == JUDGE_METRIC and comp.primary_source == "judge"
    assert comp.judge_note.startswith("The model judge decides the verdict")
    assert compare_runs(workspace, [a, b], primary="token_f1").primary == "token_f1"  # a named metric still wins


def test_a_judge_missing_on_some_items_is_not_compared_and_cannot_decide(workspace, runs):
    from studies.evaluation.run_items import read_prediction_rows, write_run_items

    a, b = runs
    for run in (a, b):
        judge_run(workspace, run, MatchJudge(), load_rubric(None))
    review_all(workspace, a, b, ["ana", "bo"])
    rows = read_prediction_rows(workspace, b)
    del rows[0]["metrics"][JUDGE_METRIC]  # as an unparseable reply leaves it
    write_run_items(workspace, b, rows)
    comp = compare_runs(workspace, [a, b], primary=JUDGE_METRIC)
    assert JUDGE_METRIC not in comp.metrics and comp.primary == "chrf"
    assert comp.judge.status == "not-judged" and "no judge grade" in comp.judge.reason
