"""Calibrated pre-flight: a few real optimiser steps of the planned configuration, here, measured.

``calibrate(config)`` trains the planned configuration for a few steps with this product's engine
(:func:`tuning.train.train`) on the machine at hand (the CPU here, CUDA where present), measures
peak memory and tokens per second after a warm-up step, and returns a :class:`Calibration` holding
the estimate and the measurement side by side. The measured speed replaces the estimated one for
that model on this machine (:meth:`Calibration.scale_tokens_per_second` carries it to other
models by their FLOPs per token); plans record both (``plan.calibration``).

Peak memory is what the engine reports: ``torch.cuda.max_memory_allocated`` on a GPU, the process's
peak resident set on the CPU (which includes the Python runtime and libraries, so it sits above the
estimate for small models: the basis is recorded).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass
from typing import Any

from advisor.estimate.feasibility import setup_from_config
from advisor.estimate.memory import TrainSetup, training_memory
from advisor.estimate.throughput import training_flops_per_token, training_tokens_per_second
from core.errors import ConfigError

DEFAULT_STEPS = 8
"""Optimiser steps run; the first is a warm-up and is not timed."""
MIB = 2**20


@dataclass
class Calibration:
    """Estimated and measured figures of one short real run of a planned configuration."""

    model: str
    method: str
    device: str
    """Where it ran: cpu, cuda, cuda:0 ..."""
    catalogue_device: str
    """The catalogue entry the estimate used for that device."""
    steps: int
    seq_len: int
    micro_batch: int
    estimated_tokens_per_second: float
    measured_tokens_per_second: float
    estimated_peak_mib: float
    measured_peak_mib: float
    memory_basis: str
    """What the measured peak counts (process RSS on the CPU, CUDA max allocated on a GPU)."""
    timed_tokens: int
    timed_seconds: float

    @property
    def speed_factor(self) -> float:
        """Measured / estimated tokens per second."""
        return self.measured_tokens_per_second / self.estimated_tokens_per_second if self.estimated_tokens_per_second else 0.0

    def scale_tokens_per_second(self, setup: TrainSetup) -> float:
        """Calibrated speed for another setup on the same machine: the measured rate scaled by FLOPs per token."""
        ref = setup_from_config({"model": self.model, "method": self.method, "max_length": self.seq_len, "micro_batch_size": self.micro_batch})
        return self.measured_tokens_per_second * training_flops_per_token(ref) / training_flops_per_token(setup)

    def calibrated_peak_mib(self, setup: TrainSetup) -> float:
        """Peak memory of another setup on this machine, corrected by what this run measured.

        On a GPU the correction is a factor (allocator and kernel behaviour scale with the tensors); on
        the CPU it is an offset (the process's resident set adds the Python runtime and libraries).
        """
        estimate = training_memory(setup).total / MIB
        if self.device.startswith("cuda"):
            return estimate * (self.measured_peak_mib / self.estimated_peak_mib if self.estimated_peak_mib else 1.0)
        return estimate + (self.measured_peak_mib - self.estimated_peak_mib)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"speed_factor": round(self.speed_factor, 3)}

    def summary(self) -> str:
        return (f"calibrated on {self.device} ({self.steps} steps of {self.method} on {self.model}, micro-batch {self.micro_batch} x {self.seq_len}): "
                f"measured {self.measured_tokens_per_second:,.0f} tokens/s vs {self.estimated_tokens_per_second:,.0f} estimated "
                f"(x{self.speed_factor:.2f}); peak {self.measured_peak_mib:,.0f} MiB measured ({self.memory_basis}) vs "
                f"{self.estimated_peak_mib:,.0f} MiB estimated")


@dataclass
class _Example:
    input: str
    output: str


def synthetic_examples(seq_len: int, n: int) -> list[_Example]:
    """Pairs that fill most of ``seq_len`` tokens (a prompt and an answer of ~seq_len/4 words each, plus the chat template).

    A speed test needs full rows, not good data.
    """
    words = "the quick brown fox lists every file in the current folder sorted by size".split()
    body = " ".join(words[i % len(words)] for i in range(max(4, seq_len // 4)))
    return [_Example(f"Request {i}: {body}", f"Answer {i}: {body}") for i in range(n)]


def steady_rate(stamps: list[tuple[float, int]]) -> tuple[float, int, float]:
    """(tokens/s, tokens timed, seconds timed) from ``(time, tokens seen)`` after each step; the first is the warm-up.

    The rate is the total over the steps whose time is at most twice the median step's: on a shared machine
    one step stalled by other work (a 10x slower step was seen beside a test run) would otherwise set the
    whole estimate from 4-8 steps, while a long run averages such moments out.
    """
    steps = [(t1 - t0, n1 - n0) for (t0, n0), (t1, n1) in zip(stamps, stamps[1:]) if t1 > t0]
    if not steps:
        raise ConfigError("The calibration run timed no step; give more examples or a shorter max_length.")
    times = sorted(dt for dt, _ in steps)
    median = times[len(times) // 2] if len(times) % 2 else (times[len(times) // 2 - 1] + times[len(times) // 2]) / 2
    kept = [(dt, n) for dt, n in steps if dt <= 2 * median]
    seconds, tokens = sum(dt for dt, _ in kept), sum(n for _, n in kept)
    return tokens / seconds, tokens, seconds


def calibrate(config: dict[str, Any], workspace: Any = None, steps: int = DEFAULT_STEPS, examples: list[Any] | None = None,
              device: str = "auto", catalogue_device: str | None = None) -> Calibration:
    """Run ``steps`` optimiser steps of ``config`` (TrainConfig fields) here and measure them against the estimate.

    ``examples``: objects with ``.input`` and ``.output`` (the user's pairs); synthetic rows of the
    configured length otherwise. The run's adapter and checkpoints are deleted afterwards.
    """
    if steps < 2:
        raise ConfigError(f"`steps >= 2` must hold (the first step is a warm-up), but got steps={steps}.")
    from core.workspace import Workspace
    from tuning.config import TrainConfig
    from tuning.device import resolve_device
    from tuning.train import train

    fields = {k: v for k, v in config.items() if k in TrainConfig.__dataclass_fields__}
    fields.update(max_steps=steps, eval_every=0, save_every=0, keep_best=False, early_stopping_patience=0, device=device, grad_accumulation=1)
    train_config = TrainConfig(**fields)
    setup = setup_from_config(train_config)
    ws = workspace if isinstance(workspace, Workspace) else Workspace.resolve(workspace).ensure()
    where = resolve_device(device)
    target = catalogue_device or ("cpu" if where == "cpu" else "h100")
    rows = list(examples) if examples else synthetic_examples(train_config.max_length, train_config.micro_batch_size * (steps + 1))
    stamps: list[tuple[float, int]] = []
    name = f"calibration-{int(time.time() * 1000)}"
    try:
        result = train(train_config, rows, rows[:2], ws, name, progress=lambda p: stamps.append((time.perf_counter(), p.tokens_seen)), resume=False)
    finally:
        for kind in ("adapters", "runs"):
            shutil.rmtree(ws.root / kind / name, ignore_errors=True)
    if len(stamps) < 2:
        raise ConfigError("The calibration run finished fewer than 2 steps; give more examples or a shorter max_length.")
    measured, timed_tokens, timed_seconds = steady_rate(stamps)
    record = result.record
    return Calibration(
        model=str(train_config.model or "smollm2"), method=setup.method, device=where, catalogue_device=target, steps=steps,
        seq_len=setup.seq_len, micro_batch=setup.micro_batch,
        estimated_tokens_per_second=round(training_tokens_per_second(setup, target), 1),
        measured_tokens_per_second=round(measured, 1),
        estimated_peak_mib=round(training_memory(setup).total / MIB, 1),
        measured_peak_mib=round(float(record.peak_memory_mb or 0.0), 1),
        memory_basis="CUDA max allocated" if where.startswith("cuda") else "process peak RSS (runtime included)",
        timed_tokens=timed_tokens, timed_seconds=round(timed_seconds, 3),
    )
