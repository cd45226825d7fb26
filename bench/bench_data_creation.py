"""Data creation speed and filter shares: candidates per minute of the extractive and the model-written
generators on a real documentation corpus, and the share of candidates each filter drops.

    python -m bench.bench_data_creation                      # NumPy docstrings sample, MiniLM, SmolLM2 on 24 passages
    python -m bench.bench_data_creation --corpus DOCS --model-passages 0

Writes bench/results/data_creation.md (machine and load noted). Uses the real embedder (MiniLM) for
the filters and the real default generator (SmolLM2-135M-Instruct) for model-written pairs.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(ROOT / "data" / "samples" / "numpy-docs" / "corpus.jsonl"))
    parser.add_argument("--model-passages", type=int, default=24, help="passages for the model-written generator (0: skip)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "data_creation.md"))
    args = parser.parse_args(argv)

    from core.workspace import Workspace
    from rag.embedder import as_encoder, load_embedder
    from studies.data.creation.generation import GenerationRequest, generate
    from studies.data.creation.model import LocalModelGenerator

    ws = Workspace.resolve(tempfile.mkdtemp(prefix="bench-datacreation-")).ensure()
    encoder = as_encoder(load_embedder(None))
    rows = []
    load_before = _load()
    start = time.perf_counter()
    extractive = generate(GenerationRequest(corpus=args.corpus, name="extractive"), ws, encoder)
    wall = time.perf_counter() - start
    rows.append(("extractive rules", extractive, wall))
    if args.model_passages > 0:
        model = LocalModelGenerator(None, ws, max_new_tokens=80, batch_size=8)
        model.complete(["warm up"])  # load and convert the model outside the timed part
        n_docs = max(1, args.model_passages)
        start = time.perf_counter()
        written = generate(GenerationRequest(corpus=args.corpus, name="model", extractive=False, model=model,
                                             max_documents=n_docs, passages_per_document=1), ws, encoder)
        rows.append(("model-written (SmolLM2-135M-Instruct, greedy)", written, time.perf_counter() - start))
    load_after = _load()

    lines = [
        "# Data creation: candidates per minute and filter shares",
        "",
        f"Corpus: `{Path(args.corpus).relative_to(ROOT) if Path(args.corpus).is_relative_to(ROOT) else args.corpus}` "
        f"({extractive.documents} documents). Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; load average before/after: {load_before} -> {load_after}.",
        "Command: `python -m bench.bench_data_creation`" + (f" --model-passages {args.model_passages}" if args.model_passages != 24 else ""),
        "",
        "| generator | documents | candidates | generation s | candidates / min (generation) | filters s | kept | "
        "length | unsafe | duplicate | ungrounded | near-duplicate | unroutable | unparsed replies |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, result, _wall in rows:
        s = result.summary()
        gen_s = s["seconds"].get("extractive", 0.0) + s["seconds"].get("model", 0.0)
        per_min = s["candidates"] / gen_s * 60 if gen_s else float("inf")
        share = {k: f"{v} ({s['shares'][k]:.0%})" for k, v in s["dropped"].items()}
        lines.append(
            f"| {label} | {result.documents} | {s['candidates']} | {gen_s:.2f} | {per_min:,.0f} | {s['seconds']['filters']:.1f} | "
            f"{s['kept']} ({s['kept'] / max(1, s['candidates']):.0%}) | {share['length']} | {share['unsafe']} | {share['duplicate']} | "
            f"{share['ungrounded']} | {share['near_duplicate']} | {share['unroutable']} | {result.unparsed} |"
        )
    t = rows[0][1].report.config
    lines += ["", f"Thresholds: grounding {t.grounding:.0%}, near-duplicate cosine {t.near_duplicate}, route top-{t.route_k} "
              "(MiniLM embeddings + BM25, z-score fused)."]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
