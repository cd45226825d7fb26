"""Device and precision choice, seeds, and out-of-memory translation.

CUDA: bf16 autocast where the GPU supports it, else fp16 autocast with a gradient scaler.
CPU: bf16 autocast where the CPU has native bf16 matmuls (AVX512-BF16/AMX flags; a timing probe
where flags are unreadable), fp32 otherwise. Trainable weights always stay fp32 (autocast only lowers the compute).
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import OutOfMemoryError, TrainingError


@dataclass(frozen=True)
class Precision:
    """What a run computes in: the autocast dtype (None: plain fp32) and whether to scale gradients."""

    name: str
    device: str
    autocast_dtype: Any | None
    use_scaler: bool = False

    def autocast(self) -> contextlib.AbstractContextManager:
        import torch

        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.split(":")[0], dtype=self.autocast_dtype)


def resolve_device(spec: str = "auto") -> str:
    import torch

    if spec == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if spec.startswith("cuda") and not torch.cuda.is_available():
        raise TrainingError(
            f"device {spec!r} was requested but this torch build sees no CUDA GPU (torch {torch.__version__}). "
            "Install a CUDA build of torch (see docs/tuning.md) or use device: cpu."
        )
    return spec


@functools.lru_cache(maxsize=None)
def cpu_bf16_speedup(size: int = 512, repeats: int = 8) -> float:
    """fp32 time / bf16 time of a square matmul on this CPU (>1 means bf16 is faster)."""
    import torch

    a32 = torch.randn(size, size)
    b32 = torch.randn(size, size)
    a16, b16 = a32.bfloat16(), b32.bfloat16()

    def best(a, b) -> float:
        torch.mm(a, b)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            torch.mm(a, b)
            times.append(time.perf_counter() - t)
        return min(times)

    return best(a32, b32) / max(best(a16, b16), 1e-9)


@functools.lru_cache(maxsize=None)
def cpu_has_fast_bf16() -> bool:
    """True where the CPU has native bf16 matmul instructions (AVX512-BF16 or AMX); a timing probe
    decides only where the flags cannot be read. Flags, not timings, so that every process of a run
    (and a resumed run) makes the same choice even on a busy machine."""
    try:
        flags = set()
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags.update(line.split(":", 1)[1].split())
                break
        if flags:
            return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return cpu_bf16_speedup() > 1.2


def choose_precision(requested: str, device: str) -> Precision:
    """Map TrainConfig.precision to a concrete :class:`Precision` for ``device``."""
    import torch

    kind = device.split(":")[0]
    if kind == "cuda":
        bf16_ok = torch.cuda.is_bf16_supported()
        if requested == "auto":
            requested = "bf16" if bf16_ok else "fp16"
        if requested == "bf16" and not bf16_ok:
            raise TrainingError("This GPU does not support bf16; use precision: fp16 (with a gradient scaler) or auto.")
        if requested == "bf16":
            return Precision("bf16", device, torch.bfloat16)
        if requested == "fp16":
            return Precision("fp16", device, torch.float16, use_scaler=True)
        return Precision("fp32", device, None)
    if requested == "fp16":
        raise TrainingError("precision: fp16 needs a CUDA GPU; on CPU use bf16, fp32 or auto.")
    if requested == "auto":
        requested = "bf16" if cpu_has_fast_bf16() else "fp32"
    if requested == "bf16":
        return Precision("bf16", device, torch.bfloat16)
    return Precision("fp32", device, None)


def choose_attention(requested: str, device: str) -> str:
    """Map TrainConfig.attention to a transformers attention implementation for ``device``.

    On CPU the eager path (plain matmuls and softmax) trains faster than PyTorch's CPU SDPA
    kernel, whose backward dominated a profiled SmolLM2 step; on CUDA SDPA (flash) wins.
    """
    if requested != "auto":
        return requested
    return "sdpa" if device.split(":")[0] == "cuda" else "eager"


def seed_everything(seed: int) -> None:
    """Seed python, numpy (if present) and torch; CPU runs are then reproducible."""
    import torch

    random.seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    try:
        import numpy as np

        np.random.seed(seed % (2**32))
    except ImportError:  # pragma: no cover
        pass
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def reset_peak_memory(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: str) -> float:
    """Peak GPU memory allocated by torch, or the process's peak resident set size on CPU (MB)."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    except (ImportError, OSError):  # pragma: no cover
        return 0.0


def release_memory(device: str | None = None) -> None:
    """Give memory that is no longer used back: collect reference cycles (peft/transformers models hold
    some, so a finished run's model outlives it until the next collection), empty the CUDA cache, and
    ask glibc to return freed heap pages to the system (without it the resident set of a CPU process
    stays at its training peak through the evaluation that follows: `advisor tune` measured 7.8 GB)."""
    import ctypes
    import gc

    gc.collect()
    if device is None or device.startswith("cuda"):
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:  # pragma: no cover
            pass
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        pass


@contextlib.contextmanager
def oom_as_error(config: Any) -> Iterator[None]:
    """Turn a device out-of-memory into :class:`OutOfMemoryError` carrying the config (sweeps react to it)."""
    import torch

    try:
        yield
    except torch.OutOfMemoryError as exc:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        raise OutOfMemoryError(
            f"Out of device memory ({exc}). Lower micro_batch_size or max_length, raise grad_accumulation, "
            "turn on gradient_checkpointing, or use method: qlora.",
            config=config,
        ) from exc
