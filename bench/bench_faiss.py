"""FAISS on 100k vectors: exact Flat vs HNSW vs IVF, built through rag.index.make_faiss_index.

Data: 100k unit vectors of dimension 384 (MiniLM's) drawn from a mixture of 2,000 Gaussian clusters
(embeddings cluster by topic; uniform random vectors would be a worst case no corpus has), queries
are 1,000 held-out points of the same mixture. Reports build time, single-query latency p50/p99, and
recall@10 against the exact Flat results.

    .venv/bin/python bench/bench_faiss.py [--n 100000] [--queries 1000] [--threads 2]

``--real FILE.npz`` (arrays ``vecs``) runs the same comparison on real embeddings instead (e.g. MiniLM
vectors of tldr chunks): a random ``--queries`` of them become the queries, the rest the corpus.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.config import RagConfig  # noqa: E402
from rag.index import make_faiss_index  # noqa: E402


def data(n: int, q: int, d: int = 384, clusters: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, d)).astype("float32")
    labels = rng.integers(0, clusters, n + q)
    x = centers[labels] + 0.6 * rng.standard_normal((n + q, d)).astype("float32")
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x[:n], x[n:]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--real", type=Path, help="npz with real embeddings (array `vecs`) instead of the synthetic mixture")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "rag_faiss.json"))
    args = ap.parse_args()
    import faiss

    faiss.omp_set_num_threads(args.threads)
    if args.real:
        vecs = np.load(args.real, allow_pickle=False)["vecs"].astype("float32")
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        order = np.random.default_rng(0).permutation(len(vecs))
        xq, xb = vecs[order[: args.queries]], vecs[order[args.queries :]]
        args.n = len(xb)
    else:
        xb, xq = data(args.n, args.queries)
    builds = {"flat": RagConfig(index_type="flat"),
              "hnsw": RagConfig(index_type="hnsw", hnsw_m=32, hnsw_ef_construction=80),
              "ivf": RagConfig(index_type="ivf")}
    search = {"flat": [{}], "hnsw": [{"ef_search": 32}, {"ef_search": 64}, {"ef_search": 128}],
              "ivf": [{"nprobe": 16}, {"nprobe": 32}, {"nprobe": 64}]}
    rows = []
    truth = None
    for kind, config in builds.items():
        t0 = time.perf_counter()
        index, params = make_faiss_index(xb, config.index_type, config)
        build = time.perf_counter() - t0
        for knobs in search[kind]:
            if "ef_search" in knobs:
                index.hnsw.efSearch = knobs["ef_search"]
            if "nprobe" in knobs:
                index.nprobe = knobs["nprobe"]
            _s, ids = index.search(xq, 10)  # batched, for recall
            if truth is None:
                truth = ids
            recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, truth)]))
            lat = []
            for i in range(min(300, len(xq))):
                t = time.perf_counter()
                index.search(xq[i : i + 1], 10)
                lat.append(time.perf_counter() - t)
            lat_ms = np.array(lat) * 1000
            row = {"index": kind, "build_params": params, "search": knobs, "build_s": round(build, 2),
                   "query_p50_ms": round(float(np.percentile(lat_ms, 50)), 3),
                   "query_p99_ms": round(float(np.percentile(lat_ms, 99)), 3), "recall@10": round(recall, 4)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    Path(args.out).write_text(json.dumps({"n": args.n, "data": str(args.real.name) if args.real else "gaussian mixture, 2,000 clusters", "dim": 384, "threads": args.threads, "load_avg": os.getloadavg(), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
