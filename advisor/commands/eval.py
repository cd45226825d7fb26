"""`advisor eval SYSTEM --data FILE`: evaluate one system on the frozen test split, add a leaderboard row.

SYSTEM: ``base`` (or ``base:MODEL``), ``rag:INDEX``, ``lora:ADAPTER``, ``rag+lora:INDEX:ADAPTER``.
The data file is split exactly as ``advisor data split FILE --seed N`` does (same seed, same
split version), or pass ``--split VERSION`` for a frozen split already in the workspace.
"""

from __future__ import annotations

import argparse

from advisor.cli import bounded_float, path_arg, positive_int, seed_int

NAME = "eval"
HELP = "evaluate a system (base, rag:INDEX, lora:ADAPTER, rag+lora:INDEX:ADAPTER, rag-examples[:vote], rag-examples+lora:ADAPTER) on the frozen test split"
DESCRIPTION = (
    "Evaluate one system through the shared evaluation contract: the frozen test split of the data, the same "
    "generation settings, answer extraction and metrics for every system. Per-item predictions go to "
    "<workspace>/runs/<run_id>/predictions.jsonl and a row with intervals to the leaderboard."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from advisor.cli import default_of
    from tuning.generate import GenerationSettings  # light: torch loads only when generating

    _DEFAULTS = {k: default_of(GenerationSettings, k) for k in ("max_new_tokens", "batch_size")}
    parser.add_argument("system", metavar="SYSTEM", help="base | base:MODEL | rag:INDEX | lora:ADAPTER | rag+lora:INDEX:ADAPTER | "
                        "rag-examples | rag-examples:vote | rag-examples+lora:ADAPTER (nearest training pairs as examples)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=path_arg, metavar="FILE", help="pair data set; its seeded split's test part is evaluated")
    source.add_argument("--split", metavar="VERSION", help="a frozen split in the workspace (`advisor data splits`)")
    parser.add_argument("--seed", type=seed_int, default=0, help="split seed with --data (default 0; must match training)")
    parser.add_argument("--allow-unreviewed", action="store_true", help="accept generated pairs nobody reviewed (recorded on the result)")
    from advisor.commands.data import task_options

    task_options(parser)
    parser.add_argument("--part", choices=("test", "validation"), default="test", help="split part (default: test)")
    parser.add_argument("--model", default=None, help="base model / RAG generator: a local transformers folder (default SmolLM2-135M)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: CUDA when available)")
    parser.add_argument("--limit", type=positive_int, default=None, help="evaluate the first N items only (quick looks; not for decisions)")
    parser.add_argument("--metrics", default=None,
                        help="comma-separated metrics (default: the task kind's metrics, primary first; see --list-metrics)")
    parser.add_argument("--list-metrics", action="store_true", help="print the metrics and what each rewards, then exit")
    parser.add_argument("--max-new-tokens", type=positive_int, default=None, help=f"generation limit per answer (default {_DEFAULTS['max_new_tokens']}, raised to fit the "
                        "longest training answers, up to 512)")
    parser.add_argument("--batch-size", type=positive_int, default=None, help=f"prompts decoded together (default {_DEFAULTS['batch_size']})")
    parser.add_argument("--study", default=None, help="group this run under a study name on the leaderboard")
    parser.add_argument("--price-per-hour", type=bounded_float(0.0, low_open=False), default=None, help="USD per device-hour (default: built-in price table)")
    parser.add_argument("--no-record", action="store_true", help="store predictions but do not add a leaderboard row")
    parser.add_argument("--decoding", choices=("auto", "labels", "generate"), default="auto",
                        help="labels: score every label (classification; the answer is always a label); generate: free "
                             "generation; auto (default): labels for classification, else generate")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument("--format", dest="output_format", choices=("text", "json"), default="text", help="output format (default text)")


def run(args: argparse.Namespace) -> int:
    from advisor.cli import print_json, workspace_of

    if args.list_metrics:
        from studies.evaluation.metrics import available_metrics
        from studies.evaluation.tasks import KIND_METRICS  # noqa: F401 - registers the per-kind metrics

        for name, rewards in available_metrics().items():
            print(f"{name:22s} {rewards}")
        return 0
    from studies.evaluation.contract import evaluate, settings_for
    from studies.evaluation.specs import make_system

    ws = workspace_of(args)
    if args.data:
        from studies.data.datasets import load_pairs
        from studies.data.splits import make_split, save_split

        split = make_split(load_pairs(args.data), seed=args.seed, allow_unreviewed=args.allow_unreviewed)
    else:
        from studies.data.splits import load_split

        split = load_split(ws, args.split)
    if any(getattr(args, k, None) for k in ("task", "labels", "system_prompt")):
        from advisor.commands.data import resolve_task_args

        split.task = resolve_task_args(args, [p.output for p in split.train])
    from studies.data.splits import save_split

    save_split(ws, split)
    settings = settings_for(split, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    options = {"device": args.device}
    if args.model is not None:
        options["model"] = args.model
    system = make_system(args.system, ws, **options)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    from advisor.cli import ProgressBar

    bar = ProgressBar(f"eval {args.system}", disable=args.no_progress)
    try:
        result = evaluate(system, split, ws, settings, record=not args.no_record, study=args.study, part=args.part,
                          limit=args.limit, metrics=metrics, price_per_hour=args.price_per_hour, progress=bar, task=split.task,
                          decoding=args.decoding)
    finally:
        bar.close()
    if args.output_format == "json":
        out = result.to_dict()
        print_json(out)
        return 0
    capped = f" of {result.available}, capped by --limit" if result.available > result.n else ""
    print(f"run {result.run_id}: {result.system} on split {result.split_version} ({result.part}, {result.n} items{capped})")
    if result.task is not None:
        print(f"  task {result.task.kind} ({result.task.source}); primary metric {result.primary}")
    for name, score in result.scores.items():
        mark = " (primary)" if name == result.primary else ""
        print(f"  {name:22s} {score.mean:.3f}  [{score.low:.3f}, {score.high:.3f}]{mark}")
    print_task_report(result.report)
    for name, why in result.skipped_metrics.items():
        print(f"  {name:22s} skipped: {why}")
    print(f"  latency {result.latency_s:.3f} s/query (p95 {result.latency_p95_s:.3f}), cost ${result.record.money_usd:.4f}")
    print(f"  predictions: {result.predictions_path}")
    print("  leaderboard: " + ("row added" if result.recorded else "not recorded (--no-record)" if args.no_record else "already there"))
    return 0


def print_task_report(report: dict) -> None:
    """The set-level part of a run (classification: macro-F1, baselines, non-label answers, per-class table)."""
    if not report:
        return
    if "macro_f1" in report:
        m = report["macro_f1"]
        print(f"  {'macro_f1':22s} {m['mean']:.3f}  [{m['low']:.3f}, {m['high']:.3f}]")
    base = report.get("baselines") or {}
    if base:
        maj, chance = base.get("majority_class", {}), base.get("chance", {})
        print(f"  baselines: majority class {maj.get('label')!r} {maj.get('accuracy', 0):.3f}, chance {chance.get('accuracy', 0):.3f}")
    if "non_label_answers" in report:
        print(f"  answers that are no label: {report['non_label_answers']}")
    per_class = report.get("per_class") or {}
    if per_class:
        print("  per class (precision / recall / support):")
        for label, v in per_class.items():
            print(f"    {label[:30]:30s} {v['precision']:.3f} / {v['recall']:.3f} / {v['support']}")
