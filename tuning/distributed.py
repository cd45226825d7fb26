"""Data-parallel training over several processes (torchrun / ``torch.distributed``, DDP).

Launched by ``torchrun --nproc_per_node=N -m advisor tune ...`` every process runs the same
training call; :func:`session` joins the process group from torchrun's environment (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``): NCCL on CUDA (one GPU per process, ``cuda:LOCAL_RANK``), gloo on
the CPU (what the tests use). Without those variables nothing changes: one process, no group.

Why the global batch is what the config names: ``grad_accumulation`` counts the micro-batches of
one optimizer step *over all processes*, and each process takes every N-th of them
(:func:`local_share`). One process and N processes therefore compute the same optimizer steps on
the same examples (same loss curve up to summation order), a checkpoint written by N processes
resumes on M, and a sweep's configuration means the same run whatever the machine.
Rank 0 alone writes (checkpoints, adapter, record) and reports; the others wait at barriers.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from core.errors import TrainingError

log = logging.getLogger(__name__)

T = TypeVar("T")

__all__ = ["DataParallelLayout", "Dist", "data_parallel_layout", "launched", "local_share", "session", "visible_gpus"]


@dataclass(frozen=True)
class Dist:
    """This process's place in a data-parallel run (``world_size == 1``: a plain single-process run)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and reports progress."""
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    def sum(self, values: Sequence[float]) -> list[float]:
        """Element-wise sum of ``values`` over all processes (float64, so counts stay exact)."""
        if not self.enabled:
            return [float(v) for v in values]
        import torch
        import torch.distributed as dist

        t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=self._device())
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return [float(v) for v in t.cpu()]

    def broadcast_flag(self, flag: bool) -> bool:
        """Rank 0's ``flag`` on every process (rank 0 decides, e.g. a pruner stopping the run)."""
        if not self.enabled:
            return flag
        return self.sum([float(flag) if self.is_main else 0.0])[0] > 0

    def gather(self, obj: T) -> list[T]:
        """Every process's ``obj``, in rank order (on every process)."""
        if not self.enabled:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def _device(self) -> str:
        return f"cuda:{self.local_rank}" if self.backend == "nccl" else "cpu"


def launched() -> Dist:
    """The data-parallel position torchrun gave this process (from the environment; joins nothing)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError as exc:
        raise TrainingError(f"torchrun variables are not integers (RANK/WORLD_SIZE/LOCAL_RANK): {exc}") from exc
    return Dist(rank=rank, world_size=max(world, 1), local_rank=local)


def process_device(device: str, dist: Dist) -> str:
    """The device of this process: under torchrun on CUDA, ``cuda:LOCAL_RANK`` (one GPU per process)."""
    if not dist.enabled or not device.startswith("cuda"):
        return device
    if device not in ("cuda", f"cuda:{dist.local_rank}"):
        raise TrainingError(
            f"device {device!r} names one GPU, but torchrun started {dist.world_size} processes (one GPU each). "
            "Use device: auto or cuda, and choose GPUs with CUDA_VISIBLE_DEVICES."
        )
    return f"cuda:{dist.local_rank}"


@contextlib.contextmanager
def session(device: str) -> Iterator[Dist]:
    """Join torchrun's process group for the duration of a run (left again afterwards), or do nothing.

    A group a caller already joined is used as it is and left open.
    """
    dist_info = launched()
    if not dist_info.enabled:
        yield dist_info
        return
    import torch
    import torch.distributed as dist

    backend = "nccl" if device.startswith("cuda") else "gloo"
    if dist.is_initialized():
        yield Dist(dist.get_rank(), dist.get_world_size(), dist_info.local_rank, dist.get_backend())
        return
    if backend == "nccl":
        torch.cuda.set_device(dist_info.local_rank)
    dist.init_process_group(backend=backend)
    try:
        yield Dist(dist.get_rank(), dist.get_world_size(), dist_info.local_rank, backend)
    finally:
        dist.destroy_process_group()


def local_share(micro_batches: Sequence[T], dist: Dist) -> list[T]:
    """This process's micro-batches of one optimizer step: every ``world_size``-th, from its rank."""
    return list(micro_batches[dist.rank :: dist.world_size])


def wrap_ddp(model, device: str, dist: Dist):
    """``DistributedDataParallel`` around the trainable model (gradients averaged over processes)."""
    if not dist.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [int(device.split(":")[1])] if device.startswith("cuda:") else None
    return DistributedDataParallel(model, device_ids=ids)


@dataclass(frozen=True)
class DataParallelLayout:
    """How a config's optimizer step spreads over ``devices`` processes (for plans and estimates)."""

    devices: int
    global_micro_batches: int
    """Micro-batches per optimizer step over all processes (``grad_accumulation``)."""
    micro_batches_per_device: int
    """The most any one process runs per step (the step's time on the device)."""
    idle_devices: int
    """Processes with nothing to do in a full step (grad_accumulation < devices)."""
    examples_per_step: int
    """Global batch in micro-batch units x micro_batch_size (rows when packed, examples otherwise)."""

    @property
    def balanced(self) -> bool:
        return self.global_micro_batches % self.devices == 0

    @property
    def step_speedup(self) -> float:
        """Upper bound of the step-time speed-up over one device (communication not counted)."""
        return self.global_micro_batches / self.micro_batches_per_device


def data_parallel_layout(devices: int, micro_batch_size: int, grad_accumulation: int) -> DataParallelLayout:
    """The data-parallel layout of a TrainConfig on ``devices`` GPUs/processes (no torch needed)."""
    if devices < 1:
        raise ValueError(f"`devices >= 1` must hold, but got devices={devices}")
    per = -(-grad_accumulation // devices)
    return DataParallelLayout(
        devices=devices,
        global_micro_batches=grad_accumulation,
        micro_batches_per_device=per,
        idle_devices=max(0, devices - grad_accumulation),
        examples_per_step=micro_batch_size * grad_accumulation,
    )


def check_layout(grad_accumulation: int, dist: Dist) -> None:
    """Refuse a run that would leave processes idle; warn when the step does not split evenly."""
    if not dist.enabled:
        return
    layout = data_parallel_layout(dist.world_size, 1, grad_accumulation)
    if layout.idle_devices:
        raise TrainingError(
            f"grad_accumulation={grad_accumulation} micro-batches per optimizer step cannot keep {dist.world_size} processes busy: "
            f"it counts the micro-batches of one step over all processes. Set grad_accumulation to a multiple of {dist.world_size} "
            f"(global batch = micro_batch_size x grad_accumulation)."
        )
    if not layout.balanced and dist.is_main:
        log.warning("grad_accumulation=%d does not split evenly over %d processes; some wait each step.", grad_accumulation, dist.world_size)


def visible_gpus() -> int:
    """CUDA devices this process can use (0 without a CUDA build or GPU); the plan's default ``devices``."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0
