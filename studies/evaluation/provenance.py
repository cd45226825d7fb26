"""Where a result came from: the code version (git) and the environment (device, library versions)."""

from __future__ import annotations

import functools
import platform
import subprocess
from importlib import metadata
from pathlib import Path

_LIBRARIES = ("torch", "transformers", "peft", "sentence-transformers", "faiss-cpu", "duckdb", "optuna", "scipy", "sacrebleu")
_ROOT = Path(__file__).resolve().parent.parent


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """``git`` commit of the checkout (``+dirty`` when files changed), or the package version."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=_ROOT, capture_output=True, text=True, timeout=5)
        if sha.returncode == 0 and sha.stdout.strip():
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"], cwd=_ROOT, capture_output=True, text=True, timeout=5
            )
            return sha.stdout.strip()[:12] + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return "pkg-" + metadata.version("finetune-or-rag-advisor")
    except metadata.PackageNotFoundError:
        return "unknown"


@functools.lru_cache(maxsize=1)
def _library_versions() -> dict[str, str]:
    out = {}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def environment(device: str | None = None) -> dict[str, object]:
    """Device, Python, platform and library versions (recorded with every run)."""
    return {
        "device": device or "cpu",
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "machine": platform.machine(),
        "libraries": dict(_library_versions()),
    }
