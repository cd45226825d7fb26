"""Retrievers behind one small protocol, registered by name: ``dense`` (FAISS), ``bm25`` (bm25s), ``hybrid``.

Each returns, per query, up to k :class:`Hit` (chunk provenance + score), best first, with at most
``max_chunks_per_doc`` chunks of one document so that a list of k hits spans several documents.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from core.errors import RagError
from rag.config import RagConfig
from rag.embedder import Encoder
from rag.index import RagIndex


@dataclass
class Hit:
    """One retrieved chunk with its provenance."""

    doc_id: str
    chunk_id: str
    score: float
    text: str
    position: int
    """Ordinal of the chunk within its document."""


class Retriever(Protocol):
    name: str

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        """Top-k hits per query, best first."""


RetrieverFactory = Callable[[RagIndex, Encoder, RagConfig], Retriever]
_REGISTRY: dict[str, RetrieverFactory] = {}


def register_retriever(name: str) -> Callable[[RetrieverFactory], RetrieverFactory]:
    """Decorator: make a retriever factory available by name (config `retriever: NAME`)."""

    def deco(factory: RetrieverFactory) -> RetrieverFactory:
        _REGISTRY[name] = factory
        return factory

    return deco


def retriever_names() -> list[str]:
    return sorted(_REGISTRY)


def make_retriever(index: RagIndex, encoder: Encoder, config: RagConfig, name: str | None = None) -> Retriever:
    """The retriever named by ``name`` or ``config.retriever``."""
    key = name or config.retriever
    if key not in _REGISTRY:
        raise RagError(f"Unknown retriever {key!r}; known: {', '.join(retriever_names())}.")
    return _REGISTRY[key](index, encoder, config)


def _capped(ranked: list[tuple[int, float]], index: RagIndex, k: int, per_doc: int) -> list[Hit]:
    hits: list[Hit] = []
    per: dict[str, int] = {}
    for cid, score in ranked:
        chunk = index.chunks[cid]
        if per.get(chunk.doc_id, 0) >= per_doc:
            continue
        per[chunk.doc_id] = per.get(chunk.doc_id, 0) + 1
        hits.append(Hit(chunk.doc_id, chunk.id, float(score), chunk.text, chunk.position))
        if len(hits) >= k:
            break
    return hits


class DenseRetriever:
    """Embed the query, search FAISS."""

    name = "dense"

    def __init__(self, index: RagIndex, encoder: Encoder, config: RagConfig) -> None:
        self.index, self.encoder, self.config = index, encoder, config

    def ranked(self, queries: Sequence[str], n: int) -> list[list[tuple[int, float]]]:
        vectors = self.encoder.embed(list(queries), batch_size=self.config.embed_batch_size)
        scores, ids = self.index.search(vectors, n)
        return [[(int(i), float(s)) for i, s in zip(row_ids, row_scores) if i >= 0] for row_ids, row_scores in zip(ids, scores)]

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        n = max(k * self.config.max_chunks_per_doc * 4, self.config.candidates)
        return [_capped(r, self.index, k, self.config.max_chunks_per_doc) for r in self.ranked(queries, n)]


def _bm25_tokens(texts: Sequence[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(list(texts), stopwords="en", return_ids=False, show_progress=False)


class Bm25Retriever:
    """Lexical BM25 over the chunk texts (bm25s); built in memory when first used (about 1 s per 30k chunks)."""

    name = "bm25"

    def __init__(self, index: RagIndex, encoder: Encoder | None, config: RagConfig) -> None:
        self.index, self.config = index, config
        cached = getattr(index, "_bm25", None)
        if cached is None:
            import bm25s

            cached = bm25s.BM25()
            cached.index(_bm25_tokens([c.text for c in index.chunks]), show_progress=False)
            index._bm25 = cached  # type: ignore[attr-defined]
        self.model: Any = cached

    def ranked(self, queries: Sequence[str], n: int) -> list[list[tuple[int, float]]]:
        tokens = _bm25_tokens(queries)
        n = max(1, min(n, len(self.index.chunks)))
        out: list[list[tuple[int, float]]] = []
        for toks in tokens:
            if not toks:
                out.append([])
                continue
            ids, scores = self.model.retrieve([toks], k=n, show_progress=False, n_threads=1)
            out.append([(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if s > 0])
        return out

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        n = max(k * self.config.max_chunks_per_doc * 4, self.config.candidates)
        return [_capped(r, self.index, k, self.config.max_chunks_per_doc) for r in self.ranked(queries, n)]


class HybridRetriever:
    """Weighted reciprocal-rank fusion of the dense and BM25 candidate lists."""

    name = "hybrid"

    def __init__(self, index: RagIndex, encoder: Encoder, config: RagConfig) -> None:
        self.index, self.config = index, config
        self.dense = DenseRetriever(index, encoder, config)
        self.bm25 = Bm25Retriever(index, encoder, config)

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        n = max(k * self.config.max_chunks_per_doc * 4, self.config.candidates)
        w, c = self.config.hybrid_dense_weight, self.config.rrf_k
        out = []
        for dense, lexical in zip(self.dense.ranked(queries, n), self.bm25.ranked(queries, n)):
            fused: dict[int, float] = {}
            for rank, (cid, _s) in enumerate(dense):
                fused[cid] = fused.get(cid, 0.0) + w / (c + rank + 1)
            for rank, (cid, _s) in enumerate(lexical):
                fused[cid] = fused.get(cid, 0.0) + (1.0 - w) / (c + rank + 1)
            ranked = sorted(fused.items(), key=lambda kv: -kv[1])
            out.append(_capped(ranked, self.index, k, self.config.max_chunks_per_doc))
        return out


register_retriever("dense")(DenseRetriever)
register_retriever("bm25")(Bm25Retriever)
register_retriever("hybrid")(HybridRetriever)
