"""Trained weights on disk: PEFT adapters (safetensors) plus ``metadata.json``; loading and merging.

An adapter folder is plain PEFT (``adapter_config.json`` + ``adapter_model.safetensors``), so
``PeftModel.from_pretrained(base, folder)`` works outside this product. ``metadata.json`` adds
what PEFT does not keep: the base model (name, path, a fingerprint of its config), the data
version, the training config and the run's metrics. Loading checks the base model against the
fingerprint and refuses a missing or different base with a message that says what to pass.
A full fine-tune is saved the same way as a complete transformers folder (``kind: full``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.atomic import atomic_directory, atomic_write_json
from core.config import to_dict
from core.errors import ModelLoadError, TrainingError, WorkspaceError
from core.workspace import Workspace, safe_name

if TYPE_CHECKING:  # pragma: no cover
    from tuning.config import TrainConfig
    from tuning.models import LoadedModel

METADATA = "metadata.json"
METRIC_KEYS = ("final_train_loss", "final_eval_loss", "best_eval_loss", "best_step", "steps", "tokens_seen", "tokens_per_s")
"""The run's figures an adapter's metadata keeps."""
_FINGERPRINT_KEYS = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size", "vocab_size")


def base_fingerprint(model_config: Any) -> dict[str, Any]:
    """Architecture facts an adapter depends on (compared at load time)."""
    return {k: getattr(model_config, k, None) for k in _FINGERPRINT_KEYS}


def save_trained(model, loaded: "LoadedModel", config: "TrainConfig", adapter_dir: Path, *, run: str | None = None,
                 data_version: str | None = None, metrics: Mapping[str, Any] | None = None) -> Path:
    """Write the adapter (or full weights) and metadata.json into ``adapter_dir`` atomically.

    ``run``: the training run's name; ``metrics``: its summary (``TrainRecord.summary()``).
    """
    base_config = getattr(getattr(model, "base_model", model), "config", None) or loaded.model.config
    metadata = {
        "format": 1,
        "kind": "full" if config.method == "full" else "adapter",
        "base_model": {"name": loaded.name, "path": loaded.path, "fingerprint": base_fingerprint(base_config)},
        "data_version": data_version,
        "config": to_dict(config),
        "metrics": {k: (metrics or {}).get(k) for k in METRIC_KEYS},
        "run": run,
    }
    try:
        with atomic_directory(adapter_dir) as tmp:
            model.save_pretrained(tmp, safe_serialization=True)
            if config.method == "full":
                loaded.tokenizer.save_pretrained(tmp)
            metadata["files"] = file_checksums(tmp)
            atomic_write_json(tmp / METADATA, metadata)
    except (OSError, WorkspaceError) as exc:  # disk full, quota, permissions: the previous adapter (if any) is untouched
        cause = exc.__cause__ if isinstance(exc, WorkspaceError) and isinstance(exc.__cause__, OSError) else exc
        raise TrainingError(
            f"Could not save the adapter to {adapter_dir}: {getattr(cause, 'strerror', None) or cause}. Nothing was replaced: "
            f"{'the previous adapter there is intact' if Path(adapter_dir).is_dir() else 'no adapter was written'}. "
            "Free disk space (or pick a workspace on a larger disk with --workspace) and run the training again."
        ) from exc
    return adapter_dir


def file_checksums(folder: Path, pattern: str = "*.safetensors") -> dict[str, str]:
    """sha256 of every weights file (``pattern``) in ``folder``, recorded in metadata.json at save time."""
    import hashlib

    out = {}
    for path in sorted(Path(folder).glob(pattern)):
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        out[path.name] = digest.hexdigest()
    return out


def verify_files(folder: Path, metadata: dict[str, Any]) -> None:
    """Refuse an adapter whose weights files differ from the checksums in its metadata (corrupt, truncated, swapped)."""
    expected = metadata.get("files")
    if not isinstance(expected, dict):
        return  # saved before checksums were recorded
    actual = file_checksums(folder)
    bad = sorted(name for name, digest in expected.items() if actual.get(name) != digest)
    if bad:
        raise ModelLoadError(
            f"Adapter {folder} is corrupt: {', '.join(bad)} {'is' if len(bad) == 1 else 'are'} missing, truncated or altered "
            f"(sha256 differs from {METADATA}). It was not loaded. Restore the folder from a backup or the registry "
            "(`<workspace>/registry/<name>/adapter`), or train it again."
        )


def read_metadata(adapter_dir: str | Path) -> dict[str, Any]:
    path = Path(adapter_dir) / METADATA
    if not path.is_file():
        raise ModelLoadError(f"{adapter_dir} is not a trained adapter folder ({METADATA} is missing). Train one with `advisor tune`.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise ModelLoadError(f"{path} is unreadable ({exc}); retrain the adapter.") from exc
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path} is not an adapter's metadata (expected a JSON object); retrain the adapter.")
    return data


def resolve_adapter_dir(adapter: str | Path, workspace: Workspace) -> Path:
    """An adapter name in the workspace, or a folder path."""
    p = Path(adapter)
    if p.is_dir():
        return p
    if isinstance(adapter, str) and "/" not in adapter and "\\" not in adapter:
        candidate = workspace.dir("adapters") / safe_name(adapter)
        if candidate.is_dir():
            return candidate
    known = ", ".join(workspace.names("adapters")) or "none yet"
    raise ModelLoadError(f"Adapter {adapter!r} not found (workspace adapters: {known}).")


def _check_base(metadata: dict[str, Any], loaded: "LoadedModel") -> None:
    expected = metadata.get("base_model", {}).get("fingerprint") or {}
    actual = base_fingerprint(loaded.model.config)
    diffs = [f"{k}: adapter expects {expected[k]!r}, base has {actual.get(k)!r}" for k in expected if expected[k] is not None and actual.get(k) != expected[k]]
    if diffs:
        raise ModelLoadError(
            f"The adapter was trained on {metadata['base_model'].get('name')!r} but the base model {loaded.name!r} "
            f"differs ({'; '.join(diffs)}). Pass the base it was trained on (base=...)."
        )


def load_with_adapter(
    adapter_dir: str | Path,
    workspace: Workspace,
    *,
    base: str | None = None,
    merge: bool = False,
    device: str = "cpu",
    dtype: str = "float32",
) -> "LoadedModel":
    """Load the adapter's base model (or ``base``), attach the adapter, optionally merge it in.

    A missing base raises :class:`ModelLoadError` naming the path it looked for; a base with a
    different architecture is refused. QLoRA adapters load over a 4-bit base unless ``merge``.
    """
    from tuning.models import LoadedModel, is_default_generator, load_base_model

    folder = resolve_adapter_dir(adapter_dir, workspace)
    metadata = read_metadata(folder)
    verify_files(folder, metadata)
    base_info = metadata.get("base_model", {})
    if metadata.get("kind") == "full":
        loaded = load_base_model(str(folder), workspace, dtype=dtype, device=device)
        loaded.info.update({"adapter": str(folder), "metadata": metadata})
        return loaded
    spec = base
    if spec is None:
        name, path = base_info.get("name"), base_info.get("path")
        if path and Path(path).is_dir():
            spec = path
        elif is_default_generator(name):
            spec = None
        else:
            raise ModelLoadError(
                f"The adapter's base model {name!r} is missing (looked for {path}). Pass base=PATH (--model PATH) "
                "pointing at the model folder it was trained on."
            )
    quantization = "nf4" if metadata.get("config", {}).get("method") == "qlora" and not merge else None
    loaded = load_base_model(spec, workspace, dtype=dtype, device=device, quantization=quantization)
    _check_base(metadata, loaded)
    from peft import PeftModel

    try:
        model = PeftModel.from_pretrained(loaded.model, str(folder))
    except Exception as exc:  # noqa: BLE001 - OSError, ValueError, RuntimeError, safetensors' SafetensorError
        raise ModelLoadError(
            f"Could not attach adapter {folder} to {loaded.name}: {type(exc).__name__}: {exc}. If its files are damaged, "
            "restore the folder (e.g. from `<workspace>/registry/<name>/adapter`) or train it again."
        ) from exc
    if merge:
        model = model.merge_and_unload()
    model.eval()
    return LoadedModel(
        model=model,
        tokenizer=loaded.tokenizer,
        name=f"{loaded.name}+{folder.name}",
        path=str(folder),
        load_seconds=loaded.load_seconds,
        info={**loaded.info, "adapter": str(folder), "merged": merge, "metadata": metadata},
    )


def merge_adapter(adapter_dir: str | Path, workspace: Workspace, name: str, *, base: str | None = None) -> Path:
    """Merge an adapter into its base weights and save a standalone model in ``models/<name>``."""
    loaded = load_with_adapter(adapter_dir, workspace, base=base, merge=True)
    target = workspace.path("models", name)
    with atomic_directory(target) as tmp:
        loaded.model.save_pretrained(tmp, safe_serialization=True)
        loaded.tokenizer.save_pretrained(tmp)
        atomic_write_json(tmp / "merged_from.json", {"adapter": str(loaded.path), "metadata": loaded.info.get("metadata")})
    return target
