"""The workspace: one folder that holds every artifact the product makes.

Layout (created lazily)::

    <root>/leaderboard.duckdb     runs, reviews, registry entries
    <root>/optuna.db              embedded Optuna storage (SQLite through the RDB storage)
    <root>/datasets/<name>/       imported / uploaded data sets
    <root>/splits/<version>/      frozen train/validation/test splits
    <root>/corpora/<name>/        uploaded corpora
    <root>/indexes/<name>/        FAISS index + manifest.json
    <root>/models/<name>/         converted base models (safetensors)
    <root>/embedders/<name>/      fine-tuned embedders (safetensors + advisor-embedder.json)
    <root>/adapters/<name>/       PEFT adapters + metadata
    <root>/runs/<run_id>/         predictions, run records, checkpoints
    <root>/sweeps/<name>/         sweep plans, worker logs, pid files
    <root>/registry/<name>/       promoted adapters with model cards
    <root>/reports/               comparison reports and decision records
    <root>/uploads/               files uploaded through the app

User-chosen names never become paths without :func:`safe_name`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import WorkspaceError

ENV_VAR = "ADVISOR_WORKSPACE"
DEFAULT_ROOT = "workspace"
KINDS = (
    "datasets",
    "splits",
    "corpora",
    "indexes",
    "models",
    "embedders",
    "adapters",
    "runs",
    "sweeps",
    "registry",
    "reports",
    "uploads",
    "generated",
)
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")


def safe_name(name: str) -> str:
    """Return ``name`` unchanged if it is a safe single path component, else raise.

    Refused: empty names, ``.``/``..``, absolute paths, separators, NUL and control
    characters, names starting with a dot or dash, names over 128 characters.
    """
    if not isinstance(name, str) or not name:
        raise WorkspaceError("A name is required: use letters, digits, '.', '_', '-' or '+' (e.g. 'tldr-rag').")
    if "\x00" in name or "/" in name or "\\" in name or name in {".", ".."} or not _NAME_RE.fullmatch(name):
        raise WorkspaceError(
            f"Name {name!r} is not allowed: names must be 1-128 characters of letters, digits, '.', '_', "
            "'-' or '+', start with a letter or digit, and contain no path separators or '..'. "
            "Pick a plain name such as 'tldr-rag'."
        )
    return name


def slugify(text: str, default: str = "item") -> str:
    """Turn free text (a file name, a title) into a safe name; never raises."""
    slug = re.sub(r"[^A-Za-z0-9._+-]+", "-", text).strip("-._+")[:100]
    return slug or default


@dataclass(frozen=True)
class Workspace:
    """Resolves paths inside one workspace root; refuses anything that would escape it."""

    root: Path

    @classmethod
    def resolve(cls, root: str | os.PathLike[str] | None = None) -> "Workspace":
        """Pick the root from the argument, else ``$ADVISOR_WORKSPACE``, else ``./workspace``."""
        chosen = root if root not in (None, "") else os.environ.get(ENV_VAR) or DEFAULT_ROOT
        path = Path(chosen).expanduser().resolve()
        if path.exists() and not path.is_dir():
            raise WorkspaceError(f"Workspace {path} exists and is not a folder: pass --workspace with a folder path.")
        return cls(path)

    def ensure(self) -> "Workspace":
        """Create the root folder if missing."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"Cannot create workspace {self.root}: {exc}. Pass --workspace with a writable folder.") from exc
        return self

    def dir(self, kind: str) -> Path:
        """The folder for one kind of artifact (created if missing)."""
        if kind not in KINDS:
            raise WorkspaceError(f"Unknown workspace area {kind!r}; expected one of {', '.join(KINDS)}.")
        path = self.root / kind
        path.mkdir(parents=True, exist_ok=True)
        return path

    def path(self, kind: str, name: str, *parts: str) -> Path:
        """``<root>/<kind>/<name>/<parts...>`` with every user-chosen component checked."""
        path = self.dir(kind) / safe_name(name)
        for part in parts:
            path = path / safe_name(part)
        return self.contain(path)

    def contain(self, path: str | os.PathLike[str]) -> Path:
        """Return ``path`` resolved, refusing anything outside the workspace root."""
        resolved = Path(path).resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise WorkspaceError(f"Path {path} is outside the workspace {self.root}; refusing to touch it.")
        return resolved

    def names(self, kind: str) -> list[str]:
        """Names of the artifacts of one kind, sorted (hidden temporaries excluded)."""
        return sorted(p.name for p in self.dir(kind).iterdir() if not p.name.startswith("."))

    @property
    def leaderboard_path(self) -> Path:
        return self.root / "leaderboard.duckdb"

    @property
    def optuna_url(self) -> str:
        """Default embedded Optuna storage URL (SQLite through the RDB storage, heartbeats work)."""
        return f"sqlite:///{self.root / 'optuna.db'}"
