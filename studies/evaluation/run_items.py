"""A run's per-item predictions, read for review, checks and the gate.

The evaluation contract stores one JSON object per test item in
``<ws>/runs/<run_id>/predictions.jsonl`` (raw output, extracted answer, reference, input,
item id, group, per-item metric values). This module reads that file into :class:`RunItem`
rows. It accepts the agreed field names and a few spellings of each (``item_id``/``id``,
``raw``/``raw_output``, ``answer``/``extracted``, ``metrics`` as a dict or metric values at
the top level), so that review and checks do not break when the writer renames a field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import LeaderboardError
from core.workspace import Workspace

PREDICTIONS_FILE = "predictions.jsonl"
PRIMARY_METRIC_PREFERENCE = ("chrf", "command_flags", "token_f1", "rouge_l", "exact_match", "command_program")
"""The primary metric when none is named: the first of these that the run has."""

_ID_KEYS = ("item_id", "id", "pair_id")
_INPUT_KEYS = ("input", "question", "prompt")
_RAW_KEYS = ("raw", "raw_output", "output", "generation", "text")
_ANSWER_KEYS = ("answer", "extracted", "extracted_answer", "prediction")
_REFERENCE_KEYS = ("reference", "expected", "target", "gold")
_NOT_METRICS = set(_ID_KEYS + _INPUT_KEYS + _RAW_KEYS + _ANSWER_KEYS + _REFERENCE_KEYS) | {
    "group",
    "meta",
    "latency_s",
    "prompt_tokens",
    "completion_tokens",
    "retrieval_s",
    "context",
    "hits",
    "index",
    "position",
}


@dataclass(frozen=True)
class RunItem:
    """One test item of one run, as the evaluation stored it."""

    item_id: str
    input: str
    raw: str
    answer: str
    reference: str
    group: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)

    @property
    def shown(self) -> str:
        """What a user of the system would read: the raw output, else the extracted answer."""
        return self.raw if self.raw.strip() else self.answer


def _first(row: Mapping[str, Any], keys: Sequence[str], default: Any = None) -> Any:
    for key in keys:
        if key in row and row[key] is not None:
            return row[key]
    return default


def item_from_row(row: Mapping[str, Any], line: int = 0) -> RunItem:
    """Build a :class:`RunItem` from one predictions.jsonl object (tolerant about field names)."""
    item_id = _first(row, _ID_KEYS)
    if item_id is None:
        item_id = f"line-{line}"
    raw = str(_first(row, _RAW_KEYS, "") or "")
    answer = _first(row, _ANSWER_KEYS)
    answer = raw if answer is None else str(answer)
    metrics: dict[str, float] = {}
    nested = row.get("metrics") or row.get("scores")
    if isinstance(nested, Mapping):
        for key, value in nested.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
                metrics[str(key)] = float(value)
    else:
        for key, value in row.items():
            if key in _NOT_METRICS or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            metrics[str(key)] = float(value)
    group = row.get("group")
    return RunItem(
        item_id=str(item_id),
        input=str(_first(row, _INPUT_KEYS, "") or ""),
        raw=raw,
        answer=answer,
        reference=str(_first(row, _REFERENCE_KEYS, "") or ""),
        group=None if group in (None, "") else str(group),
        metrics=metrics,
    )


def predictions_path(ws: Workspace, run_id: str) -> Path:
    return ws.path("runs", run_id, PREDICTIONS_FILE)


def read_prediction_rows(ws: Workspace, run_id: str) -> list[dict[str, Any]]:
    """The stored per-item rows of ``run_id`` as dicts; a missing or corrupt file raises with what to do."""
    path = predictions_path(ws, run_id)
    if not path.is_file():
        known = ", ".join(n for n in ws.names("runs") if (ws.dir("runs") / n / PREDICTIONS_FILE).is_file())
        raise LeaderboardError(
            f"Run {run_id!r} has no predictions at {path}. Evaluate it first (`advisor eval ...`) "
            f"or pick a run that has them{': ' + known if known else ''}."
        )
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LeaderboardError(f"{path}:{number}: not valid JSON ({exc.msg}); re-run the evaluation.") from exc
            if not isinstance(row, dict):
                raise LeaderboardError(f"{path}:{number}: expected a JSON object per line.")
            rows.append(row)
    return rows


def load_run_items(ws: Workspace, run_id: str) -> list[RunItem]:
    """Every stored item of ``run_id`` (see :func:`read_prediction_rows` for the errors)."""
    return [item_from_row(row, number) for number, row in enumerate(read_prediction_rows(ws, run_id), start=1)]


def write_run_items(ws: Workspace, run_id: str, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write a predictions.jsonl in the agreed shape (for fixtures and imports), atomically."""
    from core.atomic import atomic_write_text

    text = "".join(json.dumps(dict(row), ensure_ascii=False, sort_keys=True) + "\n" for row in rows)
    return atomic_write_text(predictions_path(ws, run_id), text)


def primary_metric(items: Sequence[RunItem], preferred: str | None = None) -> str | None:
    """``preferred`` if the items carry it, else the first of :data:`PRIMARY_METRIC_PREFERENCE` present."""
    present: set[str] = set()
    for item in items:
        present.update(item.metrics)
    if preferred:
        if preferred not in present:
            raise LeaderboardError(
                f"Metric {preferred!r} is not stored for these items; stored metrics: {', '.join(sorted(present)) or 'none'}."
            )
        return preferred
    for name in PRIMARY_METRIC_PREFERENCE:
        if name in present:
            return name
    return sorted(present)[0] if present else None


def metric_means(items: Sequence[RunItem]) -> dict[str, float]:
    """Mean of each per-item metric over the items that carry it."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for item in items:
        for name, value in item.metrics.items():
            sums[name] = sums.get(name, 0.0) + value
            counts[name] = counts.get(name, 0) + 1
    return {name: sums[name] / counts[name] for name in sums}


def run_task(ws: Workspace, row: Mapping[str, Any]) -> Any:
    """The task a leaderboard row was evaluated as: its own record, else its split's (rows from before kinds were stored)."""
    from core.errors import AdvisorError
    from studies.data.kinds import TaskSpec

    stored = (row.get("config") or {}).get("task")
    if isinstance(stored, dict) and stored.get("kind"):
        return TaskSpec.from_dict(stored)
    try:
        from studies.data.splits import load_split

        return load_split(ws, str(row.get("split_version"))).task
    except (AdvisorError, OSError, ValueError):
        return None


def run_task_report(ws: Workspace, row: Mapping[str, Any], task: Any = None) -> dict[str, Any]:
    """A run's set-level report for its kind (classification: per class, confusion, baselines): the one stored with
    the row, else scored from its stored predictions; empty when neither exists or the kind has none."""
    from studies.evaluation.tasks import task_report

    stored = (row.get("config") or {}).get("task_report") or {}
    if stored.get("per_class") is not None:
        return dict(stored)
    task = task or run_task(ws, row)
    if task is None or not row.get("run_id"):
        return {}
    try:
        items = read_prediction_rows(ws, str(row["run_id"]))
    except LeaderboardError:
        return {}
    return task_report(task, [str(i.get("answer") or "") for i in items], [str(i.get("reference") or "") for i in items])
