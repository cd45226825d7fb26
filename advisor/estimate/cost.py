"""Time and money: a training run's estimate (memory, speed, wall time, cost) and a RAG configuration's."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from advisor.catalogue import Device, get_device
from advisor.estimate.memory import CUDA_CONTEXT_BYTES, OVERHEAD_FIXED, OVERHEAD_FRACTION, GiB, Memory, TrainSetup, training_memory
from advisor.estimate.models import Architecture, resolve_model
from advisor.estimate.published import accuracy_summary
from advisor.estimate.throughput import prefill_tokens_per_second, training_tokens_per_second
from core.errors import ConfigError

@dataclass
class TrainingEstimate:
    """Memory, speed, time and money for one training run: all estimates."""

    model: str
    method: str
    device: str
    devices: int
    memory: Memory
    usable_bytes: float
    fits: bool
    tokens: float
    tokens_per_second: float
    wall_seconds: float
    cost_usd: float
    notes: list[str] = field(default_factory=list)
    profile: str = "plain-transformers"
    """The throughput profile the speed assumes."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": True,
            "model": self.model,
            "method": self.method,
            "device": self.device,
            "devices": self.devices,
            "peak_memory_gib": self.memory.gib(),
            "device_memory_gib": round(self.usable_bytes / GiB, 2),
            "fits": self.fits,
            "training_tokens": int(self.tokens),
            "tokens_per_second": round(self.tokens_per_second, 1),
            "wall_hours": round(self.wall_seconds / 3600, 3),
            "cost_usd": round(self.cost_usd, 2),
            "profile": self.profile,
            "notes": self.notes,
            "accuracy": accuracy_summary(),
        }


def usable_memory(device: Device | str) -> float:
    dev = get_device(device)
    return dev.memory_bytes - (0 if dev.kind == "cpu" else CUDA_CONTEXT_BYTES)


def estimate_training(setup: TrainSetup, device: Device | str, tokens: float, devices: int = 1) -> TrainingEstimate:
    """Peak memory, throughput, wall time and cost of training on ``tokens`` tokens (epochs included)."""
    dev = get_device(device)
    mem = training_memory(setup)
    notes = []
    if devices > 1 and setup.method == "full":
        # Sharded (FSDP / ZeRO-3): weights, gradients and optimizer states split across devices.
        for name in ("weights", "gradients", "optimizer", "paged"):
            setattr(mem, name, getattr(mem, name) / devices)
        mem.overhead = OVERHEAD_FIXED + OVERHEAD_FRACTION * (mem.total - mem.overhead)
        notes.append(f"full fine-tuning sharded over {devices} devices (FSDP/ZeRO-3)")
    usable = usable_memory(dev)
    rate = training_tokens_per_second(setup, dev, devices)
    wall = tokens / rate if rate > 0 else float("inf")
    cost = wall / 3600 * dev.price_per_hour * devices
    if not dev.bf16:
        notes.append(f"{dev.label} has no bf16: it trains in fp16 (loss scaling) at its fp16 rate")
    if setup.method == "qlora":
        notes.append(f"LoRA on a {setup.quant_bits}-bit base (bitsandbytes); adapters and compute in bf16")
    if mem.paged:
        notes.append(f"{mem.paged / GiB:.1f} GiB of paged optimiser states live in unified memory and spill to CPU RAM when the card is full")
    if dev.kind != "cpu":
        notes.append(f"speed for the {setup.profile} stack profile")
    return TrainingEstimate(setup.model.name, setup.method, dev.name, devices, mem, usable, mem.total <= usable, tokens, rate, wall, cost, notes, setup.profile)


@dataclass
class RagEstimate:
    """Index size, build time and per-query cost of a RAG configuration: all estimates."""

    chunks: int
    index_bytes: float
    text_bytes: float
    build_seconds: float
    extra_prompt_tokens: int
    extra_seconds_per_query: float
    cost_per_1000_queries_usd: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": True,
            "chunks": self.chunks,
            "index_mib": round(self.index_bytes / 2**20, 2),
            "text_mib": round(self.text_bytes / 2**20, 2),
            "build_minutes": round(self.build_seconds / 60, 2),
            "extra_prompt_tokens_per_query": self.extra_prompt_tokens,
            "extra_seconds_per_query": round(self.extra_seconds_per_query, 4),
            "cost_per_1000_queries_usd": round(self.cost_per_1000_queries_usd, 4),
        }


def estimate_rag(
    corpus_tokens: float,
    device: Device | str = "cpu",
    generator: Architecture | str | None = None,
    chunk_size: int = 256,
    chunk_overlap: int = 32,
    top_k: int = 4,
    embedding_dim: int = 384,
    embedder_params: float = 22.7e6,
    index_type: str = "flat",
) -> RagEstimate:
    """Index size and build time for a corpus, and what retrieval adds to each query (time and money).

    The extra prompt tokens (``top_k x chunk_size``) are what RAG costs per query: the generator reads
    them before answering. Defaults: all-MiniLM-L6-v2 (384 dimensions, 22.7M parameters).
    """
    if chunk_overlap >= chunk_size:
        raise ConfigError(f"`chunk_overlap < chunk_size` must hold, but got (chunk_overlap={chunk_overlap}, chunk_size={chunk_size}).")
    dev = get_device(device)
    gen = resolve_model(generator)
    chunks = max(1, math.ceil(corpus_tokens / (chunk_size - chunk_overlap)))
    vector_bytes = chunks * embedding_dim * 4
    index_bytes = vector_bytes * (1.5 if index_type == "hnsw" else 1.0) + chunks * 8
    text_bytes = chunks * chunk_size * 4.0  # ~4 characters per token
    embed_flops = chunks * chunk_size * 2 * embedder_params
    build = embed_flops / (dev.bf16_tflops * 1e12 * (0.25 if dev.kind == "cpu" else 0.3))
    extra_tokens = top_k * chunk_size
    search_s = (chunks * embedding_dim * 2) / (20e9 if dev.kind == "cpu" else 200e9)
    query_embed_s = 32 * 2 * embedder_params / (dev.bf16_tflops * 1e12 * 0.2)
    extra = extra_tokens / prefill_tokens_per_second(gen, dev) + search_s + query_embed_s
    cost = extra * 1000 / 3600 * dev.price_per_hour
    return RagEstimate(chunks, index_bytes, text_bytes, build, extra_tokens, extra, cost)
