"""Resumable training state in ``runs/<name>/checkpoint``: trainable weights as safetensors, the
optimizer / scheduler / RNG state as a weights-only torch file (never an arbitrary pickle)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from core.atomic import atomic_directory
from core.config import to_dict
from core.errors import TrainingError
from tuning.config import TrainConfig
from tuning.record import TrainState

# Fields that may change between a kill and a resume without changing the run.
_RESUMABLE_CHANGES = {"threads", "device", "eval_every", "save_every", "attention", "compile"}


def config_fingerprint(config: TrainConfig) -> str:
    """A short hash of the config fields that define the run (a checkpoint resumes only the same run)."""
    data = {k: v for k, v in to_dict(config).items() if k not in _RESUMABLE_CHANGES}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def trainable_state(model) -> dict[str, Any]:
    """A copy of the trainable tensors (adapter weights, or everything for full fine-tuning)."""
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable(model, state: dict[str, Any]) -> None:
    """Copy ``state`` (from :func:`trainable_state`) back into the model."""
    import torch

    params = dict(model.named_parameters())
    missing = [n for n in state if n not in params]
    if missing:
        raise TrainingError(f"Checkpoint does not match the model ({len(missing)} unknown tensors, e.g. {missing[0]}).")
    with torch.no_grad():
        for n, t in state.items():
            params[n].copy_(t)


class Checkpoint:
    """The checkpoint folder of one run."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = run_dir / "checkpoint"

    def exists(self) -> bool:
        return (self.dir / "state.pt").is_file() and (self.dir / "trainable.safetensors").is_file()

    def save(self, model, optimizer, scheduler, scaler, state: TrainState, best: dict[str, Any] | None,
             rank_rng: list[Any] | None = None) -> None:
        """Write the checkpoint (rank 0 only under torchrun; ``rank_rng`` holds every process's CPU RNG state)."""
        import torch
        from safetensors.torch import save_file

        with atomic_directory(self.dir) as tmp:
            save_file({n: t.contiguous() for n, t in trainable_state(model).items()}, str(tmp / "trainable.safetensors"))
            if best is not None:
                save_file({n: t.contiguous() for n, t in best.items()}, str(tmp / "best.safetensors"))
            payload = {
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict() if scaler is not None else None,
                "rng_torch": torch.get_rng_state(),
                "rng_ranks": list(rank_rng or []),
                "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "state": json.dumps(state.to_dict()),
            }
            torch.save(payload, tmp / "state.pt")

    def load(self, model, optimizer, scheduler, scaler, fingerprint: str, rank: int = 0) -> tuple[TrainState, dict[str, Any] | None]:
        import torch
        from safetensors.torch import load_file

        try:
            payload = torch.load(self.dir / "state.pt", weights_only=True, map_location="cpu")
            raw = json.loads(payload["state"])
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            raise TrainingError(f"Checkpoint {self.dir} is unreadable ({exc}); delete it to start the run over.") from exc
        if raw.get("fingerprint") != fingerprint:
            raise TrainingError(
                f"A checkpoint of a different configuration exists at {self.dir}. "
                "Use another --name, or delete that folder to start over."
            )
        state = TrainState.from_dict(raw)
        try:
            load_trainable(model, load_file(str(self.dir / "trainable.safetensors")))
        except (OSError, RuntimeError, ValueError) as exc:
            raise TrainingError(f"Checkpoint {self.dir} is unreadable ({exc}); delete it to start the run over.") from exc
        optimizer.load_state_dict(payload["optimizer"])
        scheduler.load_state_dict(payload["scheduler"])
        if scaler is not None and payload.get("scaler"):
            scaler.load_state_dict(payload["scaler"])
        per_rank = payload.get("rng_ranks") or []
        # A run resumed on as many processes gets each process's own stream back; otherwise rank 0's.
        torch.set_rng_state(per_rank[rank] if rank < len(per_rank) else payload["rng_torch"])
        if payload.get("rng_cuda") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(payload["rng_cuda"])
        best_path = self.dir / "best.safetensors"
        best = load_file(str(best_path)) if best_path.is_file() else None
        return state, best

    def remove(self) -> None:
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)
