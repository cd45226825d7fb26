"""A compiled training forward: every micro-batch padded to one shape, so ``torch.compile`` builds one graph.

Why: on CPU a step of a small model spends ~40% of its time in element-wise kernels (RMSNorm, SiLU,
RoPE, residual adds, dtype casts) that eager PyTorch runs one by one far below the matmul peak.
Inductor fuses them, but only pays with static shapes: with dynamic shapes (packed micro-batches vary
in width) the compiled layers ran at 0.62x eager. Padding each packed micro-batch to
``micro_batch_size x max_length`` costs little (best-fit packing fills rows) and gives one shape for the
whole run. Measured in bench/bench_train.py (BENCHMARKS.md, "Compiled training forward").

Only the decoder stack is compiled (the loss, with its data-dependent choice of positions, stays
eager), and only for the training step: evaluation and generation call the uncompiled model, so
their varying shapes never trigger recompilation. Compilation takes about a minute for a 135M model
on 2 cores, so ``compile: auto`` turns it on only for runs long enough to win that back.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import TrainingError

if TYPE_CHECKING:  # pragma: no cover
    from tuning.batches import Batch
    from tuning.config import TrainConfig
    from tuning.distributed import Dist

log = logging.getLogger(__name__)

AUTO_MIN_MICRO_BATCHES = 600
"""``compile: auto`` compiles runs of at least this many micro-batches: ~60 s of compilation against
~0.1 s saved per micro-batch of SmolLM2-135M (4 x 128 tokens) on a 2-core CPU breaks even near 600."""


@dataclass(frozen=True)
class CompileChoice:
    """Whether this run's training forward is compiled, and why (kept in the run record)."""

    enabled: bool
    reason: str


def choose_compile(config: "TrainConfig", device: str, dist: "Dist", micro_batches: int, head_fusable: bool) -> CompileChoice:
    """``config.compile`` applied to this run; ``on`` where compiling cannot work is an error, ``auto`` just declines."""
    if config.compile == "off":
        return CompileChoice(False, "compile: off")
    blockers = []
    if dist.enabled:
        blockers.append("several processes train it (DDP wraps the model's forward; compile the single-process run)")
    if config.packing != "packed":
        blockers.append(f"packing is {config.packing!r} (one static shape needs packing: packed)")
    if config.method == "qlora":
        blockers.append("method is qlora (bitsandbytes' 4-bit layers do not compile)")
    if not head_fusable:
        blockers.append("the model's head cannot take the fused loss (a head with a bias, soft-capped logits or an adapter on it)")
    if config.compile == "on":
        if blockers:
            raise TrainingError(f"`compile: on` cannot apply to this run: {'; '.join(blockers)}. Use compile: auto or off.")
        return CompileChoice(True, "compile: on")
    if blockers:
        return CompileChoice(False, f"auto: not compiled, {blockers[0]}")
    if device.split(":")[0] != "cpu":
        return CompileChoice(False, "auto: not compiled, compiled training is measured on CPU only (set compile: on to try it on a GPU)")
    if config.gradient_checkpointing:
        return CompileChoice(False, "auto: not compiled, gradient checkpointing is on")
    if micro_batches < AUTO_MIN_MICRO_BATCHES:
        return CompileChoice(False, f"auto: not compiled, {micro_batches} micro-batches are too few to win back ~1 min of compilation "
                                    f"(from {AUTO_MIN_MICRO_BATCHES}; compile: on forces it)")
    return CompileChoice(True, f"auto: {micro_batches} micro-batches")


def static_batch(batch: "Batch", rows: int, width: int, pad_id: int) -> "Batch":
    """``batch`` padded to ``rows x width``: padding tokens carry no loss and, as in ``_collate_rows``, their
    positions restart at 0, so the block-diagonal mask keeps them apart from every example."""
    import torch

    from tuning.batches import Batch

    have_rows, have_width = batch.input_ids.shape
    if batch.attention_mask is not None:
        raise TrainingError("A static-shape batch needs a packed batch (position ids, no attention mask); use packing: packed.")
    if have_rows > rows or have_width > width:
        raise TrainingError(f"A micro-batch of {have_rows} x {have_width} tokens does not fit the compiled shape {rows} x {width}.")
    if (have_rows, have_width) == (rows, width):
        return batch
    input_ids = torch.full((rows, width), pad_id, dtype=batch.input_ids.dtype)
    input_ids[:have_rows, :have_width] = batch.input_ids
    position_ids = torch.zeros((rows, width), dtype=batch.position_ids.dtype)
    position_ids[:have_rows, :have_width] = batch.position_ids
    if have_width < width:
        position_ids[:have_rows, have_width:] = torch.arange(width - have_width)
    position_ids[have_rows:] = torch.arange(width)
    keep = torch.zeros((rows, width), dtype=torch.bool)
    keep[:have_rows, :have_width] = batch.keep
    return Batch(input_ids, position_ids, None, keep, batch.targets, batch.real_tokens, batch.examples, slots=rows * width)


def padding_batch(rows: int, width: int, pad_id: int) -> "Batch":
    """A ``rows x width`` batch of padding only (no loss positions): what compiles the graph before training."""
    import torch

    from tuning.batches import Batch

    return Batch(torch.full((rows, width), pad_id, dtype=torch.long), torch.arange(width).repeat(rows, 1), None,
                 torch.zeros((rows, width), dtype=torch.bool), torch.zeros(0, dtype=torch.long), 0, 0, slots=rows * width)


def compiled_decoder(model: Any) -> Any:
    """The model's decoder stack (embeddings, layers, final norm), compiled for one static shape.

    A separate compiled wrapper: the model itself stays uncompiled for evaluation and generation.
    """
    import torch

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder = base.get_decoder() if hasattr(base, "get_decoder") else None
    if decoder is None:
        raise TrainingError(f"{type(base).__name__} exposes no decoder stack (get_decoder) to compile; use compile: off.")
    return torch.compile(decoder, dynamic=False)


def warm_up(run_step: Any) -> float:
    """Run ``run_step`` (one forward and backward on a padding-only batch) to compile; returns the seconds it took.

    Compilation errors (no C++ compiler, an operator inductor cannot lower) come back as TrainingError
    so ``compile: auto`` can fall back to eager and ``compile: on`` can say what failed.
    """
    started = time.perf_counter()
    try:
        run_step()
    except TrainingError:
        raise
    except Exception as exc:  # noqa: BLE001 - torch._dynamo / inductor raise many kinds
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise TrainingError(f"Compiling the training forward failed ({type(exc).__name__}: {first}). "
                            "Set compile: off (inductor needs a C++ compiler such as g++ on CPU).") from exc
    return time.perf_counter() - started
