"""The data files a person can pick from: the bundled sample, what the workspace holds, uploads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.uploads import uploaded_files
from core.workspace import Workspace

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
"""The attributed tldr sample shipped with the project (see data/sample/README)."""


def sample_paths() -> dict[str, Path]:
    """The bundled sample: ``pairs`` (684 tldr pairs) and ``pages`` (101 pages)."""
    return {"pairs": SAMPLE / "pairs.jsonl", "pages": SAMPLE / "pages.jsonl"}


@dataclass(frozen=True)
class Source:
    """A data file offered in a picker."""

    label: str
    """What the picker shows."""
    path: Path
    """Where it is read from."""


def pair_sources(ws: Workspace) -> list[Source]:
    """Pair data sets: the bundled sample, data sets saved in the workspace, uploads (newest first)."""
    sources = [Source("Bundled sample: tldr DevOps pairs (684)", sample_paths()["pairs"])]
    folder = ws.root / "datasets"
    if folder.is_dir():
        for item in sorted(folder.iterdir()):
            if (item / "pairs.jsonl").is_file() and not item.name.startswith("."):
                sources.append(Source(f"Workspace data set: {item.name}", item / "pairs.jsonl"))
    return sources + [Source(f"Uploaded: {p.name}", p) for p in uploaded_files(ws, "pairs")]


def corpus_sources(ws: Workspace) -> list[Source]:
    """Corpora: the bundled tldr pages, corpora in the workspace, uploads (newest first)."""
    sources = [Source("Bundled sample: tldr DevOps pages (101)", sample_paths()["pages"])]
    folder = ws.root / "corpora"
    if folder.is_dir():
        for item in sorted(folder.iterdir()):
            if not item.name.startswith("."):
                sources.append(Source(f"Workspace corpus: {item.name}", item))
    return sources + [Source(f"Uploaded: {p.name}", p) for p in uploaded_files(ws, "corpus")]
