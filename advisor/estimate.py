"""Back-of-the-envelope estimates: memory, speed, wall time and money for training, generation and RAG.

Everything here is an *estimate* from a handful of formulas (see ``docs/advisor.md``), checked
against published figures (:data:`PUBLISHED`, :func:`accuracy_table`) and kept honest by tests.

Memory for training, per device::

    weights      params x bytes/param (fp32 4, bf16 2, int8 1, NF4 0.5 + quantisation constants)
    adapters     LoRA/DoRA parameters r x (in + out) per targeted linear, fp32 (4 bytes)
    gradients    trainable params x 4 (fp32; pure bf16 full fine-tuning: x 2)
    optimizer    AdamW: trainable params x 8 (two fp32 moments; pure bf16: x 4; 8-bit AdamW: x 2)
    activations  per token per layer ~2 x (6h + 2kv + 4i) bytes (bf16, flash attention); with
                 gradient checkpointing only each layer's input (2h bytes) plus one layer in full
    logits       tokens x vocab x 10 bytes (bf16 logits, fp32 copy and gradient; chunked loss: 2.5)
    overhead     0.25 GiB + 5% (allocator fragmentation, CUDA workspaces); the CUDA context
                 (~0.5 GB) is outside PyTorch's count and is taken off the device's memory instead

Speed: training FLOPs per token are 2P forward + 2P input gradients (+ 2P weight gradients for full
fine-tuning, + 2P recomputation with checkpointing) plus attention, at a fraction of the device's
dense bf16 peak (0.6 for full fine-tuning, 0.75 with a frozen base; calibrated on torchtune's figures).
Generation is bounded by memory bandwidth (weights read once per decoding step).

Pure Python: no torch at import time or anywhere here.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from advisor.catalogue import Device, get_device
from core.errors import ConfigError
from tuning.config import train_fields

GiB = 1024**3
GB = 1e9

Method = Literal["full", "lora", "dora", "qlora"]
Precision = Literal["mixed", "bf16", "fp32"]

CUDA_CONTEXT_BYTES = 0.5 * GB
"""Device memory taken by the CUDA context before any tensor exists."""
OVERHEAD_FIXED = 0.25 * GiB
"""Allocator fragmentation and library workspaces (fixed part)."""
OVERHEAD_FRACTION = 0.05
"""Allocator fragmentation (proportional part)."""
EFFICIENCY = {"full": 0.60, "lora": 0.75, "dora": 0.75, "qlora": 0.75}
"""Fraction of the dense bf16 peak reached in training (model FLOPs utilisation)."""
QLORA_SLOWDOWN = 0.8
"""QLoRA dequantises every weight in every pass: throughput x 0.8 of LoRA."""
DORA_SLOWDOWN = 0.8
"""DoRA recomputes the weight norm of each adapted matrix every step: throughput x 0.8 of LoRA."""
MULTI_DEVICE_SCALING = 0.9
"""Per-device throughput kept when training data-parallel on several devices."""
CPU_EFFICIENCY = 0.5
"""Fraction of the CPU's measured bf16 matmul rate reached in training."""
GENERATION_BANDWIDTH_EFFICIENCY = 0.6
"""Fraction of memory bandwidth reached while decoding."""
PREFILL_EFFICIENCY = 0.5
"""Fraction of the dense peak reached while reading a prompt (prefill)."""


# --------------------------------------------------------------------------- architectures
@dataclass(frozen=True)
class Architecture:
    """The shape of a decoder-only transformer (what the memory and FLOP formulas need)."""

    name: str
    params: float
    """Total parameters."""
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    vocab: int
    tied: bool = False
    """Input embedding and output head share weights."""

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    @property
    def embedding_params(self) -> float:
        return self.vocab * self.hidden

    @property
    def matmul_params(self) -> float:
        """Parameters that take part in matrix multiplies per token (everything but the embedding lookup; the head counts)."""
        return self.params - self.embedding_params + (self.embedding_params if self.tied else 0)

    @property
    def linear_params(self) -> float:
        """Parameters in the transformer blocks' linear layers (what 4/8-bit quantisation compresses)."""
        return self.layers * self.per_layer_linear

    @property
    def per_layer_linear(self) -> float:
        h, kv, i = self.hidden, self.kv_dim, self.intermediate
        return h * h * 2 + 2 * h * kv + 3 * h * i

    def modules(self) -> dict[str, tuple[int, int]]:
        """Linear modules of one block: name -> (in_features, out_features)."""
        h, kv, i = self.hidden, self.kv_dim, self.intermediate
        return {
            "q_proj": (h, h), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (h, h),
            "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h),
        }


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture("smollm2-135m", 0.1349e9, 30, 576, 1536, 9, 3, 49152, tied=True),
        Architecture("smollm2-360m", 0.3618e9, 32, 960, 2560, 15, 5, 49152, tied=True),
        Architecture("llama-3.2-1b", 1.236e9, 16, 2048, 8192, 32, 8, 128256, tied=True),
        Architecture("smollm2-1.7b", 1.711e9, 24, 2048, 8192, 32, 32, 49152, tied=True),
        Architecture("llama-3.2-3b", 3.213e9, 28, 3072, 8192, 24, 8, 128256, tied=True),
        Architecture("llama-2-7b", 6.738e9, 32, 4096, 11008, 32, 32, 32000),
        Architecture("llama-3.1-8b", 8.030e9, 32, 4096, 14336, 32, 8, 128256),
        Architecture("llama-2-13b", 13.016e9, 40, 5120, 13824, 40, 40, 32000),
        Architecture("qwen2.5-14b", 14.77e9, 48, 5120, 13824, 40, 8, 152064),
        Architecture("qwen2.5-32b", 32.76e9, 64, 5120, 27648, 40, 8, 152064),
        Architecture("llama-3.1-70b", 70.55e9, 80, 8192, 28672, 64, 8, 128256),
    )
}
MODEL_ALIASES = {
    "smollm2": "smollm2-135m", "default": "smollm2-135m", "smollm2-135m-instruct": "smollm2-135m",
    "smollm2-360m-instruct": "smollm2-360m", "smollm2-1.7b-instruct": "smollm2-1.7b",
    "llama-3-8b": "llama-3.1-8b", "llama3-8b": "llama-3.1-8b", "llama3.1-8b": "llama-3.1-8b", "llama-3.1-8b-instruct": "llama-3.1-8b",
    "llama-2-7b-hf": "llama-2-7b", "mistral-7b": "llama-2-7b", "llama-3.1-70b-instruct": "llama-3.1-70b",
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mbk]?)\s*$", re.IGNORECASE)
_NAMED_SIZE = re.compile(r"(?:^|[-_.])(\d+(?:\.\d+)?)([bm])(?:$|[-_.])")


def parse_size(text: str | float | int) -> float:
    """'7B' -> 7e9, '135M' -> 1.35e8, 7 -> 7e9 (bare numbers are billions)."""
    if isinstance(text, bool):
        raise ConfigError(f"Model size must be like 7B or 135M, got {text!r}.")
    if isinstance(text, (int, float)):
        value = float(text)
        return value * 1e9 if value < 1e4 else value
    m = _SIZE.match(str(text))
    if not m:
        raise ConfigError(f"Model size must be like 7B, 8b, 1.7B or 135M, got {text!r}.")
    number, unit = float(m.group(1)), m.group(2).lower()
    scale = {"b": 1e9, "m": 1e6, "k": 1e3, "": 1e9 if float(m.group(1)) < 1e4 else 1.0}[unit]
    return number * scale


def resolve_model(spec: str | float | int | Architecture | None) -> Architecture:
    """An :class:`Architecture` for a model name, a size ('7B'), a number of parameters, or a local folder.

    A bare size picks the nearest known architecture and scales its width to the stated size.
    A local transformers folder is read from its ``config.json`` (no model is loaded).
    """
    if isinstance(spec, Architecture):
        return spec
    if spec is None:
        return ARCHITECTURES["smollm2-135m"]
    if isinstance(spec, str):
        key = spec.strip().lower()
        key = MODEL_ALIASES.get(key, key)
        if key in ARCHITECTURES:
            return ARCHITECTURES[key]
        path = Path(spec)
        if (path / "config.json").is_file():
            return _from_config_json(path / "config.json")
        if not _SIZE.match(spec):
            for name, arch in ARCHITECTURES.items():
                if key.endswith(name) or name in key:
                    return arch
            sized = _NAMED_SIZE.search(key.rsplit("/", 1)[-1])
            if sized:  # e.g. Qwen/Qwen2.5-7B-Instruct, mistral-7b-v0.3
                return resolve_model(sized.group(1) + sized.group(2))
            raise ConfigError(
                f"Unknown model {spec!r}: give a size (7B, 135M), a known name ({', '.join(ARCHITECTURES)}) or a local folder with config.json."
            )
    params = parse_size(spec)
    if params <= 0:
        raise ConfigError(f"Model size must be positive, got {spec!r}.")
    nearest = min(ARCHITECTURES.values(), key=lambda a: abs(math.log(a.params / params)))
    if abs(nearest.params / params - 1) < 0.08:
        return replace(nearest, name=f"{_fmt_params(params)} (shaped like {nearest.name})", params=params)
    # Scale the width so that the parameter count matches; keep depth and vocabulary.
    ratio = params / nearest.params
    scale = math.sqrt(ratio)
    hidden = max(64, int(round(nearest.hidden * scale / 64)) * 64)
    heads = max(1, hidden // nearest.head_dim)
    kv_heads = max(1, min(heads, round(nearest.kv_heads * heads / nearest.heads)))
    return Architecture(
        f"{_fmt_params(params)} (scaled from {nearest.name})", params, nearest.layers, hidden,
        int(nearest.intermediate * scale), heads, kv_heads, nearest.vocab, nearest.tied,
    )


def _from_config_json(path: Path) -> Architecture:
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
        h = int(cfg["hidden_size"])
        layers = int(cfg["num_hidden_layers"])
        i = int(cfg.get("intermediate_size", 4 * h))
        heads = int(cfg.get("num_attention_heads", max(1, h // 64)))
        kv = int(cfg.get("num_key_value_heads", heads))
        vocab = int(cfg.get("vocab_size", 32000))
        tied = bool(cfg.get("tie_word_embeddings", False))
    except (KeyError, ValueError, TypeError, OSError) as exc:
        raise ConfigError(f"Cannot read the model shape from {path}: {exc}") from exc
    hd = h // heads
    per_layer = 2 * h * h + 2 * h * kv * hd + 3 * h * i + 2 * h
    params = layers * per_layer + vocab * h * (1 if tied else 2) + h
    return Architecture(path.parent.name, float(params), layers, h, i, heads, kv, vocab, tied)


def _fmt_params(params: float) -> str:
    return f"{params / 1e9:.3g}B" if params >= 1e9 else f"{params / 1e6:.3g}M"


# --------------------------------------------------------------------------- training memory
@dataclass(frozen=True)
class TrainSetup:
    """What a training run looks like to the estimator."""

    model: Architecture
    method: Method = "lora"
    precision: Precision = "mixed"
    """Full fine-tuning only: mixed (fp32 master weights + bf16 compute), bf16 (pure) or fp32."""
    quant_bits: int = 4
    """QLoRA only: 4 (NF4) or 8."""
    rank: int = 16
    target_modules: tuple[str, ...] | str = "all-linear"
    seq_len: int = 1024
    micro_batch: int = 1
    gradient_checkpointing: bool = True
    chunked_loss: bool = False
    """The loss is computed over chunks of the sequence (torchtune does; transformers does not)."""
    optimizer: Literal["adamw", "adamw8bit"] = "adamw"
    base_fp32: bool = False
    """LoRA over an fp32 base (CPU training without bf16)."""

    @property
    def tokens_per_micro_batch(self) -> int:
        return self.seq_len * self.micro_batch


@dataclass
class Memory:
    """Peak memory, in bytes, broken down by what holds it."""

    weights: float = 0.0
    adapters: float = 0.0
    gradients: float = 0.0
    optimizer: float = 0.0
    activations: float = 0.0
    logits: float = 0.0
    kv_cache: float = 0.0
    overhead: float = 0.0

    @property
    def total(self) -> float:
        return sum(asdict(self).values())

    def gib(self) -> dict[str, float]:
        out = {k: round(v / GiB, 2) for k, v in asdict(self).items() if v}
        out["total"] = round(self.total / GiB, 2)
        return out


def adapter_params(model: Architecture, rank: int, target_modules: tuple[str, ...] | list[str] | str = "all-linear", dora: bool = False) -> float:
    """LoRA (and DoRA magnitude) parameters for ``rank`` on the named modules of every layer."""
    modules = model.modules()
    if isinstance(target_modules, str):
        names = list(modules) if target_modules in ("all-linear", "all") else [target_modules]
    else:
        names = list(target_modules)
    aliases = {"output_proj": "o_proj", "w1": "gate_proj", "w3": "up_proj", "w2": "down_proj", "mlp": None}
    total = 0.0
    for name in names:
        name = aliases.get(name, name)
        if name is None:
            for m in ("gate_proj", "up_proj", "down_proj"):
                i, o = modules[m]
                total += rank * (i + o) + (o if dora else 0)
            continue
        if name not in modules:
            continue  # unknown names (e.g. lm_head) are ignored: a small under-estimate at worst
        i, o = modules[name]
        total += rank * (i + o) + (o if dora else 0)
    return total * model.layers


def _weight_bytes(model: Architecture, setup: TrainSetup) -> float:
    if setup.method == "qlora":
        per_param = {4: 0.5 + 0.0165, 8: 1.0 + 0.0625}.get(setup.quant_bits)
        if per_param is None:
            raise ConfigError(f"QLoRA takes 4 or 8 bits, got {setup.quant_bits}.")
        rest = model.params - model.linear_params  # embeddings, head, norms stay bf16
        return model.linear_params * per_param + rest * 2
    if setup.method == "full":
        return model.params * {"mixed": 4 + 2, "bf16": 2, "fp32": 4}[setup.precision]
    return model.params * (4 if setup.base_fp32 else 2)


def activation_bytes(model: Architecture, tokens: int, checkpointing: bool, element_bytes: int = 2) -> float:
    """Activations kept for the backward pass (flash/SDPA attention: no seq x seq scores stored)."""
    h, kv, i = model.hidden, model.kv_dim, model.intermediate
    per_token_layer = element_bytes * (6 * h + 2 * kv + 4 * i)
    if checkpointing:
        return tokens * model.layers * h * element_bytes + tokens * per_token_layer
    return tokens * model.layers * per_token_layer


def training_memory(setup: TrainSetup) -> Memory:
    """Peak memory of one training process (one device; no sharding)."""
    model = setup.model
    mem = Memory()
    mem.weights = _weight_bytes(model, setup)
    if setup.method == "full":
        trainable = model.params
        grad_bytes = {"mixed": 4, "bf16": 2, "fp32": 4}[setup.precision]
        state_bytes = 2 if setup.optimizer == "adamw8bit" else {"mixed": 8, "bf16": 4, "fp32": 8}[setup.precision]
    else:
        trainable = adapter_params(model, setup.rank, setup.target_modules, dora=setup.method == "dora")
        mem.adapters = trainable * 4
        grad_bytes, state_bytes = 4, (2 if setup.optimizer == "adamw8bit" else 8)
    mem.gradients = trainable * grad_bytes
    mem.optimizer = trainable * state_bytes
    tokens = setup.tokens_per_micro_batch
    element = 4 if (setup.base_fp32 or (setup.method == "full" and setup.precision == "fp32")) else 2
    mem.activations = activation_bytes(model, tokens, setup.gradient_checkpointing, element)
    if setup.method == "dora":
        # DoRA materialises W + BA of one adapted matrix at a time to take its norm.
        mem.activations += max(i * o for i, o in model.modules().values()) * 2 * 2
    mem.logits = tokens * model.vocab * (2.5 if setup.chunked_loss else 10)
    mem.overhead = OVERHEAD_FIXED + OVERHEAD_FRACTION * (mem.total)
    return mem


def inference_memory(model: Architecture, bits: int = 16, batch: int = 1, context_tokens: int = 2048) -> Memory:
    """Peak memory to generate with ``batch`` sequences of up to ``context_tokens`` (weights + KV cache)."""
    mem = Memory()
    if bits == 16:
        mem.weights = model.params * 2
    elif bits == 32:
        mem.weights = model.params * 4
    elif bits in (4, 8):
        per = 0.5 + 0.0165 if bits == 4 else 1.0625
        mem.weights = model.linear_params * per + (model.params - model.linear_params) * 2
    else:
        raise ConfigError(f"Inference precision must be 4, 8, 16 or 32 bits, got {bits}.")
    mem.kv_cache = 2 * model.layers * model.kv_dim * context_tokens * batch * 2
    # Prefill of the longest prompt: one layer's activations; the head only for the last token.
    mem.activations = batch * context_tokens * 2 * (2 * model.hidden + model.intermediate * 2)
    mem.logits = batch * model.vocab * 4
    mem.overhead = OVERHEAD_FIXED + OVERHEAD_FRACTION * mem.total
    return mem


# --------------------------------------------------------------------------- speed and cost
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
    eff = CPU_EFFICIENCY if dev.kind == "cpu" else EFFICIENCY[setup.method]
    rate = eff * dev.bf16_tflops * 1e12 / training_flops_per_token(setup)
    if setup.method == "qlora":
        rate *= QLORA_SLOWDOWN
    if setup.method == "dora":
        rate *= DORA_SLOWDOWN
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
        for name in ("weights", "gradients", "optimizer"):
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
        notes.append(f"{setup.quant_bits}-bit base weights (bitsandbytes); adapters and compute in bf16")
    return TrainingEstimate(setup.model.name, setup.method, dev.name, devices, mem, usable, mem.total <= usable, tokens, rate, wall, cost, notes)


# --------------------------------------------------------------------------- RAG
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


# --------------------------------------------------------------------------- feasibility
def _get(config: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if isinstance(config, dict) and name in config:
            return config[name]
        if not isinstance(config, dict) and hasattr(config, name):
            return getattr(config, name)
    return default


def setup_from_config(config: Any) -> TrainSetup:
    """A :class:`TrainSetup` from anything config-like: a ``TrainConfig``, a dict of its fields, a sweep trial's params."""
    if isinstance(config, dict):
        config = train_fields(config)  # other names of TrainConfig fields (lr, r, batch_size, seq_len, ...)
    model = resolve_model(_get(config, "model", "model_size"))
    method = str(_get(config, "method", default="lora")).lower()
    if _get(config, "qlora", "use_qlora", default=False) is True and method == "lora":
        method = "qlora"
    if _get(config, "dora", "use_dora", default=False) is True and method == "lora":
        method = "dora"
    if method not in ("full", "lora", "dora", "qlora"):
        raise ConfigError(f"Unknown fine-tuning method {method!r}; expected full, lora, dora or qlora.")
    precision = str(_get(config, "precision", default="mixed")).lower()
    precision = {"auto": "mixed", "bf16": "mixed", "fp16": "mixed", "fp32": "fp32", "pure_bf16": "bf16", "mixed": "mixed"}.get(precision, "mixed")
    targets = _get(config, "target_modules", default="all-linear")
    if isinstance(targets, list):
        targets = tuple(targets)
    return TrainSetup(
        model=model,
        method=method,  # type: ignore[arg-type]
        precision=precision,  # type: ignore[arg-type]
        quant_bits=int(_get(config, "quant_bits", "bits", default=4)),
        rank=int(_get(config, "rank", default=16)),
        target_modules=targets,
        seq_len=int(_get(config, "max_length", default=1024)),
        micro_batch=int(_get(config, "micro_batch_size", default=1)),
        gradient_checkpointing=bool(_get(config, "gradient_checkpointing", default=False)),
        base_fp32=str(_get(config, "precision", default="auto")).lower() == "fp32",
    )


def fits(config: Any, device: Device | str | float | int) -> tuple[bool, str]:
    """Will this training config fit on ``device``? ``(ok, reason)``; the sweep marks misfits infeasible.

    ``device`` is a catalogue name (``rtx4090``), a :class:`Device`, or a memory size in bytes.
    """
    setup = setup_from_config(config)
    if isinstance(device, (int, float)) and not isinstance(device, bool):
        usable, label = float(device), f"{device / GiB:.1f} GiB"
    else:
        dev = get_device(device)
        usable, label = usable_memory(dev), f"{dev.label} ({usable_memory(dev) / GiB:.1f} GiB usable)"
    mem = training_memory(setup)
    need = mem.total
    what = (
        f"{setup.method} on {setup.model.name}, micro-batch {setup.micro_batch} x {setup.seq_len} tokens, "
        f"checkpointing {'on' if setup.gradient_checkpointing else 'off'}"
    )
    if need <= usable:
        return True, f"fits: needs ~{need / GiB:.1f} GiB (estimate) of {label} for {what}"
    hints = []
    if not setup.gradient_checkpointing:
        hints.append("turn on gradient checkpointing")
    if setup.micro_batch > 1:
        hints.append("halve the micro-batch and double gradient accumulation")
    if setup.method in ("lora", "dora", "full"):
        hints.append("use QLoRA (4-bit base)")
    hints.append("use a smaller base model")
    biggest = max(("weights", mem.weights), ("activations", mem.activations), ("optimizer", mem.optimizer), ("logits", mem.logits), key=lambda kv: kv[1])
    return False, (
        f"does not fit: needs ~{need / GiB:.1f} GiB (estimate; mostly {biggest[0]}, {biggest[1] / GiB:.1f} GiB) "
        f"but {label} for {what}; try: {', '.join(hints)}"
    )


# --------------------------------------------------------------------------- published checks
@dataclass(frozen=True)
class PublishedCase:
    """A published peak-memory or throughput figure and the setup that produced it."""

    name: str
    source: str
    quantity: Literal["memory", "throughput"]
    published: float
    unit: str
    setup: TrainSetup
    device: str = "a100-80"
    devices: int = 1
    basis: Literal["device", "allocated"] = "allocated"
    """What the figure counts: ``device`` (what the card must hold, CUDA context included) or
    ``allocated`` (PyTorch's ``max_memory_allocated``: live tensors, no fragmentation)."""


def _lf(method: Method, precision: Precision = "mixed", bits: int = 4) -> TrainSetup:
    # LLaMA-Factory's table is a rule of thumb for short sequences: 512 tokens, micro-batch 1, checkpointing on, all linear layers.
    return TrainSetup(ARCHITECTURES["llama-2-7b"], method, precision, bits, rank=8, seq_len=512, micro_batch=1, gradient_checkpointing=True)


_TT = dict(rank=8, target_modules=("q_proj", "v_proj", "o_proj", "mlp"), seq_len=2048, micro_batch=2, gradient_checkpointing=True, chunked_loss=True)
LF = "LLaMA-Factory README, hardware requirement table (7B)"
TT = "torchtune README, memory and training speed table (Llama 3.1 8B, batch 2, packed 2048, compile)"
PUBLISHED: tuple[PublishedCase, ...] = (
    PublishedCase("7B full, mixed precision", LF, "memory", 120, "GB", _lf("full", "mixed"), basis="device"),
    PublishedCase("7B full, pure bf16", LF, "memory", 60, "GB", _lf("full", "bf16"), basis="device"),
    PublishedCase("7B LoRA, bf16", LF, "memory", 16, "GB", _lf("lora"), basis="device"),
    PublishedCase("7B QLoRA, 8-bit", LF, "memory", 10, "GB", _lf("qlora", bits=8), basis="device"),
    PublishedCase("7B QLoRA, 4-bit", LF, "memory", 6, "GB", _lf("qlora", bits=4), basis="device"),
    PublishedCase("Llama-3.1-8B LoRA, 1x RTX 4090", TT, "memory", 16.2, "GiB",
                  TrainSetup(ARCHITECTURES["llama-3.1-8b"], "lora", **_TT), "rtx4090"),
    PublishedCase("Llama-3.1-8B LoRA, 1x RTX 4090", TT, "throughput", 3083, "tokens/s",
                  TrainSetup(ARCHITECTURES["llama-3.1-8b"], "lora", **_TT), "rtx4090"),
    PublishedCase("Llama-3.1-8B QLoRA, 1x RTX 4090", TT, "memory", 7.4, "GiB",
                  TrainSetup(ARCHITECTURES["llama-3.1-8b"], "qlora", **_TT), "rtx4090"),
    PublishedCase("Llama-3.1-8B QLoRA, 1x RTX 4090", TT, "throughput", 2413, "tokens/s",
                  TrainSetup(ARCHITECTURES["llama-3.1-8b"], "qlora", **_TT), "rtx4090"),
    PublishedCase("Llama-3.1-70B LoRA, 8x A100 (total)", TT, "throughput", 3497, "tokens/s",
                  TrainSetup(ARCHITECTURES["llama-3.1-70b"], "lora", **_TT), "a100-80", 8),
)
MEMORY_TOLERANCE = 0.25
THROUGHPUT_TOLERANCE = 0.35


def estimate_case(case: PublishedCase) -> float:
    """The estimator's figure for a published case, in the case's unit."""
    if case.quantity == "memory":
        mem = training_memory(case.setup)
        # "device": what the card must hold (CUDA context included); "allocated": PyTorch's count of
        # live tensors, which leaves out allocator fragmentation (our overhead term).
        total = mem.total + CUDA_CONTEXT_BYTES if case.basis == "device" else mem.total - mem.overhead
        return total / (GiB if case.unit == "GiB" else GB)
    return training_tokens_per_second(case.setup, case.device, case.devices)


def accuracy_table() -> list[dict[str, Any]]:
    """Each published case with the estimate and the relative error (estimate / published - 1)."""
    rows = []
    for case in PUBLISHED:
        est = estimate_case(case)
        rows.append({
            "case": case.name, "quantity": case.quantity, "unit": case.unit, "published": case.published,
            "estimated": round(est, 1 if est < 100 else 0), "error": round(est / case.published - 1, 3), "source": case.source,
        })
    return rows


def accuracy_summary() -> str:
    """One sentence: how far the estimator has been off on the published cases."""
    rows = accuracy_table()
    mem = [abs(r["error"]) for r in rows if r["quantity"] == "memory"]
    thr = [abs(r["error"]) for r in rows if r["quantity"] == "throughput"]
    return (
        f"All figures are estimates. On {len(mem)} published peak-memory cases the estimator was off by at most "
        f"{max(mem):.0%} (median {sorted(mem)[len(mem) // 2]:.0%}); on {len(thr)} published throughput cases by at most "
        f"{max(thr):.0%} (see docs/advisor.md)."
    )
