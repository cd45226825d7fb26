"""Retrieval quality on full tldr: test pairs as questions, pages as corpus with the test examples removed.

Compares the plain baseline (whole pages embedded with MiniLM, exact search) with block chunks (one
chunk per paragraph / list item: one per tldr example) ranked by pooled document scores, dense, BM25
and hybrid, and with the session-1 packed chunks, measured the same way in the same run. Question sets:
- ``random``: random 10% of pairs as test (each page loses only the examples that are test pairs);
- ``validation``: another random 10% of the remaining pairs, disjoint from ``random``'s test pairs,
  with their own examples removed: settings are chosen here, then reported once on ``random``;
- ``group``: test pairs of a group-aware split (page-disjoint: every example of a test page is a test
  pair, so test pages keep only their title and description in the index).

Embeddings are cached on disk by text hash (``--cache``), so reruns and variants embed each text once.

    .venv/bin/python bench/bench_rag_retrieval.py [--tldr /work/shared/data/tldr] [--questions 1000] [--modes random]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from core.workspace import Workspace  # noqa: E402
from rag.config import RagConfig  # noqa: E402
from rag.corpus import corpus_from_pages  # noqa: E402
from rag.embedder import as_encoder  # noqa: E402
from rag.index import build_index  # noqa: E402
from rag.retrieval_eval import doc_ranking, retrieval_metrics  # noqa: E402
from rag.retrieve import make_retriever  # noqa: E402
from rag.tldr import read_pages_jsonl  # noqa: E402


def load_pairs(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def group_split_test(path: Path, seed: int = 0) -> list[dict]:
    """The test part of the project's group-aware split (studies.data.splits.make_split, seed 0), as dicts."""
    from studies.data.datasets import load_pairs as load_dataset
    from studies.data.splits import make_split

    split = make_split(load_dataset(path), seed=seed)
    return [{"input": p.input, "output": p.output, "page": p.meta.get("page") or p.group} for p in split.test]


class CachingEncoder:
    """Reuses embeddings of texts already embedded (across variants and modes); the cache is a .npz file."""

    def __init__(self, inner, path: Path) -> None:
        import numpy as np

        self.inner, self.path = inner, path
        self.name, self.dimension = inner.name, inner.dimension
        self.cache: dict[str, object] = {}
        if path.is_file():
            data = np.load(path)
            self.cache = dict(zip(data["keys"].tolist(), data["vecs"]))

    def count_tokens(self, texts):
        return self.inner.count_tokens(texts)

    def embed(self, texts, batch_size=64, progress=None):
        import numpy as np

        keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        todo = sorted({k: t for k, t in zip(keys, texts) if k not in self.cache}.items())
        if todo:
            vecs = self.inner.embed([t for _k, t in todo], batch_size=batch_size, progress=progress)
            self.cache.update({k: v for (k, _t), v in zip(todo, vecs)})
            if len(todo) > 200:  # written aside, then renamed: a reader never sees half a file
                tmp = self.path.with_name(self.path.name + ".tmp.npz")
                np.savez(tmp, keys=np.array(list(self.cache)), vecs=np.stack(list(self.cache.values())))
                os.replace(tmp, self.path)
        return np.stack([self.cache[k] for k in keys]).astype("float32") if keys else np.zeros((0, self.dimension), "float32")


def random_test(pairs: list[dict], share: float = 0.1, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [p for p in pairs if rng.random() < share]


def validation_pairs(pairs: list[dict], share: float = 0.1, seed: int = 7) -> list[dict]:
    """A random ``share`` of the pairs that are not ``random_test`` pairs (for choosing settings)."""
    test = {id(p) for p in random_test(pairs)}
    return random_test([p for p in pairs if id(p) not in test], share, seed)


FLAT = dict(index_type="flat", max_chunks_per_doc=1, doc_pool=1)
BLOCKS = dict(FLAT, chunking="blocks", chunk_size=256)
PACKED = dict(FLAT, chunking="packed", chunk_size=256)
VARIANTS = {
    "baseline: whole page, dense, exact": RagConfig(**dict(FLAT, chunking="packed", chunk_size=4096), retriever="dense"),
    "packed 64, hybrid rrf, chunk bm25 (session-1 default)": RagConfig(**dict(FLAT, chunking="packed", chunk_size=64), retriever="hybrid",
                                                                      hybrid_fusion="rrf", hybrid_dense_weight=0.5, bm25_scope="chunk"),
    "blocks, dense": RagConfig(**BLOCKS, retriever="dense"),
    "blocks, dense, pooled 3 x 0.2": RagConfig(**dict(BLOCKS, doc_pool=3, doc_pool_weight=0.2), retriever="dense"),
    "blocks, bm25 chunks": RagConfig(**BLOCKS, retriever="bm25", bm25_scope="chunk"),
    "blocks, bm25 documents": RagConfig(**BLOCKS, retriever="bm25"),
    "blocks, hybrid rrf w=0.5": RagConfig(**BLOCKS, retriever="hybrid", hybrid_fusion="rrf", hybrid_dense_weight=0.5),
    "blocks, hybrid zscore w=0.2": RagConfig(**BLOCKS, retriever="hybrid", hybrid_dense_weight=0.2),
    "packed 256, dense": RagConfig(**PACKED, retriever="dense"),
    "packed 256, hybrid rrf w=0.5": RagConfig(**PACKED, retriever="hybrid", hybrid_fusion="rrf", hybrid_dense_weight=0.5),
    "packed 256, hybrid zscore w=0.3": RagConfig(**PACKED, retriever="hybrid", hybrid_dense_weight=0.3),
    "packed 256, hybrid zscore w=0.5": RagConfig(**PACKED, retriever="hybrid", hybrid_dense_weight=0.5),
}
DEFAULT_VARIANTS = [k for k in VARIANTS if "session-1" not in k]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tldr", default="/work/shared/data/tldr")
    ap.add_argument("--questions", type=int, default=1000)
    ap.add_argument("--workspace", default="/tmp/rag-bench-ws")
    ap.add_argument("--modes", default="random", help="comma-separated: random, validation, group")
    ap.add_argument("--cache", default="/tmp/rag_cache/minilm.npz", help="embedding cache (.npz keyed by text sha1)")
    ap.add_argument("--pages", type=int, default=0, help="corpus subset: the questions' gold pages plus random others up to N (0: all pages)")
    ap.add_argument("--variants", default="", help="'|'-separated substrings of variant names; 'all' for every one (default: all but the session-1 packed-64 row)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "rag_retrieval.json"))
    args = ap.parse_args()
    tldr = Path(args.tldr)
    pages = [p for _l, p in read_pages_jsonl(tldr / "pages.jsonl")]
    pairs = load_pairs(tldr / "pairs.jsonl")
    ws = Workspace.resolve(args.workspace).ensure()
    Path(args.cache).parent.mkdir(parents=True, exist_ok=True)
    encoder = CachingEncoder(as_encoder(None), Path(args.cache))
    variants = {k: VARIANTS[k] for k in DEFAULT_VARIANTS}
    if args.variants == "all":
        variants = dict(VARIANTS)
    elif args.variants:
        wanted = args.variants.split("|")
        variants = {k: v for k, v in VARIANTS.items() if any(w in k for w in wanted)}
    results = {"load_avg_start": os.getloadavg(), "rows": []}
    for mode in args.modes.split(","):
        test = {"group": lambda: group_split_test(tldr / "pairs.jsonl"), "validation": lambda: validation_pairs(pairs)}.get(mode, lambda: random_test(pairs))()
        drop: dict[str, set] = {}
        for p in test:
            drop.setdefault(p["page"], set()).add((p["input"], p["output"]))
        rng = random.Random(2 if mode == "validation" else 1)
        questions = rng.sample(test, min(args.questions, len(test)))
        chosen = pages
        if args.pages:
            gold = {q["page"] for q in questions}
            others = [p for p in pages if p.id not in gold]
            extra = random.Random(3).sample(others, max(0, min(len(others), args.pages - len(gold))))
            chosen = [p for p in pages if p.id in gold] + extra
        corpus = corpus_from_pages(chosen, drop=drop, source=f"tldr-{mode}")
        golds = [{q["page"]} for q in questions]
        print(f"[{mode}] test pairs {len(test)} from {len({p['page'] for p in test})} pages; questions {len(questions)}; corpus pages {len(chosen)}", flush=True)
        for label, config in variants.items():
            name = f"{mode}-p{len(chosen)}-{config.chunking}{config.chunk_size}"
            t0 = time.perf_counter()
            built = build_index(ws, name, corpus, encoder, config)
            build_s = time.perf_counter() - t0
            retriever = make_retriever(built.index, encoder, config)
            t0 = time.perf_counter()
            hits = retriever.search([q["input"] for q in questions], 10)
            query_s = (time.perf_counter() - t0) / len(questions)
            m = retrieval_metrics([doc_ranking(h) for h in hits], golds)
            row = {"mode": mode, "variant": label, "questions": len(questions), "corpus_pages": len(chosen), "chunks": len(built.index), "build_s": round(build_s, 1), "reused": built.reused,
                   "query_ms": round(query_s * 1000, 2), **{k: round(v, 3) for k, v in m.items()}}
            results["rows"].append(row)
            print(json.dumps(row), flush=True)
    results["load_avg_end"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
