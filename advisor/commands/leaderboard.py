"""`advisor leaderboard`: list runs with metric intervals; best per kind, Pareto front, study history, export."""

from __future__ import annotations

import argparse

from advisor.cli import path_arg, positive_int

NAME = "leaderboard"
HELP = "show the leaderboard (filters, best per kind, Pareto front, study history, CSV/Parquet/JSON export)"

_DEFAULT_METRICS = ("chrf", "command_flags", "exact_match")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", default=None, help="only this kind (base, rag, lora, rag+lora, ...)")
    parser.add_argument("--study", default=None, help="only this study")
    parser.add_argument("--status", choices=("candidate", "accepted", "rejected"), default=None, help="only this status")
    parser.add_argument("--split", dest="split_version", default=None, help="only runs on this split version")
    parser.add_argument("--dataset", dest="dataset_name", default=None, help="only runs on this data set (its name)")
    parser.add_argument("--part", dest="split_part", choices=("test", "validation"), default=None, help="only runs on this split part")
    parser.add_argument("--task", default=None,
                        choices=("classification", "structured", "command", "short_answer", "text"), help="only runs of this task kind")
    view = parser.add_mutually_exclusive_group()
    view.add_argument("--best", action="store_true",
                      help="best run of each kind on --metric, within one data set and split (default: the most recent one)")
    view.add_argument("--pareto", action="store_true", help="runs not beaten on both --metric and --cost")
    view.add_argument("--history", metavar="STUDY", default=None, help="every run of a study in trial order")
    view.add_argument("--ingest-runs", action="store_true", help="add runs/*/run.json rows missing from the board, then list")
    parser.add_argument("--metric", default=None,
                        help="metric for --best/--pareto and the table (default: the primary metric of the runs' task kind, chrf for old rows)")
    parser.add_argument("--cost", default="money_usd", help="cost column for --pareto: money_usd, latency_s, gpu_hours, cpu_hours, train_tokens")
    parser.add_argument("--limit", type=positive_int, default=50, help="rows to show (default 50)")
    parser.add_argument("--all", dest="show_all", action="store_true",
                        help="list every run in one table (default: only runs scored on the same split part and items; others apart)")
    parser.add_argument("--format", dest="output_format", choices=("table", "json", "csv"), default="table", help="output format")
    parser.add_argument("--export", type=path_arg, metavar="FILE", default=None, help="write every run to FILE (.csv, .parquet or .json) instead")


def _interval(m: dict | None) -> str:
    if not m:
        return "-"
    if m.get("low") is None:
        return f"{m['mean']:.3f}"
    return f"{m['mean']:.3f} [{m['low']:.3f},{m['high']:.3f}]"


def run(args: argparse.Namespace) -> int:
    from advisor.cli import print_json, workspace_of
    from studies.results.leaderboard import Leaderboard, ingest_run_dirs

    ws = workspace_of(args)
    board = Leaderboard(ws)
    if args.export:
        path = board.export(args.export)
        print(f"exported {board.count()} runs to {path}")
        return 0
    filters = {"kind": args.kind, "study": args.study, "status": args.status, "split_version": args.split_version,
               "dataset_name": args.dataset_name, "split_part": args.split_part, "task": args.task}
    if args.ingest_runs:
        added = ingest_run_dirs(board, ws)
        print(f"ingested {added} run(s) from {ws.dir('runs')}")
    if args.best and not args.split_version:
        found = board.splits(**filters)
        if found:
            latest = found[0]
            filters.update(split_version=latest["split_version"], split_part=latest["split_part"], dataset_name=latest["dataset_name"])
            if len(found) > 1:
                import sys

                print(f"note: --best compares within one data set and split: showing {latest['dataset_name']} split "
                      f"{latest['split_version']} ({latest['split_part']}); {len(found) - 1} other(s): pass --split VERSION",
                      file=sys.stderr)
    metric = args.metric or _default_metric(board, filters)
    if args.best:
        rows = board.best_per_kind(metric, **filters)
    elif args.pareto:
        rows = board.pareto(metric, args.cost, **filters)
    elif args.history:
        rows = board.history(args.history)
    else:
        rows = board.runs(**filters)
    apart: dict = {}
    if not (args.best or args.pareto or args.history or args.show_all) and args.output_format == "table":
        from studies.results.comparable import comparable_view

        view = comparable_view(rows)
        rows, apart = view.rows, view.apart
        if view.key is not None:
            print(f"{view.describe()} (`--all` lists every run):")
    rows = rows[: args.limit]
    if args.output_format == "json":
        print_json(rows)
        return 0
    metrics = [metric] + [m for m in _DEFAULT_METRICS if m != metric] if not args.metric and metric in _DEFAULT_METRICS else [metric]
    if args.output_format == "csv":
        import csv
        import sys

        writer = csv.writer(sys.stdout)
        head = ["run_id", "kind", "system", "task", "dataset_name", "study", "trial", "status", "status_by", "split_version",
                "split_part", "n_items"]
        tail = ["latency_s", "money_usd", "train_tokens", "registry_path", "created_at"]
        writer.writerow(head + [f"{m}{s}" for m in metrics for s in ("", "_low", "_high")] + tail)
        for r in rows:
            vals = []
            for m in metrics:
                s = r["metrics"].get(m) or {}
                vals += [s.get("mean"), s.get("low"), s.get("high")]
            writer.writerow([r.get(k) for k in head] + vals + [r.get(k) for k in tail])
        return 0
    if not rows:
        print("no runs yet: `advisor eval SYSTEM --data FILE` adds one")
        return 0
    header = ["run", "kind", "system", "task", "data set", "split/part", "status", "n"] + metrics + ["s/query", "$", "review BT", "registry"]
    table = [header]
    for r in rows:
        status = r["status"] + (f" ({r['status_by']})" if r.get("status_by") else "")
        where = f"{(r.get('split_version') or '-')[:8]}/{r.get('split_part') or '-'}"
        table.append([r["run_id"], r["kind"], r.get("system") or "", r.get("task") or "?", r.get("dataset_name") or "-", where,
                      status, str(r.get("n_items") or "")]
                     + [_interval(r["metrics"].get(m)) for m in metrics]
                     + [f"{r.get('latency_s') or 0:.3f}", f"{r.get('money_usd') or 0:.4f}",
                        "" if r.get("review_score") is None else f"{r['review_score']:.2f}", r.get("registry_path") or ""])
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for i, row in enumerate(table):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for (version, part, n), others in sorted(apart.items()):
        print(f"apart: {len(others)} run(s) on {n} {part} items of split {version}: " + ", ".join(r["run_id"] for r in others[:5])
              + (" ..." if len(others) > 5 else ""))
    return 0


def _default_metric(board, filters: dict) -> str:
    """The primary metric of the task kind of the matching runs (when they share one), else chrf."""
    from studies.evaluation.tasks import primary_for_kind

    kinds = {r.get("task") for r in board.splits(**filters)}
    if len(kinds) == 1:
        return primary_for_kind(next(iter(kinds))) or "chrf"
    return "chrf"
