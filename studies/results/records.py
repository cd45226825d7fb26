"""Run records: one leaderboard row as a typed record, and run ids."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from typing import Any

from core.errors import LeaderboardError
from core.workspace import slugify

MEMORY = ":memory:"


STATUSES = ("candidate", "accepted", "rejected")


def require_who_and_why(by: str, reason: str) -> None:
    """A decision on a run names who decides and why; raises :class:`LeaderboardError` otherwise."""
    if not (by or "").strip():
        raise LeaderboardError("Say who decides: a reviewer name is required.")
    if not (reason or "").strip():
        raise LeaderboardError("A reason is required: the review record must say why.")


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

    def for_trial(self, study: str, trial: int) -> "RunRecord":
        """This record as the row of sweep trial (study, trial): run id ``trial_run_id``, so recording it twice is a no-op."""
        return replace(self, study=study, trial=int(trial), run_id=trial_run_id(study, trial))

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
