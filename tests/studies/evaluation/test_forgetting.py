"""Forgetting: the shipped general set, the paired drop, storage, and the gate refusing a run that forgot."""

from __future__ import annotations

import json

import pytest

from core.errors import EvaluationError
from studies.evaluation.forgetting import (
    FORGETTING_FILE,
    GENERAL_SET,
    compare_general,
    load_forgetting,
    load_general_set,
    measure_forgetting,
)
from studies.evaluation.systems import Prediction


def test_shipped_general_set_is_attributed_and_valid():
    pairs = load_general_set()
    assert 50 <= len(pairs) <= 100
    assert len({p.id for p in pairs}) == len(pairs) and all(p.output.strip() for p in pairs)
    readme = (GENERAL_SET.parent / "README.md").read_text()
    assert "Python Software Foundation" in readme and "PSF-2.0" in readme


def test_drop_by_hand():
    # base 1,1,1,1 and tuned 1,1,0,0: mean drop 0.5, beyond a 0.05 tolerance.
    r = compare_general("r1", "lora:x", "base", [1, 1, 0, 0], [1, 1, 1, 1])
    assert (r.base_score, r.tuned_score, r.drop) == (1.0, 0.5, 0.5)
    assert r.drop_low <= 0.5 <= r.drop_high and not r.passed and "beyond the tolerance" in r.sentence
    assert compare_general("r2", "l", "b", [0.5, 0.52], [0.5, 0.5]).passed
    with pytest.raises(EvaluationError, match="same non-empty general items"):
        compare_general("r", "l", "b", [1], [1, 1])


class Echo:
    """A fake system: answers each question with a fixed text (or the reference when ``good``)."""

    def __init__(self, name, answers):
        self.name, self.answers = name, answers

    def predict(self, inputs, settings):
        return [Prediction(self.answers.get(q, "nothing"), 0.01) for q in inputs]


def test_measure_stores_and_the_gate_refuses_with_the_reason(workspace, sample_pairs):
    from studies.data.datasets import load_pairs
    from studies.data.splits import make_split, save_split
    from studies.evaluation.contract import evaluate
    from studies.governance.gate import check

    pairs = load_general_set()[:6]
    base = Echo("base", {p.input: p.output for p in pairs})
    tuned = Echo("lora:forgetful", {})
    split = make_split(load_pairs(sample_pairs), seed=0)
    save_split(workspace, split)

    class Fixed:
        name, kind = "lora:forgetful", "lora"

        def config(self):
            return {"method": "lora"}

        def trained_on(self):
            return None

        def predict(self, inputs, settings):
            return [Prediction("`ls`", 0.01) for _ in inputs]

    run = evaluate(Fixed(), split, workspace, metrics=["chrf"], limit=4)
    assert check(workspace, run.run_id, record=False).details["checks"][-1]["skipped"].startswith("not measured")
    result = measure_forgetting(workspace, run.run_id, tuned, base, limit=6)
    assert result.drop > 0.5 and not result.passed
    stored = json.loads(workspace.path("runs", run.run_id, FORGETTING_FILE).read_text())
    assert len(stored["items"]["tuned"]) == 6 and load_forgetting(workspace, run.run_id) == result
    verdict = check(workspace, run.run_id, record=False)
    assert not verdict.passed and "check:forgetting" in verdict.failures
    assert "general held-out set" in verdict.details["reasons"]["check:forgetting"]
