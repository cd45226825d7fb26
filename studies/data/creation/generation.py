"""One generation run: corpus -> candidates (extractive and/or model-written) -> filters -> stored for review.

Stored in ``<ws>/generated/<name>/`` (written atomically, once): ``candidates.jsonl`` (kept, in
review order), ``rejected.jsonl`` (with the filter and reason), ``documents.jsonl`` (each source
document's text, so reviewers see the passage even if the corpus moves) and ``generation.json``
(corpus, generators, thresholds, counts). Review decisions are appended beside them (see
``review_queue.py``); re-running a generation under the same name is refused once review started.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.atomic import atomic_directory
from core.errors import DataError
from core.workspace import Workspace
from studies.data.creation.candidates import Candidate
from studies.data.creation.extractive import EXTRACTIVE_RULES, extract_candidates
from studies.data.creation.filters import FilterConfig, FilterReport, filter_candidates
from studies.data.creation.model import (
    PROMPT,
    TextGenerator,
    passages,
    write_candidates,
)
from studies.data.creation.store import AREA, DECISIONS, run_dir, write_jsonl

Progress = Callable[[str, int, int], None]


@dataclass
class GenerationRequest:
    """What to generate from which corpus (the typed form of the CLI's and the app's options)."""

    corpus: str
    """A corpus in any format `rag` ingests (tldr pages, a folder of .md/.txt/.rst, JSONL documents)."""
    name: str
    """Name of the generation run in the workspace (``generated/<name>``)."""
    extractive: bool = True
    """Run the extractive rules (no model)."""
    rules: list[str] | None = None
    """Extractive rules to run (None: all registered)."""
    model: TextGenerator | None = None
    """A model-written generator (local model or endpoint); None: extractive only."""
    prompt: str = PROMPT
    """Prompt template of the model-written generator."""
    max_documents: int | None = None
    """Use only the first N documents (by id) of the corpus."""
    passages_per_document: int = 3
    """Model-written: at most this many passages per document."""
    filters: FilterConfig = field(default_factory=FilterConfig)
    """Filter thresholds."""

    def validate(self) -> None:
        if not str(self.corpus).strip():
            raise DataError("No corpus given: choose a file or folder of documents.")
        if not self.extractive and self.model is None:
            raise DataError("Nothing to generate with: enable the extractive rules or give a model (a local model folder or an OpenAI-compatible endpoint).")
        unknown = sorted(set(self.rules or []) - set(EXTRACTIVE_RULES))
        if unknown:
            raise DataError(f"Unknown extractive rule(s) {', '.join(unknown)}; known: {', '.join(EXTRACTIVE_RULES)}.")
        if self.max_documents is not None and self.max_documents < 1:
            raise DataError(f"The maximum number of documents must be >= 1, but got {self.max_documents}.")
        if self.passages_per_document < 1:
            raise DataError(f"Passages per document must be >= 1, but got {self.passages_per_document}.")
        self.filters.validate()


@dataclass
class GenerationResult:
    """What a run made: the filter report, counts per generator, timings, and where it is stored."""

    name: str
    path: Path
    report: FilterReport
    by_generator: dict[str, int]
    unparsed: int
    documents: int
    seconds: dict[str, float]

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.path), "documents": self.documents,
                "generated": self.by_generator, "unparsed_model_replies": self.unparsed,
                "seconds": {k: round(v, 2) for k, v in self.seconds.items()}, **self.report.summary()}


def generate(request: GenerationRequest, ws: Workspace, encoder: Any, progress: Progress | None = None) -> GenerationResult:
    """Generate, filter and store candidates for review (refuses to overwrite a run that has reviews)."""
    from rag.corpus import load_corpus

    request.validate()
    target = run_dir(ws, request.name)
    if (target / DECISIONS).exists() and (target / DECISIONS).stat().st_size > 0:
        raise DataError(f"Generation {request.name!r} already has review decisions; pick another name (nothing was changed).")
    corpus = load_corpus(request.corpus)
    docs = sorted(corpus.documents, key=lambda d: d.id)[: request.max_documents or None]
    texts = {d.id: d.text for d in docs}
    seconds: dict[str, float] = {}
    candidates: list[Candidate] = []
    if request.extractive:
        start = time.perf_counter()
        for i, doc in enumerate(docs, start=1):
            candidates.extend(extract_candidates(doc.id, doc.text, doc.title, request.rules))
            if progress and (i % 25 == 0 or i == len(docs)):
                progress("extractive rules", i, len(docs))
        seconds["extractive"] = time.perf_counter() - start
    unparsed = 0
    if request.model is not None:
        start = time.perf_counter()
        items = [p for d in docs for p in passages(d.id, d.text, d.title)[: request.passages_per_document]]
        written = write_candidates(request.model, items, request.prompt,
                                   progress=(lambda done, total: progress("model-written", done, total)) if progress else None)
        candidates.extend(written.candidates)
        unparsed = written.unparsed
        seconds["model"] = time.perf_counter() - start
    by_generator: dict[str, int] = {}
    for c in candidates:
        by_generator[c.generator] = by_generator.get(c.generator, 0) + 1
    start = time.perf_counter()
    report = filter_candidates(candidates, texts, encoder, request.filters, progress)
    seconds["filters"] = time.perf_counter() - start
    manifest = {
        "name": request.name, "corpus": str(request.corpus), "corpus_hash": corpus.content_hash, "documents": len(docs),
        "generators": sorted(by_generator), "by_generator": by_generator, "unparsed_model_replies": unparsed,
        "prompt": request.prompt if request.model is not None else None,
        "filters": report.summary(), "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "encoder": getattr(encoder, "name", type(encoder).__name__),
    }
    with atomic_directory(target) as tmp:
        write_jsonl(tmp / "candidates.jsonl", (c.to_dict() for c in report.kept))
        write_jsonl(tmp / "rejected.jsonl", ({**r.candidate.to_dict(), "filter": r.filter, "reason": r.reason} for r in report.rejected))
        used = {c.doc_id for c in report.kept}
        write_jsonl(tmp / "documents.jsonl", ({"id": d.id, "title": d.title, "text": d.text} for d in docs if d.id in used))
        (tmp / "generation.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return GenerationResult(request.name, target, report, by_generator, unparsed, len(docs), seconds)


def list_generations(ws: Workspace) -> list[dict[str, Any]]:
    out = []
    for folder in sorted(ws.dir(AREA).iterdir()):
        manifest = folder / "generation.json"
        if folder.is_dir() and manifest.exists():
            try:
                out.append(json.loads(manifest.read_text(encoding="utf-8")))
            except ValueError:
                continue
    return out


def generation_names(ws: Workspace) -> Sequence[str]:
    return [m["name"] for m in list_generations(ws)]
