"""`advisor rag build|query|eval|list|tune-embedder|embedders`: build a FAISS index from a corpus, query
it, evaluate it, fine-tune its embedder on the team's pairs.

    advisor rag build --corpus data/sample/pages.jsonl --name tldr
    advisor rag tune-embedder --data data/sample/pairs.jsonl --index tldr --name tldr-tuned
    advisor rag build --corpus data/sample/pages.jsonl --name tldr-ft --embedder tldr-tuned
    advisor rag query tldr "extract a gzipped tar archive into a directory" --k 5 [--answer]
    advisor rag eval tldr --data data/sample/pairs.jsonl [--limit 50]

`rag eval` splits the data as `advisor eval` does (same seed, same split version). Leakage control is the
evaluation contract's (`rag.retrieval_eval.leakage_control`, the same for `advisor eval rag:INDEX`, the app,
the demo and sweeps): when the corpus is the pages the pairs come from (tldr), an evaluation index with every
test pair's own example removed from its page is built, so retrieval cannot hand the answer over verbatim; it reports test
inputs still found (near-)verbatim in the index, retrieval hit@k / recall@k / MRR (gold document =
the pair's page), and records the answers through the shared evaluation contract (leaderboard row).
"""

from __future__ import annotations

import argparse

from advisor.cli import bounded_float, non_negative_int, path_arg, positive_int, seed_int

NAME = "rag"
HELP = "build, query and evaluate a RAG index (corpus -> chunks -> FAISS -> grounded answers)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from advisor.cli import default_of
    from rag.config import RagConfig
    from tuning.generate import GenerationSettings

    sub = parser.add_subparsers(dest="rag_command", metavar="ACTION", required=True)
    b = sub.add_parser("build", help="chunk, embed and index a corpus into <workspace>/indexes/NAME")
    b.add_argument("--corpus", type=path_arg, required=True, metavar="PATH", help="tldr pages.jsonl, a folder of .md/.txt/.rst, or JSONL with id + text")
    b.add_argument("--name", default=None, help="index name (default: from the corpus file name)")
    b.add_argument("--config", type=path_arg, default=None, metavar="YAML", help="RagConfig file (fields below override it)")
    b.add_argument("--embedder", default=None, help="sentence-transformers folder, or a fine-tuned embedder of the workspace (default all-MiniLM-L6-v2)")
    b.add_argument("--chunk-size", type=positive_int, default=None, help=f"target chunk size in embedder tokens (default {default_of(RagConfig, 'chunk_size')})")
    b.add_argument("--chunk-overlap", type=non_negative_int, default=None, help=f"overlap in tokens (default {default_of(RagConfig, 'chunk_overlap')})")
    b.add_argument("--index-type", choices=("auto", "flat", "hnsw", "ivf"), default=None, help="FAISS index (default auto: by size)")
    b.add_argument("--force", action="store_true", help="rebuild even if an identical index exists")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")

    q = sub.add_parser("query", help="retrieve (and optionally answer) one question")
    q.add_argument("name", help="index name")
    q.add_argument("question")
    q.add_argument("--k", type=positive_int, default=5, help="hits to show (default 5)")
    q.add_argument("--retriever", choices=("dense", "bm25", "hybrid"), default=None, help="override the index's retriever")
    q.add_argument("--answer", action="store_true", help="also generate a grounded answer")
    q.add_argument("--model", default=None, help="generator: local transformers folder (default SmolLM2-135M)")
    q.add_argument("--adapter", default=None, help="LoRA adapter (name or folder) on the generator: RAG + fine-tune")

    e = sub.add_parser("eval", help="evaluate an index on a pair data set's test split (leaderboard row)")
    e.add_argument("name", help="index name")
    e.add_argument("--data", type=path_arg, required=True, metavar="FILE", help="pair data set (its seeded split's test part is used)")
    e.add_argument("--seed", type=seed_int, default=0, help="split seed (default 0; must match the other systems)")
    e.add_argument("--limit", type=positive_int, default=None, help="first N test items only (quick looks)")
    e.add_argument("--allow-unreviewed", action="store_true", help="accept generated pairs nobody reviewed (recorded on the result)")
    e.add_argument("--model", default=None, help="generator: local transformers folder (default SmolLM2-135M)")
    e.add_argument("--max-new-tokens", type=positive_int, default=None,
                   help=f"generation limit per answer (default {default_of(GenerationSettings, 'max_new_tokens')}, raised to fit "
                        "the longest training answers, up to 512)")
    e.add_argument("--no-record", action="store_true", help="store predictions but add no leaderboard row")
    e.add_argument("--retrieval-only", action="store_true", help="retrieval metrics and leak report only, no generation")
    from advisor.commands.data import task_options

    task_options(e)

    sub.add_parser("list", help="list the indexes in the workspace")
    sub.add_parser("embedders", help="list the fine-tuned embedders in the workspace (unusable ones with why)")

    t = sub.add_parser("tune-embedder", help="fine-tune the embedder on a pair data set's train part (saved in <workspace>/embedders/NAME)")
    t.add_argument("--data", required=True, metavar="FILE", help="pair data set whose pairs know their gold document (tldr page, `doc`, or group)")
    t.add_argument("--index", required=True, help="index built with the base embedder over the corpus (its retriever mines hard negatives)")
    t.add_argument("--name", required=True, help="name of the fine-tuned embedder (then: rag build --embedder NAME)")
    t.add_argument("--base", default=None, help="embedder to start from (default all-MiniLM-L6-v2; must be the index's embedder)")
    t.add_argument("--seed", type=seed_int, default=0, help="split seed (default 0; validation and test documents are never trained on)")
    t.add_argument("--epochs", type=bounded_float(0.0, 1000.0), default=None, help="passes over the training pairs (default 1)")
    t.add_argument("--batch-size", type=positive_int, default=None, help="pairs per batch: in-batch negatives (default 32)")
    t.add_argument("--learning-rate", type=bounded_float(0.0, 1.0), default=None, help="peak learning rate (default 5e-5)")
    t.add_argument("--hard-negatives", type=non_negative_int, default=None, help="hard negatives per pair from the index's retriever (default 1)")
    t.add_argument("--max-seq-length", type=positive_int, default=None, help="tokens per training text (default 256)")
    t.add_argument("--max-pairs", type=positive_int, default=None, help="train on the first N usable pairs (quick looks)")
    t.add_argument("--query-prefix", default=None, help="instruction put before each query in training and at search time")
    t.add_argument("--force", action="store_true", help="replace an existing fine-tuned embedder of that name")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")


def _config(args: argparse.Namespace):
    from core.config import from_dict, load_config, to_dict
    from rag.config import RagConfig

    config = load_config(RagConfig, args.config) if getattr(args, "config", None) else RagConfig()
    data = to_dict(config)
    for field, value in (("embedder", args.embedder), ("chunk_size", args.chunk_size), ("chunk_overlap", args.chunk_overlap), ("index_type", args.index_type)):
        if value is not None:
            data[field] = value
    return from_dict(RagConfig, data)


def _bar():
    """A progress callback drawing one tqdm bar per stage (on stderr)."""
    from advisor.cli import StageProgress

    return StageProgress()


def _build(args: argparse.Namespace) -> int:
    from pathlib import Path

    from advisor.cli import print_json, workspace_of
    from core.workspace import slugify
    from rag.embedder import as_encoder
    from rag.index import build_index

    ws = workspace_of(args)
    config = _config(args)
    corpus = _corpus_or_guidance(args.corpus)
    name = args.name or slugify(Path(args.corpus).stem, "index")
    encoder = as_encoder(config.embedder, ws=ws)
    result = build_index(ws, name, corpus, encoder, config, progress=None if args.no_progress else _bar(), force=args.force)
    m = result.index.manifest
    print_json({
        "index": name, "path": str(result.index.path), "reused": result.reused, "seconds": round(result.seconds, 2),
        "documents": m.corpus["documents"], "chunks": m.corpus["chunks"], "index_type": m.index_type,
        "embedder": m.embedder, "skipped": m.corpus["skipped"],
    })
    return 0


def _corpus_or_guidance(path: str):
    """The corpus at ``path``; a pairs file (input/output) gets the way forward instead of "no usable document"."""
    from core.errors import AdvisorError, RagError
    from rag.corpus import load_corpus

    try:
        return load_corpus(path)
    except RagError:
        try:
            from studies.data.datasets import load_pairs

            pairs = load_pairs(path, strict=False).pairs
        except AdvisorError:
            pairs = []
        if pairs:
            raise RagError(
                f"{path} is a pair data set ({len(pairs)} input -> output pairs), not a corpus of documents. Its training pairs are "
                f"retrieved as few-shot examples by the example-retrieval systems, which build their index from the split "
                f"themselves: `advisor eval rag-examples --data {path}` (or `rag-examples:vote`, `rag-examples+lora:ADAPTER`). "
                "For document RAG, pass tldr pages.jsonl, JSONL with `id` and `text`, or a folder of .md/.txt/.rst files."
            ) from None
        raise


def _query(args: argparse.Namespace) -> int:
    from advisor.cli import print_json, workspace_of
    from rag.pipeline import RagPipeline

    ws = workspace_of(args)
    generator = None
    if args.answer:
        if args.adapter:
            from tuning.adapters import load_with_adapter

            generator = load_with_adapter(args.adapter, ws)
        else:
            from tuning.models import load_base_model

            generator = load_base_model(args.model, ws)
    pipe = RagPipeline.open(ws, args.name, generator=generator)
    if args.retriever:
        from rag.retrieve import make_retriever

        pipe.config.retriever = args.retriever
        pipe.retriever = make_retriever(pipe.index, pipe.encoder, pipe.config)
    hits, seconds = pipe.retrieve([args.question], k=args.k)
    out: dict[str, object] = {
        "question": args.question, "retrieval_s": round(seconds, 4),
        "hits": [{"rank": i + 1, "doc_id": h.doc_id, "chunk_id": h.chunk_id, "score": round(h.score, 4), "text": h.text} for i, h in enumerate(hits[0])],
    }
    if args.answer:
        ans = pipe.answer([args.question])[0]
        out.update({"answer": ans.text, "generation_s": round(ans.generation_s, 3), "prompt_tokens": ans.prompt_tokens})
    print_json(out)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from advisor.cli import ProgressBar, print_json, workspace_of
    from rag.retrieval_eval import leakage_control, retrieval_report
    from studies.data.datasets import load_pairs
    from studies.data.splits import make_split, save_split

    ws = workspace_of(args)
    split = make_split(load_pairs(args.data), seed=args.seed, allow_unreviewed=args.allow_unreviewed)
    if any(getattr(args, k, None) for k in ("task", "labels", "system_prompt")):
        from advisor.commands.data import resolve_task_args

        split.task = resolve_task_args(args, [p.output for p in split.train])
    save_split(ws, split)
    test = split.test[: args.limit] if args.limit else split.test
    # The same policy the evaluation contract applies (it finds this index clean and uses it as it is).
    prepared = leakage_control(ws, args.name, test, split.version, progress=_bar())
    report = retrieval_report(ws, prepared.index_name, test)
    out: dict[str, object] = {"split": split.version, "eval_index": prepared.index_name, "leakage_control": prepared.note,
                              "examples_removed": prepared.removed, **report}
    if not args.retrieval_only:
        from studies.evaluation.contract import evaluate, settings_for
        from studies.evaluation.systems import RagSystem

        settings = settings_for(split, max_new_tokens=args.max_new_tokens)
        system = RagSystem(args.name, ws, model=args.model)
        bar = ProgressBar(f"eval rag:{args.name}")
        try:
            result = evaluate(system, split, ws, settings, record=not args.no_record, limit=args.limit, progress=bar, task=split.task)
        finally:
            bar.close()
        from core.atomic import atomic_write_json

        atomic_write_json(ws.path("runs", result.run_id, "retrieval.json"), out)
        out.update({"run_id": result.run_id, "recorded": result.recorded, "n": result.n, "available": result.available,
                    "task": split.task.kind if split.task else None, "primary": result.primary,
                    "scores": {k: v.to_dict() for k, v in result.scores.items()},
                    "latency_s": result.latency_s, "predictions": result.predictions_path})
    print_json(out)
    return 0


def _tune_embedder(args: argparse.Namespace) -> int:
    from advisor.cli import print_json, workspace_of
    from rag.embedder_tuning import EmbedderTuneConfig, tune_embedder
    from studies.data.datasets import load_pairs
    from studies.data.splits import make_split, save_split

    ws = workspace_of(args)
    config = EmbedderTuneConfig(base=args.base, seed=args.seed)
    for field, value in (("epochs", args.epochs), ("batch_size", args.batch_size), ("learning_rate", args.learning_rate),
                         ("hard_negatives", args.hard_negatives), ("max_seq_length", args.max_seq_length),
                         ("max_pairs", args.max_pairs), ("query_prefix", args.query_prefix)):
        if value is not None:
            setattr(config, field, value)
    config.validate()
    if not args.force:  # before the split is written; the library's message names no flag, the CLI's does
        from core.errors import RagError
        from rag.embedder_tuning import refuse_existing

        try:
            refuse_existing(ws, args.name)
        except RagError as exc:
            raise RagError(f"{exc} Here: another --name, or --force to replace it.") from None
    split = make_split(load_pairs(args.data), seed=args.seed)
    save_split(ws, split)
    result = tune_embedder(ws, args.name, args.index, split, config, progress=None if args.no_progress else _bar(), force=args.force)
    m = result.manifest
    print_json({"embedder": result.name, "path": result.path, "fingerprint": m["fingerprint"], "base": m["base"],
                "split": split.version, "pairs": m["data"]["pairs"], "skipped": result.skipped, "training": m["training"],
                "next": f"advisor rag build --corpus CORPUS --name NAME --embedder {result.name}"})
    return 0


def run(args: argparse.Namespace) -> int:
    if args.rag_command == "build":
        return _build(args)
    if args.rag_command == "tune-embedder":
        return _tune_embedder(args)
    if args.rag_command == "embedders":
        from advisor.cli import print_json, workspace_of
        from rag.embedder_store import list_embedders

        print_json(list_embedders(workspace_of(args)))
        return 0
    if args.rag_command == "query":
        return _query(args)
    if args.rag_command == "eval":
        return _eval(args)
    from advisor.cli import print_json, workspace_of
    from rag.index import list_indexes

    print_json(list_indexes(workspace_of(args)))
    return 0
