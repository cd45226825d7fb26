"""`advisor data generate / review / build`: pairs from a team's documents, with people in the loop.

    advisor data generate --corpus docs/ --name handbook            # extractive rules, no model
    advisor data generate --corpus docs/ --name handbook-llm --model default
    advisor data generate --corpus docs/ --name handbook-vllm --endpoint http://gpu:8000/v1 --endpoint-model Qwen2.5-7B-Instruct
    advisor data review handbook --export review.csv                # review in a spreadsheet ...
    advisor data review handbook --import review.csv --reviewer ana # ... and read the decisions back
    advisor data build handbook                                     # accepted + edited -> data set
"""

from __future__ import annotations

import argparse
import sys

from advisor.cli import positive_int


def _unit_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
    return value


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    gen = sub.add_parser("generate", help="make candidate pairs from a corpus (extractive rules and/or a model), filtered, for review")
    gen.add_argument("--corpus", required=True, help="tldr pages.jsonl, a folder of .md/.txt/.rst, or JSONL documents (id, text)")
    gen.add_argument("--name", required=True, help="name of this generation in the workspace (generated/NAME)")
    gen.add_argument("--no-extractive", dest="extractive", action="store_false", help="skip the extractive rules")
    gen.add_argument("--rules", default=None, help="extractive rules to run, comma-separated (default: all: section,faq,definition,option,code)")
    gen.add_argument("--model", default=None, help="also write pairs with a local model: 'default' (SmolLM2-135M-Instruct) or a model folder")
    gen.add_argument("--endpoint", default=None, help="also write pairs with an OpenAI-compatible endpoint (base URL, e.g. http://host:8000/v1)")
    gen.add_argument("--endpoint-model", default=None, help="the model name the endpoint serves (required with --endpoint)")
    gen.add_argument("--api-key-env", default=None, help="environment variable holding the endpoint's API key (never printed)")
    gen.add_argument("--max-documents", type=positive_int, default=None, help="use only the first N documents (default: all)")
    gen.add_argument("--passages-per-document", type=positive_int, default=3, help="model-written: passages per document (default 3)")
    gen.add_argument("--near-duplicate", type=_unit_float, default=0.92, help="cosine above which a question is a near-duplicate (default 0.92)")
    gen.add_argument("--grounding", type=_unit_float, default=0.8, help="share of answer words that must be in the source (default 0.8)")
    gen.add_argument("--route-k", type=positive_int, default=5, help="the source document must be in the top K retrieved (default 5)")
    gen.add_argument("--embedder", default=None, help="embedder for the filters (default: all-MiniLM-L6-v2 from its package)")
    gen.add_argument("--format", dest="output_format", choices=("text", "json"), default="text", help="output format")

    rev = sub.add_parser("review", help="review a generation: progress, CSV export for a spreadsheet, CSV import of decisions")
    rev.add_argument("generation", help="the generation's name")
    rev.add_argument("--export", default=None, metavar="CSV", help="write every candidate, its source and decision to CSV")
    rev.add_argument("--import", dest="import_csv", default=None, metavar="CSV", help="read decisions (accept/edit/reject) from CSV")
    rev.add_argument("--reviewer", default=None, help="who reviewed (required with --import; recorded in the data set)")
    rev.add_argument("--format", dest="output_format", choices=("text", "json"), default="text", help="output format")

    build = sub.add_parser("build", help="turn the accepted and edited pairs of a generation into a versioned data set")
    build.add_argument("generation", help="the generation's name")
    build.add_argument("--dataset-name", default=None, help="name of the data set (default: the generation's name)")
    build.add_argument("--include-unreviewed", action="store_true",
                       help="also include pending pairs, marked unreviewed (splits then need --allow-unreviewed)")
    build.add_argument("--format", dest="output_format", choices=("text", "json"), default="text", help="output format")


def generate(args: argparse.Namespace) -> int:
    from advisor.cli import print_json, workspace_of
    from core.errors import DataError
    from rag.embedder import as_encoder, load_embedder
    from studies.data.creation.filters import FilterConfig
    from studies.data.creation.generation import GenerationRequest
    from studies.data.creation.generation import generate as run
    from studies.data.creation.model import EndpointGenerator, LocalModelGenerator

    ws = workspace_of(args)
    if args.model and args.endpoint:
        raise DataError("Pass either --model or --endpoint, not both (run generate twice under two names to compare them).")
    model = None
    if args.endpoint:
        if not args.endpoint_model:
            raise DataError("--endpoint needs --endpoint-model: the model name the server serves (see its /v1/models).")
        model = EndpointGenerator(args.endpoint, args.endpoint_model, args.api_key_env)
    elif args.model:
        model = LocalModelGenerator(None if args.model == "default" else args.model, ws)
    request = GenerationRequest(
        corpus=args.corpus, name=args.name, extractive=args.extractive,
        rules=[r.strip() for r in args.rules.split(",") if r.strip()] if args.rules else None, model=model,
        max_documents=args.max_documents, passages_per_document=args.passages_per_document,
        filters=FilterConfig(near_duplicate=args.near_duplicate, grounding=args.grounding, route_k=args.route_k),
    )
    request.validate()  # bad options fail before the embedder loads
    from core.workspace import safe_name

    safe_name(request.name)
    from advisor.cli import StageProgress

    progress = StageProgress(disable=None)
    try:
        result = run(request, ws, as_encoder(load_embedder(args.embedder)), progress)
    finally:
        progress.close()
    summary = result.summary()
    if args.output_format == "json":
        print_json(summary)
        return 0
    total = summary["candidates"]
    print(f"generation {args.name!r}: {total} candidate(s) from {result.documents} document(s) -> {summary['kept']} kept for review")
    for generator, n in sorted(result.by_generator.items()):
        print(f"  made by {generator:<28} {n:>6}")
    if result.unparsed:
        print(f"  model replies that did not parse: {result.unparsed}")
    for name, n in summary["dropped"].items():
        print(f"  dropped as {name:<16} {n:>6}  ({summary['shares'][name]:.0%})")
    t = summary["thresholds"]
    print(f"  thresholds: grounding {t['grounding']:.0%}, near-duplicate cosine {t['near_duplicate']}, route top-{t['route_k']}")
    print(f"next: review them (app: Create data; or `advisor data review {args.name} --export review.csv`), "
          f"then `advisor data build {args.name}`")
    return 0


def review(args: argparse.Namespace) -> int:
    from advisor.cli import print_json, workspace_of
    from core.errors import DataError
    from studies.data.creation.review_queue import ReviewQueue

    queue = ReviewQueue(workspace_of(args), args.generation)
    if args.import_csv:
        if not args.reviewer:
            raise DataError("--import needs --reviewer NAME (who decided is recorded in the data set).")
        queue.import_csv(args.import_csv, args.reviewer)
    if args.export:
        path = queue.export_csv(args.export)
        print(f"wrote {len(queue.candidates)} candidate(s) to {path}; fill the `decision` column (accept, edit, reject), "
              f"then `advisor data review {args.generation} --import {args.export} --reviewer NAME`", file=sys.stderr)
    p = queue.progress()
    data = {"generation": args.generation, "total": p.total, "accepted": p.accepted, "edited": p.edited,
            "rejected": p.rejected, "pending": p.pending}
    if args.output_format == "json":
        print_json(data)
    else:
        print(f"{args.generation}: {p.reviewed} of {p.total} reviewed ({p.accepted} accepted, {p.edited} edited, "
              f"{p.rejected} rejected), {p.pending} pending")
    return 0


def build(args: argparse.Namespace) -> int:
    import json

    from advisor.cli import print_json, workspace_of
    from studies.data.creation.review_queue import build_dataset

    path = build_dataset(workspace_of(args), args.generation, args.dataset_name, args.include_unreviewed)
    manifest = json.loads((path / "dataset.json").read_text(encoding="utf-8"))
    if args.output_format == "json":
        print_json({"path": str(path), **manifest})
        return 0
    r = manifest["review"]
    print(f"data set {manifest['name']!r} ({manifest['content_hash'][:16]}): {manifest['pairs']} pair(s) in "
          f"{manifest['groups']} document group(s) -> {path}")
    print(f"  review: {r['accepted']} accepted, {r['edited']} edited, {r['rejected']} rejected, {r['pending']} pending; "
          f"reviewers: {', '.join(r['reviewers']) or 'none'}")
    if r["unreviewed_included"]:
        print(f"  {r['unreviewed_included']} unreviewed pair(s) included: splits refuse them without --allow-unreviewed")
    print(f"next: advisor data split {path / 'pairs.jsonl'} --seed 0")
    return 0
