"""Device catalogue: the GPUs (and the CPU) the estimator knows, with editable prices.

Figures are vendor datasheet numbers: memory as sold (GB = 1e9 bytes), dense bf16 tensor-core
TFLOP/s (no sparsity), memory bandwidth. Prices are typical on-demand cloud rates in USD per
device-hour and *will* be wrong for you: override them with a YAML file
(``advisor estimate --catalogue my-gpus.yaml`` or ``load_catalogue(path)``)::

    a100-80: {price_per_hour: 1.29}
    my-card: {label: "RTX 6000 Ada", memory_gb: 48, bf16_tflops: 182, bandwidth_gbs: 960, price_per_hour: 0.9, kind: datacentre}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any, Literal

from core.config import Problems

Kind = Literal["consumer", "datacentre", "cpu"]


@dataclass(frozen=True)
class Device:
    """One accelerator (or the CPU) as the estimator sees it."""

    name: str
    """Catalogue key (lower case, e.g. ``a100-80``)."""
    label: str
    """Human name."""
    memory_gb: float
    """Device memory in GB (1e9 bytes) as sold; about 0.5 GB of it goes to the CUDA context."""
    bf16_tflops: float
    """Dense bf16 (T4: fp16) tensor-core peak, TFLOP/s."""
    bandwidth_gbs: float
    """Memory bandwidth, GB/s (bounds generation speed)."""
    price_per_hour: float
    """USD per device-hour (editable; on-demand cloud list prices, late 2024)."""
    kind: Kind = "datacentre"
    """consumer, datacentre or cpu."""
    bf16: bool = True
    """Native bf16 support (T4: no, it trains in fp16)."""

    @property
    def memory_bytes(self) -> float:
        return self.memory_gb * 1e9


_BUILTIN: dict[str, Device] = {
    d.name: d
    for d in (
        Device("t4", "NVIDIA T4 16GB", 16, 65, 320, 0.35, "datacentre", bf16=False),
        Device("l4", "NVIDIA L4 24GB", 24, 121, 300, 0.80, "datacentre"),
        Device("a10g", "NVIDIA A10G 24GB", 24, 70, 600, 1.01, "datacentre"),
        Device("rtx4090", "NVIDIA GeForce RTX 4090 24GB", 24, 165, 1008, 0.40, "consumer"),
        Device("a100-40", "NVIDIA A100 40GB", 40, 312, 1555, 1.50, "datacentre"),
        Device("a100-80", "NVIDIA A100 80GB", 80, 312, 2039, 1.80, "datacentre"),
        Device("h100", "NVIDIA H100 80GB SXM", 80, 989, 3350, 2.50, "datacentre"),
        Device("h200", "NVIDIA H200 141GB", 141, 989, 4800, 3.50, "datacentre"),
        # A laptop/server CPU: bf16 matmul measured ~0.3 TFLOP/s on this project's 2-core machine.
        Device("cpu", "CPU (system RAM)", 32, 0.3, 20, 0.10, "cpu"),
    )
}

ALIASES = {
    "4090": "rtx4090", "rtx-4090": "rtx4090", "rtx_4090": "rtx4090",
    "a100": "a100-80", "a100-80gb": "a100-80", "a100-40gb": "a100-40", "a100_80": "a100-80", "a100_40": "a100-40",
    "h100-80": "h100", "h200-141": "h200", "a10": "a10g",
}


def builtin_catalogue() -> dict[str, Device]:
    """A copy of the built-in catalogue."""
    return dict(_BUILTIN)


def load_catalogue(path: str | os.PathLike[str] | None = None, prices: dict[str, float] | None = None) -> dict[str, Device]:
    """The built-in catalogue, updated from a YAML/JSON file and/or a ``{name: price}`` mapping."""
    catalogue = builtin_catalogue()
    if path is not None:
        from core.config import read_structured

        data = read_structured(path, what="device catalogue") or {}
        catalogue = merge_catalogue(catalogue, data, what=f"device catalogue {path}")
    for name, price in (prices or {}).items():
        device = get_device(name, catalogue)
        catalogue[device.name] = replace(device, price_per_hour=float(price))
    return catalogue


def merge_catalogue(catalogue: dict[str, Device], data: Any, what: str = "device catalogue") -> dict[str, Device]:
    """Apply overrides / new devices from a mapping ``{name: {field: value}}``; lists every problem."""
    problems = Problems(what)
    if not isinstance(data, dict):
        problems.add(f"expected a mapping of device name: fields, got {type(data).__name__}")
        problems.raise_if_any()
    out = dict(catalogue)
    fields = {"label", "memory_gb", "bf16_tflops", "bandwidth_gbs", "price_per_hour", "kind", "bf16"}
    for raw_name, spec in data.items():
        name = ALIASES.get(str(raw_name).lower(), str(raw_name).lower())
        if not isinstance(spec, dict):
            problems.add(f"`{raw_name}`: expected a mapping of fields, got {spec!r}")
            continue
        unknown = set(spec) - fields
        if unknown:
            problems.add(f"`{raw_name}`: unknown fields {sorted(unknown)}; known: {sorted(fields)}")
            continue
        for key in ("memory_gb", "bf16_tflops", "bandwidth_gbs", "price_per_hour"):
            if key in spec and (isinstance(spec[key], bool) or not isinstance(spec[key], (int, float)) or spec[key] < 0):
                problems.add(f"`{raw_name}.{key}` must be a number >= 0, but got {spec[key]!r}")
        if "kind" in spec and spec["kind"] not in ("consumer", "datacentre", "cpu"):
            problems.add(f"`{raw_name}.kind` must be consumer, datacentre or cpu, but got {spec['kind']!r}")
        if name in out:
            base = out[name]
        else:
            missing = {"memory_gb", "bf16_tflops", "bandwidth_gbs", "price_per_hour"} - set(spec)
            if missing:
                problems.add(f"new device `{raw_name}` needs {sorted(missing)}")
                continue
            base = Device(name, str(spec.get("label", raw_name)), 0, 0, 0, 0)
        try:
            out[name] = replace(base, **{k: (float(v) if k in ("memory_gb", "bf16_tflops", "bandwidth_gbs", "price_per_hour") else v) for k, v in spec.items()})
        except (TypeError, ValueError) as exc:
            problems.add(f"`{raw_name}`: {exc}")
    problems.raise_if_any()
    return out


def get_device(name: str | Device, catalogue: dict[str, Device] | None = None) -> Device:
    """Look a device up by name (case-insensitive, common aliases accepted)."""
    if isinstance(name, Device):
        return name
    from core.errors import ConfigError

    catalogue = catalogue if catalogue is not None else _BUILTIN
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in catalogue:
        raise ConfigError(f"Unknown device {name!r}; known devices: {', '.join(sorted(catalogue))} (add one with a catalogue file).")
    return catalogue[key]
