"""What a training run hands on: its resumable state, its progress, and the run record.

Typed so that the layers above (the CLI, sweeps, benchmarks) read fields rather than string keys;
the JSON forms (``runs/<name>/record.json``, the checkpoint's ``state``) keep the keys they always had.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from core.config import from_dict
from tuning.adapters import METRIC_KEYS
from tuning.batches import EncodeReport
from tuning.config import TrainConfig


@dataclass
class EvalPoint:
    """One validation pass."""

    step: int
    eval_loss: float
    tokens_seen: int


@dataclass
class TrainState:
    """The progress of a run, saved in every checkpoint (as JSON) so a killed run resumes where it was."""

    fingerprint: str
    """Hash of the config fields that define the run; a checkpoint of another config is refused."""
    step: int = 0
    tokens_seen: int = 0
    """Real (non-padding) tokens trained on."""
    loss_tokens_seen: int = 0
    slots_seen: int = 0
    """Token slots processed, padding included."""
    train_seconds: float = 0.0
    best_eval_loss: float | None = None
    best_step: int | None = None
    evals_since_best: int = 0
    history: list[EvalPoint] = field(default_factory=list)
    train_losses: list[float] = field(default_factory=list)
    resumed_from: list[int] = field(default_factory=list)
    """The steps this run was resumed from (one per resume)."""
    stopped_early: bool = field(default=False, metadata={"checkpoint": False})
    """Set when early stopping ends the run (a stopped run writes no checkpoint, so this is not saved)."""

    def evaluated_at(self, step: int) -> bool:
        return bool(self.history) and self.history[-1].step == step

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.metadata.get("checkpoint", True)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainState":
        return from_dict(cls, dict(data), what="checkpoint state")


@dataclass
class Progress:
    """What a progress bar shows after each optimizer step."""

    step: int
    total_steps: int
    loss: float
    tokens_per_s: float
    tokens_seen: int
    eval_loss: float | None = None


@dataclass
class BaseModelRef:
    """The base model a run trained on."""

    name: str
    path: str | None


@dataclass
class TrainRecord:
    """What a finished run did: written to ``runs/<name>/record.json`` and summarised in the adapter's metadata."""

    name: str
    kind: str
    """'adapter' (LoRA, DoRA, QLoRA) or 'full'."""
    config: TrainConfig
    data_version: str | None
    base_model: BaseModelRef
    device: str
    precision: str
    attention: str | None
    threads: int
    torch: str
    train_data: EncodeReport
    validation_data: EncodeReport
    steps: int
    total_steps: int
    steps_per_epoch: int
    epochs_completed: float
    tokens_seen: int
    loss_tokens_seen: int
    slots_seen: int
    padding_fraction: float
    tokens_per_s: float
    train_seconds: float
    wall_seconds: float
    peak_memory_mb: float
    trainable_params: int
    total_params: int
    final_train_loss: float | None
    """Mean of the last ten step losses."""
    first_train_loss: float | None
    final_eval_loss: float | None
    best_eval_loss: float | None
    best_step: int | None
    weights_from_step: int
    """The step whose weights were saved (the best evaluation's with ``keep_best``)."""
    stopped_early: bool
    resumed_from: list[int]
    eval_history: list[EvalPoint]
    train_loss_history: list[float]
    adapter_dir: str
    finished_at: str
    world_size: int = 1
    """Processes that trained it (torchrun data parallel); figures are totals over all of them, peak memory is rank 0's."""
    compiled: bool = False
    """Whether the training forward ran compiled (tuning/static_graph.py)."""
    compile_reason: str = ""
    """Why it was or was not compiled (``compile: auto`` decides per run)."""
    compile_seconds: float = 0.0
    """Compilation time, in ``wall_seconds`` but not in ``train_seconds`` (so ``tokens_per_s`` is the steady rate)."""

    def summary(self) -> dict[str, Any]:
        """The figures an adapter's metadata.json keeps."""
        return {k: getattr(self, k) for k in METRIC_KEYS}

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``record.json``)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainRecord":
        return from_dict(cls, dict(data), what="run record")


def _plain(value: Any) -> Any:
    if isinstance(value, TrainConfig):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass
class TrainResult:
    """Where the trained weights are and what happened."""

    adapter_dir: Path
    record: TrainRecord
