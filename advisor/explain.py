"""A recommendation for people: one typed, Streamlit-free view, rendered as plain text, Markdown or JSON.

:func:`recommendation_view` turns a :class:`~advisor.recommend.Recommendation` into a
:class:`RecommendationView`: every part in plain words, with question titles and answer labels
instead of ids, the reasons grouped by the role they played (what decided it, what counts for both,
what speaks against it), ties shown as ties, the computed flips, what each "not sure" answer would
change, the method and the estimates as rows. ``advisor decide`` and the app both render this view.

The JSON form is ``recommendation_json(rec)``: the keys the CLI promises (recommendation, method,
confidence, margin, reasons, flip, risks, prerequisites, next_steps, estimates) plus detail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from advisor import rules as R
from advisor.questions import Questionnaire, load_questionnaire
from advisor.recommend import Recommendation


def recommendation_json(rec: Recommendation) -> dict[str, Any]:
    """The machine-readable recommendation (stable keys)."""
    d = rec.to_dict()
    return {
        "recommendation": rec.recommendation,
        "label": rec.label,
        "tied": rec.tied,
        "method": rec.method.name if rec.method else None,
        "method_detail": d["method"],
        "confidence": rec.confidence,
        "margin": rec.margin,
        "runner_up": rec.runner_up,
        "scores": rec.scores,
        "reasons": d["reasons"],
        "flip": d["flip"],
        "unsure": d["unsure"],
        "risks": rec.risks,
        "prerequisites": rec.prerequisites,
        "next_steps": rec.next_steps,
        "estimates": rec.estimates,
        "answers": rec.answers,
        "notes": rec.notes,
    }


@dataclass(frozen=True)
class Section:
    """A titled list of plain-text items."""

    title: str
    items: list[str]


@dataclass
class RecommendationView:
    """A recommendation laid out for reading: every part in plain words (no question ids)."""

    headline: str
    """"Recommendation: RAG (retrieval-augmented generation)" or "A tie: ... or ..."."""
    summary: str
    """Confidence and margin over the runner-up, in one sentence."""
    verdict: str
    """The option id (for code); ``tied`` lists every tied option id."""
    tied: list[str]
    runner_up: str
    """The runner-up's label."""
    decided_by: list[str]
    """The rules that decided it (decisive first), as sentences."""
    shared: list[str]
    """Rules that count for the verdict but as much or more for the runner-up."""
    against: list[str]
    """Rules that count against the verdict, and those that favour only the runner-up."""
    flip: list[str]
    """What would change the advice: the computed, most plausible flips."""
    unsure: list[str]
    """What each "not sure" answer would change."""
    method: list[str]
    estimates: list[dict[str, str]]
    """Rows ``{"what": ..., "estimate": ...}``."""
    estimates_note: str
    risks: list[str]
    prerequisites: list[str]
    next_steps: list[str]
    notes: list[str]
    scores: list[tuple[str, float]]
    """(option label, points), highest first."""
    answers: list[tuple[str, str]]
    """(question title, answer label) in questionnaire order."""
    as_dict: dict[str, Any] = field(default_factory=dict)
    """The JSON form (:func:`recommendation_json`)."""

    @property
    def reasons(self) -> list[str]:
        """Every reason in reading order (decided by, shared, against)."""
        return self.decided_by + self.shared + self.against

    @property
    def json(self) -> str:
        return json.dumps(self.as_dict, indent=2, default=str, ensure_ascii=False) + "\n"

    @property
    def markdown(self) -> str:
        return render_view_markdown(self)

    def sections(self) -> list[Section]:
        """The parts in reading order; empty parts are left out."""
        runner = f"the runner-up ({self.runner_up})"
        out = [Section("Why: what decided it (largest effect first)", self.decided_by or ["(no rule favoured it over " + runner + "; it won on its starting score)"])]
        if self.shared:
            out.append(Section(f"Also counts for it, but as much or more for {runner}", self.shared))
        if self.against:
            out.append(Section("What speaks against it", self.against))
        out.append(Section("What would change the advice", self.flip or ["No plausible change of one or two answers changes it."]))
        if self.unsure:
            out.append(Section("Answers marked not sure", self.unsure))
        if self.method:
            out.append(Section("Method", self.method))
        out.append(Section("Estimates", [f"{r['what']}: {r['estimate']}" for r in self.estimates] + [self.estimates_note]))
        out.append(Section("Risks", self.risks or ["none noted"]))
        out.append(Section("Prerequisites", self.prerequisites))
        out.append(Section("Next steps", self.next_steps))
        if self.notes:
            out.append(Section("Notes on the answers", self.notes))
        return out


def _estimate_rows(est: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    if "training" in est:
        t = est["training"]
        where = f"{t['devices']} x {t['device']}" + (" (rented)" if t.get("rental") else "")
        rows.append({"what": "Training", "estimate": (
            f"{t['assumes']}: peak {t['peak_memory_gib']['total']} GiB of {t['device_memory_gib']} GiB "
            f"({'fits' if t['fits'] else 'does not fit'}), ~{t['tokens_per_second']:,} tokens/s ({t.get('profile', '')} profile), "
            f"~{t['wall_hours']} h, ~${t['cost_usd']} on {where}")})
        rows.extend({"what": "Training note", "estimate": n} for n in t.get("notes", []))
    if "rag" in est:
        r = est["rag"]
        rows.append({"what": "RAG", "estimate": (
            f"{r['assumes']}: {r['chunks']:,} chunks, index {r['index_mib']} MiB, +{r['extra_prompt_tokens_per_query']} prompt tokens "
            f"and +{r['extra_seconds_per_query']} s per query, ${r['cost_per_1000_queries_usd']} per 1,000 queries")})
    if "compute" in est:
        for o in est["compute"]["options"]:
            rows.append({"what": f"Compute: {o['where']}", "estimate": (
                f"{o['model']}: ~{o['tokens_per_second']:,} tokens/s, ~{o['hours']} h, ~${o['cost_usd']} ({o['note']})")})
        rows.append({"what": "Compute: which to choose", "estimate": est["compute"]["advice"]})
    return rows


def recommendation_view(rec: Recommendation, questionnaire: Questionnaire | None = None) -> RecommendationView:
    """The human-readable, typed view of a recommendation that every front end renders."""
    qn = questionnaire or load_questionnaire()
    runner_label = R.LABELS[rec.runner_up]
    if rec.is_tie:
        headline = rec.label
        summary = (f"{' and '.join(R.LABELS[o] for o in rec.tied)} score the same ({rec.scores[rec.tied[0]]:g} points): "
                   "a tie, so measure them side by side before choosing.")
    else:
        headline = f"Recommendation: {rec.label}"
        summary = f"Confidence {rec.confidence:.0%}, ahead of the runner-up ({runner_label}) by {rec.margin:g} points."
    def deciding(r) -> str:
        return f"(counts against {runner_label}) {r.text}" if r.points == 0 else r.text

    decided = [deciding(r) for r in rec.reasons if r.role == "decisive"] + [deciding(r) for r in rec.reasons if r.role == "for"]
    shared = [r.text for r in rec.reasons if r.role == "shared"]
    against = [r.text for r in sorted((r for r in rec.reasons if r.role == "against"), key=lambda r: r.points)]
    against += [f"(favours {runner_label}) {r.text}" for r in rec.reasons if r.role == "runner-up"]
    method = []
    if rec.method:
        method.append(f"{rec.method.label} on a {rec.method.model_size} model, {rec.method.devices} x {rec.method.device}: {rec.method.why}.")
        for o in rec.method.options:
            method.append(f"{o['method']}: ~{o['peak_memory_gib']} GiB peak of {o['device_memory_gib']} GiB "
                          f"({'fits' if o['fits'] else 'does not fit'}), ~{o['hours']} h, ~${o['cost_usd']}")
    as_dict = recommendation_json(rec)
    answers = [(q.title, q.label_of(rec.answers[q.id])) for q in qn.questions if q.id in rec.answers and rec.answers[q.id] not in ("", None)]
    return RecommendationView(
        headline=headline, summary=summary, verdict=rec.recommendation, tied=list(rec.tied), runner_up=runner_label,
        decided_by=decided, shared=shared, against=against,
        flip=[f.text for f in rec.flip], unsure=[u.text for u in rec.unsure], method=method,
        estimates=_estimate_rows(rec.estimates), estimates_note=str(rec.estimates.get("note", "All figures are estimates.")),
        risks=list(rec.risks), prerequisites=list(rec.prerequisites), next_steps=list(rec.next_steps), notes=list(rec.notes),
        scores=[(R.LABELS[o], v) for o, v in rec.scores.items()], answers=answers, as_dict=as_dict,
    )


def render_view_text(view: RecommendationView) -> str:
    lines = [view.headline, view.summary, "Scores: " + ", ".join(f"{label} {v:g}" for label, v in view.scores), ""]
    for section in view.sections():
        lines.append(f"{section.title}:")
        lines.extend(f"  - {item}" for item in section.items)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render_view_markdown(view: RecommendationView) -> str:
    lines = [f"# {view.headline}", "", view.summary, "", "| option | score |", "|---|---|",
             *[f"| {label} | {v:g} |" for label, v in view.scores], ""]
    for section in view.sections():
        lines += [f"## {section.title}", "", *[f"- {item}" for item in section.items], ""]
    lines += ["## Answers", "", *[f"- {title}: {answer}" for title, answer in view.answers], ""]
    return "\n".join(lines).rstrip() + "\n"


def render_text(rec: Recommendation) -> str:
    return render_view_text(recommendation_view(rec))


def render_markdown(rec: Recommendation) -> str:
    return render_view_markdown(recommendation_view(rec))
