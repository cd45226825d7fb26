"""Rendering a :class:`~advisor.recommend.Recommendation` for people: plain text and Markdown.

The JSON form is ``recommendation_json(rec)``: the keys the CLI promises (recommendation, method,
confidence, margin, reasons, flip, risks, prerequisites, next_steps, estimates) plus detail.
"""

from __future__ import annotations

from typing import Any

from advisor.recommend import Recommendation


def recommendation_json(rec: Recommendation) -> dict[str, Any]:
    """The machine-readable recommendation (stable keys)."""
    d = rec.to_dict()
    return {
        "recommendation": rec.recommendation,
        "label": rec.label,
        "method": rec.method.name if rec.method else None,
        "method_detail": d["method"],
        "confidence": rec.confidence,
        "margin": rec.margin,
        "runner_up": rec.runner_up,
        "scores": rec.scores,
        "reasons": d["reasons"],
        "flip": d["flip"],
        "risks": rec.risks,
        "prerequisites": rec.prerequisites,
        "next_steps": rec.next_steps,
        "estimates": rec.estimates,
        "answers": rec.answers,
    }


def _bullets(items: list[str], indent: str = "  ") -> list[str]:
    return [f"{indent}- {item}" for item in items]


def _sections(rec: Recommendation, md: bool) -> list[tuple[str, list[str]]]:
    reasons_for = [r.text for r in rec.reasons if r.margin_effect > 0 or (r.margin_effect == 0 and r.points > 0)]
    against = [r for r in rec.reasons if r.margin_effect < 0 or (r.margin_effect == 0 and r.points < 0)]
    reasons_against = [r.text for r in sorted(against, key=lambda r: (r.margin_effect, r.points))]
    sections = [
        ("Why (largest effect first)", reasons_for or ["(no rule favoured it; it won on its starting score)"]),
    ]
    if reasons_against:
        sections.append(("What speaks against it", reasons_against))
    sections.append(("What would change the advice", [f.text for f in rec.flip] or ["No change of up to 3 answers changes it."]))
    if rec.method:
        rows = [rec.method.why + "."]
        for o in rec.method.options:
            rows.append(
                f"{o['method']}: ~{o['peak_memory_gib']} GiB peak of {o['device_memory_gib']} GiB "
                f"({'fits' if o['fits'] else 'does not fit'}), ~{o['hours']} h, ~${o['cost_usd']}"
            )
        sections.append((f"Method: {rec.method.name} ({rec.method.model_size} on {rec.method.device})", rows))
    est = rec.estimates
    rows = []
    if "training" in est:
        t = est["training"]
        rows.append(
            f"training ({t['assumes']}): peak {t['peak_memory_gib']['total']} GiB, {t['tokens_per_second']} tokens/s, "
            f"{t['wall_hours']} h, ${t['cost_usd']} on {t['devices']} x {t['device']}"
        )
    if "rag" in est:
        r = est["rag"]
        rows.append(
            f"RAG ({r['assumes']}): {r['chunks']} chunks, index {r['index_mib']} MiB, +{r['extra_prompt_tokens_per_query']} prompt tokens "
            f"and +{r['extra_seconds_per_query']} s per query, ${r['cost_per_1000_queries_usd']} per 1,000 queries"
        )
    rows.append(est.get("note", "All figures are estimates."))
    sections.append(("Estimates", rows))
    sections.append(("Risks", rec.risks or ["none noted"]))
    sections.append(("Prerequisites", rec.prerequisites))
    sections.append(("Next steps", rec.next_steps))
    return sections


def render_text(rec: Recommendation) -> str:
    lines = [
        f"Recommendation: {rec.label}",
        f"Confidence {rec.confidence:.0%}; margin {rec.margin:g} points over the runner-up ({rec.runner_up}).",
        "Scores: " + ", ".join(f"{o} {v:g}" for o, v in rec.scores.items()),
        "",
    ]
    for title, rows in _sections(rec, md=False):
        lines.append(f"{title}:")
        lines.extend(_bullets(rows))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render_markdown(rec: Recommendation) -> str:
    lines = [
        f"# Recommendation: {rec.label}",
        "",
        f"**Confidence** {rec.confidence:.0%} · **margin** {rec.margin:g} points over the runner-up (`{rec.runner_up}`)",
        "",
        "| option | score |",
        "|---|---|",
        *[f"| {o} | {v:g} |" for o, v in rec.scores.items()],
        "",
    ]
    for title, rows in _sections(rec, md=True):
        lines.append(f"## {title}")
        lines.append("")
        lines.extend(_bullets(rows, indent=""))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
