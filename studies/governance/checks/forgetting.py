"""Forgetting: a fine-tuned run that lost general ability against its base model does not get promoted.

Reads the result :mod:`studies.evaluation.forgetting` stored beside the run (``forgetting.json``);
the value is the mean drop on the general held-out set, the threshold the tolerance.
"""

from __future__ import annotations

from core.errors import AdvisorError
from studies.evaluation.forgetting import TOLERANCE, load_forgetting
from studies.governance.checks.catalog import CheckInputs, CheckResult, Finding, register_check


@register_check("forgetting", "mean drop of a fine-tuned run below its base model on the general held-out set", TOLERANCE, "run")
def _forgetting(inputs: CheckInputs, threshold: float) -> CheckResult:
    name = "forgetting"
    try:
        result = load_forgetting(inputs.workspace, inputs.run_id or "")
    except AdvisorError as exc:
        return CheckResult(name, False, 0.0, threshold, [Finding(inputs.run_id or "", "unreadable", str(exc)[:200], "run")])
    if result is None:
        return CheckResult(name, True, 0.0, threshold, skipped="not measured for this run (`advisor report --forgetting` measures fine-tuned runs)")
    passed = result.drop <= threshold
    details = {"base": result.base, "base_score": result.base_score, "tuned_score": result.tuned_score, "metric": result.metric,
               "items": result.n, "interval": [result.drop_low, result.drop_high], "sentence": result.sentence}
    findings = [] if passed else [Finding(result.run_id, "general-drop", result.sentence, "run")]
    return CheckResult(name, passed, result.drop, threshold, findings, details)
