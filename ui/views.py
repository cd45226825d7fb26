"""What the pages show, shaped without Streamlit: tables, a recommendation laid out, a decision record.

Pages call these and render the result; keeping the shaping here makes it testable without a
browser and shared by every page that shows the same thing (the leaderboard table on the
Leaderboard and Compare pages, for one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.workspace import Workspace


def leaderboard_table(rows: list[dict], metric: str | None, cost: str = "money_usd") -> list[dict]:
    """Leaderboard rows flattened for display: the chosen metric with its interval first, then the others."""
    table = []
    for r in rows:
        metrics = r.get("metrics") or {}
        row: dict = {"run": r["run_id"], "kind": r["kind"], "system": r.get("system") or "",
                     "study": r.get("study") or "", "trial": r.get("trial")}
        if metric:
            m = metrics.get(metric) or {}
            row[metric] = m.get("mean")
            row[f"{metric} interval"] = (f"[{m['low']:.3f}, {m['high']:.3f}]"
                                         if m.get("low") is not None and m.get("high") is not None else "")
        for name in sorted(metrics):
            if name != metric:
                row[name] = metrics[name].get("mean")
        row.update({"n": r.get("n_items"), "latency s": r.get("latency_s"), cost: r.get(cost),
                    "status": r.get("status"), "by": r.get("status_by") or "", "reason": r.get("status_reason") or "",
                    "split": r.get("split_version") or "", "created": r.get("created_at")})
        table.append(row)
    return table


def recommendation_view(answers: dict):
    """Run the advisor on validated answers: the advisor's own typed view (``advisor.explain``), the same
    content `advisor decide` prints, so the CLI and the app never render a recommendation differently."""
    from advisor.explain import recommendation_view as view_of
    from advisor.recommend import recommend

    return view_of(recommend(answers))


def readable(value: Any) -> str:
    """One value as a person reads it: yes/no, thousands separators, short floats, lists joined."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(readable(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')} {readable(v)}" for k, v in value.items())
    return str(value)


def paired_comparisons(ws: Workspace, runs: list[str], reference: str) -> list[dict]:
    """Every run against ``reference`` on their shared metrics: difference with its interval, p-value, verdict."""
    from studies.evaluation.contract import compare

    rows = []
    for run in runs:
        if run == reference:
            continue
        for metric, c in compare(ws, run, reference).items():
            verdict = {"a better": f"{run} better", "b better": f"{reference} better"}.get(c.verdict, c.verdict)
            rows.append({"run": run, "vs": reference, "metric": metric, "difference": c.difference.mean,
                         "95% interval": f"[{c.difference.low:+.3f}, {c.difference.high:+.3f}]",
                         "test": c.test, "p-value": c.p_value, "verdict": verdict})
    return rows


@dataclass
class ReportView:
    """The decision record for a page: the verdict, the plots, and both downloadable forms."""

    title: str
    verdict_markdown: str
    plots: dict[str, bytes]
    markdown: str
    html: str
    record: object
    first_screen: str = ""
    """The record's one-page table and verdict sentence (Markdown), plus the learning curve's sentence where stored."""


def decision_record(ws: Workspace, runs: list[str], recommendation: dict | None = None) -> ReportView:
    """The comparison report / decision record of ``runs`` (the questionnaire's answers, when given, are the
    initial recommendation that the evidence confirms or overturns)."""
    from advisor.report import build_record, render_first_screen, render_html, render_markdown

    record = build_record(ws, list(runs), answers=(recommendation or {}).get("answers") or None)
    record.evidence = _stored_evidence(ws, record)
    v = record.verdict
    lines = [f"**Verdict: {v.headline}**", ""]
    lines += [f"- {r}" for r in v.reasons]
    if v.open_questions:
        lines += ["", "**Open questions**", *[f"- {q}" for q in v.open_questions]]
    curve = record.evidence.get("learning_curve") or {}
    first = render_first_screen(record) + (f"\n\n**How much data would it take?** {curve['sentence']}" if curve.get("sentence") else "")
    return ReportView(title=record.title, verdict_markdown="\n".join(lines), plots=dict(record.plots),
                      markdown=render_markdown(record), html=render_html(record), record=record, first_screen=first)


def _stored_evidence(ws: Workspace, record: object) -> dict:
    """The learning curve, oracle split and forgetting already stored for these runs (the app measures nothing here)."""
    from advisor.meeting_evidence import EvidenceOptions, gather
    from advisor.record_summary import readable_names
    from studies.results.leaderboard import Leaderboard

    board = Leaderboard(ws)
    rows = {r.run_id: board.get(r.run_id) for r in record.comparison.runs}
    return gather(ws, record.comparison, rows, readable_names(list(rows.values())),
                  EvidenceOptions(learning_curve=True, oracle=True, forgetting=True))


def save_report(ws: Workspace, view: ReportView) -> list[Path]:
    """Write the record into ``<ws>/reports/`` as Markdown (with its PNG plots) and self-contained HTML."""
    from advisor.report import write_report

    return [write_report(ws, view.record, "md"), write_report(ws, view.record, "html")]



# ----------------------------------------------------------------------------- leaderboard groups


@dataclass(frozen=True)
class EvaluationGroup:
    """Runs that may be ranked together: the same split, split part and number of items."""

    split: str
    n_items: int | None
    runs: list[dict]
    part: str = "test"

    @property
    def label(self) -> str:
        items = "? items" if not self.n_items else f"{self.n_items} {self.part} items"
        return f"split {self.split[:12] or '(none)'} · {items} · {len(self.runs)} run(s)"


def evaluation_groups(rows: list[dict]) -> list[EvaluationGroup]:
    """Leaderboard rows in comparable sets (:func:`studies.results.comparable.comparable_view`), the default first.

    Scores on different splits, parts or item counts are not comparable (3 lucky items are not 48; 16
    validation items of a sweep trial are not the 48 test items), so a ranking and a "best" are only ever
    computed inside one set. The default is the one the decision record compares: the test-part set with
    the most runs; the others follow, test parts before validation parts, larger sets first.
    """
    from studies.results.comparable import PART_ORDER, comparable_view

    view = comparable_view(rows)
    if view.key is None:
        return []
    sets = {view.key: view.rows, **view.apart}

    def order(key):
        return (key != view.key, PART_ORDER.get(key[1], 2), -len(sets[key]), -key[2], key[0])

    return [EvaluationGroup("" if k[0] == "?" else k[0], k[2] or None, runs, k[1])
            for k, runs in sorted(sets.items(), key=lambda kv: order(kv[0]))]


# ----------------------------------------------------------------------------- exports


def exportable_runs(rows: list[dict]) -> list[str]:
    """Runs an export can start from: accepted fine-tunes with a registry entry, newest first."""
    from studies.governance.export import exportable

    return [r["run_id"] for r in rows if exportable(r)]


def export_rows(ws: Any, run_id: str) -> list[dict]:
    """The exports kept for ``run_id``, one row each with its check in words."""
    from studies.governance.export import list_exports

    return [{"format": e.format, "GGUF type": e.quant or "", "check": e.check.verdict, "passed": e.check.passed,
             "items checked": e.check.n_items, "MB": round(e.bytes / 1e6, 1), "folder": e.path, "made": e.created_at}
            for e in list_exports(ws, run_id)]


# ----------------------------------------------------------------------------- gate


def gate_rows(verdict: Any) -> list[dict]:
    """Every condition the promotion gate applied, as table rows (what, outcome, evidence)."""
    from studies.governance.gate import explain

    return [{"condition": line.condition, "outcome": line.outcome, "evidence": line.detail} for line in explain(verdict)]


def gate_headline(verdict: Any) -> str:
    """One sentence: passed or not, and whether any metric threshold was applied at all."""
    rows = gate_rows(verdict)
    if verdict.passed:
        applied = sum(1 for r in rows if r["outcome"] in ("passed", "waived"))
        head = f"Run {verdict.run_id} passes the gate ({applied} condition(s) met)."
    else:
        head = f"Run {verdict.run_id} does not pass the gate: {', '.join(verdict.failures)}."
    if any(r["condition"] == "thresholds" for r in rows):
        head += (" No metric threshold was applied: the gate did not judge its scores (start runs from a plan "
                 "with acceptance thresholds for that).")
    return head


# ----------------------------------------------------------------------------- blind review

_FENCE_LINE = re.compile(r"^\s*(`{3,}|~{3,})[^\n]*$", re.MULTILINE)
_INLINE_TICKS = re.compile(r"`+")
_PROMPT = re.compile(r"^\s*[$>]\s+", re.MULTILINE)


def neutral_text(output: str) -> str:
    """An output without the formatting habits that tell systems apart (code fences, backticks, shell
    prompts, blank-line runs), so a blind reviewer judges content, not style."""
    text = _FENCE_LINE.sub("", output or "")
    text = _INLINE_TICKS.sub("", text)
    text = _PROMPT.sub("", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|$~])")


def escape_markdown(text: str) -> str:
    """User text (a reason, a name) shown through a Markdown element as typed: no bold, links, LaTeX or colours."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text or "")


# ----------------------------------------------------------------------------- sweeps


def trial_rows(status: Any, running_since: dict | None = None, now: Any = None) -> list[dict]:
    """A sweep's trials, newest first; a running trial shows how long it has run (not an empty cell), the step it
    reached and its tokens as it trains, and no token count before it reports any."""
    from datetime import datetime

    now = now or datetime.now()
    since = running_since or {}
    rows = []
    for t in reversed(status.trials):
        seconds = None if t.seconds is None else round(t.seconds, 1)
        started = since.get(t.number)
        if t.state == "RUNNING" and started is not None:
            seconds = round((now - started).total_seconds(), 1)
        tokens = None if t.state == "RUNNING" and not t.tokens else t.tokens
        step = f"{t.step[0]}/{t.step[1]}" if t.step else None
        rows.append({"trial": t.number, "state": t.state,
                     status.metric: t.value, "step": step, "tokens": tokens, "seconds": seconds, "why": t.reason,
                     "retry of": t.retry_of, **t.params})
    return rows
