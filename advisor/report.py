"""The decision record: one document for the review meeting, in Markdown and self-contained HTML.

It holds the questionnaire answers and the initial recommendation, the data set version and its
readiness, the systems compared (configs, seeds), metrics with intervals and paired differences,
costs to build and to serve, wins and losses per group, side-by-side examples, plots, human-review
and responsible-AI results where present, the evidence-updated verdict, and who accepted what and
when. The numbers come from the leaderboard and the stored predictions, never retyped.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.atomic import atomic_write_text
from core.errors import AdvisorError
from core.workspace import Workspace, safe_name, slugify

from advisor.evidence import OPTION_WORDS, Verdict, update

if TYPE_CHECKING:  # pragma: no cover
    from studies.evaluation.compare import RunComparison

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass
class DecisionRecord:
    """Everything the report shows; rendered by :func:`render_markdown` and :func:`render_html`."""

    title: str
    generated_at: str
    comparison: "RunComparison"
    verdict: Verdict
    answers: list[dict[str, str]] = field(default_factory=list)
    """Questionnaire answers as (question, answer) in plain words."""
    recommendation: dict[str, Any] | None = None
    dataset: dict[str, Any] = field(default_factory=dict)
    plots: dict[str, bytes] = field(default_factory=dict)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    checks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    gates: dict[str, dict[str, Any]] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    """Accept / reject decisions on the compared runs: who, when, why."""
    sweeps: list[dict[str, Any]] = field(default_factory=list)
    page: Any = None
    """The first screen (:class:`advisor.record_summary.OnePage`): readable names, metric bars, cost, p95, verdict."""
    evidence: dict[str, Any] = field(default_factory=dict)
    """Learning curve, oracle split, forgetting (:mod:`advisor.meeting_evidence`), where asked for."""
    task_reports: list[dict[str, Any]] = field(default_factory=list)
    """Set-level results per run for the kind (classification: macro-F1, baselines, per-class, confusion), best first."""
    retrieval: list[dict[str, Any]] = field(default_factory=list)
    """Retrieval hit@k of the gold document per document-RAG run (a plan for cited answers asks for it)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "generated_at": self.generated_at,
            "comparison": self.comparison.to_dict(),
            "verdict": self.verdict.to_dict(),
            "answers": self.answers,
            "recommendation": self.recommendation,
            "dataset": self.dataset,
            "reviews": self.reviews,
            "checks": self.checks,
            "gates": self.gates,
            "decisions": self.decisions,
            "plots": sorted(self.plots),
            "one_page": _plain(self.page),
            "evidence": self.evidence,
            "task_reports": self.task_reports,
            "retrieval": self.retrieval,
        }


def _plain(obj: Any) -> Any:
    import dataclasses

    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj


def _answers_in_words(answers: dict[str, Any]) -> list[dict[str, str]]:
    from advisor.questions import load_questionnaire

    qn = load_questionnaire()
    out = []
    for qid, value in answers.items():
        if qid in qn:
            q = qn.get(qid)
            shown = ", ".join(q.label_of(v) for v in value) if isinstance(value, list) else q.label_of(value)
            out.append({"id": qid, "question": q.text, "answer": str(shown)})
        else:
            out.append({"id": qid, "question": qid, "answer": str(value)})
    return out


def _dataset_info(ws: Workspace, comparison: "RunComparison") -> dict[str, Any]:
    info: dict[str, Any] = {
        "name": comparison.dataset_name,
        "version": comparison.dataset_version,
        "split_version": comparison.split_version,
        "part": comparison.part,
        "n_items": comparison.n_items,
    }
    try:
        from studies.data.splits import load_split

        split = load_split(ws, comparison.split_version)
        info["counts"] = split.counts()
        info["seed"] = split.seed
        info["groups"] = {p: len(split.groups(p)) for p in ("train", "validation", "test")}
        from studies.data.readiness import readiness

        pairs = split.train + split.validation + split.test
        ready = readiness(_as_dataset(split.dataset_name, pairs))
        info["readiness"] = ready.verdict
        info["readiness_level"] = ready.level
    except (AdvisorError, OSError, TypeError, ValueError) as exc:
        info["readiness"] = f"(split not available in this workspace: {exc})"
    return info


def _as_dataset(name: str, pairs: list[Any]) -> Any:
    """Wrap a split's pairs as a data set so the readiness summary can describe them."""
    from studies.data.datasets import LoadedDataset
    from studies.data.validation import ValidationReport

    report = ValidationReport(source="split", format="split", records=len(pairs), valid=len(pairs))
    return LoadedDataset(name=name, pairs=pairs, report=report, content_hash="", source="split")


def _review_results(ws: Workspace, run_ids: list[str], metric: str) -> list[dict[str, Any]]:
    from studies.governance.review import load_reviews, summarize

    out = []
    try:
        seen = {(r.run_lo, r.run_hi) for r in load_reviews(ws)}
    except AdvisorError:
        return []
    for lo, hi in sorted(seen):
        if lo in run_ids and hi in run_ids:
            out.append(summarize(ws, lo, hi, metric=metric).to_dict())
    return out


def _gate_results(ws: Workspace, run_ids: list[str]) -> dict[str, dict[str, Any]]:
    from studies.governance.gate import latest_verdict

    out = {}
    for rid in run_ids:
        try:
            v = latest_verdict(ws, rid)
        except AdvisorError:
            v = None
        if v:
            out[rid] = v
    return out


def _check_results(ws: Workspace, run_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    from studies.governance.checks import run_checks_for_run

    out = {}
    for rid in run_ids:
        try:
            out[rid] = [c.to_dict() for c in run_checks_for_run(ws, rid)]
        except AdvisorError as exc:
            log.info("checks skipped for %s: %s", rid, exc)
    return out


def build_record(
    workspace: Workspace,
    run_ids: list[str],
    answers: dict[str, Any] | None = None,
    primary: str | None = None,
    metrics: list[str] | None = None,
    title: str | None = None,
    include_checks: bool = True,
    studies: list[str] | None = None,
    *,
    evidence: Any = None,
    requests_per_day: float | None = None,
    prices: str | None = None,
    command: str = "",
    say: Any = None,
    plan: Any = None,
) -> DecisionRecord:
    """Collect the comparison, the verdict and everything around it for the given runs.

    ``plan`` (:class:`advisor.plan.Plan`) sets the latency budget every system's p95 is measured against and,
    for cited answers, the k of the gold document's retrieval hit@k reported per document-RAG system.

    ``evidence`` (:class:`advisor.meeting_evidence.EvidenceOptions`) measures what it asks for when not
    stored yet (training, generation), then reads it; ``requests_per_day`` and ``prices`` (a JSON price
    table) set the cost at volume; ``command`` is the command line that reproduces the record.
    """
    from studies.evaluation.compare import compare_runs
    from studies.results.leaderboard import Leaderboard

    from advisor import plots

    board = Leaderboard(workspace)
    comparison = compare_runs(workspace, run_ids, metrics=metrics, primary=primary, board=board)
    recommendation = None
    initial = None
    words: list[dict[str, str]] = []
    if answers:
        from advisor.recommend import recommend

        rec = recommend(answers)
        initial = rec.recommendation
        recommendation = {
            "recommendation": rec.recommendation,
            "label": rec.label,
            "confidence": rec.confidence,
            "margin": rec.margin,
            "reasons": [r.text for r in rec.reasons[:6]],
            "risks": rec.risks,
            "method": rec.method.name if rec.method else None,
        }
        words = _answers_in_words(rec.answers)
    verdict = update(initial, comparison)
    from advisor import meeting_evidence, record_summary

    rows = {r.run_id: board.get(r.run_id) for r in comparison.runs}
    page = record_summary.one_page(comparison, verdict, rows, answers, requests_per_day=requests_per_day, prices=prices, command=command,
                                   latency_budget_s=getattr(plan, "latency_budget_s", None))
    hit_k = getattr(getattr(plan, "rag", None), "gold_hit_k", None)
    retrieval = (meeting_evidence.gold_retrieval(workspace, comparison, record_summary.readable_names(list(rows.values())), hit_k)
                 if hit_k else [])
    extra: dict[str, Any] = {}
    if evidence is not None and evidence.any:
        problems = meeting_evidence.measure(workspace, comparison, rows, evidence, say=say or log.info)
        extra = meeting_evidence.gather(workspace, comparison, rows, record_summary.readable_names(list(rows.values())), evidence, problems)
    figures = {
        "metric_intervals": plots.metric_intervals(comparison),
        "quality_vs_cost": plots.quality_vs_cost(comparison),
        "group_differences": plots.group_differences(comparison),
    }
    for study in studies or []:
        history = [
            {"trial": r.get("trial"), "value": (r.get("metrics") or {}).get(comparison.primary, {}).get("mean")}
            for r in board.history(study)
        ]
        if any(h["value"] is not None for h in history):
            figures[f"sweep_history_{study}"] = plots.sweep_history(history, comparison.primary, study)
    decisions = [
        {"run_id": r.run_id, "system": r.system, "status": r.status, "by": r.status_by, "reason": r.status_reason, "at": r.status_at}
        for r in comparison.runs
        if r.status != "candidate"
    ]
    return DecisionRecord(
        task_reports=_task_reports(workspace, comparison, rows),
        retrieval=retrieval,
        title=title or f"Decision record: {comparison.dataset_name or 'data set'} ({comparison.split_version})",
        generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        comparison=comparison,
        verdict=verdict,
        answers=words,
        recommendation=recommendation,
        dataset=_dataset_info(workspace, comparison),
        plots=figures,
        reviews=_review_results(workspace, run_ids, comparison.primary),
        checks=_check_results(workspace, run_ids) if include_checks else {},
        gates=_gate_results(workspace, run_ids),
        decisions=decisions,
        page=page,
        evidence=extra,
    )


def _task_reports(ws: Workspace, comparison: "RunComparison", rows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The set-level report of each run (classification; stored, else scored from its predictions), the best run first."""
    from studies.evaluation.run_items import run_task_report

    out = []
    best = comparison.best.get(comparison.primary)
    for run in sorted(comparison.runs, key=lambda r: r.run_id != best):
        report = run_task_report(ws, rows[run.run_id])
        if report.get("per_class") is not None and "macro_f1" in report:
            accuracy = run.scores.get("accuracy")
            out.append({"system": run.system, "run_id": run.run_id, "report": report, "accuracy": accuracy.mean if accuracy else None})
    return out


def _env():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["f3"] = lambda x: "" if x is None else f"{float(x):.3f}"
    env.filters["p"] = lambda x: "" if x is None else (f"{float(x):.2g}" if float(x) < 0.001 else f"{float(x):.3f}")
    env.filters["md"] = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    # People's text (answers, reasons) outside code spans: no raw HTML survives into a Markdown viewer.
    env.filters["plain"] = lambda s: str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return env


def _context(record: DecisionRecord, images: dict[str, str]) -> dict[str, Any]:
    c = record.comparison
    return {
        "r": record,
        "c": c,
        "v": record.verdict,
        "images": images,
        "words": OPTION_WORDS,
        "metrics": c.metrics,
    }


def render_markdown(record: DecisionRecord, image_prefix: str = "") -> str:
    """Markdown; plots are referenced as ``<image_prefix><name>.png`` files written beside it."""
    images = {name: f"{image_prefix}{name}.png" for name in record.plots}
    return _env().get_template("decision_record.md.j2").render(**_context(record, images))


def render_first_screen(record: DecisionRecord) -> str:
    """Just the first screen (the one-page table and the verdict sentence) as Markdown, for the app."""
    if record.page is None:
        return ""
    return _env().get_template("_first_screen.md.j2").render(**_context(record, {}))


def render_html(record: DecisionRecord) -> str:
    """Self-contained HTML: the same content as the Markdown, plots embedded as base64 data URIs.

    Raw HTML in user data (inputs, outputs) is escaped, never rendered.
    """
    from markdown_it import MarkdownIt

    images = {name: "data:image/png;base64," + base64.b64encode(png).decode("ascii") for name, png in record.plots.items()}
    body_md = _env().get_template("decision_record.md.j2").render(**_context(record, images))
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(body_md)
    return _env().get_template("decision_record.html.j2").render(title=record.title, body=body)


def write_report(workspace: Workspace, record: DecisionRecord, fmt: str = "md", name: str | None = None) -> Path:
    """Write the record into ``<ws>/reports/<name>/`` (atomically) and return the main file's path."""
    if fmt not in ("md", "html"):
        raise AdvisorError(f"Report format must be 'md' or 'html', got {fmt!r}.")
    name = safe_name(name or slugify(f"decision-{record.comparison.split_version}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"))
    folder = workspace.path("reports", name)  # resolved: a symbolic link out of the workspace is refused
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "md":
        # The Markdown and its plots are swapped in together (one rename): a crash never pairs new plots with old text.
        import shutil

        from core.atomic import atomic_directory

        text = render_markdown(record)
        with atomic_directory(folder) as tmp:
            for existing in folder.iterdir():  # keep the other format (decision_record.html)
                if existing.is_file() and not existing.is_symlink() and not existing.name.startswith(".") and existing.suffix != ".png" and existing.name != "decision_record.md":
                    shutil.copy2(existing, tmp / existing.name)
            for plot, png in record.plots.items():
                (tmp / f"{plot}.png").write_bytes(png)
            (tmp / "decision_record.md").write_text(text, encoding="utf-8")
        return folder / "decision_record.md"
    return atomic_write_text(folder / "decision_record.html", render_html(record))
