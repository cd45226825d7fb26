"""Peak memory of training and generation, by what holds it (weights, adapters, gradients, optimiser, activations, logits)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from advisor.estimate.models import Architecture
from core.errors import ConfigError

GiB = 1024**3
GB = 1e9

Method = Literal["full", "lora", "dora", "qlora"]
Precision = Literal["mixed", "bf16", "fp32"]
Optimizer = Literal["adamw", "adamw8bit", "paged_adamw", "paged_adamw8bit"]
OPTIMIZERS = ("adamw", "adamw8bit", "paged_adamw", "paged_adamw8bit")

CUDA_CONTEXT_BYTES = 0.5 * GB
"""Device memory taken by the CUDA context before any tensor exists."""
OVERHEAD_FIXED = 0.25 * GiB
"""Allocator fragmentation and library workspaces (fixed part)."""
OVERHEAD_FRACTION = 0.05
"""Allocator fragmentation (proportional part)."""
NF4_BYTES = 0.5 + 0.0165
"""Bytes per 4-bit (NF4, double-quantised) weight, quantisation constants included."""
INT8_BYTES = 1.0625
"""Bytes per 8-bit (LLM.int8) weight, scales included."""
LOGIT_BYTES = 14
"""Bytes per token per vocabulary entry for the loss: bf16 logits (2), their fp32 upcast (4), the fp32
log-softmax kept for the backward pass (4) and its fp32 gradient (4)."""
LOGIT_BYTES_CHUNKED = 2.5
"""The same with a chunked loss (torchtune, Liger): only one chunk is upcast at a time."""

@dataclass(frozen=True)
class TrainSetup:
    """What a training run looks like to the estimator."""

    model: Architecture
    method: Method = "lora"
    precision: Precision = "mixed"
    """Full fine-tuning only: mixed (fp32 master weights + bf16 compute), bf16 (pure bf16 weights) or fp32."""
    quant_bits: int = 4
    """LoRA on a quantised base (method qlora): 4 (NF4) or 8 (LLM.int8)."""
    rank: int = 16
    target_modules: tuple[str, ...] | str = "all-linear"
    seq_len: int = 1024
    micro_batch: int = 1
    gradient_checkpointing: bool = True
    chunked_loss: bool = False
    """The loss is computed over chunks of the sequence (torchtune does; transformers does not)."""
    optimizer: Optimizer = "adamw"
    """AdamW states: fp32 (``adamw``), 8-bit (``adamw8bit``), or either paged by bitsandbytes
    (``paged_*``): paged states live in unified memory and spill to CPU RAM when the card is full,
    so they are counted apart from the card's peak (:attr:`Memory.paged`)."""
    optimizer_in_backward: bool = False
    """Each parameter is updated as soon as its gradient exists (torchtune ``optimizer_in_bwd``):
    only one gradient tensor is alive at a time."""
    base_fp32: bool = False
    """LoRA over an fp32 base (CPU training without bf16)."""
    profile: str = "plain-transformers"
    """Throughput profile of the training stack (see ``advisor.estimate.throughput.PROFILES``)."""

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
    paged: float = 0.0
    """Paged optimiser states: in unified memory, spilled to CPU RAM under pressure; not in :attr:`total`."""

    @property
    def total(self) -> float:
        """What the card must hold at the peak (paged states excluded)."""
        return sum(v for k, v in asdict(self).items() if k != "paged")

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
        per_param = {4: NF4_BYTES, 8: INT8_BYTES}.get(setup.quant_bits)
        if per_param is None:
            raise ConfigError(f"A quantised base takes 4 or 8 bits, got {setup.quant_bits}.")
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


def optimizer_state_bytes(setup: TrainSetup) -> float:
    """Bytes of AdamW state per trainable parameter (two moments)."""
    if setup.optimizer in ("adamw8bit", "paged_adamw8bit"):
        return 2.0
    if setup.method == "full" and setup.precision == "bf16":
        return 4.0  # states in the parameters' dtype
    return 8.0


def training_memory(setup: TrainSetup) -> Memory:
    """Peak memory of one training process (one device; no sharding)."""
    model = setup.model
    mem = Memory()
    mem.weights = _weight_bytes(model, setup)
    if setup.method == "full":
        trainable = model.params
        grad_bytes = {"mixed": 4, "bf16": 2, "fp32": 4}[setup.precision]
        largest = max(model.embedding_params, max(i * o for i, o in model.modules().values()))
    else:
        trainable = adapter_params(model, setup.rank, setup.target_modules, dora=setup.method == "dora")
        mem.adapters = trainable * 4
        grad_bytes = 4
        largest = trainable / max(model.layers, 1)
    mem.gradients = (largest if setup.optimizer_in_backward else trainable) * grad_bytes
    states = trainable * optimizer_state_bytes(setup)
    if setup.optimizer.startswith("paged_"):
        mem.paged = states
    else:
        mem.optimizer = states
    tokens = setup.tokens_per_micro_batch
    element = 4 if (setup.base_fp32 or (setup.method == "full" and setup.precision == "fp32")) else 2
    mem.activations = activation_bytes(model, tokens, setup.gradient_checkpointing, element)
    if setup.method == "dora":
        # DoRA materialises W + BA of one adapted matrix at a time to take its norm.
        mem.activations += max(i * o for i, o in model.modules().values()) * 2 * 2
    mem.logits = tokens * model.vocab * (LOGIT_BYTES_CHUNKED if setup.chunked_loss else LOGIT_BYTES)
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
        per = NF4_BYTES if bits == 4 else INT8_BYTES
        mem.weights = model.linear_params * per + (model.params - model.linear_params) * 2
    else:
        raise ConfigError(f"Inference precision must be 4, 8, 16 or 32 bits, got {bits}.")
    mem.kv_cache = 2 * model.layers * model.kv_dim * context_tokens * batch * 2
    # Prefill of the longest prompt: one layer's activations; the head only for the last token.
    mem.activations = batch * context_tokens * 2 * (2 * model.hidden + model.intermediate * 2)
    mem.logits = batch * model.vocab * 4
    mem.overhead = OVERHEAD_FIXED + OVERHEAD_FRACTION * mem.total
    return mem
