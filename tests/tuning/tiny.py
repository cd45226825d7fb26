"""The tiny-model training recipe and the pair record the training tests share."""

from __future__ import annotations

from dataclasses import dataclass

from tuning.config import TrainConfig


@dataclass
class P:
    input: str
    output: str


def tiny_config(model_dir, **changes) -> TrainConfig:
    """A short, fast recipe for the tiny random Llama (12 steps, evaluation every 4)."""
    base = dict(
        model=str(model_dir), max_steps=12, eval_every=4, save_every=0, micro_batch_size=4, max_length=128,
        learning_rate=2e-2, warmup_ratio=0.0, lr_scheduler="constant", rank=8, alpha=16, dropout=0.0,
    )
    base.update(changes)
    return TrainConfig(**base)
