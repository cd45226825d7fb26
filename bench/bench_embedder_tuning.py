"""Embedder fine-tuning on tldr: retrieval with the fine-tuned vs the stock embedder, settings chosen on
validation and measured once on test; a second corpus (NumPy docs); training throughput against
sentence-transformers' trainer used directly; optional end-to-end answers with intervals.

Split: the project's group-aware split of the tldr pairs (studies.data.splits.make_split, seed 0, by
page): the embedder trains on train pages only; validation and test pages are never a positive or a
negative. Questions: ``--questions`` random pairs of the validation pages and of the test pages; each
asked pair's own example is removed from its page (leakage control, as in bench_rag_retrieval.py's
0.414 baseline); pages keep their other examples. Corpus: all pages (``--pages 0``) or a subset (the
questions' gold pages, the training pairs' pages, random others up to N).

Stages (``--stages``): ``retrieval`` (stock and tuned, val grid then test once), ``throughput``
(ours vs SentenceTransformerTrainer directly on the same examples), ``numpy`` (second corpus: tuned on
its train split with the settings chosen on tldr, stock vs tuned on its test split), ``answers``
(SmolLM2 answers with stock vs tuned retrieval on ``--answers`` tldr test items, paired bootstrap).

    nice -n 15 .venv/bin/python bench/bench_embedder_tuning.py [--tldr /work/shared/data/tldr] [--pages 0]
        [--train-pairs 0] [--questions 1000] [--epochs 1] [--max-seq-length 128] [--stages retrieval,throughput,numpy]
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
# run as a script, bench/ is first on the path and bench/datasets would shadow HF `datasets` (the trainer's)
sys.path = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.bench_rag_retrieval import CachingEncoder  # noqa: E402
from core.workspace import Workspace  # noqa: E402
from rag.config import RagConfig  # noqa: E402
from rag.corpus import corpus_from_pages  # noqa: E402
from rag.embedder import as_encoder  # noqa: E402
from rag.embedder_tuning import EmbedderTuneConfig, tune_embedder  # noqa: E402
from rag.index import build_index  # noqa: E402
from rag.retrieval_eval import doc_ranking, gold_doc, retrieval_metrics  # noqa: E402
from rag.retrieve import make_retriever  # noqa: E402
from rag.tldr import read_pages_jsonl  # noqa: E402
from studies.data.datasets import load_pairs  # noqa: E402
from studies.data.splits import make_split  # noqa: E402

BASE = RagConfig(index_type="flat", max_chunks_per_doc=1, doc_pool=1)
"""The shipped retrieval defaults (packed 256, hybrid zscore), exact search, one chunk per document."""
GRID = {
    "dense": dict(retriever="dense"),
    **{f"hybrid w={w}": dict(retriever="hybrid", hybrid_dense_weight=w) for w in (0.3, 0.5, 0.7, 0.85)},
}
PREFIXES = {"no prefix": "", "prefix 'query: '": "query: "}


def evaluate(index, encoder, config: RagConfig, questions: list, k: int = 10) -> dict:
    retriever = make_retriever(index, encoder, config)
    hits = retriever.search([q.input for q in questions], k)
    return {key: round(v, 4) for key, v in retrieval_metrics([doc_ranking(h) for h in hits], [{gold_doc(q)} for q in questions]).items()}


def grid(index, encoder, questions: list, label: str, log: list) -> tuple[str, RagConfig, dict]:
    """Every grid setting on ``questions``; the best by hit@1 (ties: MRR)."""
    best = None
    for (gname, g), (pname, prefix) in [(g, p) for g in GRID.items() for p in PREFIXES.items()]:
        config = dataclasses.replace(BASE, query_prefix=prefix, **g)
        m = evaluate(index, encoder, config, questions)
        row = {"stage": "validation", "embedder": label, "setting": f"{gname}, {pname}", **m}
        log.append(row)
        print(json.dumps(row), flush=True)
        if best is None or (m["hit@1"], m["mrr"]) > (best[2]["hit@1"], best[2]["mrr"]):
            best = (f"{gname}, {pname}", config, m)
    return best  # type: ignore[return-value]


def tldr_setup(args, ws):
    tldr = Path(args.tldr)
    pages = [p for _l, p in read_pages_jsonl(tldr / "pages.jsonl")]
    split = make_split(load_pairs(tldr / "pairs.jsonl"), seed=0)
    rng = random.Random(1)
    val_q = rng.sample(split.validation, min(args.questions, len(split.validation)))
    test_q = rng.sample(split.test, min(args.questions, len(split.test)))
    train = list(split.train)
    random.Random(2).shuffle(train)
    if args.train_pairs:
        train = train[: args.train_pairs]
    drop: dict[str, set] = {}
    for q in [*val_q, *test_q]:
        drop.setdefault(gold_doc(q), set()).add((q.input, q.output))
    chosen = pages
    if args.pages:
        needed = {gold_doc(q) for q in [*val_q, *test_q, *train]}
        others = [p for p in pages if p.id not in needed]
        extra = random.Random(3).sample(others, max(0, min(len(others), args.pages - len(needed))))
        chosen = [p for p in pages if p.id in needed] + extra
    corpus = corpus_from_pages(chosen, drop=drop, source="tldr-embedder-bench")
    return dataclasses.replace(split, train=train), val_q, test_q, corpus


def stage_retrieval(args, ws, results) -> None:
    split, val_q, test_q, corpus = tldr_setup(args, ws)
    print(f"tldr: {len(split.train)} train pairs, {len(val_q)} validation / {len(test_q)} test questions, {len(corpus.documents)} pages; load {os.getloadavg()}", flush=True)
    stock = CachingEncoder(as_encoder(None), Path(args.cache))
    t0 = time.perf_counter()
    stock_index = build_index(ws, f"emb-stock-p{len(corpus.documents)}", corpus, stock, BASE).index
    results["stock_index_s"] = round(time.perf_counter() - t0, 1)
    cfg = EmbedderTuneConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                             hard_negatives=args.hard_negatives, max_seq_length=args.max_seq_length, query_prefix=args.query_prefix)
    name = f"tldr-ft-p{len(corpus.documents)}-n{len(split.train)}"
    t0 = time.perf_counter()
    tuned = tune_embedder(ws, name, stock_index.name, split, cfg, progress=_printer(), force=True)
    results["tune"] = {"name": name, "wall_s": round(time.perf_counter() - t0, 1), "training": tuned.manifest["training"],
                       "pairs": tuned.manifest["data"]["pairs"], "skipped": tuned.skipped, "hyperparameters": tuned.manifest["hyperparameters"]}
    print(json.dumps(results["tune"]), flush=True)
    ft = as_encoder(name, ws=ws)
    t0 = time.perf_counter()
    ft_index = build_index(ws, f"emb-{name}", corpus, ft, dataclasses.replace(BASE, embedder=name)).index
    results["tuned_index_s"] = round(time.perf_counter() - t0, 1)
    log: list = results.setdefault("rows", [])
    chosen = {}
    for label, index, enc in (("stock", stock_index, stock), ("tuned", ft_index, ft)):
        chosen[label] = grid(index, enc, val_q, label, log)
    # title-only vs full chunks, on validation with each embedder's chosen setting
    head_corpus = dataclasses.replace(corpus, documents=[dataclasses.replace(d, text=d.text.split("\n\n- ", 1)[0]) for d in corpus.documents])
    for label, enc in (("stock", stock), ("tuned", ft)):
        setting, config, _m = chosen[label]
        idx = build_index(ws, f"emb-title-{label}-p{len(corpus.documents)}", head_corpus, enc, dataclasses.replace(config, embedder=None if label == "stock" else name)).index
        row = {"stage": "validation", "embedder": label, "setting": f"{setting}, title + description only", **evaluate(idx, enc, config, val_q)}
        log.append(row)
        print(json.dumps(row), flush=True)
    for label, index, enc in (("stock", stock_index, stock), ("tuned", ft_index, ft)):
        setting, config, _m = chosen[label]
        row = {"stage": "test", "embedder": label, "setting": setting, "questions": len(test_q), **evaluate(index, enc, config, test_q)}
        log.append(row)
        print(json.dumps(row), flush=True)
    results["chosen"] = {k: v[0] for k, v in chosen.items()}
    results["tuned_name"] = name


def stage_throughput(args, ws, results) -> None:
    """The same examples trained by our train_embedder and by SentenceTransformerTrainer directly."""
    import tempfile

    from sentence_transformers import SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from rag.embedder import load_embedder
    from rag.embedder_tuning import TrainingExample, examples_dataset, train_embedder, trainer_arguments

    split = make_split(load_pairs(Path(args.tldr) / "pairs.jsonl"), seed=0)
    pages = {p.id: p for _l, p in read_pages_jsonl(Path(args.tldr) / "pages.jsonl")}
    rng = random.Random(5)
    pairs = rng.sample(split.train, args.throughput_pairs)
    docs = [corpus_from_pages([pages[gold_doc(p)]]).documents[0].text for p in pairs]
    examples = [TrainingExample(p.input, docs[i], [docs[(i + 1) % len(docs)]], gold_doc(p)) for i, p in enumerate(pairs)]
    cfg = EmbedderTuneConfig(epochs=1, batch_size=args.batch_size, max_seq_length=args.max_seq_length, hard_negatives=1)
    out = {}
    for turn in ("ours", "direct", "ours", "direct"):  # alternated: load drifts on a shared machine
        model = load_embedder(None)
        if turn == "ours":
            stats = train_embedder(model, examples, cfg)
            rate = stats.pairs_per_s
        else:
            model.max_seq_length = cfg.max_seq_length
            with tempfile.TemporaryDirectory() as tmp:
                trainer = SentenceTransformerTrainer(model=model, args=trainer_arguments(tmp, cfg, disable_tqdm=True),
                                                     train_dataset=examples_dataset(examples), loss=MultipleNegativesRankingLoss(model))
                t0 = time.perf_counter()
                trainer.train()
                rate = len(examples) / (time.perf_counter() - t0)
        out.setdefault(turn, []).append(round(rate, 3))
        print(json.dumps({"stage": "throughput", "turn": turn, "pairs_per_s": round(rate, 3), "load": os.getloadavg()}), flush=True)
    best = {k: max(v) for k, v in out.items()}
    results["throughput"] = {"pairs": len(examples), "max_seq_length": cfg.max_seq_length, "batch_size": cfg.batch_size,
                             "pairs_per_s": out, "ratio_ours_over_direct": round(best["ours"] / best["direct"], 3)}


def stage_numpy(args, ws, results) -> None:
    """Second corpus: tuned on its own train split with the tldr settings; stock vs tuned on its test split."""
    from rag.corpus import load_corpus

    folder = Path(args.numpy)
    split = make_split(load_pairs(folder / "pairs.jsonl"), seed=0)
    corpus = load_corpus(folder / "corpus.jsonl")
    stock = CachingEncoder(as_encoder(None), Path(args.cache))
    config = RagConfig(index_type="flat", max_chunks_per_doc=1)
    stock_index = build_index(ws, f"np-stock-{len(corpus.documents)}", corpus, stock, config).index
    cfg = EmbedderTuneConfig(epochs=args.epochs, batch_size=min(args.batch_size, max(2, len(split.train) // 4)),
                             learning_rate=args.learning_rate, hard_negatives=args.hard_negatives, max_seq_length=args.max_seq_length)
    name = f"numpy-ft-{len(corpus.documents)}"
    tuned = tune_embedder(ws, name, stock_index.name, split, cfg, progress=_printer(), force=True)
    ft = as_encoder(name, ws=ws)
    ft_index = build_index(ws, f"np-{name}", corpus, ft, dataclasses.replace(config, embedder=name)).index
    rows = []
    for retriever in ("dense", "hybrid"):
        for label, index, enc in (("stock", stock_index, stock), ("tuned", ft_index, ft)):
            c = dataclasses.replace(config, retriever=retriever)
            row = {"stage": "numpy test", "embedder": label, "retriever": retriever, "questions": len(split.test), **evaluate(index, enc, c, split.test)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    results["numpy"] = {"documents": len(corpus.documents), "train_pairs": tuned.manifest["data"]["pairs"], "rows": rows,
                        "training": tuned.manifest["training"]}


def stage_answers(args, ws, results) -> None:
    """SmolLM2 answers over stock vs tuned retrieval on tldr test items; paired bootstrap on each metric."""
    from rag.pipeline import RagPipeline
    from studies.evaluation.extract import extract
    from studies.evaluation.metrics import score_all
    from studies.evaluation.stats import interval, paired_difference
    from tuning.generate import GenerationSettings, generate
    from tuning.models import load_base_model

    split, _val_q, test_q, corpus = tldr_setup(args, ws)
    items = test_q[: args.answers]
    name = results.get("tuned_name") or f"tldr-ft-p{len(corpus.documents)}-n{len(split.train)}"
    gen = load_base_model(None, ws)
    settings = GenerationSettings(max_new_tokens=32, batch_size=16)
    metrics = ["command_program", "command_flags", "exact_match"]
    per = {}
    for label, index_name in (("stock", f"emb-stock-p{len(corpus.documents)}"), ("tuned", f"emb-{name}")):
        pipe = RagPipeline.open(ws, index_name, generator=gen, config=dataclasses.replace(BASE, max_chunks_per_doc=2),
                                encoder=CachingEncoder(as_encoder(None), Path(args.cache)) if label == "stock" else None)
        hits, _s = pipe.retrieve([q.input for q in items])
        gens = generate(gen, pipe.conversations([q.input for q in items], hits), settings)
        values, _skipped = score_all(metrics, [extract(g.text).answer for g in gens], [q.output for q in items])
        per[label] = values
        results.setdefault("answers", {})[label] = {m: interval(v).__dict__ for m, v in values.items()}
    results["answers"]["tuned_minus_stock"] = {m: dataclasses.asdict(paired_difference(per["tuned"][m], per["stock"][m], m)) for m in metrics}
    results["answers"]["n"] = len(items)
    print(json.dumps(results["answers"], default=str), flush=True)


def _printer():
    last: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if done >= total or now - last.get(stage, 0) > 30:
            last[stage] = now
            print(f"  {stage}: {done}/{total}", flush=True)

    return progress


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tldr", default="/work/shared/data/tldr")
    ap.add_argument("--numpy", default=str(ROOT / "data" / "samples" / "numpy-docs"))
    ap.add_argument("--workspace", default="/tmp/embedder-bench-ws")
    ap.add_argument("--cache", default="/tmp/rag_cache/minilm.npz")
    ap.add_argument("--pages", type=int, default=0, help="corpus subset size (0: all pages)")
    ap.add_argument("--train-pairs", type=int, default=0, help="training pairs (0: the whole train split)")
    ap.add_argument("--questions", type=int, default=1000)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--learning-rate", type=float, default=5e-5)
    ap.add_argument("--hard-negatives", type=int, default=1)
    ap.add_argument("--max-seq-length", type=int, default=128)
    ap.add_argument("--query-prefix", default="")
    ap.add_argument("--throughput-pairs", type=int, default=256)
    ap.add_argument("--answers", type=int, default=200)
    ap.add_argument("--stages", default="retrieval,throughput,numpy")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "embedder_tuning.json"))
    args = ap.parse_args()
    ws = Workspace.resolve(args.workspace).ensure()
    Path(args.cache).parent.mkdir(parents=True, exist_ok=True)
    results: dict = {"args": vars(args), "load_avg_start": os.getloadavg()}
    out = Path(args.out)
    for stage in args.stages.split(","):
        t0 = time.perf_counter()
        {"retrieval": stage_retrieval, "throughput": stage_throughput, "numpy": stage_numpy, "answers": stage_answers}[stage](args, ws, results)
        results.setdefault("stage_wall_s", {})[stage] = round(time.perf_counter() - t0, 1)
        results["load_avg_end"] = os.getloadavg()
        out.write_text(json.dumps(results, indent=2, default=str) + "\n")  # after every stage: nothing lost
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
