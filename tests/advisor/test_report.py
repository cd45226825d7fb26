"""The comparison report and the evidence update, on constructed runs through the real contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.report_fixtures import evaluate_canned, frozen_split

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def three_runs(workspace):
    split = frozen_split(workspace, n_groups=20, per_group=10)
    base = evaluate_canned(workspace, split, "base", "base", accuracy=0.05, seed=1)
    rag = evaluate_canned(workspace, split, "rag:idx", "rag", accuracy=0.70, latency=0.05, prompt_tokens=400, seed=2)
    lora = evaluate_canned(workspace, split, "lora:a", "lora", accuracy=0.72, seed=3)
    return split, base, rag, lora


def test_numbers_match_the_leaderboard(workspace, three_runs):
    from studies.evaluation.compare import compare_runs
    from studies.results.leaderboard import Leaderboard

    _split, base, rag, lora = three_runs
    comp = compare_runs(workspace, [base, rag, lora], primary="exact_match")
    board = Leaderboard(workspace)
    for run in comp.runs:
        row_means = {m: s["mean"] for m, s in board.get(run.run_id)["metrics"].items()}
        assert set(run.scores) <= set(row_means)
        for metric, score in run.scores.items():
            assert score.mean == pytest.approx(row_means[metric])
    assert comp.best["exact_match"] in (rag, lora)
    # prompt tokens per query come from the stored predictions: RAG prompts are longer
    assert comp.run(rag).prompt_tokens == pytest.approx(400)
    assert comp.run(base).prompt_tokens == pytest.approx(20)


def test_verdict_follows_the_intervals(workspace, three_runs):
    """RAG and LoRA within noise: neither confirmed nor overturned (inconclusive, leaning to the simpler RAG),
    with the items that would settle it; base is beaten, not tied."""
    from advisor.evidence import update
    from studies.evaluation.compare import compare_runs

    _split, base, rag, lora = three_runs
    comp = compare_runs(workspace, [base, rag, lora], primary="exact_match")
    tied = comp.tied_with_best()
    assert rag in tied and lora in tied and base not in tied
    verdict = update("fine-tune", comp)
    assert verdict.final == "rag"
    assert verdict.status == "inconclusive" and "Inconclusive on exact_match" in verdict.headline
    assert any("within" in r for r in verdict.reasons)
    assert update("rag", comp).status == "inconclusive"  # the leaning is not a confirmation
    # an unresolved difference comes with what would settle it
    assert any("test items" in q or "separate" in q for q in verdict.open_questions)
    if verdict.items_needed is not None:
        assert verdict.items_needed > comp.n_items and str(verdict.items_needed) in verdict.headline
    assert verdict.metric == "exact_match" and verdict.reasons[0].startswith("Primary metric: exact_match")


def test_a_decisive_win_confirms_or_overturns_and_a_cap_is_stated(workspace):
    from advisor.evidence import update
    from studies.evaluation.compare import compare_runs

    split = frozen_split(workspace, n_groups=30, per_group=10)
    base = evaluate_canned(workspace, split, "base", "base", accuracy=0.05, seed=1)
    rag = evaluate_canned(workspace, split, "rag:idx", "rag", accuracy=0.90, seed=2)
    comp = compare_runs(workspace, [base, rag], primary="exact_match")
    assert update("rag", comp).status == "confirmed"
    assert update("prompting-first", comp).status == "overturned"
    assert update(None, comp).status == "no-initial"
    assert update("fine-tune", comp).status == "not-tested"
    assert comp.available == len(split.test) and not comp.capped
    comp.available = comp.n_items + 46  # as if the runs had been capped by --limit
    capped = update("rag", comp)
    assert "capped" in capped.sample and any("capped" in q for q in capped.open_questions)


def test_the_primary_metric_comes_from_the_task_never_the_first_shared(workspace, three_runs):
    from studies.evaluation.compare import compare_runs

    _split, base, rag, lora = three_runs
    comp = compare_runs(workspace, [base, rag, lora])
    assert comp.task == "command" and comp.primary == "chrf" and comp.primary_source == "task"
    assert compare_runs(workspace, [base, rag], primary="exact_match").primary_source == "given"


def test_clear_difference_is_called_a_win(workspace):
    from advisor.evidence import update
    from studies.evaluation.compare import compare_runs

    split = frozen_split(workspace, n_groups=30, per_group=10)
    rag = evaluate_canned(workspace, split, "rag:idx", "rag", accuracy=0.30, seed=2)
    lora = evaluate_canned(workspace, split, "lora:a", "lora", accuracy=0.90, seed=3)
    comp = compare_runs(workspace, [rag, lora], primary="exact_match")
    assert comp.tied_with_best() == [lora]
    verdict = update("rag", comp)
    assert verdict.final == "fine-tune" and verdict.status == "overturned"
    assert any("beats" in r for r in verdict.reasons)


def test_runs_on_different_splits_are_refused(workspace):
    from core.errors import EvaluationError
    from studies.evaluation.compare import compare_runs

    a = evaluate_canned(workspace, frozen_split(workspace, 10, 5), "rag:a", "rag", 0.5)
    b = evaluate_canned(workspace, frozen_split(workspace, 12, 5), "lora:b", "lora", 0.5)
    with pytest.raises(EvaluationError, match="different splits"):
        compare_runs(workspace, [a, b])


def test_report_renders_in_both_formats_with_plots(workspace, three_runs, sample_dir):
    from advisor.questions import load_answers
    from advisor.report import build_record, render_html, render_markdown, write_report

    _split, base, rag, lora = three_runs
    answers_file = sample_dir / "answers.yaml"
    answers = load_answers(answers_file) if answers_file.exists() else None
    record = build_record(workspace, [base, rag, lora], answers=answers, primary="exact_match")
    md = render_markdown(record)
    html = render_html(record)
    for run in record.comparison.runs:
        assert run.system in md
        score = run.scores["exact_match"]
        assert f"{score.mean:.3f} [{score.low:.3f}, {score.high:.3f}]" in md or f"**{score.mean:.3f}** [{score.low:.3f}, {score.high:.3f}]" in md
    assert record.verdict.headline in md
    assert html.count("data:image/png;base64,") == 3
    assert "<script" not in html
    for name, png in record.plots.items():
        assert png[:8] == b"\x89PNG\r\n\x1a\n", name
    md_path = write_report(workspace, record, "md", name="t")
    assert (md_path.parent / "metric_intervals.png").stat().st_size > 1000
    assert write_report(workspace, record, "html", name="t").read_text().startswith("<!DOCTYPE html>")


def test_report_escapes_html_in_user_data(workspace):
    from advisor.report import build_record, render_html
    from studies.evaluation.contract import evaluate
    from tests.report_fixtures import FAST_METRICS, CannedSystem

    split = frozen_split(workspace, 6, 4)
    evil = {p.input: "<script>alert(1)</script>" for p in split.test}
    good = {p.input: p.output for p in split.test}
    a = evaluate(CannedSystem("base", "base", evil), split, workspace, metrics=FAST_METRICS).run_id
    b = evaluate(CannedSystem("rag:x", "rag", good), split, workspace, metrics=FAST_METRICS).run_id
    html = render_html(build_record(workspace, [a, b], include_checks=False))
    assert "<script>alert(1)</script>" not in html


def test_report_cli(workspace, three_runs):
    _split, base, rag, lora = three_runs
    cmd = [sys.executable, "-m", "advisor", "--workspace", str(workspace.root), "report", "--runs", f"{base},{rag},{lora}", "--format", "html", "--name", "cli"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "report:" in out.stdout and (workspace.root / "reports" / "cli" / "decision_record.html").is_file()
    from studies.results.leaderboard import Leaderboard

    lines = out.stdout.splitlines()
    headline = lines[[i for i, line in enumerate(lines) if line.startswith("report:")][0] - 1]  # the verdict, readable names
    systems = [Leaderboard(workspace).get(r)["system"] for r in (base, rag, lora)]
    assert not [s for s in systems if s in headline and ":" in s], headline
    bad = subprocess.run(cmd[:-4] + ["--runs", "nope-1,nope-2"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "nope-1" in bad.stderr


def test_nothing_separates_the_runs_is_inconclusive(workspace):
    from advisor.evidence import update
    from studies.evaluation.compare import compare_runs

    split = frozen_split(workspace, 10, 5)
    runs = [evaluate_canned(workspace, split, name, kind, accuracy=0.0, seed=i) for i, (name, kind) in
            enumerate((("base", "base"), ("rag:i", "rag"), ("lora:a", "lora")))]
    verdict = update("rag", compare_runs(workspace, runs, primary="exact_match"))
    assert verdict.status == "inconclusive"
    assert "cannot confirm or overturn" in verdict.headline


def test_sweep_history_plot_renders_and_joins_the_record(workspace, three_runs):
    from advisor.plots import sweep_history
    from advisor.report import build_record, render_html, render_markdown
    from studies.results.leaderboard import Leaderboard
    from studies.results.records import RunRecord, trial_run_id

    _split, base, rag, lora = three_runs
    board = Leaderboard(workspace)
    for trial, value in enumerate([0.2, 0.35, 0.3, 0.5]):
        board.record(RunRecord(run_id=trial_run_id("sweep-a", trial), kind="lora", study="sweep-a", trial=trial,
                               split_part="validation", metrics={"exact_match": {"mean": value, "low": value, "high": value, "n": 4}}))
    png = sweep_history([{"trial": 0, "value": 0.2}, {"trial": 1, "value": 0.4}], "exact_match", "sweep-a")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    record = build_record(workspace, [base, rag, lora], primary="exact_match", include_checks=False, studies=["sweep-a"])
    assert "sweep_history_sweep-a" in record.plots
    assert "sweep_history_sweep-a.png" in render_markdown(record)
    assert render_html(record).count("data:image/png;base64,") == 4


def test_classification_record_shows_kind_primary_baselines_and_confusion(workspace):
    from advisor.report import build_record, render_markdown
    from studies.data.datasets import LoadedDataset, Pair
    from studies.data.splits import make_split, save_split
    from studies.data.validation import ValidationReport
    from studies.evaluation.contract import evaluate
    from tests.report_fixtures import CannedSystem

    labels = ["bug", "feature", "question"]
    pairs = [Pair(f"p{i}", f"ticket text {i}", labels[i % 3], group=f"g{i}") for i in range(120)]
    report = ValidationReport(source="x", format="jsonl", records=len(pairs), valid=len(pairs))
    split = make_split(LoadedDataset("tickets", pairs, report, "h", "x"), seed=0)
    save_split(workspace, split)
    right = {p.input: p.output for p in split.test}
    wrong = {p.input: "bug" for p in split.test}
    a = evaluate(CannedSystem("lora:a", "lora", right), split, workspace).run_id
    b = evaluate(CannedSystem("base", "base", wrong), split, workspace).run_id
    record = build_record(workspace, [a, b], include_checks=False)
    assert record.comparison.task == "classification" and record.comparison.primary == "accuracy"
    md = render_markdown(record)
    assert "Task kind: **classification**" in md and "Primary metric: **accuracy**" in md
    assert "Confusion matrix of lora:a" in md and "(no label)" in md and "majority class" in md
    assert record.task_reports[0]["system"] == "lora:a"


def test_runs_without_a_task_use_their_splits_else_the_report_asks_for_a_metric(workspace):
    import shutil

    from core.errors import EvaluationError
    from studies.evaluation.compare import compare_runs
    from studies.results.leaderboard import Leaderboard

    split = frozen_split(workspace, n_groups=10, per_group=5)
    a = evaluate_canned(workspace, split, "base", "base", accuracy=0.2, seed=1)
    b = evaluate_canned(workspace, split, "rag:i", "rag", accuracy=0.6, seed=2)
    with Leaderboard(workspace).connect() as con:
        con.execute("UPDATE runs SET task = NULL")  # as rows from before task kinds were recorded
    assert compare_runs(workspace, [a, b]).primary == "chrf"  # the split's task (command) decides
    shutil.rmtree(workspace.path("splits", split.version))
    with pytest.raises(EvaluationError, match="Name the primary metric.*shared metrics"):
        compare_runs(workspace, [a, b])
    assert compare_runs(workspace, [a, b], primary="exact_match").primary == "exact_match"


def test_the_record_says_when_the_judge_is_shown_for_information_and_why(workspace):
    """A judge people disagree with, named as the primary metric: the record follows the kind's metric and says why."""
    from advisor.report import build_record, render_markdown
    from studies.evaluation.judge import judge_run, load_rubric
    from tests.judge_fakes import MatchJudge
    from tests.studies.governance.test_judge_agreement import review_all

    split = frozen_split(workspace, n_groups=20, per_group=6)
    a = evaluate_canned(workspace, split, "rag:idx", "rag", accuracy=0.8, seed=1)
    b = evaluate_canned(workspace, split, "base", "base", accuracy=0.1, seed=2)
    for run in (a, b):
        judge_run(workspace, run, MatchJudge(inverted=True), load_rubric(None))
    review_all(workspace, a, b, ["ana", "bo"])
    record = build_record(workspace, [a, b], primary="judge", include_checks=False)
    text = render_markdown(record)
    assert record.verdict.metric == "chrf" and "Primary metric: **chrf**" in text
    assert "The model judge is shown for information only" in text and "below the 70% required" in text
    assert record.to_dict()["comparison"]["judge"]["status"] == "too-low"
