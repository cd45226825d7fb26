"""Model shapes: the architectures the estimator knows and how a name, a size or a folder resolves to one.

Pure Python: no torch."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

from core.errors import ConfigError

@dataclass(frozen=True)
class Architecture:
    """The shape of a decoder-only transformer (what the memory and FLOP formulas need)."""

    name: str
    params: float
    """Total parameters."""
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    vocab: int
    tied: bool = False
    """Input embedding and output head share weights."""

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    @property
    def embedding_params(self) -> float:
        return self.vocab * self.hidden

    @property
    def matmul_params(self) -> float:
        """Parameters that take part in matrix multiplies per token (everything but the embedding lookup; the head counts)."""
        return self.params - self.embedding_params + (self.embedding_params if self.tied else 0)

    @property
    def linear_params(self) -> float:
        """Parameters in the transformer blocks' linear layers (what 4/8-bit quantisation compresses)."""
        return self.layers * self.per_layer_linear

    @property
    def per_layer_linear(self) -> float:
        h, kv, i = self.hidden, self.kv_dim, self.intermediate
        return h * h * 2 + 2 * h * kv + 3 * h * i

    def modules(self) -> dict[str, tuple[int, int]]:
        """Linear modules of one block: name -> (in_features, out_features)."""
        h, kv, i = self.hidden, self.kv_dim, self.intermediate
        return {
            "q_proj": (h, h), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (h, h),
            "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h),
        }


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture("smollm2-135m", 0.1349e9, 30, 576, 1536, 9, 3, 49152, tied=True),
        Architecture("smollm2-360m", 0.3618e9, 32, 960, 2560, 15, 5, 49152, tied=True),
        Architecture("llama-3.2-1b", 1.236e9, 16, 2048, 8192, 32, 8, 128256, tied=True),
        Architecture("smollm2-1.7b", 1.711e9, 24, 2048, 8192, 32, 32, 49152, tied=True),
        Architecture("llama-3.2-3b", 3.213e9, 28, 3072, 8192, 24, 8, 128256, tied=True),
        Architecture("llama-2-7b", 6.738e9, 32, 4096, 11008, 32, 32, 32000),
        Architecture("llama-3.1-8b", 8.030e9, 32, 4096, 14336, 32, 8, 128256),
        Architecture("llama-2-13b", 13.016e9, 40, 5120, 13824, 40, 40, 32000),
        Architecture("qwen2.5-14b", 14.77e9, 48, 5120, 13824, 40, 8, 152064),
        Architecture("qwen2.5-32b", 32.76e9, 64, 5120, 27648, 40, 8, 152064),
        Architecture("llama-3.1-70b", 70.55e9, 80, 8192, 28672, 64, 8, 128256),
    )
}
MODEL_ALIASES = {
    "smollm2": "smollm2-135m", "default": "smollm2-135m", "smollm2-135m-instruct": "smollm2-135m",
    "smollm2-360m-instruct": "smollm2-360m", "smollm2-1.7b-instruct": "smollm2-1.7b",
    "llama-3-8b": "llama-3.1-8b", "llama3-8b": "llama-3.1-8b", "llama3.1-8b": "llama-3.1-8b", "llama-3.1-8b-instruct": "llama-3.1-8b",
    "llama-2-7b-hf": "llama-2-7b", "mistral-7b": "llama-2-7b", "llama-3.1-70b-instruct": "llama-3.1-70b",
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mbk]?)\s*$", re.IGNORECASE)
_NAMED_SIZE = re.compile(r"(?:^|[-_.])(\d+(?:\.\d+)?)([bm])(?:$|[-_.])")


def parse_size(text: str | float | int) -> float:
    """'7B' -> 7e9, '135M' -> 1.35e8, 7 -> 7e9 (bare numbers are billions)."""
    if isinstance(text, bool):
        raise ConfigError(f"Model size must be like 7B or 135M, got {text!r}.")
    if isinstance(text, (int, float)):
        value = float(text)
        return value * 1e9 if value < 1e4 else value
    m = _SIZE.match(str(text))
    if not m:
        raise ConfigError(f"Model size must be like 7B, 8b, 1.7B or 135M, got {text!r}.")
    number, unit = float(m.group(1)), m.group(2).lower()
    scale = {"b": 1e9, "m": 1e6, "k": 1e3, "": 1e9 if float(m.group(1)) < 1e4 else 1.0}[unit]
    return number * scale


def resolve_model(spec: str | float | int | Architecture | None) -> Architecture:
    """An :class:`Architecture` for a model name, a size ('7B'), a number of parameters, or a local folder.

    A bare size picks the nearest known architecture and scales its width to the stated size.
    A local transformers folder is read from its ``config.json`` (no model is loaded).
    """
    if isinstance(spec, Architecture):
        return spec
    if spec is None:
        return ARCHITECTURES["smollm2-135m"]
    if isinstance(spec, str):
        key = spec.strip().lower()
        key = MODEL_ALIASES.get(key, key)
        if key in ARCHITECTURES:
            return ARCHITECTURES[key]
        path = Path(spec)
        if (path / "config.json").is_file():
            return _from_config_json(path / "config.json")
        if not _SIZE.match(spec):
            for name, arch in ARCHITECTURES.items():
                if key.endswith(name) or name in key:
                    return arch
            sized = _NAMED_SIZE.search(key.rsplit("/", 1)[-1])
            if sized:  # e.g. Qwen/Qwen2.5-7B-Instruct, mistral-7b-v0.3
                return resolve_model(sized.group(1) + sized.group(2))
            raise ConfigError(
                f"Unknown model {spec!r}: give a size (7B, 135M), a known name ({', '.join(ARCHITECTURES)}) or a local folder with config.json."
            )
    params = parse_size(spec)
    if params <= 0:
        raise ConfigError(f"Model size must be positive, got {spec!r}.")
    nearest = min(ARCHITECTURES.values(), key=lambda a: abs(math.log(a.params / params)))
    if abs(nearest.params / params - 1) < 0.08:
        return replace(nearest, name=f"{_fmt_params(params)} (shaped like {nearest.name})", params=params)
    # Scale the width so that the parameter count matches; keep depth and vocabulary.
    ratio = params / nearest.params
    scale = math.sqrt(ratio)
    hidden = max(64, int(round(nearest.hidden * scale / 64)) * 64)
    heads = max(1, hidden // nearest.head_dim)
    kv_heads = max(1, min(heads, round(nearest.kv_heads * heads / nearest.heads)))
    return Architecture(
        f"{_fmt_params(params)} (scaled from {nearest.name})", params, nearest.layers, hidden,
        int(nearest.intermediate * scale), heads, kv_heads, nearest.vocab, nearest.tied,
    )


def _from_config_json(path: Path) -> Architecture:
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
        h = int(cfg["hidden_size"])
        layers = int(cfg["num_hidden_layers"])
        i = int(cfg.get("intermediate_size", 4 * h))
        heads = int(cfg.get("num_attention_heads", max(1, h // 64)))
        kv = int(cfg.get("num_key_value_heads", heads))
        vocab = int(cfg.get("vocab_size", 32000))
        tied = bool(cfg.get("tie_word_embeddings", False))
    except (KeyError, ValueError, TypeError, OSError) as exc:
        raise ConfigError(f"Cannot read the model shape from {path}: {exc}") from exc
    hd = h // heads
    per_layer = 2 * h * h + 2 * h * kv * hd + 3 * h * i + 2 * h
    params = layers * per_layer + vocab * h * (1 if tied else 2) + h
    return Architecture(path.parent.name, float(params), layers, h, i, heads, kv, vocab, tied)


def _fmt_params(params: float) -> str:
    return f"{params / 1e9:.3g}B" if params >= 1e9 else f"{params / 1e6:.3g}M"
