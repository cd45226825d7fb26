"""What a plan measures: task kind from the data or the questionnaire, the latency budget, gold-document hit@k."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from advisor.plan import load_plan, make_plan
from studies.evaluation.systems import Prediction
from tests.advisor.test_advisor_plan import ANSWERS
from tests.report_fixtures import CannedSystem, evaluate_canned, frozen_split

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data" / "samples"
NO_COMMANDS = {**ANSWERS, "use_case": "sort requests"}


def test_plan_carries_the_questionnaire_latency_budget(tmp_path):
    plan = make_plan({**ANSWERS, "latency_budget": "strict"})
    assert plan.latency_budget_s == 0.5
    assert any("p95 of 0.5 s" in n for n in plan.notes)
    plan.save(tmp_path / "plan.yaml")
    assert load_plan(tmp_path / "plan.yaml").latency_budget_s == 0.5
    assert make_plan({**ANSWERS, "latency_budget": "relaxed"}).latency_budget_s == 10.0


def test_a_non_positive_budget_or_hit_k_is_refused(tmp_path):
    from core.errors import ConfigError

    plan = make_plan(ANSWERS)
    plan.latency_budget_s = 0
    plan.rag.gold_hit_k = 0
    with pytest.raises(ConfigError, match="latency_budget_s > 0.*\n.*gold_hit_k >= 1|gold_hit_k >= 1.*\n.*latency_budget_s > 0"):
        plan.validate()


def test_cited_answers_over_documents_get_gold_hit_at_k():
    docs = SAMPLES / "numpy-docs"
    plan = make_plan(ANSWERS, dataset=str(docs / "pairs.jsonl"), corpus=str(docs / "corpus.jsonl"))
    assert plan.rag.enabled and plan.rag.gold_hit_k == min(plan.rag.space["top_k"]) == 2
    assert any("hit@2" in n and "238 of 238 pairs" in n for n in plan.notes)
    # Pairs that name no document and answers that need no citation: nothing to score.
    sections = make_plan(ANSWERS, dataset=str(SAMPLES / "debian-sections" / "pairs.jsonl"))
    assert sections.rag.gold_hit_k is None
    # Citations required without gold documents: planned, and the note says what the pairs lack.
    cited = make_plan({**ANSWERS, "citations_required": True}, dataset=str(SAMPLES / "debian-sections" / "pairs.jsonl"))
    assert cited.rag.gold_hit_k == 2 and any("add a `page` field" in n for n in cited.notes)


def test_questionnaire_output_kind_is_the_task_without_data():
    plan = make_plan({**NO_COMMANDS, "output_kind": "classification"})
    assert plan.data.task == "classification" and plan.primary_metric == "accuracy" and plan.metrics[0] == "accuracy"
    assert "questionnaire" in (plan.data.task_evidence or "")
    assert "dangerous_commands" not in plan.checks
    structured = make_plan({**NO_COMMANDS, "output_kind": "structured"})
    assert structured.data.task == "structured" and structured.primary_metric == "field_f1"
    assert "json_parse" in structured.metrics


def test_not_sure_and_old_answer_files_keep_todays_plan(tmp_path):
    from advisor.questions import load_answers

    old = tmp_path / "answers.yaml"  # written before output_kind existed: loads, defaults to not sure
    old.write_text("\n".join(f"{k}: {v!r}" if isinstance(v, str) else f"{k}: {v}" for k, v in ANSWERS.items()), encoding="utf-8")
    answers = load_answers(old)
    assert answers["output_kind"] == "unsure"
    plan = make_plan(answers)
    assert plan.data.task is None and plan.primary_metric == "chrf"
    assert make_plan({**ANSWERS, "output_kind": "unsure"}).to_dict() | {"notes": []} == plan.to_dict() | {"notes": []}


def test_not_sure_about_the_output_kind_is_not_listed_as_an_open_answer():
    from advisor.recommend import recommend

    rec = recommend({**ANSWERS, "output_kind": "unsure"})
    assert all(u.question != "output_kind" for u in rec.unsure)


def test_the_data_set_kind_wins_and_a_disagreement_is_noted():
    sections = str(SAMPLES / "debian-sections" / "pairs.jsonl")
    plan = make_plan({**NO_COMMANDS, "output_kind": "text"}, dataset=sections)
    assert plan.data.task == "classification" and plan.primary_metric == "accuracy" and plan.data.labels
    note = next(n for n in plan.notes if "the plan follows the data" in n)
    assert "Free text" in note and "data.task: text" in note
    agree = make_plan({**NO_COMMANDS, "output_kind": "classification"}, dataset=sections)
    assert agree.data.task == "classification" and not any("the plan follows the data" in n for n in agree.notes)


# ----------------------------------------------------------------------------- the report


class ContextSystem(CannedSystem):
    """A canned RAG system whose stored context is fixed per input: (document ids, best first)."""

    def __init__(self, name: str, answers: dict[str, str], docs: dict[str, list[str]]) -> None:
        super().__init__(name, "rag", answers)
        self.docs = docs

    def predict(self, inputs: Sequence[str], settings) -> list[Prediction]:
        out = super().predict(inputs, settings)
        for p, q in zip(out, inputs):
            p.context = [{"doc_id": d, "chunk_id": f"{d}#0", "score": 1.0, "position": 0} for d in self.docs[q]]
        return out


def _doc_split(ws):
    from studies.data.datasets import LoadedDataset
    from studies.data.pair import Pair
    from studies.data.splits import make_split, save_split
    from studies.data.validation import ValidationReport

    pairs = [Pair(f"d{g}-{i}", f"what does function {g} do, case {i}?", f"it computes value {g}", group=f"doc{g}",
                  meta={"page": f"doc{g}"}) for g in range(20) for i in range(5)]
    report = ValidationReport(source="x", format="jsonl", records=len(pairs), valid=len(pairs))
    split = make_split(LoadedDataset("docs", pairs, report, "h", "x"), seed=0)
    save_split(ws, split)
    return split


def test_gold_hits_hand_computed():
    from studies.evaluation.oracle import gold_hits

    rows = [
        {"item_id": "a", "group": "A", "context": [{"doc_id": "A"}, {"doc_id": "B"}]},  # rank 1
        {"item_id": "b", "group": "B", "context": [{"doc_id": "A"}, {"doc_id": "A"}, {"doc_id": "B"}]},  # rank 2 (A twice)
        {"item_id": "c", "group": "C", "context": [{"doc_id": "A"}]},  # missed
        {"item_id": "d", "group": None, "context": [{"doc_id": "A"}]},  # no gold: not scored
    ]
    one = gold_hits(rows, 1)
    assert one.score.mean == pytest.approx(1 / 3) and one.items == 3 and one.without_gold == 1 and one.retrieved == 2
    assert gold_hits(rows, 2).score.mean == pytest.approx(2 / 3)
    assert gold_hits(rows, 2, gold={"a": "B", "b": "Z"}).score.mean == pytest.approx(1 / 2)  # a map wins over groups


def test_report_measures_p95_against_the_plan_budget_and_shows_gold_hit_at_k(workspace, tmp_path):
    from advisor.record_summary import LATENCY_BUDGET_S
    from advisor.report import build_record, render_markdown
    from studies.evaluation.contract import evaluate

    split = _doc_split(workspace)
    test = list(split.test)
    right = {p.input: p.output for p in test}
    # The gold document first for the first half of the items, second for the next quarter, absent for the rest.
    docs = {}
    for i, p in enumerate(test):
        gold = p.meta["page"]
        docs[p.input] = [gold, "other"] if i < len(test) // 2 else ["other", gold] if i < 3 * len(test) // 4 else ["other", "x"]
    rag = evaluate(ContextSystem("rag:idx", right, docs), split, workspace).run_id
    base = evaluate(CannedSystem("base", "base", right, latency=0.8), split, workspace).run_id
    plan = make_plan({**ANSWERS, "latency_budget": "strict"})
    plan.latency_budget_s = 1.0  # edited in the plan: it wins over the answer (strict: 0.5 s)
    plan.rag.gold_hit_k = 1
    answers = {**ANSWERS, "latency_budget": "strict"}
    record = build_record(workspace, [base, rag], answers=answers, include_checks=False, plan=plan)
    page = record.page
    assert page.latency_budget_s == 1.0 != LATENCY_BUDGET_S["strict"] and page.budget_source == "plan: latency_budget_s"
    assert all(r.within_budget for r in page.rows)  # 0.8 s p95 is within the plan's 1 s (over the answer's 0.5 s)
    [hits] = record.retrieval  # only the document-RAG run
    half = sum(1 for i in range(len(test)) if i < len(test) // 2) / len(test)
    assert hits["k"] == 1 and hits["items"] == len(test) and hits["score"]["mean"] == pytest.approx(half)
    md = render_markdown(record)
    assert "latency budget p95 <= 1.0 s (plan: latency_budget_s)" in md and "within 1.0 s" in md
    assert "| hit@1 [95% interval] |" in md and f"{half:.3f}" in md
    plan.rag.gold_hit_k = 2
    two = build_record(workspace, [base, rag], answers=answers, include_checks=False, plan=plan).retrieval[0]
    assert two["score"]["mean"] == pytest.approx((len(test) // 2 + (3 * len(test) // 4 - len(test) // 2)) / len(test))
    # Without a plan the questionnaire's answer is the budget, and no hit@k is reported.
    plain = build_record(workspace, [base, rag], answers=answers, include_checks=False)
    assert plain.page.latency_budget_s == 0.5 and not any(r.within_budget for r in plain.page.rows[:1]) and plain.retrieval == []


def test_report_cli_reads_the_plan(workspace, tmp_path):
    import subprocess
    import sys

    split = frozen_split(workspace, n_groups=10, per_group=5)
    a = evaluate_canned(workspace, split, "base", "base", accuracy=0.2, seed=1, latency=0.3)
    b = evaluate_canned(workspace, split, "rag:i", "rag", accuracy=0.6, seed=2, latency=0.3)
    plan = make_plan({**ANSWERS, "latency_budget": "strict"})
    plan.latency_budget_s = 0.25
    plan.save(tmp_path / "plan.yaml")
    cmd = [sys.executable, "-m", "advisor", "--workspace", str(workspace.root), "report", "--runs", f"{a},{b}",
           "--plan", str(tmp_path / "plan.yaml"), "--no-learning-curve", "--no-checks", "--name", "p"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    md = (workspace.root / "reports" / "p" / "decision_record.md").read_text(encoding="utf-8")
    assert "over** the 0.25 s budget" in md and "--plan" in md
