"""`TrainConfig`: one typed, validated configuration for a fine-tuning run (also its YAML schema)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from core.config import Problems, dump_yaml, from_dict, load_config, rename_aliases, to_dict

Method = Literal["lora", "dora", "qlora", "full"]
Packing = Literal["packed", "padding_free", "length_grouped", "padded"]
Precision = Literal["auto", "bf16", "fp32", "fp16"]
Scheduler = Literal["cosine", "linear", "constant"]
Attention = Literal["auto", "eager", "sdpa"]
Compile = Literal["auto", "on", "off"]

TRAIN_ALIASES: dict[str, str] = {
    "lr": "learning_rate",
    "r": "rank",
    "lora_rank": "rank",
    "lora_alpha": "alpha",
    "lora_dropout": "dropout",
    "batch_size": "micro_batch_size",
    "micro_batch": "micro_batch_size",
    "seq_len": "max_length",
    "max_seq_len": "max_length",
    "base_model": "model",
}
"""Other names of TrainConfig fields, accepted wherever training settings arrive as a mapping
(sweep search spaces and fixed settings, the estimator's feasibility check)."""


def train_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with :data:`TRAIN_ALIASES` renamed to TrainConfig field names."""
    return rename_aliases(values, TRAIN_ALIASES)


@dataclass
class TrainConfig:
    """How to fine-tune a base model on (input, output) pairs."""

    model: str | None = None
    """Base model: None/'smollm2' for the shipped SmolLM2-135M-Instruct, or a local transformers folder."""
    method: Method = "lora"
    """lora, dora (weight-decomposed LoRA), qlora (LoRA over a 4-bit NF4 base) or full (every weight; small models)."""
    rank: int = 16
    """LoRA rank r."""
    alpha: float = 32.0
    """LoRA scaling numerator (the update is scaled by alpha / rank)."""
    dropout: float = 0.0
    """Dropout on the LoRA input. 0 skips drawing a random mask over every adapted input (~8% of a CPU step on SmolLM2); raise it (0.05-0.1) for many epochs over a small set."""
    target_modules: list[str] | str = "all-linear"
    """Module names that get adapters (e.g. [q_proj, v_proj]) or "all-linear"."""
    learning_rate: float = 2e-4
    """Peak learning rate (AdamW)."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    lr_scheduler: Scheduler = "cosine"
    """Learning-rate schedule after the warm-up: cosine, linear (to 0) or constant."""
    warmup_ratio: float = 0.05
    """Fraction of the optimizer steps spent warming up linearly from 0."""
    epochs: float = 1.0
    """Passes over the training examples (ignored when max_steps is set)."""
    max_steps: int | None = None
    """Stop after this many optimizer steps (overrides epochs)."""
    micro_batch_size: int = 8
    """Examples per forward pass; packed: rows of up to max_length tokens per forward pass; padding_free: examples per row."""
    grad_accumulation: int = 1
    """Micro-batches per optimizer step."""
    max_length: int = 256
    """Longest example in tokens; longer ones are cut (and counted in the run record)."""
    packing: Packing = "packed"
    """packed (examples bin-packed into rows of max_length, attention kept inside each), padding_free (micro_batch_size examples concatenated into one row), length_grouped (similar lengths padded together) or padded (every row padded to max_length; the slow reference)."""
    precision: Precision = "auto"
    """auto (CUDA: bf16, else fp16; CPU: bf16 autocast where measured faster, else fp32), bf16, fp16 (CUDA only) or fp32."""
    attention: Attention = "auto"
    """Attention kernel while training: auto (CPU: eager, whose backward ran ~1.2x faster than PyTorch's CPU SDPA kernel in bench/bench_train.py; CUDA: sdpa), eager or sdpa."""
    compile: Compile = "auto"
    """Compile the training forward for one static shape (tuning/static_graph.py): auto (CPU, packed, single process, at least 600 micro-batches; falls back to eager if compiling fails), on, or off."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass (less memory, ~30% slower)."""
    max_grad_norm: float = 1.0
    """Gradient clipping norm (0 turns clipping off)."""
    eval_every: int = 50
    """Validation loss every N optimizer steps (0: only at the end)."""
    eval_examples: int = 256
    """At most this many validation examples per evaluation (keeps evaluation cheap)."""
    early_stopping_patience: int = 0
    """Stop after this many evaluations without improvement (0: never stop early)."""
    keep_best: bool = True
    """Save the weights of the evaluation with the lowest validation loss rather than the last."""
    save_every: int = 100
    """Write a resumable checkpoint every N optimizer steps (0: never)."""
    seed: int = 0
    """Seed for the data order, dropout and adapter initialisation."""
    system_prompt: str | None = None
    """System message for every example (None: the chat template's default)."""
    device: str = "auto"
    """auto (CUDA when available), cpu, cuda or cuda:N."""
    threads: int | None = None
    """CPU threads for torch (None: torch's default)."""

    def validate(self) -> None:
        p = Problems("TrainConfig")
        p.check(self.rank >= 1, f"`rank >= 1` must hold, but got rank={self.rank}")
        p.check(self.alpha > 0, f"`alpha > 0` must hold, but got alpha={self.alpha}")
        p.check(0.0 <= self.dropout < 1.0, f"`0 <= dropout < 1` must hold, but got dropout={self.dropout}")
        if isinstance(self.target_modules, str):
            p.check(self.target_modules == "all-linear", f"`target_modules` must be a list of module names or \"all-linear\", but got {self.target_modules!r}")
        else:
            p.check(len(self.target_modules) > 0, "`target_modules` must not be empty; name modules such as [q_proj, v_proj] or use \"all-linear\"")
        p.check(0 < self.learning_rate < 1, f"`0 < learning_rate < 1` must hold, but got learning_rate={self.learning_rate}")
        p.check(self.weight_decay >= 0, f"`weight_decay >= 0` must hold, but got weight_decay={self.weight_decay}")
        p.check(0 <= self.warmup_ratio < 1, f"`0 <= warmup_ratio < 1` must hold, but got warmup_ratio={self.warmup_ratio}")
        p.check(self.epochs > 0, f"`epochs > 0` must hold, but got epochs={self.epochs}")
        p.check(self.max_steps is None or self.max_steps >= 1, f"`max_steps >= 1` must hold when set, but got max_steps={self.max_steps}")
        p.check(self.micro_batch_size >= 1, f"`micro_batch_size >= 1` must hold, but got micro_batch_size={self.micro_batch_size}")
        p.check(self.grad_accumulation >= 1, f"`grad_accumulation >= 1` must hold, but got grad_accumulation={self.grad_accumulation}")
        p.check(16 <= self.max_length <= 32768, f"`16 <= max_length <= 32768` must hold, but got max_length={self.max_length}")
        p.check(self.max_grad_norm >= 0, f"`max_grad_norm >= 0` must hold, but got max_grad_norm={self.max_grad_norm}")
        p.check(self.eval_every >= 0, f"`eval_every >= 0` must hold, but got eval_every={self.eval_every}")
        p.check(self.eval_examples >= 1, f"`eval_examples >= 1` must hold, but got eval_examples={self.eval_examples}")
        p.check(self.early_stopping_patience >= 0, f"`early_stopping_patience >= 0` must hold, but got {self.early_stopping_patience}")
        p.check(self.save_every >= 0, f"`save_every >= 0` must hold, but got save_every={self.save_every}")
        p.check(self.threads is None or self.threads >= 1, f"`threads >= 1` must hold when set, but got threads={self.threads}")
        p.check(
            self.device in {"auto", "cpu", "cuda"} or self.device.startswith("cuda:"),
            f"`device` must be auto, cpu, cuda or cuda:N, but got {self.device!r}",
        )
        p.check(
            not (self.method == "full" and self.precision == "fp16"),
            "`method: full` with `precision: fp16` is not supported (fp16 master weights diverge); use bf16 or fp32",
        )
        p.check(
            not (self.early_stopping_patience > 0 and self.eval_every == 0),
            "`early_stopping_patience` needs `eval_every > 0` (there is nothing to compare without evaluations)",
        )
        p.raise_if_any()

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        return from_dict(cls, data)

    @classmethod
    def load(cls, path) -> "TrainConfig":
        """Read and validate a YAML/JSON recipe."""
        return load_config(cls, path)

    def to_dict(self) -> dict:
        return to_dict(self)

    def to_yaml(self, header: str | None = None) -> str:
        return dump_yaml(self, header=header)

    def replace(self, **changes) -> "TrainConfig":
        """A validated copy with some fields changed (used by sweeps and the CLI)."""
        data = self.to_dict()
        data.update(changes)
        return from_dict(TrainConfig, data)

