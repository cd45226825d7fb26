"""The decision record's first screen: readable names, interval bars, cost at volume, p95 vs budget, reproduce command."""

from __future__ import annotations

import os
import stat

import pytest

from advisor.record_summary import interval_bar, readable_name, readable_names, readable_text, reproduce_command, volume_of
from tests.report_fixtures import evaluate_canned, frozen_split


def test_readable_names_from_rows():
    rag = {"run_id": "rag-1", "kind": "rag", "config": {"rag": {"retriever": "hybrid", "k": 3}}}
    lora = {"run_id": "lora-1", "kind": "lora", "config": {"adapter": "demo-lora-t00001", "train_config": {"rank": 8, "method": "lora"}}}
    both = {"run_id": "rl-1", "kind": "rag+lora", "config": {"adapter": "demo-lora-t1", "rag": {"retriever": "dense", "k": 3},
                                                              "train_config": {"rank": 8}}}
    assert readable_name(rag) == "RAG (hybrid, k=3)"
    assert readable_name(lora) == "LoRA r=8, trial 1"
    assert readable_name(both) == "RAG + LoRA r=8, trial 1 (dense, k=3)"
    assert readable_name({"run_id": "b", "kind": "base", "base_model": "SmolLM2-135M"}) == "Base model (SmolLM2-135M)"
    twins = readable_names([{**rag, "run_id": "rag-aaaaaa"}, {**rag, "run_id": "rag-bbbbbb"}])
    assert twins == {"rag-aaaaaa": "RAG (hybrid, k=3) [aaaaaa]", "rag-bbbbbb": "RAG (hybrid, k=3) [bbbbbb]"}


def test_readable_names_of_example_retrieval_and_free_generation():
    # the classification flow's first screen showed "rag-examples:vote" and two "Base model" rows told apart by run ids
    cls = {"kind": "classification"}
    shots = {"run_id": "e1", "kind": "rag-examples", "system": "rag-examples", "config": {"k": 4, "decoding": "labels", "task": cls}}
    vote = {"run_id": "e2", "kind": "rag-examples", "system": "rag-examples:vote", "config": {"k": 4, "method": "rag-examples-vote"}}
    tuned = {"run_id": "e3", "kind": "rag-examples+lora", "config": {"k": 4, "adapter": "x", "train_config": {"rank": 16}}}
    free = {"run_id": "b1", "kind": "base", "base_model": "m", "config": {"decoding": "generate", "task": cls}}
    scored = {"run_id": "b2", "kind": "base", "base_model": "m", "config": {"decoding": "labels", "task": cls}}
    assert readable_names([shots, vote, tuned, free, scored]) == {
        "e1": "Nearest training examples as few-shot (k=4)", "e2": "Vote of the nearest training examples (k=4)",
        "e3": "Few-shot examples + LoRA r=16 (k=4)", "b1": "Base model (m, free generation)", "b2": "Base model (m)"}


def test_verdict_text_reads_with_readable_names_and_learning_curve_runs_say_their_share():
    systems = {"rag-examples": "Few-shot (k=4)", "rag-examples:vote": "Vote (k=4)", "base": "Base model (m)",
               "rag-examples+lora:a": "Few-shot + LoRA"}
    text = "rag-examples+lora:a scores best, but rag-examples:vote, rag-examples are within; base is weak (base)."
    assert readable_text(text, systems) == "Few-shot + LoRA scores best, but Vote (k=4), Few-shot (k=4) are within; base is weak (Base model (m))."
    row = {"run_id": "lora-x-lc025", "kind": "lora", "config": {"adapter": "lora-x-lc025", "train_config": {"rank": 16}}}
    assert readable_name(row) == "LoRA r=16, 25% of the training pairs"


def test_interval_bar_marks_interval_and_mean():
    assert interval_bar(0.5, 0.25, 0.75, width=9) == "[--==o==--]"
    assert interval_bar(0.0, 0.0, 0.1, width=5) == "[o----]"


def test_volume_from_answers_or_given():
    assert volume_of({"request_volume": "low"}) == (1000.0, "questionnaire: request_volume=low")
    assert volume_of(None)[0] == 10_000 and volume_of({}, 250) == (250.0, "given")


def test_first_screen_in_the_record(workspace, tmp_path):
    from advisor.report import build_record, render_markdown, write_report

    split = frozen_split(workspace)
    runs = [evaluate_canned(workspace, split, "base", "base", 0.2, latency=0.5),
            evaluate_canned(workspace, split, "rag:idx", "rag", 0.9, latency=2.0, prompt_tokens=400, seed=1)]
    prices = tmp_path / "prices.json"
    prices.write_text('{"per_hour": {"cpu": 0.36}, "api": {"hosted-mini": {"input": 0.5, "output": 2.0}}}')
    cmd = reproduce_command(workspace.root, runs, answers="a.yaml", name="x")
    from advisor.questions import load_answers
    from advisor.demo import SAMPLE

    answers = {**load_answers(SAMPLE / "answers.yaml"), "request_volume": "low", "latency_budget": "strict"}
    record = build_record(workspace, runs, answers=answers, prices=str(prices), command=cmd)
    page = record.page
    assert [r.name for r in page.rows] == ["Base model (prompted)", "RAG"]
    rag = page.rows[1]
    # 2 s at $0.36/h = $0.0002 per request: $0.20 per 1,000; 1,000/day x 30 = $6.00 a month; p95 2 s over a 0.5 s budget.
    assert rag.per_1k_usd == pytest.approx(0.20) and rag.per_month_usd == pytest.approx(6.0)
    assert rag.within_budget is False and page.rows[0].within_budget is True  # 0.5 s p95 meets a 0.5 s budget
    assert any(c["name"] == "Hosted API hosted-mini" for c in page.costs)
    reasons = [page.readable(r) for r in record.verdict.reasons]  # what `advisor demo` prints under the verdict
    assert any("rag:idx" in r for r in record.verdict.reasons) and not any("rag:idx" in r for r in reasons)
    assert any("RAG" in r for r in reasons)
    md = render_markdown(record)
    first = md.split("## Verdict")[0]
    assert "## At a glance" in first and "cost / month" in first and "$6.00" in first and "over** the 0.5 s budget" in first
    assert rag.bar in first and "Reproduce this record: `python -m advisor" in first
    assert md.index("## Appendix: systems and their full configurations") > md.index("## Promotion gate")
    md_path = write_report(workspace, record, "md", name="modes")
    html_path = write_report(workspace, record, "html", name="modes")
    assert stat.S_IMODE(os.stat(html_path).st_mode) == stat.S_IMODE(os.stat(md_path).st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(md_path).st_mode) == 0o666 & ~umask  # what a plain open() gives, not mkstemp's 0600
    assert stat.S_IMODE(os.stat(md_path.parent).st_mode) == 0o777 & ~umask
    assert "At a glance" in html_path.read_text()


def test_report_cli_evidence_flags_and_reproduce_command(workspace):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    split = frozen_split(workspace)
    runs = [evaluate_canned(workspace, split, "base", "base", 0.2), evaluate_canned(workspace, split, "lora:a", "lora", 0.7, seed=2)]
    cmd = [sys.executable, "-m", "advisor", "--workspace", str(workspace.root), "report", "--runs", ",".join(runs),
           "--forgetting", "--oracle", "--requests-per-day", "500", "--name", "ev"]
    out = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    md = (workspace.root / "reports" / "ev" / "decision_record.md").read_text()
    assert "500 requests/day (given)" in md
    assert "## How much data would it take?" in md and "records no training configuration" in md  # canned LoRA: says why
    assert "## Knowledge or behaviour?" in md and "no RAG run among the compared systems" in md
    assert "## Forgetting" in md and "--oracle --forgetting --requests-per-day 500.0" in md
    bad = subprocess.run(cmd[:-2] + ["--prices", str(workspace.root / "missing.json")], cwd=root, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "missing.json" in bad.stderr
