"""Report plots as PNG bytes (matplotlib, Agg backend): readable titles, units and legends.

- :func:`metric_intervals`: each system's score on a metric with its 95% interval.
- :func:`quality_vs_cost`: quality against cost to build and to serve, Pareto front marked.
- :func:`group_differences`: per-group scores of each system (where they win and lose).
- :func:`sweep_history`: a study's trials and best-so-far against trial number.
matplotlib is imported inside each function (the advisor package stays light).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from studies.evaluation.compare import RunComparison

COLORS = {"base": "#7f7f7f", "rag": "#1f77b4", "lora": "#ff7f0e", "rag+lora": "#2ca02c"}


def _figure(width: float = 7.5, height: float = 4.0):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    return plt, fig, ax


def _png(plt, fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _color(kind: str) -> str:
    return COLORS.get(kind, "#9467bd")


def metric_intervals(comparison: "RunComparison", metric: str | None = None) -> bytes:
    """Point + 95% interval per system on one metric (higher is better)."""
    metric = metric or comparison.primary
    plt, fig, ax = _figure(7.5, 0.6 * len(comparison.runs) + 1.8)
    runs = sorted(comparison.runs, key=lambda r: r.scores[metric].mean)
    for y, run in enumerate(runs):
        s = run.scores[metric]
        ax.errorbar(s.mean, y, xerr=[[s.mean - s.low], [s.high - s.mean]], fmt="o", capsize=5, color=_color(run.kind), label=run.kind)
        ax.annotate(f"{s.mean:.3f}", (s.mean, y), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8)
    ax.set_yticks(range(len(runs)), [r.system for r in runs])
    ax.set_xlabel(f"{metric} (mean over {comparison.n_items} test items; bars: 95% paired-bootstrap interval)")
    ax.set_title(f"{metric} per system")
    ax.grid(axis="x", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles))
    ax.legend(uniq.values(), uniq.keys(), title="kind", loc="lower right", fontsize=8)
    return _png(plt, fig)


def _pareto(points: Sequence[tuple[float, float]]) -> list[int]:
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def quality_vs_cost(comparison: "RunComparison", metric: str | None = None) -> bytes:
    """Two panels: quality vs cost to build (USD) and vs cost to serve (seconds per query)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    metric = metric or comparison.primary
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    panels = (
        ("money_usd", "cost to build (USD, estimator catalogue)"),
        ("latency_s", "cost to serve (seconds per query)"),
    )
    for ax, (attr, label) in zip(axes, panels):
        pts = [(float(getattr(r, attr)), r.scores[metric].mean) for r in comparison.runs]
        for run, (x, y) in zip(comparison.runs, pts):
            s = run.scores[metric]
            ax.errorbar(x, y, yerr=[[y - s.low], [s.high - y]], fmt="o", capsize=4, color=_color(run.kind), label=run.system)
        front = _pareto(pts)
        ax.plot([pts[i][0] for i in front], [pts[i][1] for i in front], "--", color="black", alpha=0.5, label="Pareto front")
        ax.set_xlabel(label)
        ax.set_ylabel(f"{metric} (higher is better)")
        ax.grid(alpha=0.3)
    axes[0].set_title(f"{metric} against cost to build")
    axes[1].set_title(f"{metric} against cost to serve")
    axes[1].legend(fontsize=7, loc="best")
    return _png(plt, fig)


def group_differences(comparison: "RunComparison", metric: str | None = None, max_groups: int = 12) -> bytes:
    """Grouped bars: each system's mean per group (the groups where systems differ most)."""
    import numpy as np

    metric = comparison.primary if metric is None else metric
    groups = sorted(comparison.groups, key=lambda g: (max(g.means.values()) - min(g.means.values()), g.n), reverse=True)[:max_groups]
    groups = sorted(groups, key=lambda g: g.group)
    plt, fig, ax = _figure(max(7.5, 0.7 * len(groups) + 3), 4.5)
    width = 0.8 / max(len(comparison.runs), 1)
    x = np.arange(len(groups))
    for k, run in enumerate(comparison.runs):
        ax.bar(x + k * width, [g.means[run.run_id] for g in groups], width, label=run.system, color=_color(run.kind), alpha=0.85)
    ax.set_xticks(x + width * (len(comparison.runs) - 1) / 2, [f"{g.group}\n(n={g.n})" for g in groups], rotation=45, ha="right", fontsize=7)
    ax.set_ylabel(f"mean {comparison.primary} per group")
    ax.set_title(f"Where systems win and lose: {comparison.primary} by group (largest gaps)")
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    return _png(plt, fig)


def sweep_history(rows: Sequence[dict[str, Any]], metric: str, study: str) -> bytes:
    """Each trial's score and the best so far, by trial number (from the leaderboard's study history)."""
    plt, fig, ax = _figure()
    pts = [(int(r["trial"]), float(r["value"])) for r in rows if r.get("trial") is not None and r.get("value") is not None]
    pts.sort()
    if pts:
        xs, ys = zip(*pts)
        best, running = [], float("-inf")
        for y in ys:
            running = max(running, y)
            best.append(running)
        ax.scatter(xs, ys, label="trial", color="#1f77b4")
        ax.step(xs, best, where="post", label="best so far", color="#d62728")
    ax.set_xlabel("trial number")
    ax.set_ylabel(f"{metric} on the test split")
    ax.set_title(f"Sweep history: {study}")
    ax.legend()
    ax.grid(alpha=0.3)
    return _png(plt, fig)
