"""A run as governance sees it: its leaderboard row, read once, as one typed view.

The gate, the checks command and the registry all ask the same questions of a run (its metrics with
their intervals and cost columns, whether it is a fine-tune, which split trained it); answering them
from one :class:`RunView` keeps the answers the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.errors import LeaderboardError
from core.workspace import Workspace
from studies.evaluation.run_items import RunItem, load_run_items, metric_means

LOWER_IS_BETTER = ("latency_s", "latency_p95_s", "money_usd", "gpu_hours", "cpu_hours", "train_tokens", "eval_tokens")
"""Leaderboard columns where lower is better: a threshold on them is a maximum."""
FINE_TUNED_MARKERS = ("lora", "dora", "qlora", "full")
"""Words in a run's kind or method that say it carries trained weights."""


def is_fine_tune(row: Mapping[str, Any]) -> bool:
    """True for runs whose system carries trained weights (lora, rag+lora, full, ...)."""
    text = f"{row.get('kind') or ''} {row.get('method') or ''}".lower()
    return any(marker in text for marker in FINE_TUNED_MARKERS) or bool((row.get("artifacts") or {}).get("adapter_dir"))


@dataclass(frozen=True)
class RunView:
    """One run's leaderboard row (``row`` is None for a run that is only on disk) and what follows from it."""

    run_id: str
    row: Mapping[str, Any] | None
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    """``{metric: {mean, low, high}}``: the row's metrics and its cost columns (a cost is its own interval);
    for a run off the leaderboard, the means of its stored per-item metrics."""

    @property
    def metrics_source(self) -> str:
        return "leaderboard" if self.row is not None else "predictions"

    @property
    def kind(self) -> str:
        return str((self.row or {}).get("kind") or "")

    @property
    def split_version(self) -> str | None:
        version = (self.row or {}).get("split_version")
        return str(version) if version else None

    @property
    def fine_tuned(self) -> bool:
        return self.row is not None and is_fine_tune(self.row)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "RunView":
        metrics = {name: dict(stats) for name, stats in (row.get("metrics") or {}).items()}
        for column in LOWER_IS_BETTER:
            if row.get(column) is not None:
                value = float(row[column])
                metrics.setdefault(column, {"mean": value, "low": value, "high": value})
        return cls(run_id=str(row["run_id"]), row=row, metrics=metrics)

    @classmethod
    def from_items(cls, run_id: str, items: Sequence[RunItem]) -> "RunView":
        means = metric_means(items)
        return cls(run_id=run_id, row=None, metrics={k: {"mean": v, "low": v, "high": v} for k, v in means.items()})


def read_run(ws: Workspace, run_id: str, items: Sequence[RunItem] | None = None) -> RunView:
    """The run's leaderboard row, read once; a run not on the leaderboard falls back to its stored items."""
    from studies.governance.review_store import leaderboard

    try:
        return RunView.from_row(leaderboard(ws).get(run_id))
    except LeaderboardError:
        return RunView.from_items(run_id, load_run_items(ws, run_id) if items is None else items)


def training_data_of(ws: Workspace, run: RunView) -> tuple[list[Any] | None, str]:
    """The training pairs of a fine-tuned run (its split's train part), else None with the reason."""
    if run.row is None:
        return None, "run not on the leaderboard"
    if not run.fine_tuned:
        return None, f"kind {run.kind!r} is not fine-tuned: no training data"
    if not run.split_version:
        return None, "no split version recorded for the run"
    try:
        from studies.data.splits import load_split

        return list(load_split(ws, run.split_version).train), f"train part of split {run.split_version}"
    except Exception as exc:  # noqa: BLE001 - a missing split must not hide the rest of the verdict
        return None, f"split {run.split_version} unreadable: {exc}"

