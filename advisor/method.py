"""How to fine-tune (full, LoRA, LoRA on an 8-bit or 4-bit base, DoRA), on what, and what it costs.

The method follows from the estimator (:mod:`advisor.estimate`) for the intended model, the cards
(their model *and count*), and the data set: its real size and lengths when a file is given
(:class:`DataStats`), a typical size for the answered bucket otherwise, and says which. A team
without a GPU gets both prices: the smallest model on its CPU and a rented card (:func:`compute_options`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError

TYPICAL_PAIRS = {"none": 0, "lt_100": 50, "100_1k": 500, "1k_10k": 5_000, "gt_10k": 20_000, "unsure": 1_000}
TYPICAL_TOKENS_PER_PAIR = 200
EPOCHS = 3
DEFAULT_MODEL_SIZE = {"any": "8B", "small": "8B", "edge": "1.7B"}
DEFAULT_DEVICE = {"consumer": "rtx4090", "datacentre": "a100-40", "several": "a100-80", "cluster": "h100"}
RENTAL_DEVICE = "a100-80"
"""What a team without a GPU (and with a budget) would rent."""
CHARS_PER_TOKEN = 3.5
METHOD_LABELS = {"lora": "LoRA", "qlora": "QLoRA", "dora": "DoRA", "full": "full fine-tuning"}
FULL_MIN_PAIRS = 10_000
"""Full fine-tuning is chosen only from this many pairs (Biderman et al. 2024: below it LoRA matches it)."""


def method_label(name: str, quant_bits: int | None = None) -> str:
    if name == "qlora":
        return f"LoRA on a {quant_bits or 4}-bit base" + (" (QLoRA)" if (quant_bits or 4) == 4 else "")
    return METHOD_LABELS.get(name, name)


@dataclass
class DataStats:
    """The real size of a pairs file: what estimates use instead of a bucket's typical size."""

    path: str
    pairs: int
    mean_tokens: float
    p99_tokens: float

    @property
    def training_tokens(self) -> float:
        return self.pairs * self.mean_tokens * EPOCHS


def _rows(path: str | Path) -> list[dict[str, Any] | str]:
    """The lines of a pairs file: a mapping per JSON line, the raw text of lines that are not JSON (fast, tolerant)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"Data set {path} does not exist or is not a file; give a pairs file (JSONL with input and output).")
    rows: list[dict[str, Any] | str] = []
    with p.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                rows.append(line)
                continue
            if isinstance(row, dict):
                rows.append(row)
    return rows


def read_data_stats(path: str | Path) -> DataStats:
    """Count pairs and their lengths (characters / 3.5 per token) without the studies loader."""
    fields = ("input", "output", "instruction", "prompt", "completion", "response")
    lengths = sorted(len(r) if isinstance(r, str) else sum(len(str(r.get(k, ""))) for k in fields) for r in _rows(path))
    n = len(lengths)
    mean = sum(lengths) / n if n else 0.0
    p99 = lengths[min(n - 1, int(0.99 * n))] if n else 0
    return DataStats(str(path), n, mean / CHARS_PER_TOKEN + 16, p99 / CHARS_PER_TOKEN + 16)  # +16: chat-template tokens


def read_pairs(path: str | Path) -> list[Any]:
    """Pairs with ``.input`` / ``.output`` for a calibration run (lines without both are skipped)."""
    from types import SimpleNamespace

    return [SimpleNamespace(input=str(r["input"]), output=str(r["output"]))
            for r in _rows(path) if isinstance(r, dict) and r.get("input") and r.get("output")]


def pairs_bucket(n: int) -> str:
    return "none" if n == 0 else "lt_100" if n < 100 else "100_1k" if n < 1_000 else "1k_10k" if n < 10_000 else "gt_10k"


def target_model_size(answers: dict[str, Any]) -> str:
    return answers.get("model_size") or DEFAULT_MODEL_SIZE.get(answers.get("model_size_limit", "any"), "8B")


def target_device(answers: dict[str, Any]) -> tuple[str, int]:
    """(catalogue device, count) the team trains on; a team without cards rents one when it has a budget."""
    gpus = answers.get("gpus", "none")
    if gpus in ("none", "unsure"):
        return (RENTAL_DEVICE, 1) if answers.get("training_budget", "none") not in ("none",) else ("cpu", 1)
    model = answers.get("gpu_model", "auto")
    count = int(answers.get("gpu_count") or 1) if gpus in ("several", "cluster") else 1
    return (model if model and model != "auto" else DEFAULT_DEVICE[gpus]), count


def is_rental(answers: dict[str, Any]) -> bool:
    return answers.get("gpus", "none") in ("none", "unsure") and target_device(answers)[0] != "cpu"


def training_tokens(answers: dict[str, Any], data: DataStats | None) -> tuple[float, str]:
    """(tokens over all epochs, what that assumes in words)."""
    if data is not None and data.pairs:
        return data.training_tokens, f"{data.pairs:,} pairs from {data.path} x ~{data.mean_tokens:.0f} tokens x {EPOCHS} epochs"
    bucket = answers.get("labelled_pairs", "100_1k")
    pairs = max(TYPICAL_PAIRS.get(bucket, 500), 100)
    return pairs * TYPICAL_TOKENS_PER_PAIR * EPOCHS, f"a typical {pairs:,} pairs for your answer x ~{TYPICAL_TOKENS_PER_PAIR} tokens x {EPOCHS} epochs (give --data for the real size)"


@dataclass
class MethodChoice:
    """How to fine-tune, and why (from the estimator)."""

    name: str
    """lora, qlora (LoRA on a quantised base), dora or full."""
    model_size: str
    device: str
    devices: int
    why: str
    options: list[dict[str, Any]] = field(default_factory=list)
    """Every method considered: fits?, peak memory, hours, cost (estimates)."""
    quant_bits: int | None = None
    """Base precision for qlora: 4 or 8."""

    @property
    def label(self) -> str:
        return method_label(self.name, self.quant_bits)


# (option name, method, TrainSetup overrides): the engine's own recipes, plus the memory-optimised full recipe for comparison.
_RECIPES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("full", "full", {"precision": "mixed"}),
    ("full-memory-optimised", "full", {"precision": "bf16", "optimizer": "paged_adamw8bit", "optimizer_in_backward": True}),
    ("lora", "lora", {}),
    ("dora", "dora", {}),
    ("lora-8bit-base", "qlora", {"quant_bits": 8}),
    ("qlora", "qlora", {"quant_bits": 4}),
)


def choose_method(answers: dict[str, Any], data: DataStats | None = None) -> MethodChoice:
    """Full, LoRA, LoRA on an 8-bit base or QLoRA for the stated model, cards and data; the reason names what decided it."""
    from advisor.estimate import GiB, TrainSetup, estimate_training, resolve_model

    size = target_model_size(answers)
    model = resolve_model(size)
    device, count = target_device(answers)
    tokens, _ = training_tokens(answers, data)
    seq = min(4096, max(256, int(data.p99_tokens))) if data and data.pairs else 1024
    options, fits, mem = [], {}, {}
    for name, method, overrides in _RECIPES:
        setup = TrainSetup(model, method, seq_len=seq, micro_batch=2, gradient_checkpointing=True, **overrides)  # type: ignore[arg-type]
        est = estimate_training(setup, device, tokens, devices=count if method == "full" else 1)
        fits[name], mem[name] = est.fits, round(est.memory.total / GiB, 1)
        options.append({"method": name, "fits": est.fits, "peak_memory_gib": mem[name], "device_memory_gib": round(est.usable_bytes / GiB, 1),
                        "hours": round(est.wall_seconds / 3600, 2), "cost_usd": round(est.cost_usd, 2)})
    where = f"{count} x {device}" if count > 1 else device
    pairs = data.pairs if data and data.pairs else TYPICAL_PAIRS.get(answers.get("labelled_pairs", "none"), 0)
    experienced = answers.get("team_experience") == "experienced"
    if fits["full"] and pairs >= FULL_MIN_PAIRS and experienced and model.params <= 15e9:
        return MethodChoice("full", size, device, count,
                            f"full fine-tuning: {pairs:,}+ examples can use every weight, the team is experienced, and it fits {where} "
                            f"(~{mem['full']} GiB per card with fp32 master weights, estimate)", options)
    blockers = []
    if pairs < FULL_MIN_PAIRS:
        blockers.append(f"with under {FULL_MIN_PAIRS:,} examples LoRA usually matches it and forgets less")
    if not experienced:
        blockers.append("the team is not (yet) experienced with training, and full fine-tuning needs careful learning-rate and forgetting checks")
    if model.params > 15e9:
        blockers.append(f"a {size} model is costly to fine-tune in full")
    if fits["lora"]:
        why = f"LoRA on a bf16 {size} base fits {where} (~{mem['lora']} GiB peak, estimate); it trains fast and the adapter is small"
        if fits["full"] and blockers:
            why += "; full fine-tuning would also fit, but " + " and ".join(blockers)
        elif fits["full-memory-optimised"]:
            why += (f"; full fine-tuning fits {where} only with a memory-optimised recipe (bf16 weights, paged 8-bit AdamW, the optimizer step "
                    f"in the backward pass, as in torchtune's low-memory recipe: ~{mem['full-memory-optimised']} GiB), which this product's "
                    f"engine (fp32 master weights, ~{mem['full']} GiB) does not run")
            if blockers:
                why += "; besides, " + " and ".join(blockers)
        why += ". Try DoRA as a sweep option: same memory, sometimes better at low rank, ~20% slower"
        return MethodChoice("lora", size, device, count, why, options)
    if fits["lora-8bit-base"]:
        return MethodChoice("qlora", size, device, count,
                            f"a bf16 {size} base does not fit {where} for LoRA (~{mem['lora']} GiB needed, estimate), but on an 8-bit base it needs "
                            f"~{mem['lora-8bit-base']} GiB, closer to bf16 quality than a 4-bit base", options, quant_bits=8)
    if fits["qlora"]:
        return MethodChoice("qlora", size, device, count,
                            f"a {size} base fits {where} neither in bf16 (~{mem['lora']} GiB) nor in 8 bits (~{mem['lora-8bit-base']} GiB) for LoRA "
                            f"(estimates), but in 4 bits (QLoRA) it needs ~{mem['qlora']} GiB", options, quant_bits=4)
    return MethodChoice("qlora", size, device, count,
                        f"even QLoRA on {size} needs ~{mem['qlora']} GiB, more than {where} offers (estimate): pick a smaller base model or "
                        "a larger card; the plan starts with a small model anyway", options, quant_bits=4)


@dataclass
class ComputeOption:
    """One way to run the smallest useful training: this machine's CPU, or a rented card."""

    where: str
    model: str
    tokens_per_second: float
    hours: float
    cost_usd: float
    measured: bool
    """Speed from a calibration run here (True) or the estimator (False)."""
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compute_options(answers: dict[str, Any], data: DataStats | None = None, measured_cpu_tokens_per_second: float | None = None) -> tuple[list[ComputeOption], str]:
    """For a team without a GPU: the smallest model on its CPU vs a rented card, and which to choose."""
    from advisor.catalogue import get_device
    from advisor.estimate import TrainSetup, estimate_training, resolve_model

    tokens, assumes = training_tokens(answers, data)
    small = resolve_model("smollm2")
    cpu = TrainSetup(small, "lora", seq_len=256, micro_batch=4, gradient_checkpointing=False)
    cpu_rate = measured_cpu_tokens_per_second or estimate_training(cpu, "cpu", tokens).tokens_per_second
    cpu_hours = tokens / cpu_rate / 3600
    target = target_model_size(answers)
    rent = estimate_training(TrainSetup(resolve_model(target), "lora", seq_len=1024, micro_batch=2), RENTAL_DEVICE, tokens)
    rent_small = estimate_training(TrainSetup(small, "lora", seq_len=1024, micro_batch=8, gradient_checkpointing=False), RENTAL_DEVICE, tokens)
    label = get_device(RENTAL_DEVICE).label
    options = [
        ComputeOption("this machine's CPU", "smollm2-135m (LoRA)", round(cpu_rate, 1), round(cpu_hours, 2), 0.0, measured_cpu_tokens_per_second is not None,
                      "measured by a calibration run" if measured_cpu_tokens_per_second else "estimate: run `advisor estimate --calibrate` to measure it"),
        ComputeOption(f"a rented {label}", "smollm2-135m (LoRA)", round(rent_small.tokens_per_second, 1), round(rent_small.wall_seconds / 3600, 3),
                      round(rent_small.cost_usd, 2), False, "estimate, on-demand price from the catalogue"),
        ComputeOption(f"a rented {label}", f"{target} (LoRA)", round(rent.tokens_per_second, 1), round(rent.wall_seconds / 3600, 3),
                      round(rent.cost_usd, 2), False, "estimate, on-demand price from the catalogue"),
    ]
    budget = answers.get("training_budget", "none")
    if cpu_hours <= 8 and budget in ("none", "unsure"):
        advice = f"Train the smallest model on this CPU first (~{cpu_hours:.1f} h for {assumes}); rent a card only for larger models."
    elif budget in ("none", "unsure"):
        advice = (f"The CPU would need ~{cpu_hours:.0f} h for {assumes}: train on a sample here to validate the pipeline, "
                  f"and budget ~${options[2].cost_usd:g} to rent a card for the real run.")
    else:
        advice = (f"Rent: ~{options[2].hours:g} h and ~${options[2].cost_usd:g} for {target} on a rented card, against ~{cpu_hours:.0f} h for "
                  "the smallest model on this CPU; use the CPU only to test the pipeline.")
    return options, advice
