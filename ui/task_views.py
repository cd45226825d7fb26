"""The task kind on the app's pages: what the Data page shows and lets people override, and what the Compare
page shows for the runs' kind (primary metric first, baselines, per-class table, confusion matrix).

Every number comes from the leaderboard row (its stored set-level report) or, for rows that carry none,
from the run's stored predictions scored by :func:`studies.evaluation.tasks.task_report`: the page
renders tables, it computes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from core.workspace import Workspace

METRIC_WORDS = {
    "accuracy": "accuracy",
    "json_parse": "parse rate",
    "field_f1": "field F1",
    "json_exact": "exact match (canonical JSON)",
    "sql_match": "SQL match (canonical)",
    "normalized_exact_match": "exact match (normalised)",
    "answer_f1": "token F1",
}
"""Plain words for the kinds' metrics where the registry name reads as code."""


# ----------------------------------------------------------------------------- Data page


@dataclass(frozen=True)
class KindChoice:
    """The task the Data page will freeze a split with: the inferred one, or the person's override."""

    task: Any
    """The resolved :class:`studies.data.kinds.TaskSpec`."""
    inferred: Any
    """What the data alone say (shown beside an override)."""
    overridden: bool
    override: tuple[str | None, str | None, str | None] | None = None
    """(kind, labels, system prompt) as given, to apply again to a split's train part (None: nothing changed)."""


def choose_kind(outputs: list[str], kind: str | None = None, labels: str | None = None, system_prompt: str | None = None) -> KindChoice:
    """The inferred task of ``outputs`` and, when the person changed anything, the task with their changes."""
    from studies.data.kinds import infer_task, resolve_task

    inferred = infer_task(outputs)
    overridden = bool(kind and kind != inferred.kind) or bool((labels or "").strip()) or bool((system_prompt or "").strip())
    given = (kind or None, (labels or "").strip() or None, (system_prompt or "").strip() or None)
    task = resolve_task(outputs, *given) if overridden else inferred
    return KindChoice(task, inferred, overridden, given if overridden else None)


def label_rows(task: Any, outputs: list[str] | None = None) -> list[dict]:
    """The label set with its training counts (classification), most frequent first."""
    counts = dict(task.label_counts) if task.label_counts else dict(Counter(o.strip() for o in outputs or []))
    return [{"label": label, "pairs": int(counts.get(label, 0))} for label in task.labels]


# ----------------------------------------------------------------------------- Compare page


@dataclass
class KindView:
    """What the Compare page shows about the runs' task kind."""

    kind: str | None
    primary: str | None
    evidence: str = ""
    metric_rows: list[dict] = field(default_factory=list)
    """One row per run: the kind's metrics, primary first, each with its interval."""
    baselines: list[dict] = field(default_factory=list)
    """Classification: majority class and chance, beside every system."""
    reports: dict[str, dict] = field(default_factory=dict)
    """Classification: run id -> stored set-level report (per class, confusion, macro-F1)."""
    names: dict[str, str] = field(default_factory=dict)
    best: str | None = None
    """The run with the highest primary metric (the per-class view opens on it)."""
    problem: str = ""
    """Why the kind cannot be shown (runs of different kinds, rows from before kinds were recorded)."""

    def per_class(self, run_id: str) -> list[dict]:
        report = self.reports[run_id]
        return [{"class": label, "precision": v["precision"], "recall": v["recall"], "support": v["support"]}
                for label, v in report["per_class"].items()]

    def confusion(self, run_id: str) -> list[dict]:
        """Rows: reference label; columns: the answers (and '(no label)')."""
        report = self.reports[run_id]
        return [{"reference": label, **dict(zip(report["confusion_columns"], counts))}
                for label, counts in zip(report["labels"], report["confusion"])]


def _interval(metrics: dict, name: str) -> tuple[float | None, str]:
    m = metrics.get(name) or {}
    if m.get("mean") is None:
        return None, ""
    shown = f"[{m['low']:.3f}, {m['high']:.3f}]" if m.get("low") is not None and m.get("high") is not None else ""
    return float(m["mean"]), shown


def kind_view(ws: Workspace, rows: list[dict]) -> KindView:
    """The task kind the compared ``rows`` share, its primary metric first, and for classification the baselines
    and each run's per-class table and confusion matrix."""
    from advisor.record_summary import readable_names
    from studies.data.kinds import TaskSpec
    from studies.evaluation.run_items import run_task, run_task_report
    from studies.evaluation.tasks import metrics_for, primary_metric

    names = readable_names(rows)
    tasks = {str(r["run_id"]): run_task(ws, r) for r in rows}
    kinds = {(t.kind, t.format) if t is not None else None for t in tasks.values()}
    if len(kinds) != 1 or None in kinds:
        shown = sorted(f"{names[r]}: {t.kind if t else 'not recorded'}" for r, t in tasks.items())
        return KindView(None, None, names=names, problem="These runs do not share one task kind (" + "; ".join(shown)
                        + "), so no kind-specific view; compare runs of one data set and task.")
    task = next(t for t in tasks.values() if t is not None)
    spec = TaskSpec(task.kind, format=task.format)
    primary = primary_metric(spec)
    order = [primary] + [m for m in metrics_for(spec) if m != primary]
    metric_rows = []
    for r in rows:
        metrics = r.get("metrics") or {}
        line: dict[str, Any] = {"system": names[str(r["run_id"])], "run": r["run_id"]}
        for name in order:
            mean, shown = _interval(metrics, name)
            label = METRIC_WORDS.get(name, name)
            line[label] = mean
            line[f"{label} interval"] = shown
        metric_rows.append(line)
    scored = [(_interval(r.get("metrics") or {}, primary)[0], str(r["run_id"])) for r in rows]
    best = max((s for s in scored if s[0] is not None), default=(None, None))[1]
    view = KindView(task.kind, primary, task.evidence, metric_rows, names=names, best=best)
    if task.kind == "classification":
        for r in rows:
            report = run_task_report(ws, r, tasks[str(r["run_id"])])
            if report.get("per_class") is not None:
                view.reports[str(r["run_id"])] = report
        if view.reports:
            first = next(iter(view.reports.values()))["baselines"]
            majority = first["majority_class"]
            view.baselines = [
                {"baseline": f"majority class ('{majority['label']}')", "accuracy": majority["accuracy"]},
                {"baseline": "chance (one label at random)", "accuracy": first["chance"]["accuracy"]},
            ]
    return view
