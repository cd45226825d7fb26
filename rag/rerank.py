"""Optional re-ranking: a cross-encoder from a local folder re-scores the retriever's top documents.

Off by default (``RagConfig.reranker: None``). A cross-encoder is never downloaded: when the folder
named is missing or not a cross-encoder, the stage says so (a warning, and ``note`` on the result)
and is skipped; retrieval goes on without it.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.config import RagConfig
from rag.embedder_store import PICKLE_SUFFIXES
from rag.retrieve import Hit, Retriever

log = logging.getLogger(__name__)


@dataclass
class RerankerChoice:
    """The cross-encoder to use (None: skipped) and why."""

    model: Any
    note: str


def load_reranker(spec: str | None) -> RerankerChoice:
    """A CrossEncoder from the local folder ``spec``, or None with the reason (never a download)."""
    if not spec:
        return RerankerChoice(None, "re-ranking off (no reranker configured)")
    folder = Path(spec).expanduser()
    if not folder.is_dir() or not (folder / "config.json").is_file():
        return _skip(f"re-ranker {spec!r} is not a local cross-encoder folder (config.json missing); re-ranking skipped. "
                     "Pass a folder holding a sentence-transformers CrossEncoder; nothing is downloaded.")
    if not any(p.suffix == ".safetensors" for p in folder.iterdir()) or any(p.suffix in PICKLE_SUFFIXES for p in folder.iterdir()):
        return _skip(f"re-ranker {spec!r} has no safetensors weights only (pickle files are never loaded); re-ranking skipped.")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from sentence_transformers import CrossEncoder

        model = CrossEncoder(str(folder), device="cpu", local_files_only=True, trust_remote_code=False,
                             model_kwargs={"use_safetensors": True})
    except (OSError, ValueError) as exc:
        return _skip(f"re-ranker {spec!r} could not be loaded ({exc}); re-ranking skipped.")
    return RerankerChoice(model, f"re-ranking the top documents with the cross-encoder in {folder}")


def _skip(note: str) -> RerankerChoice:
    warnings.warn(note, stacklevel=3)
    log.warning(note)
    return RerankerChoice(None, note)


def _standardise(values: Sequence[float]) -> list[float]:
    mean = sum(values) / len(values)
    sd = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5 or 1.0
    return [(v - mean) / sd for v in values]


class RerankingRetriever:
    """Wraps a retriever: its top ``rerank_candidates`` documents (best chunk each) re-scored by a
    scorer ``(query, text) -> float`` batch (a CrossEncoder's ``predict``), blended by ``rerank_weight``."""

    def __init__(self, inner: Retriever, scorer: Any, config: RagConfig) -> None:
        self.inner, self.scorer, self.config = inner, scorer, config
        self.name = f"{inner.name}+rerank"

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        cfg = self.config
        pool = self.inner.search(queries, max(k, cfg.rerank_candidates * cfg.max_chunks_per_doc))
        out = []
        for query, hits in zip(queries, pool):
            by_doc: dict[str, list[Hit]] = {}
            for h in hits:
                by_doc.setdefault(h.doc_id, []).append(h)
            docs = list(by_doc)[: cfg.rerank_candidates]
            if len(docs) < 2:
                out.append(hits[:k])
                continue
            scores = [float(s) for s in self.scorer([(query, by_doc[d][0].text) for d in docs])]
            first = _standardise([by_doc[d][0].score for d in docs])
            blended = [cfg.rerank_weight * s + (1 - cfg.rerank_weight) * f for s, f in zip(_standardise(scores), first)]
            order = sorted(range(len(docs)), key=lambda i: -blended[i])
            ranked = [h for i in order for h in by_doc[docs[i]]] + [h for d in list(by_doc)[cfg.rerank_candidates:] for h in by_doc[d]]
            out.append(ranked[:k])
        return out


def with_reranker(retriever: Retriever, config: RagConfig) -> tuple[Retriever, str]:
    """``retriever`` re-ranked when ``config.reranker`` names a usable local cross-encoder; else as it is."""
    choice = load_reranker(config.reranker)
    if choice.model is None:
        return retriever, choice.note
    model = choice.model
    return RerankingRetriever(retriever, lambda pairs: model.predict(list(pairs), show_progress_bar=False), config), choice.note
