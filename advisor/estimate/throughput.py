"""Speed: training tokens per second under named stack profiles, generation and prefill speed."""

from __future__ import annotations

from dataclasses import dataclass

from advisor.catalogue import Device, get_device
from advisor.estimate.memory import TrainSetup, inference_memory
from advisor.estimate.models import Architecture

MULTI_DEVICE_SCALING = 0.9
"""Per-device throughput kept when training data-parallel on several devices."""
CPU_EFFICIENCY = 0.5
"""Fraction of the CPU's measured bf16 matmul rate reached in training (before calibration)."""
GENERATION_BANDWIDTH_EFFICIENCY = 0.6
"""Fraction of memory bandwidth reached while decoding."""
PREFILL_EFFICIENCY = 0.5
"""Fraction of the dense peak reached while reading a prompt (prefill)."""


@dataclass(frozen=True)
class Profile:
    """How fast a training stack runs, as fractions of the card's dense bf16 peak (model FLOPs utilisation)."""

    name: str
    description: str
    full: float
    """MFU of full fine-tuning."""
    frozen_base: float
    """MFU of LoRA / DoRA / QLoRA (a frozen base)."""
    qlora_slowdown: float = 0.8
    """Throughput kept when every weight is dequantised from 4/8 bits in every pass."""
    dora_slowdown: float = 0.8
    """Throughput kept when DoRA recomputes each adapted weight's norm every step."""


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("optimised", "torchtune / Unsloth / Liger class: packed sequences, torch.compile, fused kernels, chunked loss",
                full=0.60, frozen_base=0.75),
        Profile("plain-transformers", "transformers + PEFT (+ bitsandbytes), eager or SDPA attention, no compile: this product's engine",
                full=0.26, frozen_base=0.33),
    )
}
"""Named throughput profiles: the optimised one is calibrated on torchtune's published table, the plain
one on a published PEFT + bitsandbytes run (see docs/advisor.md); a calibration run replaces both."""


def get_profile(name: str) -> Profile:
    from core.errors import ConfigError

    if name not in PROFILES:
        raise ConfigError(f"Unknown throughput profile {name!r}; known: {', '.join(PROFILES)}.")
    return PROFILES[name]


def training_flops_per_token(setup: TrainSetup) -> float:
    """Model FLOPs for one training token (forward, backward, recomputation)."""
    model = setup.model
    attn_fwd = 2 * setup.seq_len * model.hidden * model.layers  # causal QK^T and AV, halved
    fwd = 2 * model.matmul_params + attn_fwd
    total = fwd + (2 * model.matmul_params + 2 * attn_fwd)  # gradients w.r.t. activations
    if setup.method == "full":
        total += 2 * model.matmul_params  # gradients w.r.t. weights
    if setup.gradient_checkpointing:
        total += fwd
    return total


def training_tokens_per_second(setup: TrainSetup, device: Device | str, devices: int = 1) -> float:
    """Training tokens per second on ``devices`` identical devices (data parallel)."""
    dev = get_device(device)
    profile = get_profile(setup.profile)
    if dev.kind == "cpu":
        eff = CPU_EFFICIENCY
    else:
        eff = profile.full if setup.method == "full" else profile.frozen_base
    rate = eff * dev.bf16_tflops * 1e12 / training_flops_per_token(setup)
    if setup.method == "qlora":
        rate *= profile.qlora_slowdown
    if setup.method == "dora":
        rate *= profile.dora_slowdown
    if devices > 1:
        rate *= devices * MULTI_DEVICE_SCALING
    return rate


def generation_tokens_per_second(model: Architecture, device: Device | str, bits: int = 16, batch: int = 1) -> float:
    """Decoding speed in generated tokens per second summed over a batch (bandwidth- or compute-bound)."""
    dev = get_device(device)
    weight_bytes = inference_memory(model, bits, 1, 1).weights
    step_bandwidth = weight_bytes / (dev.bandwidth_gbs * 1e9 * GENERATION_BANDWIDTH_EFFICIENCY)
    step_compute = 2 * model.matmul_params * batch / (dev.bf16_tflops * 1e12 * PREFILL_EFFICIENCY)
    return batch / max(step_bandwidth, step_compute)


def prefill_tokens_per_second(model: Architecture, device: Device | str) -> float:
    """Prompt tokens read per second (compute-bound)."""
    dev = get_device(device)
    return dev.bf16_tflops * 1e12 * PREFILL_EFFICIENCY / (2 * model.matmul_params)
