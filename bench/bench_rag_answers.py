"""RAG answers vs the base model on tldr command metrics (SmolLM2-135M, CPU).

Questions: a sample of the test part of the project's group-aware split (studies.data.splits.make_split,
seed 0; test pages are page-disjoint from training). Index: all pages with every test pair's own
example removed (leakage control; a test page keeps its title and description). Every system is
scored with the contract's extraction (studies.evaluation.extract) and metrics (command_program, command_flags,
exact_match). Variants:

- base: SmolLM2 with the contract's command system prompt, no retrieval;
- rag page (plain): the best whole page (dense, exact) pasted into the prompt;
- rag fewshot / examples / page: the shipped chunked hybrid retrieval with each prompt style.

    .venv/bin/python bench/bench_rag_answers.py [--n 200] [--mode group|random]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench_rag_retrieval import CachingEncoder, random_test  # noqa: E402
from core.workspace import Workspace  # noqa: E402
from rag.config import RagConfig  # noqa: E402
from rag.corpus import corpus_from_pages  # noqa: E402
from rag.embedder import as_encoder  # noqa: E402
from rag.index import build_index  # noqa: E402
from rag.pipeline import RagPipeline  # noqa: E402
from rag.retrieval_eval import doc_ranking  # noqa: E402
from rag.tldr import read_pages_jsonl  # noqa: E402
from studies.evaluation.extract import extract  # noqa: E402
from studies.evaluation.metrics import score_all  # noqa: E402
from studies.evaluation.systems import COMMAND_SYSTEM_PROMPT  # noqa: E402
from tuning.generate import GenerationSettings, generate  # noqa: E402
from tuning.models import load_base_model  # noqa: E402

METRICS = ["command_program", "command_flags", "exact_match"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tldr", default="/work/shared/data/tldr")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--mode", default="group", choices=("group", "random"))
    ap.add_argument("--workspace", default="/tmp/rag-bench-ws")
    ap.add_argument("--variants", default="base,plain,fewshot,examples", help="also: fewshot-session1 (session 1's retrieval defaults)")
    ap.add_argument("--pages", type=int, default=1000, help="corpus subset: the questions' gold pages plus random others up to N (0: all)")
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    tldr = Path(args.tldr)
    ws = Workspace.resolve(args.workspace).ensure()
    pages = [p for _l, p in read_pages_jsonl(tldr / "pages.jsonl")]
    if args.mode == "group":
        from studies.data.datasets import load_pairs
        from studies.data.splits import make_split

        split = make_split(load_pairs(tldr / "pairs.jsonl"), seed=0)
        test = [{"input": p.input, "output": p.output, "page": p.meta.get("page") or p.group} for p in split.test]
    else:
        test = random_test([json.loads(x) for x in (tldr / "pairs.jsonl").open() if x.strip()])
    drop: dict[str, set] = {}
    for p in test:
        drop.setdefault(p["page"], set()).add((p["input"], p["output"]))
    items = random.Random(2).sample(test, min(args.n, len(test)))
    if args.pages:
        gold = {q["page"] for q in items}
        others = [p for p in pages if p.id not in gold]
        extra = random.Random(3).sample(others, max(0, min(len(others), args.pages - len(gold))))
        pages = [p for p in pages if p.id in gold] + extra
    corpus = corpus_from_pages(pages, drop=drop, source=f"tldr-{args.mode}")
    questions = [p["input"] for p in items]
    refs = [p["output"] for p in items]
    encoder = CachingEncoder(as_encoder(None), ws.root / "embeddings-cache.npz")
    gen = load_base_model(None, ws)
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, batch_size=16)
    rows = []
    shipped = RagConfig()
    indexes = {
        "plain": build_index(ws, f"ans-{args.mode}-p{len(pages)}-c4096", corpus, encoder, RagConfig(chunk_size=4096, retriever="dense", index_type="flat", max_chunks_per_doc=1)).index,
        "chunked": build_index(ws, f"ans-{args.mode}-p{len(pages)}-c{shipped.chunk_size}", corpus, encoder, dataclasses.replace(shipped, index_type="flat")).index,
    }
    print(f"[{args.mode}] {len(items)} questions; load {os.getloadavg()}", flush=True)
    for variant in args.variants.split(","):
        t0 = time.perf_counter()
        retrieval_s = 0.0
        hit1 = None
        if variant == "base":
            convs = [[{"role": "system", "content": COMMAND_SYSTEM_PROMPT}, {"role": "user", "content": q}] for q in questions]
        else:
            if variant == "plain":
                config = RagConfig(retriever="dense", k=1, prompt_style="page", max_context_tokens=400, max_chunks_per_doc=1)
                pipe = RagPipeline(indexes["plain"], encoder, config, gen)
            elif variant == "fewshot-session1":  # the default before full-corpus tuning: 64-token chunks, RRF, BM25 per chunk
                old = dataclasses.replace(shipped, chunk_size=64, hybrid_fusion="rrf", bm25_scope="chunk", hybrid_dense_weight=0.5)
                if "session1" not in indexes:
                    indexes["session1"] = build_index(ws, f"ans-{args.mode}-p{len(pages)}-c64", corpus, encoder, dataclasses.replace(old, index_type="flat")).index
                pipe = RagPipeline(indexes["session1"], encoder, old, gen)
            else:
                pipe = RagPipeline(indexes["chunked"], encoder, dataclasses.replace(shipped, prompt_style=variant), gen)
            hits, retrieval_s = pipe.retrieve(questions)
            hit1 = sum(bool(h) and doc_ranking(h)[0] == p["page"] for h, p in zip(hits, items)) / len(items)
            convs = pipe.conversations(questions, hits)
        g0 = time.perf_counter()
        gens = generate(gen, convs, settings)
        gen_s = (time.perf_counter() - g0) / len(items)
        answers = [extract(g.text).answer for g in gens]
        values, _skipped = score_all(METRICS, answers, refs)
        row = {"mode": args.mode, "variant": variant, "n": len(items), **{m: round(sum(v) / len(v), 3) for m, v in values.items()},
               "retrieval_hit@1": None if hit1 is None else round(hit1, 3), "retrieval_ms": round(retrieval_s * 1000, 1),
               "generation_s_per_item": round(gen_s, 3), "prompt_tokens_mean": round(sum(g.prompt_tokens for g in gens) / len(gens), 1),
               "wall_s": round(time.perf_counter() - t0, 1), "sample": [(q, a, r) for q, a, r in zip(questions[:3], answers[:3], refs[:3])]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    out = Path(args.out or ROOT / "bench" / "results" / f"rag_answers_{args.mode}.json")
    out.write_text(json.dumps({"load_avg_end": os.getloadavg(), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
