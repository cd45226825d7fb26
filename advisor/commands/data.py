"""`advisor data ...`: check a pair data set, freeze a split, import tldr pages.

Exit codes: 0 loadable, 2 invalid data (every problem listed with its line number).
"""

from __future__ import annotations

import argparse
import sys

from advisor.cli import path_arg, positive_int, seed_int

NAME = "data"
HELP = "check, split, import, and generate pair data sets (input -> output examples)"
DESCRIPTION = (
    "Pair data sets: JSONL, JSON or CSV with input/output fields (optional group, id), a tldr pairs.jsonl, "
    "a tldr pages.jsonl, or a folder of tldr Markdown pages. See docs/data.md."
)


def _fractions(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three numbers like 0.8,0.1,0.1, got {text!r}") from None
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected three numbers (train,validation,test), got {text!r}")
    return values  # type: ignore[return-value]


def _load_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=path_arg, metavar="FILE", help="JSONL, JSON or CSV file, tldr pages.jsonl, or a folder of tldr pages")
    parser.add_argument("--map", dest="mapping", metavar="FIELD=COLUMN,...",
                        help="column names for our fields, e.g. input=question,output=answer (also group=, id=)")
    parser.add_argument("--max-chars", type=positive_int, default=None, help="longest allowed input/output (default 20000)")
    parser.add_argument("--max-bytes", type=positive_int, default=None, help="largest allowed file (default 200000000)")
    parser.add_argument("--name", default=None, help="data set name (default: the file name)")
    parser.add_argument("--format", dest="output_format", choices=("text", "json"), default="text", help="output format (default text)")


def task_options(parser: argparse.ArgumentParser) -> None:
    """``--task``, ``--labels`` and ``--system-prompt``: override what the data say about the task (shared by data/eval/tune)."""
    from studies.data.kinds import KINDS

    parser.add_argument("--task", choices=KINDS, default=None,
                        help="task kind (default: inferred from the training outputs, with the evidence shown)")
    parser.add_argument("--labels", default=None, metavar="A,B,...",
                        help="classification label set, comma-separated (default: the distinct training outputs)")
    parser.add_argument("--system-prompt", default=None, metavar="TEXT",
                        help="system prompt for prompted systems (default: built for the task kind from the data)")


def resolve_task_args(args: argparse.Namespace, outputs):
    """The task of ``outputs`` with the CLI overrides applied (None when the user gave nothing and nothing is to infer)."""
    from studies.data.kinds import resolve_task

    return resolve_task(list(outputs), getattr(args, "task", None), getattr(args, "labels", None), getattr(args, "system_prompt", None))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate a data set and print the readiness summary (exit 2 if invalid)")
    _load_options(check)
    task_options(check)
    split = sub.add_parser("split", help="freeze a seeded, group-aware train/validation/test split in the workspace")
    _load_options(split)
    task_options(split)
    split.add_argument("--seed", type=seed_int, required=True, help="seed that orders the groups")
    split.add_argument("--fractions", type=_fractions, default=(0.8, 0.1, 0.1), help="train,validation,test shares (default 0.8,0.1,0.1)")
    imp = sub.add_parser("import-tldr", help="import tldr pages (pages.jsonl or a folder of .md) as a pair data set in the workspace")
    _load_options(imp)
    split.add_argument("--allow-unreviewed", action="store_true",
                       help="split generated pairs nobody reviewed (refused by default; recorded on every result that uses it)")
    splits = sub.add_parser("splits", help="list the frozen splits in the workspace")
    splits.add_argument("--format", dest="output_format", choices=("text", "json"), default="text", help="output format (default text)")
    from advisor.commands.data_creation import add_subcommands

    add_subcommands(sub)


def _limits(args: argparse.Namespace):
    from studies.data.validation import Limits

    kwargs = {}
    if args.max_chars:
        kwargs["max_item_chars"] = args.max_chars
    if args.max_bytes:
        kwargs["max_file_bytes"] = args.max_bytes
    return Limits(**kwargs)


def _load(args: argparse.Namespace, strict: bool):
    from studies.data.datasets import load_pairs, parse_mapping

    return load_pairs(args.file, parse_mapping(args.mapping), name=args.name, limits=_limits(args), strict=strict)


def run(args: argparse.Namespace) -> int:
    from advisor.commands import data_creation

    actions = {"check": _check, "split": _split, "import-tldr": _import_tldr, "splits": _splits,
               "generate": data_creation.generate, "review": data_creation.review, "build": data_creation.build}
    return actions[args.data_command](args)


def _check(args: argparse.Namespace) -> int:
    from advisor.cli import print_json
    from studies.data.readiness import readiness
    from studies.data.validation import MISSING_FIELD

    dataset = _load(args, strict=False)
    summary = readiness(dataset)
    report = dataset.report
    task = resolve_task_args(args, [p.output for p in dataset.pairs]) if dataset.pairs else None
    if args.output_format == "json":
        print_json(
            {
                "name": dataset.name,
                "source": dataset.source,
                "content_hash": dataset.content_hash,
                "pairs": len(dataset.pairs),
                "duplicates": report.duplicates,
                "conflicts": report.conflicting_inputs,
                "conflicting_records": report.conflicting_records,
                "valid": report.ok,
                "validation": report.to_dict(),
                "readiness": summary.to_dict(),
                "task": task.to_dict() if task else None,
            }
        )
    else:
        print(report.render())
        print(f"version (content hash): {dataset.content_hash}")
        if task is not None:
            print(describe_task(task))
        print(summary.render())
        if not report.ok:
            print(f"\nINVALID: {len(report.errors)} error(s) above; fix them and run the check again.")
            if report.suggested_mapping:  # the library names no flag; here it is
                guess = ",".join(f"{k}={v}" for k, v in report.suggested_mapping.items())
                print(f"hint: run it again with --map {guess}")
            elif any(p.kind == MISSING_FIELD for p in report.errors):
                print("hint: name your columns with --map input=COLUMN,output=COLUMN (e.g. --map input=question,output=answer)")
    if not report.ok:
        print(f"error: {dataset.source} has {len(report.errors)} validation error(s).", file=sys.stderr)
        return 2
    return 0


def _split(args: argparse.Namespace) -> int:
    from advisor.cli import print_json, workspace_of
    from studies.data.splits import make_split, save_split

    dataset = _load(args, strict=True)
    split = make_split(dataset, seed=args.seed, fractions=args.fractions, allow_unreviewed=args.allow_unreviewed)
    if any(getattr(args, k, None) for k in ("task", "labels", "system_prompt")):
        split.task = resolve_task_args(args, [p.output for p in split.train])
    path = save_split(workspace_of(args), split)
    manifest = split.manifest()
    if args.output_format == "json":
        print_json({"version": split.version, "path": str(path), **{k: manifest[k] for k in
                    ("dataset_name", "dataset_hash", "seed", "fractions", "counts", "group_counts", "shared_inputs", "task")}})
        return 0
    print(split.version)
    print(f"split of {dataset.name} (data set {dataset.content_hash[:16]}), seed {args.seed}, written to {path}")
    if split.task is not None:
        print(describe_task(split.task))
    for name in ("train", "validation", "test"):
        print(f"  {name:<10} {manifest['counts'][name]:>7,} pairs in {manifest['group_counts'][name]:>6,} group(s)")
    if split.unreviewed:
        print(f"  WARNING: {split.unreviewed:,} unreviewed generated pair(s) split on --allow-unreviewed; every result records it")
    if manifest["shared_inputs"]:
        print(f"  note: {manifest['shared_inputs']:,} input(s) occur in more than one part (same text in different groups)")
    return 0


def _import_tldr(args: argparse.Namespace) -> int:
    from advisor.cli import print_json, workspace_of
    from core.errors import DataError
    from studies.data.datasets import load_pairs, save_dataset

    dataset = load_pairs(args.file, name=args.name, limits=_limits(args))
    if not dataset.report.format.startswith("tldr"):
        raise DataError(f"{args.file} is not tldr data (found {dataset.report.format}); use `advisor data check` for other files.")
    path = save_dataset(workspace_of(args), dataset)
    if args.output_format == "json":
        print_json({"name": dataset.name, "path": str(path), "pairs": len(dataset.pairs), "content_hash": dataset.content_hash})
    else:
        print(f"imported {len(dataset.pairs):,} pairs from {args.file} as data set {dataset.name!r} ({dataset.content_hash[:16]}) -> {path}")
    return 0


def _splits(args: argparse.Namespace) -> int:
    from advisor.cli import print_json, workspace_of
    from studies.data.splits import list_splits

    found = list_splits(workspace_of(args))
    if args.output_format == "json":
        print_json(found)
    elif not found:
        print("no frozen splits yet; run `advisor data split FILE --seed N`")
    else:
        for item in found:
            counts = item.get("counts") or {}
            print(f"{item['version']}  {item['dataset_name']}  {item.get('task') or '?'}  seed {item['seed']}  "
                  f"train {counts.get('train')} / validation {counts.get('validation')} / test {counts.get('test')}")
    return 0


def describe_task(task) -> str:
    """One or two lines: the task kind, where it came from and why (the labels for a classification)."""
    how = "given" if task.source == "given" else "inferred"
    line = f"task kind: {task.kind} ({how}: {task.evidence}); override with --task"
    if task.labels:
        shown = ", ".join(task.labels[:12]) + (f", ... ({len(task.labels)} in all)" if len(task.labels) > 12 else "")
        line += f"\n  labels: {shown}"
    if task.schema:
        line += "\n  schema: " + ", ".join(f"{k}: {v}" for k, v in list(task.schema.items())[:12])
    return line
