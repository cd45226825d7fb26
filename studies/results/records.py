"""Run records: one leaderboard row as a typed record, run ids, and the trial payload -> record conversion."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from core.errors import LeaderboardError
from core.workspace import slugify

if TYPE_CHECKING:  # pragma: no cover
    pass


MEMORY = ":memory:"


STATUSES = ("candidate", "accepted", "rejected")


COST_COLUMNS = ("money_usd", "latency_s", "gpu_hours", "cpu_hours", "train_tokens")


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def trial_run_id(study: str, trial: int) -> str:
    """The run id of a sweep trial: deterministic, so re-recording it is a no-op."""
    return f"{slugify(study, 'study')}-t{int(trial):05d}"


def new_run_id(kind: str) -> str:
    """A fresh run id: kind, UTC time, random suffix (sortable, unique across machines)."""
    return f"{slugify(kind, 'run').replace('+', '-')}-{utc_now():%Y%m%d-%H%M%S}-{os.urandom(3).hex()}"


@dataclass
class RunRecord:
    """One evaluated run, as stored on the leaderboard (JSON-round-trippable for Optuna user attrs)."""

    run_id: str
    kind: str
    """'base', 'rag', 'lora', 'rag+lora', or any later system kind."""
    system: str = ""
    """Human-readable system name (e.g. 'lora:my-adapter')."""
    study: str | None = None
    trial: int | None = None
    base_model: str | None = None
    method: str | None = None
    """'prompt', 'rag', 'lora', 'dora', 'qlora', ..."""
    config: dict[str, Any] = field(default_factory=dict)
    """The method's configuration (retriever, chunking, LoRA rank, ...)."""
    dataset_name: str | None = None
    dataset_version: str | None = None
    """Content hash of the data set."""
    split_version: str | None = None
    split_part: str = "test"
    n_items: int = 0
    task: str | None = None
    """The task kind the run was evaluated as (classification, structured, command, short_answer, text)."""
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    """``{metric: {"mean", "low", "high", "n"}}`` with the bootstrap interval."""
    skipped_metrics: dict[str, str] = field(default_factory=dict)
    """Metrics that could not run here, with the reason."""
    train_tokens: int = 0
    eval_tokens: int = 0
    cpu_hours: float = 0.0
    gpu_hours: float = 0.0
    money_usd: float = 0.0
    latency_s: float = 0.0
    """Mean seconds per query (retrieval + generation)."""
    latency_p95_s: float = 0.0
    status: str = "candidate"
    status_by: str | None = None
    status_reason: str | None = None
    status_at: datetime | None = None
    registry_path: str | None = None
    artifacts: dict[str, Any] = field(default_factory=dict)
    """Paths of what the run made or used (predictions, adapter, index)."""
    code_version: str | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=str))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunRecord":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise LeaderboardError(f"Unknown run record field(s) {sorted(unknown)}; known: {sorted(known)}.")
        values = dict(data)
        for key in ("status_at", "created_at", "updated_at"):
            if isinstance(values.get(key), str):
                values[key] = datetime.fromisoformat(values[key])
        if "run_id" not in values or "kind" not in values:
            raise LeaderboardError("A run record needs at least `run_id` and `kind`.")
        return cls(**values)


def record_from_trial(study: str, trial: int, payload: dict[str, Any]) -> RunRecord:
    """Turn what a sweep stored for a trial into its leaderboard row, with run id ``trial_run_id``.

    Accepted payloads: a ``RunRecord.to_dict()``; an ``EvalResult.to_dict()`` (its ``record``);
    or a sweep outcome ``{"kind", "system", "config", "metrics", "evaluation"?, "train_record"?,
    "adapter_dir"?}`` whose plain metric numbers become scores without an interval.
    """
    if not isinstance(payload, dict):
        raise LeaderboardError(f"Trial {trial} of {study}: expected a mapping as its result, got {type(payload).__name__}.")
    nested = payload.get("evaluation") if isinstance(payload.get("evaluation"), dict) else None
    if nested and isinstance(nested.get("record"), dict):
        run = RunRecord.from_dict(dict(nested["record"]))
    elif isinstance(payload.get("record"), dict):
        run = RunRecord.from_dict(dict(payload["record"]))
    elif "run_id" in payload and "kind" in payload and "scores" not in payload:
        run = RunRecord.from_dict(dict(payload))
    else:
        metrics: dict[str, dict[str, float]] = {}
        for name, value in (payload.get("metrics") or {}).items():
            if isinstance(value, dict) and "mean" in value:
                metrics[name] = dict(value)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                metrics[name] = {"mean": float(value), "low": None, "high": None, "n": None}
        config = payload.get("config") if isinstance(payload.get("config"), dict) else {}
        run = RunRecord(
            run_id="",
            kind=str(payload.get("kind") or "sweep"),
            system=str(payload.get("system") or ""),
            config=dict(config),
            base_model=config.get("model") or config.get("base_model"),
            method=config.get("method") or payload.get("kind"),
            metrics=metrics,
        )
    train = payload.get("train_record") if isinstance(payload.get("train_record"), dict) else {}
    if not run.train_tokens and train.get("tokens_seen"):
        run.train_tokens = int(train["tokens_seen"])
    if payload.get("adapter_dir") and "adapter_dir" not in run.artifacts:
        run.artifacts = {**run.artifacts, "adapter_dir": payload["adapter_dir"]}
    run.study, run.trial = study, int(trial)
    run.run_id = trial_run_id(study, trial)
    return run
