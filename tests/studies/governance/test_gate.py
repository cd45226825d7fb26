"""The promotion gate: refusing a run, then accepting it after a waiver or after human review.

Runs are made through the real evaluation contract (studies.evaluation.contract.evaluate) with tiny fake
systems on the bundled sample's split, so predictions.jsonl and the leaderboard rows are the real ones.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from core.errors import ConfigError, GateError
from studies.governance import gate
from studies.governance.run_view import read_run
from studies.evaluation.run_items import write_run_items

METRICS = ["exact_match", "chrf", "command_program"]


class FakeSystem:
    """Answers from a table (input -> raw output); learned nothing unless ``trained`` is given."""

    def __init__(self, kind: str, answers: dict[str, str], trained: tuple[str, set[str]] | None = None):
        self.kind = kind
        self.name = f"fake:{kind}"
        self.answers = answers
        self.trained = trained

    def config(self) -> dict[str, Any]:
        return {"fake": True}

    def trained_on(self):
        return self.trained

    def predict(self, inputs: Sequence[str], settings: Any):
        from studies.evaluation.systems import Prediction

        return [Prediction(raw=self.answers.get(q, "ls"), latency_s=0.01) for q in inputs]


@pytest.fixture(scope="module")
def split(sample_pairs):
    from studies.data.datasets import load_pairs
    from studies.data.splits import make_split

    return make_split(load_pairs(sample_pairs), seed=0)


def evaluate(ws, split, run_id: str, kind: str, answer, trained=None):
    from studies.evaluation.contract import evaluate as run_eval

    answers = {p.input: answer(i, p) for i, p in enumerate(split.test)}
    return run_eval(FakeSystem(kind, answers, trained), split, ws, metrics=METRICS, run_id=run_id)


def good(i, pair):
    return f"Use this:\n```\n{pair.output}\n```"


def risky(i, pair):
    return "curl -fsSL https://get.example.sh | sh" if i % 25 == 0 else good(i, pair)  # 3 items, 3 groups


def weak(i, pair):
    return "ls"


def test_gate_refuses_a_failed_check_then_accepts_with_a_waiver(workspace, split):
    from studies.results.leaderboard import Leaderboard
    from studies.governance.registry import accept

    evaluate(workspace, split, "rag-risky", "rag", risky)
    verdict = gate.check(workspace, "rag-risky", {"exact_match": 0.5})
    assert not verdict.passed
    assert verdict.failures == ["check:dangerous_commands"]
    dangerous = next(c for c in verdict.details["checks"] if c["name"] == "dangerous_commands")
    assert dangerous["value"] == pytest.approx(3 / len(split.test))
    assert {f["rule"] for f in dangerous["findings"]} == {"pipe_to_shell"}
    assert "dangerous_commands" in verdict.summary()

    # Accepting goes through the same gate: refused, nothing changes.
    with pytest.raises(GateError, match="dangerous_commands"):
        accept(workspace, "rag-risky", "lead", "looks good", thresholds={"exact_match": 0.5})
    assert Leaderboard(workspace).get("rag-risky")["status"] == "candidate"

    reason = "the 3 install one-liners are vendor-documented; users are told to read scripts first"
    row = accept(workspace, "rag-risky", "lead", "meets the bar", thresholds={"exact_match": 0.5},
                 waivers={"dangerous_commands": reason})  # fmt: skip
    assert row["status"] == "accepted"

    stored = gate.verdicts(workspace, "rag-risky")
    assert [v["passed"] for v in stored] == [False, False, True]
    last = stored[-1]
    assert last["decided_by"] == "lead"
    assert last["waivers"] == [{"name": "dangerous_commands", "reason": reason, "applied": True}]
    assert last["details"]["metrics"]["exact_match"]["passed"] is True
    assert gate.latest_verdict(workspace, "rag-risky")["verdict_id"] == last["verdict_id"]


def test_gate_requires_review_then_accepts_after_review(workspace, split):
    from studies.governance.review import start_session

    evaluate(workspace, split, "rag-good", "rag", good)
    evaluate(workspace, split, "base-weak", "base", weak)
    verdict = gate.check(workspace, "rag-good", {"exact_match": 0.9}, require_review=True, min_reviews=5)
    assert verdict.failures == ["review"]
    assert verdict.details["review"] == {"required": True, "min_reviews": 5, "judgements": 0, "reviewers": {}}

    session = start_session(workspace, "rag-good", "base-weak", "alice", seed=0, limit=6)
    session.record(session.items[0], "skip")  # skips do not count
    for item in session.items[1:]:
        session.record(item, "left" if item.left_run == "rag-good" else "right")
    verdict = gate.check(workspace, "rag-good", {"exact_match": 0.9}, require_review=True, min_reviews=5)
    assert verdict.passed, verdict.summary()
    assert verdict.details["review"]["reviewers"] == {"alice": 5}


def test_metric_failures_cannot_be_waived_and_waivers_need_reasons(workspace, split):
    evaluate(workspace, split, "base-weak", "base", weak)
    verdict = gate.check(workspace, "base-weak", {"exact_match": 0.3, "bleu": 0.1})
    assert "metric:exact_match" in verdict.failures and "metric:bleu" in verdict.failures
    assert "not measured" in verdict.details["reasons"]["metric:bleu"]
    with pytest.raises(ConfigError, match="only failed checks can be waived"):
        gate.check(workspace, "base-weak", {"exact_match": 0.3}, waivers={"metric:exact_match": "close enough"})
    with pytest.raises(ConfigError, match="needs a reason"):
        gate.check(workspace, "base-weak", waivers={"dangerous_commands": "  "})
    # A waiver for a check that passed is recorded as not applied.
    verdict = gate.check(workspace, "base-weak", waivers={"check:secrets_in_outputs": "n/a"}, checks_config=None)
    assert verdict.waivers == {} and verdict.details["unused_waivers"] == ["secrets_in_outputs"]
    stored = gate.latest_verdict(workspace, "base-weak")
    assert stored["waivers"] == [{"name": "secrets_in_outputs", "reason": "n/a", "applied": False}]


def test_maximum_thresholds_interval_bound_and_plan_object(workspace, split):
    evaluate(workspace, split, "rag-good", "rag", good)
    assert gate.check(workspace, "rag-good", {"latency_s": 1.0, "max:command_program": 1.0}).passed
    failed = gate.check(workspace, "rag-good", {"latency_s": 0.001})
    assert failed.failures == ["metric:latency_s"] and failed.details["metrics"]["latency_s"]["direction"] == "max"
    # With bound="low" the interval's lower end must meet the minimum.
    mean = failed.details["metrics"]["latency_s"]["value"]
    assert mean <= 1.0
    chrf = read_run(workspace, "rag-good").metrics["chrf"]
    between = (chrf["low"] + chrf["mean"]) / 2 if chrf["low"] < chrf["mean"] else chrf["mean"]
    assert gate.check(workspace, "rag-good", {"chrf": between}, record=False).passed
    if chrf["low"] < chrf["mean"]:
        assert not gate.check(workspace, "rag-good", {"chrf": between}, bound="low", record=False).passed
    # A plan-like object (the advisor's Plan, duck-typed): thresholds, review, checks, primary metric.
    plan = SimpleNamespace(thresholds={"exact_match": 0.5}, human_review=True, checks=["secrets_in_outputs"], primary_metric="exact_match")
    verdict = gate.check(workspace, "rag-good", plan=plan, record=False)
    assert verdict.failures == ["review"]
    assert [c["name"] for c in verdict.details["checks"]] == ["secrets_in_outputs"]


def test_training_data_checks_use_the_split_or_given_data(workspace, split):
    from studies.data.splits import save_split

    save_split(workspace, split)
    evaluate(workspace, split, "lora-good", "lora", good, trained=(split.version, split.groups("train")))
    verdict = gate.check(workspace, "lora-good", record=False)
    assert verdict.details["training_data"] == f"train part of split {split.version}"
    pii = next(c for c in verdict.details["checks"] if c["name"] == "personal_data_in_data")
    assert pii["skipped"] is None
    planted = [{"id": "t1", "input": "connect", "output": "PGPASSWORD=hunter2 psql -h db"}]
    verdict = gate.check(workspace, "lora-good", data=planted, record=False)
    assert "check:secrets_in_data" in verdict.failures
    # A RAG run has no training data: data checks are skipped, not failed.
    evaluate(workspace, split, "rag-good", "rag", good)
    verdict = gate.check(workspace, "rag-good", record=False)
    assert "not fine-tuned" in verdict.details["training_data"]


def test_runs_off_the_leaderboard_and_missing_runs(workspace):
    write_run_items(workspace, "imported", [
        {"item_id": f"i{k}", "input": "q", "raw": "ls", "reference": "ls", "metrics": {"chrf": 0.5 + k / 10}} for k in range(3)
    ])  # fmt: skip
    verdict = gate.check(workspace, "imported", {"chrf": 0.55})
    assert verdict.passed and verdict.details["metrics_source"] == "predictions"
    assert verdict.details["metrics"]["chrf"]["value"] == pytest.approx(0.6)
    with pytest.raises(GateError, match="cannot judge"):
        gate.check(workspace, "never-evaluated")
    with pytest.raises(ConfigError):
        gate.check(workspace, "imported", bound="median")
    with pytest.raises(GateError, match="does not pass"):
        gate.require(workspace, "imported", thresholds={"chrf": 0.9})


def test_cli_accept_goes_through_the_gate(workspace, split, capsys):
    from advisor.cli import main

    evaluate(workspace, split, "rag-risky", "rag", risky)
    base = ["--workspace", str(workspace.root), "accept", "rag-risky", "--by", "lead", "--reason", "ok"]
    assert main(base) == 2
    assert "dangerous_commands" in capsys.readouterr().err
    assert main([*base, "--waive", "dangerous_commands=documented install scripts", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "accepted"
    assert gate.latest_verdict(workspace, "rag-risky")["waivers"][0]["reason"] == "documented install scripts"


def test_every_fine_tune_is_one_for_the_data_checks_and_the_registry(workspace, split):
    """The gate and the registry agree on what a fine-tune is (a full fine-tune has training data too)."""
    from studies.data.splits import save_split
    from studies.governance.registry import is_fine_tune
    from studies.results.leaderboard import Leaderboard

    save_split(workspace, split)
    evaluate(workspace, split, "full-good", "full", good, trained=(split.version, split.groups("train")))
    assert is_fine_tune(Leaderboard(workspace).get("full-good"))
    verdict = gate.check(workspace, "full-good", record=False)
    assert verdict.details["training_data"] == f"train part of split {split.version}"


def test_a_decision_reads_the_leaderboard_row_once(workspace, split, monkeypatch):
    from studies.results.leaderboard import Leaderboard

    evaluate(workspace, split, "rag-good", "rag", good)
    reads = []
    real_get = Leaderboard.get
    monkeypatch.setattr(Leaderboard, "get", lambda self, run_id: reads.append(run_id) or real_get(self, run_id))
    plan = SimpleNamespace(thresholds={"chrf": 0.1, "latency_s": 5.0}, human_review=False, checks=None, primary_metric="chrf")
    assert gate.check(workspace, "rag-good", plan=plan, record=False).passed
    assert reads == ["rag-good"]
