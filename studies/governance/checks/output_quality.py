"""The quality of a run's outputs as a whole: refusals and empty answers, and groups left behind."""

from __future__ import annotations

import re

from core.errors import LeaderboardError
from studies.evaluation.run_items import primary_metric
from studies.governance.checks.catalog import CheckInputs, CheckResult, Finding, register_check

_REFUSAL = re.compile(
    r"(?i)\b(?:I'?m sorry|I am sorry|I apologi[sz]e|I can(?:not|'t|’t) (?:help|assist|provide|do|comply|answer)"
    r"|I'?m (?:not able|unable) to|I am (?:not able|unable) to|as an AI\b|as a language model|I won'?t be able"
    r"|I (?:will not|won't) (?:help|provide|do))"
)


def is_refusal(text: str) -> bool:
    """True when the output declines to answer (apology / "I cannot" / "as an AI" phrasing)."""
    return bool(_REFUSAL.search(text))


@register_check("refusals_and_empty", "share of items whose output is empty or a refusal", 0.05, "outputs")
def _refusals(inputs: CheckInputs, threshold: float) -> CheckResult:
    findings = []
    for item in inputs.items:
        if not item.shown.strip():
            findings.append(Finding(item.item_id, "empty", ""))
        elif is_refusal(item.shown):
            findings.append(Finding(item.item_id, "refusal", item.shown.strip()[:120]))
    n = len(inputs.items)
    value = len(findings) / n if n else 0.0
    details = {"items": n, "empty": sum(f.rule == "empty" for f in findings), "refusals": sum(f.rule == "refusal" for f in findings)}
    return CheckResult("refusals_and_empty", value <= threshold, value, threshold, findings, details)


@register_check(
    "group_balance",
    "largest gap between a group's mean primary metric and the mean of all other items (groups with enough items)",
    0.25,
    "outputs",
)
def _group_balance(inputs: CheckInputs, threshold: float) -> CheckResult:
    name = "group_balance"
    try:
        metric = primary_metric(inputs.items, inputs.config.primary_metric) if inputs.items else None
    except LeaderboardError as exc:
        return CheckResult(name, True, 0.0, threshold, skipped=str(exc))
    scored = [i for i in inputs.items if metric and metric in i.metrics and i.group is not None]
    groups: dict[str, list[float]] = {}
    for item in scored:
        groups.setdefault(item.group or "", []).append(item.metrics[metric or ""])
    eligible = {g: v for g, v in groups.items() if len(v) >= inputs.config.group_min_items}
    if metric is None or len(eligible) < 2:
        why = "no per-item metric stored" if metric is None else f"fewer than 2 groups with >= {inputs.config.group_min_items} items"
        return CheckResult(name, True, 0.0, threshold, skipped=why, details={"metric": metric, "groups": len(groups)})
    total = sum(sum(v) for v in groups.values())
    count = sum(len(v) for v in groups.values())
    gaps: dict[str, dict[str, float]] = {}
    for group, values in eligible.items():
        mean = sum(values) / len(values)
        rest = (total - sum(values)) / (count - len(values))
        gaps[group] = {"mean": mean, "rest_mean": rest, "gap": rest - mean, "n": len(values)}
    worst = max(gaps, key=lambda g: gaps[g]["gap"])
    value = max(0.0, gaps[worst]["gap"])
    findings = [
        Finding(g, "weak_group", f"{metric} {s['mean']:.3f} vs {s['rest_mean']:.3f} for the rest (n={int(s['n'])})", "group")
        for g, s in sorted(gaps.items(), key=lambda kv: -kv[1]["gap"])
        if s["gap"] > threshold
    ]
    details = {"metric": metric, "worst_group": worst, "groups": gaps}
    return CheckResult(name, value <= threshold, value, threshold, findings, details)
