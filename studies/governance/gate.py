"""The promotion gate: may this run be accepted into the registry?

A run passes when all three hold:

1. **Metrics**: every acceptance threshold is met. ``thresholds`` maps a metric name to its
   minimum (``{"chrf": 0.45}``: the run's mean chrF must be >= 0.45). Cost and latency columns
   (``latency_s``, ``latency_p95_s``, ``money_usd``, ``gpu_hours``, ``cpu_hours``,
   ``train_tokens``) are maximums; a ``min:``/``max:`` prefix forces the direction
   (``{"max:chrf": 0.99}``). With ``bound="low"`` the lower end of the bootstrap interval must
   meet a minimum (and the upper end a maximum) instead of the mean. Metric values come from the
   leaderboard row; a run not on the leaderboard falls back to the means of its stored
   per-item metrics (``details["metrics_source"]`` says which). A missing metric fails.
2. **Checks**: every responsible-AI check (:mod:`studies.governance.checks`) passes, or its failure is
   waived with a non-empty reason (``waivers={"dangerous_commands": "references show mkfs"}``).
   Only check failures can be waived: a metric threshold or a missing review cannot (change the
   plan instead). A waiver naming an unknown check is an error; a waiver for a check that passed
   is recorded as not applied.
3. **Human review** (when ``require_review``): at least ``min_reviews`` blind judgements
   (skips excluded) that involve the run are stored.

Every verdict and every waiver are stored (tables ``gate_verdicts`` and ``gate_waivers`` in the
leaderboard file) unless ``record=False``; :func:`verdicts` reads them back for the decision record.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from core.errors import ConfigError, GateError, LeaderboardError
from core.workspace import Workspace
from studies.evaluation.run_items import load_run_items
from studies.governance.checks import CHECKS, CheckResult, ChecksConfig, run_checks
from studies.governance.review_store import connect
from studies.governance.run_view import LOWER_IS_BETTER, RunView, read_run, training_data_of
from studies.results.records import utc_now
from studies.results.schema import transaction

DEFAULT_MIN_REVIEWS = 5
"""Blind judgements needed when review is required (override with ``min_reviews``)."""


@dataclass
class GateVerdict:
    """The gate's decision: ``failures`` lists what blocks the run (empty when it passed)."""

    passed: bool
    failures: list[str]
    """``metric:<name>``, ``check:<name>`` or ``review`` for every unmet, unwaived condition."""
    waivers: dict[str, str]
    """Waivers applied to failed checks, ``{check name: reason}``."""
    details: dict[str, Any] = field(default_factory=dict)
    """Per-condition evidence: metric values vs thresholds, check results, review counts."""
    verdict_id: str | None = None
    run_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One paragraph for messages: what passed, what failed and why."""
        if self.passed:
            waived = f" (waived: {', '.join(f'{k}: {v}' for k, v in self.waivers.items())})" if self.waivers else ""
            return f"Run {self.run_id} passes the gate{waived}."
        lines = [f"Run {self.run_id} does not pass the gate:"]
        for failure in self.failures:
            lines.append(f"  - {failure}: {self.details.get('reasons', {}).get(failure, '')}".rstrip(": "))
        lines.append(
            "Fix the run, waive a failed check with a reason (only checks can be waived), or record the missing "
            "human review (`advisor review RUN_A RUN_B --reviewer NAME`)."
        )
        return "\n".join(lines)


def _direction(key: str) -> tuple[str, str]:
    if key.startswith("min:"):
        return key[4:], "min"
    if key.startswith("max:"):
        return key[4:], "max"
    return key, ("max" if key in LOWER_IS_BETTER else "min")


def _from_plan(
    plan: Any, thresholds: Mapping[str, float] | None, require_review: bool, checks_config: ChecksConfig | None
) -> tuple[Mapping[str, float] | None, bool, ChecksConfig | None]:
    if plan is None:
        return thresholds, require_review, checks_config
    if thresholds is None:
        thresholds = getattr(plan, "thresholds", None) or getattr(plan, "acceptance", None) or None
        if thresholds is not None and not isinstance(thresholds, Mapping):
            raise ConfigError(f"plan.thresholds must be a mapping of metric -> number, got {type(thresholds).__name__}.")
    require_review = bool(require_review or getattr(plan, "human_review", False))
    if checks_config is None:
        names = getattr(plan, "checks", None)
        checks_config = ChecksConfig(
            only=list(names) if names is not None else None, primary_metric=getattr(plan, "primary_metric", None)
        )
    return thresholds, require_review, checks_config


def _check_waivers(waivers: Mapping[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, reason in (waivers or {}).items():
        key = name[6:] if name.startswith("check:") else name
        if key not in CHECKS:
            waivable = ", ".join(CHECKS)
            raise ConfigError(
                f"Cannot waive {name!r}: only failed checks can be waived ({waivable}); metric thresholds and "
                "human review cannot be waived: change the plan instead."
            )
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigError(f"Waiver for {key!r} needs a reason: say why this failure is acceptable.")
        out[key] = reason.strip()
    return out


def check(
    ws: Workspace,
    run_id: str,
    thresholds: Mapping[str, float] | None = None,
    require_review: bool = False,
    waivers: Mapping[str, str] | None = None,
    *,
    plan: Any = None,
    checks_config: ChecksConfig | None = None,
    data: Sequence[Any] | None = None,
    min_reviews: int = DEFAULT_MIN_REVIEWS,
    bound: str = "mean",
    decided_by: str | None = None,
    record: bool = True,
) -> GateVerdict:
    """Decide whether ``run_id`` may be accepted (see module doc); stores the verdict unless ``record=False``.

    ``plan``: any object with the advisor Plan's attributes (``thresholds``/``acceptance``,
    ``human_review``, ``checks``, ``primary_metric``), read by duck typing (studies never imports
    advisor); it fills ``thresholds`` when None, turns ``require_review`` on when the plan asks for
    review, and selects the checks when ``checks_config`` is None.
    ``data``: training data for the data checks (default: the run's split train part when it is a
    fine-tune). Raises :class:`GateError` only for a run that cannot be judged at all (no
    predictions); an unmet condition is a failed verdict, not an exception.
    """
    thresholds, require_review, checks_config = _from_plan(plan, thresholds, require_review, checks_config)
    if bound not in {"mean", "low"}:
        raise ConfigError(f"bound must be 'mean' or 'low', but got {bound!r}.")
    if min_reviews < 1:
        raise ConfigError(f"min_reviews must be >= 1, but got {min_reviews}.")
    applied_waivers = _check_waivers(waivers)
    try:
        items = load_run_items(ws, run_id)
    except LeaderboardError as exc:
        raise GateError(f"The gate cannot judge run {run_id!r}: {exc}") from exc
    run = read_run(ws, run_id, items)
    data_source = "given"
    if data is None:
        data, data_source = training_data_of(ws, run)

    failures = _Failures()
    details: dict[str, Any] = {"reasons": failures.reasons, "metrics_source": run.metrics_source}
    details["metrics"] = _judge_metrics(run, thresholds or {}, bound, failures)
    details["training_data"] = data_source
    results = run_checks(items, data, checks_config, run_id=run_id, workspace=ws)
    details["checks"] = [r.to_dict() for r in results]
    used = _judge_checks(results, applied_waivers, failures)
    details["unused_waivers"] = sorted(k for k, was_used in used.items() if not was_used)
    details["review"] = _judge_review(ws, run_id, min_reviews, failures) if require_review else {"required": False}

    verdict = GateVerdict(
        passed=not failures.labels,
        failures=failures.labels,
        waivers={k: v for k, v in applied_waivers.items() if used[k]},
        details=details,
        run_id=run_id,
    )
    if record:
        _store(ws, verdict, applied_waivers, used, decided_by)
    return verdict


@dataclass
class _Failures:
    """Unmet, unwaived conditions in the order they were found, each with its reason."""

    labels: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)

    def add(self, label: str, reason: str) -> None:
        self.labels.append(label)
        self.reasons[label] = reason


def _judge_metrics(run: RunView, thresholds: Mapping[str, float], bound: str, failures: _Failures) -> dict[str, Any]:
    """1. Every threshold against the run's metrics; returns the per-metric evidence."""
    evidence: dict[str, Any] = {}
    for key, limit in thresholds.items():
        name, direction = _direction(key)
        stats = run.metrics.get(name)
        label = f"metric:{name}"
        if stats is None:
            failures.add(label, f"not measured for this run (measured: {', '.join(sorted(run.metrics)) or 'none'})")
            evidence[name] = {"threshold": float(limit), "direction": direction, "value": None, "passed": False}
            continue
        value = stats["mean"]
        if bound == "low":
            end = stats.get("low") if direction == "min" else stats.get("high")
            value = value if end is None else end
        ok = value >= limit if direction == "min" else value <= limit
        evidence[name] = {"threshold": float(limit), "direction": direction, "value": float(value), "bound": bound, "passed": ok}
        if not ok:
            failures.add(label, f"{bound} {value:.4g} does not meet {'>=' if direction == 'min' else '<='} {limit:g}")
    return evidence


def _judge_checks(results: Sequence[CheckResult], waivers: Mapping[str, str], failures: _Failures) -> dict[str, bool]:
    """2. Every failed check is a failure unless waived; returns ``{waived check: whether the waiver was used}``."""
    used = {name: False for name in waivers}
    for result in results:
        if result.passed:
            continue
        if result.name in waivers:
            used[result.name] = True
            continue
        why = f"value {result.value:.4g} > threshold {result.threshold:g} ({len(result.findings)} finding(s))"
        run_level = [f.snippet for f in result.findings if f.where == "run"]
        failures.add(f"check:{result.name}", f"{why}: {run_level[0]}" if run_level else why)
    return used


def _judge_review(ws: Workspace, run_id: str, min_reviews: int, failures: _Failures) -> dict[str, Any]:
    """3. Enough blind judgements involving the run (skips excluded); returns the counts."""
    from studies.governance.review import review_count

    per_reviewer = review_count(ws, run_id)
    total = sum(per_reviewer.values())
    if total < min_reviews:
        failures.add("review", f"{total} blind judgement(s) stored, {min_reviews} required")
    return {"required": True, "min_reviews": min_reviews, "judgements": total, "reviewers": per_reviewer}


def _store(ws: Workspace, verdict: GateVerdict, waivers: Mapping[str, str], applied: Mapping[str, bool], by: str | None) -> None:
    verdict.verdict_id = f"{utc_now():%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
    with connect(ws) as con, transaction(con):
        con.execute(
            "INSERT INTO gate_verdicts VALUES (?, ?, ?, ?, ?, ?, ?)",
            [verdict.verdict_id, verdict.run_id, verdict.passed, json.dumps(verdict.failures),
             json.dumps(verdict.details, default=str), by, utc_now()],
        )  # fmt: skip
        for name, reason in waivers.items():
            con.execute(
                "INSERT INTO gate_waivers VALUES (?, ?, ?, ?, ?)", [verdict.verdict_id, verdict.run_id, name, reason, applied[name]]
            )


def verdicts(ws: Workspace, run_id: str | None = None) -> list[dict[str, Any]]:
    """Stored verdicts (oldest first) with their waivers, for the decision record."""
    sql = "SELECT verdict_id, run_id, passed, failures, details, decided_by, decided_at FROM gate_verdicts"
    params: list[Any] = []
    if run_id is not None:
        sql += " WHERE run_id = ?"
        params.append(run_id)
    with connect(ws) as con:
        rows = con.execute(sql + " ORDER BY decided_at, verdict_id", params).fetchall()
        waiver_rows = con.execute("SELECT verdict_id, name, reason, applied FROM gate_waivers ORDER BY verdict_id, name").fetchall()
    by_verdict: dict[str, list[dict[str, Any]]] = {}
    for verdict_id, name, reason, was_applied in waiver_rows:
        by_verdict.setdefault(verdict_id, []).append({"name": name, "reason": reason, "applied": bool(was_applied)})
    return [
        {
            "verdict_id": v, "run_id": r, "passed": bool(p), "failures": json.loads(f), "details": json.loads(d),
            "decided_by": by, "decided_at": at, "waivers": by_verdict.get(v, []),
        }
        for v, r, p, f, d, by, at in rows
    ]  # fmt: skip


def latest_verdict(ws: Workspace, run_id: str) -> dict[str, Any] | None:
    """The most recent stored verdict of a run, or None."""
    found = verdicts(ws, run_id)
    return found[-1] if found else None


def require(ws: Workspace, run_id: str, **kwargs: Any) -> GateVerdict:
    """:func:`check`, raising :class:`GateError` with the verdict's summary when the run does not pass."""
    verdict = check(ws, run_id, **kwargs)
    if not verdict.passed:
        raise GateError(verdict.summary())
    return verdict


# --------------------------------------------------------------------------- the verdict in words
# Added for the app (issue 23): reads a verdict only, so the gate's logic above can change freely.


@dataclass(frozen=True)
class GateLine:
    """One condition the gate applied (or could not apply), for people to read."""

    condition: str
    """``metric:<name>``, ``check:<name>``, ``review`` or ``thresholds``."""
    outcome: str
    """``passed``, ``failed``, ``waived``, ``skipped`` or ``not set``."""
    detail: str


def explain(verdict: GateVerdict) -> list[GateLine]:
    """Every condition of ``verdict`` with its outcome and evidence, including the ones it had nothing to apply
    (no thresholds: the run was not started from a plan with acceptance thresholds, and none were given)."""
    d = verdict.details
    lines: list[GateLine] = []
    metrics = d.get("metrics") or {}
    if not metrics:
        lines.append(GateLine("thresholds", "not set", "no metric threshold applied: the run was not started from a "
                              "plan with acceptance thresholds and none were given, so its scores were not judged"))
    for name, m in metrics.items():
        sign = ">=" if m.get("direction") == "min" else "<="
        value = "not measured" if m.get("value") is None else f"{m.get('bound', 'mean')} {m['value']:.4g}"
        lines.append(GateLine(f"metric:{name}", "passed" if m.get("passed") else "failed",
                              f"{value}, required {sign} {m['threshold']:g}"))
    for c in d.get("checks") or []:
        name = c["name"]
        if c.get("skipped"):
            outcome, detail = "skipped", str(c["skipped"])
        else:
            outcome = "passed" if c["passed"] else ("waived" if name in verdict.waivers else "failed")
            detail = f"value {c['value']:.4g}, threshold {c['threshold']:g}, {len(c.get('findings') or [])} finding(s)"
            if outcome == "waived":
                detail += f"; waived: {verdict.waivers[name]}"
        lines.append(GateLine(f"check:{name}", outcome, detail))
    review = d.get("review") or {}
    if review.get("required"):
        ok = review.get("judgements", 0) >= review.get("min_reviews", DEFAULT_MIN_REVIEWS)
        lines.append(GateLine("review", "passed" if ok else "failed",
                              f"{review.get('judgements', 0)} blind judgement(s), {review.get('min_reviews')} required"))
    else:
        lines.append(GateLine("review", "not set", "human review not required for this run"))
    return lines
