"""Retrievers behind one small protocol, registered by name: ``dense`` (FAISS), ``bm25`` (bm25s), ``hybrid``.

Each returns, per query, up to k :class:`Hit` (chunk provenance + score), best first, with at most
``max_chunks_per_doc`` chunks of one document so that a list of k hits spans several documents.

Documents, not chunks, are ranked: a document's score pools its best chunks (the best chunk's score
plus ``doc_pool_weight`` times the next ``doc_pool - 1`` best), so a page with several chunks close
to the question beats a page with one lucky chunk (:func:`pool_documents`). Hits come grouped by
document in that order, each document's chunks best first. ``hybrid`` ranks documents by dense
(pooled chunks) and by BM25 (whole documents, ``bm25_scope``) separately and fuses the two document
rankings (:func:`fuse_documents`: standardised scores by default, or weighted reciprocal rank).
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


Ranked = list[tuple[int, float]]
"""(chunk number, score) pairs, best first."""


def pool_documents(ranked: Ranked, doc_of: Callable[[int], str], pool: int = 1, weight: float = 0.0) -> list[tuple[str, float, Ranked]]:
    """Documents of the ranked chunks, best first: (doc id, pooled score, its chunks best first).

    The pooled score is the best chunk's score plus ``weight`` times the sum of the next ``pool - 1``
    best chunks' scores (``pool=1`` or ``weight=0``: the best chunk alone). Ties keep first-seen order.
    """
    per: dict[str, Ranked] = {}
    for cid, score in ranked:
        per.setdefault(doc_of(cid), []).append((cid, score))
    out = []
    for doc, chunks in per.items():
        chunks.sort(key=lambda cs: -cs[1])
        score = chunks[0][1] + weight * sum(s for _c, s in chunks[1:pool])
        out.append((doc, float(score), chunks))
    out.sort(key=lambda d: -d[1])
    return out


def _doc_hits(docs: list[tuple[str, float, Ranked]], index: RagIndex, k: int, per_doc: int) -> list[Hit]:
    """Up to k hits: documents in order, at most ``per_doc`` best chunks of each."""
    hits: list[Hit] = []
    for _doc, _score, chunks in docs:
        for cid, score in chunks[:per_doc]:
            chunk = index.chunks[cid]
            hits.append(Hit(chunk.doc_id, chunk.id, float(score), chunk.text, chunk.position))
            if len(hits) >= k:
                return hits
    return hits


def _capped(ranked: Ranked, index: RagIndex, k: int, config: RagConfig) -> list[Hit]:
    docs = pool_documents(ranked, lambda cid: index.chunks[cid].doc_id, config.doc_pool, config.doc_pool_weight)
    return _doc_hits(docs, index, k, config.max_chunks_per_doc)


def _n_candidates(k: int, config: RagConfig) -> int:
    return max(k * max(config.max_chunks_per_doc, config.doc_pool) * 4, config.candidates)


class DenseRetriever:
    """Embed the query, search FAISS."""

    name = "dense"

    def __init__(self, index: RagIndex, encoder: Encoder, config: RagConfig) -> None:
        self.index, self.encoder, self.config = index, encoder, config

    def ranked(self, queries: Sequence[str], n: int) -> list[list[tuple[int, float]]]:
        prefix = self.config.query_prefix or getattr(self.encoder, "query_prefix", "")
        vectors = self.encoder.embed([prefix + q for q in queries], batch_size=self.config.embed_batch_size)
        scores, ids = self.index.search(vectors, n)
        return [[(int(i), float(s)) for i, s in zip(row_ids, row_scores) if i >= 0] for row_ids, row_scores in zip(ids, scores)]

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        return [_capped(r, self.index, k, self.config) for r in self.ranked(queries, _n_candidates(k, self.config))]


def _bm25_tokens(texts: Sequence[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(list(texts), stopwords="en", return_ids=False, show_progress=False)


def _doc_texts(index: RagIndex) -> tuple[list[str], list[str]]:
    """(document ids, one text per document): its chunks' lines, each distinct line once (context lines
    repeated at the top of every chunk count once)."""
    lines: dict[str, dict[str, None]] = {}
    for chunk in index.chunks:
        seen = lines.setdefault(chunk.doc_id, {})
        for line in chunk.text.splitlines():
            seen.setdefault(line, None)
    return list(lines), ["\n".join(v) for v in lines.values()]


DocRanked = list[tuple[str, float, Ranked]]
"""(doc id, score, its candidate chunks best first), best document first."""


class Bm25Retriever:
    """Lexical BM25 (bm25s), built in memory when first used (about 1 s per 30k chunks).

    ``bm25_scope: document`` (default) scores whole documents (all their chunks' distinct lines), so a
    question's words may match across a document's chunks; ``chunk`` scores each chunk alone and pools
    them like the dense retriever. Chunks of a document are ordered by their own BM25 score.
    """

    name = "bm25"

    def __init__(self, index: RagIndex, encoder: Encoder | None, config: RagConfig) -> None:
        import bm25s

        self.index, self.config = index, config
        cached = index.derived.get("bm25")
        if cached is None:
            cached = bm25s.BM25()
            cached.index(_bm25_tokens([c.text for c in index.chunks]), show_progress=False)
            index.derived["bm25"] = cached
        self.model: Any = cached
        self.doc_model: Any = None
        if config.bm25_scope == "document":
            docs = index.derived.get("bm25_docs")
            if docs is None:
                ids, texts = _doc_texts(index)
                model = bm25s.BM25()
                model.index(_bm25_tokens(texts), show_progress=False)
                docs = (ids, model)
                index.derived["bm25_docs"] = docs
            self.doc_ids, self.doc_model = docs

    @staticmethod
    def _retrieve(model: Any, tokens: list[list[str]], n: int) -> list[list[tuple[int, float]]]:
        out: list[list[tuple[int, float]]] = []
        for toks in tokens:
            if not toks:
                out.append([])
                continue
            ids, scores = model.retrieve([toks], k=n, show_progress=False, n_threads=1)
            out.append([(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if s > 0])
        return out

    def ranked(self, queries: Sequence[str], n: int) -> list[Ranked]:
        """Chunks by their own BM25 score, best first."""
        return self._retrieve(self.model, _bm25_tokens(queries), max(1, min(n, len(self.index.chunks))))

    def doc_ranked(self, queries: Sequence[str], n: int, chunk_ranked: list[Ranked] | None = None) -> list[DocRanked]:
        """Documents, best first, each with its candidate chunks (``chunk_ranked``: this retriever's chunk lists)."""
        chunk_ranked = chunk_ranked if chunk_ranked is not None else self.ranked(queries, n)
        doc_of = lambda cid: self.index.chunks[cid].doc_id  # noqa: E731
        if self.doc_model is None:
            return [pool_documents(r, doc_of, self.config.doc_pool, self.config.doc_pool_weight) for r in chunk_ranked]
        out = []
        per_doc_n = max(1, min(n, len(self.doc_ids)))
        for docs, chunks in zip(self._retrieve(self.doc_model, _bm25_tokens(queries), per_doc_n), chunk_ranked):
            by_doc = {d: c for d, _s, c in pool_documents(chunks, doc_of)}
            out.append([(self.doc_ids[i], score, by_doc.get(self.doc_ids[i], [])) for i, score in docs])
        return out

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        n = _n_candidates(k, self.config)
        return [_doc_hits(_fill(docs, self.index), self.index, k, self.config.max_chunks_per_doc) for docs in self.doc_ranked(queries, n)]


def _fill(docs: DocRanked, index: RagIndex) -> DocRanked:
    """Documents ranked without candidate chunks get their chunks in document order (score 0)."""
    if all(chunks for _d, _s, chunks in docs):
        return docs
    positions = index.doc_chunk_ids()
    return [(d, s, chunks or [(cid, 0.0) for cid in positions.get(d, [])]) for d, s, chunks in docs]


def fuse_documents(rankings: Sequence[DocRanked], weights: Sequence[float], how: str = "zscore", rrf_k: int = 60) -> dict[str, float]:
    """Fused score per document from several document rankings (each best first).

    ``zscore``: each ranking's scores are standardised over its own candidates (mean 0, sd 1) and
    summed with the weights; a document missing from a ranking gets 0 there (an average candidate).
    ``rrf``: weighted reciprocal rank, ``weight / (rrf_k + rank)``. Score standardisation keeps how
    far ahead a document is (a clear BM25 winner stays ahead), which reciprocal ranks forget.
    """
    fused: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights):
        if not ranking:
            continue
        if how == "rrf":
            for rank, (doc, _s, _chunks) in enumerate(ranking):
                fused[doc] = fused.get(doc, 0.0) + weight / (rrf_k + rank + 1)
            continue
        scores = [s for _d, s, _c in ranking]
        mean = sum(scores) / len(scores)
        sd = (sum((s - mean) ** 2 for s in scores) / len(scores)) ** 0.5 or 1.0
        for doc, score, _chunks in ranking:
            fused[doc] = fused.get(doc, 0.0) + weight * (score - mean) / sd
    return fused


class HybridRetriever:
    """Dense and BM25 document rankings fused (``hybrid_fusion``: standardised scores or reciprocal ranks)."""

    name = "hybrid"

    def __init__(self, index: RagIndex, encoder: Encoder, config: RagConfig) -> None:
        self.index, self.config = index, config
        self.dense = DenseRetriever(index, encoder, config)
        self.bm25 = Bm25Retriever(index, encoder, config)

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        cfg = self.config
        n = _n_candidates(k, cfg)
        w, c = cfg.hybrid_dense_weight, cfg.rrf_k
        doc_of = lambda cid: self.index.chunks[cid].doc_id  # noqa: E731
        dense_ranked = self.dense.ranked(queries, n)
        lexical_ranked = self.bm25.ranked(queries, n)
        lexical_docs = self.bm25.doc_ranked(queries, n, lexical_ranked)
        out = []
        for dense, lexical, lex_docs in zip(dense_ranked, lexical_ranked, lexical_docs):
            # chunks: fused by reciprocal rank (orders a document's chunks for the prompt)
            fused: dict[int, float] = {}
            for weight, ranked in ((w, dense), (1.0 - w, lexical)):
                for rank, (cid, _s) in enumerate(ranked):
                    fused[cid] = fused.get(cid, 0.0) + weight / (c + rank + 1)
            by_doc = {doc: chunks for doc, _s, chunks in pool_documents(sorted(fused.items(), key=lambda kv: -kv[1]), doc_of)}
            # documents: the dense (pooled) and the BM25 document rankings, fused
            dense_docs = pool_documents(dense, doc_of, cfg.doc_pool, cfg.doc_pool_weight)
            doc_score = fuse_documents([dense_docs, lex_docs], [w, 1.0 - w], cfg.hybrid_fusion, c)
            docs = [(doc, score, by_doc.get(doc, [])) for doc, score in sorted(doc_score.items(), key=lambda kv: -kv[1])]
            out.append(_doc_hits(_fill(docs, self.index), self.index, k, cfg.max_chunks_per_doc))
        return out


register_retriever("dense")(DenseRetriever)
register_retriever("bm25")(Bm25Retriever)
register_retriever("hybrid")(HybridRetriever)
