"""Will a training config fit a device? Reads any config-like object (one place maps its field names)."""

from __future__ import annotations

from typing import Any

from advisor.catalogue import Device, get_device
from advisor.estimate.cost import usable_memory
from advisor.estimate.memory import OPTIMIZERS, GiB, TrainSetup, training_memory
from advisor.estimate.models import resolve_model
from core.errors import ConfigError
from tuning.config import train_fields

CONFIG_ALIASES: dict[str, tuple[str, ...]] = {
    "model": ("model", "model_size"),
    "method": ("method",),
    "qlora": ("qlora", "use_qlora"),
    "dora": ("dora", "use_dora"),
    "precision": ("precision",),
    "quant_bits": ("quant_bits", "bits"),
    "rank": ("rank",),
    "target_modules": ("target_modules",),
    "seq_len": ("max_length",),
    "micro_batch": ("micro_batch_size",),
    "gradient_checkpointing": ("gradient_checkpointing",),
    "optimizer": ("optimizer", "optim"),
}
"""The field names a config-like object may use for each estimator input. Other names of TrainConfig
fields (lr, r, batch_size, seq_len, base_model, ...) are renamed first by ``tuning.config.train_fields``,
the one alias table of training settings; only estimator-specific names remain here."""


def _get(config: Any, key: str, default: Any = None) -> Any:
    for name in CONFIG_ALIASES[key]:
        if isinstance(config, dict) and name in config:
            return config[name]
        if not isinstance(config, dict) and hasattr(config, name):
            return getattr(config, name)
    return default


def setup_from_config(config: Any) -> TrainSetup:
    """A :class:`TrainSetup` from anything config-like: a ``TrainConfig``, a dict of its fields, a sweep trial's params.

    A full fine-tune through this product's engine keeps fp32 master weights (``precision: mixed``);
    ``precision: pure_bf16`` and an ``optimizer`` (adamw8bit, paged_adamw8bit) describe other stacks.
    """
    if isinstance(config, dict):
        config = train_fields(config)
    model = resolve_model(_get(config, "model"))
    method = str(_get(config, "method", default="lora")).lower()
    if _get(config, "qlora", default=False) is True and method == "lora":
        method = "qlora"
    if _get(config, "dora", default=False) is True and method == "lora":
        method = "dora"
    if method not in ("full", "lora", "dora", "qlora"):
        raise ConfigError(f"Unknown fine-tuning method {method!r}; expected full, lora, dora or qlora.")
    raw_precision = str(_get(config, "precision", default="auto")).lower()
    precision = {"fp32": "fp32", "pure_bf16": "bf16"}.get(raw_precision, "mixed")
    optimizer = str(_get(config, "optimizer", default="adamw")).lower()
    if optimizer not in OPTIMIZERS:
        raise ConfigError(f"Unknown optimizer {optimizer!r}; expected one of {', '.join(OPTIMIZERS)}.")
    targets = _get(config, "target_modules", default="all-linear")
    if isinstance(targets, list):
        targets = tuple(targets)
    return TrainSetup(
        model=model,
        method=method,  # type: ignore[arg-type]
        precision=precision,  # type: ignore[arg-type]
        quant_bits=int(_get(config, "quant_bits", default=4)),
        rank=int(_get(config, "rank", default=16)),
        target_modules=targets,
        seq_len=int(_get(config, "seq_len", default=1024)),
        micro_batch=int(_get(config, "micro_batch", default=1)),
        gradient_checkpointing=bool(_get(config, "gradient_checkpointing", default=False)),
        optimizer=optimizer,  # type: ignore[arg-type]
        base_fp32=raw_precision == "fp32",
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
