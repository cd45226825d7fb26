"""A small $/hour price table for turning compute time into money on the leaderboard.

The advisor layer has the full estimator catalogue; ``studies`` cannot import it (layers import
downward), so callers may pass their own price; otherwise this table is used. Prices are on-demand
list prices (USD per device-hour, 2025-2026 ballpark) and are recorded with every run.
"""

from __future__ import annotations

PRICE_PER_HOUR: dict[str, float] = {
    "cpu": 0.10,  # a small general-purpose cloud VM (2-4 vCPU)
    "nvidia-t4": 0.35,
    "nvidia-l4": 0.70,
    "nvidia-a10g": 1.00,
    "nvidia-a100": 1.80,
    "nvidia-h100": 2.50,
    "nvidia-h200": 3.50,
    "gpu": 2.50,
}


def price_per_hour(device: str | None) -> float:
    """USD per hour of ``device`` ('cpu', 'nvidia-h100', a torch device name, ...); unknown GPUs use 'gpu'."""
    name = (device or "cpu").lower().replace(" ", "-")
    if name in PRICE_PER_HOUR:
        return PRICE_PER_HOUR[name]
    if name.startswith("cpu"):
        return PRICE_PER_HOUR["cpu"]
    for key in sorted(PRICE_PER_HOUR, key=len, reverse=True):
        if key.startswith("nvidia-") and key.split("-", 1)[1] in name:
            return PRICE_PER_HOUR[key]
    return PRICE_PER_HOUR["gpu"]


def money(cpu_hours: float, gpu_hours: float, gpu: str | None = None, price_cpu: float | None = None, price_gpu: float | None = None) -> float:
    """Cost in USD of ``cpu_hours`` of CPU machine time plus ``gpu_hours`` on ``gpu``."""
    cpu_rate = PRICE_PER_HOUR["cpu"] if price_cpu is None else price_cpu
    gpu_rate = price_per_hour(gpu or "gpu") if price_gpu is None else price_gpu
    return round(cpu_hours * cpu_rate + gpu_hours * gpu_rate, 6)
