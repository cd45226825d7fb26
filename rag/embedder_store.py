"""Fine-tuned embedders in the workspace: ``<ws>/embedders/<name>/`` with a manifest, checked before use.

A fine-tuned embedder is a sentence-transformers folder whose weights are safetensors only, plus
``advisor-embedder.json``: the base embedder, the data it learned from (data set hash, split version),
the hyper-parameters, training figures and the sha256 of every file. It is refused, never loaded, when
the manifest is missing or unreadable, a listed file is missing or altered, a file is not listed, or a
pickle-format file (``.bin``, ``.pt``, ...) is present: nothing in it is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ModelLoadError

MANIFEST = "advisor-embedder.json"
FORMAT_VERSION = 1
AREA = "embedders"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy")
"""Formats that may run code when loaded; a fine-tuned embedder holding one is refused."""


@dataclass
class EmbedderManifest:
    """What a fine-tuned embedder was made from and how (``advisor-embedder.json``)."""

    name: str
    base: str
    """The embedder it was tuned from (name as the index manifests record it)."""
    dimension: int
    data: dict[str, Any]
    """dataset, dataset_hash, split_version, seed, pairs, hard_negatives, excluded_groups."""
    hyperparameters: dict[str, Any]
    training: dict[str, Any]
    """seconds, pairs_per_s, steps, loss."""
    files: dict[str, str] = field(default_factory=dict)
    """relative path -> sha256 of every file of the folder except this manifest."""
    trained_groups: list[str] = field(default_factory=list)
    """Groups (``Pair.group_key``) of the training pairs: the evaluation contract refuses a test part that shares one."""
    created_at: str = ""
    format_version: int = FORMAT_VERSION

    @property
    def fingerprint(self) -> str:
        """Short hash of the weights' checksums: index manifests record ``name@fingerprint``."""
        blob = json.dumps(sorted(self.files.items())).encode()
        return hashlib.sha256(blob).hexdigest()[:10]

    @property
    def encoder_name(self) -> str:
        return f"{self.name}@{self.fingerprint}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fingerprint": self.fingerprint}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_files(folder: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under ``folder`` except the manifest."""
    return {
        p.relative_to(folder).as_posix(): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def is_tuned_folder(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


def embedder_dir(ws: Any, name: str) -> Path:
    """``<ws>/embedders/<name>`` (the name is checked: it never escapes the workspace)."""
    return ws.path(AREA, name)


def _refuse(folder: Path, problem: str) -> ModelLoadError:
    return ModelLoadError(
        f"Fine-tuned embedder {folder.name!r} in {folder} is refused: {problem}. It was not loaded. "
        f"Delete the folder and train it again: `advisor rag tune-embedder --name {folder.name} ...`."
    )


def read_manifest(folder: Path) -> EmbedderManifest:
    path = folder / MANIFEST
    if not path.is_file():
        raise _refuse(folder, f"{MANIFEST} is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        manifest = EmbedderManifest(**{k: data[k] for k in EmbedderManifest.__dataclass_fields__ if k in data})
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, KeyError, RecursionError) as exc:
        raise _refuse(folder, f"{MANIFEST} is unreadable ({exc})") from exc
    if not isinstance(manifest.files, dict) or not isinstance(manifest.dimension, int):
        raise _refuse(folder, f"{MANIFEST} has a malformed `files` or `dimension` field")
    if manifest.format_version != FORMAT_VERSION:
        raise _refuse(folder, f"format version {manifest.format_version} is not {FORMAT_VERSION}")
    return manifest


def verify_folder(folder: Path) -> EmbedderManifest:
    """The manifest of a fine-tuned embedder folder after every check passed; else a clear refusal."""
    manifest = read_manifest(folder)
    if manifest.name != folder.name:
        raise _refuse(folder, f"its manifest names it {manifest.name!r} (copied or renamed from another embedder)")
    pickled = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.suffix.lower() in PICKLE_SUFFIXES)
    if pickled:
        raise _refuse(folder, f"it holds pickle-format files ({', '.join(pickled)}); only safetensors weights are accepted")
    if not any(name.endswith(".safetensors") for name in manifest.files):
        raise _refuse(folder, "its manifest lists no .safetensors weights")
    actual = folder_files(folder)
    missing = sorted(set(manifest.files) - set(actual))
    extra = sorted(set(actual) - set(manifest.files))
    changed = sorted(n for n in set(actual) & set(manifest.files) if actual[n] != manifest.files[n])
    problems = []
    if missing:
        problems.append(f"missing files: {', '.join(missing)}")
    if changed:
        problems.append(f"files whose checksum does not match the manifest (corrupt or altered): {', '.join(changed)}")
    if extra:
        problems.append(f"files the manifest does not list: {', '.join(extra)}")
    if problems:
        raise _refuse(folder, "; ".join(problems))
    return manifest


def check_loaded(folder: Path, manifest: EmbedderManifest, model: Any) -> None:
    """The loaded model must have the dimension the manifest records."""
    dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    if int(dim()) != manifest.dimension:
        raise _refuse(folder, f"it embeds into {int(dim())} dimensions, but its manifest says {manifest.dimension}")


def list_embedders(ws: Any) -> list[dict[str, Any]]:
    """Fine-tuned embedders of a workspace: name, base, data, figures; unusable ones flagged with why."""
    root = ws.root / AREA
    out: list[dict[str, Any]] = []
    if not root.is_dir():
        return out
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            m = verify_folder(folder)
            out.append({"name": m.name, "encoder": m.encoder_name, "base": m.base, "dimension": m.dimension,
                        "data": m.data, "training": m.training, "created_at": m.created_at, "ok": True})
        except ModelLoadError as exc:
            out.append({"name": folder.name, "ok": False, "problem": str(exc)})
    return out


def workspace_embedder(ws: Any, spec: str) -> Path | None:
    """The folder of the workspace's fine-tuned embedder named ``spec``, or None when there is none."""
    if ws is None or not spec or "/" in spec or "\\" in spec or spec.startswith("."):
        return None
    try:
        folder = embedder_dir(ws, spec)
    except Exception:  # an unsafe name is simply not a workspace embedder
        return None
    return folder if folder.is_dir() else None
