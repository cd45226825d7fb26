"""The machine and workspace the advisor runs in: compute device, models at hand, what the workspace holds.

Read by the app's Settings page and the start-up benchmark; the recommendation's plan is checked
against the device before it starts (a GPU-sized plan on a CPU-only machine is said, not run blind).
Heavy imports (torch) stay inside :func:`device_info`.
"""

from __future__ import annotations

import importlib.util
import platform
from dataclasses import dataclass, field
from pathlib import Path

from core.workspace import KINDS, Workspace


@dataclass(frozen=True)
class DeviceInfo:
    """What the app would train and generate on."""

    kind: str
    """'cuda' or 'cpu'."""
    name: str
    """GPU name(s) or the CPU model."""
    memory_gb: float | None
    """Memory of the first GPU in GB, or None on CPU."""
    count: int
    """Number of GPUs (0 on CPU)."""
    cpu_cores: int
    """Logical CPU cores."""
    torch_version: str
    """Installed torch version ('' if torch is missing)."""


@dataclass(frozen=True)
class ModelInfo:
    """One model the app can use, and whether it is ready."""

    role: str
    """'generator', 'embedder', 'converted', 'adapter' or 'registry'."""
    name: str
    """Display name."""
    location: str
    """Folder or file it loads from ('' if missing)."""
    ready: bool
    """True when it can be loaded without installing anything."""
    note: str = ""
    """What to do when it is not ready, or a detail."""


@dataclass(frozen=True)
class WorkspaceSummary:
    """What a workspace holds, by area."""

    root: Path
    counts: dict[str, int] = field(default_factory=dict)
    has_leaderboard: bool = False
    has_optuna: bool = False


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or the platform's processor string)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_info() -> DeviceInfo:
    """The compute device: CUDA GPUs if torch sees any, else the CPU. Imports torch (slow-ish)."""
    import os

    cores = os.cpu_count() or 1
    try:
        import torch
    except ImportError:
        return DeviceInfo("cpu", cpu_model(), None, 0, cores, "")
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        names = sorted({torch.cuda.get_device_name(i) for i in range(count)})
        memory = torch.cuda.get_device_properties(0).total_memory / 1e9
        return DeviceInfo("cuda", ", ".join(names), round(memory, 1), count, cores, torch.__version__)
    return DeviceInfo("cpu", cpu_model(), None, 0, cores, torch.__version__)


def workspace_summary(ws: Workspace) -> WorkspaceSummary:
    """Counts of artifacts per area (does not create missing areas)."""
    counts = {}
    for kind in KINDS:
        folder = ws.root / kind
        counts[kind] = sum(1 for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else 0
    return WorkspaceSummary(ws.root, counts, ws.leaderboard_path.is_file(), (ws.root / "optuna.db").is_file())


def available_models(ws: Workspace) -> list[ModelInfo]:
    """The default generator and embedder (installed or not), plus models and adapters in the workspace."""
    from core.errors import ModelLoadError

    models: list[ModelInfo] = []
    try:
        from tuning.models import SMOLLM2_NAME, converted_path, smollm2_gguf_path

        gguf = smollm2_gguf_path()
        converted = converted_path(ws)
        done = (converted / "model.safetensors").is_file()
        models.append(ModelInfo("generator", SMOLLM2_NAME, str(gguf), True,
                                "converted in this workspace" if done else "converted to safetensors on first use (~30 s)"))
    except ModelLoadError as exc:
        models.append(ModelInfo("generator", "smollm2-135m-instruct", "", False, str(exc)))
    try:
        from rag.embedder import resolve_embedder

        name, path = resolve_embedder(None)
        models.append(ModelInfo("embedder", name, str(path), True))
    except ModelLoadError as exc:
        models.append(ModelInfo("embedder", "all-MiniLM-L6-v2", "", False, str(exc)))
    for role, kind in (("converted", "models"), ("adapter", "adapters"), ("registry", "registry")):
        folder = ws.root / kind
        if folder.is_dir():
            for item in sorted(folder.iterdir()):
                if item.is_dir() and not item.name.startswith("."):
                    models.append(ModelInfo(role, item.name, str(item), True))
    return models


def optional_packages() -> dict[str, bool]:
    """Optional packages the app uses when present (plots, dashboard)."""
    return {name: importlib.util.find_spec(name) is not None for name in ("plotly", "optuna_dashboard", "matplotlib")}
