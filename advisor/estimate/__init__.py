"""Back-of-the-envelope estimates: memory, speed, wall time and money for training, generation and RAG.

Everything here is an *estimate* from a handful of formulas (see ``docs/advisor.md``), checked
against published figures (:mod:`.published`) and, where a machine is at hand, scaled by a short
real run (:mod:`.calibrate`). One module per concept:

- :mod:`.models`: model shapes (a name, a size or a local folder -> :class:`Architecture`);
- :mod:`.memory`: peak memory of training and generation (:class:`TrainSetup`, :class:`Memory`);
- :mod:`.throughput`: tokens per second under named stack profiles (:data:`PROFILES`);
- :mod:`.cost`: a run's wall time and money, RAG index size and per-query cost;
- :mod:`.feasibility`: does a config-like object fit a device;
- :mod:`.published`: the published figures and the estimator's error on each;
- :mod:`.calibrate`: a few real optimiser steps that measure memory and speed here.

Pure Python at import: torch is imported only by a calibration run.
"""

from advisor.estimate.cost import RagEstimate, TrainingEstimate, estimate_rag, estimate_training, usable_memory
from advisor.estimate.feasibility import CONFIG_ALIASES, fits, setup_from_config
from advisor.estimate.memory import (
    CUDA_CONTEXT_BYTES, GB, OPTIMIZERS, OVERHEAD_FIXED, OVERHEAD_FRACTION, GiB, Memory, Method, Optimizer, Precision, TrainSetup,
    activation_bytes, adapter_params, inference_memory, optimizer_state_bytes, training_memory,
)
from advisor.estimate.models import ARCHITECTURES, MODEL_ALIASES, Architecture, parse_size, resolve_model
from advisor.estimate.published import (
    MEMORY_TOLERANCE, PUBLISHED, THROUGHPUT_FACTOR, THROUGHPUT_TOLERANCE, PublishedCase, accuracy_summary, accuracy_table, estimate_case,
)
from advisor.estimate.throughput import (
    PROFILES, Profile, generation_tokens_per_second, get_profile, prefill_tokens_per_second, training_flops_per_token,
    training_tokens_per_second,
)

__all__ = [
    "ARCHITECTURES", "CONFIG_ALIASES", "CUDA_CONTEXT_BYTES", "GB", "GiB", "MEMORY_TOLERANCE", "MODEL_ALIASES", "OPTIMIZERS",
    "OVERHEAD_FIXED", "OVERHEAD_FRACTION", "PROFILES", "PUBLISHED", "THROUGHPUT_FACTOR", "THROUGHPUT_TOLERANCE", "Architecture",
    "Memory", "Method", "Optimizer", "Precision", "Profile", "PublishedCase", "RagEstimate", "TrainSetup", "TrainingEstimate",
    "accuracy_summary", "accuracy_table", "activation_bytes", "adapter_params", "estimate_case", "estimate_rag", "estimate_training",
    "fits", "generation_tokens_per_second", "get_profile", "inference_memory", "optimizer_state_bytes", "parse_size",
    "prefill_tokens_per_second", "resolve_model", "setup_from_config", "training_flops_per_token", "training_memory",
    "training_tokens_per_second", "usable_memory",
]
