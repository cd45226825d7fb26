"""FAISS index in the workspace: ``<ws>/indexes/<name>/`` = index.faiss + chunks.jsonl + manifest.json.

The manifest records the embedder (name, dimension), chunking, corpus content hash, FAISS type and
parameters, build time, and the sha256 of every file. Opening an index checks all of it: another
embedder or dimension, a missing, truncated or altered file is refused with what to do, never used.
FAISS files are only read from a workspace index folder whose manifest names them; chunk texts are
JSONL (no pickle). The folder is written with ``atomic_directory``: a killed build leaves the old one.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.atomic import atomic_directory
from core.config import to_dict
from core.errors import RagError, WorkspaceError
from core.workspace import Workspace
from rag.chunking import Chunk, chunk_corpus
from rag.config import RagConfig
from rag.corpus import Corpus
from rag.embedder import Encoder
from rag.embedder_store import sha256_file

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
INDEX_FILE = "index.faiss"
CHUNKS_FILE = "chunks.jsonl"
LEGACY_DEFAULTS = {"chunking": "packed"}
"""Index-shaping settings that manifests written before the setting existed did not record."""
ProgressFn = Callable[[str, int, int], None]
"""progress(stage, done, total); stages: 'chunk', 'embed', 'index'."""


@dataclass
class Manifest:
    """What an index was built from and with (manifest.json)."""

    name: str
    embedder: str
    dimension: int
    index_type: str
    index_params: dict[str, Any]
    chunking: dict[str, Any]
    corpus: dict[str, Any]
    """hash, source, kind, documents, chunks, skipped (list of {source, reason})."""
    files: dict[str, str]
    """file name -> sha256."""
    built_at: str
    build_seconds: float
    config: dict[str, Any] = field(default_factory=dict)
    """The RagConfig used at build time (retrieval and prompt defaults for this index)."""
    format_version: int = FORMAT_VERSION

    @classmethod
    def read(cls, folder: Path) -> "Manifest":
        path = folder / MANIFEST
        name = folder.name
        if not path.is_file():
            raise RagError(f"Index {name!r} has no {MANIFEST} in {folder}; it is not a usable index. Rebuild it: `advisor rag build --corpus PATH --name {name} --force`.")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            manifest = cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except (json.JSONDecodeError, UnicodeDecodeError, TypeError, RecursionError) as exc:
            raise RagError(f"Index {name!r}: {MANIFEST} is unreadable ({exc}). Rebuild it: `advisor rag build --corpus PATH --name {name} --force`.") from exc
        wrong = [k for k in ("files", "corpus", "index_params", "chunking", "config") if not isinstance(getattr(manifest, k), dict)]
        if wrong:
            raise RagError(f"Index {name!r}: {MANIFEST} is damaged ({', '.join(wrong)} not a mapping). Rebuild it: `advisor rag build --corpus PATH --name {name} --force`.")
        return manifest


@dataclass
class RagIndex:
    """An opened index: FAISS vectors, their chunks, and the manifest they were checked against."""

    name: str
    path: Path
    manifest: Manifest
    faiss_index: Any
    chunks: list[Chunk]
    derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """Structures built from the chunks once per opened index and shared by the retrievers (BM25 models)."""

    def __len__(self) -> int:
        return len(self.chunks)

    def doc_chunk_ids(self) -> dict[str, list[int]]:
        """Chunk ids of each document, in document order (built once per opened index)."""
        if "doc_chunk_ids" not in self.derived:
            positions: dict[str, list[int]] = {}
            for cid, chunk in enumerate(self.chunks):
                positions.setdefault(chunk.doc_id, []).append(cid)
            self.derived["doc_chunk_ids"] = positions
        return self.derived["doc_chunk_ids"]

    @property
    def config(self) -> RagConfig:
        from core.config import from_dict

        return from_dict(RagConfig, {**LEGACY_DEFAULTS, **self.manifest.config}) if self.manifest.config else RagConfig()

    def search(self, vectors: "np.ndarray", k: int) -> tuple["np.ndarray", "np.ndarray"]:
        """(scores, chunk ids) for each query vector; ids are -1 where fewer than k exist."""
        import numpy as np

        k = max(1, min(k, len(self.chunks)))
        return self.faiss_index.search(np.ascontiguousarray(vectors, dtype="float32"), k)


@dataclass
class BuildResult:
    index: RagIndex
    reused: bool
    seconds: float


def choose_index_type(n: int, config: RagConfig) -> str:
    """`flat` up to ``flat_max_vectors`` chunks, HNSW above, unless the config names one."""
    if config.index_type != "auto":
        return config.index_type
    return "flat" if n <= config.flat_max_vectors else "hnsw"


def make_faiss_index(vectors: "np.ndarray", index_type: str, config: RagConfig) -> tuple[Any, dict[str, Any]]:
    """Build a FAISS inner-product index (vectors are normalised: inner product = cosine)."""
    import faiss
    import numpy as np

    vectors = np.ascontiguousarray(vectors, dtype="float32")
    n, d = vectors.shape
    if index_type == "flat":
        index = faiss.IndexFlatIP(d)
        params: dict[str, Any] = {}
    elif index_type == "hnsw":
        index = faiss.IndexHNSWFlat(d, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = config.hnsw_ef_construction
        index.hnsw.efSearch = config.hnsw_ef_search
        params = {"m": config.hnsw_m, "ef_construction": config.hnsw_ef_construction, "ef_search": config.hnsw_ef_search}
    elif index_type == "ivf":
        nlist = config.ivf_nlist or max(1, int(4 * math.sqrt(n)))
        nlist = max(1, min(nlist, n // 39 if n >= 39 else 1))  # faiss wants ~39 training points per list
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.nprobe = min(config.ivf_nprobe, nlist)
        params = {"nlist": nlist, "nprobe": index.nprobe}
    else:  # validated by RagConfig; guard for direct callers
        raise RagError(f"Unknown FAISS index type {index_type!r}; use flat, hnsw or ivf.")
    index.add(vectors)
    return index, params


def set_search_params(index: Any, manifest: Manifest, config: RagConfig | None) -> None:
    """Apply query-time knobs (efSearch, nprobe) from the config, else from the manifest."""
    if manifest.index_type == "hnsw":
        index.hnsw.efSearch = config.hnsw_ef_search if config else manifest.index_params.get("ef_search", 128)
    elif manifest.index_type == "ivf":
        index.nprobe = min(config.ivf_nprobe if config else manifest.index_params.get("nprobe", 32), manifest.index_params.get("nlist", 1))


def index_dir(ws: Workspace, name: str) -> Path:
    try:
        return ws.path("indexes", name)
    except WorkspaceError as exc:
        raise RagError(str(exc)) from exc


def _write_chunks(path: Path, chunks: list[Chunk]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for chunk in chunks:
            handle.write(json.dumps(chunk.to_record(), ensure_ascii=False) + "\n")


def _read_chunks(path: Path, name: str) -> list[Chunk]:
    chunks = []
    with path.open("r", encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            try:
                chunks.append(Chunk.from_record(json.loads(line)))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise RagError(f"Index {name!r}: {CHUNKS_FILE} line {lineno} is corrupt ({exc}). Rebuild: `advisor rag build --corpus PATH --name {name} --force`.") from exc
    return chunks


def read_chunks(ws: Workspace, name: str) -> list[Chunk]:
    """The chunks of an index (text and document ids) without loading FAISS or an embedder."""
    folder = index_dir(ws, name)
    if not (folder / CHUNKS_FILE).is_file():
        raise RagError(f"Index {name!r} has no {CHUNKS_FILE} in {folder}; rebuild it with `advisor rag build`.")
    return _read_chunks(folder / CHUNKS_FILE, name)


def _build_key(encoder: Encoder, corpus: Corpus, config: RagConfig) -> dict[str, Any]:
    return {"embedder": encoder.name, "dimension": int(encoder.dimension), "corpus_hash": corpus.content_hash, **config.index_key()}


def _manifest_key(m: Manifest) -> dict[str, Any]:
    return {"embedder": m.embedder, "dimension": m.dimension, "corpus_hash": m.corpus.get("hash"),
            **{k: m.config.get(k, LEGACY_DEFAULTS.get(k)) for k in RagConfig().index_key()}}


def build_index(
    ws: Workspace,
    name: str,
    corpus: Corpus,
    encoder: Encoder,
    config: RagConfig | None = None,
    progress: ProgressFn | None = None,
    force: bool = False,
) -> BuildResult:
    """Chunk, embed and index ``corpus`` into ``<ws>/indexes/<name>/``; reuse an identical existing build."""
    config = config or RagConfig()
    config.validate()
    folder = index_dir(ws, name)
    started = time.perf_counter()
    if not force and (folder / MANIFEST).is_file():
        try:
            existing = open_index(ws, name, encoder)
        except RagError:
            existing = None  # stale or broken: rebuilt below
        if existing is not None and _manifest_key(existing.manifest) == _build_key(encoder, corpus, config):
            existing.manifest.config = {**existing.manifest.config, **to_dict(config)}
            return BuildResult(existing, reused=True, seconds=time.perf_counter() - started)

    def tell(stage: str, done: int, total: int) -> None:
        if progress is not None:
            progress(stage, done, total)

    tell("chunk", 0, len(corpus.documents))
    chunks = chunk_corpus(corpus.documents, config.chunk_size, config.chunk_overlap, encoder.count_tokens, config.chunking)
    tell("chunk", len(corpus.documents), len(corpus.documents))
    if not chunks:
        raise RagError(f"Corpus {corpus.source or '(in memory)'} produced no chunks: every document is empty after parsing.")
    vectors = encoder.embed([c.text for c in chunks], batch_size=config.embed_batch_size, progress=lambda d, t: tell("embed", d, t))
    if vectors.shape != (len(chunks), encoder.dimension):
        raise RagError(f"Embedder {encoder.name} returned shape {vectors.shape}, expected ({len(chunks)}, {encoder.dimension}).")
    index_type = choose_index_type(len(chunks), config)
    tell("index", 0, len(chunks))
    import faiss

    index, params = make_faiss_index(vectors, index_type, config)
    tell("index", len(chunks), len(chunks))
    with atomic_directory(folder) as tmp:
        faiss.write_index(index, str(tmp / INDEX_FILE))
        _write_chunks(tmp / CHUNKS_FILE, chunks)
        manifest = Manifest(
            name=name,
            embedder=encoder.name,
            dimension=int(encoder.dimension),
            index_type=index_type,
            index_params=params,
            chunking={"mode": config.chunking, "chunk_size": config.chunk_size, "chunk_overlap": config.chunk_overlap, "unit": "embedder tokens"},
            corpus={
                "hash": corpus.content_hash, "source": corpus.source, "kind": corpus.kind,
                "documents": len(corpus.documents), "chunks": len(chunks),
                "skipped": [{"source": s.source, "reason": s.reason} for s in corpus.skipped],
            },
            files={INDEX_FILE: sha256_file(tmp / INDEX_FILE), CHUNKS_FILE: sha256_file(tmp / CHUNKS_FILE)},
            built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            build_seconds=round(time.perf_counter() - started, 3),
            config=to_dict(config),
        )
        (tmp / MANIFEST).write_text(json.dumps(to_dict(manifest), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    opened = RagIndex(name=name, path=folder, manifest=manifest, faiss_index=index, chunks=chunks)
    return BuildResult(opened, reused=False, seconds=time.perf_counter() - started)


def open_index(ws: Workspace, name: str, encoder: Encoder | None = None, config: RagConfig | None = None) -> RagIndex:
    """Open a workspace index after checking its manifest, files and (if given) the embedder."""
    folder = index_dir(ws, name)
    rebuild = f"`advisor rag build --corpus PATH --name {name} --force`"
    if not folder.is_dir():
        known = ", ".join(ws.names("indexes")) or "none yet"
        raise RagError(f"No index named {name!r} in {ws.root} (indexes: {known}). Build one: `advisor rag build --corpus PATH --name {name}`.")
    manifest = Manifest.read(folder)
    if manifest.format_version != FORMAT_VERSION:
        raise RagError(f"Index {name!r} has format {manifest.format_version}, this version reads {FORMAT_VERSION}. Rebuild it: {rebuild}.")
    if encoder is not None and (manifest.embedder != encoder.name or int(manifest.dimension) != int(encoder.dimension)):
        raise RagError(
            f"Index {name!r} was built with embedder {manifest.embedder} (dimension {manifest.dimension}), "
            f"but the embedder in use is {encoder.name} (dimension {encoder.dimension}); its vectors are not comparable. "
            f"Open it with --embedder matching the manifest, or rebuild it with this embedder: {rebuild}."
        )
    for fname in (INDEX_FILE, CHUNKS_FILE):
        expected = manifest.files.get(fname)
        path = folder / fname
        if expected is None or not path.is_file():
            raise RagError(f"Index {name!r} is missing {fname} (or its checksum in {MANIFEST}). Rebuild it: {rebuild}.")
        actual = sha256_file(path)
        if actual != expected:
            raise RagError(
                f"Index {name!r}: {fname} is corrupt or truncated (sha256 {actual[:12]}... differs from the manifest's "
                f"{expected[:12]}...). It was not loaded. Rebuild it: {rebuild}."
            )
    import faiss

    try:
        index = faiss.read_index(str(folder / INDEX_FILE))
    except RuntimeError as exc:  # checksum passed but FAISS refuses: version skew
        raise RagError(f"Index {name!r}: FAISS cannot read {INDEX_FILE} ({exc}). Rebuild it: {rebuild}.") from exc
    chunks = _read_chunks(folder / CHUNKS_FILE, name)
    if index.ntotal != len(chunks) or index.d != int(manifest.dimension):
        raise RagError(f"Index {name!r} is inconsistent ({index.ntotal} vectors of dimension {index.d}, {len(chunks)} chunks, manifest dimension {manifest.dimension}). Rebuild it: {rebuild}.")
    set_search_params(index, manifest, config)
    return RagIndex(name=name, path=folder, manifest=manifest, faiss_index=index, chunks=chunks)


def list_indexes(ws: Workspace) -> list[dict[str, Any]]:
    """Name, embedder, type, documents, chunks and build time of each index (unreadable ones flagged)."""
    out = []
    for name in ws.names("indexes"):
        try:
            m = Manifest.read(ws.dir("indexes") / name)
            out.append({"name": name, "embedder": m.embedder, "index_type": m.index_type, "documents": m.corpus.get("documents"),
                        "chunks": m.corpus.get("chunks"), "built_at": m.built_at})
        except RagError as exc:
            out.append({"name": name, "error": str(exc)})
    return out
