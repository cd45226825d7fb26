"""Embedding throughput: rag's SentenceEncoder.embed vs the embedder's own encode() on the same texts,
plus the full tldr corpus build time (6,643 pages -> chunks -> MiniLM -> FAISS) on this machine.

    .venv/bin/python bench/bench_embed.py [--texts 2000] [--full-build]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from core.workspace import Workspace  # noqa: E402
from rag.chunking import chunk_corpus  # noqa: E402
from rag.config import RagConfig  # noqa: E402
from rag.corpus import load_corpus  # noqa: E402
from rag.embedder import SentenceEncoder, load_embedder  # noqa: E402
from rag.index import build_index  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tldr", default="/work/shared/data/tldr")
    ap.add_argument("--texts", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--full-build", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "rag_embed.json"))
    args = ap.parse_args()
    model = load_embedder(None)
    encoder = SentenceEncoder(model)
    corpus = load_corpus(Path(args.tldr) / "pages.jsonl")
    config = RagConfig()
    chunks = chunk_corpus(corpus.documents, config.chunk_size, config.chunk_overlap, encoder.count_tokens)
    texts = [c.text for c in chunks[: args.texts]]
    out: dict[str, object] = {"texts": len(texts), "load_avg_start": os.getloadavg()}
    ours, theirs = [], []
    for _ in range(args.repeats):  # interleaved, so background load hits both alike
        t = time.perf_counter()
        model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        theirs.append(time.perf_counter() - t)
        t = time.perf_counter()
        encoder.embed(texts, batch_size=64, progress=lambda d, n: None)
        ours.append(time.perf_counter() - t)
    out.update({"encode_texts_per_s": round(len(texts) / min(theirs), 1), "embed_texts_per_s": round(len(texts) / min(ours), 1),
                "ratio_embed_over_encode_time": round(min(ours) / min(theirs), 3)})
    print(json.dumps(out), flush=True)
    if args.full_build:
        with tempfile.TemporaryDirectory() as tmp:
            ws = Workspace.resolve(tmp).ensure()
            t = time.perf_counter()
            res = build_index(ws, "tldr-full", corpus, encoder, config)
            out.update({"full_build_s": round(time.perf_counter() - t, 1), "full_documents": len(corpus.documents),
                        "full_chunks": len(res.index), "full_index_type": res.index.manifest.index_type})
    out["load_avg_end"] = os.getloadavg()
    print(json.dumps(out), flush=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
